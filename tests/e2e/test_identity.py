"""One journal per ingest id (issue #14, finding 3).

Compute applies each entry of an ingest's journal once, and knows the
journal by its instance number. A hello or an entry naming a known ingest id
with another instance must be refused, never read from its start: that
would count again what compute already has. Shown on the real services:

- a forged hello (any local peer can reach compute without CURVE) and
  forged entries of another instance leave an acknowledged add of 10 at
  10; compute answers the hello with a refusal, /readyz names the ingest
  and both instances, the metric counts it; a compute restart keeps the
  binding (it is in the checkpoint);
- a second real ingest started with the same --id and another data
  directory is refused the same way, and what it acknowledges is not
  applied;
- the same under CURVE, by a peer holding ingest-1's own key (a second
  ingest given the same key, or a stolen one);
- an operator who recreated an ingest's journal on purpose names the new
  instance with --accept-journal (test_durability's recreated journal).
"""

import re
import time

import zmq

import psclient
from conftest import BIN_DIR, Service, free_ports
from psclient import pack, unpack
from test_ops import get, scrape, wait_for

CELL = psclient.topic("ID", "2012")
MARKER = psclient.topic("ID", "2013")
METRIC = "paystat_compute_journal_frames_refused_total"


def journal_of(service):
    """The journal instance an ingest logged when it started (the latest start)."""
    found = re.findall(r'msg="ready" .*?journal=(\d+)', service.log_text())
    assert found, service.log_tail()
    return int(found[-1])


def refused(pipeline, reason="journal"):
    return scrape(pipeline, "compute").get((METRIC, f'reason="{reason}"'), 0)


def hello(ingest, journal, first=1, head=1):
    return pack({"v": 1, "type": "hello", "ingest": ingest, "journal": journal, "first": first,
                 "head": head})


def entry(ingest, journal, jseq, count):
    """A forwarded batch (journal entry) adding COUNT to CELL."""
    return pack({"v": 1, "type": "batch", "producer": "forger", "seq": jseq,
                 "ingest": ingest, "jseq": jseq, "journal": journal,
                 "reports": [{"source": "ID", "period": "2012", "dims": [], "count": count,
                              "i": 0}]})


def forge(pipeline, journal, secure=None):
    """A fake ingest on compute's socket (SECURE(sock) sets CURVE up): a
    hello naming ingest-1 with JOURNAL, then its entries 1 and 2, then a
    second hello whose answer shows compute has handled every frame before
    it. Returns the answers to the two hellos, decoded."""
    sock = psclient.context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if secure:
        secure(sock)
    sock.connect(pipeline.compute)
    try:
        sock.send(hello("ingest-1", journal))
        assert sock.poll(10000), "compute did not answer the forged hello"
        answers = [unpack(sock.recv())]
        for jseq in (1, 2):
            sock.send(entry("ingest-1", journal, jseq, 10))
        sock.send(hello("ingest-1", journal, head=2))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(answers) < 2:
            if sock.poll(1000):
                msg = unpack(sock.recv())
                # Before the second hello's answer, an applied entry may
                # have been answered with a position: any answer shows the
                # frames sent before the second hello were handled.
                if msg.get("resend", True):
                    answers.append(msg)
        assert len(answers) == 2, f"compute did not answer the second hello: {answers}"
        return answers
    finally:
        sock.close(0)


def cell_count(pipeline, topic=CELL):
    view, _ = psclient.snapshot_view(pipeline.snapshot_endpoint, "ID/")
    return view.get(topic, {}).get("count")


def send_marker(pipeline, producer, seq):
    """A batch through the real ingest on another cell; once it shows,
    compute has flushed everything applied before it."""
    ack = pipeline.send_batch(producer, seq, [psclient.report("ID", "2013", count=1)])
    assert ack["status"] == "ok", ack
    assert wait_for(lambda: cell_count(pipeline, MARKER) == seq - 1, 20), pipeline.logs()


def check_refusal(pipeline, answers, known, offered):
    for answer in answers:
        assert answer.get("type") == "error", f"the forged hello was not refused: {answer}"
        assert answer["code"] == "not_permitted" and answer["field"] == "journal", answer
        assert str(known) in answer["reason"] and str(offered) in answer["reason"], answer
    status, body = get(pipeline.http["compute"] + "/readyz")
    assert status == 503, body
    assert "ingest-1" in body and str(known) in body and str(offered) in body, body


