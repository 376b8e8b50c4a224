"""Checks every protocol test vector with an independent Python decoder.

The decoder below is written from proto/PROTOCOL.md alone (python3-msgpack for
the bytes, the document for every rule), not from the C code: if the two
implementations and the hand-written expectations agree, the document is what
they implement. Valid messages are re-encoded in the canonical form of
PROTOCOL.md section 9 and decoded again.
"""

import calendar
import glob
import json
import os
import re
import subprocess
import sys

import msgpack
import pytest

SOURCE_DIR = os.environ.get(
    "PAYSTAT_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
VECTOR_DIR = os.path.join(SOURCE_DIR, "proto", "vectors")

# PROTOCOL.md section 10.
MAX_FRAME = 4 * 1024 * 1024
MAX_REPORTS = 10000
MAX_DIMS = 4
MAX_DEPTH = 8
INT_MAX = 2**63 - 1

# Active ISO 4217 codes with a numeric minor unit (PROTOCOL.md 3.1).
ISO_4217 = set("""
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
""".split())

PRODUCER_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}\Z")
SOURCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z")
DIM_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
DIM_VALUE_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
PERIOD_RE = re.compile(r"(\d{4})(?:-Q(\d)|-(\d\d)(?:-(\d\d))?)?\Z")
STATUSES = ["ok", "partial", "rejected", "duplicate", "retry_later"]
CODES = ["decode", "limit", "version", "type", "missing", "range", "syntax", "utf8", "period",
         "currency", "currency_mismatch", "dims", "op", "overflow", "retry_later",
         "not_permitted"]
FIELDS = ["", "v", "type", "producer", "seq", "ingest", "jseq", "reports", "source", "period",
          "dims", "count", "amount", "currency", "op", "i"]


class ProtoError(Exception):
    def __init__(self, code, field):
        super().__init__("%s/%s" % (code, field))
        self.code, self.field = code, field


class Pairs:
    """A decoded map, kept as its (key, value) pairs so duplicates stay visible."""

    def __init__(self, pairs):
        self.pairs = list(pairs)


def _depth(obj):
    if isinstance(obj, Pairs):
        return 1 + max([max(_depth(k), _depth(v)) for k, v in obj.pairs] or [0])
    if isinstance(obj, list):
        return 1 + max([_depth(x) for x in obj] or [0])
    return 0


def unpack_frame(data):
    """Section 1 and 10: exactly one object, valid UTF-8, bounded size and depth."""
    if len(data) == 0:
        raise ProtoError("decode", "")
    if len(data) > MAX_FRAME:
        raise ProtoError("limit", "")
    try:
        # python3-msgpack bounds every container count by the frame length, so
        # giant headers fail here without allocating.
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True,
                              object_pairs_hook=Pairs)
    except UnicodeDecodeError:
        raise ProtoError("utf8", "")
    except (ValueError, msgpack.exceptions.UnpackException):
        raise ProtoError("decode", "")
    if _depth(obj) > MAX_DEPTH:
        raise ProtoError("limit", "")
    return obj


def fields(pairs, names):
    """Known string keys of a map; unknown and non-string keys ignored, duplicates refused."""
    out = {}
    for k, v in pairs.pairs:
        if isinstance(k, str) and k in names:
            if k in out:
                raise ProtoError("syntax", k)
            out[k] = v
    return out


def is_int(x):
    return type(x) is int


def need_int(m, key, lo, hi=INT_MAX):
    if key not in m:
        raise ProtoError("missing", key)
    x = m[key]
    if not is_int(x):
        raise ProtoError("type", key)
    if not lo <= x <= hi:
        raise ProtoError("range", key)
    return x


def need_str(m, key):
    if key not in m:
        raise ProtoError("missing", key)
    if not isinstance(m[key], str):
        raise ProtoError("type", key)
    return m[key]


def need_id(m, key, empty_ok=False):
    s = need_str(m, key)
    if len(s.encode()) > 64:
        raise ProtoError("limit", key)
    if not (empty_ok and s == "") and not PRODUCER_RE.match(s):
        raise ProtoError("syntax", key)
    return s


