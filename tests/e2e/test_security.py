"""CURVE on ingest's producer socket (issue 10): keys made by `paystat
keygen`, an unknown key or a plain client refused at the handshake, the
producer id bound to its key, per-source write permissions, SIGHUP reload
of keys and permissions on live connections, and the bytes on the wire
checked for plaintext through a recording TCP proxy."""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest
import zmq
import zmq.auth

import psclient
from conftest import BIN_DIR

MARKER = "PLAINTEXTMARK"  # a dims value that must not cross a secured link in clear


# ---- Keys and clients -------------------------------------------------------

def keygen(paystat, name, directory):
    """Runs `paystat keygen NAME --dir DIRECTORY`; returns the public key
    it prints (its last line is "NAME KEY")."""
    directory.mkdir(parents=True, exist_ok=True)
    run = subprocess.run([str(paystat), "keygen", name, "--dir", str(directory)],
                         capture_output=True, text=True, timeout=10)
    assert run.returncode == 0, run.stderr
    last = run.stdout.strip().splitlines()[-1].split()
    assert last[0] == name, run.stdout
    return last[1]


class Keys:
    """Key pairs for ingest and producers under TMP: secrets in
    TMP/secret, the public keys ingest admits in TMP/producers."""

    def __init__(self, tmp, names=("p1", "p2")):
        self.paystat = BIN_DIR / "tools" / "paystat"
        self.secret = tmp / "secret"
        self.producers = tmp / "producers"
        self.producers.mkdir(parents=True)
        keygen(self.paystat, "ingest", self.secret)
        for name in names:
            keygen(self.paystat, name, self.secret)
            shutil.copy(self.secret / f"{name}.key", self.producers)

    def secret_file(self, name):
        return self.secret / f"{name}.key_secret"

    def ingest_args(self, access=None):
        args = ["--curve-secret", str(self.secret_file("ingest")),
                "--producer-keys", str(self.producers)]
        if access is not None:
            path = self.secret.parent / "access"
            path.write_text(access)
            args += ["--access", str(path)]
        return args

    def pair(self, name):
        """(public, secret) of NAME, read as ZeroMQ certificates (so CZMQ's
        zcert format of the files is checked too)."""
        return zmq.auth.load_certificate(str(self.secret_file(name)))

    def ingest_public(self):
        return zmq.auth.load_certificate(str(self.secret / "ingest.key"))[0]


class CurveProducer(psclient.Producer):
    """psclient's producer DEALER, with CURVE set up before it connects:
    PAIR (public, secret) of the client, SERVER ingest's public key; no
    PAIR: a plain client."""

    def __init__(self, endpoint, pair=None, server=None):
        self.endpoint = endpoint
        self.sock = psclient.context().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if pair:
            self.sock.curve_publickey, self.sock.curve_secretkey = pair
            self.sock.curve_serverkey = server
        self.sock.connect(endpoint)


def producer(pipeline, keys, name, endpoint=None):
    return CurveProducer(endpoint or pipeline.ingest, keys.pair(name), keys.ingest_public())


def rep(source, count=1, dims=None):
    return psclient.report(source, "2012", dims, count=count)


# ---- Observing the pipeline --------------------------------------------------