def test_forged_hello_of_another_journal_counts_nothing_twice(pipeline_factory):
    pipeline = pipeline_factory(ingest_args=["--id", "ingest-1"])
    ack = pipeline.send_batch("p", 1, [psclient.report("ID", "2012", count=10)])
    assert ack["status"] == "ok", ack
    assert wait_for(lambda: cell_count(pipeline) == 10, 20), pipeline.logs()
    real = journal_of(pipeline["ingest"])
    fake = real + 1

    answers = forge(pipeline, fake)
    send_marker(pipeline, "p", 2)
    assert cell_count(pipeline) == 10, "an acknowledged add of 10 was counted twice"
    check_refusal(pipeline, answers, real, fake)
    assert refused(pipeline) >= 4  # two hellos, two entries
    assert "refused another journal instance" in pipeline["compute"].log_text()

    # The binding is in the checkpoint: a restarted compute refuses too.
    pipeline.restart("compute")
    assert wait_for(lambda: cell_count(pipeline) == 10, 20), pipeline.logs()
    answers = forge(pipeline, fake)
    send_marker(pipeline, "p", 3)
    assert cell_count(pipeline) == 10
    check_refusal(pipeline, answers, real, fake)
    # The real ingest went on throughout.
    ack = pipeline.send_batch("p", 4, [psclient.report("ID", "2012", count=5)])
    assert ack["status"] == "ok", ack
    assert wait_for(lambda: cell_count(pipeline) == 15, 20), pipeline.logs()


def test_second_ingest_with_the_same_id_is_refused(pipeline_factory, tmp_path):
    pipeline = pipeline_factory(ingest_args=["--id", "ingest-1"])
    ack = pipeline.send_batch("p", 1, [psclient.report("ID", "2012", count=10)])
    assert ack["status"] == "ok", ack
    assert wait_for(lambda: cell_count(pipeline) == 10, 20), pipeline.logs()
    real = journal_of(pipeline["ingest"])

    (port,) = free_ports(1)
    twin = Service("ingest-twin", BIN_DIR / "services/ingest/paystat-ingest",
                   ["--bind", f"tcp://127.0.0.1:{port}", "--compute", pipeline.compute,
                    "--id", "ingest-1", "--data-dir", str(tmp_path / "twin-data"),
                    "--http", "off", "--drain-ms", "0"],
                   [f"tcp://127.0.0.1:{port}"], tmp_path / "twin", tmp_path / "twin.log",
                   pipeline.env)
    twin.start()
    try:
        twin.wait_ready()
        other = journal_of(twin)
        assert other != real
        # The twin journals and acknowledges (it cannot know), compute
        # applies none of it.
        ack = psclient.send_batch(f"tcp://127.0.0.1:{port}", "q", 1,
                                  [psclient.report("ID", "2012", count=10)])
        assert ack["status"] == "ok", ack
        # Refused (the hello and the entry it would send), or applied.
        assert wait_for(lambda: refused(pipeline) >= 1 or cell_count(pipeline) != 10, 20), \
            pipeline.logs()
        send_marker(pipeline, "p", 2)
        assert cell_count(pipeline) == 10, "the twin's journal was applied"
        assert wait_for(lambda: "compute refuses this ingest's journal" in twin.log_text(), 20), \
            twin.log_tail()
        status, body = get(pipeline.http["compute"] + "/readyz")
        assert status == 503 and str(real) in body and str(other) in body, body
    finally:
        problem = twin.stop()
    assert problem is None, f"{problem}\n{twin.log_tail()}"
    assert cell_count(pipeline) == 10


def test_forged_hello_under_curve(pipeline_factory, tmp_path):
    from test_security import CurveProducer
    from test_security_feed import Keys, _secure, secure_args
    keys = Keys(tmp_path).make("ingest-1", "compute", "publish", "p1", "s1", "s3", "gw")
    pipeline = pipeline_factory(**secure_args(keys))
    applied = ("paystat_compute_batches_applied_total", "")
    producer = CurveProducer(pipeline.ingest, keys.pair("p1"), keys.server("ingest-1"))
    try:
        ack = producer.send("p1", 1, [psclient.report("ID", "2012", count=10)])
        assert ack["status"] == "ok", ack
        assert wait_for(lambda: scrape(pipeline, "compute").get(applied) == 1, 20), \
            pipeline.logs()
        real = journal_of(pipeline["ingest"])
        answers = forge(pipeline, real + 1,
                        lambda sock: _secure(sock, keys, "ingest-1", "compute"))
        assert scrape(pipeline, "compute").get(applied) == 1, "a forged entry was applied"
        check_refusal(pipeline, answers, real, real + 1)
        assert refused(pipeline) >= 4
        # The real ingest goes on.
        ack = producer.send("p1", 2, [psclient.report("ID", "2012", count=5)])
        assert ack["status"] == "ok", ack
        assert wait_for(lambda: scrape(pipeline, "compute").get(applied) == 2, 20), \
            pipeline.logs()
    finally:
        producer.close()
