"""Overload: memory stays bounded and nothing acknowledged is lost when
peers ask for more than paystat should give.

- A subscriber floods publish with distinct subscriptions of the longest
  useful length, and with longer ones: publish refuses what is beyond
  --max-subscriptions or too long, counts it, closes the flooding
  connection, and keeps serving a well-behaved subscriber.
- Producers send as fast as they can while compute is stopped, then while
  it runs in short bursts: ingest answers retry_later once its journal is
  full, and once compute catches up every acknowledged report is on the
  feed.
- Publish stops while producers send: compute conflates instead of
  queueing flushes in front of it.
- A subscriber stops reading while producers send and another subscriber
  reads: every batch is still acknowledged, the reader converges exactly,
  and publish's queue to the stalled one stays within the feed HWM.

Every service's peak resident memory (VmHWM) is checked against the
bounds in docs/bounds.md ("Memory bounds the tests check"); not under
ASan, whose shadow memory says nothing about paystat's own."""

import random
import select
import signal
import socket
import struct
import threading
import time

import zmq

import psclient
from producers import Model, ReliableProducer, wait_converged
from test_hostile import rss_kib, sanitized
from test_ops import scrape

MIB = 1024

# ---- A subscriber that keeps nothing ----------------------------------------


class RawSubscriber:
    """A feed subscriber speaking ZMTP 3.0 (NULL mechanism) over a plain TCP
    socket: unlike a libzmq SUB or XSUB, it keeps no copy of what it
    subscribed, so it can send millions of subscriptions for free. A
    subscription is a message frame 0x01 + prefix (ZMTP 3.0)."""

    GREETING = b"\xff" + bytes(8) + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") \
        + b"\x00" + bytes(31)

    def __init__(self, endpoint):
        host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
        self.addr = (host, int(port))
        self.sock = None
        self.connections = 0

    @staticmethod
    def frame(body, command=False):
        flags = 0x04 if command else 0
        if len(body) < 256:
            return bytes([flags, len(body)]) + body
        return bytes([flags | 0x02]) + struct.pack(">Q", len(body)) + body

    @classmethod
    def subscription(cls, prefix):
        return cls.frame(b"\x01" + prefix)

    def _recv_exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed during the handshake")
            data += chunk
        return data

    def connect(self, attempts=10):
        """Connects and shakes hands; tries again when publish closes the
        new connection at once (it may, while it closes a flooder)."""
        for attempt in range(attempts):
            try:
                return self._connect()
            except OSError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05)

    def _connect(self):
        self.close()
        self.sock = socket.create_connection(self.addr, timeout=10)
        # Little in flight: what a closed connection swallows is lost.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        self.sock.sendall(self.GREETING)
        self._recv_exactly(64)
        ready = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 3) + b"SUB"
        self.sock.sendall(self.frame(ready, command=True))
        flags = self._recv_exactly(1)[0]
        size = self._recv_exactly(8 if flags & 0x02 else 1)
        self._recv_exactly(int.from_bytes(size, "big"))  # publish's READY
        # A connection publish closed may take seconds to say so while we
        # only send (its kernel answers zero-window probes late): a tenth
        # of a second without progress counts as closed.
        self.sock.settimeout(0.1)
        self.connections += 1

    def send(self, data):
        """Sends DATA (frames); False when publish closed the connection
        (or sent something, which it never does unasked: the end)."""
        try:
            if select.select([self.sock], [], [], 0)[0]:
                return False
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def flood(endpoint, frames, seconds, chunk=100, pause=0.1):
    """Sends FRAMES (a list of subscription frames) CHUNK at a time over a
    RawSubscriber for SECONDS, connecting again whenever publish closes the
    connection (after PAUSE seconds: 0.1, as a libzmq SUB does) and going
    on with the next chunk, from the first again after the last. Returns
    (connections made, frames handed to the kernel)."""
    sub = RawSubscriber(endpoint)
    deadline = time.monotonic() + seconds
    offered = 0
    try:
        sub.connect()
        while time.monotonic() < deadline:
            start = offered % len(frames)
            if sub.send(b"".join(frames[start:start + chunk])):
                offered += len(frames[start:start + chunk])
            else:
                sub.close()
                time.sleep(pause)
                sub.connect()
        return sub.connections, offered
    finally:
        sub.close()