def metrics(pipeline):
    """ingest's /metrics as {'name{labels}': value}."""
    with urllib.request.urlopen(pipeline.http["ingest"] + "/metrics", timeout=5) as r:
        text = r.read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def wait_log(service, pattern, count=1, timeout=10.0):
    """Waits until SERVICE's log has COUNT lines matching PATTERN; returns them."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [ln for ln in service.log_text().splitlines() if re.search(pattern, ln)]
        if len(lines) >= count:
            return lines
        if time.monotonic() > deadline:
            pytest.fail(f"no {count} log lines matching {pattern!r}\n{service.log_tail()}")
        time.sleep(0.05)


def wait_topic(pipeline, prefix, topic, until=None, timeout=10.0):
    """The snapshot view under PREFIX once it holds TOPIC, and, when UNTIL
    is given, once UNTIL(TOPIC's message) holds: acknowledged reports reach
    the feed a moment later, so a topic published before can still show
    an earlier value."""
    deadline = time.monotonic() + timeout
    while True:
        view, _ = psclient.snapshot_view(pipeline.snapshot_endpoint, prefix)
        if topic in view and (until is None or until(view[topic])):
            return view
        if time.monotonic() > deadline:
            pytest.fail(f"{topic} not published as expected within {timeout} s: "
                        f"{view.get(topic)}; view: {sorted(view)}")
        time.sleep(0.05)


def reload(pipeline, marker):
    """SIGHUP to ingest; waits for the log line MARKER that ends the reload."""
    ingest = pipeline["ingest"]
    before = len(re.findall(marker, ingest.log_text()))
    ingest.signal(signal.SIGHUP)
    wait_log(ingest, marker, before + 1)


# ---- Tests -------------------------------------------------------------------

def test_keygen_files_and_refusals(tmp_path):
    paystat = BIN_DIR / "tools" / "paystat"
    public = keygen(paystat, "p1", tmp_path)
    assert (tmp_path / "p1.key_secret").stat().st_mode & 0o777 == 0o600
    loaded_public, loaded_secret = zmq.auth.load_certificate(str(tmp_path / "p1.key_secret"))
    assert loaded_public.decode() == public and len(loaded_secret) == 40
    again = subprocess.run([str(paystat), "keygen", "p1", "--dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=10)
    assert again.returncode == 1 and "exists" in again.stderr
    assert zmq.auth.load_certificate(str(tmp_path / "p1.key"))[0].decode() == public
    bad = subprocess.run([str(paystat), "keygen", "p/1"], capture_output=True, text=True,
                         timeout=10, cwd=tmp_path)
    assert bad.returncode == 2 and "NAME" in bad.stderr


def test_unknown_key_and_plain_client_are_refused_at_the_handshake(pipeline_factory, tmp_path):
    keys = Keys(tmp_path)
    p = pipeline_factory(ingest_args=keys.ingest_args())
    batch = [rep("UNK", dims={"card": MARKER})]
    stranger = zmq.curve_keypair()
    with CurveProducer(p.ingest, stranger, keys.ingest_public()) as c:
        with pytest.raises(TimeoutError):
            c.send("p1", 1, batch, timeout=3)
    with CurveProducer(p.ingest) as plain:
        with pytest.raises(TimeoutError):
            plain.send("p1", 2, batch, timeout=3)
    line = wait_log(p["ingest"], r'msg="refused a connection"')[0]
    assert 'reason="key not allowed"' in line and stranger[0].decode() in line
    m = metrics(p)
    assert m['paystat_ingest_curve_handshakes_total{result="refused"}'] >= 1
    assert m["paystat_ingest_batches_total"] == 0  # not one batch got through
    # A known key still gets in, and only its batch is published.
    with producer(p, keys, "p1") as c:
        assert c.send("p1", 1, [rep("KNOWN")])["status"] == "ok"
    wait_topic(p, "KNOWN/", "KNOWN/2012/")
    view, _ = psclient.snapshot_view(p.snapshot_endpoint, "UNK/")
    assert view == {}
    assert metrics(p)['paystat_ingest_curve_handshakes_total{result="admitted"}'] >= 1


def test_source_permissions_reject_only_the_forbidden_reports(pipeline_factory, tmp_path):
    keys = Keys(tmp_path)
    p = pipeline_factory(ingest_args=keys.ingest_args("# key sources\np1 CMI  # card payments\n"
                                                      "p2 *\n"))
    with producer(p, keys, "p1") as c:
        ack = c.send("p1", 1, [rep("CMI", 3), rep("BAM", 4)])
    assert ack["status"] == "partial" and ack["accepted"] == 1
    assert len(ack["rejected"]) == 1
    rejected = ack["rejected"][0]
    assert (rejected["index"], rejected["field"], rejected["code"]) == (1, "source",
                                                                         "not_permitted")
    assert "p1" in rejected["reason"] and "BAM" in rejected["reason"]
    view = wait_topic(p, "CMI/", "CMI/2012/")
    assert view["CMI/2012/"]["count"] == 3
    # The batch was applied in one piece: the refused report is nowhere.
    assert psclient.snapshot_view(p.snapshot_endpoint, "BAM/")[0] == {}
    line = wait_log(p["ingest"], r"refused reports for sources the key may not write")[0]
    assert "key=p1" in line and "source=BAM" in line and "refused=1" in line
    assert metrics(p)['paystat_ingest_reports_rejected_total{reason="not_permitted"}'] == 1
    # "*" lets p2 write any source.
    with producer(p, keys, "p2") as c:
        assert c.send("p2", 1, [rep("BAM"), rep("CMI")])["status"] == "ok"


def test_producer_id_is_bound_to_the_key(pipeline_factory, tmp_path):
    keys = Keys(tmp_path)
    p = pipeline_factory(ingest_args=keys.ingest_args())
    with producer(p, keys, "p1") as c:
        for spoofed in ("p2", "p10", "x:p1"):
            ack = c.send(spoofed, 1, [rep("SPOOF")])
            assert ack["status"] == "rejected", ack
            assert ack["accepted"] == 0 and ack["rejected"] == []
            assert (ack["error"]["code"], ack["error"]["field"]) == ("not_permitted", "producer")
            assert ack["producer"] == spoofed and ack["seq"] == 1
        # Its own name, and names under it, are its own.
        assert c.send("p1", 1, [rep("OWN")])["status"] == "ok"
        assert c.send("p1:branch-7", 1, [rep("OWN", 2)])["status"] == "ok"
    # p2's seq 1 was not consumed by the spoof: p2 gets it applied.
    with producer(p, keys, "p2") as c:
        assert c.send("p2", 1, [rep("SPOOF")])["status"] == "ok"
    assert wait_topic(p, "SPOOF/", "SPOOF/2012/")["SPOOF/2012/"]["count"] == 1
    wait_log(p["ingest"], r"producer id not bound to its key.*key=p1 producer=p2")


def test_sighup_reloads_keys_and_permissions_on_live_connections(pipeline_factory, tmp_path):
    keys = Keys(tmp_path)
    p = pipeline_factory(ingest_args=keys.ingest_args("p1 CMI\np2 *\n"))
    ingest = p["ingest"]
    pid = ingest.pid
    access = tmp_path / "access"
    with producer(p, keys, "p1") as c1, producer(p, keys, "p2") as c2:
        assert c1.send("p1", 1, [rep("CMI")])["status"] == "ok"
        assert c2.send("p2", 1, [rep("BAM")])["status"] == "ok"

        # Revoke p2: its next batch on the same connection is refused.
        shutil.move(keys.producers / "p2.key", tmp_path / "p2.key.revoked")
        reload(p, r'msg="access reloaded"')
        ack = c2.send("p2", 2, [rep("BAM", 5)])
        assert ack["status"] == "rejected"
        assert (ack["error"]["code"], ack["error"]["field"]) == ("not_permitted", "producer")
        assert "no longer allowed" in ack["error"]["reason"]
        assert c1.send("p1", 2, [rep("CMI", 2)])["status"] == "ok"
        with producer(p, keys, "p2") as fresh:  # and a new connection is refused
            with pytest.raises(TimeoutError):
                fresh.send("p2", 2, [rep("BAM", 5)], timeout=2)

        # Restore it: the same connection is accepted again.
        shutil.move(tmp_path / "p2.key.revoked", keys.producers / "p2.key")
        reload(p, r'msg="access reloaded"')
        assert c2.send("p2", 2, [rep("BAM", 6)])["status"] == "ok"

        # A broken keys file: the reload is refused and the keys in force stay.
        (keys.producers / "broken.key").write_text("not a certificate\n")
        reload(p, r'msg="reload failed')
        assert "broken.key" in wait_log(ingest, r'msg="reload failed')[-1]
        assert c1.send("p1", 3, [rep("CMI", 3)])["status"] == "ok"
        assert c2.send("p2", 3, [rep("BAM", 7)])["status"] == "ok"
        (keys.producers / "broken.key").unlink()

        # Permissions: p1 loses CMI and gains BAM on the next batch.
        access.write_text("p1 BAM\np2 *\n")
        reload(p, r'msg="access reloaded"')
        ack = c1.send("p1", 4, [rep("CMI", 4), rep("BAM", 1)])
        assert ack["status"] == "partial"
        assert [(r["index"], r["code"]) for r in ack["rejected"]] == [(0, "not_permitted")]

        # A broken access file: refused as a whole, the old one stays.
        access.write_text("p1 BAM\np1 CMI\n")  # listed twice
        reload(p, r'msg="reload failed')
        assert f"{access}:2" in wait_log(ingest, r'msg="reload failed')[-1]
        ack = c1.send("p1", 5, [rep("CMI", 5)])
        assert ack["rejected"][0]["code"] == "not_permitted"
        assert c2.send("p2", 4, [rep("CMI", 9)])["status"] == "ok"

    assert ingest.alive and ingest.pid == pid
    assert ingest.log_text().count('msg="ready"') == 1
    # Every accepted BAM report once; the refused ones never.
    wait_topic(p, "BAM/", "BAM/2012/", until=lambda m: m["count"] == 1 + 6 + 7 + 1)


def test_ingest_refuses_bad_security_settings(tmp_path):
    keys = Keys(tmp_path)
    exe = BIN_DIR / "services" / "ingest" / "paystat-ingest"
    bad_access = tmp_path / "bad-access"
    bad_access.write_text("p1 CMI\np2 bad/source\n")
    cases = [
        (["--access", str(bad_access)], "--access needs --curve-secret"),
        (["--curve-secret", str(keys.secret_file("ingest"))], "--producer-keys"),
        (["--producer-keys", str(keys.producers)], "--producer-keys needs --curve-secret"),
        (keys.ingest_args() + ["--access", str(bad_access)], f"{bad_access}:2"),
        (keys.ingest_args() + ["--access", str(tmp_path / "missing")], "--access"),
        (["--curve-secret", str(keys.producers / "p1.key"),
          "--producer-keys", str(keys.producers)], "--curve-secret"),
        (["--compute-key", str(keys.secret / "ingest.key")], "--compute-key needs --curve-secret"),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSTAT_")}
    env["PAYSTAT_INGEST_HTTP"] = "off"
    for args, message in cases:
        run = subprocess.run([str(exe), "--bind", "tcp://127.0.0.1:0", "--data-dir",
                              str(tmp_path / "data")] + args,
                             capture_output=True, text=True, timeout=10, env=env)
        assert run.returncode == 2, (args, run.stderr)
        assert message in run.stderr, (args, run.stderr)


# ---- The bytes on the wire ---------------------------------------------------

class RecordingProxy:
    """A TCP proxy on 127.0.0.1 in front of TARGET_PORT that keeps a copy
    of every byte it forwards, both ways."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.captured = bytearray()
        self.lock = threading.Lock()
        self.sockets = []
        self.closing = False
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.endpoint = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, server]
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    self.captured += data
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def bytes(self):
        with self.lock:
            return bytes(self.captured)

    def close(self):
        self.closing = True
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _port(endpoint):
    return int(endpoint.rsplit(":", 1)[1])


