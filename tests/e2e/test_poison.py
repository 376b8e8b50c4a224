"""One update must not poison every subscriber (issue #14, finding 2).

Publish republishes each update item's body behind its own numbering. An
item whose body already carries "seq" (or v, prev, epoch), lacks "type",
has a non-string or repeated "type", or is {} used to be accepted; every
snapshot then held a message no subscriber could read, and paystat sub and
the gateway asked again at once, forever.

Checked here on the real services: publish refuses such items one by one
(the valid items of the same update are published), counts them in
paystat_publish_items_refused_total{reason} and logs them; a paystat sub
and a gateway started afterwards sync normally, without a flood of log
lines. And, against a fake publish that serves a malformed snapshot, the
client (paystat sub) backs off between its requests and says what it
refused."""

import json
import os
import subprocess
import threading
import time
import urllib.request

import zmq

import psclient
from conftest import BIN_DIR, free_ports
from test_gateway import gateway_factory, parse_prometheus  # noqa: F401 (a fixture)

pack = psclient.pack
CELL = {"type": "cell", "source": "POISON", "period": "2012", "gran": "year", "dims": {}}


def raw_map(pairs):
    """A fixmap from (key, value) pairs, keys repeated as given."""
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(pack(k) + pack(v) for k, v in pairs)


def cell(**extra):
    return pack(dict(CELL, **extra))


# topic suffix -> (body, refusal reason in publish's metric)
MALFORMED = {
    "seq": (raw_map([("type", "cell"), ("seq", 5)]), "reserved"),
    "v": (cell(count=1, v=1), "reserved"),
    "prev": (cell(count=1, prev=3), "reserved"),
    "epoch": (cell(count=1, epoch=7), "reserved"),
    "notype": (pack({k: v for k, v in CELL.items() if k != "type"}), "missing"),
    "empty": (pack({}), "missing"),
    "inttype": (pack(dict(CELL, type=5)), "type"),
    "twotypes": (raw_map(list(CELL.items()) + [("type", "cell")]), "duplicate"),
}


def topic(name):
    return f"POISON/2012/kind={name}"


def send_update(endpoint, items, useq=1):
    """Sends one update as a second compute would and waits for publish's
    progress answer: publish has then handled the whole update."""
    sock = psclient.context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send(pack({"v": 1, "type": "update", "epoch": 1, "useq": useq, "items": items}))
        assert sock.poll(20000), "publish did not answer the update"
        answer = psclient.unpack(sock.recv())
        assert answer == {"v": 1, "type": "progress", "pos": useq}, answer
    finally:
        sock.close(0)


