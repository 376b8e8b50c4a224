#!/usr/bin/python3
"""Writes paystat's protocol test vectors, one JSON file per vector.

    /usr/bin/python3 proto/vectors/generate.py           # (re)write the files
    /usr/bin/python3 proto/vectors/generate.py --check   # fail if a file differs

Each vector is {"name", "description", "message", "hex", "canonical", "expect"}
(feed and heartbeat vectors add "input"). The bytes are built here with
python3-msgpack, or by hand where a library would refuse to write them; every
expectation is written by hand from proto/PROTOCOL.md, never computed by the
code under test. "canonical": true means the bytes are exactly what the
canonical encoder of PROTOCOL.md ("Canonical form") writes for that meaning.
"""

import json
import os
import struct
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = []


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def vector(name, message, description, data, expect, canonical=False, **extra):
    v = {"name": name, "description": description, "message": message, "hex": data.hex(),
         "canonical": canonical}
    v.update(extra)
    v["expect"] = expect
    VECTORS.append(v)


def batch(reports, producer="p1", seq=1):
    return {"v": 1, "type": "batch", "producer": producer, "seq": seq, "reports": reports}


def forwarded(reports, producer="p1", seq=1, ingest="ingest-1", jseq=1, journal=None):
    m = {"v": 1, "type": "batch", "producer": producer, "seq": seq, "ingest": ingest,
         "jseq": jseq}
    if journal is not None:
        m["journal"] = journal
    m["reports"] = reports
    return m


def fixstr(text):
    """A raw MessagePack str of arbitrary bytes (python3-msgpack only packs valid text)."""
    assert len(text) < 32
    return bytes([0xa0 | len(text)]) + text


def raw_map(pairs):
    """A fixmap from already-packed (key, value) byte pairs, duplicates allowed."""
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)


def head(reports_bytes, producer="p1", seq=1):
    """A batch map whose "reports" value is the raw bytes given."""
    return (b"\x85" + pack("v") + pack(1) + pack("type") + pack("batch") + pack("producer") +
            pack(producer) + pack("seq") + pack(seq) + pack("reports") + reports_bytes)


def rep(index, source, period, gran, dims=(), count=None, amount=None, currency=None, op="add"):
    """Expected meaning of one accepted report."""
    r = {"index": index, "source": source, "period": period, "gran": gran, "dims": list(dims)}
    if count is not None:
        r["count"] = count
    if amount is not None:
        r["amount"] = amount
        r["currency"] = currency
    r["op"] = op
    return r


def rej(index, code, field):
    return {"index": index, "code": code, "field": field}


def ok_batch(reports, rejects=(), producer="p1", seq=1, total=None, **extra):
    e = {"producer": producer, "seq": seq}
    e.update(extra)
    e["total"] = len(reports) + len(rejects) if total is None else total
    e["reports"] = list(reports)
    e["rejects"] = list(rejects)
    return e


def error(code, field):
    return {"error": {"code": code, "field": field}}


# ---- Valid batches -------------------------------------------------------

vector("batch_basic", "batch",
       "One report with a dimension, a count and an amount in MAD centimes (CMI 2012, "
       "Moroccan cards: 711.83 MDH).",
       pack(batch([{"source": "CMI", "period": "2012", "dims": ["card=domestic"],
                    "count": 1100000, "amount": 71183000000, "currency": "MAD"}])),
       ok_batch([rep(0, "CMI", "2012", "year", ["card=domestic"], 1100000, 71183000000, "MAD")]),
       canonical=True)

vector("batch_period_forms", "batch",
       "The four period forms: year, quarter, month, day.",
       pack(batch([{"source": "CMI", "period": "2012", "count": 1},
                   {"source": "CMI", "period": "2012-Q3", "count": 2},
                   {"source": "CMI", "period": "2012-07", "count": 3},
                   {"source": "CMI", "period": "2012-07-15", "count": 4}], seq=7)),
       ok_batch([rep(0, "CMI", "2012", "year", count=1),
                 rep(1, "CMI", "2012-Q3", "quarter", count=2),
                 rep(2, "CMI", "2012-07", "month", count=3),
                 rep(3, "CMI", "2012-07-15", "day", count=4)], seq=7),
       canonical=True)

vector("batch_leap_day", "batch",
       "29 February exists in a leap year (2012) and in 2000.",
       pack(batch([{"source": "CMI", "period": "2012-02-29", "count": 1},
                   {"source": "CMI", "period": "2000-02-29", "count": 1}])),
       ok_batch([rep(0, "CMI", "2012-02-29", "day", count=1),
                 rep(1, "CMI", "2000-02-29", "day", count=1)]),
       canonical=True)

