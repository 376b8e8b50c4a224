"""An independent Python client of paystat's wire format v1 (pyzmq + msgpack).

Written from the protocol description only, never from the C code, so the
black-box tests check the services against the contract rather than
against themselves. Producers talk to ingest's ROUTER with a DEALER socket;
subscribers read publish's PUB feed with a SUB socket.
"""

import csv
import time
from decimal import Decimal

import msgpack
import zmq

VERSION = 1
HEARTBEAT_TOPIC = "$hb"

# Minor-unit exponents (ISO 4217) of the currencies the tests use.
MINOR_UNITS = {"MAD": 2, "EUR": 2, "USD": 2, "GBP": 2, "JPY": 0, "KRW": 0, "BHD": 3,
               "KWD": 3, "TND": 3, "CLF": 4}

_CONTEXT = None


def context():
    """One process-wide ZeroMQ context for every socket of the tests."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = zmq.Context()
    return _CONTEXT


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


# ---- Building reports and topics -------------------------------------------

def dims_list(dims):
    """Dims as the wire's array of "name=value" strings, from a dict or a list."""
    if dims is None:
        return []
    if isinstance(dims, dict):
        return [f"{name}={value}" for name, value in dims.items()]
    return list(dims)


def report(source, period, dims=None, count=None, amount=None, currency=None, op=None, **extra):
    """A report map. AMOUNT is in minor units; keys left None are omitted
    (so tests can build invalid reports too); EXTRA adds or overrides keys."""
    rep = {"source": source, "period": period, "dims": dims_list(dims)}
    for key, value in (("count", count), ("amount", amount), ("currency", currency), ("op", op)):
        if value is not None:
            rep[key] = value
    rep.update(extra)
    return rep


def batch(producer, seq, reports, **extra):
    """A batch message map; EXTRA adds or overrides keys (e.g. v=2)."""
    msg = {"v": VERSION, "type": "batch", "producer": producer, "seq": seq,
           "reports": list(reports)}
    msg.update(extra)
    return msg


def topic(source, period, dims=None):
    """The feed topic of a cell: <source>/<period>/<n>=<v>,... with dims
    sorted by name (a rolled-up dimension has the value '*')."""
    pairs = sorted(d.split("=", 1) for d in dims_list(dims))
    return f"{source}/{period}/" + ",".join(f"{n}={v}" for n, v in pairs)


def ratio_topic(name, period):
    return f"$ratio/{name}/{period}"


def to_minor(text, currency):
    """Exact conversion of major-unit decimal text to minor units."""
    value = Decimal(text) * (10 ** MINOR_UNITS[currency])
    if value != value.to_integral_value():
        raise ValueError(f"{text} has more decimals than {currency} allows")
    return int(value)


def read_csv_reports(path):
    """Reads a `paystat send` CSV (source,period,<dims...>,count,amount,currency,op)
    into report maps, amounts converted exactly to minor units; an empty
    dimension cell means no such dimension, an empty measure means absent."""
    reports = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        dim_names = fields[fields.index("period") + 1:fields.index("count")]
        for row in reader:
            currency = row.get("currency") or None
            reports.append(report(
                row["source"], row["period"],
                dims={n: row[n] for n in dim_names if row[n]},
                count=int(row["count"]) if row["count"] else None,
                amount=to_minor(row["amount"], currency) if row["amount"] else None,
                currency=currency if row["amount"] else None,
                op=row.get("op") or None))
    return reports


# ---- Producer side ---------------------------------------------------------

