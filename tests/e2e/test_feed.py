"""Subscribers that join late, fall behind or lose their connection end up
with exactly the current state, and say when they had to resync:
`paystat sub` (libpaystat-client) against the real services.

The truth each view is compared with is computed independently: a fresh
snapshot taken once the pipeline is quiet, and the totals summed here from
the reports sent."""

import itertools
import json
import queue
import subprocess
import threading
import time

import psclient

QUIET = 1.0  # seconds without a new seq: the pipeline has settled


# ---- Data and the independent totals ----------------------------------------

def parents(period):
    """The coarser periods a period rolls into (PROTOCOL.md 3.1, indicators.md)."""
    year = period[:4]
    if len(period) == 4:
        return []
    if period[5] == "Q":
        return [year]
    month = int(period[5:7])
    quarter = f"{year}-Q{(month - 1) // 3 + 1}"
    if len(period) == 7:
        return [quarter, year]
    return [period[:7], quarter, year]


def expected_counts(reports):
    """topic -> count of every cell the "add" REPORTS make, at every rollup
    level (time and '*' dimensions), summed here independently of compute."""
    totals = {}
    for r in reports:
        dims = dict(d.split("=", 1) for d in r.get("dims", []))
        names = sorted(dims)
        for period in [r["period"]] + parents(r["period"]):
            for stars in itertools.product((False, True), repeat=len(names)):
                cell = {n: "*" if s else dims[n] for n, s in zip(names, stars)}
                topic = psclient.topic(r["source"], period, cell)
                totals[topic] = totals.get(topic, 0) + r["count"]
    return totals


def day_reports(source, days, cards, channels, count=1, month=None):
    """One "add" report per day of 2012 (or of MONTH) and card x channel."""
    reports = []
    start = time.struct_time((2012, 1, 1, 0, 0, 0, 0, 1, 0))
    for d in range(days):
        day = time.localtime(time.mktime(start) + 86400 * d + 43200)
        if month and day.tm_mon != month:
            continue
        period = f"2012-{day.tm_mon:02d}-{day.tm_mday:02d}"
        for card, channel in itertools.product(cards, channels):
            reports.append(psclient.report(source, period, {"card": card, "channel": channel},
                                           count=count, amount=count * 100, currency="MAD"))
    return reports


