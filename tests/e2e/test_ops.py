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


def scrape(pipeline, service):
    status, body = get(pipeline.http[service] + "/metrics")
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


def test_compute_ready_only_after_replay(pipeline):
    """compute's /readyz is 503 until it has heard an ingest and applied
    everything that ingest's journal held: here, reports journaled while
    compute was down."""
    rep = psclient.report("RDY", "2012", {"card": "x"}, count=1, amount=100, currency="MAD")
    assert pipeline.send_batch("p-rdy", 1, [rep])["status"] == "ok"
    ready = pipeline.http["compute"] + "/readyz"
    assert wait_for(lambda: get(ready)[0] == 200)

    compute, ingest = pipeline["compute"], pipeline["ingest"]
    assert not compute.stop()
    for seq in range(2, 12):  # journaled while compute is down
        assert pipeline.send_batch("p-rdy", seq, [rep])["status"] == "ok"
    assert not ingest.stop()
    compute.start()
    compute.wait_ready()
    # No ingest to replay from: not ready, and it stays so.
    for _ in range(10):
        status, body = get(ready)
        assert status == 503 and "not ready" in body, body
        time.sleep(0.05)
    with pipeline.feed(["RDY/"]) as feed:
        ingest.start()
        ingest.wait_ready()
        assert wait_for(lambda: get(ready)[0] == 200, timeout=15)
        view = feed.collect_until(lambda v: v.get("RDY/2012/card=x", {}).get("count") == 11)
    assert view["RDY/2012/card=x"]["amount"] == 1100
