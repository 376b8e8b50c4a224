"""The benchmark harness in its smoke mode (bench/run.sh --smoke): every
kind of run completes and every subscriber sees the final state. Speed is
never asserted here; bench/RESULTS.md holds the figures. And the bench
tools refuse what they cannot use."""

import os
import socket
import struct
import subprocess
from pathlib import Path

import zmq

SOURCE_DIR = Path(os.environ.get("PAYSTAT_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN_DIR = Path(os.environ.get("PAYSTAT_BIN_DIR", SOURCE_DIR / "build"))


def test_bench_smoke(tmp_path):
    out = tmp_path / "RESULTS.md"
    env = dict(os.environ, PAYSTAT_BIN_DIR=str(BIN_DIR))
    proc = subprocess.run([str(SOURCE_DIR / "bench" / "run.sh"), "--smoke", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "final state seen by every subscriber in all" in proc.stdout, proc.stdout
    text = out.read_text()
    for section in ("## Machine and versions", "### Throughput", "### End-to-end latency",
                    "### Compute's memory", "### paystat throughput by number of subscribers",
                    "## Exact commands"):
        assert section in text, section


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ceiling_frame(kind, nitems, token, size):
    """A frame with the ceiling header of bench/ps_ceiling.h, padded to SIZE."""
    head = b"PSCL" + struct.pack("<IIQqQ", kind, nitems, token, 0, 0)
    return head + bytes(size - len(head))


def test_ceiling_hop_drops_frames_without_its_header(tmp_path):
    """ps_hop answers and forwards only frames that carry the ceiling header;
    anything else is dropped with a warning, and the relay keeps going."""
    port_in, port_out = _free_port(), _free_port()
    ctx = zmq.Context()
    downstream = ctx.socket(zmq.ROUTER)
    downstream.bind(f"tcp://127.0.0.1:{port_out}")
    log = open(tmp_path / "hop.log", "wb")
    hop = subprocess.Popen([str(BIN_DIR / "bench" / "ps_hop"), "--bind",
                            f"tcp://127.0.0.1:{port_in}", "--connect",
                            f"tcp://127.0.0.1:{port_out}", "--reply-bytes", "64",
                            "--out-bytes", "100"], stdout=log, stderr=log)
    try:
        producer = ctx.socket(zmq.DEALER)
        producer.connect(f"tcp://127.0.0.1:{port_in}")
        producer.send(b"\x85not a ceiling frame")
        assert producer.poll(500) == 0, "a frame without the header was answered"
        producer.send(_ceiling_frame(1, 3, 7, 80))
        assert producer.poll(5000), "no answer to a ceiling frame"
        reply = producer.recv()
        assert len(reply) == 64 and reply[:4] == b"PSCL"
        assert struct.unpack("<Q", reply[12:20])[0] == 7
        assert downstream.poll(5000)
        _, forwarded = downstream.recv_multipart()
        assert len(forwarded) == 100 and forwarded[:4] == b"PSCL"
        assert hop.poll() is None
    finally:
        hop.terminate()
        hop.wait(10)
        log.close()
        ctx.destroy(linger=0)
    assert b"dropped a frame without a ceiling header" in (tmp_path / "hop.log").read_bytes()


def test_loadgen_refuses_bad_options():
    for args, why in ((["--target", "redis"], "--target must be paystat or ceiling"),
                      (["--order", "random"], "--order must be daily or scattered"),
                      (["--batch", "1"], "--batch"),
                      (["--subscribers", "65"], "--subscribers")):
        proc = subprocess.run([str(BIN_DIR / "bench" / "ps_loadgen"), *args],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2, args
        assert why in proc.stderr, (args, proc.stderr)
