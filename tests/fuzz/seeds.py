#!/usr/bin/python3
"""Writes the seed inputs of every fuzz target into corpus/<target>/seed-*.

    /usr/bin/python3 tests/fuzz/seeds.py           # (re)write the seeds
    /usr/bin/python3 tests/fuzz/seeds.py --check   # fail if a seed differs

Seeds come from proto/vectors (hex -> bytes), data/*.csv, data/ratios.conf
and a few hand-written cases. Regression inputs (crash-*, named after what
they broke) are committed beside them by hand and never touched here.
"""

import glob
import json
import os
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEEDS = {}


def seed(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    SEEDS[(target, f"seed-{name}")] = data


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


vectors = []
for path in sorted(glob.glob(os.path.join(ROOT, "proto", "vectors", "*.json"))):
    with open(path) as f:
        vectors.append(json.load(f))

for v in vectors:
    data = bytes.fromhex(v["hex"])
    kind = v["message"]
    seed("fuzz_msgpack_check", v["name"], data)
    if kind in ("batch", "batch_forwarded"):
        seed("fuzz_batch", v["name"], data)
    elif kind == "ack":
        seed("fuzz_ack", v["name"], data)
    elif kind == "update":
        seed("fuzz_update", v["name"], data)
    elif kind in ("hello", "position"):
        seed("fuzz_control", v["name"], data)
    elif kind in ("feed", "heartbeat"):
        seed("fuzz_control", v["name"], data)
        seed("fuzz_msgjson", v["name"], b"CMI/2012/\0" + data)
        fields = v.get("input", {}).get("fields_hex")
        if fields:
            head = b"".join(v["input"][k].to_bytes(8, "little") for k in ("seq", "prev", "epoch"))
            seed("fuzz_feed_body", v["name"], head + bytes.fromhex(fields))

for name, msg in [
        ("progress", {"v": 1, "type": "progress", "pos": 42}),
        ("progress_big", {"v": 1, "type": "progress", "pos": 2**63 - 1}),
        ("progress_negative", {"v": 1, "type": "progress", "pos": -1}),
        ("resend", {"v": 1, "type": "resend", "epoch": 1700000000000000}),
        ("snapshot", {"v": 1, "type": "snapshot", "prefix": "CMI/2012"}),
        ("snapshot_since", {"v": 1, "type": "snapshot", "prefix": "", "since": 7, "epoch": 5}),
        ("end", {"v": 1, "type": "end", "mode": "snapshot", "epoch": 5, "seq": 9, "count": 3}),
        ("end_replay", {"v": 1, "type": "end", "mode": "replay", "epoch": 5, "seq": 9,
                        "count": 0}),
        ("refusal", {"v": 1, "type": "error", "code": "limit", "field": "prefix",
                     "reason": "prefix longer than a topic"}),
        ("hb_prefix", {"v": 1, "type": "hb", "epoch": 5, "seq": 9, "interval_ms": 1000,
                       "prefix": "CMI/", "sum": 12})]:
    seed("fuzz_control", name, pack(msg))

for text in ("2012", "2012-Q3", "2012-07", "2012-07-15", "2012-02-29", "2011-02-29", "0001-01-01",
             "9999-12-31", "2012-7", "2012-Q5"):
    seed("fuzz_period", text, text)

for i, text in enumerate(("752.30", "7000000000", "0.05", "1.500", "9223372036854775807",
                          "92233720368547758.07", "1e5", "-1", ".5", "MAD", "XAU")):
    seed("fuzz_money", str(i), text)

for path in sorted(glob.glob(os.path.join(ROOT, "data", "*.csv"))):
    with open(path, "rb") as f:
        seed("fuzz_input", os.path.basename(path), f.read())
seed("fuzz_input", "lines.jsonl", "\n".join(json.dumps(line) for line in [
    {"source": "J1", "period": "2012-07", "dims": {"card": "domestic"}, "count": 2,
     "amount": "752.30", "currency": "MAD"},
    {"source": "J1", "period": "2012-07", "dims": ["card=foreign"], "count": 1, "amount": 40,
     "currency": "MAD", "op": "set"},
    {"source": "J1", "period": "2012-07", "count": 1, "amount": 7.5, "currency": "MAD"},
]) + "\n\n")
seed("fuzz_input", "bad.csv", "source,period,card,count,amount,currency\n"
     "CMI,2012-13,x,1,1.00,MAD\n# comment\n\nCMI,2012,\"a,b\",-1,1.001,MAD\nCMI,2012\n")

with open(os.path.join(ROOT, "data", "ratios.conf"), "rb") as f:
    seed("fuzz_ratios", "ratios.conf", f.read())
seed("fuzz_ratios", "dims", "a.b-c = CMI/card=*,channel=ecommerce:count / MTC/:amount  # c\n"
     "x=S/b=1,a=2:amount/S/:count\n")

for i, args in enumerate((["--bind", "tcp://127.0.0.1:1"], ["--queue=5", "--table", "file"],
                          ["--help"], ["--version"], ["--", "--queue"], ["--queue"],
                          ["--table=1"], ["--nope"], ["--queue", "x"])):
    seed("fuzz_config", str(i), "\n".join(args))


def main():
    check = "--check" in sys.argv[1:]
    bad = 0
    for (target, name), data in sorted(SEEDS.items()):
        path = os.path.join(HERE, "corpus", target, name)
        if check:
            try:
                with open(path, "rb") as f:
                    same = f.read() == data
            except FileNotFoundError:
                same = False
            if not same:
                print(f"{path}: missing or out of date", file=sys.stderr)
                bad += 1
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    if not check:
        print(f"{len(SEEDS)} seeds written under {os.path.join(HERE, 'corpus')}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
