"""Size limits along producer -> ingest -> compute (issue #14, finding 1):
an acknowledged batch always reaches the feed; a batch over the limit gets
a readable "limit" answer naming the excess; a journal entry compute
refuses stops the pipeline loudly (ingest's and compute's /readyz 503 with
the position and the reason, metrics, a log line), never silently; and the
front door's envelope limit is the one docs/bounds.md gives."""

import re
import time

import zmq

import psclient
from test_ops import get, scrape, wait_for

MAX_BATCH = 4 * 1024 * 1024
NAMES = [c * 32 for c in "abcd"]
INT_MAX = 2 ** 63 - 1
PERIOD = "9999-12-31"


def probe_rows(n=10000):
    """The probe's file: every field near its limit, about 4.17 MB as one
    batch, whose journal entry (about 4.23 MB) is larger than the batch."""
    yield "source,period," + ",".join(NAMES) + ",count,amount,currency,op"
    for i in range(n):
        yield ("T%031d,%s,%064d,%032d,%032d,%032d,%d,922337203685477.5807,CLF,set"
               % (i % 7, PERIOD, i, i, i, i, INT_MAX - i))


def full_report(i):
    """A report with every field at its limit (source 32, dims 4 x 32=64,
    int64 count and amount): 10,000 of them make a batch of about 5.1 MB."""
    return psclient.report("F%031d" % (i % 7), PERIOD,
                           dims={name: "%064d" % i for name in NAMES},
                           count=INT_MAX - i, amount=INT_MAX - i, currency="CLF", op="set")


def full_rows(n=10000):
    yield "source,period," + ",".join(NAMES) + ",count,amount,currency,op"
    for i in range(n):
        yield ("F%031d,%s,%s,%d,922337203685477.%04d,CLF,set"
               % (i % 7, PERIOD, ",".join(["%064d" % i] * 4), INT_MAX - i, 5807 - i % 5000))


def write(path, rows):
    path.write_text("\n".join(rows) + "\n")
    return path


def probe_topic(i):
    dims = {NAMES[0]: "%064d" % i}
    dims.update({name: "%032d" % i for name in NAMES[1:]})
    return psclient.topic("T%031d" % (i % 7), PERIOD, dims)


def test_batch_near_the_limit_reaches_the_feed_and_later_ones_too(pipeline):
    """The probe's case: before the fix its entry was over compute's frame
    limit, compute dropped the connection, and every later batch was
    acknowledged and never published."""
    path = write(pipeline.tmp / "probe.csv", probe_rows())
    size = len(psclient.pack(psclient.batch("x" * 30, 1, psclient.read_csv_reports(path))))
    assert 4_100_000 < size < MAX_BATCH
    # Its counts are near the int64 limit, so compute applies the first
    # report of each of its 7 sources and refuses the others as overflowing
    # the rollups (documented, counted): rows 0 and 6 are on the feed.
    first, last = probe_topic(0), probe_topic(6)
    with pipeline.feed([first, last, "ONE/"]) as feed:
        r = pipeline.cli("send", "--batch-size", "10000", path, timeout=300)
        assert r.returncode == 0, r.stderr
        assert "accepted 10000" in r.stdout and "batches 1," in r.stdout, r.stdout
        view = feed.collect_until(lambda v: first in v and last in v, timeout=120)
        assert view[last]["count"] == INT_MAX - 6
        # A one-row batch after it reaches the feed too.
        ack = pipeline.send_batch("one", 1, [psclient.report("ONE", "2024", count=1)])
        assert ack["status"] == "ok", ack
        view = feed.collect_until(lambda v: "ONE/2024/" in v, timeout=60)
        assert view["ONE/2024/"]["count"] == 1
    items, _ = psclient.snapshot_view(pipeline.snapshot_endpoint, first)
    assert items[first]["count"] == INT_MAX
    items, _ = psclient.snapshot_view(pipeline.snapshot_endpoint, "ONE/")
    assert items["ONE/2024/"]["count"] == 1


def test_oversize_batch_gets_a_limit_answer(pipeline):
    """A batch at the full field limits (about 5.1 MB) is answered
    "rejected" with a "limit" error naming the size and the excess, and
    its producer and seq, instead of a dropped connection."""
    frame = psclient.pack(psclient.batch("big", 3, [full_report(i) for i in range(10000)]))
    assert MAX_BATCH < len(frame) < 2 * MAX_BATCH
    ack = pipeline.send_raw(frame, timeout=60)
    assert ack["status"] == "rejected", ack
    assert (ack["producer"], ack["seq"], ack["accepted"]) == ("big", 3, 0)
    assert ack["error"]["code"] == "limit"
    excess = len(frame) - MAX_BATCH
    assert ack["error"]["reason"] == (
        f"batch is {len(frame):,} bytes, over the 4,194,304-byte limit by {excess:,}")
    # Ingest is still there, and took nothing of it.
    assert pipeline.send_batch("big", 4, [psclient.report("OK", "2024", count=1)])["status"] == "ok"
    m = scrape(pipeline, "ingest")
    assert m[("paystat_ingest_batches_oversize_total", "")] == 1
    assert m[("paystat_ingest_reports_accepted_total", "")] == 1
    # Past twice the limit the connection is dropped: no answer at all.
    huge = b"\xc4" + b"\x00" * (2 * MAX_BATCH)
    try:
        pipeline.send_raw(huge, timeout=3)
        raise AssertionError("ingest answered a frame over its hard cap")
    except TimeoutError:
        pass


