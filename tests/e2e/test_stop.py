"""Ingest stops within its drain bound on SIGTERM whatever compute does.

Compute is stopped (SIGSTOP: its connection stays, it reads nothing), so
entries are in flight towards it and none of its positions come back,
while a producer keeps sending. Ingest must still serve its HTTP
endpoints, and exit 0 within --drain-ms (plus a margin) of SIGTERM: no
send or receive of its loop may wait on compute, and the drain may not
sit in a poll until the next hello (--sync-ms, here far longer than the
drain). Once everything runs again, every acknowledged report is in the
feed.
"""

import random
import signal
import threading
import time

from producers import Model, ReliableProducer, wait_converged
from test_durability import make_batches, send_all
from test_ops import get, parse_prometheus, wait_for

DRAIN_MS = 1500
MARGIN_S = 3.0


def metric(pipeline, name):
    status, body = get(pipeline.http["ingest"] + "/metrics", timeout=3)
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


def test_sigterm_while_compute_stopped(pipeline_factory):
    pipeline = pipeline_factory(ingest_args=["--drain-ms", str(DRAIN_MS), "--sync-ms", "60000",
                                             "--window", "8"])
    rng = random.Random(15)
    model, bg_model = Model(), Model()
    ingest, compute = pipeline["ingest"], pipeline["compute"]
    producer = ReliableProducer(pipeline.ingest, "stop-fg")
    send_all(producer, make_batches(rng, "SF", 5, 100), model)
    sender = Sender(pipeline.ingest, random.Random(16), bg_model)
    sender.start()
    assert wait_for(lambda: sender.acked >= 3, 30), sender.error
    compute.signal(signal.SIGSTOP)
    try:
        # Acknowledged while compute sleeps: in the journal, some sent to
        # compute's socket, none applied.
        send_all(producer, make_batches(rng, "SF", 30, 100), model, first_seq=6)
        head = metric(pipeline, "paystat_ingest_journal_head")
        assert head > metric(pipeline, "paystat_ingest_compute_applied")
        assert get(pipeline.http["ingest"] + "/healthz")[0] == 200
        acked = sender.acked
        assert wait_for(lambda: sender.acked > acked, 30), sender.error  # still sending
        start = time.monotonic()
        problem = ingest.stop(timeout=30)
        took = time.monotonic() - start
        assert problem is None, f"{problem}\n{ingest.log_tail()}"
        assert took < DRAIN_MS / 1000 + MARGIN_S, \
            f"ingest took {took:.1f} s to stop (--drain-ms {DRAIN_MS})\n{ingest.log_tail()}"
        assert "compute has not applied every entry yet" in ingest.log_text()
    finally:
        compute.signal(signal.SIGCONT)
    ingest.start()
    ingest.wait_ready()
    sender.stop.set()
    sender.join(150)
    assert not sender.is_alive() and sender.error is None, sender.error
    producer.close()
    for prefix, expected in (("SF/", model), ("SB/", bg_model)):
        with pipeline.feed([prefix]) as feed:
            pipeline.restart("compute")
            bad = wait_converged(feed, expected.cells(), prefix, 60)
        assert not bad, f"{len(bad)} cells differ under {prefix}, e.g.:\n" + "\n".join(bad[:20])