def check_header(m, want):
    v = m.get("v")
    if not is_int(v) or v != 1:
        raise ProtoError("version", "v")
    if need_str(m, "type") != want:
        raise ProtoError("type", "type")


def parse_period(text):
    """Returns the granularity name of a valid period, else None."""
    m = PERIOD_RE.match(text)
    if not m:
        return None
    year, quarter, month, day = m.groups()
    if int(year) < 1:
        return None
    if quarter is not None:
        return "quarter" if 1 <= int(quarter) <= 4 else None
    if month is None:
        return "year"
    if not 1 <= int(month) <= 12:
        return None
    if day is None:
        return "month"
    last = calendar.monthrange(int(year), int(month))[1]
    return "day" if 1 <= int(day) <= last else None


def parse_dim(token, allow_star):
    name, eq, value = token.partition("=")
    if not eq or not DIM_NAME_RE.match(name):
        return None
    if value == "*":
        return (name, value) if allow_star else None
    return (name, value) if DIM_VALUE_RE.match(value) else None


def decode_report(obj, forwarded, position):
    """Sections 3.1, 3.2, 5.1: returns the report's meaning, or raises ProtoError with .index
    set to the report's index ("i" once read, else its position)."""
    where = {"index": position}
    try:
        return _report(obj, forwarded, where)
    except ProtoError as e:
        e.index = where["index"]
        raise


def _report(obj, forwarded, where):
    if not isinstance(obj, Pairs):
        raise ProtoError("type", "")
    m = fields(obj, {"source", "period", "dims", "count", "amount", "currency", "op", "i"})
    index = where["index"]
    if forwarded:
        index = where["index"] = need_int(m, "i", 0, MAX_REPORTS - 1)
    source = need_str(m, "source")
    if len(source.encode()) > 32:
        raise ProtoError("limit", "source")
    if not SOURCE_RE.match(source):
        raise ProtoError("syntax", "source")
    period = need_str(m, "period")
    gran = parse_period(period)
    if gran is None:
        raise ProtoError("period", "period")
    dims = []
    if "dims" in m:
        if not isinstance(m["dims"], list):
            raise ProtoError("type", "dims")
        if len(m["dims"]) > MAX_DIMS:
            raise ProtoError("dims", "dims")
        for token in m["dims"]:
            if not isinstance(token, str):
                raise ProtoError("type", "dims")
            dim = parse_dim(token, allow_star=False)
            if dim is None or dim[0] in dict(dims):
                raise ProtoError("dims", "dims")
            dims.append(dim)
    r = {"index": index, "source": source, "period": period, "gran": gran,
         "dims": ["%s=%s" % d for d in sorted(dims)]}
    if m.get("op") == "retract":
        for key in ("count", "amount", "currency"):
            if key in m:
                raise ProtoError("op", key)
        r["op"] = "retract"
        return r
    if "count" in m:
        r["count"] = need_int(m, "count", 0)
    elif "amount" not in m:
        raise ProtoError("missing", "count")
    if "amount" in m:
        r["amount"] = need_int(m, "amount", 0)
    if "currency" in m:
        cur = need_str(m, "currency")
        if cur not in ISO_4217:
            raise ProtoError("currency", "currency")
        if "amount" not in m:
            raise ProtoError("missing", "amount")
        r["currency"] = cur
    elif "amount" in m:
        raise ProtoError("missing", "currency")
    op = m.get("op", "add")
    if not isinstance(op, str):
        raise ProtoError("type", "op")
    if op not in ("add", "set", "retract"):
        raise ProtoError("op", "op")
    r["op"] = op
    return r