def dropped_at_once(endpoint, frame, n):
    """Sends FRAME on N new RawSubscriber connections; returns how many
    publish closed right after it (the peer sees the end of the stream)."""
    closed = 0
    for _ in range(n):
        sub = RawSubscriber(endpoint)
        try:
            sub.connect()
            sub.send(frame)
            sub.sock.settimeout(5)
            closed += sub.sock.recv(1) == b""
        except OSError:
            closed += 1  # reset rather than closed: dropped all the same
        finally:
            sub.close()
    return closed


def peak_rss_mib(pipeline):
    """Each service's peak resident memory so far, MiB."""
    return {name: rss_kib(svc.pid, "VmHWM") / MIB for name, svc in pipeline.services.items()}


def check_rss(pipeline, bounds):
    """Asserts each service's peak RSS is under BOUNDS[name] MiB (not
    under ASan); returns the peaks, for the test's output."""
    peaks = peak_rss_mib(pipeline)
    over = {n: mb for n, mb in peaks.items()
            if n in bounds and mb >= bounds[n] and not sanitized(pipeline[n].exe)}
    assert not over, f"peak RSS MiB {peaks}, bounds {bounds}"
    return peaks


def make_reports(rng, source, n, cells=40):
    """N "add" or "set" reports over CELLS (month, card) cells of SOURCE."""
    return [psclient.report(source, f"2012-{rng.randrange(1, 13):02d}",
                            {"card": f"c{rng.randrange(cells)}"}, count=rng.randrange(1, 1000),
                            amount=rng.randrange(1, 10**6), currency="MAD",
                            op="set" if rng.random() < 0.1 else None)
            for _ in range(n)]


def metric(pipeline, name, labels="", service="publish"):
    return scrape(pipeline, service).get((name, labels), 0)


# ---- Subscriptions ---------------------------------------------------------

# Small, so that the flood fills it: the bound at work, not just the rates.
MAX_SUBSCRIPTIONS = 64
LONGEST = 440  # "$hb/" and the longest topic (PROTOCOL.md, section 6)
DISTINCT = 200_000
FLOOD_SECONDS = 20
# Peak RSS of publish, MiB: docs/bounds.md, "Memory bounds the tests check".
SUBSCRIPTION_FLOOD_RSS_MB = 48


