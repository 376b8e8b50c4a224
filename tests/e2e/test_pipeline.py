"""The pipeline end to end: the three real executables on loopback, the
bundled dataset sent with `paystat send`, the feed read by the independent
Python client, every cell checked against a straightforward aggregation of
the raw CSV written here."""

import itertools
from pathlib import Path

import psclient
from conftest import SOURCE_DIR

DATASET = SOURCE_DIR / "data" / "morocco-2011-2012.csv"


def expected_cells(reports):
    """Cell topic -> {"count": int|None, "amount": int|None} for every cell the
    reports produce, by brute force: each report (all yearly here, op set on
    distinct cells) contributes to every subset of its dimensions rolled up
    to '*'. A measure is present only if every contributor has it."""
    leaves = {}
    for r in reports:
        key = (r["source"], r["period"], tuple(sorted(r["dims"])))
        leaves[key] = r  # op "set": the last report of a cell is its value
    cells = {}
    for (source, period, dims), r in leaves.items():
        for mask in itertools.product((False, True), repeat=len(dims)):
            rolled = [d.split("=")[0] + "=*" if star else d for d, star in zip(dims, mask)]
            t = psclient.topic(source, period, rolled)
            c = cells.setdefault(t, {"count": 0, "amount": 0, "currency": None})
            for m in ("count", "amount"):
                if c[m] is None or m not in r:
                    c[m] = None
                else:
                    c[m] += r[m]
            if "currency" in r:
                c["currency"] = r["currency"]
    return cells


def test_dataset_through_the_pipeline(pipeline):
    reports = psclient.read_csv_reports(DATASET)
    expected = expected_cells(reports)
    assert len(expected) > len(reports)  # rollups exist

    with pipeline.feed() as feed:
        sent = pipeline.cli("send", DATASET)
        assert sent.returncode == 0, sent.stderr
        assert f"accepted {len(reports)}, rejected 0" in sent.stdout

        view = feed.collect_until(lambda v: all(t in v for t in expected), timeout=15)

    for t, want in expected.items():
        body = view[t]
        assert body["type"] == "cell"
        assert body["v"] == 1
        for m in ("count", "amount"):
            if want[m] is None:
                assert m not in body, f"{t}: {m} must be absent (a contributor lacks it)"
            else:
                assert body[m] == want[m], f"{t}: {m}"
        if want["amount"] is not None:
            assert body["currency"] == want["currency"]
            assert body["exp"] == 2
        if want["count"] and want["amount"] is not None:
            assert abs(body["avg_ticket"] - want["amount"] / want["count"]) < 1e-6, t
        else:
            assert "avg_ticket" not in body, t
    assert not feed.gaps
    pipeline.check_alive()


def test_feed_numbering_and_topics(pipeline):
    """Every message carries seq (increasing), prev (the previous seq on the
    same topic) and the publish epoch; the topic is the cell key, and the
    body repeats its parts."""
    r1 = psclient.report("GW", "2024-03", {"channel": "web", "card": "visa"}, count=3,
                         amount=1500, currency="EUR")
    with pipeline.feed(["GW/"]) as feed:
        assert pipeline.send_batch("p-num", 1, [r1])["status"] == "ok"
        first = feed.collect_until(lambda v: "GW/2024-03/card=visa,channel=web" in v)
        seq1 = first["GW/2024-03/card=visa,channel=web"]["seq"]
        assert pipeline.send_batch("p-num", 2, [dict(r1, count=1, amount=500)])["status"] == "ok"
        while True:
            t, body = feed.recv(timeout=5)
            if t == "GW/2024-03/card=visa,channel=web":
                break
        # The month rolls up into its quarter and year.
        view = feed.collect_until(
            lambda v: v.get("GW/2024-Q1/card=visa,channel=web", {}).get("count") == 4 and
            v.get("GW/2024/card=*,channel=*", {}).get("amount") == 2000)
    assert body["seq"] > seq1
    assert body["prev"] == seq1
    assert body["count"] == 4 and body["amount"] == 2000
    assert body["source"] == "GW" and body["period"] == "2024-03" and body["gran"] == "month"
    assert body["dims"] == {"card": "visa", "channel": "web"}
    assert isinstance(body["epoch"], int) and body["epoch"] > 0
    assert view["GW/2024/card=*,channel=*"]["count"] == 4


def test_resent_batch_is_not_applied_twice(pipeline):
    rep = psclient.report("DUP", "2012", {"card": "x"}, count=10, amount=100, currency="MAD")
    with pipeline.feed(["DUP/"]) as feed:
        first = pipeline.send_batch("p-dup", 7, [rep])
        again = pipeline.send_batch("p-dup", 7, [rep])
        older = pipeline.send_batch("p-dup", 6, [rep])
        assert first["status"] == "ok" and first["accepted"] == 1
        assert again == first
        assert older["status"] == "duplicate"
        # A later batch shows the total moved once only.
        assert pipeline.send_batch("p-dup", 8, [dict(rep, count=1, amount=1)])["status"] == "ok"
        view = feed.collect_until(lambda v: v.get("DUP/2012/card=x", {}).get("count") == 11)
    assert view["DUP/2012/card=x"]["amount"] == 101


def test_help_of_every_binary(pipeline):
    """--help documents each binary's options and exits 0."""
    import subprocess
    from conftest import BIN_DIR
    for rel, option in (("services/ingest/paystat-ingest", "--compute"),
                        ("services/compute/paystat-compute", "--flush-ms"),
                        ("services/publish/paystat-publish", "--feed"),
                        ("tools/paystat", "send")):
        out = subprocess.run([str(BIN_DIR / rel), "--help"], capture_output=True, text=True,
                             timeout=10)
        assert out.returncode == 0, rel
        assert option in out.stdout, rel
        bad = subprocess.run([str(BIN_DIR / rel), "--no-such-option"], capture_output=True,
                             text=True, timeout=10)
        assert bad.returncode == 2, rel
        assert "no-such-option" in bad.stderr, rel
