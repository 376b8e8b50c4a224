"""pytest fixtures that run the three real paystat services on loopback.

    def test_something(pipeline):
        ack = pipeline.send_batch("p1", 1, [psclient.report(...)])
        with pipeline.feed(["CMI/"]) as feed: ...
        pipeline.cli("send", path)

    def test_other(pipeline_factory):
        p = pipeline_factory(compute_args=["--flush-ms", "100"])

Each service gets free TCP ports on 127.0.0.1, a working directory and a
log file (stdout and stderr) under the test's tmp_path. At teardown every
service must still be running — a crashed service fails the test with its
log printed — and must exit with status 0 within 10 s of SIGTERM.

Executables come from $PAYSTAT_BIN_DIR (set by ctest; default
<repo>/build), data files from $PAYSTAT_SOURCE_DIR (default <repo>).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import psclient  # noqa: E402

SOURCE_DIR = Path(os.environ.get("PAYSTAT_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN_DIR = Path(os.environ.get("PAYSTAT_BIN_DIR", SOURCE_DIR / "build"))
STOP_TIMEOUT = 10.0
START_TIMEOUT = 10.0
LOG_TAIL = 20000  # characters of a service log shown on failure


_GIVEN_PORTS = set()


def free_ports(n):
    """N distinct free TCP ports on 127.0.0.1, none handed out before by
    this test run: a port is closed once picked, so a later call could
    otherwise get it again before the service it went to has bound it."""
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


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _port_of(endpoint):
    return int(endpoint.rsplit(":", 1)[1])


class Service:
    """One paystat executable: started, watched, stopped."""

    def __init__(self, name, exe, args, binds, workdir, log_path, env):
        self.name = name
        self.exe = exe
        self.args = list(args)
        self.binds = list(binds)  # endpoints it binds, probed for readiness
        self.workdir = workdir
        self.log_path = log_path
        self.env = env
        self.proc = None
        self.expect_dead = False  # set when a test kills it on purpose

    @property
    def command(self):
        return [str(self.exe)] + self.args

    def start(self):
        if not Path(self.exe).is_file():
            pytest.fail(f"{self.name}: executable {self.exe} not found "
                        f"(set PAYSTAT_BIN_DIR to the build directory)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Appending keeps the log of earlier runs when a test restarts it.
        with open(self.log_path, "ab") as log:
            log.write(f"--- start: {' '.join(self.command)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.command, cwd=self.workdir, env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.expect_dead = False

    def wait_ready(self, timeout=START_TIMEOUT):
        """Waits until every endpoint it binds accepts TCP connections."""
        deadline = time.monotonic() + timeout
        pending = [_port_of(e) for e in self.binds]
        while pending:
            if not self.alive:
                pytest.fail(f"{self.name} exited with status {self.proc.returncode} "
                            f"during start-up\n{self.log_tail()}")
            pending = [p for p in pending if not _port_open(p)]
            if pending and time.monotonic() > deadline:
                pytest.fail(f"{self.name} did not bind port(s) {pending} within "
                            f"{timeout} s\n{self.log_tail()}")
            if pending:
                time.sleep(0.02)

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, signum):
        if self.alive:
            self.proc.send_signal(signum)

    def kill(self):
        """SIGKILL, on purpose: teardown will not count it as a crash."""
        self.expect_dead = True
        if self.alive:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait. Returns None when it exited 0, else a problem
        description (the process is killed if it did not exit in time)."""
        if self.proc is None:
            return None
        if not self.alive:
            return None if self.expect_dead else self._died_message()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return f"{self.name} did not exit within {timeout} s of SIGTERM"
        if rc != 0:
            return f"{self.name} exited with status {rc} after SIGTERM"
        return None

    def _died_message(self):
        rc = self.proc.returncode
        how = f"killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
        return f"{self.name} was not running at the end of the test ({how})"

    def log_text(self):
        try:
            return Path(self.log_path).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self):
        text = self.log_text()
        if len(text) > LOG_TAIL:
            text = "...\n" + text[-LOG_TAIL:]
        return f"----- {self.name} log ({self.log_path}) -----\n{text}"


