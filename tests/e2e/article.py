"""The article's figures (shared/seed/figures.md) as paystat publishes
them: the topics they are read from and one check per figure, each
rounded as the article rounds it. Used by test_indicators.py against the
services on loopback and by tests/docker/article.py against the
containers."""

import math

CMI_ALL = "CMI/{}/activity=ecommerce,card=*"
CMI_DOMESTIC = "CMI/{}/activity=ecommerce,card=domestic"
CMI_FOREIGN = "CMI/{}/activity=ecommerce,card=foreign"
CMI_COUNT = "CMI/{}/activity=ecommerce"
CMI_ABROAD = "CMI/{}/activity=abroad,card=domestic"
MTC = "MTC/{}/channel=online"
RATIO = "$ratio/abroad_vs_domestic/2012"


def finite_everywhere(body):
    """No NaN or infinity anywhere in a message, nested maps included."""
    for value in body.values():
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if isinstance(value, dict) and not finite_everywhere(value):
            return False
    return True


def r1(x):
    """Rounded to one decimal, as the article prints percentages."""
    return round(x, 1)


def checks(view):
    """(figure, what paystat gives, whether it matches the article) for
    every figure of the article in VIEW (topic -> message, as the
    subscriber applied them). Raises KeyError while a topic is missing."""
    cmi = view[CMI_ALL.format(2012)]
    domestic = view[CMI_DOMESTIC.format(2012)]
    foreign = view[CMI_FOREIGN.format(2012)]
    count = view[CMI_COUNT.format(2012)]
    count11 = view[CMI_COUNT.format(2011)]
    abroad = view[CMI_ABROAD.format(2012)]
    mtc = view[MTC.format(2012)]
    mtc11 = view[MTC.format(2011)]
    ratio = view[RATIO]
    basket = mtc["avg_ticket"] / 10 ** mtc["exp"]
    amount11 = view[CMI_ALL.format(2011)]["amount"] / 100 / 1e6
    return [
        ("CMI amount currency, exponent", (cmi["currency"], cmi["exp"]),
         cmi["currency"] == "MAD" and cmi["exp"] == 2),
        ("CMI amount 2012 (752.3 MDH)", cmi["amount"], round(cmi["amount"] / 100 / 1e6, 1) == 752.3),
        ("CMI amount 2011 (507.4 MDH)", amount11, round(amount11, 1) == 507.4),
        ("CMI amount growth (48.3 %)", cmi["yoy_amount_pct"], r1(cmi["yoy_amount_pct"]) == 48.3),
        ("Moroccan cards growth (46.4 %)", domestic["yoy_amount_pct"],
         r1(domestic["yoy_amount_pct"]) == 46.4),
        ("foreign cards growth (91.1 %)", foreign["yoy_amount_pct"],
         r1(foreign["yoy_amount_pct"]) == 91.1),
        ("Moroccan cards share of the amount (94.6 %)", domestic["share"]["card"],
         r1(domestic["share"]["card"]["amount_pct"]) == 94.6
         and "count_pct" not in domestic["share"]["card"]),
        ("card split carries no count", sorted(cmi),
         not {"count", "avg_ticket", "yoy_count_pct"} & set(cmi)),
        ("CMI e-commerce count 2011 (670 k)", count11["count"], round(count11["count"] / 1e3) == 670),
        ("CMI e-commerce count 2012 (1.2 M)", count["count"], round(count["count"] / 1e6, 1) == 1.2),
        ("CMI e-commerce count growth (79.1 %)", count["yoy_count_pct"],
         r1(count["yoy_count_pct"]) == 79.1 and "amount" not in count and "currency" not in count),
        ("operations abroad 2012 (389000)", abroad["count"], abroad["count"] == 389000),
        ("operations abroad count growth (43.4 %)", abroad["yoy_count_pct"],
         r1(abroad["yoy_count_pct"]) == 43.4),
        ("operations abroad amount growth (28 %)", abroad["yoy_amount_pct"],
         round(abroad["yoy_amount_pct"]) == 28),
        ("MTC amount growth (about 45 %)", mtc["yoy_amount_pct"], round(mtc["yoy_amount_pct"]) == 45),
        ("MTC count growth (more than 75 %: 76.6)", mtc["yoy_count_pct"],
         mtc["yoy_count_pct"] > 75 and r1(mtc["yoy_count_pct"]) == 76.6),
        ("MTC basket 2012 (594.4 DH, about 600)", basket,
         round(basket, 1) == 594.4 and round(basket, -2) == 600),
        ("MTC basket change (-18 %)", mtc["yoy_avg_ticket_pct"], round(mtc["yoy_avg_ticket_pct"]) == -18),
        ("OC abroad / domestic ratio 2012 (9.30)", ratio.get("value"),
         ratio["type"] == "ratio" and ratio["name"] == "abroad_vs_domestic"
         and ratio["period"] == "2012" and f"{ratio['value']:.2f}" == "9.30"
         and ratio["numerator"] == {"topic": "OC/2012/channel=abroad", "measure": "amount",
                                    "value": 700000000000}
         and ratio["denominator"]["topic"] == "OC/2012/channel=domestic"
         and ratio["denominator"]["value"] == 75300000000),
        ("2011 has no growth figures", sorted(mtc11),
         not {"yoy_count_pct", "yoy_amount_pct", "yoy_avg_ticket_pct", "pop_count_pct",
              "ytd_count"} & set(mtc11)),
        ("every value finite", len(view), all(finite_everywhere(b) for b in view.values())),
    ]
