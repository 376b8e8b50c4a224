"""Publish's snapshot socket and prefix heartbeats on the wire (PROTOCOL.md
5.4 to 5.6), driven with raw pyzmq and msgpack: what a snapshot holds, how
bad requests are refused, the digest of a prefix, and that huge or stalled
snapshots neither block publish nor grow without bound."""

import time

import zmq

import psclient
from test_feed import day_reports, send_all, settled

pack = psclient.pack


def refusal(pipeline, frame):
    """The refusal publish answers FRAME with: (code, field)."""
    items, end = psclient.request_frames(pipeline.snapshot_endpoint, frame)
    assert items == [] and end["type"] == "error", end
    assert end["v"] == 1 and end["reason"]
    return end["code"], end["field"]


def test_snapshot_holds_the_latest_message_of_every_topic(pipeline):
    reports = day_reports("SNAP", 20, ["a", "b"], ["x"])
    send_all(pipeline, "snap", reports)
    truth = settled(pipeline)
    with pipeline.feed(["SNAP/2012-01-1"]) as feed:
        again = [r for r in reports if r["period"].startswith("2012-01-1")][:3]
        send_all(pipeline, "snap", again, first_seq=10)  # some topics change again
        view = feed.collect_until(lambda v: len(v) >= 3)
    items, end = psclient.snapshot(pipeline.snapshot_endpoint, "SNAP/2012-01-1")
    assert end == {"v": 1, "type": "end", "mode": "snapshot", "epoch": end["epoch"],
                   "seq": end["seq"], "count": len(items)}
    topics = [t for t, _ in items]
    assert len(topics) == len(set(topics)) and all(t.startswith("SNAP/2012-01-1") for t in topics)
    snap = dict(items)
    for topic, body in view.items():
        assert snap[topic] == body  # the latest message, byte for byte the feed's
    assert set(snap) == {t for t in truth if t.startswith("SNAP/2012-01-1")}
    assert all(b["seq"] <= end["seq"] and b["epoch"] == end["epoch"] for b in snap.values())
    # The empty prefix is everything; a prefix nothing has, nothing.
    everything, end = psclient.snapshot_view(pipeline.snapshot_endpoint, "")
    assert len(everything) == len(settled(pipeline))
    items, end = psclient.snapshot(pipeline.snapshot_endpoint, "NOPE/")
    assert items == [] and end["count"] == 0


def test_bad_requests_are_refused_with_a_reason(pipeline):
    req = {"v": 1, "type": "snapshot", "prefix": ""}
    assert refusal(pipeline, b"\xc1") == ("decode", "")
    assert refusal(pipeline, pack([1, 2])) == ("type", "")
    assert refusal(pipeline, pack(dict(req, v=2))) == ("version", "v")
    assert refusal(pipeline, pack({"type": "snapshot", "prefix": ""})) == ("version", "v")
    assert refusal(pipeline, pack(dict(req, type="snap"))) == ("type", "type")
    assert refusal(pipeline, pack({"v": 1, "type": "snapshot"})) == ("missing", "prefix")
    assert refusal(pipeline, pack(dict(req, prefix=7))) == ("type", "prefix")
    assert refusal(pipeline, pack(dict(req, prefix="x" * 437))) == ("limit", "prefix")
    assert refusal(pipeline, pack(dict(req, since=-1, epoch=1))) == ("range", "since")
    assert refusal(pipeline, pack(dict(req, since=1))) == ("missing", "epoch")
    assert refusal(pipeline, pack(dict(req, epoch=1))) == ("missing", "since")
    assert refusal(pipeline, pack(dict(req, since=1.0, epoch=1))) == ("type", "since")
    # A request is one frame.
    sock = psclient.context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(pipeline.snapshot_endpoint)
    try:
        sock.send_multipart([b"", pack(req)])
        assert sock.poll(5000)
        topic, body = sock.recv_multipart()
        assert topic == b"$snapshot"
        assert psclient.unpack(body)["code"] == "type"
    finally:
        sock.close(0)
    # Publish is still fine, and the longest valid prefix is accepted.
    items, end = psclient.snapshot(pipeline.snapshot_endpoint, "x" * 436)
    assert end["type"] == "end" and items == []


def test_prefix_heartbeat_carries_the_digest_of_the_prefix(pipeline):
    reports = day_reports("DIG", 10, ["a"], ["x", "y"])
    send_all(pipeline, "dig", reports)
    send_all(pipeline, "dig", [psclient.report("DIG", "2012-01-03", {"card": "a", "channel": "x"},
                                               op="retract")], first_seq=5)
    settled(pipeline)
    items, end = psclient.snapshot(pipeline.snapshot_endpoint, "DIG/2012-01")
    seqs = {t: b["seq"] for t, b in items}
    assert any(b["type"] == "removed" for _, b in items)  # tombstones count too
    sub = psclient.context().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(pipeline.feed_endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, b"$hb/DIG/2012-01")
    try:
        # Subscribing asks for the prefix's heartbeats; the first comes at once.
        assert sub.poll(int(0.5 * 1000)), "no immediate prefix heartbeat"
        topic, body = sub.recv_multipart()
        hb = psclient.unpack(body)
        assert topic == b"$hb/DIG/2012-01"
        assert hb == {"v": 1, "type": "hb", "epoch": end["epoch"], "seq": end["seq"],
                      "interval_ms": 1000, "prefix": "DIG/2012-01",
                      "sum": psclient.digest(seqs, "DIG/2012-01")}
        # Then one every interval, the same while nothing changes.
        assert sub.poll(3000)
        topic, body = sub.recv_multipart()
        assert topic == b"$hb/DIG/2012-01" and psclient.unpack(body) == hb
    finally:
        sub.close(0)


def test_huge_and_stalled_snapshots_do_not_block_publish(pipeline):
    """A client that asks for a big snapshot and never reads holds at most
    its queue's worth; at most 64 snapshots run at once (more are refused
    with retry_later); meanwhile publish keeps publishing and serving."""
    cards = ["a", "b", "c", "d", "e", "f"]
    send_all(pipeline, "big", day_reports("BIG", 366, cards, ["w", "x", "y", "z"]), size=5000)
    truth = settled(pipeline)
    assert len(truth) > 10000
    ctx = psclient.context()
    stalled = []
    try:
        for _ in range(64):
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, 10)
            sock.connect(pipeline.snapshot_endpoint)
            sock.send(pack({"v": 1, "type": "snapshot", "prefix": ""}))
            stalled.append(sock)
        time.sleep(0.5)
        assert refusal(pipeline, pack({"v": 1, "type": "snapshot", "prefix": ""})) == (
            "retry_later", "")
        # The feed goes on.
        with pipeline.feed(["LIVE/"]) as feed:
            send_all(pipeline, "live", [psclient.report("LIVE", "2012", count=1)])
            feed.collect_until(lambda v: "LIVE/2012/" in v)
    finally:
        for sock in stalled:
            sock.close(0)
    # The stalled sessions are dropped once their clients have gone.
    deadline = time.monotonic() + 10
    while True:
        try:
            view, _ = psclient.snapshot_view(pipeline.snapshot_endpoint, "")
            break
        except AssertionError:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert len(view) == len(truth) + 1
