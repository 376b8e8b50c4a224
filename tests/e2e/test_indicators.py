"""The indicator engine against the article (shared/seed/figures.md): the
real services on loopback, data/morocco-2011-2012.csv loaded with
`paystat send`, every figure read from the feed by the independent Python
client and rounded as the article rounds it. Then liveness: a correction
republishes exactly the growth figures, shares and ratios that depend on
it, each message complete on its own."""

import math

import psclient
from conftest import SOURCE_DIR

DATASET = SOURCE_DIR / "data" / "morocco-2011-2012.csv"

CMI_ALL = "CMI/{}/activity=ecommerce,card=*"
CMI_DOMESTIC = "CMI/{}/activity=ecommerce,card=domestic"
CMI_FOREIGN = "CMI/{}/activity=ecommerce,card=foreign"
CMI_COUNT = "CMI/{}/activity=ecommerce"
CMI_ABROAD = "CMI/{}/activity=abroad,card=domestic"
MTC = "MTC/{}/channel=online"
RATIO = "$ratio/abroad_vs_domestic/2012"


def r1(x):
    """Rounded to one decimal, as the article prints percentages."""
    return round(x, 1)


def finite_everywhere(body):
    """No NaN or infinity anywhere in a message, nested maps included."""
    for value in body.values():
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if isinstance(value, dict) and not finite_everywhere(value):
            return False
    return True


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

    # CMI, online card payments at affiliated merchants: 507.4 -> 752.3 MDH, +48.3 %.
    cmi = view[CMI_ALL.format(2012)]
    assert cmi["currency"] == "MAD" and cmi["exp"] == 2
    assert round(cmi["amount"] / 100 / 1e6, 1) == 752.3
    assert round(view[CMI_ALL.format(2011)]["amount"] / 100 / 1e6, 1) == 507.4
    assert r1(cmi["yoy_amount_pct"]) == 48.3
    # Moroccan cards +46.4 %, foreign cards +91.1 %.
    domestic = view[CMI_DOMESTIC.format(2012)]
    assert r1(domestic["yoy_amount_pct"]) == 46.4
    assert r1(view[CMI_FOREIGN.format(2012)]["yoy_amount_pct"]) == 91.1
    # Moroccan cards' share of the activity: 94.6 % (of the amount; no count by card).
    assert r1(domestic["share"]["card"]["amount_pct"]) == 94.6
    assert "count_pct" not in domestic["share"]["card"]
    # The card split carries no count: absent at every level, never a partial sum.
    assert "count" not in cmi and "avg_ticket" not in cmi and "yoy_count_pct" not in cmi
    # CMI e-commerce transactions: 670 k -> 1.2 M (+79.1 %, not stated in the article).
    count = view[CMI_COUNT.format(2012)]
    assert round(view[CMI_COUNT.format(2011)]["count"] / 1e3) == 670
    assert round(count["count"] / 1e6, 1) == 1.2
    assert r1(count["yoy_count_pct"]) == 79.1
    assert "amount" not in count and "currency" not in count
    # Operations abroad with Moroccan cards: +43.4 % in number, +28 % in value.
    abroad = view[CMI_ABROAD.format(2012)]
    assert abroad["count"] == 389000
    assert r1(abroad["yoy_count_pct"]) == 43.4
    assert round(abroad["yoy_amount_pct"]) == 28
    # Maroc Telecommerce: 513 -> 743 MDH "about +45 %", count "more than +75 %",
    # average basket "about 600 DH" (594.4) and its -18 %.
    mtc = view[MTC.format(2012)]
    assert round(mtc["yoy_amount_pct"]) == 45
    assert mtc["yoy_count_pct"] > 75 and r1(mtc["yoy_count_pct"]) == 76.6
    assert round(mtc["avg_ticket"] / 10 ** mtc["exp"], 1) == 594.4
    assert round(mtc["avg_ticket"] / 10 ** mtc["exp"], -2) == 600
    assert round(mtc["yoy_avg_ticket_pct"]) == -18
    # Office des changes: purchases abroad 7000 MDH vs domestic online 753 MDH, 9.30.
    ratio = view[RATIO]
    assert ratio["type"] == "ratio" and ratio["name"] == "abroad_vs_domestic"
    assert ratio["period"] == "2012"
    assert f"{ratio['value']:.2f}" == "9.30"
    assert ratio["numerator"] == {"topic": "OC/2012/channel=abroad", "measure": "amount",
                                  "value": 700000000000}
    assert ratio["denominator"]["topic"] == "OC/2012/channel=domestic"
    assert ratio["denominator"]["value"] == 75300000000

    # No base, no figure: 2011 has no earlier year; years have no pop or ytd.
    first = view[MTC.format(2011)]
    for key in ("yoy_count_pct", "yoy_amount_pct", "yoy_avg_ticket_pct", "pop_count_pct",
                "ytd_count"):
        assert key not in first
    assert all(finite_everywhere(body) for body in view.values())
    assert not feed.gaps
    pipeline.check_alive()


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
