"""HTTP connection slots cannot be held (issue #14, finding 4; docs/bounds.md):
event streams have a cap of their own, a connection that trickles its request
headers is dropped after the header timeout, a new connection at the cap takes
the slot of one still waiting for headers, and when every slot is busy the new
one is answered 503 at once, never left hanging. /healthz, /metrics and the API
keep answering throughout."""

import select
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from test_gateway import DATASET, EventStream, gateway_factory  # noqa: F401

PROMPT = 20.0  # seconds an answer may take on a loaded machine; a held slot hangs for ever


def get(url, timeout=PROMPT):
    """(status, body text) of a GET, which must answer within TIMEOUT."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(url, name):
    status, body = get(url + "/metrics")
    assert status == 200
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {name} in /metrics")


def raw_request(port, request, timeout=PROMPT):
    """Sends REQUEST on a new connection; returns everything read until the
    server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk


def test_event_streams_are_capped_and_health_still_answers(pipeline, gateway_factory):  # noqa: F811
    """Defaults: 64 streams at most. 70 streams asked: 64 are served, 6 get
    503 "too many streams", and /healthz, /metrics and the API answer."""
    gw = gateway_factory(pipeline)
    streams, refused = [], []
    try:
        for _ in range(70):
            host, port = gw.url.rsplit("/", 1)[1].split(":")
            s = socket.create_connection((host, int(port)), timeout=PROMPT)
            s.sendall(b"GET /api/v1/stream HTTP/1.0\r\n\r\n")
            head = s.recv(4096)  # times out (fails) if the connection hangs
            if b" 200 " in head.split(b"\r\n", 1)[0]:
                streams.append(s)
            else:
                while not head.endswith(b"\n") or b"\r\n\r\n" not in head:
                    more = s.recv(4096)
                    if not more:
                        break
                    head += more
                refused.append(head)
                s.close()
        assert len(streams) == 64
        assert len(refused) == 6
        for answer in refused:
            assert answer.startswith(b"HTTP/1.") and b" 503 " in answer.split(b"\r\n", 1)[0]
            assert answer.endswith(b"too many streams\n"), answer
        assert get(gw.url + "/healthz") == (200, "ok\n")
        status, body = get(gw.url + "/api/v1/indicators")
        assert status == 200, body
        assert metric(gw.url, "paystat_gateway_stream_clients") == 64
        assert metric(gw.url, "paystat_gateway_stream_refused_total") == 6
        # A stream closed gives its slot back.
        streams.pop().close()
        deadline = time.monotonic() + 30
        while metric(gw.url, "paystat_gateway_stream_clients") != 63:
            assert time.monotonic() < deadline, "a closed stream kept its slot"
            time.sleep(0.1)
        extra = EventStream(gw.url, "/api/v1/stream")
        extra.close()
    finally:
        for s in streams:
            s.close()


class SlowHeaders:
    """N connections that each send the start of a request and then one
    more header byte every second, never finishing the headers."""

    def __init__(self, port, n):
        self.socks, self.opened, self.closed = [], [], {}
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=PROMPT)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            s.setblocking(False)
            self.socks.append(s)
            self.opened.append(time.monotonic())
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _check(self):
        for i, s in enumerate(self.socks):
            if i in self.closed:
                continue
            readable, _, _ = select.select([s], [], [], 0)
            if not readable:
                continue
            try:
                if s.recv(4096) == b"":
                    self.closed[i] = time.monotonic()
            except OSError:
                self.closed[i] = time.monotonic()

    def _trickle(self):
        while not self.stop.wait(1.0):
            for i, s in enumerate(self.socks):
                if i not in self.closed:
                    try:
                        s.send(b"x")
                    except OSError:
                        pass
            self._check()

    def wait_all_closed(self, timeout):
        deadline = time.monotonic() + timeout
        while len(self.closed) < len(self.socks):
            assert time.monotonic() < deadline, \
                f"{len(self.socks) - len(self.closed)} slow-header connections still open"
            time.sleep(0.2)

    def close(self):
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


