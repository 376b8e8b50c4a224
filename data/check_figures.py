#!/usr/bin/env python3
"""Checks that morocco-2011-2012.csv reproduces every figure of the article.

Independent of paystat: reads the CSV with the csv module, computes each
indicator with exact decimals, rounds it as the article rounds it, and
compares. Exits 1 and names the figure on any mismatch.

    python3 data/check_figures.py [CSV]
"""

import csv
import os
import sys
from decimal import ROUND_HALF_UP, Decimal

DIMS = ("card", "activity", "channel")


def load(path):
    """Returns {(source, period, frozenset of dims): {"count": int, "amount": Decimal}}."""
    cells = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            dims = frozenset((d, row[d]) for d in DIMS if row[d])
            cell = {}
            if row["count"]:
                cell["count"] = int(row["count"])
            if row["amount"]:
                assert row["currency"] == "MAD", row
                cell["amount"] = Decimal(row["amount"])
            assert row["op"] == "set", row
            key = (row["source"], row["period"], dims)
            assert key not in cells, f"duplicate cell {key}"
            cells[key] = cell
    return cells


def growth(now, then):
    return (Decimal(now) / Decimal(then) - 1) * 100


def rounded(value, places):
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    cells = load(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "morocco-2011-2012.csv"))

    def get(source, period, measure, **dims):
        return cells[(source, period, frozenset(dims.items()))][measure]

    def cmi_card(period, card):
        return get("CMI", period, "amount", activity="ecommerce", card=card)

    def cmi_all(period):  # what paystat publishes as card=*
        return cmi_card(period, "domestic") + cmi_card(period, "foreign")

    mtc_basket = {
        y: get("MTC", y, "amount", channel="online") / get("MTC", y, "count", channel="online")
        for y in ("2011", "2012")
    }
    checks = [
        # (figure, computed value, decimal places the article uses, expected value)
        ("CMI amount 2011 (MDH)", cmi_all("2011") / 10**6, 1, "507.4"),
        ("CMI amount 2012 (MDH)", cmi_all("2012") / 10**6, 1, "752.3"),
        ("CMI amount growth %", growth(cmi_all("2012"), cmi_all("2011")), 1, "48.3"),
        ("CMI Moroccan cards growth %",
         growth(cmi_card("2012", "domestic"), cmi_card("2011", "domestic")), 1, "46.4"),
        ("CMI foreign cards growth %",
         growth(cmi_card("2012", "foreign"), cmi_card("2011", "foreign")), 1, "91.1"),
        ("CMI Moroccan cards share 2012 %",
         cmi_card("2012", "domestic") / cmi_all("2012") * 100, 1, "94.6"),
        ("CMI e-commerce count 2011", Decimal(get("CMI", "2011", "count", activity="ecommerce")),
         0, "670000"),
        ("CMI e-commerce count 2012", Decimal(get("CMI", "2012", "count", activity="ecommerce")),
         0, "1200000"),
        ("CMI e-commerce count growth % (figures.md)",
         growth(get("CMI", "2012", "count", activity="ecommerce"),
                get("CMI", "2011", "count", activity="ecommerce")), 1, "79.1"),
        ("ops abroad count 2012", Decimal(get("CMI", "2012", "count", activity="abroad",
                                              card="domestic")), 0, "389000"),
        ("ops abroad amount 2012 (MDH)",
         get("CMI", "2012", "amount", activity="abroad", card="domestic") / 10**6, 1, "682.7"),
        ("ops abroad count growth %",
         growth(get("CMI", "2012", "count", activity="abroad", card="domestic"),
                get("CMI", "2011", "count", activity="abroad", card="domestic")), 1, "43.4"),
        ("ops abroad amount growth %",
         growth(get("CMI", "2012", "amount", activity="abroad", card="domestic"),
                get("CMI", "2011", "amount", activity="abroad", card="domestic")), 0, "28"),
        ("MTC amount 2011 (MDH)", get("MTC", "2011", "amount", channel="online") / 10**6, 0, "513"),
        ("MTC amount 2012 (MDH)", get("MTC", "2012", "amount", channel="online") / 10**6, 0, "743"),
        ("MTC amount growth % ('environ 45')",
         growth(get("MTC", "2012", "amount", channel="online"),
                get("MTC", "2011", "amount", channel="online")), 0, "45"),
        ("MTC count 2012", Decimal(get("MTC", "2012", "count", channel="online")), 0, "1250000"),
        ("MTC count growth % ('plus de 75')",
         growth(get("MTC", "2012", "count", channel="online"),
                get("MTC", "2011", "count", channel="online")), 1, "76.6"),
        ("MTC basket 2012 (DH)", mtc_basket["2012"], 1, "594.4"),
        ("MTC basket 2012 (DH, 'environ 600')", mtc_basket["2012"], -2, "6E+2"),
        ("MTC basket 2011 (DH, figures.md)", mtc_basket["2011"], 1, "724.9"),
        ("MTC basket change % ('-18 %')", growth(mtc_basket["2012"], mtc_basket["2011"]), 0,
         "-18"),
        ("OC abroad / domestic ratio 2012",
         get("OC", "2012", "amount", channel="abroad")
         / get("OC", "2012", "amount", channel="domestic"), 2, "9.30"),
    ]
    failures = 0
    for name, value, places, expected in checks:
        got = rounded(Decimal(value), places)
        ok = got == Decimal(expected)
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {got} (exact {value:.4f}, expected {expected})")
    # The MTC count growth must also read as "more than 75 %".
    if growth(get("MTC", "2012", "count", channel="online"),
              get("MTC", "2011", "count", channel="online")) <= 75:
        failures += 1
        print("FAIL MTC count growth is not above 75 %")
    print(f"{len(checks) - failures} of {len(checks)} figures reproduced")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
