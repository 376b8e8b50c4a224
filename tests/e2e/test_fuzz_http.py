"""Hostile HTTP: every HTTP endpoint of a running pipeline (the /healthz,
/readyz and /metrics of ingest, compute and publish, and the gateway's API,
event stream and dashboard) gets a few thousand hostile inputs, generated
from a fixed seed: random bytes, broken request lines, unknown methods,
bodies, oversized and malformed headers and URLs, bad percent-encoding,
every query parameter out of its range, and half-sent requests that the
client abandons.

Checked afterwards: no service died or restarted (same pids); every
endpoint still answers; a well-formed but wrong API request is answered
with the status docs/gateway.md gives (400, 404 or 405), never 5xx; a
valid report sent after the storm reaches the feed, a snapshot and the
gateway; each service's peak resident memory stays under HOSTILE_RSS_MB
(docs/bounds.md, "Memory bounds the tests check")."""

import concurrent.futures
import random
import socket
import urllib.error
import urllib.parse
import urllib.request

import psclient
from test_gateway import gateway_factory  # noqa: F401 (a fixture)
from test_hostile import HOSTILE_RSS_MB, rss_kib, sanitized

SEED = 20121128
INPUTS_PER_ENDPOINT = 2_000
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH",
           "get", "G\x00T", "GETT", "", "*", "BREW"]
OPS_PATHS = ["/healthz", "/readyz", "/metrics"]
GATEWAY_PATHS = OPS_PATHS + ["/", "/index.html", "/app.js", "/style.css", "/api/v1/indicators",
                             "/api/v1/series", "/api/v1/stream"]
# Well-formed requests the gateway must refuse with exactly this status.
WRONG_REQUESTS = [
    ("GET", "/api/v1/indicators?limit=0", 400),
    ("GET", "/api/v1/indicators?limit=100001", 400),
    ("GET", "/api/v1/indicators?limit=-1", 400),
    ("GET", "/api/v1/indicators?limit=1e3", 400),
    ("GET", "/api/v1/indicators?limit=99999999999999999999999", 400),
    ("GET", "/api/v1/indicators?prefix=" + "A" * 437, 400),
    ("GET", "/api/v1/series", 400),
    ("GET", "/api/v1/series?source=", 400),
    ("GET", "/api/v1/series?source=bad%20source", 400),
    ("GET", "/api/v1/series?source=CMI&granularity=week", 400),
    ("GET", "/api/v1/series?source=CMI&dims=card", 400),
    ("GET", "/api/v1/series?source=CMI&dims=card=a,card=b", 400),
    ("GET", "/api/v1/series?source=CMI&dims==x", 400),
    ("GET", "/api/v1/stream?prefix=" + "B" * 437, 400),
    ("GET", "/api/v2/indicators", 404),
    ("GET", "/../../etc/passwd", 404),
    ("GET", "/index.html/..", 404),
    ("POST", "/api/v1/indicators", 405),
    ("DELETE", "/api/v1/series?source=CMI", 405),
    ("PUT", "/healthz", 405),
]


def junk(rng, n):
    return bytes(rng.randrange(256) for _ in range(n))


