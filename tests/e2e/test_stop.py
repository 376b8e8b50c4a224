"""Each service stops within its drain bound on SIGTERM whatever the next
one does.

The next service is stopped (SIGSTOP: its connection stays, it reads
nothing) while producers keep sending, so that what the service under
test sends it backs up. The service must still serve its HTTP endpoints,
and exit 0 within its drain bound (plus a margin) of SIGTERM: no send or
receive of its loop may wait on the stopped peer. Once everything runs
again, every acknowledged report is in the feed.

- ingest, compute stopped: entries are in flight towards compute and none
  of its positions come back; the bound is --drain-ms, and the drain may
  not sit in a poll until the next hello (--sync-ms, here far longer).
- compute, publish stopped: update frames fill libzmq's queue and the
  socket buffers towards publish, then wait in compute's outbox; the bound
  is S_SHUTDOWN_MS of ps_compute_server.c (5 s, no option), the time it
  gives publish to take the last updates.
- publish, its subscribers stopped: a feed subscriber and a snapshot
  client stop reading (SIGSTOP), the snapshot's reply under way, so that
  the feed's queue to the one fills and the other's reply waits; publish
  goes on publishing, and its bound is the feed's 1 s linger.
"""

import random
import signal
import subprocess
import sys
import threading
import time

import psclient
from producers import Model, ReliableProducer, wait_converged
from test_durability import make_batches, send_all
from test_ops import get, parse_prometheus, wait_for

DRAIN_MS = 1500
COMPUTE_SHUTDOWN_MS = 5000  # S_SHUTDOWN_MS, services/compute/ps_compute_server.c
MARGIN_S = 3.0


def metric(pipeline, service, name):
    """Sample NAME (no labels) of SERVICE's /metrics, 0 when absent."""
    try:
        status, body = get(pipeline.http[service] + "/metrics", timeout=10)
    except OSError as e:  # a loop held in a send or receive serves nothing
        raise AssertionError(f"{service}'s /metrics did not answer: {e}") from e
    assert status == 200, body
    return parse_prometheus(body).get((name, ""), 0)


class Sender(threading.Thread):
    """Sends batches until told to stop, each until acknowledged (across an
    ingest restart); only acknowledged batches enter the model."""

    def __init__(self, endpoint, rng, model):
        super().__init__(daemon=True)
        self.producer = ReliableProducer(endpoint, "stop-bg", timeout=1.0)
        self.rng, self.model = rng, model
        self.stop = threading.Event()
        self.acked = 0
        self.error = None

    def run(self):
        try:
            seq = 0
            while not self.stop.is_set():
                seq += 1
                reports = make_batches(self.rng, "SB", 1, 50)[0]
                ack = self.producer.send(seq, reports)
                assert ack["status"] == "ok", ack
                self.model.apply_all(reports)
                self.acked += 1
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.producer.close()


def start_sending(pipeline, rng, model, sender_seed):
    """A producer "stop-fg" with 5 batches acknowledged (into MODEL), and a
    Sender "stop-bg" running with 3 acknowledged: returns both."""
    producer = ReliableProducer(pipeline.ingest, "stop-fg")
    send_all(producer, make_batches(rng, "SF", 5, 100), model)
    sender = Sender(pipeline.ingest, random.Random(sender_seed), Model())
    sender.start()
    assert wait_for(lambda: sender.acked >= 3, 30), sender.error
    return producer, sender


def assert_still_sending(sender):
    acked = sender.acked
    assert wait_for(lambda: sender.acked > acked, 30), sender.error


def assert_stops_within(service, bound_ms):
    """SIGTERM to SERVICE: it must exit 0 within BOUND_MS plus the margin."""
    start = time.monotonic()
    problem = service.stop(timeout=30)
    took = time.monotonic() - start
    assert problem is None, f"{problem}\n{service.log_tail()}"
    assert took < bound_ms / 1000 + MARGIN_S, \
        f"{service.name} took {took:.1f} s to stop (bound {bound_ms} ms)\n{service.log_tail()}"


def assert_converged(pipeline, producer, sender, model):
    """Stops the senders; the feed, from a restarted compute (which
    republishes every topic), must show every acknowledged report."""
    sender.stop.set()
    sender.join(150)
    assert not sender.is_alive() and sender.error is None, sender.error
    producer.close()
    for prefix, expected in (("SF/", model), ("SB/", sender.model)):
        with pipeline.feed([prefix]) as feed:
            pipeline.restart("compute")
            bad = wait_converged(feed, expected.cells(), prefix, 60)
        assert not bad, f"{len(bad)} cells differ under {prefix}, e.g.:\n" + "\n".join(bad[:20])


