"""CURVE on the internal links and on the subscriber side (issue #10):
ingest -> compute -> publish and publish's feed and snapshot sockets, each
secured with keys made by `paystat keygen`.

- a pipeline secured on every link carries the article's dataset to a
  keyed `paystat sub`, from the feed and from a snapshot;
- a subscriber without a key, or with a key publish does not know, gets
  nothing from the feed and no snapshot, while a keyed one does;
- the bytes on the secured feed, recorded by a TCP proxy on loopback, do
  not contain a topic that the same proxy sees in clear without CURVE;
- a compute or an ingest whose key is not allowed delivers nothing, and an
  ingest's key speaks for its own ingest id only;
- SIGHUP on publish revokes a subscriber key for new connections, while a
  connection already made keeps receiving (libzmq cannot drop one peer of
  an XPUB socket: revocation on the feed takes effect at the handshake);
  SIGHUP on compute makes it ignore an ingest whose key was removed, on
  the connection already made too; an unreadable key directory at reload
  keeps the keys in force;
- paystat-gateway with keys gets ready and serves a secured publish's
  indicators.
"""

import json
import re
import shutil
import signal
import subprocess
import urllib.request

import pytest
import zmq

import psclient
from conftest import BIN_DIR, SOURCE_DIR
from test_security import RecordingProxy, wait_log

DATASET = SOURCE_DIR / "data" / "morocco-2011-2012.csv"
PAYSTAT = BIN_DIR / "tools" / "paystat"
CMI_ALL = "CMI/2012/activity=ecommerce,card=*"
MTC = "MTC/2012/channel=online"
RATIO = "$ratio/abroad_vs_domestic/2012"
SILENCE = 3.0  # seconds in which a refused client must receive nothing
UNCONNECTED = "inproc://paystat-test-unconnected"


# ---- Keys --------------------------------------------------------------------

class Keys:
    """Key pairs made by `paystat keygen` in DIR, and the directories of
    public keys each secured socket admits."""

    def __init__(self, root):
        self.dir = root / "keys"
        self.dir.mkdir()
        self.root = root

    def make(self, *names):
        for name in names:
            res = subprocess.run([str(PAYSTAT), "keygen", name, "--dir", str(self.dir)],
                                 capture_output=True, text=True, timeout=30)
            assert res.returncode == 0, res.stderr
        return self

    def secret(self, name):
        return self.dir / f"{name}.key_secret"

    def public(self, name):
        return self.dir / f"{name}.key"

    def pair(self, name):
        """(public, secret) Z85 keys of NAME, read from its secret key file."""
        text = self.secret(name).read_text()
        pub = re.search(r'public-key = "([^"]{40})"', text).group(1)
        sec = re.search(r'secret-key = "([^"]{40})"', text).group(1)
        return pub.encode(), sec.encode()

    def server(self, name):
        return re.search(r'public-key = "([^"]{40})"',
                         self.public(name).read_text()).group(1).encode()

    def allowed(self, what, *names):
        """A directory holding the public keys of NAMES (a --*-keys option)."""
        d = self.root / what
        d.mkdir(exist_ok=True)
        for name in names:
            shutil.copy(self.public(name), d)
        return d


@pytest.fixture
def keys(tmp_path):
    if not PAYSTAT.is_file():
        pytest.fail(f"CLI {PAYSTAT} not found")
    return Keys(tmp_path).make("ingest-1", "compute", "publish", "p1", "s1", "s2", "s3", "gw",
                               "rogue")


def secure_args(keys, subscribers=("s1", "s3", "gw"), compute_key="compute", ingests=("ingest-1",),
                computes=("compute",)):
    """Arguments of the three services with CURVE on every link."""
    args = dict(
        ingest_args=["--curve-secret", keys.secret("ingest-1"),
                     "--producer-keys", keys.allowed("producers", "p1"),
                     "--compute-key", keys.public(compute_key)],
        compute_args=["--curve-secret", keys.secret(compute_key),
                      "--ingest-keys", keys.allowed("ingests", *ingests),
                      "--publish-key", keys.public("publish")],
        publish_args=["--curve-secret", keys.secret("publish"),
                      "--compute-keys", keys.allowed("computes", *computes),
                      "--subscriber-keys", keys.allowed("subscribers", *subscribers)])
    return {k: [str(a) for a in v] for k, v in args.items()}


# ---- CURVE clients (pyzmq) -------------------------------------------------------

def _secure(sock, keys, name, server):
    """Sets CURVE up on SOCK as NAME (None: a plain socket) towards SERVER's key."""
    if name is not None:
        sock.curve_publickey, sock.curve_secretkey = keys.pair(name)
        sock.curve_serverkey = keys.server(server)