vector("batch_dims_sorted", "batch",
       "Dimensions arrive in any order; the decoder sorts them by name.",
       pack(batch([{"source": "CMI", "period": "2012",
                    "dims": ["channel=ecommerce", "card=foreign", "age_band=18-25"],
                    "count": 5}])),
       ok_batch([rep(0, "CMI", "2012", "year",
                     ["age_band=18-25", "card=foreign", "channel=ecommerce"], count=5)]))

vector("batch_count_only", "batch",
       "Only a count (MTC 2012: 1,250,000 transactions), no dims key at all.",
       pack(batch([{"source": "MTC", "period": "2012", "count": 1250000}])),
       ok_batch([rep(0, "MTC", "2012", "year", count=1250000)]),
       canonical=True)

vector("batch_amount_only", "batch",
       "Only an amount, in a currency without minor units (JPY, exponent 0).",
       pack(batch([{"source": "JCB", "period": "2012-Q1", "amount": 5000, "currency": "JPY"}])),
       ok_batch([rep(0, "JCB", "2012-Q1", "quarter", amount=5000, currency="JPY")]),
       canonical=True)

vector("batch_set_op", "batch",
       "op \"set\" replaces the cell's total; \"add\" written out is the default.",
       pack(batch([{"source": "CMI", "period": "2011", "count": 670000, "op": "set"},
                   {"source": "CMI", "period": "2012", "count": 1200000, "op": "add"}])),
       ok_batch([rep(0, "CMI", "2011", "year", count=670000, op="set"),
                 rep(1, "CMI", "2012", "year", count=1200000, op="add")]))

vector("batch_retract_op", "batch",
       "op \"retract\" withdraws the value reported for a cell; it carries no measure.",
       pack(batch([{"source": "CMI", "period": "2012-06", "dims": ["card=b"], "op": "retract"}])),
       ok_batch([rep(0, "CMI", "2012-06", "month", dims=["card=b"], op="retract")]),
       canonical=True)

vector("reject_retract_measures", "batch",
       "A retraction with a count, an amount or a currency is refused (code op, field the key).",
       pack(batch([{"source": "CMI", "period": "2012", "count": 1, "op": "retract"},
                   {"source": "CMI", "period": "2012", "amount": 1, "currency": "MAD",
                    "op": "retract"},
                   {"source": "CMI", "period": "2012", "currency": "MAD", "op": "retract"},
                   {"source": "CMI", "period": "2012", "op": "retract"}])),
       ok_batch([rep(3, "CMI", "2012", "year", op="retract")],
                [rej(0, "op", "count"), rej(1, "op", "amount"), rej(2, "op", "currency")]))

vector("batch_empty", "batch",
       "A batch may hold no report at all.",
       pack(batch([], producer="loader.01", seq=42)),
       ok_batch([], producer="loader.01", seq=42),
       canonical=True)

vector("batch_limits_at_bound", "batch",
       "Every string at its longest, 4 dims, count at INT64_MAX and amount 0.",
       pack(batch([{"source": "S" * 32, "period": "9999-12-31",
                    "dims": ["a" * 32 + "=" + "v" * 64, "b=1", "c=2", "d=3"],
                    "count": 2**63 - 1, "amount": 0, "currency": "EUR"}],
                  producer="P" * 64, seq=2**63 - 1)),
       ok_batch([rep(0, "S" * 32, "9999-12-31", "day",
                     ["a" * 32 + "=" + "v" * 64, "b=1", "c=2", "d=3"],
                     2**63 - 1, 0, "EUR")], producer="P" * 64, seq=2**63 - 1),
       canonical=True)

# v as int8, seq as uint64, count as int16, amount as int32: all positive, all accepted.
GOOD0 = {"source": "CMI", "period": "2012", "count": 1}

vector("batch_int_encodings", "batch",
       "Positive integers may use any MessagePack integer encoding, signed or not.",
       b"\x85" + pack("v") + b"\xd0\x01" + pack("type") + pack("batch") + pack("producer") +
       pack("p1") + pack("seq") + b"\xcf" + struct.pack(">Q", 3) + pack("reports") + b"\x91" +
       b"\x85" + pack("source") + pack("CMI") + pack("period") + pack("2012") + pack("count") +
       b"\xd1" + struct.pack(">h", 300) + pack("amount") + b"\xd2" + struct.pack(">i", 70000) +
       pack("currency") + pack("MAD"),
       ok_batch([rep(0, "CMI", "2012", "year", count=300, amount=70000, currency="MAD")], seq=3))