def test_sigterm_while_compute_stopped(pipeline_factory):
    pipeline = pipeline_factory(ingest_args=["--drain-ms", str(DRAIN_MS), "--sync-ms", "60000",
                                             "--window", "8"])
    rng = random.Random(15)
    model = Model()
    ingest, compute = pipeline["ingest"], pipeline["compute"]
    producer, sender = start_sending(pipeline, rng, model, 16)
    compute.signal(signal.SIGSTOP)
    try:
        # Acknowledged while compute sleeps: in the journal, some sent to
        # compute's socket, none applied.
        send_all(producer, make_batches(rng, "SF", 30, 100), model, first_seq=6)
        head = metric(pipeline, "ingest", "paystat_ingest_journal_head")
        assert head > metric(pipeline, "ingest", "paystat_ingest_compute_applied")
        assert get(pipeline.http["ingest"] + "/healthz")[0] == 200
        assert_still_sending(sender)
        assert_stops_within(ingest, DRAIN_MS)
        assert "compute has not applied every entry yet" in ingest.log_text()
    finally:
        compute.signal(signal.SIGCONT)
    ingest.start()
    ingest.wait_ready()
    assert_converged(pipeline, producer, sender, model)


def holds_back(pipeline):
    """True once compute keeps update frames back for publish (its outbox
    holds some), or hangs in a send (as a blocking send would),
    deaf to its HTTP port: the checks below then fail."""
    try:
        return metric(pipeline, "compute", "paystat_compute_publish_queued_bytes") > 0
    except AssertionError:
        return True


def test_sigterm_while_publish_stopped(pipeline_factory):
    pipeline = pipeline_factory(compute_args=["--checkpoint-ms", "3600000"])
    rng = random.Random(7)
    model = Model()
    compute, publish = pipeline["compute"], pipeline["publish"]
    producer, sender = start_sending(pipeline, rng, model, 8)
    publish.signal(signal.SIGSTOP)
    try:
        # Wide batches over many cells: each flush is large, so the kernel's
        # buffers and libzmq's queue towards publish fill while publish
        # sleeps, until compute keeps frames back (it must not wait).
        seq, deadline = 5, time.monotonic() + 120
        while not holds_back(pipeline):
            seq += 1
            send_all(producer, make_batches(rng, "SF", 1, 2000, cells=5000), model,
                     first_seq=seq)
            assert time.monotonic() < deadline, "compute's queue towards publish never filled"
        # Compute goes on applying entries and serving its endpoints.
        applied = metric(pipeline, "compute", "paystat_compute_batches_applied_total")
        assert_still_sending(sender)
        assert wait_for(lambda: metric(pipeline, "compute", "paystat_compute_batches_applied_total")
                        > applied, 30)
        assert get(pipeline.http["compute"] + "/healthz")[0] == 200
        assert_stops_within(compute, COMPUTE_SHUTDOWN_MS)
        assert "publish did not take and confirm every update before shutdown" \
            in compute.log_text()
    finally:
        publish.signal(signal.SIGCONT)
    compute.start()
    compute.wait_ready()
    assert_converged(pipeline, producer, sender, model)


# Subscribers that stop reading, run as processes of their own that stop
# themselves (SIGSTOP) at a known point: a feed subscriber once its
# subscription is live, a snapshot client once the first message of its
# reply is in. Small receive buffers, so that what publish sends them piles
# up in publish. Once continued (SIGCONT), each reads what reached it and
# prints what it saw.
FEED_SUBSCRIBER = r"""
import os, signal, sys
import msgpack, zmq
sock = zmq.Context().socket(zmq.SUB)
sock.setsockopt(zmq.RCVHWM, 10)
sock.setsockopt(zmq.RCVBUF, 4096)
sock.setsockopt(zmq.SUBSCRIBE, b"")
sock.connect(sys.argv[1])
sock.recv_multipart()  # a heartbeat: the subscription is live
print("ready", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
seqs = set()
while sock.poll(3000):
    topic, body = sock.recv_multipart()
    if not topic.startswith(b"$hb"):
        seqs.add(msgpack.unpackb(body)["seq"])
print(len(seqs), min(seqs, default=0), max(seqs, default=0), flush=True)
"""

SNAPSHOT_CLIENT = r"""
import os, signal, sys
import msgpack, zmq
sock = zmq.Context().socket(zmq.DEALER)
sock.setsockopt(zmq.RCVHWM, 10)
sock.setsockopt(zmq.RCVBUF, 4096)
sock.connect(sys.argv[1])
sock.send(msgpack.packb({"v": 1, "type": "snapshot", "prefix": ""}))
sock.recv_multipart()
print("started", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
n, end = 1, False
while sock.poll(3000):
    if sock.recv_multipart()[0] == b"$snapshot":
        end = True
        break
    n += 1
print(n, end, flush=True)
"""