@pytest.mark.parametrize("service", ["ingest", "gateway"])
def test_slow_headers_cannot_hold_the_slots(service, pipeline, gateway_factory):  # noqa: F811
    """70 connections trickling their headers, more than the 64 (ingest) or
    a gateway's --max-connections 64: /healthz still answers at once, and
    every slow connection is closed — the oldest ones to make room, the
    others once the header timeout (5 s) has passed since they connected."""
    if service == "ingest":
        url = pipeline.http["ingest"]
    else:
        url = gateway_factory(pipeline, ["--max-connections", "64", "--max-streams", "8"]).url
    port = int(url.rsplit(":", 1)[1])
    slow = SlowHeaders(port, 70)
    try:
        for _ in range(3):
            assert get(url + "/healthz") == (200, "ok\n")
        status, _ = get(url + "/metrics")
        assert status == 200
        slow.wait_all_closed(timeout=60)
        evicted = metric(url, 'paystat_http_connections_dropped_total{reason="evicted"}')
        timed_out = metric(url, 'paystat_http_connections_dropped_total{reason="header_timeout"}')
        assert evicted >= 6
        assert evicted + timed_out >= 70
        # Those not evicted were given the whole header timeout (5 s; a
        # loaded machine can only make them last longer).
        lasted = sorted(slow.closed[i] - slow.opened[i] for i in slow.closed)
        assert sum(1 for t in lasted if t < 4.5) <= evicted
        assert get(url + "/healthz") == (200, "ok\n")
    finally:
        slow.close()


TCP_ESTABLISHED = 1  # tcpi_state, the first byte of struct tcp_info


def stuck_client(port, deadline):
    """A client that asks for the whole view again and again and reads
    nothing, returned once its connection is stuck: the server has stopped
    reading its requests (it is blocked writing an answer), which the
    client sees as its own sends blocking. Until then the connection is
    between two pipelined requests now and then, waiting for headers, and
    a newcomer may take its slot (that is the eviction rule)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    chunk = b"GET /api/v1/indicators HTTP/1.1\r\nHost: x\r\n\r\n" * 1400
    pending = chunk
    blocked_since = None
    while blocked_since is None or time.monotonic() - blocked_since < 2:
        assert time.monotonic() < deadline, "the stuck client's requests were all answered"
        try:
            pending = pending[sock.send(pending):] or chunk
            blocked_since = None
        except BlockingIOError:
            blocked_since = blocked_since or time.monotonic()
            time.sleep(0.05)
    return sock


def test_connections_past_the_cap_get_503(pipeline, gateway_factory):  # noqa: F811
    """Every slot busy (two streams and one client that never reads its
    answers): a new connection gets "503 too many connections" at once
    instead of hanging, and gets in again once a slot is free."""
    pipeline.cli("send", str(DATASET), check=True)
    gw = gateway_factory(pipeline, ["--max-connections", "3", "--max-streams", "2",
                                    "--idle-timeout-ms", "120000"])
    gw.wait_for(lambda view: len(view) >= 20, "the dataset")
    port = int(gw.url.rsplit(":", 1)[1])
    streams = [EventStream(gw.url, "/api/v1/stream") for _ in range(2)]
    deadline = time.monotonic() + 60
    stuck = None
    try:
        stuck = stuck_client(port, deadline)
        while True:
            # Connection: close, so that a 200 (a slot was still free) ends too.
            answer = raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                       b"Connection: close\r\n\r\n")
            if b" 503 " in answer.split(b"\r\n", 1)[0]:
                break
            # A slot was free: a stream not connected yet, or the stuck
            # client evicted all the same (its connection is no longer
            # established: the server closed or reset it), which then
            # gets stuck again.
            assert time.monotonic() < deadline, "the stuck client never filled its slot"
            time.sleep(0.2)
            if stuck.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != TCP_ESTABLISHED:
                stuck.close()
                stuck = stuck_client(port, deadline)
        assert answer.endswith(b"\r\n\r\ntoo many connections\n"), answer
        assert b"Connection: close" in answer
    finally:
        if stuck:
            stuck.close()
        for s in streams:
            s.close()
    deadline = time.monotonic() + 30
    while True:
        try:
            status, _ = get(gw.url + "/healthz")
            if status == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "slots never freed"
        time.sleep(0.2)
    assert metric(gw.url, "paystat_http_connections_refused_total") >= 1
