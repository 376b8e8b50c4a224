"""The crash test of issue 5: no acknowledged report is lost or counted twice.

Four producers stream 200,000 reports (adds and sets) while the test kills
ingest, compute and publish with SIGKILL at random moments, twelve times in
all, checking that each kill was delivered, and restarts each. Three
producers are independent Python clients (one batch in flight, Lazy Pirate
resends); the fourth is `paystat send` (four batches in flight), run ten
times over a CSV. At the end every cell on the feed must equal an
independent sum over exactly the acknowledged reports, both from a compute
restarted from its checkpoint (which republishes everything) and in a late
subscriber's snapshot.
"""

import random
import signal
import threading
import time

import psclient
import pytest
from producers import Model, ReliableProducer, drain, mismatches, wait_converged

SEED = 20260505
SOURCE = "CR"
PREFIX = SOURCE + "/"
PY_PRODUCERS = 3
BATCHES = 100  # per Python producer
BATCH_SIZE = 500  # 3 x 100 x 500 = 150,000 reports
CLI_RUNS = 10
CLI_ROWS = 5000  # 10 x 5,000 = 50,000 reports
SHOPS = 40
MONTHS = [f"2012-{m:02d}" for m in range(1, 13)]
STREAM_S = 16.0  # producers spread their batches over this long
KILLS = ["ingest", "compute", "publish"] * 4


def make_reports(rng, producer, n):
    """N reports on PRODUCER's own cells (dims prod=PRODUCER,shop=...), so
    the order that matters for "set" is that producer's seq order."""
    out = []
    for _ in range(n):
        op = "set" if rng.random() < 0.2 else None
        out.append(psclient.report(SOURCE, rng.choice(MONTHS),
                                   {"prod": producer, "shop": f"s{rng.randrange(SHOPS)}"},
                                   count=rng.randrange(1, 1000),
                                   amount=rng.randrange(1, 10**6), currency="MAD", op=op))
    return out


def write_csv(path, reports):
    with open(path, "w", encoding="utf-8") as f:
        f.write("source,period,prod,shop,count,amount,currency,op\n")
        for r in reports:
            dims = dict(d.split("=", 1) for d in r["dims"])
            a = r["amount"]
            f.write(f"{r['source']},{r['period']},{dims['prod']},{dims['shop']},{r['count']},"
                    f"{a // 100}.{a % 100:02d},MAD,{r.get('op') or 'add'}\n")


class Stream(threading.Thread):
    """Runs one producer's batches, paced over STREAM_S; records failures."""

    def __init__(self, name, work):
        super().__init__(name=name, daemon=True)
        self.work = work
        self.error = None

    def run(self):
        try:
            self.work()
        except BaseException as e:  # reported by the test thread
            self.error = e


def pace(start, i, n):
    delay = start + STREAM_S * i / n - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def test_crash(pipeline_factory):
    # Checkpoints 2 s apart: most compute kills lose applied entries that
    # only a correct replay from ingest's journal brings back.
    pipeline = pipeline_factory(compute_args=["--checkpoint-ms", "2000"])
    rng = random.Random(SEED)
    model = Model()
    streams = []

    for p in range(PY_PRODUCERS):
        name = f"py{p}"
        batches = [make_reports(rng, name, BATCH_SIZE) for _ in range(BATCHES)]

        def work(name=name, batches=batches):
            producer = ReliableProducer(pipeline.ingest, name)
            try:
                for seq, reports in enumerate(batches, 1):
                    pace(start, seq - 1, BATCHES)
                    ack = producer.send(seq, reports)
                    assert (ack["status"], ack["accepted"]) == ("ok", BATCH_SIZE), ack
            finally:
                producer.close()

        streams.append(Stream(name, work))
        for reports in batches:
            model.apply_all(reports)

    runs = []
    for k in range(CLI_RUNS):
        reports = make_reports(rng, "cli", CLI_ROWS)
        path = pipeline.tmp / f"cli-{k}.csv"
        write_csv(path, reports)
        runs.append(path)
        model.apply_all(reports)

    def cli_work():
        for k, path in enumerate(runs):
            pace(start, k, CLI_RUNS)
            # Seqs go on from run to run (gaps are allowed).
            res = pipeline.cli("send", "--producer", "cli", "--first-seq", 100 * k + 1,
                               "--timeout-ms", 2000, "--retries", 20, path, timeout=120)
            assert res.returncode == 0, f"paystat send run {k}:\n{res.stdout}\n{res.stderr}"

    streams.append(Stream("cli", cli_work))
    start = time.monotonic()
    for s in streams:
        s.start()

    # In random order, but compute last: no ingest restart after it can
    # cover up a replay that went wrong.
    order = rng.sample(KILLS, len(KILLS))
    order.remove("compute")
    order.append("compute")
    kills = []
    for name in order:
        time.sleep(rng.uniform(0.3, 0.9))
        svc = pipeline[name]
        assert svc.alive, f"{name} is not running before kill {len(kills) + 1}"
        pid = svc.pid
        svc.kill()
        assert svc.proc.returncode == -signal.SIGKILL, \
            f"{name} (pid {pid}) ended with {svc.proc.returncode}, not by SIGKILL"
        kills.append((name, pid, time.monotonic() - start))
        time.sleep(rng.uniform(0.0, 0.3))
        svc.start()
        svc.wait_ready()
    streaming = [s.name for s in streams if s.is_alive()]

    for s in streams:
        s.join(timeout=180)
        assert not s.is_alive(), f"producer {s.name} did not finish"
        if s.error:
            raise s.error
    assert len(kills) >= 10
    # Every kill landed while producers were still sending.
    assert streaming, f"producers finished before the last kill: {kills}"
    pipeline.check_alive()

    expected = model.cells()
    assert len(model.leaves) == (PY_PRODUCERS + 1) * SHOPS * len(MONTHS)
    # Compute restarted from its checkpoint republishes every topic, to a
    # subscriber that joined at the end.
    with pipeline.feed([PREFIX]) as feed:
        svc = pipeline["compute"]
        problem = svc.stop()
        assert problem is None, problem
        drain(feed)
        feed.view.clear()
        svc.start()
        svc.wait_ready()
        bad = wait_converged(feed, expected, PREFIX, timeout=60)
        assert not bad, f"{len(bad)} cells differ, e.g.:\n" + "\n".join(bad[:20])

    # A late subscriber's snapshot holds the same cells, none more.
    view, _ = psclient.snapshot_view(pipeline.snapshot_endpoint, PREFIX)
    bad = mismatches(expected, view, PREFIX)
    assert not bad, f"late snapshot: {len(bad)} cells differ, e.g.:\n" + "\n".join(bad[:20])
