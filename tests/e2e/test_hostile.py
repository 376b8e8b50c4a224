"""Hostile input: every socket paystat binds gets at least 10,000 malformed
frames, generated from a fixed seed, while a well-behaved producer and a
subscriber keep working.

Malformed means: truncated, trailing bytes, wrong types, giant container
headers (dd ff ff ff ff, df ff ff ff ff, ...), nesting deeper than allowed,
more objects than allowed, invalid UTF-8, negative and overflowing numbers,
empty frames, random bytes, random mutations of good frames, wrong frame
counts, junk subscriptions on the feed, and frames over the size limit
(the connection is dropped: ZMQ_MAXMSGSIZE).

Checked: every malformed batch sent to ingest (with an envelope of at most
ANSWERED_FRAMES frames) is answered with the error code its defect calls
for; compute, publish and the snapshot socket drop what they cannot read;
every good batch is acknowledged and every good
report shows on the feed with no gap and in a snapshot taken afterwards; no service dies or restarts (same
pids); each service's peak RSS (VmHWM) stays under HOSTILE_RSS_MB, the
bound documented in README.md ("Tests")."""

import random
import struct
import time
from pathlib import Path

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

import psclient

SEED = 20121127
FRAMES_PER_SOCKET = 10_000
WINDOW = 250  # malformed frames in flight before the good producer takes a turn
OVERSIZED = 3  # frames over 4 MiB per socket, each on its own connection
MAX_FRAME = 4 << 20
MAX_INPUT = 8 << 20  # what ingest's front door and compute read (PS_MAX_INPUT)
MAX_OBJECTS = 1 << 18
MAX_REPORTS = 10_000
# Peak resident memory of each service across the whole test, MiB (README.md, "Tests").
HOSTILE_RSS_MB = 64
# Log lines a service may write over the whole test (it wrote one per
# malformed frame before repeated events were aggregated: about 9,000).
LOG_LINES_MAX = 200
FRAME_CODES = {"decode", "limit", "version", "type", "missing", "range", "syntax", "utf8"}
STATUSES = {"ok", "partial", "rejected", "duplicate", "retry_later"}
# Ingest echoes every frame before the batch. A message of up to this many
# frames must be answered; one with more may be dropped unanswered, since no
# sensible envelope is that long.
ANSWERED_FRAMES = 4


pack = psclient.pack


def raw_str(text):
    """A raw MessagePack str of arbitrary bytes (msgpack only packs valid text)."""
    n = len(text)
    if n < 32:
        return bytes([0xa0 | n]) + text
    if n < 256:
        return b"\xd9" + bytes([n]) + text
    return b"\xda" + struct.pack(">H", n) + text


def raw_map(pairs):
    """A map from already-packed (key, value) pairs."""
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)


BAD_UTF8 = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"a\x80b",
            b"\xf8\x88\x80\x80\x80", b"caf\xe9"]
GIANT_HEADERS = [b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdc\xff\xff",
                 b"\xde\xff\xff", b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff",
                 b"\xc9\xff\xff\xff\xff\x01", b"\xdd\x7f\xff\xff\xff", b"\xda\xff\xff"]