vector("batch_unknown_keys", "batch",
       "Unknown keys, and keys that are not strings, are ignored at every level.",
       b"\x87" + pack("v") + pack(1) + pack("type") + pack("batch") + pack("producer") +
       pack("p1") + pack("seq") + pack(1) + pack("comment") + pack({"x": [1, 2]}) + pack(7) +
       pack("seven") + pack("reports") + b"\x91" + pack({"source": "CMI", "period": "2012",
                                                           "count": 9, "note": "hi",
                                                           "future": 1.5}),
       ok_batch([rep(0, "CMI", "2012", "year", count=9)]))

vector("batch_depth_8", "batch",
       "Eight nested containers, the most accepted: an unknown key holding 7 arrays.",
       b"\x86" + pack("x") + b"\x91" * 6 + b"\x90" + pack(batch([GOOD0]))[1:],
       ok_batch([rep(0, "CMI", "2012", "year", count=1)]))

vector("batch_forwarded", "batch_forwarded",
       "Ingest -> compute: the accepted reports only, each with its index i in the producer's "
       "batch, plus the ingest id and journal position.",
       pack(forwarded([{"source": "CMI", "period": "2012", "dims": ["card=domestic"],
                        "amount": 71183000000, "currency": "MAD", "i": 0},
                       {"source": "CMI", "period": "2012", "dims": ["card=foreign"],
                        "amount": 4047000000, "currency": "MAD", "op": "set", "i": 2}],
                      producer="cmi-loader", seq=12, ingest="ingest-a", jseq=1001)),
       ok_batch([rep(0, "CMI", "2012", "year", ["card=domestic"], amount=71183000000,
                     currency="MAD"),
                 rep(2, "CMI", "2012", "year", ["card=foreign"], amount=4047000000,
                     currency="MAD", op="set")],
                producer="cmi-loader", seq=12, total=2, ingest="ingest-a", jseq=1001),
       canonical=True)
vector("batch_forwarded_journal", "batch_forwarded",
       "A forwarded batch naming the journal instance it was written to (after jseq).",
       pack(forwarded([{"source": "CMI", "period": "2012", "count": 5, "i": 0}], seq=3,
                      jseq=7, journal=1700000000123456)),
       ok_batch([rep(0, "CMI", "2012", "year", count=5)], seq=3, ingest="ingest-1", jseq=7,
                journal=1700000000123456),
       canonical=True)

# ---- Reports refused one by one ---------------------------------------------

GOOD = {"source": "CMI", "period": "2012", "count": 1}


def with_(**changes):
    r = dict(GOOD)
    for k, v in changes.items():
        if v is None:
            r.pop(k, None)
        else:
            r[k] = v
    return r


vector("reject_missing", "batch",
       "Missing required report fields: source, period, any measure, currency with an amount, "
       "amount with a currency.",
       pack(batch([with_(source=None), with_(period=None), with_(count=None),
                   with_(amount=5), with_(currency="MAD"), GOOD])),
       ok_batch([rep(5, "CMI", "2012", "year", count=1)],
                [rej(0, "missing", "source"), rej(1, "missing", "period"),
                 rej(2, "missing", "count"), rej(3, "missing", "currency"),
                 rej(4, "missing", "amount")]))

vector("reject_types", "batch",
       "Fields of the wrong MessagePack type, and a report that is not a map.",
       pack(batch([with_(source=5), with_(period=2012), with_(dims="card=domestic"),
                   with_(dims=[7]), with_(count=1.0), with_(count="1"),
                   with_(amount=True, currency="MAD"), with_(amount=5, currency=None) | {
                       "currency": ["MAD"]}, with_(op=1), None, ["CMI", "2012"]])),
       ok_batch([], [rej(0, "type", "source"), rej(1, "type", "period"),
                     rej(2, "type", "dims"), rej(3, "type", "dims"), rej(4, "type", "count"),
                     rej(5, "type", "count"), rej(6, "type", "amount"),
                     rej(7, "type", "currency"), rej(8, "type", "op"), rej(9, "type", ""),
                     rej(10, "type", "")]))

vector("reject_range", "batch",
       "Negative measures and integers above INT64_MAX (2^63 as uint64).",
       pack(batch([with_(count=-5), with_(amount=-1, currency="MAD"), with_(count=2**63),
                   with_(count=None, amount=2**64 - 1, currency="MAD"),
                   with_(count=2**63 - 1)])),
       ok_batch([rep(4, "CMI", "2012", "year", count=2**63 - 1)],
                [rej(0, "range", "count"), rej(1, "range", "amount"), rej(2, "range", "count"),
                 rej(3, "range", "amount")]))

