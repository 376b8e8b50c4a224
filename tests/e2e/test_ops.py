"""Operators' endpoints on every service: /healthz, /readyz and /metrics in
the Prometheus text format, scraped from the real processes while reports
flow and rejections happen."""

import re
import time
import urllib.error
import urllib.request

import psclient

LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)'
                    r'(?:\{(?P<labels>' + LABEL + r'(?:,' + LABEL + r')*)?\})?'
                    r' (?P<value>\S+)$')


def get(url, timeout=5):
    """(status, body text) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse_prometheus(text):
    """Parses the text exposition format 0.0.4 strictly: every sample's
    metric has a TYPE line before it, every value is a number. Returns
    {(name, labels): value}."""
    types, samples = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            assert len(line.split(" ", 3)) == 4, line
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, f"TYPE of {name} given twice"
            types[name] = kind
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m["name"], m["labels"] or "", float(m["value"])
        assert name in types, f"{name} has no TYPE line"
        if types[name] == "counter":
            assert name.endswith("_total"), name
            assert value >= 0, line
        samples[(name, labels)] = value
    return samples


def scrape(pipeline, service, timeout=5):
    status, body = get(pipeline.http[service] + "/metrics", timeout)
    assert status == 200
    return parse_prometheus(body)


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_health_and_metrics_format(pipeline):
    for service in ("ingest", "compute", "publish"):
        assert get(pipeline.http[service] + "/healthz") == (200, "ok\n")
        assert wait_for(lambda: get(pipeline.http[service] + "/readyz")[0] == 200), service
        samples = scrape(pipeline, service)
        assert samples[("process_resident_memory_bytes", "")] > 0
        assert samples[("paystat_uptime_seconds", "")] >= 0
        status, _ = get(pipeline.http[service] + "/nowhere")
        assert status == 404


def test_counters_move_with_reports_and_rejections(pipeline):
    before = scrape(pipeline, "ingest")
    good = [psclient.report("OPS", "2012", {"card": "x"}, count=1, amount=100, currency="MAD"),
            psclient.report("OPS", "2012", {"card": "y"}, count=2, amount=200, currency="MAD")]
    bad = [psclient.report("OPS", "2012-13", count=1),
           psclient.report("OPS", "2012", count=-1)]
    with pipeline.feed(["OPS/"]) as feed:
        ack = pipeline.send_batch("p-ops", 1, good + bad)
        assert ack["status"] == "partial"
        feed.collect_until(lambda v: v.get("OPS/2012/card=*", {}).get("count") == 3)
    after = scrape(pipeline, "ingest")

    def delta(name, labels=""):
        return after[(name, labels)] - before.get((name, labels), 0)

    assert delta("paystat_ingest_batches_total") == 1
    assert delta("paystat_ingest_reports_received_total") == 4
    assert delta("paystat_ingest_reports_accepted_total") == 2
    assert delta("paystat_ingest_reports_rejected_total", 'reason="period"') == 1
    assert delta("paystat_ingest_reports_rejected_total", 'reason="range"') == 1
    assert delta("paystat_ingest_reports_rejected_total", 'reason="currency"') == 0
    assert after[("paystat_ingest_journal_bytes", "")] > 0

    assert wait_for(lambda: scrape(pipeline, "compute")[
        ("paystat_compute_reports_applied_total", "")] >= 2)
    compute = scrape(pipeline, "compute")
    # OPS/2012/card=x, card=y and their rollup card=*: this pipeline holds nothing else.
    assert compute[("paystat_compute_cells", "")] == 3
    assert compute[("paystat_compute_reports_applied_total", "")] == 2
    publish = scrape(pipeline, "publish")
    assert publish[("paystat_publish_messages_total", "")] >= 3
    assert publish[("paystat_publish_topics", "")] == 3


REPLAY_BATCHES = 120  # journal entries compute must replay after its restart
REPLAY_REPORTS = 500  # reports in each
REPLAY_SHOPS = 20  # over this many cells


def test_compute_ready_only_after_replay(pipeline):
    """compute's /readyz is 503 until it has heard an ingest and applied
    everything that ingest's journal held: here, REPLAY_BATCHES entries
    journaled while compute was down. The replay is made long (ingest
    forwards one entry at a time, --window 1, each of REPLAY_REPORTS
    reports) so that it is seen in progress ("replaying the journal"),
    and so that a /readyz turning 200 before the replay ended would be
    caught by the counters scraped right after it."""
    first = psclient.report("RDY", "2012", {"card": "x"}, count=1, amount=100, currency="MAD")
    assert pipeline.send_batch("p-rdy", 1, [first])["status"] == "ok"
    ready = pipeline.http["compute"] + "/readyz"
    assert wait_for(lambda: get(ready)[0] == 200)
    assert wait_for(lambda: scrape(pipeline, "ingest")[
        ("paystat_ingest_compute_applied", "")] == 1)

    compute, ingest = pipeline["compute"], pipeline["ingest"]
    assert not compute.stop()  # writes a checkpoint covering entry 1
    batches = [[psclient.report("RDY", "2012-01", {"card": "x", "shop": f"s{i % REPLAY_SHOPS}"},
                                count=1, amount=100, currency="MAD")
                for i in range(REPLAY_REPORTS)] for _ in range(REPLAY_BATCHES)]
    with pipeline.producer() as p:  # journaled while compute is down
        for seq, reports in enumerate(batches, 2):
            assert p.send("p-rdy", seq, reports, timeout=30)["status"] == "ok"
    journaled = scrape(pipeline, "ingest")[("paystat_ingest_journal_head", "")]
    assert journaled == 1 + REPLAY_BATCHES
    assert not ingest.stop()
    compute.start()
    compute.wait_ready()
    # No ingest to replay from: not ready, and it stays so.
    for _ in range(10):
        status, body = get(ready)
        assert status == 503 and "not ready" in body, body
        time.sleep(0.05)
    assert scrape(pipeline, "compute")[("paystat_compute_reports_applied_total", "")] == 0

    ingest.args += ["--window", "1"]  # one entry in flight: a replay of many round trips
    with pipeline.feed(["RDY/"]) as feed:
        ingest.start()
        seen = []  # the distinct /readyz answers, in order
        deadline = time.monotonic() + 60
        while True:
            status, body = get(ready)
            if not seen or seen[-1] != (status, body):
                seen.append((status, body))
            if status == 200:
                # Right away: the counters when compute first said ready.
                compute_now = scrape(pipeline, "compute")
                break
            assert status == 503 and body.startswith("not ready: "), body
            assert time.monotonic() < deadline, f"compute never became ready: {seen}"
        ingest.wait_ready()
        # Everything the journal held beyond compute's checkpoint, already
        # applied when it first said ready; this compute applied nothing else.
        assert compute_now[("paystat_compute_batches_applied_total", "")] == REPLAY_BATCHES, seen
        assert compute_now[("paystat_compute_reports_applied_total", "")] == \
            REPLAY_BATCHES * REPLAY_REPORTS, seen
        assert (503, "not ready: replaying the journal\n") in seen, seen
        assert seen[-1] == (200, "ready\n"), seen
        assert wait_for(lambda: scrape(pipeline, "ingest")[
            ("paystat_ingest_compute_applied", "")] == journaled)
        total = REPLAY_BATCHES * REPLAY_REPORTS
        month = psclient.topic("RDY", "2012-01", {"card": "x", "shop": "*"})
        view = feed.collect_until(lambda v: v.get(month, {}).get("count") == total, timeout=30)
    assert view[month]["amount"] == 100 * total
