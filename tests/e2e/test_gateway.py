"""paystat-gateway against the real services: the JSON API on the article's
dataset, the event stream, readiness, metrics, bad requests and the
dashboard's assets (docs/gateway.md)."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import psclient
from conftest import BIN_DIR, SOURCE_DIR, Service, free_ports

DATASET = SOURCE_DIR / "data" / "morocco-2011-2012.csv"
GATEWAY = BIN_DIR / "services" / "gateway" / "paystat-gateway"
CMI_ECOM = "CMI/2012/activity=ecommerce,card=*"


class Gateway:
    """paystat-gateway on a free port, following FEED and SNAPSHOT."""

    def __init__(self, tmp, feed, snapshot, args=()):
        port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSTAT_")}
        self.service = Service("gateway", GATEWAY,
                               ["--feed", feed, "--snapshot", snapshot,
                                "--listen", f"127.0.0.1:{port}"] + list(args),
                               [f"tcp://127.0.0.1:{port}"], tmp / "gateway", tmp / "gateway.log",
                               env)
        self.service.start()
        self.service.wait_ready()

    def get(self, path):
        """(status, headers, body bytes) of GET PATH."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, path, status=200):
        code, headers, body = self.get(path)
        assert code == status, (path, code, body)
        assert headers["Content-Type"] == "application/json"
        return json.loads(body)

    def indicators(self, prefix=""):
        answer = self.json("/api/v1/indicators?" + urllib.parse.urlencode({"prefix": prefix}))
        return answer, {i["topic"]: i for i in answer["indicators"]}

    def wait_for(self, predicate, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            answer, view = self.indicators()
            if answer["ready"] and predicate(view):
                return view
            assert time.monotonic() < deadline, f"gateway never showed {what}"
            time.sleep(0.02)

    def metrics(self):
        code, headers, body = self.get("/metrics")
        assert code == 200
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse_prometheus(body.decode())


@pytest.fixture
def gateway_factory(tmp_path):
    started = []

    def start(pipeline, args=(), name="gw"):
        g = Gateway(tmp_path / f"{name}{len(started)}", pipeline.feed_endpoint,
                    pipeline.snapshot_endpoint, args)
        started.append(g)
        return g

    yield start
    problems = [p for p in (g.service.stop() for g in started) if p]
    if problems:
        pytest.fail("\n".join(problems + [g.service.log_tail() for g in started]),
                    pytrace=False)


METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"'
                         r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (\S+)$')


def parse_prometheus(text):
    """Strictly parses the text exposition format: returns {name{labels}: value}.
    Every sample's metric has one TYPE line before it."""
    samples, types = {}, {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge"), line
            assert name not in types, f"second TYPE for {name}"
            types[name] = kind
            continue
        m = METRIC_LINE.match(line)
        assert m, f"not a sample line: {line!r}"
        assert m.group(1) in types, f"{m.group(1)} has no TYPE line"
        if types[m.group(1)] == "counter":
            assert m.group(1).endswith("_total"), line
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(4))
    return samples


def r1(x):
    return round(x + 1e-9, 1)


def send_reports(pipeline, reports, producer="gw-test", seq=1):
    ack = pipeline.send_batch(producer, seq, reports)
    assert ack["status"] == "ok", ack


def test_article_indicators_and_series(pipeline, gateway_factory):
    gw = gateway_factory(pipeline)
    assert pipeline.cli("send", DATASET).returncode == 0
    view = gw.wait_for(lambda v: "yoy_amount_pct" in v.get(CMI_ECOM, {}), CMI_ECOM)

    cmi = view[CMI_ECOM]
    assert r1(cmi["yoy_amount_pct"]) == 48.3
    assert cmi["amount"] == 75230000000 and cmi["amount_major"] == "752300000.00"
    assert cmi["currency"] == "MAD" and cmi["exp"] == 2
    assert {"v", "seq", "prev", "epoch"}.isdisjoint(cmi)
    domestic = view["CMI/2012/activity=ecommerce,card=domestic"]
    assert r1(domestic["yoy_amount_pct"]) == 46.4
    assert r1(domestic["share"]["card"]["amount_pct"]) == 94.6
    mtc = view["MTC/2012/channel=online"]
    assert mtc["avg_ticket"] == pytest.approx(59440.0)
    assert round(view["$ratio/abroad_vs_domestic/2012"]["value"], 2) == 9.30

    # A prefix selects, in topic order; vseq only grows.
    answer, cmi2012 = gw.indicators("CMI/2012/")
    assert answer["count"] == len(cmi2012) and not answer["truncated"]
    assert list(cmi2012) == sorted(cmi2012)
    assert all(t.startswith("CMI/2012/") for t in cmi2012)
    assert all(i["vseq"] <= answer["vseq"] for i in answer["indicators"])

    series = gw.json("/api/v1/series?source=CMI&dims=card%3D*,activity%3Decommerce"
                     "&granularity=year")
    assert series["dims"] == "activity=ecommerce,card=*"
    assert [p["period"] for p in series["points"]] == ["2011", "2012"]
    assert [p["amount_major"] for p in series["points"]] == ["507400000.00", "752300000.00"]
    assert gw.json("/api/v1/series?source=CMI&dims=activity=ecommerce,card=*"
                   "&granularity=quarter")["points"] == []
    # A series without dimensions, and granularity by default.
    send_reports(pipeline, [psclient.report("X", "2012-Q1", count=1),
                            psclient.report("X", "2012-Q2", count=2),
                            psclient.report("X", "2011-Q2", count=4)])
    gw.wait_for(lambda v: "X/2012-Q2/" in v, "X/2012-Q2/")
    quarters = gw.json("/api/v1/series?source=X&granularity=quarter")["points"]
    assert [(p["period"], p["count"]) for p in quarters] == [
        ("2011-Q2", 4), ("2012-Q1", 1), ("2012-Q2", 2)]
    assert [p["period"] for p in gw.json("/api/v1/series?source=X")["points"]] == ["2011", "2012"]


def test_late_gateway_starts_from_a_snapshot(pipeline, gateway_factory):
    """Data first, gateway after: its view is publish's, indicator for indicator."""
    assert pipeline.cli("send", DATASET).returncode == 0
    expected, _ = psclient.snapshot_view(pipeline.snapshot_endpoint)
    gw = gateway_factory(pipeline)
    view = gw.wait_for(lambda v: len(v) >= len(expected), "the whole dataset")
    assert set(view) == {t for t, b in expected.items() if b["type"] in ("cell", "ratio")}
    for topic, body in expected.items():
        if topic in view:
            mine = {k: v for k, v in view[topic].items()
                    if k not in ("topic", "vseq", "amount_major", "ytd_amount_major")}
            assert mine == {k: v for k, v in body.items()
                            if k not in ("v", "seq", "prev", "epoch")}, topic
    assert gw.get("/readyz")[0] == 200


def test_ready_only_once_synchronised(tmp_path, pipeline_factory, gateway_factory):
    """Before publish exists the gateway is alive but not ready; it turns
    ready once it has a snapshot."""
    port_feed, port_snap = free_ports(2)
    gw = Gateway(tmp_path / "early", f"tcp://127.0.0.1:{port_feed}",
                 f"tcp://127.0.0.1:{port_snap}")
    try:
        assert gw.get("/healthz")[0] == 200
        code, _, body = gw.get("/readyz")
        assert code == 503 and b"not ready" in body
        answer = gw.json("/api/v1/indicators")
        assert answer["ready"] is False and answer["indicators"] == []
        assert gw.metrics()["paystat_gateway_ready"] == 0
        pipeline = pipeline_factory(publish_args=())
        # Point a second gateway at the running pipeline: ready.
        late = gateway_factory(pipeline)
        deadline = time.monotonic() + 10
        while late.get("/readyz")[0] != 200:
            assert time.monotonic() < deadline, "gateway never became ready"
            time.sleep(0.02)
        assert late.metrics()["paystat_gateway_ready"] == 1
        assert gw.get("/readyz")[0] == 503
    finally:
        problem = gw.service.stop()
        assert problem is None, problem + gw.service.log_tail()


class EventStream:
    """A Server-Sent Events client on a raw socket (HTTP/1.0: no chunking)."""

    def __init__(self, url, path, rcvbuf=None):
        host, port = url.rsplit("/", 1)[1].split(":")
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((host, int(port)))
        self.sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        self.sock.settimeout(10)
        self.file = self.sock.makefile("rb")
        head = []
        while not head or head[-1] != b"\r\n":
            head.append(self.file.readline())
        assert b" 200 " in head[0], head
        assert b"Content-Type: text/event-stream; charset=utf-8\r\n" in head

    def next(self, timeout=10.0):
        """The next event as a dict of its fields; a comment as {"comment": text}."""
        self.sock.settimeout(timeout)
        event = {}
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError("stream closed")
            line = line.decode().rstrip("\n")
            if not line:
                return event
            key, _, value = line.partition(":")
            event.setdefault(key or "comment", value.lstrip(" "))

    def events(self, name, until, timeout=10.0):
        """Events called NAME until one whose data satisfies UNTIL."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            e = self.next(max(0.1, deadline - time.monotonic()))
            if e.get("event") == name:
                got.append(json.loads(e["data"]))
                if until(got[-1]):
                    return got

    def close(self):
        self.file.close()
        self.sock.close()


def test_stream_one_event_per_change(pipeline, gateway_factory):
    gw = gateway_factory(pipeline, args=["--keepalive-ms", "200"])
    gw.wait_for(lambda v: True, "readiness")
    cmi = EventStream(gw.url, "/api/v1/stream?prefix=" + urllib.parse.quote("CMI/2012/"))
    everything = EventStream(gw.url, "/api/v1/stream")
    try:
        assert cmi.next()["retry"] == "2000"
        send_reports(pipeline, [
            psclient.report("OC", "2012", {"channel": "abroad"}, amount=100, currency="MAD"),
            psclient.report("CMI", "2012", {"card": "domestic"}, count=3, amount=300,
                            currency="MAD")])
        wanted = {"CMI/2012/card=domestic", "CMI/2012/card=*"}
        seen = set()
        got = cmi.events("indicator", lambda e: seen.add(e["topic"]) or wanted <= seen)
        assert {e["topic"] for e in got} == wanted and len(got) == 2
        star = next(e for e in got if e["topic"] == "CMI/2012/card=*")
        assert star["count"] == 3 and star["amount_major"] == "3.00"
        wanted |= {"OC/2012/channel=abroad", "OC/2012/channel=*"}
        seen = set()
        all_events = everything.events(
            "indicator", lambda e: seen.add(e["topic"]) or wanted <= seen)
        assert {e["topic"] for e in all_events} == wanted
        # ids are the view's vseq: increasing.
        vseqs = [e["vseq"] for e in all_events]
        assert vseqs == sorted(vseqs) and len(set(vseqs)) == len(vseqs)
        # The events lead to the same state as the snapshot API.
        _, view = gw.indicators("CMI/2012/")
        assert view["CMI/2012/card=*"] == star
        # Keep-alive comments keep coming on an idle stream.
        while cmi.next().get("comment") != "keep-alive":
            pass
    finally:
        cmi.close()
        everything.close()
    metrics = gw.metrics()
    assert metrics['paystat_gateway_http_requests_total{endpoint="stream"}'] == 2
    assert metrics["paystat_gateway_stream_events_total"] >= 3


def test_slow_stream_client_is_dropped(pipeline, gateway_factory):
    """A client that never reads is dropped once its queue is full, instead
    of holding ever more memory; a client that reads is served on.

    The load is paced by the reader (the next batch goes out once it has seen
    the last one), so the reader is never the one that falls behind, however
    slow the machine. Each report is a source of its own, without dimensions:
    one event each, where siblings under one dimension would all be
    republished with their new shares, a burst growing with every batch."""
    gw = gateway_factory(pipeline, ["--stream-queue", "262144"])
    gw.wait_for(lambda v: True, "readiness")
    stalled = EventStream(gw.url, "/api/v1/stream", rcvbuf=4096)
    reader = EventStream(gw.url, "/api/v1/stream")
    topics = set()

    def read_until(topic):
        while topic not in topics:
            e = reader.next(timeout=30)
            if e.get("event") == "indicator":
                topics.add(json.loads(e["data"])["topic"])

    try:
        seq = 0
        while gw.metrics()["paystat_gateway_stream_dropped_total"] < 1:
            seq += 1
            assert seq <= 1000, "the stalled client was never dropped"
            send_reports(pipeline, [psclient.report(f"L{seq}-{i}", "2012", count=i)
                                    for i in range(200)], seq=seq)
            read_until(f"L{seq}-199/2012/")
        assert gw.metrics()["paystat_gateway_stream_dropped_total"] == 1
        assert gw.metrics()["paystat_gateway_stream_clients"] == 1
        send_reports(pipeline, [psclient.report("STOP", "2012", count=1)], seq=seq + 1)
        read_until("STOP/2012/")
        assert gw.metrics()["paystat_gateway_stream_dropped_total"] == 1
    finally:
        stalled.close()
        reader.close()


def test_bad_parameters_are_refused(pipeline, gateway_factory):
    gw = gateway_factory(pipeline)
    cases = [
        ("/api/v1/series", "source"),
        ("/api/v1/series?source=C+MI", "source"),
        ("/api/v1/series?source=CMI&dims=card", "dims"),
        ("/api/v1/series?source=CMI&dims=Card%3Dx", "dims"),
        ("/api/v1/series?source=CMI&dims=a%3D1,b%3D2,c%3D3,d%3D4,e%3D5", "dims"),
        ("/api/v1/series?source=CMI&granularity=day", "granularity"),
        ("/api/v1/indicators?limit=0", "limit"),
        ("/api/v1/indicators?limit=100001", "limit"),
        ("/api/v1/indicators?prefix=" + "x" * 437, "prefix"),
        ("/api/v1/stream?prefix=" + "x" * 437, "prefix"),
    ]
    for path, parameter in cases:
        answer = gw.json(path, status=400)
        assert answer["error"]["parameter"] == parameter, path
        assert parameter in answer["error"]["reason"], path
    assert gw.get("/api/v2/indicators")[0] == 404
    req = urllib.request.Request(gw.url + "/api/v1/indicators", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 405
    metrics = gw.metrics()
    assert metrics['paystat_gateway_http_bad_requests_total{endpoint="series"}'] == 6
    assert metrics['paystat_gateway_http_bad_requests_total{endpoint="indicators"}'] == 3


def test_metrics_move_with_the_feed(pipeline, gateway_factory):
    gw = gateway_factory(pipeline)
    gw.wait_for(lambda v: True, "readiness")
    before = gw.metrics()
    assert before['paystat_gateway_resyncs_total{reason="start"}'] == 1
    assert before["paystat_gateway_ready"] == 1
    assert before["process_resident_memory_bytes"] > 0
    send_reports(pipeline, [psclient.report("M", "2012-03", count=5)])
    gw.wait_for(lambda v: "M/2012/" in v, "M/2012/")
    after = gw.metrics()
    # The month, its quarter and its year.
    assert after["paystat_gateway_indicators"] == before["paystat_gateway_indicators"] + 3
    assert after["paystat_gateway_feed_messages_total"] >= before[
        "paystat_gateway_feed_messages_total"] + 3
    assert after["paystat_gateway_view_changes_total"] >= 3
    assert after['paystat_gateway_http_requests_total{endpoint="indicators"}'] >= 1


def test_dashboard_is_built_in_and_offline(pipeline, gateway_factory):
    gw = gateway_factory(pipeline)
    code, headers, page = gw.get("/")
    assert code == 200 and headers["Content-Type"].startswith("text/html")
    page = page.decode()
    assert '<script src="/app.js">' in page
    for asset, kind in (("/app.js", "text/javascript"), ("/style.css", "text/css"),
                        ("/index.html", "text/html")):
        code, headers, body = gw.get(asset)
        assert code == 200 and headers["Content-Type"].startswith(kind), asset
        on_disk = (SOURCE_DIR / "services/gateway/web" / asset.lstrip("/")).read_bytes()
        assert body == on_disk, asset
        # Works without internet: nothing is loaded from another host.
        text = body.decode()
        assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', text), asset
        assert not re.search(r'(fetch|EventSource|import)\s*\(\s*["\']https?:', text), asset
        assert "@import" not in text and "url(http" not in text, asset


def test_help_and_bad_options():
    out = subprocess.run([GATEWAY, "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    for flag in ("--feed", "--snapshot", "--listen", "--stream-queue", "--keepalive-ms",
                 "PAYSTAT_GATEWAY_LISTEN", "/api/v1/indicators", "/metrics"):
        assert flag in out.stdout, flag
    bad = subprocess.run([GATEWAY, "--stream-queue", "10"], capture_output=True, text=True,
                         timeout=10)
    assert bad.returncode == 2 and "--stream-queue" in bad.stderr
    bad = subprocess.run([GATEWAY, "--listen", "localhost:8080"], capture_output=True, text=True,
                         timeout=10)
    assert bad.returncode == 1 and "listen" in bad.stderr


def test_demo_serves_the_dashboard(tmp_path):
    """`paystat demo` starts the gateway too and prints the dashboard's URL,
    which serves the article's figures until Ctrl-C."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSTAT_")}
    demo = subprocess.Popen([BIN_DIR / "tools" / "paystat", "demo", "--port", "0",
                             "--bin-dir", BIN_DIR, "--log-dir", tmp_path / "logs"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=tmp_path)
    try:
        lines = []
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("Dashboard: "):
                break
        url = lines[-1].split(" ", 1)[1].strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), "".join(lines)
        with urllib.request.urlopen(url, timeout=10) as r:
            assert b"/app.js" in r.read()
        query = urllib.parse.urlencode({"prefix": CMI_ECOM})
        with urllib.request.urlopen(url + "api/v1/indicators?" + query, timeout=10) as r:
            answer = json.load(r)
        assert r1(answer["indicators"][0]["yoy_amount_pct"]) == 48.3
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0, "".join(lines) + rest
