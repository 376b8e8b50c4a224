"""Malformed batches and invalid reports: each gets its specific rejection
(index, field, code), valid reports in the same batch are applied, and the
services stay up (the pipeline fixture fails the test if one died)."""

import psclient


def good(dims=None, count=5, amount=1000):
    return psclient.report("REJ", "2012", dims or {"card": "domestic"}, count=count,
                           amount=amount, currency="MAD")


INVALID = [
    # (report, field, code)
    ({"period": "2012", "dims": [], "count": 1}, "source", "missing"),
    (psclient.report("REJ", "2012", count="12"), "count", "type"),
    (psclient.report("REJ", "2012", count=-5), "count", "range"),
    (psclient.report("REJ", "2012-13", count=1), "period", "period"),
    (psclient.report("REJ", "2011-02-29", count=1), "period", "period"),
    (psclient.report("REJ", "2012", count=1, op="mul"), "op", "op"),
    (psclient.report("REJ", "2012", amount=100, currency="XYZ"), "currency", "currency"),
    (psclient.report("REJ", "2012", amount=100), "currency", "missing"),
    (psclient.report("REJ", "2012", dims=["a=1", "b=2", "c=3", "d=4", "e=5"], count=1),
     "dims", "dims"),
    (psclient.report("REJ", "2012", dims=["card=*"], count=1), "dims", "dims"),
    (psclient.report("REJ", "2012"), "count", "missing"),
    (psclient.report("bad/source", "2012", count=1), "source", "syntax"),
    ("not a map", "", "type"),
]


def test_each_invalid_report_gets_its_rejection(pipeline):
    reports = [good()]
    for rep, _, _ in INVALID:
        reports.append(rep)
    reports.append(good({"card": "foreign"}, count=2, amount=300))
    with pipeline.feed(["REJ/"]) as feed:
        ack = pipeline.send_batch("p-rej", 1, reports)
        assert ack["status"] == "partial"
        assert ack["accepted"] == 2
        got = {r["index"]: r for r in ack["rejected"]}
        assert sorted(got) == list(range(1, len(INVALID) + 1))
        for i, (_, field, code) in enumerate(INVALID, start=1):
            assert got[i]["code"] == code, (i, got[i])
            assert got[i]["field"] == field, (i, got[i])
            assert got[i]["reason"], i
        view = feed.collect_until(
            lambda v: v.get("REJ/2012/card=*", {}).get("count") == 7, timeout=10)
    assert view["REJ/2012/card=*"]["amount"] == 1300
    assert "REJ/2012/" not in view  # no invalid report reached compute
    pipeline.check_alive()


def test_currency_of_a_series_is_fixed_by_its_first_report(pipeline):
    first = pipeline.send_batch("p-cur", 1, [good()])
    assert first["status"] == "ok"
    ack = pipeline.send_batch("p-cur", 2, [psclient.report("REJ", "2013", {"card": "domestic"},
                                                           amount=5, currency="EUR")])
    assert ack["status"] == "rejected"
    assert ack["rejected"][0]["code"] == "currency_mismatch"
    assert ack["rejected"][0]["field"] == "currency"


MALFORMED = [
    # (frame bytes, error code, error field)
    (b"\xc1", "decode", ""),                     # reserved byte: not MessagePack
    (b"", "decode", ""),                         # empty frame
    (b"\x92\x01", "decode", ""),                 # truncated array
    (b"\xdd\xff\xff\xff\xff", "decode", ""),     # giant array header, no bytes behind it
    (psclient.pack({"v": 1}) + b"\x00", "decode", ""),  # trailing bytes
    (psclient.pack([1, 2, 3]), "type", ""),
    (psclient.pack(psclient.batch("p", 1, [], v=2)), "version", "v"),
    (psclient.pack({"v": 1, "type": "batch", "seq": 1, "reports": []}), "missing", "producer"),
    (psclient.pack(psclient.batch("p", 0, [])), "range", "seq"),
    (psclient.pack({"v": 1, "type": "batch", "producer": "p", "seq": 1, "reports": {"a": 1}}),
     "type", "reports"),
    (psclient.pack(psclient.batch("p", 1, [], type="query")), "type", "type"),
]


def test_malformed_batches_are_refused_whole(pipeline):
    with pipeline.producer() as producer:
        for frame, code, field in MALFORMED:
            ack = producer.request(frame)
            assert ack["type"] == "ack"
            assert ack["status"] == "rejected", frame
            assert ack["accepted"] == 0
            assert ack["error"]["code"] == code, (frame, ack)
            assert ack["error"]["field"] == field, (frame, ack)
            assert ack["error"]["reason"]
        # The same connection still works for a good batch afterwards.
        assert producer.send("p-after", 1, [good()])["status"] == "ok"
    pipeline.check_alive()
