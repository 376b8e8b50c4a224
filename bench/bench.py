"""paystat's benchmark driver (bench/README.md). Run it through bench/run.sh.

It starts the pipeline (three services, default settings, fresh for every
run) and the ceiling chain (ps_hop, ps_hop, ps_fanout), drives them with
ps_loadgen, reads peak memory and CPU time from /proc, and prints one
table; the full run also writes bench/RESULTS.md. Every figure is the
median of --runs runs with min-max; paystat and ceiling runs alternate, so
that both see the same machine.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
BATCH = 500
# Reports/s of the latency runs: the moderate rate, and a lower one
# that leaves paystat headroom on a loaded 2-core machine.
LAT_RATES = (20000, 5000)
# The ceiling's PUB drops messages past its high-water mark (100,000, and
# libzmq's mark is approximate): its producer keeps at most this many
# batches ahead of the subscriber. paystat conflates, so its feed stays far
# below the mark and only the ack window bounds its producer.
CEILING_LAG = 64
# compute's --flush-ms of the latency runs' third column (the default is 100).
FAST_FLUSH_MS = 5
# Feed body bytes publish adds in front of compute's item: v, seq, prev, epoch.
NUMBERING_BYTES = 36


class BenchError(Exception):
    pass


_GIVEN_PORTS = set()


def free_ports(n):
    """N free loopback ports, none handed out before by this run: a port
    is closed once picked, so a later call could otherwise get it again
    before the service it went to has bound it."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            port = s.getsockname()[1]
            if port not in _GIVEN_PORTS:
                _GIVEN_PORTS.add(port)
                ports.append(port)
        return ports
    finally:
        for s in socks:
            s.close()


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def proc_status(pid, key):
    """A kB figure of /proc/PID/status (VmHWM, VmRSS) in bytes, or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def proc_cpu(pid):
    """User + system CPU seconds of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Stage:
    """One process of a chain: started in its own directory, stopped with SIGTERM."""

    def __init__(self, name, argv, binds, workdir):
        self.name, self.argv, self.binds = name, argv, binds
        self.log = workdir / f"{name}.log"
        workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        for port in self.binds:
            while not port_open(port):
                if self.proc.poll() is not None:
                    raise BenchError(f"{self.name} exited at start-up:\n{self.log.read_text()}")
                if time.monotonic() > deadline:
                    raise BenchError(f"{self.name} did not bind port {port}")
                time.sleep(0.01)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_text(self):
        return self.log.read_text(errors="replace")


_HELP_CACHE = {}


def extra_endpoints(exe, given):
    """Free endpoints for every option of EXE (per its --help) whose default
    is a TCP endpoint and that GIVEN does not set, so that concurrent runs
    and other programs on the machine never collide on a default port."""
    if exe not in _HELP_CACHE:
        _HELP_CACHE[exe] = sh([exe, "--help"])
    args, flag = [], None
    for line in _HELP_CACHE[exe].splitlines():
        m = re.match(r"\s*--([a-z-]+)=VALUE", line)
        if m:
            flag = m.group(1)
            continue
        m = re.search(r"default (tcp://[0-9.]+|[0-9.]+):([0-9]+)\s*$", line)
        if m and flag and f"--{flag}" not in given:
            args += [f"--{flag}", f"{m.group(1)}:{free_ports(1)[0]}"]
        flag = None if m else flag
    return args