def metrics(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        return parse_prometheus(r.read().decode())


def log_lines(path):
    return path.read_text(errors="replace").count("\n") if path.exists() else 0


def test_malformed_items_are_refused_and_subscribers_sync(pipeline, gateway_factory):
    good = {topic(f"good{i}"): cell(count=i + 1) for i in range(3)}
    items = [[t, b] for t, b in good.items()]
    for name, (body, _) in MALFORMED.items():
        items.insert(len(items) // 2, [topic(name), body])
    items.append([topic("removed"), b""])
    with pipeline.feed(["POISON/"]) as feed:
        send_update(pipeline.publish, items)
        # The feed keeps order: the malformed items came between the good ones.
        seen = feed.collect_until(lambda view: set(good) <= set(view), timeout=20)
    assert set(seen) == set(good), f"malformed items reached the feed: {sorted(seen)}"

    # Counted by reason, and logged naming topic, field and reason.
    m = metrics(pipeline.http["publish"])
    want = {}
    for _, reason in MALFORMED.values():
        want[reason] = want.get(reason, 0) + 1
    for reason in ("reserved", "duplicate", "missing", "type", "dims", "limit", "decode"):
        got = m[f'paystat_publish_items_refused_total{{reason="{reason}"}}']
        assert got == want.get(reason, 0), (reason, got, want)
    log = pipeline["publish"].log_text()
    assert "refused an update item" in log
    assert f'topic="{topic("seq")}" field=seq reason=reserved' in log, log[-3000:]

    # The snapshot holds the valid items only.
    items_seen, _ = psclient.snapshot(pipeline.snapshot_endpoint, "POISON/")
    assert {t for t, _ in items_seen} == set(good) | {topic("removed")}

    # paystat sub, started now, syncs and holds the valid items.
    stderr_path = pipeline.tmp / "sub.stderr"
    with open(stderr_path, "w") as err:
        sub = subprocess.Popen([str(pipeline.paystat), "sub", "--timeout-ms", "60000", "POISON/"],
                               env=pipeline.env, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            lines = []
            deadline = time.monotonic() + 60
            while not any(m.get("topic") == "$synced" for m in lines):
                assert time.monotonic() < deadline, f"paystat sub never synced: {lines[-5:]}"
                line = sub.stdout.readline()
                assert line, f"paystat sub ended: {stderr_path.read_text()[-2000:]}"
                lines.append(json.loads(line))
            assert set(good) <= {m["topic"] for m in lines}
        finally:
            sub.terminate()
            sub.communicate(timeout=20)
    assert log_lines(stderr_path) < 20, stderr_path.read_text()[-2000:]

    # So does a gateway: ready, and quiet.
    gw = gateway_factory(pipeline)
    deadline = time.monotonic() + 60
    while gw.get("/readyz")[0] != 200:
        assert time.monotonic() < deadline, gw.service.log_tail()
        time.sleep(0.1)
    assert set(good) <= set(gw.indicators("POISON/")[1])
    time.sleep(1.0)  # a spinning gateway writes thousands of lines a second
    assert log_lines(gw.service.log_path) < 50, gw.service.log_tail()


class FakePublish:
    """A publish whose snapshot socket serves REPLY (a list of [topic, body])
    to every request, and whose feed answers each "$hb/<prefix>" subscription
    with a prefix heartbeat and repeats it every 500 ms, so that the client
    goes on asking for snapshots. Records when each request came."""

    EPOCH = 42

    def __init__(self, reply):
        self.feed_port, self.snap_port = free_ports(2)
        self.reply = reply
        self.requests = []
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _heartbeat(self, xpub, prefix):
        body = {"v": 1, "type": "hb", "epoch": self.EPOCH, "seq": 1, "interval_ms": 1000,
                "prefix": prefix, "sum": 0}
        xpub.send_multipart([b"$hb/" + prefix.encode(), pack(body)])

    def _run(self):
        ctx = psclient.context()
        xpub = ctx.socket(zmq.XPUB)
        xpub.setsockopt(zmq.XPUB_VERBOSE, 1)
        xpub.setsockopt(zmq.LINGER, 0)
        xpub.bind(f"tcp://127.0.0.1:{self.feed_port}")
        router = ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.bind(f"tcp://127.0.0.1:{self.snap_port}")
        self.ready.set()
        prefixes = set()
        poller = zmq.Poller()
        poller.register(xpub, zmq.POLLIN)
        poller.register(router, zmq.POLLIN)
        next_hb = time.monotonic()
        try:
            while not self.stop.is_set():
                for sock, _ in poller.poll(50):
                    if sock is xpub:
                        msg = xpub.recv()
                        if msg[:1] == b"\x01" and msg[1:].startswith(b"$hb/"):
                            prefix = msg[5:].decode()
                            prefixes.add(prefix)
                            self._heartbeat(xpub, prefix)
                    else:
                        ident, _request = router.recv_multipart()
                        self.requests.append(time.monotonic())
                        for t, body in self.reply:
                            router.send_multipart([ident, t.encode(), body])
                        end = {"v": 1, "type": "end", "mode": "snapshot", "epoch": self.EPOCH,
                               "seq": 5, "count": len(self.reply)}
                        router.send_multipart([ident, b"$snapshot", pack(end)])
                if time.monotonic() >= next_hb:
                    for prefix in prefixes:
                        self._heartbeat(xpub, prefix)
                    next_hb = time.monotonic() + 0.5
        finally:
            xpub.close(0)
            router.close(0)

    def close(self):
        self.stop.set()
        self.thread.join(10)


def test_client_backs_off_from_an_unreadable_snapshot(tmp_path):
    # What an old publish served: the feed body of an item that carried
    # its own "seq", spliced behind publish's numbering.
    numbered = raw_map([("v", 1), ("seq", 5), ("prev", 0), ("epoch", FakePublish.EPOCH),
                        ("type", "cell"), ("seq", 5)])
    fake = FakePublish([("POISON/2012/", numbered)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSTAT_")}
    env.update(PAYSTAT_FEED=f"tcp://127.0.0.1:{fake.feed_port}",
               PAYSTAT_SNAPSHOT=f"tcp://127.0.0.1:{fake.snap_port}")
    stderr_path = tmp_path / "sub.stderr"
    with open(stderr_path, "w") as err:
        sub = subprocess.Popen([str(BIN_DIR / "tools" / "paystat"), "sub", "POISON/"], env=env,
                               stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 60
            while len(fake.requests) < 5:
                assert time.monotonic() < deadline, f"only {len(fake.requests)} requests"
                assert sub.poll() is None, stderr_path.read_text()
                time.sleep(0.05)
        finally:
            sub.terminate()
            sub.communicate(timeout=20)
            fake.close()
    times = fake.requests
    gaps = [b - a for a, b in zip(times, times[1:])]
    # 100, 200, 400, 800 ms at least (more on a loaded machine, never less);
    # the client used to ask again at once, thousands of times a second.
    assert gaps[3] >= 0.7 and times[4] - times[0] >= 1.4, gaps
    text = stderr_path.read_text()
    assert "refused an unreadable snapshot reply" in text, text[-2000:]
    assert 'topic="POISON/2012/" field=seq' in text, text[-2000:]
    assert text.count("\n") < 20, text[-2000:]
