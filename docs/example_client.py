#!/usr/bin/python3
"""An exact view of the paystat feed in Python, with pyzmq and msgpack only.

This follows proto/PROTOCOL.md, sections 5.3 to 5.6, and nothing else: a
pipeline user can copy it. It keeps VIEW, topic -> latest message, for the
topic prefixes it is given, and rebuilds it by itself whenever it cannot
prove it exact:

    subscribe to the prefixes, then to "$hb/<prefix>" for each
    wait for each prefix's heartbeat     (every subscription is now live)
    ask the snapshot socket for each prefix, applying feed messages that
    arrive meanwhile (the latest seq of each topic wins)
    then, for each feed message:  seq <= held: old, skip
                                  prev != held (0 if none): missed one -> resync
    and for each prefix heartbeat: digest != the sum of the seqs held -> resync
    new epoch (publish restarted), or silence -> resync

Run it:  python3 docs/example_client.py --feed tcp://127.0.0.1:7404 \\
             --snapshot tcp://127.0.0.1:7405 CMI/2012/
It prints one JSON line per change, like `paystat sub`. For a publish that
requires CURVE, add --curve-secret ME.key_secret --publish-key publish.key
(key files of `paystat keygen`).

replay() shows the other use of the snapshot socket: every message since a
seq, for consumers that keep their own state.
"""

import argparse
import json
import sys
import time

import msgpack
import zmq
import zmq.auth

HB = "$hb"
SNAPSHOT = "$snapshot"
MASK = (1 << 63) - 1  # digests are sums modulo 2^63


class Resync(Exception):
    def __init__(self, reason, reconnect=False):
        super().__init__(reason)
        self.reason = reason
        self.reconnect = reconnect