BAD_PERIODS = ["2012-13", "2012-Q5", "2011-02-29", "1900-02-29", "2012-04-31", "12-07",
               "2012-7", "2012-07-1", "2012-00", "0000", "2012/07", "2012-07-15T00", "",
               "2012 ", "Q3-2012"]
vector("reject_period", "batch",
       "Periods that are not YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD of a real calendar date.",
       pack(batch([with_(period=p) for p in BAD_PERIODS])),
       ok_batch([], [rej(i, "period", "period") for i in range(len(BAD_PERIODS))]))

BAD_DIMS = [["a=1", "b=2", "c=3", "d=4", "e=5"], ["card=domestic", "card=foreign"], ["card"],
            ["Card=x"], ["1card=x"], ["card="], ["=x"], ["card=*"], ["card=a b"],
            ["card=x=y"], ["n" * 33 + "=x"], ["card=" + "v" * 65], ["card=caf\u00e9"]]
vector("reject_dims", "batch",
       "Too many, duplicate, malformed, reserved ('*') and over-long dimensions.",
       pack(batch([with_(dims=d) for d in BAD_DIMS])),
       ok_batch([], [rej(i, "dims", "dims") for i in range(len(BAD_DIMS))]))

vector("reject_currency", "batch",
       "Currency codes that are not active ISO 4217 codes with minor units.",
       pack(batch([with_(amount=1, currency=c) for c in ["XYZ", "mad", "MADD", "MA", "XAU", ""]])),
       ok_batch([], [rej(i, "currency", "currency") for i in range(6)]))

vector("reject_op", "batch",
       "op must be exactly \"add\", \"set\" or \"retract\".",
       pack(batch([with_(op="mul"), with_(op="ADD"), with_(op=""), with_(op="set")])),
       ok_batch([rep(3, "CMI", "2012", "year", count=1, op="set")],
                [rej(0, "op", "op"), rej(1, "op", "op"), rej(2, "op", "op")]))

vector("reject_source", "batch",
       "Source grammar [A-Za-z0-9][A-Za-z0-9_.-]* and its 32-byte limit.",
       pack(batch([with_(source="bad source"), with_(source="_CMI"), with_(source=""),
                   with_(source="CMI/x"), with_(source="S" * 33), with_(source="B.A-M_1")])),
       ok_batch([rep(5, "B.A-M_1", "2012", "year", count=1)],
                [rej(0, "syntax", "source"), rej(1, "syntax", "source"),
                 rej(2, "syntax", "source"), rej(3, "syntax", "source"),
                 rej(4, "limit", "source")]))

vector("reject_mixed", "batch",
       "Valid and invalid reports in one batch: the valid ones are kept with their index.",
       pack(batch([{"source": "CMI", "period": "2012", "dims": ["card=domestic"],
                    "amount": 71183000000, "currency": "MAD"},
                   {"source": "CMI", "period": "2012", "count": -5},
                   {"source": "CMI", "period": "2012", "dims": ["card=foreign"],
                    "amount": 4047000000, "currency": "MAD"},
                   {"source": "CMI", "period": "2012", "count": 1, "op": "mul"}],
                  producer="cmi-loader", seq=3)),
       ok_batch([rep(0, "CMI", "2012", "year", ["card=domestic"], amount=71183000000,
                     currency="MAD"),
                 rep(2, "CMI", "2012", "year", ["card=foreign"], amount=4047000000,
                     currency="MAD")],
                [rej(1, "range", "count"), rej(3, "op", "op")], producer="cmi-loader", seq=3))

vector("reject_duplicate_key", "batch",
       "A report giving the same known key twice is refused (which copy counts would depend "
       "on the reader).",
       head(b"\x91" + raw_map([(pack("source"), pack("CMI")), (pack("period"), pack("2012")),
                               (pack("count"), pack(1)), (pack("count"), pack(2))])),
       ok_batch([], [rej(0, "syntax", "count")]))

vector("reject_forwarded_missing_i", "batch_forwarded",
       "A forwarded report without its index \"i\" is refused (index = its position).",
       pack(forwarded([{"source": "CMI", "period": "2012", "count": 1, "i": 4},
                       {"source": "CMI", "period": "2012", "count": 1}])),
       ok_batch([rep(4, "CMI", "2012", "year", count=1)], [rej(1, "missing", "i")], total=2,
                ingest="ingest-1", jseq=1))