def test_send_cuts_batches_under_the_limit(pipeline):
    """`paystat send --batch-size 10000` of such a file sends batches ingest
    takes (cut by size) rather than one it would refuse."""
    path = write(pipeline.tmp / "full.csv", full_rows())
    with pipeline.feed(["F%031d/" % 6]) as feed:
        r = pipeline.cli("send", "--batch-size", "10000", path, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        m = re.search(r"sent 10000, accepted 10000, rejected 0 \(batches (\d+),", r.stdout)
        assert m and int(m[1]) >= 2, r.stdout
        # Near-int64 counts again: the first report of each source is on
        # the feed, compute refuses the rest as overflowing the rollups.
        want = psclient.topic("F%031d" % 6, PERIOD, {n: "%064d" % 6 for n in NAMES})
        feed.collect_until(lambda v: want in v, timeout=120)


def test_refused_entry_stops_the_pipeline_loudly(pipeline_factory):
    """Compute started with a smaller entry limit than ingest writes (a
    misconfiguration on purpose): the entry is never skipped, the pipeline
    says where and why it is stuck, and the operator's fix (a compute that
    takes it) lets everything through, nothing lost."""
    p = pipeline_factory(compute_args=["--max-entry-bytes", "100000"])
    big = [psclient.report("BIG", "2024", dims={"k": "v%04d" % i}, count=1) for i in range(4000)]
    with p.feed(["BIG/2024/", "AFTER/"]) as feed:
        assert p.send_batch("p", 1, big, timeout=30)["status"] == "ok"
        # A later batch is acknowledged (ingest journaled it) but waits.
        assert p.send_batch("p", 2, [psclient.report("AFTER", "2024", count=5)])["status"] == "ok"
        for service in ("compute", "ingest"):
            url = p.http[service] + "/readyz"
            assert wait_for(lambda: get(url)[0] == 503, timeout=60), (service, get(url))
            status, body = get(url)
            assert "ingest=ingest-1 jseq=1" in body, (service, body)
            assert "over the 100,000-byte limit by" in body, (service, body)
        mc, mi = scrape(p, "compute"), scrape(p, "ingest")
        assert mc[("paystat_compute_entries_refused_total", "")] >= 1
        assert mc[("paystat_compute_ingests_stuck", "")] == 1
        assert mc[("paystat_compute_batches_applied_total", "")] == 0
        assert mi[("paystat_ingest_entries_refused_total", "")] >= 1
        assert mi[("paystat_ingest_delivery_stuck_jseq", "")] == 1
        for service in ("compute", "ingest"):
            assert "journal entry refused" in p[service].log_text(), service
        # The fix: compute with its normal limit. Nothing was skipped.
        svc = p["compute"]
        svc.args = [a for a in svc.args if a not in ("--max-entry-bytes", "100000")]
        p.restart("compute")
        view = feed.collect_until(
            lambda v: "AFTER/2024/" in v and v.get("BIG/2024/k=*", {}).get("count") == 4000,
            timeout=120)
        assert view["AFTER/2024/"]["count"] == 5
    for service in ("compute", "ingest"):
        url = p.http[service] + "/readyz"
        assert wait_for(lambda: get(url)[0] == 200, timeout=60), (service, get(url))
    assert scrape(p, "ingest")[("paystat_ingest_delivery_stuck_jseq", "")] == 0


def test_envelope_limit(pipeline):
    """docs/bounds.md: 8 routing frames before the batch are answered
    (back along the same frames); 9 make the message dropped unanswered."""
    frame = psclient.pack(psclient.batch("env", 1, [psclient.report("ENV", "2024", count=1)]))
    sock = psclient.context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(pipeline.ingest)
    try:
        route = [b"r%d" % i for i in range(8)]
        sock.send_multipart(route + [frame])
        assert sock.poll(30000), "no answer to 8 routing frames"
        reply = sock.recv_multipart()
        assert reply[:-1] == route
        assert psclient.unpack(reply[-1])["status"] == "ok"
        frame2 = psclient.pack(psclient.batch("env", 2, [psclient.report("ENV", "2024", count=1)]))
        sock.send_multipart([b"r%d" % i for i in range(9)] + [frame2])
        assert not sock.poll(3000), "9 routing frames were answered"
    finally:
        sock.close(0)
    # The second batch was not taken: seq 2 is still new.
    ack = pipeline.send_batch("env", 2, [psclient.report("ENV", "2024", count=1)])
    assert ack["status"] == "ok", ack
