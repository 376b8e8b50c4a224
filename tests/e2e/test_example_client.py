"""docs/example_client.py, the Python client written from the protocol for
pipeline users, against the real services: it joins late, follows updates,
survives a publish restart and replays from a point in time. Its views are
compared with fresh snapshots taken by psclient, and with sums made here."""

import json
import subprocess
import sys
import time

import psclient
from conftest import SOURCE_DIR
from test_feed import assert_counts, day_reports, send_all, settled, under

sys.path.insert(0, str(SOURCE_DIR / "docs"))
import example_client  # noqa: E402


def drive(events, sub, truth, timeout=60):
    """Runs the client until its view equals TRUTH; returns the events seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while sub.view != truth:
        assert time.monotonic() < deadline, (
            f"view of {len(sub.view)} topics never became the {len(truth)} expected; "
            f"last events {seen[-5:]}")
        seen.append(next(events)[:2])
    return seen


def test_example_client_follows_the_feed(pipeline):
    first = day_reports("PY", 31, ["a", "b"], ["x"])
    send_all(pipeline, "py", first)
    truth = settled(pipeline)
    subs = [example_client.Subscriber(pipeline.feed_endpoint, pipeline.snapshot_endpoint),
            example_client.Subscriber(pipeline.feed_endpoint, pipeline.snapshot_endpoint,
                                      ["PY/2012-01-1"])]
    streams = [s.events() for s in subs]
    # Late join: the first sync gives the whole state.
    for sub, events in zip(subs, streams):
        seen = drive(events, sub, under(truth, sub.prefixes[0]))
        assert seen[0] == ("resync", "start")
    # Live updates, including new topics.
    second = day_reports("PY", 31, ["a", "b"], ["y"])
    send_all(pipeline, "py", second, first_seq=10)
    truth = settled(pipeline)
    for sub, events in zip(subs, streams):
        seen = drive(events, sub, under(truth, sub.prefixes[0]))
        assert all(k != "resync" for k, _ in seen), seen
    assert_counts(subs[0].view, first + second)
    # Publish restarts: both notice and converge on the new epoch.
    publish = pipeline["publish"]
    publish.kill()
    publish.start()
    publish.wait_ready()
    third = day_reports("PY", 31, ["c"], ["x"])
    send_all(pipeline, "py", third, first_seq=20)
    truth = settled(pipeline)
    for sub, events in zip(subs, streams):
        seen = drive(events, sub, under(truth, sub.prefixes[0]))
        assert {r for k, r in seen if k == "resync"} & {"epoch", "silence"}, seen
    assert_counts(subs[0].view, first + second + third)


def test_example_replay_from_a_point_in_time(pipeline_factory):
    pipeline = pipeline_factory(publish_args=["--replay-max", "500"])
    send_all(pipeline, "rp", day_reports("RP", 10, ["a"], ["x"]))
    settled(pipeline)
    _, end = psclient.snapshot_view(pipeline.snapshot_endpoint)
    since, epoch = end["seq"], end["epoch"]
    with pipeline.feed(["RP/"]) as feed:
        send_all(pipeline, "rp", day_reports("RP", 10, ["b"], ["x"]), first_seq=10)
        settled(pipeline)
        later = []
        while True:
            try:
                later.append(feed.recv(timeout=0.5))
            except TimeoutError:
                break
    # Every message after SINCE, in order, exactly as the feed carried it.
    mode, items, marker = example_client.replay(pipeline.snapshot_endpoint, "RP/", since,
                                                epoch)
    assert mode == "replay" and marker["count"] == len(items)
    assert items == [(t, b) for t, b in later if b["seq"] > since]
    assert items and marker["seq"] >= items[-1][1]["seq"]
    # From too far back (beyond --replay-max) or another epoch: a snapshot.
    send_all(pipeline, "rp", day_reports("RP", 200, ["c"], ["x"]), first_seq=20)
    truth = settled(pipeline, "RP/")
    for args in ((since, epoch), (0, epoch + 1)):
        mode, items, marker = example_client.replay(pipeline.snapshot_endpoint, "RP/", *args)
        assert mode == "snapshot"
        assert {t: b for t, b in items} == truth


def test_example_client_command_line(pipeline):
    send_all(pipeline, "cli", day_reports("CLI", 3, ["a"], ["x"]))
    truth = settled(pipeline, "CLI/")
    proc = subprocess.Popen([sys.executable, str(SOURCE_DIR / "docs" / "example_client.py"),
                             "--feed", pipeline.feed_endpoint, "--snapshot",
                             pipeline.snapshot_endpoint, "CLI/"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or lines[-1]["topic"] != "$synced":
            lines.append(json.loads(proc.stdout.readline()))
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert lines[0] == {"topic": "$resync", "reason": "start"}
    assert lines[-1]["topics"] == len(truth)
    assert psclient.view_from_lines(lines) == truth