def send_all(pipeline, producer, reports, first_seq=1, size=2000):
    """Sends REPORTS in batches; every one must be accepted."""
    with pipeline.producer() as p:
        for i in range(0, len(reports), size):
            ack = p.send(producer, first_seq + i // size, reports[i:i + size], timeout=30)
            assert ack["status"] == "ok", ack


def settled(pipeline, prefix=""):
    """Waits until publish's latest seq has not moved for QUIET seconds and
    returns the fresh snapshot view of PREFIX then."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        view, end = psclient.snapshot_view(pipeline.snapshot_endpoint, prefix)
        if end["seq"] != last:
            last, since = end["seq"], time.monotonic()
        elif time.monotonic() - since >= QUIET:
            return view
        time.sleep(0.2)
    raise TimeoutError("the pipeline did not settle")


def send_round(pipeline, producer, reports, seq):
    """Sends REPORTS as one batch and waits until publish has numbered at
    least one message for every topic they change. Returns those topics."""
    _, before = psclient.snapshot(pipeline.snapshot_endpoint, "$none/")
    ack = pipeline.send_batch(producer, seq, reports, timeout=30)
    assert ack["status"] == "ok", ack
    topics = expected_counts(reports)
    deadline = time.monotonic() + 60
    while psclient.snapshot(pipeline.snapshot_endpoint, "$none/")[1]["seq"] < \
            before["seq"] + len(topics):
        assert time.monotonic() < deadline, "a round was not published"
        time.sleep(0.02)
    return topics


def overrun_bound(pipeline, feed_hwm):
    """How many feed messages a stalled `paystat sub` could hold without a
    loss, at most: publish's queue for it (FEED_HWM) and its own (1), the
    largest send and receive buffers the kernel may give a TCP connection
    (tcp_wmem, tcp_rmem) and the 64 KiB pipe to the test, each filled with
    the smallest message publish holds."""
    items, _ = psclient.snapshot(pipeline.snapshot_endpoint, "")
    smallest = min(len(t.encode()) + len(psclient.pack(b)) for t, b in items)
    kernel = sum(int(open(f"/proc/sys/net/ipv4/{f}").read().split()[2])
                 for f in ("tcp_wmem", "tcp_rmem"))
    return feed_hwm + 1 + (kernel + 65536) // smallest


# ---- `paystat sub` in the background ----------------------------------------

class Sub:
    """`paystat sub` with its JSON lines read by a thread that can be paused:
    while paused, stdout's pipe fills, paystat blocks writing and stops
    reading the feed (a stalled subscriber)."""

    def __init__(self, pipeline, prefixes=(), args=()):
        self.proc = subprocess.Popen([str(pipeline.paystat), "sub", *args, *prefixes],
                                     env=pipeline.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.prefixes = list(prefixes) or [""]
        self.lines = []
        self.queue = queue.Queue()
        self.reading = threading.Event()
        self.reading.set()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            self.reading.wait()
            line = self.proc.stdout.readline()
            if not line.endswith("\n"):
                return  # the end, or a line cut short by terminate()
            self.queue.put(json.loads(line))

    def _drain(self):
        while True:
            try:
                self.lines.append(self.queue.get_nowait())
            except queue.Empty:
                return

    def pause(self):
        self.reading.clear()

    def resume(self):
        self.reading.set()

    def resyncs(self):
        self._drain()
        return [m["reason"] for m in self.lines if m["topic"] == "$resync"]

    def view(self):
        self._drain()
        return psclient.view_from_lines(self.lines)

    def wait_synced(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._drain()
            if any(m["topic"] == "$synced" for m in self.lines):
                return
            time.sleep(0.05)
        raise TimeoutError(f"no $synced from paystat sub {self.prefixes}: {self.lines[-5:]}")

    def wait_view(self, truth, timeout=60):
        """Waits until the view built from the lines equals TRUTH."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.view() == truth:
                return
            time.sleep(0.1)
        view = self.view()
        diff = sorted(set(view) ^ set(truth))[:10]
        wrong = [t for t in truth if t in view and view[t] != truth[t]][:10]
        raise AssertionError(f"paystat sub {self.prefixes}: {len(view)} topics vs "
                             f"{len(truth)}; missing or extra {diff}; different {wrong}; "
                             f"resyncs {self.resyncs()}")

    def close(self):
        self.resume()
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, err
        return err


def under(view, prefix):
    return {t: b for t, b in view.items() if t.startswith(prefix)}


def assert_counts(view, reports, prefix=""):
    """Every cell topic under PREFIX has exactly the independently summed count."""
    want = {t: c for t, c in expected_counts(reports).items() if t.startswith(prefix)}
    cells = {t: b["count"] for t, b in view.items() if not t.startswith("$")}
    assert cells == want


# ---- Tests -------------------------------------------------------------------

def test_late_joiner_sees_the_full_state(pipeline):
    """Data loaded first, then subscribers start: their views are the full
    state, for every topic and for a narrow prefix."""
    reports = day_reports("LATE", 60, ["domestic", "foreign"], ["web", "pos"])
    send_all(pipeline, "late", reports)
    truth = settled(pipeline)
    subs = [Sub(pipeline), Sub(pipeline, ["LATE/2012-02"])]
    try:
        for sub in subs:
            sub.wait_synced()
        subs[0].wait_view(truth)
        subs[1].wait_view(under(truth, "LATE/2012-02"))
        assert subs[0].resyncs() == ["start"] and subs[1].resyncs() == ["start"]
    finally:
        for sub in subs:
            sub.close()
    assert_counts(truth, reports)
    synced = next(m for m in subs[0].lines if m["topic"] == "$synced")
    assert synced["topics"] == len(truth)


def test_stalled_subscribers_resync_and_converge(pipeline_factory):
    """Two subscribers with a tiny queue stop reading during heavy updates,
    long enough that publish must drop messages for them. Each notices from the feed itself
    (a gap or a digest), says it resynced, and ends with exactly publish's
    state of its prefix.

    Heartbeats every 3 s make the silence timeout 9 s of waiting on an
    empty queue. A subscriber counts as silence the time it waits for its
    next message without a prefix heartbeat in between, and with a queue of
    one message, draining the backlog left by the stall (publish's queue
    and the socket buffers, some 10,000 messages, in which publish dropped
    the heartbeats too) is thousands of short waits: on a loaded machine
    they add up to the 3 s timeout of the default 1 s heartbeats before
    the first heartbeat after the backlog shows the digest mismatch."""
    pipeline = pipeline_factory(publish_args=["--feed-hwm", "5000", "--heartbeat-ms", "3000"])
    narrow = "HEAVY/2012-03"
    subs = [Sub(pipeline, args=["--rcvhwm", "1"]),
            Sub(pipeline, [narrow], args=["--rcvhwm", "1"])]
    try:
        for sub in subs:
            sub.wait_synced()
        for sub in subs:
            sub.pause()
        # Rounds over every March cell, each published before the next is
        # sent (so rounds cannot conflate), until more messages went out
        # than publish's queue, both kernel socket buffers at their largest
        # and paystat sub's output pipe could hold for a stalled
        # subscriber: a loss is certain, whatever the timing.
        reports, bound = [], None
        published = [0] * len(subs)  # at least this many messages for each subscriber
        while bound is None or min(published) <= bound:
            batch = day_reports("HEAVY", 100, ["c1", "c2", "c3", "c4", "c5"],
                                ["x", "y", "z", "w"], month=3)
            topics = send_round(pipeline, "heavy", batch, seq=len(reports) // len(batch) + 1)
            for i, sub in enumerate(subs):
                published[i] += sum(1 for t in topics if t.startswith(sub.prefixes[0]))
            reports += batch
            bound = bound or overrun_bound(pipeline, feed_hwm=5000)
        print(f"stalled: {len(reports)} reports, {published} messages each, bound {bound}")
        truth = settled(pipeline)
        for sub in subs:
            sub.resume()
        subs[0].wait_view(truth, timeout=120)
        subs[1].wait_view(under(truth, narrow), timeout=120)
        # Each must have noticed the loss from the feed itself: a message
        # whose "prev" is not the seq it holds for the topic (gap), or a
        # prefix heartbeat whose digest differs from its view's (digest).
        # Silence cannot stand in for either: a subscriber whose gap and
        # digest checks were broken would be rescued by the heartbeat
        # timeout alone.
        for sub in subs:
            reasons = sub.resyncs()
            assert reasons[0] == "start", reasons
            assert len(reasons) >= 2 and reasons[1] in ("gap", "digest"), reasons
    finally:
        for sub in subs:
            sub.close()
    assert_counts(truth, reports)


def test_publish_restart_clients_resync_and_converge(pipeline):
    """kill -9 publish and start it again: it asks compute for everything,
    subscribers see the new epoch, resync and converge."""
    first = day_reports("RST", 40, ["a", "b"], ["p"])
    send_all(pipeline, "rst", first)
    before = settled(pipeline)
    subs = [Sub(pipeline), Sub(pipeline, ["RST/2012-01-"])]
    try:
        for sub in subs:
            sub.wait_view(under(before, sub.prefixes[0]))
        publish = pipeline["publish"]
        publish.kill()
        publish.start()
        publish.wait_ready()
        second = day_reports("RST", 40, ["a", "b"], ["q"])
        send_all(pipeline, "rst", second, first_seq=100)
        truth = settled(pipeline)
        assert_counts(truth, first + second)
        assert {b["epoch"] for b in truth.values()} != {b["epoch"] for b in before.values()}
        for sub in subs:
            sub.wait_view(under(truth, sub.prefixes[0]))
            assert set(sub.resyncs()[1:]) & {"epoch", "silence"}, sub.resyncs()
    finally:
        for sub in subs:
            sub.close()


def test_sixteen_subscribers_with_different_prefixes_converge(pipeline):
    """Sixteen clients, some started before the data, some while it flows,
    some after, each on its own prefix: all end with the exact state."""
    prefixes = ["", "MANY/", "MANY/2012/", "MANY/2012-", "MANY/2012-Q1", "MANY/2012-Q2/",
                "MANY/2012-01", "MANY/2012-02-", "MANY/2012-03-1", "MANY/2012-04/",
                "MANY/2012/card=*", "MANY/2012-05-05/", "OTHER/", "$ratio/", "NOTHING/",
                "MANY/2012-06-3"]
    reports = day_reports("MANY", 182, ["a", "b", "c"], ["x", "y"])
    other = [psclient.report("OTHER", "2012-07", {"k": "v"}, count=7)]
    subs = [Sub(pipeline, [p] if p else []) for p in prefixes[:6]]
    try:
        for sub in subs:
            sub.wait_synced()
        send_all(pipeline, "many", reports[:len(reports) // 2], size=500)
        subs += [Sub(pipeline, [p]) for p in prefixes[6:11]]
        send_all(pipeline, "many", reports[len(reports) // 2:], first_seq=1000, size=500)
        send_all(pipeline, "other", other)
        truth = settled(pipeline)
        subs += [Sub(pipeline, [p]) for p in prefixes[11:]]
        assert len(subs) == 16
        for sub, prefix in zip(subs, prefixes):
            sub.wait_view(under(truth, prefix))
    finally:
        for sub in subs:
            sub.close()
    assert_counts(truth, reports + other)


def test_retraction_removes_the_cell_and_recomputes_dependents(pipeline):
    """A producer withdraws a cell it reported by mistake: the cell and the
    aggregates left without contributors are removed from every view, the
    other aggregates lose its contribution, and so does a ratio."""
    keep = psclient.report("RET", "2012-05", {"card": "a"}, count=10, amount=1000,
                           currency="MAD")
    wrong = psclient.report("RET", "2012-06", {"card": "b"}, count=5, amount=700,
                            currency="MAD")
    ratio = [psclient.report("OC", "2012", {"channel": "abroad"}, amount=300, currency="MAD"),
             psclient.report("OC", "2012", {"channel": "domestic"}, amount=600,
                             currency="MAD")]
    send_all(pipeline, "ret", [keep, wrong] + ratio)
    sub = Sub(pipeline)
    try:
        before = settled(pipeline)
        sub.wait_view(before)
        assert before[psclient.ratio_topic("abroad_vs_domestic", "2012")]["value"] == 0.5
        ack = pipeline.send_batch("ret", 2, [psclient.report("RET", "2012-06", {"card": "b"},
                                                             op="retract")])
        assert ack["status"] == "ok", ack
        # From a file too; a retraction that carries a measure is refused.
        csv = pipeline.tmp / "retract.csv"
        csv.write_text("source,period,channel,count,amount,currency,op\n"
                       "OC,2012,abroad,,,,retract\n"
                       "OC,2012,domestic,1,,,retract\n")
        res = pipeline.cli("send", csv)
        assert res.returncode == 1
        assert "retract.csv:3: op: retract takes no count or amount (op)" in res.stderr
        truth = settled(pipeline)
        sub.wait_view(truth)
    finally:
        sub.close()
    # Independently: what is left is exactly what KEEP and the domestic OC
    # report make; the June and Q2-only cells, the abroad cell and the
    # ratio are gone.
    assert_counts(under(truth, "RET/"), [keep], "RET/")
    gone = set(expected_counts([keep, wrong])) - set(expected_counts([keep]))
    assert psclient.topic("RET", "2012-06", {"card": "*"}) in gone
    gone |= {psclient.topic("OC", "2012", {"channel": "abroad"}),
             psclient.ratio_topic("abroad_vs_domestic", "2012")}
    assert gone <= set(before) and not gone & set(truth)
    year = truth[psclient.topic("RET", "2012", {"card": "*"})]
    assert (year["count"], year["amount"]) == (10, 1000)
    assert truth[psclient.topic("OC", "2012", {"channel": "*"})]["amount"] == 600
    removed = [m for m in sub.lines if m.get("type") == "removed"]
    assert {m["topic"] for m in removed} == gone
