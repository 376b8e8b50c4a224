"""The gateway's memory per topic (issue #14, finding 7; docs/bounds.md): a
gateway that joins a publish holding 200,000 topics is ready within seconds
and holds at most about 1 KiB per topic (it held 3.8 KiB, a JSON tree per
topic, and took 15 s). Publish is fed directly on its update socket by a
fake compute, so the test does not wait for 200,000 reports to be computed."""

import datetime
import time
import urllib.request

import zmq

import psclient
from test_gateway import DATASET, gateway_factory  # noqa: F401
from test_hostile import sanitized

TOPICS = 200_000
PER_TOPIC_MAX = 1024     # bytes of resident memory per topic; measured about 810
READY_MAX = 30.0         # seconds; measured about 3 on a quiet 2-core machine, generous for
                         # a loaded one (the memory bound is the property that does not vary)


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def publish_topics(pipeline):
    with urllib.request.urlopen(pipeline.http["publish"] + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("paystat_publish_topics "):
                return float(line.split()[1])
    return 0


def feed_publish(pipeline, body, n):
    """Sends N cell topics with BODY to publish, as compute would."""
    sock = psclient.context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.connect(pipeline.publish)
    epoch, useq, items = int(time.time() * 1e6), 0, []
    day0 = datetime.date(2012, 1, 1)
    try:
        for i in range(n):
            day = day0 + datetime.timedelta(days=i % 366)
            items.append([f"MEM/{day.isoformat()}/card=c{i // 366:05d}", body])
            if len(items) == 1000 or i == n - 1:
                useq += 1
                sock.send(psclient.pack({"v": 1, "type": "update", "epoch": epoch,
                                         "useq": useq, "items": items}))
                items = []
                assert sock.poll(30000), "publish never answered an update"
                sock.recv()
    finally:
        sock.close()


def test_gateway_memory_per_topic(pipeline, gateway_factory):  # noqa: F811
    pipeline.cli("send", str(DATASET), check=True)
    view, _ = psclient.snapshot_view(pipeline.snapshot_endpoint)
    cell = {k: v for k, v in view["CMI/2012/activity=ecommerce,card=*"].items()
            if k not in ("v", "seq", "prev", "epoch")}
    base_gw = gateway_factory(pipeline, name="base")
    base_gw.wait_for(lambda v: len(v) >= len(view) - 5, "the dataset")
    baseline = status_kib(base_gw.service.pid, "VmRSS")

    feed_publish(pipeline, psclient.pack(cell), TOPICS)
    deadline = time.monotonic() + 60
    while publish_topics(pipeline) < TOPICS:
        assert time.monotonic() < deadline, "publish never held every topic"
        time.sleep(0.2)

    started = time.monotonic()
    gw = gateway_factory(pipeline, name="big")
    while True:
        try:
            with urllib.request.urlopen(gw.url + "/readyz", timeout=10) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        assert time.monotonic() - started < READY_MAX, "the gateway was not ready in time"
        time.sleep(0.1)
    ready_s = time.monotonic() - started
    metrics = gw.metrics()
    assert metrics["paystat_gateway_indicators"] >= TOPICS
    peak = status_kib(gw.service.pid, "VmHWM")
    per_topic = (peak - baseline) * 1024 / TOPICS
    print(f"ready in {ready_s:.1f} s; VmHWM {peak} KiB; {per_topic:.0f} bytes per topic")
    # Not under AddressSanitizer, whose shadow memory says nothing about the gateway's own.
    if not sanitized(gw.service.exe):
        assert per_topic <= PER_TOPIC_MAX, f"{per_topic:.0f} bytes per topic"
    # The view still answers, its JSON built on demand.
    answer = gw.json("/api/v1/indicators?prefix=MEM/2012-01-01/&limit=5")
    assert answer["count"] == (TOPICS + 365) // 366 and len(answer["indicators"]) == 5
    first = answer["indicators"][0]
    assert first["topic"] == "MEM/2012-01-01/card=c00000"
    assert first["amount"] == cell["amount"] and "seq" not in first and first["vseq"] >= 1