def feed(pipeline, keys, name, prefixes=("",), endpoint=None):
    """A psclient.Feed on the pipeline's feed (or ENDPOINT) as subscriber
    NAME (None: without CURVE). psclient connects in its constructor, so the
    feed is made unconnected and connected once CURVE is set up."""
    f = psclient.Feed(UNCONNECTED, prefixes)
    f.sock.disconnect(UNCONNECTED)
    _secure(f.sock, keys, name, "publish")
    f.endpoint = endpoint or pipeline.feed_endpoint
    f.sock.connect(f.endpoint)
    return f


def snapshot_reply(pipeline, keys, name, timeout):
    """The first frame publish's snapshot socket sends subscriber NAME in
    answer to a snapshot request, or None after TIMEOUT seconds."""
    sock = psclient.context().socket(zmq.DEALER)
    sock.linger = 0
    _secure(sock, keys, name, "publish")
    sock.connect(pipeline.snapshot_endpoint)
    try:
        sock.send(psclient.pack({"v": 1, "type": "snapshot", "prefix": ""}))
        return sock.recv_multipart() if sock.poll(int(timeout * 1000)) else None
    finally:
        sock.close(0)


def send(pipeline, keys, path, producer="p1"):
    """`paystat send PATH` with PRODUCER's key, CURVE on, and its default
    producer id: "NAME:<host>-<pid>-<ms>", which ingest takes from key NAME
    and which differs from run to run."""
    res = pipeline.cli("send", "--curve-secret", keys.secret(producer), "--ingest-key",
                       keys.public("ingest-1"), path)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def report_csv(tmp_path, source, amount):
    """A CSV file of one report of SOURCE: AMOUNT MAD in 2012."""
    path = tmp_path / f"{source}-{amount}.csv"
    path.write_text("source,period,card,count,amount,currency\n"
                    f"{source},2012,domestic,1,{amount}.00,MAD\n")
    return path


def send_report(pipeline, keys, tmp_path, source, amount=1000):
    return send(pipeline, keys, report_csv(tmp_path, source, amount))