class Chain:
    """The three stages of paystat, or of the ceiling, from publish down."""

    def __init__(self, kind, build, workdir, sizes, compute_args=()):
        self.kind = kind
        ports = free_ports(4)
        ep = [f"tcp://127.0.0.1:{p}" for p in ports]
        self.ingest, self.feed = ep[0], ep[3]
        if kind == "paystat":
            svc = build / "services"
            specs = [
                ("publish", [svc / "publish/paystat-publish", "--bind", ep[2], "--feed", ep[3]],
                 ports[2:4]),
                ("compute", [svc / "compute/paystat-compute", "--bind", ep[1], "--publish", ep[2],
                             *compute_args], ports[1:2]),
                ("ingest", [svc / "ingest/paystat-ingest", "--bind", ep[0], "--compute", ep[1]],
                 ports[0:1]),
            ]
        else:
            tools = build / "bench"
            item = sizes["topic"] + sizes["body"] - NUMBERING_BYTES + 8
            specs = [
                ("fanout", [tools / "ps_fanout", "--bind", ep[2], "--feed", ep[3],
                            "--topic-bytes", sizes["topic"], "--body-bytes", sizes["body"]],
                 ports[2:4]),
                ("hop2", [tools / "ps_hop", "--bind", ep[1], "--connect", ep[2],
                          "--item-bytes", item], ports[1:2]),
                ("hop1", [tools / "ps_hop", "--bind", ep[0], "--connect", ep[1],
                          "--reply-bytes", sizes["ack"], "--out-bytes", sizes["fwd"]],
                 ports[0:1]),
            ]
        self.workdir = workdir
        self.cells = None  # compute's cell count, read from its log once stopped
        self.stages = []
        try:
            for name, argv, binds in specs:
                argv = [str(a) for a in argv]
                argv += extra_endpoints(argv[0], argv)
                stage = Stage(name, argv, binds, workdir)
                self.stages.append(stage)
                stage.wait_ready()
        except BaseException:
            self.stop()
            raise
        self.commands = [" ".join(shlex.quote(a) for a in s.argv) for s in self.stages]

    def stage(self, name):
        return next(s for s in self.stages if s.name == name)

    def measure(self):
        """Peak RSS (bytes) and CPU seconds of every stage, while alive."""
        out = {}
        for s in self.stages:
            if s.proc.poll() is not None:
                raise BenchError(f"{s.name} died during the run:\n{s.log_text()[-4000:]}")
            out[f"hwm_{s.name}"] = proc_status(s.proc.pid, "VmHWM")
            out[f"cpu_{s.name}"] = proc_cpu(s.proc.pid)
        return out

    def stop(self):
        for s in reversed(self.stages):
            s.stop()