def decode_batch(data, forwarded):
    top = unpack_frame(data)
    if not isinstance(top, Pairs):
        raise ProtoError("type", "")
    m = fields(top, {"v", "type", "producer", "seq", "ingest", "jseq", "journal", "reports"})
    check_header(m, "batch")
    out = {"producer": need_id(m, "producer"), "seq": need_int(m, "seq", 1)}
    if forwarded:
        out["ingest"] = need_id(m, "ingest")
        out["jseq"] = need_int(m, "jseq", 1)
        if "journal" in m:
            out["journal"] = need_int(m, "journal", 1)
    if "reports" not in m:
        raise ProtoError("missing", "reports")
    reports = m["reports"]
    if not isinstance(reports, list):
        raise ProtoError("type", "reports")
    if len(reports) > MAX_REPORTS:
        raise ProtoError("limit", "reports")
    out["total"] = len(reports)
    out["reports"], out["rejects"] = [], []
    for position, obj in enumerate(reports):
        try:
            out["reports"].append(decode_report(obj, forwarded, position))
        except ProtoError as e:
            out["rejects"].append({"index": e.index, "code": e.code, "field": e.field})
    out["rejects"].sort(key=lambda r: r["index"])
    return out


def decode_error_map(obj, where, with_index):
    if not isinstance(obj, Pairs):
        raise ProtoError("type", where)
    m = fields(obj, {"index", "field", "code", "reason"})
    out = {}
    try:
        if with_index:
            out["index"] = need_int(m, "index", 0, MAX_REPORTS - 1)
        out["field"] = need_str(m, "field")
        out["code"] = need_str(m, "code")
        out["reason"] = need_str(m, "reason")
    except ProtoError as e:
        raise ProtoError(e.code, where)
    if out["code"] not in CODES or out["field"] not in FIELDS:
        raise ProtoError("syntax", where)
    return out


def decode_ack(data):
    top = unpack_frame(data)
    if not isinstance(top, Pairs):
        raise ProtoError("type", "")
    m = fields(top, {"v", "type", "producer", "seq", "status", "accepted", "rejected", "error"})
    check_header(m, "ack")
    out = {"producer": need_id(m, "producer", empty_ok=True), "seq": need_int(m, "seq", 0)}
    out["status"] = need_str(m, "status")
    if out["status"] not in STATUSES:
        raise ProtoError("syntax", "status")
    out["accepted"] = need_int(m, "accepted", 0, MAX_REPORTS)
    if "rejected" not in m:
        raise ProtoError("missing", "rejected")
    if not isinstance(m["rejected"], list):
        raise ProtoError("type", "rejected")
    out["rejected"] = [decode_error_map(r, "rejected", True) for r in m["rejected"]]
    if "error" in m:
        out["error"] = decode_error_map(m["error"], "error", False)
    return out


def check_topic(topic):
    """Section 6, for the topics an update may carry."""
    if topic == "$reject":
        return True
    if topic.startswith("$ratio/"):
        name, slash, period = topic[len("$ratio/"):].partition("/")
        return bool(slash) and bool(DIM_VALUE_RE.match(name)) and parse_period(period) is not None
    parts = topic.split("/")
    if len(parts) != 3 or not SOURCE_RE.match(parts[0]) or parse_period(parts[1]) is None:
        return False
    if parts[2] == "":
        return True
    dims = [parse_dim(t, allow_star=True) for t in parts[2].split(",")]
    if None in dims or len(dims) > MAX_DIMS:
        return False
    names = [d[0] for d in dims]
    return names == sorted(set(names))


def plain(obj):
    """Pairs -> dict, recursively, for comparison with JSON expectations."""
    if isinstance(obj, Pairs):
        return {k: plain(v) for k, v in obj.pairs}
    if isinstance(obj, list):
        return [plain(x) for x in obj]
    return obj