class Batches:
    """Malformed producer batches (or, FORWARDED, ingest->compute batches),
    each with what ingest must answer: ("frame", code) for a refused frame,
    ("report", code) for a well-formed batch whose only report is invalid,
    ("any", None) when the defect is random."""

    def __init__(self, rng, forwarded=False):
        self.rng = rng
        self.forwarded = forwarded
        self.seq = 0  # report-level batches must not look like resends

    def fields(self, producer="hostile", seq=None, reports=None):
        if seq is None:
            self.seq += 1
            seq = self.seq
        pairs = [("v", 1), ("type", "batch"), ("producer", producer), ("seq", seq)]
        if self.forwarded:
            pairs += [("ingest", "hostile-ingest"), ("jseq", seq)]
        pairs.append(("reports", [self.report()] if reports is None else reports))
        return pairs

    def report(self, **extra):
        r = {"source": "HOST", "period": "2012", "dims": ["card=domestic"], "count": 1,
             "amount": 100, "currency": "MAD"}
        if self.forwarded:
            r["i"] = 0
        r.update(extra)
        return r

    def good(self):
        return pack(dict(self.fields()))

    def with_field(self, key, packed_value):
        """A batch whose KEY holds the raw bytes PACKED_VALUE."""
        pairs = [(pack(k), packed_value if k == key else pack(v)) for k, v in self.fields()]
        return raw_map(pairs)

    def without(self, key):
        return pack({k: v for k, v in self.fields() if k != key})

    def one(self):
        kind = self.rng.choice(self.KINDS)
        return kind(self)

    # ---- families ----

    def truncated(self):
        good = self.good()
        return good[:self.rng.randrange(1, len(good))], ("frame", "decode")

    def trailing(self):
        return self.good() + self.rng.randbytes(self.rng.randint(1, 8)), ("frame", "decode")

    def empty(self):
        return b"", ("frame", "decode")

    def giant(self):
        head = self.rng.choice(GIANT_HEADERS)
        if self.rng.random() < 0.5:
            return head + self.rng.randbytes(self.rng.randint(0, 16)), ("frame", "decode")
        return self.with_field("reports", head + b"\xc0"), ("frame", "decode")

    def deep(self):
        depth = self.rng.randint(9, 300)
        level = self.rng.choice([b"\x91", b"\x81\xa1k"])
        nested = level * depth + b"\xc0"
        if self.rng.random() < 0.5:
            return nested, ("frame", "limit")
        return self.with_field("reports", nested), ("frame", "limit")

    def many_objects(self):
        """An array of nils around the object cap: refused on the count
        past it, decoded (and found not to be a map) below it."""
        n = self.rng.randint(MAX_OBJECTS - 1000, MAX_OBJECTS + 1000)
        expect = ("frame", "limit") if n + 1 > MAX_OBJECTS else ("", "type")
        return b"\xdd" + struct.pack(">I", n) + b"\xc0" * n, expect

    def too_many_reports(self):
        n = MAX_REPORTS + self.rng.randint(1, 50)
        reports = b"\xdc" + struct.pack(">H", n) + b"\x00" * n
        return self.with_field("reports", reports), ("reports", "limit")

    def bad_utf8(self):
        bad = self.rng.choice(BAD_UTF8)
        if self.rng.random() < 0.5:
            return self.with_field("producer", raw_str(bad)), ("frame", "utf8")
        rep = raw_map([(pack("source"), raw_str(b"HO" + bad)), (pack("period"), pack("2012")),
                       (pack("count"), pack(1))])
        return self.with_field("reports", b"\x91" + rep), ("frame", "utf8")

    def frame_types(self):
        key, value, code = self.rng.choice([
            ("v", pack("1"), "version"), ("v", pack(1.0), "version"), ("v", pack(None), "version"),
            ("type", pack(5), "type"), ("type", pack("ack"), "type"),
            ("producer", pack(123), "type"), ("producer", pack(b"bin"), "type"),
            ("producer", pack(""), "syntax"), ("producer", pack("p 1"), "syntax"),
            ("producer", pack("p" * 65), "limit"),
            ("seq", pack(1.5), "type"), ("seq", pack("7"), "type"), ("seq", pack([1]), "type"),
            ("reports", pack({}), "type"), ("reports", pack("r"), "type"),
            ("reports", pack(None), "type")])
        return self.with_field(key, value), (key, code)

    def missing(self):
        key, code = self.rng.choice([("v", "version"), ("type", "missing"),
                                     ("producer", "missing"), ("seq", "missing"),
                                     ("reports", "missing")])
        return self.without(key), (key, code)

    def not_a_map(self):
        value = self.rng.choice([[1, 2], "batch", 7, None, True, 1.5, b"bytes", -3])
        return pack(value), ("", "type")

    def numbers(self):
        key, value, code = self.rng.choice([
            ("seq", -1, "range"), ("seq", 0, "range"), ("seq", 2**63, "range"),
            ("seq", 2**64 - 1, "range"), ("seq", -2**63, "range"),
            ("v", -1, "version"), ("v", 2, "version"), ("v", 2**64 - 1, "version")])
        return self.with_field(key, pack(value)), (key, code)

    def duplicate_key(self):
        pairs = [(pack(k), pack(v)) for k, v in self.fields()]
        pairs.insert(0, (pack("seq"), pack(1)))
        return raw_map(pairs), ("seq", "syntax")

    def bad_report(self):
        field, value, code = self.rng.choice([
            ("count", -5, "range"), ("count", 2**63, "range"), ("count", 2**64 - 1, "range"),
            ("amount", -1, "range"), ("count", "12", "type"), ("count", 1.0, "type"),
            ("dims", "card=x", "type"), ("period", 2012, "type"), ("period", "2012-13", "period"),
            ("period", "2011-02-29", "period"), ("source", None, "type"),
            ("source", "S" * 33, "limit"), ("currency", "XYZ", "currency"),
            ("dims", ["a=1", "b=2", "c=3", "d=4", "e=5"], "dims"), ("op", "mul", "op")])
        return pack(dict(self.fields(reports=[self.report(**{field: value})]))), ("report", code)

    def random_bytes(self):
        return self.rng.randbytes(self.rng.randint(1, 300)), ("any", None)

    def mutated(self):
        """A good batch with a few random bytes changed: usually refused,
        sometimes still valid (then any status is fine)."""
        # Its own producer: a mutated seq must not make later batches duplicates.
        data = bytearray(pack(dict(self.fields(producer="mutant"))))
        for _ in range(self.rng.randint(1, 4)):
            data[self.rng.randrange(len(data))] = self.rng.randrange(256)
        return bytes(data), ("status", None)

    def frame_error(self):
        """A frame no receiver may accept (no valid report inside)."""
        return self.rng.choice(self.FRAME_KINDS)(self)

    FRAME_KINDS = [truncated, trailing, empty, giant, deep, bad_utf8, frame_types, missing,
                   not_a_map, numbers, duplicate_key, random_bytes, random_bytes,
                   too_many_reports]
    KINDS = FRAME_KINDS + [bad_report, bad_report, mutated, mutated]