# ---- Frames refused as a whole ----------------------------------------------

BASIC = pack(batch([GOOD]))

vector("frame_empty", "batch", "A 0-byte frame.", b"", error("decode", ""))
vector("frame_truncated", "batch", "A valid batch cut 3 bytes short.", BASIC[:-3],
       error("decode", ""))
vector("frame_trailing_bytes", "batch", "A valid batch followed by one more object (nil).",
       BASIC + b"\xc0", error("decode", ""))
vector("frame_giant_array", "batch",
       "reports announced as an array32 of 2^32-1 elements with nothing after it "
       "(msgpack-c would try to allocate ~96 GB).",
       head(b"\xdd\xff\xff\xff\xff"), error("decode", ""))
vector("frame_giant_map", "batch", "A lone map32 header announcing 2^32-1 pairs.",
       b"\xdf\xff\xff\xff\xff", error("decode", ""))
vector("frame_giant_str", "batch", "producer announced as a str32 of 2^32-1 bytes.",
       b"\x85" + pack("v") + pack(1) + pack("type") + pack("batch") + pack("producer") +
       b"\xdb\xff\xff\xff\xff" + b"p1", error("decode", ""))
vector("frame_array_fits_no_bytes", "batch",
       "An array16 of 1000 elements when 10 bytes remain: refused before allocation.",
       head(b"\xdc\x03\xe8" + b"\xc0" * 10), error("decode", ""))
vector("frame_deep_nesting", "batch",
       "Nine nested containers (the limit is 8): the batch map, then 8 arrays.",
       head(b"\x91" * 7 + b"\x90"), error("limit", ""))
vector("frame_utf8_overlong", "batch", "producer holds the overlong encoding C0 AF of '/'.",
       b"\x85" + pack("v") + pack(1) + pack("type") + pack("batch") + pack("producer") +
       fixstr(b"\xc0\xaf") + pack("seq") + pack(1) + pack("reports") + b"\x90",
       error("utf8", ""))
vector("frame_utf8_surrogate", "batch",
       "A report's source holds ED A0 80, a UTF-16 surrogate (U+D800) encoded in UTF-8.",
       head(b"\x91" + raw_map([(pack("source"), fixstr(b"\xed\xa0\x80")),
                               (pack("period"), pack("2012")), (pack("count"), pack(1))])),
       error("utf8", ""))
vector("frame_utf8_above_max", "batch", "A map key holds F4 90 80 80 (above U+10FFFF).",
       b"\x86" + fixstr(b"\xf4\x90\x80\x80") + pack(1) + BASIC[1:], error("utf8", ""))
vector("frame_utf8_truncated_sequence", "batch", "producer ends inside a 3-byte sequence.",
       b"\x85" + pack("v") + pack(1) + pack("type") + pack("batch") + pack("producer") +
       fixstr(b"ab\xe2\x82") + pack("seq") + pack(1) + pack("reports") + b"\x90",
       error("utf8", ""))
vector("frame_reserved_byte", "batch", "The never-used byte 0xC1 as a value.",
       b"\x81" + pack("v") + b"\xc1", error("decode", ""))
vector("frame_not_map", "batch", "An array instead of a map.", pack([1, "batch"]),
       error("type", ""))
vector("frame_version_2", "batch", "\"v\": 2 is refused by a v1 receiver.",
       pack({"v": 2, "type": "batch", "producer": "p1", "seq": 1, "reports": []}),
       error("version", "v"))
vector("frame_version_missing", "batch", "No \"v\" at all.",
       pack({"type": "batch", "producer": "p1", "seq": 1, "reports": []}),
       error("version", "v"))
vector("frame_version_string", "batch", "\"v\": \"1\" (a string) is not version 1.",
       pack({"v": "1", "type": "batch", "producer": "p1", "seq": 1, "reports": []}),
       error("version", "v"))
vector("frame_wrong_type", "batch", "An ack sent to ingest.",
       pack({"v": 1, "type": "ack", "producer": "p1", "seq": 1, "reports": []}),
       error("type", "type"))
vector("frame_missing_producer", "batch", "No producer.",
       pack({"v": 1, "type": "batch", "seq": 1, "reports": []}), error("missing", "producer"))
vector("frame_bad_producer", "batch", "A producer id with a space.",
       pack(batch([], producer="p 1")), error("syntax", "producer"))
vector("frame_long_producer", "batch", "A producer id of 65 bytes.",
       pack(batch([], producer="p" * 65)), error("limit", "producer"))