def send_file(pipeline, endpoint, rows, *args):
    """`paystat send` of CSV ROWS to ENDPOINT; returns the CompletedProcess."""
    path = pipeline.tmp / "reports.csv"
    path.write_text("source,period,card,count\n" + "".join(f"{r}\n" for r in rows))
    return pipeline.cli("send", "--ingest", endpoint, "--no-progress", *args, path)


def test_secured_traffic_is_not_plaintext(pipeline_factory, tmp_path):
    keys = Keys(tmp_path)
    p = pipeline_factory(ingest_args=keys.ingest_args("p1 WIRE\n"))
    curve = ["--curve-secret", keys.secret_file("p1"), "--ingest-key",
             keys.secret / "ingest.key"]
    with RecordingProxy(_port(p.ingest)) as proxy:
        with producer(p, keys, "p1", proxy.endpoint) as c:
            assert c.send("p1", 1, [rep("WIRE", 2, {"card": MARKER})])["status"] == "ok"
        sent = send_file(p, proxy.endpoint, [f"WIRE,2012,{MARKER}X,5"], "--producer", "p1:cli",
                         *curve)
        assert sent.returncode == 0, sent.stderr
        assert "accepted 1, rejected 0" in sent.stdout
        captured = proxy.bytes()
    assert len(captured) > 200  # handshakes and batches did cross the proxy
    assert MARKER.encode() not in captured
    assert b"WIRE" not in captured and b"p1:cli" not in captured
    view = wait_topic(p, "WIRE/", f"WIRE/2012/card={MARKER}X")
    assert view[f"WIRE/2012/card={MARKER}"]["count"] == 2

    # The control: without CURVE the same check sees the marker, so it can fail.
    plain = pipeline_factory()
    with RecordingProxy(_port(plain.ingest)) as proxy:
        with CurveProducer(proxy.endpoint) as c:
            assert c.send("p1", 1, [rep("WIRE", 2, {"card": MARKER})])["status"] == "ok"
        sent = send_file(plain, proxy.endpoint, [f"WIRE,2012,{MARKER}X,5"])
        assert sent.returncode == 0, sent.stderr
        captured = proxy.bytes()
    assert captured.count(MARKER.encode()) >= 2 and b"WIRE" in captured


