"""Durability, one failure at a time (the crash test mixes them all):

- a resend of acknowledged batches after an ingest restart changes nothing;
- compute killed between checkpoints replays what it lost from ingest's
  journal, with ingest never restarted;
- a full journal (compute stopped) refuses clearly and holds a
  producer's later batches back, and once compute is back every
  acknowledged report arrives;
- SIGTERM of any service mid-stream loses nothing;
- a recreated ingest journal is refused until the operator names it
  (--accept-journal), then read from its start, not skipped;
- a damaged checkpoint stops compute with a clear error.

SIGTERM while the next service is stopped: test_stop.py.
"""

import random
import shutil
import signal

import psclient
from producers import Model, ReliableProducer, wait_converged
from test_identity import journal_of
from test_ops import get, wait_for

MONTHS = [f"2012-{m:02d}" for m in range(1, 13)]


def make_batches(rng, source, nbatches, size, cells=60):
    return [[psclient.report(source, rng.choice(MONTHS), {"k": f"v{rng.randrange(cells)}"},
                             count=rng.randrange(1, 100), amount=rng.randrange(1, 10**5),
                             currency="MAD", op="set" if rng.random() < 0.2 else None)
             for _ in range(size)] for _ in range(nbatches)]


def send_all(producer, batches, model, first_seq=1):
    acks = []
    for seq, reports in enumerate(batches, first_seq):
        ack = producer.send(seq, reports)
        assert ack["status"] == "ok", ack
        model.apply_all(reports)
        acks.append(ack)
    return acks


def converged(pipeline, model, prefix, feed=None, timeout=30):
    """Checks that the feed shows exactly MODEL under PREFIX, from a
    compute restarted from its checkpoint (which republishes everything)
    unless FEED is given (then from what arrives on it)."""
    expected = model.cells()
    if feed is None:
        with pipeline.feed([prefix]) as fresh:
            pipeline.restart("compute")
            bad = wait_converged(fresh, expected, prefix, timeout)
    else:
        bad = wait_converged(feed, expected, prefix, timeout)
    assert not bad, f"{len(bad)} cells differ, e.g.:\n" + "\n".join(bad[:20])


def test_resend_after_ingest_restart_changes_nothing(pipeline):
    rng = random.Random(1)
    model = Model()
    batches = make_batches(rng, "RS", 6, 200)
    producer = ReliableProducer(pipeline.ingest, "rs")
    with pipeline.feed(["RS/"]) as feed:
        acks = send_all(producer, batches[:5], model)
        converged(pipeline, model, "RS/", feed)

        svc = pipeline["ingest"]
        svc.kill()
        assert svc.proc.returncode == -signal.SIGKILL
        svc.start()
        svc.wait_ready()

        # The same batches, same seqs: the latest gets its ack again, the
        # older ones "duplicate", and nothing is applied twice.
        again = ReliableProducer(pipeline.ingest, "rs")
        for seq, reports in enumerate(batches[:5], 1):
            ack = again.send(seq, reports)
            if seq == 5:
                assert ack == acks[4]
            else:
                assert ack["status"] == "duplicate", ack
        # A new batch after them shows they were all seen through.
        send_all(again, batches[5:], model, first_seq=6)
        converged(pipeline, model, "RS/", feed)
        again.close()
    producer.close()
    converged(pipeline, model, "RS/")


def test_compute_killed_replays_from_journal(pipeline_factory):
    # Checkpoints only at shutdown: each kill loses all compute applied.
    pipeline = pipeline_factory(compute_args=["--checkpoint-ms", "3600000"])
    rng = random.Random(2)
    model = Model()
    batches = make_batches(rng, "CK", 30, 300)
    producer = ReliableProducer(pipeline.ingest, "ck")
    with pipeline.feed(["CK/"]) as feed:
        for part in range(3):
            send_all(producer, batches[10 * part:10 * part + 10], model,
                     first_seq=10 * part + 1)
            svc = pipeline["compute"]
            svc.kill()
            assert svc.proc.returncode == -signal.SIGKILL
            svc.start()
            svc.wait_ready()
        producer.close()
        converged(pipeline, model, "CK/", feed)
    converged(pipeline, model, "CK/")