def sub(pipeline, keys, name, *args):
    """`paystat sub` as subscriber NAME (popen, JSON lines on stdout)."""
    return subprocess.Popen([str(PAYSTAT), "sub", "--curve-secret", keys.secret(name),
                             "--publish-key", keys.public("publish")] + [str(a) for a in args],
                            env=pipeline.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def quiet(*feeds, seconds=SILENCE):
    """True when none of FEEDS receives anything at all (not even a
    heartbeat, sent every second) for SECONDS."""
    poller = zmq.Poller()
    for f in feeds:
        poller.register(f.sock, zmq.POLLIN)
    return not poller.poll(int(seconds * 1000))


def metrics(pipeline, service):
    """{name{labels}: value} of SERVICE's /metrics."""
    with urllib.request.urlopen(pipeline.http[service] + "/metrics", timeout=10) as r:
        text = r.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    return samples


# ---- (a) The whole pipeline, secured --------------------------------------------

def test_secured_pipeline_carries_the_article(pipeline_factory, keys):
    p = pipeline_factory(**secure_args(keys))
    proc = sub(p, keys, "s1", "--timeout-ms", "3000", "CMI/", "MTC/", "OC/", "$ratio/")
    try:
        assert json.loads(proc.stdout.readline()) == {"topic": "$resync", "reason": "start"}
        synced = json.loads(proc.stdout.readline())
        assert synced["topic"] == "$synced", synced
        send(p, keys, DATASET)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    view = psclient.view_from_lines([json.loads(line) for line in out.splitlines()])
    _assert_article(view)

    # A late keyed subscriber starts from a snapshot of the same figures.
    late = sub(p, keys, "s3", "--timeout-ms", "1000", "CMI/", "MTC/", "OC/", "$ratio/")
    out, err = late.communicate(timeout=60)
    assert late.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    synced = next(m for m in lines if m["topic"] == "$synced")
    assert synced["topics"] > 0
    _assert_article(psclient.view_from_lines(lines))

    # Every link was secured and every handshake admitted.
    for name in ("ingest", "compute", "publish"):
        assert "curve=off" not in p[name].log_text(), p[name].log_tail()
    for name in ("compute", "publish"):
        m = metrics(p, name)
        assert m[f'paystat_{name}_curve_handshakes_total{{result="admitted"}}'] >= 1
        assert m[f'paystat_{name}_curve_handshakes_total{{result="refused"}}'] == 0
    assert metrics(p, "compute")["paystat_compute_ingest_frames_refused_total"] == 0
    p.check_alive()


def _assert_article(view):
    cmi = view[CMI_ALL]
    assert round(cmi["amount"] / 100 / 1e6, 1) == 752.3
    assert round(cmi["yoy_amount_pct"], 1) == 48.3
    mtc = view[MTC]
    assert round(mtc["avg_ticket"] / 10 ** mtc["exp"], 1) == 594.4
    assert f"{view[RATIO]['value']:.2f}" == "9.30"


# ---- (b) Subscribers without a known key ------------------------------------------

def test_subscriber_without_a_known_key_reads_nothing(pipeline_factory, keys, tmp_path):
    p = pipeline_factory(**secure_args(keys))
    with feed(p, keys, "s1") as keyed, feed(p, keys, None) as plain, \
            feed(p, keys, "s2") as unknown:
        keyed.wait_ready()
        send_report(p, keys, tmp_path, "SECRETSRC")
        keyed.collect_until(lambda v: any(t.startswith("SECRETSRC/") for t in v))
        # Heartbeats flow every second: a subscriber let in would have some.
        assert quiet(plain, unknown)
        assert keyed.sock.poll(int(SILENCE * 1000)), "the keyed subscriber fell silent"
    assert snapshot_reply(p, keys, None, SILENCE) is None
    assert snapshot_reply(p, keys, "s2", SILENCE) is None
    reply = snapshot_reply(p, keys, "s1", 10.0)
    assert reply is not None and reply[0].decode().startswith(("SECRETSRC/", "$snapshot"))
    # The unknown key was refused at the handshake (the plain socket never
    # gets as far as the ZAP handler: its mechanism does not match).
    assert metrics(p, "publish")['paystat_publish_curve_handshakes_total{result="refused"}'] >= 2


# ---- (c) The secured feed is not plaintext -------------------------------------------

@pytest.mark.parametrize("secured", [True, False], ids=["curve", "control-plain"])
def test_secured_feed_is_not_plaintext(pipeline_factory, keys, tmp_path, secured):
    marker = "ZQXMARKER"
    p = pipeline_factory(**(secure_args(keys) if secured else {}))
    with RecordingProxy(int(p.feed_endpoint.rsplit(":", 1)[1])) as proxy, \
            feed(p, keys, "s1" if secured else None, prefixes=(marker,),
                 endpoint=proxy.endpoint) as f:
        f.wait_ready()
        if secured:
            send_report(p, keys, tmp_path, marker, amount=4242)
        else:
            assert p.cli("send", report_csv(tmp_path, marker, 4242)).returncode == 0
        view = f.collect_until(lambda v: any(t.startswith(marker + "/") for t in v))
        # The subscriber read the message through the proxy, so its bytes
        # (topic frames, and the subscription to the marker) went past it.
        assert any(body.get("amount") == 424200 for body in view.values())
        seen = proxy.bytes()
    assert len(seen) > 100
    if secured:
        assert marker.encode() not in seen
        assert b"MAD" not in seen and b"$hb" not in seen
    else:
        assert marker.encode() in seen


# ---- (d) Internal links: only the allowed keys deliver -----------------------------------

def assert_nothing_delivered(p, keys, tmp_path, source):
    """A report of SOURCE accepted by ingest never reaches a keyed subscriber."""
    with feed(p, keys, "s1") as f:
        f.wait_ready()
        send_report(p, keys, tmp_path, source)
        try:
            topic, _ = f.recv(timeout=SILENCE)
            pytest.fail(f"{topic} reached the feed")
        except TimeoutError:
            pass


def test_compute_with_an_unknown_key_delivers_nothing(pipeline_factory, keys, tmp_path):
    p = pipeline_factory(**secure_args(keys, compute_key="rogue"))
    assert_nothing_delivered(p, keys, tmp_path, "ROGUECOMPUTE")
    # Publish refused compute's handshake. (Compute itself waits for a
    # publish to take its updates, as when publish is down.)
    m = metrics(p, "publish")
    assert m['paystat_publish_curve_handshakes_total{result="refused"}'] >= 1
    assert m["paystat_publish_updates_total"] == 0
    assert m["paystat_publish_topics"] == 0


def test_ingest_with_an_unknown_key_delivers_nothing(pipeline_factory, keys, tmp_path):
    p = pipeline_factory(**secure_args(keys, ingests=("rogue",)))
    assert_nothing_delivered(p, keys, tmp_path, "ROGUEINGEST")
    m = metrics(p, "compute")
    assert m['paystat_compute_curve_handshakes_total{result="refused"}'] >= 1
    assert m["paystat_compute_batches_applied_total"] == 0


def test_ingest_key_speaks_only_for_its_own_id(pipeline_factory, keys, tmp_path):
    """An allowed key named ingest-1 used by an ingest whose id is
    ingest-2: compute lets the connection in but ignores what it says."""
    args = secure_args(keys)
    args["ingest_args"] += ["--id", "ingest-2"]
    p = pipeline_factory(**args)
    assert_nothing_delivered(p, keys, tmp_path, "POSER")
    m = metrics(p, "compute")
    assert m['paystat_compute_curve_handshakes_total{result="admitted"}'] >= 1
    assert m["paystat_compute_ingest_frames_refused_total"] >= 1
    assert m["paystat_compute_batches_applied_total"] == 0
    wait_log(p["compute"], "may only speak for the ingest id")
    assert "key=ingest-1 ingest=ingest-2" in p["compute"].log_text()


# ---- (e) Revocation by SIGHUP ---------------------------------------------------------

def test_sighup_revokes_a_subscriber_for_new_connections(pipeline_factory, keys, tmp_path):
    p = pipeline_factory(**secure_args(keys))
    allowed = tmp_path / "subscribers"
    with feed(p, keys, "s1") as before:
        before.wait_ready()
        (allowed / "s1.key").unlink()
        p["publish"].signal(signal.SIGHUP)
        wait_log(p["publish"], "keys reloaded")
        # Compute's keys reload too, unchanged: its links carry on.
        p["compute"].signal(signal.SIGHUP)
        wait_log(p["compute"], "keys reloaded")
        with feed(p, keys, "s1") as after, feed(p, keys, "s3") as other:
            other.wait_ready()
            send_report(p, keys, tmp_path, "AFTERHUP")
            before.collect_until(lambda v: any(t.startswith("AFTERHUP/") for t in v))
            other.collect_until(lambda v: any(t.startswith("AFTERHUP/") for t in v))
            assert quiet(after)
    assert snapshot_reply(p, keys, "s1", SILENCE) is None
    assert snapshot_reply(p, keys, "s3", 10.0) is not None
    p.check_alive()


def test_sighup_on_compute_stops_listening_to_a_revoked_ingest(pipeline_factory, keys,
                                                               tmp_path):
    p = pipeline_factory(**secure_args(keys))
    with feed(p, keys, "s1") as f:
        f.wait_ready()
        send_report(p, keys, tmp_path, "BEFOREREVOKE")
        f.collect_until(lambda v: any(t.startswith("BEFOREREVOKE/") for t in v))
    (tmp_path / "ingests" / "ingest-1.key").unlink()
    p["compute"].signal(signal.SIGHUP)
    wait_log(p["compute"], "keys reloaded")
    # The connection stays, but compute no longer takes what it says.
    assert_nothing_delivered(p, keys, tmp_path, "AFTERREVOKE")
    assert metrics(p, "compute")["paystat_compute_ingest_frames_refused_total"] >= 1
    wait_log(p["compute"], "its key is no longer allowed")


def test_sighup_with_an_unreadable_key_directory_keeps_the_keys(pipeline_factory, keys,
                                                                 tmp_path):
    p = pipeline_factory(**secure_args(keys))
    allowed = tmp_path / "subscribers"
    shutil.rmtree(allowed)
    p["publish"].signal(signal.SIGHUP)
    wait_log(p["publish"], "cannot reload the keys")
    with feed(p, keys, "s1") as f:
        f.wait_ready()
    p.check_alive()


# ---- The gateway, keyed ---------------------------------------------------------

def test_gateway_with_keys_serves_a_secured_publish(pipeline_factory, keys, tmp_path):
    from test_gateway import Gateway
    p = pipeline_factory(**secure_args(keys))
    send(p, keys, DATASET)
    gw = Gateway(tmp_path, p.feed_endpoint, p.snapshot_endpoint,
                 ["--curve-secret", str(keys.secret("gw")),
                  "--publish-key", str(keys.public("publish"))])
    try:
        view = gw.wait_for(lambda v: CMI_ALL in v and "yoy_amount_pct" in v[CMI_ALL],
                           "the article's CMI figure", timeout=20)
        assert round(view[CMI_ALL]["yoy_amount_pct"], 1) == 48.3
        assert gw.get("/readyz")[0] == 200
    finally:
        problem = gw.service.stop()
    assert problem is None, problem + gw.service.log_tail()


def test_gateway_and_sub_refuse_half_a_key_configuration(keys, tmp_path):
    gateway = BIN_DIR / "services" / "gateway" / "paystat-gateway"
    for exe in ([str(PAYSTAT), "sub"], [str(gateway)]):
        res = subprocess.run(exe + ["--publish-key", str(keys.public("publish"))],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 2
        assert "--publish-key needs --curve-secret" in res.stderr
        res = subprocess.run(exe + ["--curve-secret", str(keys.public("s1")),
                                    "--publish-key", str(keys.public("publish"))],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 2
        assert "--curve-secret:" in res.stderr and "s1.key" in res.stderr