vector("frame_seq_zero", "batch", "seq starts at 1.", pack(batch([], seq=0)),
       error("range", "seq"))
vector("frame_seq_negative", "batch", "seq -1.", pack(batch([], seq=-1)), error("range", "seq"))
vector("frame_seq_float", "batch", "seq 1.0 is a float, not an integer.",
       pack(batch([], seq=1.0)), error("type", "seq"))
vector("frame_reports_missing", "batch", "No reports key.",
       pack({"v": 1, "type": "batch", "producer": "p1", "seq": 1}), error("missing", "reports"))
vector("frame_reports_not_array", "batch", "reports is a map.",
       pack({"v": 1, "type": "batch", "producer": "p1", "seq": 1, "reports": {"0": GOOD}}),
       error("type", "reports"))
vector("frame_too_many_reports", "batch", "10001 reports (nil each): the limit is 10000.",
       head(b"\xdc" + struct.pack(">H", 10001) + b"\xc0" * 10001), error("limit", "reports"))
vector("frame_duplicate_key", "batch", "seq given twice.",
       b"\x86" + pack("v") + pack(1) + pack("type") + pack("batch") + pack("producer") +
       pack("p1") + pack("seq") + pack(1) + pack("seq") + pack(2) + pack("reports") + b"\x90",
       error("syntax", "seq"))
vector("frame_forwarded_missing_jseq", "batch_forwarded", "A forwarded batch without jseq.",
       pack({"v": 1, "type": "batch", "producer": "p1", "seq": 1, "ingest": "ingest-1",
             "reports": []}), error("missing", "jseq"))
vector("frame_forwarded_missing_ingest", "batch_forwarded",
       "A producer's batch read as a forwarded one: no ingest id.",
       pack(batch([GOOD])), error("missing", "ingest"))

vector("frame_forwarded_journal_zero", "batch_forwarded",
       "A journal instance is >= 1.",
       pack(forwarded([], journal=0)), error("range", "journal"))

# ---- Acks ---------------------------------------------------------------------


def ack(producer, seq, status, accepted, rejected, err=None):
    m = {"v": 1, "type": "ack", "producer": producer, "seq": seq, "status": status,
         "accepted": accepted, "rejected": rejected}
    if err is not None:
        m["error"] = err
    return m


def ack_expect(producer, seq, status, accepted, rejected, err=None):
    e = {"producer": producer, "seq": seq, "status": status, "accepted": accepted,
         "rejected": rejected}
    if err is not None:
        e["error"] = err
    return e


R1 = {"index": 1, "field": "count", "code": "range", "reason": "count must be >= 0, got -5"}
R3 = {"index": 3, "field": "op", "code": "op", "reason": "op must be \"add\" or \"set\", got \"mul\""}
R0 = {"index": 0, "field": "period", "code": "period",
      "reason": "period '2012-13': month must be 01..12"}
RU = {"index": 2, "field": "source", "code": "syntax",
      "reason": "source 'Caf\u00e9' must start with a letter or digit, then A-Z a-z 0-9 _ . -"}

vector("ack_ok", "ack", "Every report accepted.",
       pack(ack("cmi-loader", 3, "ok", 2, [])), ack_expect("cmi-loader", 3, "ok", 2, []),
       canonical=True)
vector("ack_partial", "ack", "Two of four reports accepted; each reject names index, field, "
       "code and reason.",
       pack(ack("cmi-loader", 3, "partial", 2, [R1, R3])),
       ack_expect("cmi-loader", 3, "partial", 2, [R1, R3]), canonical=True)
vector("ack_rejected_reports", "ack", "Every report rejected (one of them quotes UTF-8 text).",
       pack(ack("p1", 9, "rejected", 0, [R0, RU])),
       ack_expect("p1", 9, "rejected", 0, [R0, RU]), canonical=True)
E_DEC = {"code": "decode", "field": "", "reason": "3 trailing bytes after the object"}
vector("ack_rejected_frame", "ack", "The answer to a frame that could not be read at all.",
       pack(ack("", 0, "rejected", 0, [], E_DEC)), ack_expect("", 0, "rejected", 0, [], E_DEC),
       canonical=True)
E_LIM = {"code": "limit", "field": "reports", "reason": "10001 reports, at most 10000 per batch"}
vector("ack_rejected_limit", "ack", "A batch refused as a whole after its producer and seq "
       "were read: the ack names them.",
       pack(ack("p1", 5, "rejected", 0, [], E_LIM)), ack_expect("p1", 5, "rejected", 0, [], E_LIM),
       canonical=True)
