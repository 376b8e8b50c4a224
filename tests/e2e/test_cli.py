"""Black-box tests of the `paystat` command-line client against the real
services: send (CSV, JSON lines, rejected rows, retries without duplicates,
unreachable ingest), sub (JSON lines, table) and demo (the article check)."""

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import psclient
from conftest import BIN_DIR, SOURCE_DIR

DATASET = SOURCE_DIR / "data" / "morocco-2011-2012.csv"
PAYSTAT = BIN_DIR / "tools" / "paystat"
REJECT_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+): (?P<field>\S+): (?P<reason>.+) "
                         r"\((?P<code>[a-z_]+)\)$")
SUMMARY = re.compile(r"^sent (\d+), accepted (\d+), rejected (\d+) \(batches (\d+), "
                     r"retries (\d+)\)$")


def summary(stdout):
    lines = [l for l in stdout.splitlines() if SUMMARY.match(l)]
    assert len(lines) == 1, f"no single summary line in:\n{stdout}"
    return tuple(int(x) for x in SUMMARY.match(lines[0]).groups())


def rejects(stderr):
    """{line: (field, code)} of every FILE:LINE: field: reason (code) line."""
    found = {}
    for text in stderr.splitlines():
        m = REJECT_LINE.match(text)
        if m:
            found[int(m["line"])] = (m["field"], m["code"])
    return found


def dataset_rows():
    return len(psclient.read_csv_reports(DATASET))


def test_send_dataset(pipeline):
    with pipeline.feed() as feed:
        res = pipeline.cli("send", DATASET)
        assert res.returncode == 0, res.stderr
        assert res.stderr == ""
        n = dataset_rows()
        assert summary(res.stdout) == (n, n, 0, 1, 0)
        cmi = psclient.topic("CMI", "2012", {"activity": "ecommerce", "card": "*"})
        view = feed.collect_until(lambda v: cmi in v)
        assert view[cmi]["amount"] == 75230000000
        assert view[cmi]["currency"] == "MAD"


def test_send_rejected_rows_name_their_line(pipeline, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "source,period,card,count,amount,currency,op\n"   # 1
        "# a comment\n"                                   # 2
        "T1,2012,domestic,10,100.50,MAD,add\n"            # 3 ok
        "T1,2012,domestic,12x,,,\n"                       # 4 count syntax (local)
        "T1,2012-13,,1,,,\n"                              # 5 period (local)
        "T1,2012,,,1.234,MAD,\n"                          # 6 amount range (local)
        "T1,2012,,,10,XYZ,\n"                             # 7 currency (local)
        "\n"                                              # 8 blank
        "T 1,2012,,1,,,\n"                                # 9 source syntax (ingest)
        "T1,2012,domestic,,5.00,EUR,\n"                   # 10 currency mismatch (ingest)
        "T1,2012,a+b,1,,,\n"                              # 11 dims (ingest)
        "T1,2012,foreign,3,,,set\n")                      # 12 ok
    res = pipeline.cli("send", "--batch-size", "3", path)
    assert res.returncode == 1, res.stderr
    assert summary(res.stdout)[:3] == (9, 2, 7)
    found = rejects(res.stderr)
    assert found == {
        4: ("count", "syntax"),
        5: ("period", "period"),
        6: ("amount", "range"),
        7: ("currency", "currency"),
        9: ("source", "syntax"),
        10: ("currency", "currency_mismatch"),
        11: ("dims", "dims"),
    }, res.stderr
    assert all(l.startswith(f"{path}:") for l in res.stderr.splitlines() if REJECT_LINE.match(l))


def test_send_jsonl_from_stdin(pipeline):
    lines = [
        {"source": "J1", "period": "2012-07", "dims": {"card": "domestic"}, "count": 2,
         "amount": "752.30", "currency": "MAD"},
        {"source": "J1", "period": "2012-07", "dims": ["card=foreign"], "count": 1,
         "amount": 40, "currency": "MAD", "op": "set"},
        {"source": "J1", "period": "2012-07", "count": 1, "amount": 7.5, "currency": "MAD"},
    ]
    text = "\n".join(json.dumps(l) for l in lines) + "\n\n"
    with pipeline.feed(["J1/"]) as feed:
        res = pipeline.cli("send", "--format", "jsonl", "-", input=text)
        assert res.returncode == 1
        assert summary(res.stdout)[:3] == (3, 2, 1)
        assert rejects(res.stderr) == {3: ("amount", "type")}
        assert res.stderr.startswith("stdin:3: amount:")
        top = psclient.topic("J1", "2012-07", {"card": "*"})
        view = feed.collect_until(lambda v: top in v and v[top].get("count") == 3)
        assert view[top]["amount"] == 75230 + 4000


def test_send_resend_is_not_applied_twice(pipeline, tmp_path):
    """The ingest process is frozen while batches are in flight: the CLI
    times out, reconnects and resends with the same producer and seq, and
    every report is still counted exactly once (they are all "add")."""
    rows = 3000
    path = tmp_path / "adds.csv"
    path.write_text("source,period,count,amount,currency\n" +
                    "".join("R1,2012,1,0.01,MAD\n" for _ in range(rows)))
    ingest = pipeline["ingest"]
    with pipeline.feed(["R1/2012/"]) as feed:
        ingest.signal(signal.SIGSTOP)
        try:
            proc = subprocess.Popen(
                [str(pipeline.paystat), "send", "--batch-size", "100", "--timeout-ms", "300",
                 "--retries", "20", str(path)],
                env=pipeline.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1.0)
        finally:
            ingest.signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        sent, accepted, rejected, batches, retries = summary(out)
        assert (sent, accepted, rejected, batches) == (rows, rows, 0, 30)
        assert retries > 0
        top = psclient.topic("R1", "2012")
        view = feed.collect_until(lambda v: top in v and v[top].get("count") == rows)
        time.sleep(0.5)
        while True:
            try:
                feed.recv(timeout=0.3)
            except TimeoutError:
                break
        assert feed.view[top]["count"] == rows
        assert feed.view[top]["amount"] == rows