class Pipeline:
    """paystat-ingest -> paystat-compute -> paystat-publish on loopback.

    Attributes: ingest, compute, publish, feed_endpoint, snapshot_endpoint
    (connect strings), services (name -> Service), paystat (CLI path), env
    (environment for clients: PAYSTAT_INGEST, PAYSTAT_FEED and
    PAYSTAT_SNAPSHOT point at this pipeline), tmp (its directory)."""

    def __init__(self, tmp, ratios=None, ingest_args=(), compute_args=(), publish_args=(),
                 flush_ms=20, env=None):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        p1, p2, p3, p4, p5, h1, h2, h3 = free_ports(8)
        # Operators' endpoints (/metrics, /healthz, /readyz) on ports of
        # this pipeline's own, so pipelines running side by side never meet.
        self.http = {"ingest": f"http://127.0.0.1:{h1}", "compute": f"http://127.0.0.1:{h2}",
                     "publish": f"http://127.0.0.1:{h3}"}
        self.ingest = f"tcp://127.0.0.1:{p1}"
        self.compute = f"tcp://127.0.0.1:{p2}"
        self.publish = f"tcp://127.0.0.1:{p3}"
        self.feed_endpoint = f"tcp://127.0.0.1:{p4}"
        self.snapshot_endpoint = f"tcp://127.0.0.1:{p5}"
        self.paystat = BIN_DIR / "tools" / "paystat"
        if ratios is None:
            ratios = SOURCE_DIR / "data" / "ratios.conf"

        base_env = dict(os.environ)
        # Endpoints come from flags only: no stray setting of the caller's
        # shell may point a service elsewhere.
        for key in list(base_env):
            if key.startswith("PAYSTAT_") and key not in ("PAYSTAT_BIN_DIR",
                                                          "PAYSTAT_SOURCE_DIR"):
                del base_env[key]
        base_env.update(env or {})
        self.env = dict(base_env, PAYSTAT_INGEST=self.ingest, PAYSTAT_FEED=self.feed_endpoint,
                        PAYSTAT_SNAPSHOT=self.snapshot_endpoint)

        compute_flags = ["--bind", self.compute, "--publish", self.publish,
                         "--flush-ms", str(flush_ms), "--http", f"127.0.0.1:{h2}"]
        if ratios:
            compute_flags += ["--ratios", str(ratios)]
        specs = [
            # Downstream first, so that every connect finds its peer bound.
            ("publish", "services/publish/paystat-publish",
             ["--bind", self.publish, "--feed", self.feed_endpoint,
              "--snapshot", self.snapshot_endpoint, "--http", f"127.0.0.1:{h3}"]
             + list(publish_args),
             [self.publish, self.feed_endpoint, self.snapshot_endpoint, f"tcp://127.0.0.1:{h3}"]),
            ("compute", "services/compute/paystat-compute",
             compute_flags + list(compute_args), [self.compute, f"tcp://127.0.0.1:{h2}"]),
            ("ingest", "services/ingest/paystat-ingest",
             ["--bind", self.ingest, "--compute", self.compute, "--http", f"127.0.0.1:{h1}"]
             + list(ingest_args),
             [self.ingest, f"tcp://127.0.0.1:{h1}"]),
        ]
        self.services = {}
        for name, rel, args, binds in specs:
            self.services[name] = Service(name, BIN_DIR / rel, args, binds, self.tmp / name,
                                          self.tmp / f"{name}.log", base_env)

    def start(self):
        for svc in self.services.values():
            svc.start()
            svc.wait_ready()
        return self

    def __getitem__(self, name):
        return self.services[name]

    def restart(self, name):
        """Stops NAME (SIGTERM, must exit 0) and starts it again."""
        svc = self.services[name]
        problem = svc.stop()
        if problem:
            pytest.fail(f"{problem}\n{svc.log_tail()}")
        svc.start()
        svc.wait_ready()

    def check_alive(self):
        """Fails the test now if any service died unexpectedly."""
        dead = [s for s in self.services.values() if not s.alive and not s.expect_dead]
        if dead:
            pytest.fail("\n".join(s._died_message() + "\n" + s.log_tail() for s in dead))

    def shutdown(self):
        """Returns the problems found: services that had died, or that did
        not exit 0 within STOP_TIMEOUT of SIGTERM. Upstream stops first so
        that whatever is in flight can drain downstream."""
        problems = []
        for name in ("ingest", "compute", "publish"):
            svc = self.services[name]
            problem = svc.stop()
            if problem:
                problems.append(f"{problem}\n{svc.log_tail()}")
        return problems

    # ---- client conveniences ----

    def send_batch(self, producer, seq, reports, timeout=5.0, **extra):
        return psclient.send_batch(self.ingest, producer, seq, reports, timeout, **extra)

    def send_raw(self, frame, timeout=5.0):
        return psclient.send_raw(self.ingest, frame, timeout)

    def producer(self):
        return psclient.Producer(self.ingest)

    def feed(self, prefixes=("",), heartbeats=False, ready=True):
        """A Feed on this pipeline; with READY, returned only once a
        heartbeat has shown that the subscription is live."""
        f = psclient.Feed(self.feed_endpoint, prefixes, heartbeats)
        if ready:
            try:
                f.wait_ready()
            except TimeoutError:
                f.close()
                raise
        return f

    def cli(self, *args, input=None, timeout=120, check=False):
        """Runs the paystat CLI against this pipeline; returns the
        CompletedProcess (text stdout/stderr)."""
        if not self.paystat.is_file():
            pytest.fail(f"CLI {self.paystat} not found")
        return subprocess.run([str(self.paystat)] + [str(a) for a in args], input=input,
                              capture_output=True, text=True, timeout=timeout, env=self.env,
                              cwd=self.tmp, check=check)

    def logs(self):
        return "\n".join(s.log_tail() for s in self.services.values())


@pytest.fixture
def pipeline_factory(tmp_path):
    """Returns start(**kwargs) -> a running Pipeline (see Pipeline for the
    keyword arguments: ratios, ingest_args, compute_args, publish_args,
    flush_ms, env). Every pipeline started is checked and stopped at
    teardown."""
    started = []

    def start(**kwargs):
        p = Pipeline(tmp_path / f"pipeline{len(started)}", **kwargs)
        started.append(p)
        return p.start()

    yield start

    problems = []
    for p in started:
        problems += p.shutdown()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def pipeline(pipeline_factory):
    """The three services with default settings, running."""
    return pipeline_factory()
