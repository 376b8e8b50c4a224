"""Reliable producers and an independent model of the cells, for the
durability tests.

ReliableProducer resends each batch (same producer, same seq) until ingest
acknowledges it: after silence on a fresh socket (Lazy Pirate), after
retry_later following a pause. Model applies exactly the reports that were
acknowledged, with PROTOCOL.md's add/set rules, and rolls them up the way
the feed publishes them (months into quarters and years, each dimension
also as "*"), so a test can compare every cell of the feed with it.
"""

import itertools
import time

import zmq

import psclient

ACKED = ("ok", "partial", "rejected", "duplicate")


class ReliableProducer:
    """One producer id; one batch in flight at a time."""

    def __init__(self, endpoint, producer, timeout=2.0, give_up=120.0):
        self.endpoint = endpoint
        self.producer = producer
        self.timeout = timeout
        self.give_up = give_up
        self.sock = None
        self.reconnects = 0
        self.retry_laters = []  # (seq, reason) of every retry_later answer

    def _connect(self):
        if self.sock is not None:
            self.sock.close(0)
            self.reconnects += 1
        self.sock = psclient.context().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(self.endpoint)

    def send(self, seq, reports, retry_later=True):
        """Sends batch SEQ until it is acknowledged and returns the ack.
        With RETRY_LATER false, a retry_later answer is returned as is."""
        frame = psclient.pack(psclient.batch(self.producer, seq, reports))
        deadline = time.monotonic() + self.give_up
        pause = 0.05
        if self.sock is None:
            self._connect()
        while time.monotonic() < deadline:
            self.sock.send(frame)
            if not self.sock.poll(int(self.timeout * 1000)):
                self._connect()
                continue
            ack = psclient.unpack(self.sock.recv_multipart()[-1])
            if (ack["producer"], ack["seq"]) != (self.producer, seq):
                continue  # the answer to an earlier attempt's resend
            if ack["status"] in ACKED:
                return ack
            assert ack["status"] == "retry_later", ack
            self.retry_laters.append((seq, ack["error"]["reason"]))
            if not retry_later:
                return ack
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        raise TimeoutError(f"{self.producer} seq {seq}: no acknowledgement in {self.give_up} s")

    def close(self):
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None


def quarter(month_period):
    year, month = month_period.split("-")
    return f"{year}-Q{(int(month) - 1) // 3 + 1}"


class Model:
    """Leaf cells keyed (source, month, dims tuple sorted by name)."""

    def __init__(self):
        self.leaves = {}

    def apply(self, report):
        key = (report["source"], report["period"],
               tuple(sorted(tuple(d.split("=", 1)) for d in report["dims"])))
        if report.get("op") == "set" or key not in self.leaves:
            self.leaves[key] = [report["count"], report["amount"]]
        else:
            self.leaves[key][0] += report["count"]
            self.leaves[key][1] += report["amount"]

    def apply_all(self, reports):
        for r in reports:
            self.apply(r)

    def cells(self):
        """topic -> (count, amount) for every cell, rollups included."""
        out = {}
        for (source, month, dims), (count, amount) in self.leaves.items():
            for period in (month, quarter(month), month[:4]):
                for mask in itertools.product((False, True), repeat=len(dims)):
                    rolled = {n: "*" if star else v for (n, v), star in zip(dims, mask)}
                    topic = psclient.topic(source, period, rolled)
                    c, a = out.get(topic, (0, 0))
                    out[topic] = (c + count, a + amount)
        return out


def mismatches(expected, view, prefix):
    """The cells under PREFIX whose count or amount differ between EXPECTED
    (topic -> (count, amount)) and the feed VIEW, as readable lines."""
    bad = []
    for topic, (count, amount) in sorted(expected.items()):
        body = view.get(topic)
        got = None if body is None else (body.get("count"), body.get("amount"))
        if got != (count, amount):
            bad.append(f"{topic}: expected {(count, amount)}, feed has {got}")
    for topic in sorted(set(view) - set(expected)):
        if topic.startswith(prefix):
            bad.append(f"{topic}: on the feed but never reported")
    return bad


def wait_converged(feed, expected, prefix, timeout):
    """Receives until the feed's view of PREFIX equals EXPECTED; returns
    the mismatches left when TIMEOUT runs out ([] on success)."""
    deadline = time.monotonic() + timeout
    while True:
        bad = mismatches(expected, feed.view, prefix)
        left = deadline - time.monotonic()
        if not bad or left <= 0:
            return bad
        # Comparing is costly: take what has arrived in bulk, then compare.
        try:
            for _ in range(2000):
                feed.recv(timeout=min(0.5, max(left, 0.01)))
        except TimeoutError:
            pass


def drain(feed, quiet=0.3):
    """Receives until the feed has been quiet for QUIET seconds."""
    while True:
        try:
            feed.recv(timeout=quiet)
        except TimeoutError:
            return