vector("ack_duplicate", "ack", "An older seq resent: nothing is applied again.",
       pack(ack("p1", 2, "duplicate", 0, [])), ack_expect("p1", 2, "duplicate", 0, []),
       canonical=True)
E_RETRY = {"code": "retry_later", "field": "", "reason": "journal full; resend this batch later"}
vector("ack_retry_later", "ack", "Ingest cannot take the batch now; the same batch must be "
       "resent later.",
       pack(ack("p1", 6, "retry_later", 0, [], E_RETRY)),
       ack_expect("p1", 6, "retry_later", 0, [], E_RETRY), canonical=True)
vector("ack_unknown_status", "ack", "An ack whose status is not one of the five.",
       pack(ack("p1", 6, "maybe", 0, [])), error("syntax", "status"))

# ---- Updates (compute -> publish) ---------------------------------------------

CELL = {"type": "cell", "source": "CMI", "period": "2012", "gran": "year",
        "dims": {"card": "domestic"}, "count": 1100000, "amount": 71183000000,
        "currency": "MAD", "exp": 2, "avg_ticket": 64711.81818181818,
        "yoy_amount_pct": 46.4, "share": {"card": {"amount_pct": 94.62}}}
RATIO = {"type": "ratio", "name": "abroad_vs_domestic", "period": "2012", "value": 9.3,
         "numerator": {"topic": "ODC/2012/scope=abroad", "measure": "amount",
                       "value": 700000000000},
         "denominator": {"topic": "ODC/2012/scope=domestic", "measure": "amount",
                         "value": 75300000000}}
REJECT = {"type": "reject", "producer": "p1", "batch_seq": 4, "index": 0, "code": "overflow",
          "field": "count", "reason": "CMI/2012/ count would exceed 9223372036854775807"}

# A cell's body always holds type, source, period, gran and dims (PROTOCOL.md 5.4).
ROLLED_UP = {"type": "cell", "source": "CMI", "period": "2012-Q3", "gran": "quarter",
             "dims": {"card": "*", "channel": "ecommerce"}, "count": 3}


def update(epoch, items, useq=1):
    return {"v": 1, "type": "update", "epoch": epoch, "useq": useq, "items": items}


vector("update_cells", "update",
       "Two changed topics: a cell with its indicator map, and a removed cell (empty body).",
       pack(update(1700000000000000, [["CMI/2012/card=domestic", pack(CELL)],
                                      ["MTC/2012/", b""]])),
       {"epoch": 1700000000000000, "useq": 1,
        "items": [{"topic": "CMI/2012/card=domestic", "body": CELL},
                  {"topic": "MTC/2012/", "body": None}]},
       canonical=True)
vector("update_special_topics", "update",
       "A ratio, a compute-side reject and a rolled-up cell ('*' values, sorted dims).",
       pack(update(7, [["$ratio/abroad_vs_domestic/2012", pack(RATIO)],
                       ["$reject", pack(REJECT)],
                       ["CMI/2012-Q3/card=*,channel=ecommerce", pack(ROLLED_UP)]])),
       {"epoch": 7, "useq": 1,
        "items": [{"topic": "$ratio/abroad_vs_domestic/2012", "body": RATIO},
                  {"topic": "$reject", "body": REJECT},
                  {"topic": "CMI/2012-Q3/card=*,channel=ecommerce", "body": ROLLED_UP}]},
       canonical=True)
vector("update_bad_topic", "update", "Topic dims not sorted by name.",
       pack(update(7, [["CMI/2012/channel=x,card=y", pack({"type": "cell"})]])),
       error("syntax", "items"))
vector("update_body_not_map", "update", "An item body that is an array, not a map.",
       pack(update(7, [["CMI/2012/", pack([1, 2])]])), error("type", "items"))
vector("update_missing_useq", "update", "An update without its frame number.",
       pack({"v": 1, "type": "update", "epoch": 7, "items": []}), error("missing", "useq"))
vector("update_body_trailing", "update", "An item body with a trailing byte.",
       pack(update(7, [["CMI/2012/", pack({"type": "cell"}) + b"\xc0"]])),
       error("decode", "items"))

# ---- Feed bodies and heartbeats -------------------------------------------------

FIELDS = {"type": "cell", "source": "MTC", "period": "2012", "gran": "year", "dims": {},
          "count": 1250000, "amount": 74300000000, "currency": "MAD", "exp": 2,
          "avg_ticket": 59440.0, "yoy_count_pct": 76.6, "yoy_avg_ticket_pct": -18.0}