# Publish's bound: it reads what compute already handed over, then closing
# the feed waits at most its 1 s linger for what is queued to subscribers.
PUBLISH_LINGER_MS = 1000


def stopped_helper(script, endpoint, banner):
    """Starts SCRIPT on ENDPOINT and returns it once it printed BANNER and
    stopped itself."""
    proc = subprocess.Popen([sys.executable, "-c", script, endpoint], stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline().strip()
    assert line == banner, f"helper said {line!r}, exited {proc.poll()}"
    assert wait_for(lambda: open(f"/proc/{proc.pid}/stat").read().split(") ")[1][0] == "T", 30)
    return proc


def test_sigterm_while_subscribers_stopped(pipeline_factory):
    # The stopped client's snapshot session is never dropped, so it is in
    # progress when SIGTERM comes; the feed drops for a full subscriber
    # early.
    pipeline = pipeline_factory(publish_args=["--snapshot-timeout-ms", "3600000",
                                              "--feed-hwm", "50"])
    model, bg_model, big = Model(), Model(), Model()
    producer = ReliableProducer(pipeline.ingest, "stop-pf")
    helpers = [stopped_helper(FEED_SUBSCRIBER, pipeline.feed_endpoint, "ready")]
    try:
        _stop_publish_while_stopped(pipeline, producer, model, bg_model, big, helpers)
    finally:
        for helper in helpers:
            helper.kill()
            helper.wait()


def _stop_publish_while_stopped(pipeline, producer, model, bg_model, big, helpers):
    publish = pipeline["publish"]
    feed_sub = helpers[0]
    try:
        # About 34,000 topics (12 MB of messages): more than the kernel's
        # and libzmq's buffers towards either stopped client hold.
        months = [f"2012-{m:02d}" for m in range(1, 13)]
        reports = [psclient.report("SP", month, {"k": f"v{k}"}, count=1, amount=k + 1,
                                   currency="MAD") for month in months for k in range(2000)]
        batches = [reports[i:i + 1000] for i in range(0, len(reports), 1000)]
        send_all(producer, batches, big)
        topics = len(big.cells())
        assert wait_for(lambda: metric(pipeline, "publish", "paystat_publish_topics") >= topics, 120)
        helpers.append(stopped_helper(SNAPSHOT_CLIENT, pipeline.snapshot_endpoint, "started"))
        sender = Sender(pipeline.ingest, random.Random(26), bg_model)
        sender.start()
        rng = random.Random(25)
        send_all(producer, make_batches(rng, "SF", 20, 100), model, first_seq=len(batches) + 1)
        # Still publishing and serving its endpoints while both wait on it.
        messages = metric(pipeline, "publish", "paystat_publish_messages_total")
        assert wait_for(lambda: metric(pipeline, "publish", "paystat_publish_messages_total")
                        > messages + 1000, 60), sender.error
        assert get(pipeline.http["publish"] + "/healthz", timeout=10)[0] == 200
        # The reply is still going: no snapshot finished, none dropped.
        assert metric(pipeline, "publish", "paystat_publish_snapshots_total") == 0
        assert metric(pipeline, "publish", "paystat_publish_snapshots_dropped_total") == 0
        assert_stops_within(publish, PUBLISH_LINGER_MS)
    finally:
        for helper in helpers:
            helper.send_signal(signal.SIGCONT)
    # What reached them: the feed dropped for the subscriber (its queue was
    # full), and the snapshot never got its end marker.
    received, first, last = map(int, feed_sub.communicate(timeout=60)[0].split())
    assert received < last - first + 1, (received, first, last)
    count, end = helpers[1].communicate(timeout=60)[0].split()
    assert end == "False" and int(count) < topics, (count, end)
    # Restarted with the default --feed-hwm: 50 would drop for the feed that
    # checks, too, while compute republishes every topic.
    publish.args = publish.args[:publish.args.index("--feed-hwm")]
    publish.start()
    publish.wait_ready()
    sender.stop.set()
    sender.join(150)
    assert not sender.is_alive() and sender.error is None, sender.error
    producer.close()
    with pipeline.feed(["SP/", "SF/", "SB/"]) as feed:
        pipeline.restart("compute")
        for prefix, expected in (("SF/", model), ("SB/", bg_model), ("SP/", big)):
            bad = wait_converged(feed, expected.cells(), prefix, 120)
            assert not bad, f"{len(bad)} cells differ under {prefix}, e.g.:\n" + "\n".join(bad[:20])
