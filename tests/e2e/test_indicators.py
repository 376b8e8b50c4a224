"""The indicator engine against the article (shared/seed/figures.md): the
real services on loopback, data/morocco-2011-2012.csv loaded with
`paystat send`, every figure read from the feed by the independent Python
client and rounded as the article rounds it. Then liveness: a correction
republishes exactly the growth figures, shares and ratios that depend on
it, each message complete on its own."""

import psclient
from article import (CMI_ABROAD, CMI_ALL, CMI_COUNT, CMI_DOMESTIC, CMI_FOREIGN, MTC, RATIO,
                     checks, r1)
from conftest import SOURCE_DIR

DATASET = SOURCE_DIR / "data" / "morocco-2011-2012.csv"


def load_article(pipeline, feed):
    """Sends the dataset and returns the view once every figure's topic
    carries its indicator."""
    sent = pipeline.cli("send", DATASET)
    assert sent.returncode == 0, sent.stderr
    needed = {
        CMI_ALL.format(2012): "yoy_amount_pct",
        CMI_DOMESTIC.format(2012): "share",
        CMI_FOREIGN.format(2012): "yoy_amount_pct",
        CMI_COUNT.format(2012): "yoy_count_pct",
        CMI_ABROAD.format(2012): "yoy_amount_pct",
        MTC.format(2012): "yoy_avg_ticket_pct",
        RATIO: "value",
    }
    return feed.collect_until(
        lambda v: all(t in v and key in v[t] for t, key in needed.items()), timeout=20)


def test_article_figures(pipeline):
    with pipeline.feed(["CMI/", "MTC/", "OC/", "$ratio/"]) as feed:
        view = load_article(pipeline, feed)
    results = checks(view)
    assert len(results) >= 20
    failed = [f"{name}: got {got!r}" for name, got, ok in results if not ok]
    assert not failed, "figures that differ from the article:\n" + "\n".join(failed)

def test_correction_republishes_what_depends_on_it(pipeline):
    with pipeline.feed(["CMI/", "MTC/", "OC/", "$ratio/"]) as feed:
        load_article(pipeline, feed)
        # A corrected 2011 total for foreign cards (set replaces the old one).
        fix = psclient.report("CMI", "2011", {"activity": "ecommerce", "card": "foreign"},
                              amount=4047000000, currency="MAD", op="set")
        ack = pipeline.send_batch("corrector", 1, [fix])
        assert ack["status"] == "ok", ack
        fixed = feed.collect_until(
            lambda v: r1(v[CMI_FOREIGN.format(2012)].get("yoy_amount_pct", 0)) == 0.0)
        # 2012's growth was republished against the corrected base, with the
        # cell's full indicator set (a subscriber needs no earlier message).
        foreign = fixed[CMI_FOREIGN.format(2012)]
        assert foreign["amount"] == 4047000000 and foreign["currency"] == "MAD"
        assert "share" in foreign
        # The 2011 total moved, so the 2011 shares and 2012's total growth did too.
        feed.collect_until(
            lambda v: r1(v[CMI_ALL.format(2012)]["yoy_amount_pct"])
            == r1((752.3 / (486.22 + 40.47) - 1) * 100)
            and r1(v[CMI_DOMESTIC.format(2011)]["share"]["card"]["amount_pct"])
            == r1(486.22 / (486.22 + 40.47) * 100))

        # A new domestic figure for the Office des changes moves the ratio.
        more = psclient.report("OC", "2012", {"channel": "domestic"}, amount=1000000000,
                               currency="MAD")
        assert pipeline.send_batch("corrector", 2, [more])["status"] == "ok"
        view = feed.collect_until(
            lambda v: v[RATIO]["denominator"]["value"] == 76300000000)
        assert f"{view[RATIO]['value']:.2f}" == f"{7000 / 763:.2f}"
    assert not feed.gaps
    pipeline.check_alive()


def test_compute_refusal_is_published(pipeline):
    """An overflow is refused by compute (ingest cannot see totals): the
    report changes nothing and a $reject message names it."""
    big = 2 ** 63 - 1
    with pipeline.feed(["OVF/", "$reject"]) as feed:
        ok = psclient.report("OVF", "2012-01", {"card": "a"}, count=big)
        assert pipeline.send_batch("p-ovf", 1, [ok])["status"] == "ok"
        feed.collect_until(lambda v: "OVF/2012/card=*" in v)
        over = psclient.report("OVF", "2012-02", {"card": "b"}, count=1)
        assert pipeline.send_batch("p-ovf", 2, [over])["status"] == "ok"
        view = feed.collect_until(lambda v: "$reject" in v)
    reject = view["$reject"]
    assert reject["type"] == "reject" and reject["code"] == "overflow"
    assert reject["producer"] == "p-ovf" and reject["batch_seq"] == 2 and reject["index"] == 0
    assert reject["field"] == "count"
    assert view["OVF/2012/card=*"]["count"] == big
    assert "OVF/2012-02/card=b" not in view
    pipeline.check_alive()