def decode_update(data):
    top = unpack_frame(data)
    if not isinstance(top, Pairs):
        raise ProtoError("type", "")
    m = fields(top, {"v", "type", "epoch", "useq", "items"})
    check_header(m, "update")
    out = {"epoch": need_int(m, "epoch", 0), "useq": need_int(m, "useq", 1), "items": []}
    if "items" not in m:
        raise ProtoError("missing", "items")
    if not isinstance(m["items"], list):
        raise ProtoError("type", "items")
    for item in m["items"]:
        if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str) or
                not isinstance(item[1], bytes)):
            raise ProtoError("type", "items")
        topic, body = item
        if len(topic.encode()) > 436:
            raise ProtoError("limit", "items")
        if not check_topic(topic):
            raise ProtoError("syntax", "items")
        if body == b"":
            out["items"].append({"topic": topic, "body": None})
            continue
        try:
            fields_map = unpack_frame(body)
        except ProtoError as e:
            raise ProtoError(e.code, "items")
        if not isinstance(fields_map, Pairs):
            raise ProtoError("type", "items")
        out["items"].append({"topic": topic, "body": plain(fields_map)})
    return out


# ---- Canonical encoders (PROTOCOL.md section 9) ------------------------------

def decode_hello(data):
    top = unpack_frame(data)
    if not isinstance(top, Pairs):
        raise ProtoError("type", "")
    m = fields(top, {"v", "type", "ingest", "journal", "first", "head"})
    check_header(m, "hello")
    out = {"ingest": need_id(m, "ingest"), "journal": need_int(m, "journal", 1),
           "first": need_int(m, "first", 1), "head": need_int(m, "head", 0)}
    if out["first"] > out["head"] + 1:
        raise ProtoError("range", "first")
    return out


def decode_position(data):
    top = unpack_frame(data)
    if not isinstance(top, Pairs):
        raise ProtoError("type", "")
    m = fields(top, {"v", "type", "journal", "applied", "ckpt", "resend"})
    check_header(m, "position")
    out = {"journal": need_int(m, "journal", 1), "applied": need_int(m, "applied", 0)}
    out["ckpt"] = need_int(m, "ckpt", 0, out["applied"])
    if "resend" not in m:
        raise ProtoError("missing", "resend")
    if not isinstance(m["resend"], bool):
        raise ProtoError("type", "resend")
    out["resend"] = m["resend"]
    return out


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def encode_report(r, forwarded):
    m = {"source": r["source"], "period": r["period"]}
    if r["dims"]:
        m["dims"] = r["dims"]
    for key in ("count", "amount", "currency"):
        if key in r:
            m[key] = r[key]
    if r["op"] != "add":
        m["op"] = r["op"]
    if forwarded:
        m["i"] = r["index"]
    return m


def encode_batch(b, forwarded):
    m = {"v": 1, "type": "batch", "producer": b["producer"], "seq": b["seq"]}
    if forwarded:
        m["ingest"], m["jseq"] = b["ingest"], b["jseq"]
        if "journal" in b:
            m["journal"] = b["journal"]
    m["reports"] = [encode_report(r, forwarded) for r in b["reports"]]
    return pack(m)


def encode_ack(a):
    m = {"v": 1, "type": "ack", "producer": a["producer"], "seq": a["seq"],
         "status": a["status"], "accepted": a["accepted"],
         "rejected": [{"index": r["index"], "field": r["field"], "code": r["code"],
                       "reason": r["reason"]} for r in a["rejected"]]}
    if "error" in a:
        e = a["error"]
        m["error"] = {"code": e["code"], "field": e["field"], "reason": e["reason"]}
    return pack(m)


def feed_body(fields_bytes, seq, prev, epoch):
    """Section 5.3: the four keys spliced in front of the item's map, its entries untouched."""
    b = fields_bytes[0]
    if 0x80 <= b <= 0x8f:
        count, rest = b & 0x0f, fields_bytes[1:]
    elif b == 0xde:
        count, rest = int.from_bytes(fields_bytes[1:3], "big"), fields_bytes[3:]
    elif b == 0xdf:
        count, rest = int.from_bytes(fields_bytes[1:5], "big"), fields_bytes[5:]
    else:
        raise ValueError("not a map")
    n = count + 4
    header = (bytes([0x80 | n]) if n < 16 else b"\xde" + n.to_bytes(2, "big") if n < 65536
              else b"\xdf" + n.to_bytes(4, "big"))
    return (header + pack("v") + pack(1) + pack("seq") + pack(seq) + pack("prev") + pack(prev) +
            pack("epoch") + pack(epoch) + rest)