def test_paystat_send_explains_a_refused_key(pipeline_factory, tmp_path):
    """A refused handshake gets no answer from ingest: `paystat send` learns
    it from its socket's handshake events, stops at once (no waiting out
    its retries, here 30 s each) and names what to check."""
    keys = Keys(tmp_path, names=("p1",))
    keygen(keys.paystat, "stranger", keys.secret)  # not given to ingest
    p = pipeline_factory(ingest_args=keys.ingest_args())
    patient = ["--timeout-ms", "30000", "--retries", "5"]
    sent = send_file(p, p.ingest, ["REF,2012,x,1"], "--producer", "stranger",
                     "--curve-secret", keys.secret_file("stranger"),
                     "--ingest-key", keys.secret / "ingest.key", *patient)
    assert sent.returncode == 3, sent.stderr
    assert "refused this key at the CURVE handshake" in sent.stderr, sent.stderr
    assert "--producer-keys" in sent.stderr
    # Without a key, to an ingest that requires one.
    sent = send_file(p, p.ingest, ["REF,2012,x,1"], *patient)
    assert sent.returncode == 3, sent.stderr
    assert "requires CURVE" in sent.stderr and "--curve-secret" in sent.stderr, sent.stderr
    # A wrong --ingest-key: ingest cannot decrypt the hello and says nothing.
    keygen(keys.paystat, "not-ingest", keys.secret)
    sent = send_file(p, p.ingest, ["REF,2012,x,1"], "--producer", "p1",
                     "--curve-secret", keys.secret_file("p1"),
                     "--ingest-key", keys.secret / "not-ingest.key",
                     "--timeout-ms", "300", "--retries", "1")
    assert sent.returncode == 3, sent.stderr
    assert "no answer from ingest" in sent.stderr and "--ingest-key" in sent.stderr, sent.stderr
    # With a key, to an ingest without CURVE.
    plain = pipeline_factory()
    sent = send_file(plain, plain.ingest, ["REF,2012,x,1"], "--producer", "p1",
                     "--curve-secret", keys.secret_file("p1"),
                     "--ingest-key", keys.secret / "ingest.key", *patient)
    assert sent.returncode == 3, sent.stderr
    assert "does not use CURVE" in sent.stderr, sent.stderr
    # The producer id must be the key's: a known key under another id is told so.
    sent = send_file(p, p.ingest, ["REF,2012,x,1"], "--producer", "someone-else",
                     "--curve-secret", keys.secret_file("p1"),
                     "--ingest-key", keys.secret / "ingest.key")
    assert sent.returncode == 1
    assert "not_permitted" in sent.stderr and "may not send as producer" in sent.stderr
    # Half a CURVE setting is a usage error naming the missing option.
    sent = send_file(p, p.ingest, ["REF,2012,x,1"], "--curve-secret", keys.secret_file("p1"))
    assert sent.returncode == 2 and "--ingest-key" in sent.stderr
    sent = send_file(p, p.ingest, ["REF,2012,x,1"], "--ingest-key", keys.secret / "ingest.key")
    assert sent.returncode == 2 and "--curve-secret" in sent.stderr