def unpack(data):
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def request(ctx, endpoint, prefix, since=None, epoch=None):
    """Sends one snapshot request on a new DEALER and returns the socket."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    req = {"v": 1, "type": "snapshot", "prefix": prefix}
    if since is not None:
        req.update(since=since, epoch=epoch)
    sock.send(msgpack.packb(req, use_bin_type=True))
    return sock


def replay(endpoint, prefix, since, epoch, timeout=10.0):
    """Every message on PREFIX after seq SINCE of EPOCH, if publish still
    holds them all ("replay"), else the latest of every topic ("snapshot").
    Returns (mode, [(topic, body)...], end marker)."""
    ctx = zmq.Context.instance()
    sock = request(ctx, endpoint, prefix, since, epoch)
    items = []
    try:
        while sock.poll(int(timeout * 1000)):
            topic, body = sock.recv_multipart()
            topic, body = topic.decode(), unpack(body)
            if topic == SNAPSHOT:
                if body["type"] == "error":
                    raise RuntimeError(f"refused: {body['code']}: {body['reason']}")
                return body["mode"], items, body
            items.append((topic, body))
        raise TimeoutError("no reply from the snapshot socket")
    finally:
        sock.close()


class Subscriber:
    def __init__(self, feed, snapshot, prefixes=(), timeout=5.0):
        self.ctx = zmq.Context.instance()
        self.feed, self.snapshot = feed, snapshot
        self.prefixes = list(prefixes) or [""]
        self.timeout = timeout  # for each snapshot reply
        self.view = {}          # topic -> body; removed topics are not in it
        self.seqs = {}          # topic -> latest seq, removed topics included
        self.epoch = None
        self.synced = None      # seq the last snapshot reflected
        self.interval = 1.0     # heartbeat interval, from the heartbeats
        self.sub = None
        self._open()

    def _open(self):
        if self.sub:
            self.sub.close(0)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.connect(self.feed)
        for p in self.prefixes:                      # data first ...
            self.sub.setsockopt(zmq.SUBSCRIBE, p.encode())
        for p in self.prefixes:                      # ... then heartbeats
            self.sub.setsockopt(zmq.SUBSCRIBE, (HB + "/" + p).encode())
        self.beat = time.monotonic()

    def _read(self, sock):
        topic, body = sock.recv_multipart()
        return topic.decode(), unpack(body)

    def _heartbeat(self, body):
        """The prefix heartbeat of one of our prefixes, or None."""
        if body.get("prefix") in self.prefixes:
            self.interval = body["interval_ms"] / 1000
            self.beat = time.monotonic()
            return body
        return None

    def _poll(self):
        """Waits for a feed message; silence is three heartbeat intervals
        without one of our prefix heartbeats (others prove nothing)."""
        left = self.beat + 3 * self.interval - time.monotonic()
        if left <= 0 or not self.sub.poll(int(left * 1000) + 1):
            raise Resync("silence", reconnect=True)

    def _check_epoch(self, epoch):
        if epoch != self.epoch:
            self.epoch = epoch
            raise Resync("epoch")

    def _sync(self, reconnect):
        """Rebuilds the view; returns the events that turn the old view into it."""
        if reconnect:
            self._open()
            waiting = set(self.prefixes)
            while waiting:
                self._poll()
                topic, body = self._read(self.sub)
                hb = self._heartbeat(body) if topic.startswith(HB) else None
                if hb:
                    waiting.discard(hb["prefix"])
                    self.epoch = hb["epoch"]
        latest = {}

        def merge(topic, body):
            if topic not in latest or body["seq"] > latest[topic]["seq"]:
                latest[topic] = body

        snap = 0
        for prefix in self.prefixes:
            dealer = request(self.ctx, self.snapshot, prefix)
            try:
                poller = zmq.Poller()
                poller.register(self.sub, zmq.POLLIN)
                poller.register(dealer, zmq.POLLIN)
                while True:
                    ready = dict(poller.poll(int(self.timeout * 1000)))
                    if not ready:
                        raise Resync("timeout")
                    if self.sub in ready:
                        topic, body = self._read(self.sub)
                        self._check_epoch(body["epoch"])
                        if not topic.startswith(HB):
                            merge(topic, body)
                    if dealer in ready:
                        topic, body = self._read(dealer)
                        if topic != SNAPSHOT:
                            self._check_epoch(body["epoch"])
                            merge(topic, body)
                        elif body["type"] == "end":
                            self._check_epoch(body["epoch"])
                            snap = max(snap, body["seq"])
                            break
                        else:
                            time.sleep(0.2)  # e.g. retry_later: too many snapshots at once
                            raise Resync("refused")
            finally:
                dealer.close()
        old = self.view
        self.seqs = {t: b["seq"] for t, b in latest.items()}
        self.view = {t: b for t, b in latest.items() if b["type"] != "removed"}
        self.synced = snap
        events = [("removed", t, None) for t in old if t not in self.view]
        events += [("update", t, b) for t, b in self.view.items() if old.get(t) != b]
        return events + [("synced", snap, len(self.view))]

    def _step(self):
        """Waits for one feed message; returns its event or None."""
        self._poll()
        topic, body = self._read(self.sub)
        self._check_epoch(body["epoch"])
        if topic.startswith(HB):
            hb = self._heartbeat(body)
            if not hb or hb["seq"] < self.synced:
                return None
            mine = sum(s for t, s in self.seqs.items() if t.startswith(hb["prefix"]))
            if mine & MASK != hb["sum"]:
                raise Resync("digest")
            return ("heartbeat", hb["prefix"], hb)
        held = self.seqs.get(topic, 0)
        if body["seq"] <= held:
            return None
        if body["prev"] != held:
            raise Resync("gap")
        self.seqs[topic] = body["seq"]
        if body["type"] == "removed":
            return ("removed", topic, None) if self.view.pop(topic, None) else None
        self.view[topic] = body
        return ("update", topic, body)

    def events(self):
        """Yields ("resync", reason, None), ("update", topic, body),
        ("removed", topic, None), ("synced", seq, topics) and ("heartbeat",
        prefix, body) when a heartbeat confirmed the view, forever."""
        reason, reconnect = "start", True
        while True:
            try:
                if reason:
                    yield ("resync", reason, None)
                    yield from self._sync(reconnect)
                    reason = None
                event = self._step()
                if event:
                    yield event
            except Resync as r:
                reason, reconnect = r.reason, r.reconnect


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feed", default="tcp://127.0.0.1:7404")
    parser.add_argument("--snapshot", default="tcp://127.0.0.1:7405")
    parser.add_argument("--curve-secret", help="this subscriber's key pair (NAME.key_secret)")
    parser.add_argument("--publish-key", help="publish's public key (NAME.key)")
    parser.add_argument("prefixes", nargs="*", metavar="PREFIX")
    args = parser.parse_args()
    if bool(args.curve_secret) != bool(args.publish_key):
        parser.error("--curve-secret and --publish-key go together")
    if args.curve_secret:
        # Options set on the context apply to every socket made from it
        # afterwards: the feed's SUB and each snapshot DEALER.
        ctx = zmq.Context.instance()
        ctx.curve_publickey, ctx.curve_secretkey = zmq.auth.load_certificate(args.curve_secret)
        ctx.curve_serverkey = zmq.auth.load_certificate(args.publish_key)[0]
    for kind, a, b in Subscriber(args.feed, args.snapshot, args.prefixes).events():
        if kind == "update":
            line = dict(b, topic=a)
        elif kind == "removed":
            line = {"topic": a, "type": "removed"}
        elif kind == "resync":
            line = {"topic": "$resync", "reason": a}
        elif kind == "synced":
            line = {"topic": "$synced", "seq": a, "topics": b}
        else:
            continue
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