class Updates:
    """Malformed compute->publish update frames."""

    def __init__(self, rng):
        self.rng = rng

    def fields(self, items=None):
        body = pack({"type": "cell", "source": "HOST", "period": "2012", "count": 1})
        if items is None:
            items = [["HOST/2012/", body]]
        return {"v": 1, "type": "update", "epoch": 1, "useq": self.rng.randint(1, 1000),
                "items": items}

    BAD_VALUES = [("v", [-1, 0, 2, 2**64 - 1, "1", None, 1.0]),
                  ("type", [5, "ack", None, b"update"]),
                  ("epoch", [-1, 2**64 - 1, "1", None, 1.5]),
                  ("useq", [-1, 0, 2**64 - 1, "1", 1.5]),
                  ("items", [{}, "x", None, 5, b""])]

    def one(self):
        rng = self.rng
        good = pack(self.fields())
        choice = rng.randrange(12)
        if choice == 0:
            return good[:rng.randrange(1, len(good))]
        if choice == 1:
            return good + rng.randbytes(rng.randint(1, 8))
        if choice == 2:
            return rng.choice(GIANT_HEADERS) + rng.randbytes(rng.randint(0, 8))
        if choice == 3:
            return rng.choice([b"\x91", b"\x81\xa1k"]) * rng.randint(9, 200) + b"\xc0"
        if choice == 4:  # items that are not [str topic, bin map body]
            item = rng.choice([["HOST/2012/"], [1, b"\x80"], ["HOST/2012/", "str body"],
                               ["no/such/topic/x", b"\x80"], ["$nope", b"\x80"],
                               ["HOST/2012/", b"\x91\xc0"], ["HOST/2012/", b"\x80\xc0"],
                               ["HOST/2012/", b"\xdf\xff\xff\xff\xff"], "item"])
            return pack(self.fields(items=[item]))
        if choice == 5:  # a value no receiver may take
            key, values = rng.choice(self.BAD_VALUES)
            fields = self.fields()
            fields[key] = rng.choice(values)
            return pack(fields)
        if choice == 6:
            topic = raw_str(b"HOST/2012/" + rng.choice(BAD_UTF8))
            return raw_map([(pack("v"), pack(1)), (pack("type"), pack("update")),
                            (pack("epoch"), pack(1)), (pack("useq"), pack(1)),
                            (pack("items"), b"\x91\x92" + topic + pack(b"\x80"))])
        if choice == 7:
            return b""
        if choice == 8:
            n = rng.randint(MAX_OBJECTS, MAX_OBJECTS + 100)
            return b"\xdd" + struct.pack(">I", n) + b"\xc0" * n
        if choice == 9:
            fields = self.fields()
            del fields[rng.choice(list(fields))]
            return pack(fields)
        return rng.randbytes(rng.randint(1, 300))