def run_loadgen(build, chain, args, on_prefilled=None):
    """Runs ps_loadgen against CHAIN; returns its key=value lines as a dict."""
    argv = [str(build / "bench/ps_loadgen"), "--target", chain.kind, "--ingest", chain.ingest,
            "--feed", chain.feed, *[str(a) for a in args]]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    result = {}
    for line in proc.stdout:
        line = line.strip()
        if line == "prefilled":
            if on_prefilled:
                result.update(on_prefilled())
            proc.stdin.write("go\n")
            proc.stdin.flush()
        elif "=" in line:
            key, value = line.split("=", 1)
            result[key] = float(value) if re.fullmatch(r"-?[0-9.]+", value) else value
    err = proc.stderr.read()
    proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or result.get("final_seen") != 1:
        raise BenchError(f"ps_loadgen failed ({proc.returncode}): {' '.join(argv)}\n{err}")
    result["cpu_loadgen"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["command"] = " ".join(shlex.quote(a) for a in argv)
    return result


class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.build = Path(opts.build).resolve()
        self.workdir = Path(tempfile.mkdtemp(prefix="paystat-bench-"))
        self.sizes = {"topic": 48, "body": 410, "ack": 88, "fwd": 55483}
        self.results = {}  # experiment -> list of run dicts
        self.commands = {}  # experiment -> (chain commands, loadgen command)
        self.nrun = 0

    def chain(self, name, kind, compute_args=()):
        self.nrun += 1
        return Chain(kind, self.build, self.workdir / f"{self.nrun:03d}-{name}", self.sizes,
                     compute_args)

    def run(self, name, kind, loadgen_args, chain=None, on_prefilled=None, compute_args=()):
        """One ps_loadgen run, on a fresh chain (compute started with
        COMPUTE_ARGS) unless CHAIN is given (then the caller stops it)."""
        own = chain is None
        chain = chain or self.chain(name, kind, compute_args)
        try:
            base_rss = {s.name: proc_status(s.proc.pid, "VmRSS") for s in chain.stages}
            hook = (lambda: on_prefilled(chain, base_rss)) if on_prefilled else None
            result = run_loadgen(self.build, chain, loadgen_args, hook)
            result.update(chain.measure())
        finally:
            if own:
                self.stop(chain)
        if own and chain.cells:
            result["compute_cells"] = chain.cells
        self.results.setdefault(name, []).append(result)
        self.commands[name] = (chain.commands, result["command"])
        print(f"  {name:<22} {kind:<8} run {len(self.results[name])}: "
              f"{result['feed_rate']:>9.0f} reports/s on the feed, "
              f"p99 {result.get('lat_p99_us', 0) / 1000:.1f} ms", flush=True)
        return result

    def stop(self, chain):
        """Stops CHAIN and deletes its directory (journals and checkpoints
        add up over a run), unless --keep."""
        chain.stop()
        if chain.kind == "paystat":
            m = re.findall(r"msg=\"stopped\".* cells=([0-9]+)",
                           chain.stage("compute").log_text())
            chain.cells = int(m[-1]) if m else None
        if not self.opts.keep:
            shutil.rmtree(chain.workdir, ignore_errors=True)

    def calibrate(self):
        """A short paystat run gives the real frame sizes the ceiling mimics,
        and paystat's rate, which sizes the paystat runs to last about
        --seconds each."""
        r = self.run("calibration", "paystat", ["--reports", self.opts.calibration_reports])
        self.sizes = {"topic": round(r["topic_bytes"]), "body": round(r["body_bytes"]),
                      "ack": int(r["ack_bytes_seen"]), "fwd": int(r["fwd_bytes"])}
        if not self.opts.smoke:
            n = int(r["feed_rate"] * self.opts.seconds) // BATCH * BATCH
            self.opts.paystat_reports = min(max(n, 50 * BATCH), 2000 * BATCH)
            self.opts.cells_reports = self.opts.paystat_reports

    def throughput(self):
        for _ in range(self.opts.runs):
            self.run("ceiling_throughput", "ceiling",
                     ["--reports", self.opts.ceiling_reports, "--lag", CEILING_LAG])
            self.run("paystat_throughput", "paystat", ["--reports", self.opts.paystat_reports])
            self.run("paystat_scattered", "paystat",
                     ["--reports", self.opts.paystat_reports, "--order", "scattered"])

    def latency(self):
        for rate in LAT_RATES:
            args = ["--reports", int(rate * self.opts.latency_seconds), "--rate", rate]
            for _ in range(self.opts.runs):
                self.run(f"ceiling_latency_{rate}", "ceiling", args)
                self.run(f"paystat_latency_{rate}", "paystat", args)
                # The same pipeline conflating over FAST_FLUSH_MS instead of
                # the default 100 ms: what the flush interval adds.
                self.run(f"paystat_latency_{rate}_fast", "paystat", args,
                         compute_args=["--flush-ms", FAST_FLUSH_MS])

    def cells(self):
        """Per size, one pipeline: the first run reports every leaf of the
        key mix once (compute's memory is read then), and every run then
        times a pass over the full store."""

        def sample(chain, base):
            rss = proc_status(chain.stage("compute").proc.pid, "VmRSS")
            return {"rss_base": base["compute"], "rss_prefilled": rss}

        for size, sources, days in self.opts.cell_sizes:
            name = f"cells_{size}"
            chain = self.chain(name, "paystat")
            mix = ["--reports", self.opts.cells_reports, "--sources", sources, "--days", days]
            try:
                first = self.run(name, "paystat", mix + ["--prefill", "--pause"], chain, sample)
                for _ in range(self.opts.runs - 1):
                    self.run(name, "paystat", mix, chain)
            finally:
                self.stop(chain)
            if chain.cells:
                first["compute_cells"] = chain.cells

    def subscribers(self):
        """1 subscriber is the throughput runs' case."""
        for n in self.opts.subscriber_counts:
            if n == 1:
                self.results["subscribers_1"] = self.results.get("paystat_throughput", [])
                continue
            for _ in range(self.opts.runs):
                self.run(f"subscribers_{n}", "paystat",
                         ["--reports", self.opts.paystat_reports, "--subscribers", n])


# ---- Reporting ----------------------------------------------------------------


def values(runs, key):
    return [r[key] for r in runs if r.get(key) is not None]


def med(runs, key):
    v = values(runs, key)
    return statistics.median(v) if v else None


def fmt(runs, key, scale=1.0, digits=0, unit=""):
    v = [x * scale for x in values(runs, key)]
    if not v:
        return "n/a"
    m = statistics.median(v)
    return f"{m:,.{digits}f}{unit} ({min(v):,.{digits}f}–{max(v):,.{digits}f})"


def cpu_per_report(runs, key):
    v = [r[key] / r["accepted"] * 1e6 for r in runs if r.get(key) is not None and r["accepted"]]
    return f"{statistics.median(v):.1f}" if v else "n/a"


def cpu_per_message(runs, key):
    v = [r[key] / r["feed_msgs"] * 1e6 for r in runs if r.get(key) is not None and r["feed_msgs"]]
    return f"{statistics.median(v):.1f}" if v else "n/a"


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = proc_meminfo()
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": f"{mem / 2**30:.1f} GiB",
            "kernel": platform.release(), "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def proc_meminfo():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def versions(build):
    # A source tarball or a minimal container has no git: the commit is then "unknown".
    try:
        status = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                 "--untracked-files=no"], capture_output=True, text=True)
        changed = [ln[3:] for ln in status.stdout.splitlines()] if status.returncode == 0 else []
    except OSError:
        changed = []
    commit = sh(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    build_type = "unknown"
    cache = build / "CMakeCache.txt"
    if cache.exists():
        m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", cache.read_text(), re.M)
        build_type = (m.group(1) or "RelWithDebInfo, the project's default") if m else build_type
    if changed:
        commit += f" + uncommitted changes to {len(changed)} files ({', '.join(changed)})"
    return {"libzmq": sh(["pkg-config", "--modversion", "libzmq"]),
            "msgpack-c": sh(["pkg-config", "--modversion", "msgpack"]),
            "gcc": sh(["gcc", "-dumpfullversion"]),
            "commit": commit,
            "build": f"{build} (CMAKE_BUILD_TYPE={build_type})"}


def verdict(ok, text):
    return ("met" if ok else "**missed**") + f": {text}"


def tables(b):
    r = b.results
    ct, pt = r.get("ceiling_throughput", []), r.get("paystat_throughput", [])
    out = []
    ratio = [p["feed_rate"] / c["feed_rate"] for p, c in zip(pt, ct)]
    out.append("### Throughput (reports/s; median of the runs, min–max)\n")
    out.append("| figure | ceiling (raw ZeroMQ) | paystat | paystat / ceiling |")
    out.append("|---|---|---|---|")
    out.append(f"| acknowledged | {fmt(ct, 'ack_rate')} | {fmt(pt, 'ack_rate')} | |")
    ratio_text = (f"{statistics.median(ratio):.3f} ({min(ratio):.3f}–{max(ratio):.3f})"
                  if ratio else "n/a")
    out.append(f"| reflected on the feed | {fmt(ct, 'feed_rate')} | {fmt(pt, 'feed_rate')} | "
               f"{ratio_text} |")
    out.append(f"| feed messages per report | {fmt(ct, 'msgs_per_report', digits=2)} | "
               f"{fmt(pt, 'msgs_per_report', digits=2)} | |")
    ps_ = r.get("paystat_scattered", [])
    sratio = [p["feed_rate"] / c["feed_rate"] for p, c in zip(ps_, ct)]
    sratio_text = (f"{statistics.median(sratio):.3f} ({min(sratio):.3f}–{max(sratio):.3f})"
                   if sratio else "n/a")
    out.append(f"| reflected, scattered order (worst case) | | {fmt(ps_, 'feed_rate')} | "
               f"{sratio_text} |")
    out.append(f"| feed messages per report, scattered | | "
               f"{fmt(ps_, 'msgs_per_report', digits=2)} | |")
    out.append(f"| feed gaps (messages dropped) | {fmt(ct, 'feed_gaps')} | "
               f"{fmt(pt, 'feed_gaps')} | |")
    out.append(f"| latency under full load, p99 (ms) | {fmt(ct, 'lat_p99_us', 1e-3, 1)} | "
               f"{fmt(pt, 'lat_p99_us', 1e-3, 1)} | |")
    out.append("")
    for rate in LAT_RATES:
        cl, pl = r.get(f"ceiling_latency_{rate}", []), r.get(f"paystat_latency_{rate}", [])
        if not cl or not pl:
            continue
        out.append(f"### End-to-end latency at {rate:,} reports/s (ms; producer send → "
                   "subscriber receipt)\n")
        fl = r.get(f"paystat_latency_{rate}_fast", [])
        out.append(f"| percentile | ceiling | paystat | paystat / ceiling | paystat, "
                   f"`--flush-ms {FAST_FLUSH_MS}` | / ceiling |")
        out.append("|---|---|---|---|---|---|")

        def ratio(runs, key):
            rc, rp = med(cl, key), med(runs, key) if runs else None
            return f"{rp / rc:.1f}" if rc and rp else "n/a"

        for key, label in (("lat_p50_us", "p50"), ("lat_p99_us", "p99"),
                           ("lat_p999_us", "p99.9")):
            out.append(f"| {label} | {fmt(cl, key, 1e-3, 2)} | {fmt(pl, key, 1e-3, 2)} | "
                       f"{ratio(pl, key)} | {fmt(fl, key, 1e-3, 2)} | {ratio(fl, key)} |")
        out.append(f"| probes per run | {fmt(cl, 'lat_n')} | {fmt(pl, 'lat_n')} | | "
                   f"{fmt(fl, 'lat_n')} | |")
        out.append(f"| reports/s reached | {fmt(cl, 'feed_rate')} | {fmt(pl, 'feed_rate')} | | "
                   f"{fmt(fl, 'feed_rate')} | |")
        out.append(f"| feed messages per report | | {fmt(pl, 'msgs_per_report', digits=2)} | | "
                   f"{fmt(fl, 'msgs_per_report', digits=2)} | |")
        out.append("")
    out.append("### Peak resident memory (VmHWM, MiB) and CPU per report (µs), throughput runs\n")
    out.append("| stage | ceiling peak RSS | paystat peak RSS | ceiling CPU/report | "
               "paystat CPU/report |")
    out.append("|---|---|---|---|---|")
    for (cs, ps, label) in (("hop1", "ingest", "ingest (ceiling: hop 1)"),
                            ("hop2", "compute", "compute (ceiling: hop 2)"),
                            ("fanout", "publish", "publish (ceiling: fan-out)")):
        out.append(f"| {label} | {fmt(ct, 'hwm_' + cs, 2**-20, 1)} | "
                   f"{fmt(pt, 'hwm_' + ps, 2**-20, 1)} | {cpu_per_report(ct, 'cpu_' + cs)} | "
                   f"{cpu_per_report(pt, 'cpu_' + ps)} |")
    out.append(f"| load generator + subscriber | | | {cpu_per_report(ct, 'cpu_loadgen')} | "
               f"{cpu_per_report(pt, 'cpu_loadgen')} |")
    out.append(f"| publish (ceiling: fan-out), per feed message | | | "
               f"{cpu_per_message(ct, 'cpu_fanout')} | {cpu_per_message(pt, 'cpu_publish')} |")
    out.append("")
    out.append("### Compute's memory and throughput by number of cells\n")
    out.append("| distinct cells | resident bytes per cell | compute peak RSS (MiB) | "
               "reports/s on the feed | vs 10^3 |")
    out.append("|---|---|---|---|---|")
    base_rate = None
    for size, _, _ in b.opts.cell_sizes:
        runs = r.get(f"cells_{size}", [])
        if not runs:
            continue
        for x in runs:
            if "rss_prefilled" in x:
                cells = x.get("compute_cells") or x["cells"]
                x["bytes_per_cell"] = (x["rss_prefilled"] - x["rss_base"]) / cells
                x["cells_held"] = cells
        rate = med(runs, "feed_rate")
        base_rate = base_rate or rate
        out.append(f"| {fmt(runs, 'cells_held')} | {fmt(runs, 'bytes_per_cell')} | "
                   f"{fmt(runs, 'hwm_compute', 2**-20, 1)} | {fmt(runs, 'feed_rate')} | "
                   f"{rate / base_rate:.2f} |")
    out.append("")
    out.append("### paystat throughput by number of subscribers\n")
    out.append("| subscribers | reports/s on the feed | feed gaps | publish CPU/report (µs) |")
    out.append("|---|---|---|---|")
    for n in b.opts.subscriber_counts:
        runs = r.get(f"subscribers_{n}", [])
        if runs:
            out.append(f"| {n} | {fmt(runs, 'feed_rate')} | {fmt(runs, 'feed_gaps')} | "
                       f"{cpu_per_report(runs, 'cpu_publish')} |")
    return out


def targets(b):
    r = b.results
    out = ["### Targets (issue 4)\n"]
    ct, pt = r.get("ceiling_throughput", []), r.get("paystat_throughput", [])
    if ct and pt:
        q = statistics.median(p["feed_rate"] / c["feed_rate"] for p, c in zip(pt, ct))
        out.append("- throughput ≥ 0.4 × ceiling: " +
                   verdict(q >= 0.4, f"{q:.3f} × (needs {0.4 / q:.1f}× more)" if q < 0.4
                           else f"{q:.3f} ×"))
    rate = LAT_RATES[0]
    cl, pl = r.get(f"ceiling_latency_{rate}", []), r.get(f"paystat_latency_{rate}", [])
    if cl and pl:
        q = med(pl, "lat_p99_us") / med(cl, "lat_p99_us")
        fl = r.get(f"paystat_latency_{rate}_fast", [])
        fast = ""
        if fl:
            qf = med(fl, "lat_p99_us") / med(cl, "lat_p99_us")
            fast = (f"; with `--flush-ms {FAST_FLUSH_MS}`: {qf:.1f} × "
                    f"({med(fl, 'lat_p99_us') / 1000:.1f} ms)")
        out.append(f"- p99 latency ≤ 3 × ceiling's at {rate:,}/s: " +
                   verdict(q <= 3, f"{q:.1f} × ({med(pl, 'lat_p99_us') / 1000:.1f} ms vs "
                           f"{med(cl, 'lat_p99_us') / 1000:.2f} ms){fast}"))
    big = r.get(f"cells_{b.opts.cell_sizes[-1][0]}", [])
    small = r.get(f"cells_{b.opts.cell_sizes[0][0]}", [])
    if big and small:
        bpc = med(big, "bytes_per_cell")
        out.append(f"- ≤ 128 resident bytes per cell at {b.opts.cell_sizes[-1][0]} cells: " +
                   verdict(bpc <= 128, f"{bpc:.0f} B"))
        q = med(big, "feed_rate") / med(small, "feed_rate")
        out.append(f"- throughput at {b.opts.cell_sizes[-1][0]} cells ≥ 0.8 × at "
                   f"{b.opts.cell_sizes[0][0]}: " + verdict(q >= 0.8, f"{q:.2f} ×"))
    return out


def profile_section(b):
    if not b.profile:
        return []
    out = ["## Profile\n",
           "`perf record -e cpu-clock` on each service during one extra paystat throughput run "
           "(flat profile: share of the process's own samples).\n"]
    for name, lines in b.profile.items():
        out.append(f"**{name}**\n\n```\n" + "\n".join(lines) + "\n```\n")
    return out


def write_results(b, path, meta):
    mach_before, mach_after, vers = meta["machine"], meta["machine_after"], meta["versions"]
    lines = ["# paystat benchmark results", "",
             f"Written by `bench/run.sh` on {meta['started']} UTC in {meta['elapsed']:.0f} s; "
             "see bench/README.md for what each figure means and how it is measured. "
             f"The raw figures of every run are in {Path(path).with_suffix('.json').name}.", "",
             "## Machine and versions", ""]
    for k, v in mach_before.items():
        if k != "load":
            lines.append(f"- {k}: {v}")
    lines.append(f"- load average (1, 5, 15 min) at start: {mach_before['load']}; at end: "
                 f"{mach_after['load']} (other work on the machine makes every figure noisier)")
    for k, v in vers.items():
        lines.append(f"- {k}: {v}")
    lines += ["", f"## Results ({b.opts.runs} runs per figure)", ""]
    lines += tables(b)
    lines += [""] + targets(b) + [""]
    notes = ROOT / "bench" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    lines += profile_section(b)
    lines += ["## Exact commands", "", "```", f"bench/run.sh {meta['args']}".rstrip(), "```", "",
              "One run of each kind, as last executed (ports are free ones picked per run; "
              "every process starts fresh in its own directory):", ""]
    for name, (chain, loadgen) in b.commands.items():
        lines += [f"**{name}**", "", "```"] + chain + [loadgen, "```", ""]
    Path(path).write_text("\n".join(lines))


def run_profile(b):
    """One paystat throughput run with perf recording every service."""
    if not sh(["which", "perf"]).startswith("/"):
        return {}
    chain = Chain("paystat", b.build, b.workdir / "profile", b.sizes)
    recs, result = [], {}
    try:
        for s in chain.stages:
            data = b.workdir / f"perf.{s.name}.data"
            recs.append((s.name, data, subprocess.Popen(
                ["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-o", str(data), "-p",
                 str(s.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        time.sleep(0.3)
        run_loadgen(b.build, chain, ["--reports", b.opts.paystat_reports])
    finally:
        for _, _, p in recs:
            p.send_signal(signal.SIGINT)
            p.wait()
        b.stop(chain)
    for name, data, _ in recs:
        text = sh(["perf", "report", "-i", str(data), "--no-children", "--sort", "sym", "-g",
                   "none", "--percent-limit", "1.5"])
        result[name] = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")][:14]
    return result


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("PAYSTAT_BIN_DIR", ROOT / "build-bench"))
    ap.add_argument("--smoke", action="store_true", help="tiny runs, seconds: checks the harness")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", help="where to write the results (default bench/RESULTS.md; "
                                  "--smoke writes nothing unless given)")
    ap.add_argument("--no-profile", action="store_true", help="skip the perf profile run")
    ap.add_argument("--seconds", type=float, default=4.0,
                    help="how long each paystat throughput run should last (sizes them)")
    ap.add_argument("--keep", action="store_true", help="keep every run's directory and logs")
    ap.add_argument("--render", metavar="JSON",
                    help="only rewrite --out from the raw figures a full run saved in JSON")
    opts = ap.parse_args()
    # (size label, sources, days): the key mix of each cell count.
    opts.cell_sizes = [("10^3", 2, 12), ("10^4", 2, 130), ("10^5", 2, 1320), ("10^6", 20, 1320)]
    opts.subscriber_counts = [1, 4, 16]
    opts.calibration_reports = 100000
    opts.ceiling_reports = 1000000
    opts.paystat_reports = 300000
    opts.cells_reports = 150000
    opts.latency_seconds = 5
    if opts.smoke:
        opts.runs = 1
        opts.cell_sizes = opts.cell_sizes[:2]
        opts.subscriber_counts = [4]
        opts.calibration_reports = 5000
        opts.ceiling_reports = opts.paystat_reports = opts.cells_reports = 10000
        opts.latency_seconds = 0.5
        opts.no_profile = True
    if opts.out is None and not opts.smoke:
        opts.out = ROOT / "bench" / "RESULTS.md"
    return opts


def run_args():
    """The arguments given to bench/run.sh (it adds --build itself)."""
    args = sys.argv[1:]
    if "--build" in args:
        i = args.index("--build")
        del args[i:i + 2]
    return " ".join(shlex.quote(a) for a in args)


def save(b, path, meta):
    """The raw figures beside the table, so that it can be re-rendered."""
    data = {"meta": meta, "results": b.results, "commands": b.commands, "profile": b.profile,
            "runs": b.opts.runs, "cell_sizes": b.opts.cell_sizes,
            "subscriber_counts": b.opts.subscriber_counts}
    Path(path).with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")


def render(opts):
    data = json.loads(Path(opts.render).read_text())
    b = types.SimpleNamespace(results=data["results"], commands=data["commands"],
                              profile=data["profile"], opts=opts)
    opts.runs, opts.subscriber_counts = data["runs"], data["subscriber_counts"]
    opts.cell_sizes = [tuple(x) for x in data["cell_sizes"]]
    write_results(b, opts.out, data["meta"])
    print(f"wrote {opts.out}")
    return 0


def main():
    opts = parse_args()
    if opts.render:
        return render(opts)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    b = Bench(opts)
    mach, vers = machine(), versions(b.build)
    print(f"paystat benchmark: {mach['nproc']} CPUs ({mach['cpu']}), {mach['memory']}, "
          f"load {mach['load']}; commit {vers['commit'][:40]}", flush=True)
    b.profile = {}
    try:
        b.calibrate()
        b.throughput()
        b.latency()
        b.cells()
        b.subscribers()
        if not opts.no_profile:
            b.profile = run_profile(b)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        opts.keep = True
        print(f"bench: logs kept in {b.workdir}", file=sys.stderr)
        return 1
    finally:
        if not opts.keep:
            shutil.rmtree(b.workdir, ignore_errors=True)
    elapsed = time.monotonic() - t0
    print()
    print("\n".join(tables(b) + [""] + targets(b)))
    if opts.out:
        meta = {"started": f"{started:%Y-%m-%d %H:%M}", "elapsed": elapsed, "machine": mach,
                "machine_after": machine(), "versions": vers, "args": run_args()}
        save(b, opts.out, meta)
        write_results(b, opts.out, meta)
        print(f"\nwrote {opts.out}")
    print(f"final state seen by every subscriber in all {b.nrun} runs; {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