def test_journal_full_then_compute_returns(pipeline_factory):
    pipeline = pipeline_factory(ingest_args=["--journal-max-mb", "8"],
                                compute_args=["--checkpoint-ms", "200"])
    rng = random.Random(3)
    model = Model()
    compute = pipeline["compute"]
    # Stopped, not gone: its port stays bound, so no other process can take
    # it meanwhile (SIGKILL and a start bring it back below).
    compute.signal(signal.SIGSTOP)

    producer = ReliableProducer(pipeline.ingest, "jf")
    acked, refused = [], None
    for seq in range(1, 200):
        reports = make_batches(rng, "JF", 1, 5000)[0]
        ack = producer.send(seq, reports, retry_later=False)
        if ack["status"] == "retry_later":
            refused = (seq, reports, ack)
            break
        assert ack["status"] == "ok", ack
        acked.append(reports)
    assert refused, "the journal never filled"
    seq, reports, ack = refused
    assert (ack["accepted"], ack["rejected"]) == (0, [])
    assert ack["error"]["code"] == "retry_later"
    assert "journal full" in ack["error"]["reason"]
    assert "retry later" in ack["error"]["reason"]
    # The journal is bounded on disk too.
    mdb = pipeline.tmp / "ingest" / "ingest-data" / "data.mdb"
    assert mdb.stat().st_size < 24 * 2**20

    # A later batch may not overtake the refused one.
    later = make_batches(rng, "JF", 1, 10)[0]
    ack = producer.send(seq + 1, later, retry_later=False)
    assert ack["status"] == "retry_later"
    assert "resend it before later ones" in ack["error"]["reason"]

    for r in acked:
        model.apply_all(r)
    with pipeline.feed(["JF/"]) as feed:
        compute.kill()
        compute.start()
        compute.wait_ready()
        # Compute replays the journal and checkpoints; ingest reclaims the
        # space and takes the refused batch, then the later one.
        send_all(producer, [reports, later], model, first_seq=seq)
        converged(pipeline, model, "JF/", feed, timeout=60)
    producer.close()
    assert any("journal full" in reason for _, reason in producer.retry_laters)


def test_sigterm_mid_stream_loses_nothing(pipeline):
    rng = random.Random(4)
    model = Model()
    batches = make_batches(rng, "ST", 40, 200)
    producer = ReliableProducer(pipeline.ingest, "st")
    for i, name in enumerate(["ingest", "compute", "publish", "ingest"]):
        send_all(producer, batches[10 * i:10 * i + 10], model, first_seq=10 * i + 1)
        pipeline.restart(name)  # SIGTERM: must exit 0
    producer.close()
    converged(pipeline, model, "ST/")


def test_recreated_journal_is_read_from_its_start(pipeline):
    """An ingest's journal recreated on purpose (data directory wiped): compute
    refuses the new instance, since it cannot tell it from a stray hello,
    until the operator names it with --accept-journal; then it reads it
    from its start, and leaving the option set changes nothing later."""
    model = Model()
    producer = ReliableProducer(pipeline.ingest, "rj")
    first = [psclient.report("RJ", "2012-01", {"k": "a"}, count=5, amount=50, currency="MAD")]
    with pipeline.feed(["RJ/"]) as feed:
        send_all(producer, [first], model)
        converged(pipeline, model, "RJ/", feed)
    producer.close()
    # Compute checkpoints jseq 1 of the old journal; the new one numbers
    # from 1 again and must not be taken for what compute has.
    pipeline.restart("compute")
    ingest = pipeline["ingest"]
    assert ingest.stop() is None
    shutil.rmtree(pipeline.tmp / "ingest" / "ingest-data")
    ingest.start()
    ingest.wait_ready()
    journal = journal_of(ingest)
    producer = ReliableProducer(pipeline.ingest, "rj")
    second = [psclient.report("RJ", "2012-01", {"k": "a"}, count=7, amount=70, currency="MAD")]
    send_all(producer, [second], model)  # seq 1 again: the new journal never saw it
    producer.close()
    ready = pipeline.http["compute"] + "/readyz"
    assert wait_for(lambda: str(journal) in get(ready)[1], 20), get(ready)
    assert get(ready)[0] == 503
    # The remedy docs/durability.md gives: name the new instance.
    pipeline["compute"].args += ["--accept-journal", f"ingest-1={journal}"]
    converged(pipeline, model, "RJ/")
    assert "journal replaced as --accept-journal says" in pipeline["compute"].log_text()
    # Still set at the next start: the new journal is not read again.
    converged(pipeline, model, "RJ/")
    assert wait_for(lambda: get(ready)[0] == 200, 20), get(ready)


def test_damaged_checkpoint_stops_compute(pipeline):
    model = Model()
    producer = ReliableProducer(pipeline.ingest, "dc")
    with pipeline.feed(["DC/"]) as feed:
        send_all(producer, [[psclient.report("DC", "2012-03", count=3, amount=30,
                                             currency="MAD")]], model)
        converged(pipeline, model, "DC/", feed)
    producer.close()
    compute = pipeline["compute"]
    assert compute.stop() is None
    path = pipeline.tmp / "compute" / "compute-data" / "checkpoint"
    good = path.read_bytes()
    path.write_bytes(good[:len(good) - 7])
    compute.start()
    assert compute.proc.wait(timeout=10) == 1
    log = compute.log_text()
    assert "cannot recover; move the checkpoint away to start empty" in log
    assert "is truncated" in log

    # Restored, compute starts and still has the report.
    path.write_bytes(good)
    compute.start()
    compute.wait_ready()
    converged(pipeline, model, "DC/")