def test_subscription_flood_is_bounded(pipeline_factory):
    """Two flooders offer 200,000 distinct subscriptions of the longest
    useful length, and longer ones, for 20 s, connecting again each time
    publish closes them; others send frames over the limit. Publish's
    memory stays bounded, it counts what it refused and whom it closed,
    and a subscriber and a producer keep working throughout."""
    # A small replay ring: what grows with the producer's traffic stays
    # small beside what the flood could add.
    pipeline = pipeline_factory(
        publish_args=["--max-subscriptions", str(MAX_SUBSCRIPTIONS), "--replay-max", "10000"])
    rng = random.Random(6)
    # Distinct from their first bytes (nothing shared in libzmq's trie),
    # matching no topic: each costs publish the most a subscription can.
    longest = [RawSubscriber.subscription(b"~%06d" % i + b"x" * (LONGEST - 7))
               for i in range(DISTINCT)]
    # Too long to match anything, but short enough a frame to be read.
    too_long = [RawSubscriber.subscription(b"~%06d" % i + b"y" * (LONGEST + 60 - 7))
                for i in range(DISTINCT // 10)]

    # Under ASan every allocation records its stack: libzmq's trie, one
    # node per byte, costs ten times as much, and flooders reconnecting as
    # fast as a libzmq SUB would take publish's whole thread. There they
    # come back after a second: the same paths, at a pace it can bear.
    pause = 1.0 if sanitized(pipeline["publish"].exe) else 0.1

    model = Model()
    producer = ReliableProducer(pipeline.ingest, "sf")
    with pipeline.feed(["SF/", "$hb/SF/"]) as feed:
        floods = {}
        threads = [threading.Thread(target=lambda k=k, f=f: floods.__setitem__(
                       k, flood(pipeline.feed_endpoint, f, FLOOD_SECONDS, pause=pause)))
                   for k, f in (("longest", longest), ("too_long", too_long))]
        # A frame over the feed's limit (ZMQ_MAXMSGSIZE): libzmq drops the
        # connection before publish sees anything.
        threads.append(threading.Thread(target=lambda: floods.__setitem__(
            "oversized", dropped_at_once(pipeline.feed_endpoint,
                                         RawSubscriber.subscription(b"z" * 600), 20))))
        for t in threads:
            t.start()
        seq = 0
        while any(t.is_alive() for t in threads):
            seq += 1
            reports = make_reports(rng, "SF", 20, cells=10)
            ack = producer.send(seq, reports)
            assert ack["status"] == "ok", ack
            model.apply_all(reports)
            # The well-behaved subscriber keeps reading meanwhile.
            try:
                while True:
                    feed.recv(timeout=0.02)
            except TimeoutError:
                pass
        for t in threads:
            t.join()
        bad = wait_converged(feed, model.cells(), "SF/", timeout=30)
        assert not bad, f"{len(bad)} cells differ, e.g.:\n" + "\n".join(bad[:20])
        assert feed.gaps == []
        # Its prefix heartbeat still comes: its subscriptions were kept.
        feed.heartbeats = True
        deadline = time.monotonic() + 5
        while feed.recv(timeout=max(deadline - time.monotonic(), 0.01))[0] != "$hb/SF/":
            pass
        # The flooders are gone: what is left is this subscriber's.
        deadline = time.monotonic() + 10
        while metric(pipeline, "paystat_publish_subscriptions") > 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert metric(pipeline, "paystat_publish_subscriptions") == 3  # SF/, $hb/SF/, $hb
    producer.close()

    refused = {reason: metric(pipeline, "paystat_publish_subscriptions_refused_total",
                              f'reason="{reason}"') for reason in ("full", "too_long")}
    evicted = {reason: metric(pipeline, "paystat_publish_subscribers_evicted_total",
                              f'reason="{reason}"') for reason in ("full", "rate")}
    assert refused["full"] > 0 and refused["too_long"] > 0, refused
    assert evicted["rate"] > 0, evicted
    assert floods["oversized"] == 20, floods
    peaks = check_rss(pipeline, {"publish": SUBSCRIPTION_FLOOD_RSS_MB})
    print(f"subscription flood: {seq} batches; (connections, frames offered) {floods}; "
          f"refused {refused}; evicted {evicted}; peak RSS MiB {peaks}")


# ---- Producers faster than compute -----------------------------------------

def test_publish_counts_its_subscribers(pipeline):
    """paystat_publish_subscribers follows the feed's connections as
    subscribers come and go (a socket monitor's accept and disconnect
    events)."""
    def subscribers():
        return metric(pipeline, "paystat_publish_subscribers")

    base = subscribers()
    socks = []
    for _ in range(3):
        sub = psclient.context().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"COUNT/")
        sub.connect(pipeline.feed_endpoint)
        socks.append(sub)
    try:
        wait_until(lambda: subscribers() == base + 3, 10, "three subscribers counted")
        for sub in socks[:2]:
            sub.close()
        wait_until(lambda: subscribers() == base + 1, 10, "two departures counted")
    finally:
        for sub in socks:
            sub.close()
    wait_until(lambda: subscribers() == base, 10, "the last departure counted")


PRODUCERS = 4
BATCH = 2000  # reports per batch
# Peak RSS, MiB, under the producers' overload: docs/bounds.md.
OVERLOAD_RSS_MB = {"ingest": 64, "compute": 64, "publish": 64}


class Producers:
    """PRODUCERS threads, each a ReliableProducer of its own source
    (OV0, OV1, ...), sending BATCH-report batches back to back until
    stopped; each keeps what was acknowledged, in order, for the model."""

    def __init__(self, pipeline, seed, prefix="OV"):
        self.stop = threading.Event()
        self.producers = [ReliableProducer(pipeline.ingest, f"{prefix.lower()}{i}", give_up=90)
                          for i in range(PRODUCERS)]
        self.acked = [[] for _ in range(PRODUCERS)]
        self.errors = []
        self.threads = [threading.Thread(target=self._run, args=(i, random.Random(seed + i),
                                                                 f"{prefix}{i}"))
                        for i in range(PRODUCERS)]
        for t in self.threads:
            t.start()

    def _run(self, i, rng, source):
        try:
            seq = 0
            while not self.stop.is_set():
                seq += 1
                reports = make_reports(rng, source, BATCH)
                ack = self.producers[i].send(seq, reports)
                assert ack["status"] == "ok", ack
                self.acked[i].append(reports)
        except Exception as e:  # noqa: BLE001 - reported by finish()
            self.errors.append(f"{source}: {e!r}")

    def retry_laters(self):
        return [len(p.retry_laters) for p in self.producers]

    def finish(self, timeout=90):
        """Stops them once their batch in flight is acknowledged; returns
        the model of everything acknowledged."""
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "a producer never got its ack"
        assert not self.errors, self.errors
        for p in self.producers:
            p.close()
        model = Model()
        for batches in self.acked:
            for reports in batches:
                model.apply_all(reports)
        return model


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.05)