# ---- Tests -------------------------------------------------------------------

def load_vectors():
    out = []
    for path in sorted(glob.glob(os.path.join(VECTOR_DIR, "*.json"))):
        with open(path, encoding="utf-8") as f:
            out.append(json.load(f))
    return out


VECTORS = load_vectors()


def test_enough_vectors_and_up_to_date():
    assert len(VECTORS) >= 25
    kinds = {v["message"] for v in VECTORS}
    assert {"batch", "batch_forwarded", "ack", "update", "feed"} <= kinds
    subprocess.run([sys.executable, os.path.join(VECTOR_DIR, "generate.py"), "--check"],
                   check=True)


def expect_error(fn, v):
    with pytest.raises(ProtoError) as info:
        fn()
    want = v["expect"]["error"]
    assert (info.value.code, info.value.field) == (want["code"], want["field"])


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector(v):
    data = bytes.fromhex(v["hex"])
    kind, expect = v["message"], v["expect"]
    if kind in ("batch", "batch_forwarded"):
        forwarded = kind == "batch_forwarded"
        if "error" in expect:
            expect_error(lambda: decode_batch(data, forwarded), v)
            return
        got = decode_batch(data, forwarded)
        assert got == expect
        again = encode_batch(got, forwarded)
        if v["canonical"]:
            assert again == data
        back = decode_batch(again, forwarded)
        assert back["rejects"] == []
        if forwarded:
            assert back["reports"] == got["reports"]
        else:
            # The producer's form carries no index: it is the position. The
            # forwarded form keeps the original one.
            assert back["reports"] == [dict(r, index=i) for i, r in enumerate(got["reports"])]
            fwd = dict(got, ingest="ingest-rt", jseq=1)
            assert decode_batch(encode_batch(fwd, True), True)["reports"] == got["reports"]
    elif kind == "ack":
        if "status" not in expect:
            expect_error(lambda: decode_ack(data), v)
            return
        got = decode_ack(data)
        assert got == expect
        again = encode_ack(got)
        if v["canonical"]:
            assert again == data
        assert decode_ack(again) == expect
    elif kind == "update":
        if "error" in expect:
            expect_error(lambda: decode_update(data), v)
            return
        got = decode_update(data)
        assert got == expect
        items = [[i["topic"], b"" if i["body"] is None else pack(i["body"])]
                 for i in got["items"]]
        again = pack({"v": 1, "type": "update", "epoch": got["epoch"], "useq": got["useq"],
                      "items": items})
        if v["canonical"]:
            assert again == data
        assert decode_update(again) == expect
    elif kind == "feed":
        i = v["input"]
        built = feed_body(bytes.fromhex(i["fields_hex"]), i["seq"], i["prev"], i["epoch"])
        assert built == data
        body = unpack_frame(data)
        assert [k for k, _ in body.pairs[:4]] == ["v", "seq", "prev", "epoch"]
        assert plain(body) == expect
    elif kind in ("hello", "position"):
        decode, head = {"hello": (decode_hello, ["ingest", "journal", "first", "head"]),
                        "position": (decode_position,
                                     ["journal", "applied", "ckpt", "resend"])}[kind]
        if "error" in expect:
            expect_error(lambda: decode(data), v)
            return
        got = decode(data)
        assert got == expect
        again = pack(dict({"v": 1, "type": kind}, **{k: got[k] for k in head}))
        if v["canonical"]:
            assert again == data
        assert decode(again) == expect
    elif kind == "heartbeat":
        i = v["input"]
        assert pack({"v": 1, "type": "hb", "epoch": i["epoch"], "seq": i["seq"],
                     "interval_ms": i["interval_ms"]}) == data
        assert plain(unpack_frame(data)) == expect
    else:
        pytest.fail("unknown message kind %r" % kind)