def bad_snapshot_request(rng):
    """A snapshot request ({v, type: "snapshot", prefix, [since, epoch]})
    with one bad value, or, one time in two, a malformed batch."""
    if rng.random() < 0.5:
        return Batches(rng).frame_error()[0]
    key, values = rng.choice([("v", [2, -1, "1", None]), ("type", ["snap", 5, None]),
                              ("prefix", [5, None, b"bin", "x" * 437, ["CMI/"]]),
                              ("since", [-1, "1", 1.5, 2**64 - 1]),
                              ("epoch", [-1, "1", None])])
    req = {"v": 1, "type": "snapshot", "prefix": "GOOD/", "since": 1, "epoch": 1}
    req[key] = rng.choice(values)
    if rng.random() < 0.2:
        return raw_map([(pack(k), raw_str(rng.choice(BAD_UTF8)) if k == "prefix" else pack(v))
                        for k, v in req.items()])
    return pack(req)


def multipart(rng, body, max_extra=3):
    """BODY, one time in four after 1..MAX_EXTRA junk frames (wrong frame counts)."""
    n = rng.randint(1, max_extra) if rng.random() < 0.25 else 0
    return [rng.randbytes(rng.randint(0, 40)) for _ in range(n)] + [body]


def socket(sock_type):
    sock = psclient.context().socket(sock_type)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDTIMEO, 20000)
    return sock


def connect(sock_type, endpoint):
    sock = socket(sock_type)
    sock.connect(endpoint)
    return sock


def drain(sock):
    while sock.poll(0):
        sock.recv_multipart()


def rss_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def sanitized(exe):
    """True when EXE was built with AddressSanitizer, whose shadow memory and
    quarantine make its RSS say nothing about paystat's own."""
    return b"__asan_init" in Path(exe).read_bytes()


class Good:
    """The well-behaved producer: 2 reports per batch, every one acked ok."""

    def __init__(self, pipeline):
        self.producer = pipeline.producer()
        self.seq = 0

    def send(self):
        self.seq += 1
        reports = [psclient.report("GOOD", "2012-07", {"card": card}, count=self.seq,
                                   amount=100 * self.seq, currency="MAD")
                   for card in ("domestic", "foreign")]
        ack = self.producer.send("good", self.seq, reports, timeout=20)
        assert ack["status"] == "ok" and ack["accepted"] == 2, ack

    def expected(self):
        """count and amount of GOOD/2012/card=* once every batch is applied."""
        total = self.seq * (self.seq + 1)  # 2 reports of count seq per batch
        return total, 100 * total