def settle(producers, feed, prefix, timeout=60):
    """Stops PRODUCERS and checks that FEED ends with exactly what they got
    acknowledged under PREFIX, having missed nothing on the way."""
    model = producers.finish()
    bad = wait_converged(feed, model.cells(), prefix, timeout)
    assert not bad, f"{len(bad)} cells differ, e.g.:\n" + "\n".join(bad[:20])
    assert feed.gaps == []


def report(what, pipeline, producers, bounds, extra=""):
    """Checks the peak RSS against BOUNDS and prints what the test saw."""
    peaks = check_rss(pipeline, bounds)
    print(f"{what}: acked batches {[len(a) for a in producers.acked]}, retry_later answers "
          f"{producers.retry_laters()}{extra}, peak RSS MiB {peaks}")


def overload_pipeline(pipeline_factory):
    # A small journal, so that it fills; checkpoints often, so that ingest
    # gets its space back soon once compute runs.
    return pipeline_factory(ingest_args=["--journal-max-mb", "8"],
                            compute_args=["--checkpoint-ms", "200"],
                            publish_args=["--replay-max", "10000"])


def test_producers_faster_than_a_stopped_compute(pipeline_factory):
    """Compute stopped (SIGSTOP): the journal fills, every producer is
    told retry_later and waits; nothing grows meanwhile. Compute back:
    every acknowledged report is on the feed, exactly."""
    pipeline = overload_pipeline(pipeline_factory)
    compute = pipeline["compute"]
    with pipeline.feed(["OV"]) as feed:
        compute.signal(signal.SIGSTOP)
        producers = Producers(pipeline, seed=100)
        try:
            wait_until(lambda: all(producers.retry_laters()), 60,
                       "every producer told retry_later")
            # They keep at it: held back, not failing, not growing anything.
            time.sleep(3)
            reasons = {r for p in producers.producers for _, r in p.retry_laters}
            assert any("journal full" in r for r in reasons), reasons
        finally:
            compute.signal(signal.SIGCONT)
        settle(producers, feed, "OV")
    report("compute stopped", pipeline, producers, OVERLOAD_RSS_MB)


def test_producers_faster_than_a_slowed_compute(pipeline_factory):
    """Compute runs 50 ms in every 250 (SIGSTOP/SIGCONT) while producers
    send as fast as they can for 15 s: they are held back by retry_later
    whenever the journal is full, memory stays bounded, and once compute
    runs freely every acknowledged report is on the feed."""
    pipeline = overload_pipeline(pipeline_factory)
    compute = pipeline["compute"]
    throttle_stop = threading.Event()

    def throttle():
        while not throttle_stop.is_set():
            compute.signal(signal.SIGSTOP)
            time.sleep(0.2)
            compute.signal(signal.SIGCONT)
            time.sleep(0.05)

    with pipeline.feed(["OW"]) as feed:
        throttler = threading.Thread(target=throttle)
        throttler.start()
        producers = Producers(pipeline, seed=200, prefix="OW")
        try:
            time.sleep(15)
        finally:
            throttle_stop.set()
            throttler.join()
            compute.signal(signal.SIGCONT)
        settle(producers, feed, "OW")
    report("compute slowed", pipeline, producers, OVERLOAD_RSS_MB)