FEED = {"v": 1, "seq": 17, "prev": 3, "epoch": 1700000000000000}
vector("feed_cell", "feed",
       "Publish splices v, seq, prev, epoch in front of compute's map (fixmap of 12 entries "
       "-> map16 of 16).",
       pack(dict(FEED, **FIELDS)), dict(FEED, **FIELDS), canonical=True,
       input={"fields_hex": pack(FIELDS).hex(), "seq": 17, "prev": 3,
              "epoch": 1700000000000000})
SMALL = {"type": "cell", "count": 1}
vector("feed_small", "feed", "A 2-entry fixmap grows to a 6-entry fixmap; prev 0 = first "
       "message on this topic.",
       pack(dict({"v": 1, "seq": 1, "prev": 0, "epoch": 5}, **SMALL)),
       dict({"v": 1, "seq": 1, "prev": 0, "epoch": 5}, **SMALL), canonical=True,
       input={"fields_hex": pack(SMALL).hex(), "seq": 1, "prev": 0, "epoch": 5})
BIG = {"k%02d" % i: i for i in range(20)}
vector("feed_map16", "feed", "A map16 of 20 entries grows to 24.",
       pack(dict({"v": 1, "seq": 2**40, "prev": 2**40 - 1, "epoch": 1}, **BIG)),
       dict({"v": 1, "seq": 2**40, "prev": 2**40 - 1, "epoch": 1}, **BIG), canonical=True,
       input={"fields_hex": pack(BIG).hex(), "seq": 2**40, "prev": 2**40 - 1, "epoch": 1})
HB = {"v": 1, "type": "hb", "epoch": 1700000000000000, "seq": 1234, "interval_ms": 1000}
vector("heartbeat", "heartbeat", "Publish's heartbeat body on topic $hb.", pack(HB), HB,
       canonical=True, input={"epoch": 1700000000000000, "seq": 1234, "interval_ms": 1000})

# ---- Journal replay (ingest <-> compute) ------------------------------------------

HELLO = {"v": 1, "type": "hello", "ingest": "ingest-1", "journal": 1700000000123456,
         "first": 4001, "head": 5230}
vector("hello_basic", "hello", "Ingest tells compute where its journal stands.", pack(HELLO),
       {k: HELLO[k] for k in ("ingest", "journal", "first", "head")}, canonical=True)
vector("hello_empty_journal", "hello", "An empty journal: first = head + 1.",
       pack(dict(HELLO, first=1, head=0)),
       {"ingest": "ingest-1", "journal": 1700000000123456, "first": 1, "head": 0},
       canonical=True)
vector("hello_first_past_head", "hello", "first can be at most head + 1.",
       pack(dict(HELLO, first=5232)), error("range", "first"))
vector("hello_missing_journal", "hello", "Every key of a hello is required.",
       pack({k: v for k, v in HELLO.items() if k != "journal"}), error("missing", "journal"))
POSITION = {"v": 1, "type": "position", "journal": 1700000000123456, "applied": 5230,
            "ckpt": 5000, "resend": False}
vector("position_basic", "position", "Compute has applied up to 5230 and checkpointed 5000.",
       pack(POSITION), {k: POSITION[k] for k in ("journal", "applied", "ckpt", "resend")},
       canonical=True)
vector("position_resend", "position", "Compute asks for every entry after 4000 again.",
       pack(dict(POSITION, applied=4000, ckpt=4000, resend=True)),
       {"journal": 1700000000123456, "applied": 4000, "ckpt": 4000, "resend": True},
       canonical=True)
vector("position_ckpt_past_applied", "position", "A checkpoint cannot be ahead of applied.",
       pack(dict(POSITION, ckpt=5231)), error("range", "ckpt"))
vector("position_resend_not_bool", "position", "resend is a MessagePack boolean.",
       pack(dict(POSITION, resend=1)), error("type", "resend"))


def main():
    check = sys.argv[1:] == ["--check"]
    names = set()
    stale = []
    for v in VECTORS:
        assert v["name"] not in names, v["name"]
        names.add(v["name"])
        path = os.path.join(HERE, v["name"] + ".json")
        text = json.dumps(v, indent=2, ensure_ascii=False) + "\n"
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old != text:
            stale.append(v["name"])
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
    extra = [f for f in os.listdir(HERE)
             if f.endswith(".json") and f[:-5] not in names]
    if check:
        if stale or extra:
            print("vectors out of date: %s" % ", ".join(stale + extra), file=sys.stderr)
            return 1
        return 0
    for f in extra:
        os.remove(os.path.join(HERE, f))
    print("%d vectors written to %s" % (len(VECTORS), HERE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