def oversized(endpoint, sock_type=zmq.DEALER, limit=None):
    """Sends OVERSIZED frames of LIMIT + 1 bytes (default MAX_FRAME), each
    on a new connection, and checks that the peer drops every one of them."""
    limit = limit or MAX_FRAME
    for _ in range(OVERSIZED):
        sock = socket(sock_type)
        # Monitor first: the handshake may complete as soon as we connect.
        mon = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        sock.connect(endpoint)
        try:
            assert mon.poll(10000), f"no connection to {endpoint}"
            assert recv_monitor_message(mon)["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED
            # 0x02: not a (un)subscription, so an XSUB passes it upstream too.
            sock.send(b"\x02" * (limit + 1))
            assert mon.poll(10000), f"{endpoint} kept a connection that sent {limit + 1} bytes"
            assert recv_monitor_message(mon)["event"] == zmq.EVENT_DISCONNECTED
        finally:
            sock.disable_monitor()
            mon.close(0)
            sock.close(0)


def hostile_ingest(pipeline, rng, good):
    """Malformed batches to ingest, each under a unique envelope frame so
    its ack can be matched; returns how many were answered."""
    gen = Batches(rng)
    sock = connect(zmq.DEALER, pipeline.ingest)
    answered = 0
    try:
        for start in range(0, FRAMES_PER_SOCKET, WINDOW):
            window = {}
            for i in range(start, min(start + WINDOW, FRAMES_PER_SOCKET)):
                if i % 1000 == 999:
                    frame, expect = gen.many_objects()
                else:
                    frame, expect = gen.one()
                tag = b"hostile-%d" % i
                frames = [tag] + multipart(rng, frame, max_extra=10)
                sock.send_multipart(frames)
                if len(frames) <= ANSWERED_FRAMES:
                    window[tag] = (frame, expect)
            deadline = time.monotonic() + 20
            while window and time.monotonic() < deadline:
                if not sock.poll(1000):
                    continue
                reply = sock.recv_multipart()
                sent = window.pop(reply[0], None)
                if sent is None:
                    continue  # a message with many frames, answered anyway
                check_ack(reply[-1], *sent)
                answered += 1
            assert not window, (f"{len(window)} malformed batches not answered, e.g. "
                                f"{next(iter(window.values()))}")
            good.send()
    finally:
        sock.close(0)
    # The envelope-less forms: a lone frame, and REQ's empty delimiter.
    for frame, expect in (gen.truncated(), gen.empty(), gen.giant(), gen.deep()):
        check_ack(pipeline.send_raw(frame, timeout=20), frame, expect, decoded=True)
        answered += 1
    return answered


def check_ack(data, frame, expect, decoded=False):
    ack = data if decoded else psclient.unpack(data)
    kind, code = expect
    what = f"frame {frame[:64].hex()}... ({len(frame)} bytes), expected {expect}, got {ack}"
    assert ack["v"] == 1 and ack["type"] == "ack", what
    if kind == "status":
        assert ack["status"] in STATUSES, what
        return
    assert ack["status"] == "rejected" and ack["accepted"] == 0, what
    if kind == "report":
        assert [(r["index"], r["code"]) for r in ack["rejected"]] == [(0, code)], what
        return
    assert ack["rejected"] == [] and ack["error"]["reason"], what
    if kind == "any":
        assert ack["error"]["code"] in FRAME_CODES, what
    else:
        assert (ack["error"]["field"], ack["error"]["code"]) == \
            ("" if kind == "frame" else kind, code), what


def hostile_pushes(endpoint, frames, good):
    """Sends FRAMES (an iterator of lists of frames) to a ROUTER that answers
    nothing to malformed input, the good producer taking a turn after each
    window; anything the peer sends back is read and dropped."""
    sock = connect(zmq.DEALER, endpoint)
    try:
        for i, parts in enumerate(frames, start=1):
            sock.send_multipart(parts)
            if i % WINDOW == 0:
                drain(sock)
                good.send()
        drain(sock)
    finally:
        sock.close(0)


def hostile_feed(endpoint, rng, good):
    """Junk subscriptions and junk upstream messages on the feed (an XSUB
    can send anything a subscriber's connection can carry)."""
    sock = connect(zmq.XSUB, endpoint)
    try:
        for i in range(1, FRAMES_PER_SOCKET + 1):
            choice = rng.randrange(20)
            if choice < 4:  # subscribe to a random prefix (never the empty one)
                parts = [b"\x01" + rng.randbytes(rng.randint(1, 64))]
            elif choice < 8:  # cancel one
                parts = [b"\x00" + rng.randbytes(rng.randint(0, 64))]
            elif choice < 12:  # neither: a user message upstream
                parts = [bytes([rng.randint(2, 255)]) + rng.randbytes(rng.randint(0, 300))]
            elif choice < 15:
                parts = [b""]
            elif choice < 19:
                parts = multipart(rng, rng.randbytes(rng.randint(0, 40)), max_extra=6)
            else:  # a prefix as long as a topic may be
                parts = [b"\x01" + rng.randbytes(rng.randint(100, 436))]
            sock.send_multipart(parts)
            if i % WINDOW == 0:
                drain(sock)
                good.send()
        drain(sock)
    finally:
        sock.close(0)


def test_hostile_input(pipeline):
    rng = random.Random(SEED)
    pids = {name: svc.pid for name, svc in pipeline.services.items()}
    good = Good(pipeline)
    snapshot = getattr(pipeline, "snapshot_endpoint", None)
    with pipeline.feed(["GOOD/"]) as feed:
        answered = hostile_ingest(pipeline, rng, good)
        assert answered >= FRAMES_PER_SOCKET // 2

        forwarded = Batches(rng, forwarded=True)
        hostile_pushes(pipeline.compute,
                       (multipart(rng, forwarded.frame_error()[0], max_extra=2)
                        for _ in range(FRAMES_PER_SOCKET)), good)
        updates = Updates(rng)
        hostile_pushes(pipeline.publish,
                       (multipart(rng, updates.one(), max_extra=2)
                        for _ in range(FRAMES_PER_SOCKET)), good)
        if snapshot:
            hostile_pushes(snapshot, (multipart(rng, bad_snapshot_request(rng), max_extra=3)
                                      for _ in range(FRAMES_PER_SOCKET)), good)
        hostile_feed(pipeline.feed_endpoint, rng, good)

        # Ingest's front door and compute read up to MAX_INPUT, to answer
        # an oversize batch or refuse an oversize entry loudly.
        for endpoint in (pipeline.ingest, pipeline.compute):
            oversized(endpoint, limit=MAX_INPUT)
        for endpoint in (pipeline.publish, snapshot):
            if endpoint:
                oversized(endpoint)
        oversized(pipeline.feed_endpoint, zmq.XSUB)
        good.send()

        count, amount = good.expected()
        for period in ("2012-07", "2012"):
            top = psclient.topic("GOOD", period, {"card": "*"})
            view = feed.collect_until(lambda v: v.get(top, {}).get("count") == count,
                                      timeout=30)
            assert view[top]["amount"] == amount
        assert feed.gaps == []
        # and a late client's snapshot holds them too
        snap, _ = psclient.snapshot_view(pipeline.snapshot_endpoint, "GOOD/")
        for period in ("2012-07", "2012"):
            top = psclient.topic("GOOD", period, {"card": "*"})
            assert (snap[top]["count"], snap[top]["amount"]) == (count, amount)

    pipeline.check_alive()
    assert {name: svc.pid for name, svc in pipeline.services.items()} == pids
    # Repeated events are logged once per kind and interval with a count,
    # not once per frame: tens of thousands of hostile inputs, a few lines.
    lines = {name: len(svc.log_text().splitlines()) for name, svc in pipeline.services.items()}
    print(f"hostile: log lines {lines}")
    assert all(n < LOG_LINES_MAX for n in lines.values()), lines
    peaks = {name: rss_kib(svc.pid, "VmHWM") / 1024 for name, svc in pipeline.services.items()}
    print(f"hostile: {good.seq} good batches; peak RSS MiB: "
          + ", ".join(f"{n} {mb:.1f}" for n, mb in peaks.items()))
    measured = {n: mb for n, mb in peaks.items() if not sanitized(pipeline[n].exe)}
    assert all(mb < HOSTILE_RSS_MB for mb in measured.values()), peaks


def test_malformed_entry_moves_nothing(pipeline_factory):
    """A malformed journal entry naming the real ingest (any peer can reach
    compute's socket) must change nothing: every report counted once."""
    pipeline = pipeline_factory(ingest_args=["--id", "ingest-1"])
    top, marker = psclient.topic("FORGE", "2012"), psclient.topic("FORGE", "2013")
    with pipeline.feed(["FORGE/"]) as feed:
        ack = pipeline.send_batch("p", 1, [psclient.report("FORGE", "2012", count=1)])
        assert ack["status"] == "ok"
        feed.collect_until(lambda v: v.get(top, {}).get("count") == 1)
        forged = connect(zmq.DEALER, pipeline.compute)
        forged.send(pack({"v": 1, "type": "batch", "producer": "x", "seq": 1,
                          "ingest": "ingest-1", "jseq": 1, "journal": 12345, "reports": "bad"}))
        # A hello of another ingest, answered with a position: once the
        # answer is here, compute has handled the frame sent before it.
        forged.send(pack({"v": 1, "type": "hello", "ingest": "probe", "journal": 1, "first": 1,
                          "head": 0}))
        assert forged.poll(10000), "compute did not answer a hello"
        forged.close()
        for seq, period in ((2, "2012"), (3, "2013")):
            ack = pipeline.send_batch("p", seq, [psclient.report("FORGE", period, count=1)])
            assert ack["status"] == "ok"
        # Entries apply in journal order: once the marker shows, all before it has.
        view = feed.collect_until(lambda v: marker in v)
    assert view[top]["count"] == 2