def hostile_request(rng, paths):
    """One hostile input for an HTTP port, as bytes."""
    kind = rng.randrange(10)
    path = rng.choice(paths)
    if kind == 0:
        return junk(rng, rng.randint(1, 2048))
    if kind == 1:  # a request line broken somewhere
        line = f"{rng.choice(METHODS)} {path} HTTP/1.1\r\n".encode()
        cut = rng.randrange(len(line))
        return line[:cut] + junk(rng, rng.randint(0, 8)) + line[cut:] + b"\r\n"
    if kind == 2:  # an oversized URL
        return f"GET {path}?{'x' * rng.randint(4000, 70000)} HTTP/1.1\r\nHost: h\r\n\r\n".encode()
    if kind == 3:  # many or huge headers
        many = "".join(f"X-{i}: {'v' * rng.randint(1, 200)}\r\n" for i in range(rng.randint(100, 600)))
        return f"GET {path} HTTP/1.1\r\nHost: h\r\n{many}\r\n".encode()
    if kind == 4:  # bad percent-encoding and control bytes in the query
        q = rng.choice(["%", "%G0", "%0", "%00", "%ff%fe", "%c0%af", "\x01\x7f", "prefix=%",
                        "prefix=%00CMI", "limit=%31%30", "&&&==&", "prefix[]=a", "a=" * 500])
        return f"GET {path}?{q} HTTP/1.1\r\nHost: h\r\n\r\n".encode("latin-1")
    if kind == 5:  # bodies the server never asked for, some lying about their size
        length = rng.choice([0, 10, 1 << 20, 2**63, -1])
        body = junk(rng, rng.randint(0, 3000))
        head = (f"{rng.choice(METHODS)} {path} HTTP/1.1\r\nHost: h\r\n"
                f"Content-Length: {length}\r\n\r\n")
        return head.encode("latin-1", "replace") + body
    if kind == 6:  # chunked bodies with bad chunk sizes
        sizes = rng.choice([b"zz", b"-1", b"ffffffffffffffff", b"1\r\nab", b"0"])
        return (f"POST {path} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                + sizes + b"\r\n" + junk(rng, 20))
    if kind == 7:  # versions and header syntax no server should take
        version = rng.choice(["HTTP/9.9", "HTTP/1", "HTTP/0.9", "HTTP/1.1.1", "FTP/1.0", ""])
        header = rng.choice(["NoColon", ": empty-name", "Host:\x00h", " folded: x", "Host: h\rX"])
        return f"GET {path} {version}\r\n{header}\r\n\r\n".encode("latin-1")
    if kind == 8:  # query parameters out of their range, as a client could write them
        params = {rng.choice(["prefix", "limit", "source", "dims", "granularity", "x"]):
                  rng.choice(["", "0", "-5", "1" * 30, "\u00e9\u00e8", "\ud7ff", "A" * 600, "*",
                              "card=*", "=,=", "year", "month", "a b"])
                  for _ in range(rng.randint(1, 6))}
        query = urllib.parse.urlencode(params)
        return f"GET {path}?{query} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".encode()
    # 9: a request abandoned halfway (headers never finished)
    return f"GET {path} HTTP/1.1\r\nHost: h\r\nX-Partial: {'p' * rng.randint(0, 100)}".encode()


def fire(port, data, wait=0.05):
    """Sends DATA on a new connection, reads whatever comes within WAIT s,
    and closes. Returns the bytes read (the server may answer or close)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
    except OSError:
        pass  # the server closed first: an answer, for junk
    s.settimeout(wait)
    got = b""
    try:
        while len(got) < 65536:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    s.close()
    return got


def status_of(url, method="GET", timeout=30):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def storm(port, paths, rng):
    """INPUTS_PER_ENDPOINT hostile inputs to PORT, 8 connections at a time
    (under every connection cap); returns how many were answered."""
    inputs = [hostile_request(rng, paths) for _ in range(INPUTS_PER_ENDPOINT)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return sum(1 for got in pool.map(lambda data: fire(port, data), inputs) if got)


def port_of(url):
    return int(url.rsplit(":", 1)[1])


def test_hostile_http_everywhere(pipeline, gateway_factory):  # noqa: F811
    rng = random.Random(SEED)
    gw = gateway_factory(pipeline)
    pids = {name: svc.pid for name, svc in pipeline.services.items()}
    gw_pid = gw.service.pid
    ack = pipeline.send_batch("fuzz", 1, [psclient.report("FUZZ", "2012", count=1, amount=100,
                                                          currency="MAD")])
    assert ack["status"] == "ok", ack

    targets = {name: (port_of(url), OPS_PATHS) for name, url in pipeline.http.items()}
    targets["gateway"] = (port_of(gw.url), GATEWAY_PATHS)
    for name, (port, paths) in targets.items():
        answered = storm(port, paths, rng)
        # Most inputs are complete requests or junk a server answers (400) or closes on;
        # a server that answers none of them is not reading.
        assert answered > 0, f"{name}: no answer to {INPUTS_PER_ENDPOINT} hostile requests"
        for path in OPS_PATHS:
            assert status_of(f"http://127.0.0.1:{port}{path}") in (200, 503), (name, path)
        assert status_of(f"http://127.0.0.1:{port}/healthz") == 200, name

    for method, path, want in WRONG_REQUESTS:
        assert status_of(gw.url + path, method) == want, (method, path)

    # The storm moved nothing: a report sent now reaches the feed, a snapshot and the gateway.
    top = psclient.topic("FUZZ", "2012")
    with pipeline.feed(["FUZZ/"]) as feed:
        ack = pipeline.send_batch("fuzz", 2, [psclient.report("FUZZ", "2012", count=2, amount=50,
                                                              currency="MAD")])
        assert ack["status"] == "ok", ack
        view = feed.collect_until(lambda v: v.get(top, {}).get("count") == 3, timeout=30)
        assert view[top]["amount"] == 150
    snap, _ = psclient.snapshot_view(pipeline.snapshot_endpoint, "FUZZ/")
    assert snap[top]["count"] == 3 and snap[top]["amount"] == 150
    gw.wait_for(lambda v: v.get(top, {}).get("count") == 3, "the report sent after the storm",
                timeout=30)

    pipeline.check_alive()
    assert gw.service.alive and gw.service.pid == gw_pid
    assert {name: svc.pid for name, svc in pipeline.services.items()} == pids
    peaks = {name: rss_kib(svc.pid, "VmHWM") / 1024 for name, svc in pipeline.services.items()}
    peaks["gateway"] = rss_kib(gw_pid, "VmHWM") / 1024
    exes = {name: svc.exe for name, svc in pipeline.services.items()}
    exes["gateway"] = gw.service.exe
    print("hostile http: peak RSS MiB: " + ", ".join(f"{n} {mb:.1f}" for n, mb in peaks.items()))
    measured = {n: mb for n, mb in peaks.items() if not sanitized(exes[n])}
    assert all(mb < HOSTILE_RSS_MB for mb in measured.values()), peaks