class Producer:
    """A DEALER connected to ingest's front door; one request at a time."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.sock = context().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def request(self, frame, timeout=5.0):
        """Sends FRAME (bytes) as one frame; returns the decoded reply map.
        Raises TimeoutError when no reply comes within TIMEOUT seconds."""
        self.sock.send(frame)
        if not self.sock.poll(int(timeout * 1000)):
            raise TimeoutError(f"no ack from {self.endpoint} within {timeout} s")
        # ROUTER replies to our envelope; a REQ-style empty delimiter, if any,
        # comes first: the ack is the last frame.
        return unpack(self.sock.recv_multipart()[-1])

    def send(self, producer, seq, reports, timeout=5.0, **extra):
        return self.request(pack(batch(producer, seq, reports, **extra)), timeout)

    def close(self):
        self.sock.close(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def send_batch(endpoint, producer, seq, reports, timeout=5.0, **extra):
    """Sends one batch to ingest at ENDPOINT and returns the decoded ack."""
    with Producer(endpoint) as p:
        return p.send(producer, seq, reports, timeout, **extra)


def send_raw(endpoint, frame, timeout=5.0):
    """Sends arbitrary bytes as one frame and returns the decoded ack."""
    with Producer(endpoint) as p:
        return p.request(frame, timeout)


# ---- Subscriber side -------------------------------------------------------

class Feed:
    """A SUB socket on publish's feed.

    Keeps VIEW, the latest body of every topic received (a topic published
    as {"type": "removed"} leaves it), EPOCH, the publish instance last
    heard, and GAPS, the (topic, expected prev, got prev) of every message
    whose "prev" is not the seq of the last message seen on its topic in
    this epoch. Heartbeats are always subscribed to (they show that the
    subscription is live) and kept in LAST_HEARTBEAT; recv returns them
    only when HEARTBEATS is true."""

    def __init__(self, endpoint, prefixes=("",), heartbeats=False):
        self.endpoint = endpoint
        self.heartbeats = heartbeats
        self.view = {}
        self.gaps = []
        self.last_heartbeat = None
        self.epoch = None
        self.received = 0
        self._last_seq = {}
        self.sock = context().socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        for prefix in list(prefixes) + [HEARTBEAT_TOPIC]:
            self.sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        self.sock.connect(endpoint)

    def _recv_any(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self.sock.poll(int(remaining * 1000) + 1):
            raise TimeoutError(f"no feed message from {self.endpoint}")
        frames = self.sock.recv_multipart()
        if len(frames) != 2:
            raise AssertionError(f"feed message has {len(frames)} frames, expected 2")
        name = frames[0].decode("utf-8")
        body = unpack(frames[1])
        # "$hb" and the prefix heartbeats "$hb/<prefix>" other clients ask for.
        if name.startswith(HEARTBEAT_TOPIC):
            self.last_heartbeat = body
            return name, body
        self.received += 1
        self._track(name, body)
        return name, body

    def _track(self, name, body):
        if body.get("epoch") != self.epoch:
            # Publish restarted: numbering starts again.
            self.epoch = body.get("epoch")
            self._last_seq.clear()
        seq, prev = body.get("seq"), body.get("prev")
        if name in self._last_seq and prev != self._last_seq[name]:
            self.gaps.append((name, self._last_seq[name], prev))
        self._last_seq[name] = seq
        if body.get("type") == "removed":
            self.view.pop(name, None)
        else:
            self.view[name] = body

    def recv(self, timeout=5.0):
        """Returns the next (topic, body dict). Raises TimeoutError after TIMEOUT seconds without one."""
        deadline = time.monotonic() + timeout
        while True:
            name, body = self._recv_any(deadline)
            if not name.startswith(HEARTBEAT_TOPIC) or self.heartbeats:
                return name, body

    def wait_ready(self, timeout=10.0):
        """Waits for a heartbeat: from then on, the subscription is live and
        no later message can be missed (the slow-joiner problem)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                name, _ = self._recv_any(deadline)
            except TimeoutError:
                raise TimeoutError(f"no heartbeat from {self.endpoint} within {timeout} s")
            if name == HEARTBEAT_TOPIC:
                return self.last_heartbeat

    def collect_until(self, predicate, timeout=10.0):
        """Receives messages until PREDICATE(view) is true; returns the view
        (topic -> latest body). Raises TimeoutError naming the topics seen."""
        deadline = time.monotonic() + timeout
        while not predicate(self.view):
            try:
                self._recv_any(deadline)
            except TimeoutError:
                raise TimeoutError(
                    f"condition not met within {timeout} s; {len(self.view)} topics seen: "
                    f"{sorted(self.view)[:50]}") from None
        return self.view

    def close(self):
        self.sock.close(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- Snapshots and replay (PROTOCOL.md, section 5.5) ------------------------

SNAPSHOT_TOPIC = "$snapshot"
DIGEST_MASK = (1 << 63) - 1


def request_frames(endpoint, frame, timeout=10.0):
    """Sends FRAME (bytes) on a new DEALER to publish's snapshot socket and
    returns the reply: ([(topic, body), ...] before the marker, marker body).
    Raises TimeoutError when the reply stops for TIMEOUT seconds."""
    sock = context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send(frame)
        items = []
        while True:
            if not sock.poll(int(timeout * 1000)):
                raise TimeoutError(f"no snapshot reply from {endpoint} within {timeout} s")
            frames = sock.recv_multipart()
            assert len(frames) == 2, f"reply of {len(frames)} frames"
            topic, body = frames[0].decode("utf-8"), unpack(frames[1])
            if topic == SNAPSHOT_TOPIC:
                return items, body
            items.append((topic, body))
    finally:
        sock.close(0)


def snapshot(endpoint, prefix="", since=None, epoch=None, timeout=10.0):
    """Asks for the latest message of every topic under PREFIX (or, with
    SINCE and EPOCH, every message after seq SINCE). Returns (items, end)."""
    req = {"v": 1, "type": "snapshot", "prefix": prefix}
    if since is not None:
        req.update(since=since, epoch=epoch)
    return request_frames(endpoint, pack(req), timeout)


def snapshot_view(endpoint, prefix="", timeout=10.0):
    """The current view under PREFIX: topic -> body, removed topics left
    out, with the end marker."""
    items, end = snapshot(endpoint, prefix, timeout=timeout)
    assert end["type"] == "end", end
    latest = {}
    for topic, body in items:
        if topic not in latest or body["seq"] > latest[topic]["seq"]:
            latest[topic] = body
    return {t: b for t, b in latest.items() if b.get("type") != "removed"}, end


def digest(seqs, prefix):
    """PROTOCOL.md 5.4: the sum modulo 2^63 of the latest seq of every topic
    under PREFIX, removed ones included (SEQS: topic -> latest seq)."""
    return sum(s for t, s in seqs.items() if t.startswith(prefix)) & DIGEST_MASK


def view_from_lines(lines):
    """Applies `paystat sub` JSON lines in order: a topic's message sets it,
    {"type": "removed"} removes it, the client's own "$resync", "$synced",
    "$heartbeat_lost" and "$hb/..." lines change nothing."""
    view = {}
    for m in lines:
        topic = m["topic"]
        if topic in ("$resync", "$synced", "$heartbeat_lost") or topic.startswith("$hb"):
            continue
        if m.get("type") == "removed":
            view.pop(topic, None)
        else:
            view[topic] = {k: v for k, v in m.items() if k != "topic"}
    return view
