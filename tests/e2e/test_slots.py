"""Publish's shared resources cannot be held by a few clients (issue #14,
findings 5 and 6).

- Snapshot sessions: 64 clients ask publish, holding 150,000 topics, for a
  full snapshot and never read. A session that does not get on within
  --snapshot-timeout-ms is dropped (logged, counted), so a `paystat sub`
  started afterwards syncs.
- Feed subscriptions: 40 connections each adding 10 prefixes a second
  (too slow for the byte-rate guard) never fill the table: each is cut
  off at --max-subscriptions-per-connection, told why on its own
  "$hb/<prefix>", and a new `paystat sub` syncs."""

import json
import subprocess
import threading
import time

import zmq

import psclient
from test_ops import scrape

pack = psclient.pack


def metric(pipeline, name, labels=""):
    return scrape(pipeline, "publish").get((name, labels), 0)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def fill_publish(pipeline, topics, per_update=5000):
    """Feeds publish TOPICS topics as a compute would (updates on its
    --bind socket, each confirmed by a progress frame)."""
    ctx = psclient.context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(pipeline.publish)
    epoch = int(time.time() * 1e6)
    try:
        for useq, first in enumerate(range(0, topics, per_update), start=1):
            items = [[f"HOLD/2012/c={i:06d}",
                      pack({"type": "cell", "source": "HOLD", "count": i})]
                     for i in range(first, min(first + per_update, topics))]
            sock.send(pack({"v": 1, "type": "update", "epoch": epoch, "useq": useq,
                            "items": items}))
            assert sock.poll(30000), "publish did not confirm an update"
            assert psclient.unpack(sock.recv())["pos"] == useq
    finally:
        sock.close(0)
    wait_until(lambda: metric(pipeline, "paystat_publish_topics") >= topics, 30, "the topics")


class SubProcess:
    """`paystat sub` whose JSON lines (stdout) and log (stderr) are read by
    threads."""

    def __init__(self, pipeline, *args):
        self.proc = subprocess.Popen([str(pipeline.paystat), "sub", *args], env=pipeline.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines, self.log = [], []
        for stream, into in ((self.proc.stdout, self.lines), (self.proc.stderr, self.log)):
            threading.Thread(target=self._read, args=(stream, into), daemon=True).start()

    @staticmethod
    def _read(stream, into):
        for line in stream:
            into.append(line)

    def events(self):
        return [json.loads(line) for line in list(self.lines) if line.startswith("{")]

    def synced(self):
        return any(e["topic"] == "$synced" for e in self.events())

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


# ---- Finding 5: snapshot slots ---------------------------------------------

TOPICS = 150_000
HOGS = 64
TIMEOUT_MS = 3000


def test_clients_that_never_read_lose_their_snapshot_slots(pipeline_factory):
    pipeline = pipeline_factory(publish_args=["--snapshot-timeout-ms", str(TIMEOUT_MS)])
    fill_publish(pipeline, TOPICS)
    ctx = psclient.context()
    hogs = []
    sub = None
    try:
        for _ in range(HOGS):
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, 1)
            sock.setsockopt(zmq.RCVBUF, 4096)
            sock.connect(pipeline.snapshot_endpoint)
            sock.send(pack({"v": 1, "type": "snapshot", "prefix": ""}))
            hogs.append(sock)
        # Every session that started is stuck at its client's queue; the
        # hogs stay connected and never read, for the whole test.
        time.sleep(1)
        sub = SubProcess(pipeline, "--timeout-ms", "120000", "HOLD/2012/c=00001")
        wait_until(sub.synced, 90, "paystat sub to sync past the stalled snapshots")
        synced = [e for e in sub.events() if e["topic"] == "$synced"][0]
        assert synced["topics"] == 10, synced
        dropped = metric(pipeline, "paystat_publish_snapshots_dropped_total")
        assert dropped >= 1
        refused = (metric(pipeline, "paystat_publish_snapshots_refused_total",
                          'reason="address"') +
                   metric(pipeline, "paystat_publish_snapshots_refused_total", 'reason="busy"'))
        assert refused >= HOGS - 16, refused  # 16 per address at most
        log = pipeline["publish"].log_text()
        assert "snapshot dropped: its client does not read" in log, log[-3000:]
    finally:
        if sub:
            sub.close()
        for sock in hogs:
            sock.close(0)