def test_a_stopped_publish_makes_compute_conflate(pipeline_factory):
    """Publish stopped (SIGSTOP) while producers send: compute keeps
    applying reports, but once publish stops confirming it sends one
    flush a second at most instead of one every --flush-ms (100 ms), so
    changes conflate in compute rather than queue in front of publish.
    Publish back: every acknowledged report is on the feed, exactly."""
    pipeline = pipeline_factory(publish_args=["--replay-max", "10000"])
    publish = pipeline["publish"]

    def of_compute(name):
        return metric(pipeline, name, service="compute")

    with pipeline.feed(["OP"]) as feed:
        producers = Producers(pipeline, seed=300, prefix="OP")
        try:
            wait_until(lambda: of_compute("paystat_compute_flushes_total") > 0, 30,
                       "compute flushing")
            publish.signal(signal.SIGSTOP)
            try:
                time.sleep(0.5)  # what was in flight is sent
                flushes = of_compute("paystat_compute_flushes_total")
                applied = of_compute("paystat_compute_reports_applied_total")
                time.sleep(4)
                flushes = of_compute("paystat_compute_flushes_total") - flushes
                applied = of_compute("paystat_compute_reports_applied_total") - applied
                unconfirmed = of_compute("paystat_compute_publish_unconfirmed")
            finally:
                publish.signal(signal.SIGCONT)
        except BaseException:
            producers.finish()
            raise
        settle(producers, feed, "OP")
    print(f"publish stopped 4 s: compute applied {applied:.0f} reports in {flushes:.0f} flushes, "
          f"{unconfirmed:.0f} update frames unconfirmed")
    assert applied > 0, "compute stopped applying reports while publish was stopped"
    assert unconfirmed >= 1
    # One flush a second at most (4 s), and one more for the timing's edges.
    assert flushes <= 6, f"{flushes} flushes in 4 s towards a stopped publish"


# ---- A subscriber that stops reading ---------------------------------------

STALLED_FEED_HWM = 10_000
# Peak RSS of publish, MiB, with one subscriber stalled: docs/bounds.md.
STALLED_RSS_MB = 64


def test_a_stalled_subscriber_slows_nobody(pipeline_factory):
    """One subscriber never reads (a tiny receive buffer and queue), while
    producers send continuously and another subscriber reads: every batch
    is acknowledged within a generous time, the reader converges exactly,
    and publish's queue to the stalled one stops at --feed-hwm (its
    memory stays bounded while far more than that is published)."""
    pipeline = pipeline_factory(publish_args=["--feed-hwm", str(STALLED_FEED_HWM),
                                              "--replay-max", "10000"])
    stalled = psclient.context().socket(zmq.SUB)
    stalled.setsockopt(zmq.LINGER, 0)
    stalled.setsockopt(zmq.RCVHWM, 1)
    stalled.setsockopt(zmq.RCVBUF, 4096)
    stalled.setsockopt(zmq.SUBSCRIBE, b"")
    stalled.connect(pipeline.feed_endpoint)
    try:
        with pipeline.feed(["ST"]) as feed:
            # Every producer answered within 10 s of each send, however
            # full the stalled subscriber's queue.
            producers = Producers(pipeline, seed=300, prefix="ST")
            for p in producers.producers:
                p.timeout, p.give_up = 10.0, 10.0
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    for _ in range(5000):
                        feed.recv(timeout=0.05)
                except TimeoutError:
                    pass
            settle(producers, feed, "ST")
            published = metric(pipeline, "paystat_publish_messages_total")
            assert published > 5 * STALLED_FEED_HWM, published
        # What was kept for the stalled one: its queue at publish and the
        # socket buffers between, a small part of what was published.
        kept = 0
        while stalled.poll(1000):
            stalled.recv_multipart()
            kept += 1
        assert kept < published / 5, (kept, published)
    finally:
        stalled.close(0)
    report("stalled subscriber", pipeline, producers, {"publish": STALLED_RSS_MB},
           f", {published:.0f} messages published, {kept} kept for the stalled one")