def test_send_same_producer_twice_is_deduplicated(pipeline):
    first = pipeline.cli("send", "--producer", "twice", DATASET)
    assert first.returncode == 0, first.stderr
    again = pipeline.cli("send", "--producer", "twice", DATASET)
    assert again.returncode == 0, again.stderr
    n = dataset_rows()
    assert summary(again.stdout)[:3] == (n, n, 0)
    # The single batch is the producer's latest: ingest answers it with
    # its original ack, so nothing is applied twice and nothing is lost.


def test_send_unreachable_ingest_exits_3(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    res = subprocess.run([str(PAYSTAT), "send", "--ingest", f"tcp://127.0.0.1:{port}",
                          "--timeout-ms", "200", "--retries", "1", str(DATASET)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 3
    assert f"no answer from ingest at tcp://127.0.0.1:{port} after 2 attempts" in res.stderr


def test_send_usage_errors(tmp_path):
    def run(*args):
        return subprocess.run([str(PAYSTAT), "send", *map(str, args)], capture_output=True,
                              text=True, timeout=30)
    assert run().returncode == 2
    assert run(tmp_path / "missing.csv").returncode == 2
    assert run("--batch-size", "0", DATASET).returncode == 2
    assert run("--producer", "a b", DATASET).returncode == 2
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("source,period,Amount\nCMI,2012,1\n")
    res = run(bad_header)
    assert res.returncode == 2
    assert res.stderr.startswith(f"{bad_header}:1: Amount: ")
    assert res.stdout == ""


def test_sub_prints_json_lines(pipeline):
    proc = subprocess.Popen([str(pipeline.paystat), "sub", "--heartbeats", "--timeout-ms",
                             "3000", "MTC/", "CMI/2012/"],
                            env=pipeline.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        # The client announces its first sync, and its end: from then on
        # its subscriptions are live.
        assert json.loads(proc.stdout.readline()) == {"topic": "$resync", "reason": "start"}
        synced = json.loads(proc.stdout.readline())
        assert synced["topic"] == "$synced" and synced["topics"] == 0
        res = pipeline.cli("send", DATASET)
        assert res.returncode == 0, res.stderr
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    msgs = [json.loads(line) for line in out.splitlines()]
    cells = {m["topic"]: m for m in msgs if not m["topic"].startswith("$")}
    assert cells, out
    assert all(t.startswith(("MTC/", "CMI/2012/")) for t in cells)
    mtc = cells[psclient.topic("MTC", "2012", {"channel": "online"})]
    assert mtc["type"] == "cell"
    assert mtc["count"] == 1250000 and isinstance(mtc["count"], int)
    assert mtc["amount"] == 74300000000
    assert mtc["avg_ticket"] == 59440.0 and isinstance(mtc["avg_ticket"], float)
    assert mtc["dims"] == {"channel": "online"}
    for m in msgs:
        if not m["topic"].startswith("$"):
            assert {"v", "seq", "epoch"} <= set(m)
    # --heartbeats: the prefix heartbeats that confirmed the view.
    beats = {m["prefix"] for m in msgs if m["topic"].startswith("$hb/")}
    assert beats <= {"MTC/", "CMI/2012/"} and beats, out


def test_sub_table_printed_once_when_not_a_terminal(pipeline):
    proc = subprocess.Popen([str(pipeline.paystat), "sub", "--table", "--timeout-ms", "2500"],
                            env=pipeline.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        with pipeline.feed():  # the publisher is up and heartbeating
            pass
        time.sleep(0.5)
        assert pipeline.cli("send", DATASET).returncode == 0
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.count("TOPIC") == 1
    assert "\033[" not in out
    row = next(l for l in out.splitlines() if l.startswith("CMI/2012/activity=ecommerce,card=* "))
    assert "752300000.00 MAD" in row
    assert "+48.3%" in row
    assert "abroad_vs_domestic" in out


def test_demo_no_wait_matches_the_article(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSTAT_")}
    res = subprocess.run([str(PAYSTAT), "demo", "--no-wait", "--port", "0", "--bin-dir",
                          str(BIN_DIR), "--log-dir", str(tmp_path / "logs"), "--data",
                          str(DATASET), "--ratios", str(SOURCE_DIR / "data" / "ratios.conf")],
                         capture_output=True, text=True, timeout=180, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    n = dataset_rows()
    assert summary(res.stdout)[:3] == (n, n, 0)
    assert "13 of 13 figures match the article" in res.stdout
    check = res.stdout.split("Article check", 1)[1]
    rows = [l for l in check.splitlines()
            if l.strip() and not l.startswith(("FIGURE", "13 of"))]
    assert len(rows) == 13
    assert all(l.rstrip().endswith("match") for l in rows), check
    for name in ("ingest", "compute", "publish"):
        assert (tmp_path / "logs" / f"{name}.log").is_file()


def test_help_of_every_command():
    for cmd in ("send", "sub", "demo"):
        res = subprocess.run([str(PAYSTAT), cmd, "--help"], capture_output=True, text=True,
                             timeout=10)
        assert res.returncode == 0
        assert res.stdout.startswith(f"Usage: paystat {cmd} ")
    res = subprocess.run([str(PAYSTAT), "--help"], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0 and "send" in res.stdout and "demo" in res.stdout
    assert subprocess.run([str(PAYSTAT), "nope"], capture_output=True).returncode == 2
