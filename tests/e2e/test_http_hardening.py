"""kiln run's HTTP server under hostile clients (issue 13): one client
address holding connections, floods of refused and unsigned requests, and
stalled hook bodies. Every client is on loopback; another client address is
another source address in 127/8."""
import hashlib
import hmac
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from test_apply import fleet  # noqa: F401  (fixture)
from test_daemon import Daemon, listening

from awsemu.testing import wait_until


def connect(port, src="127.0.0.1", timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_response(s, head_only=False, left=None):
    """One response from s: (status, headers dict with lowercase names,
    body bytes). head_only: the answer to a HEAD request (no body). left, a
    bytearray, keeps what came after the response (pipelining)."""
    data = bytes(left) if left is not None else b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_only else int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    if left is not None:
        left[:] = rest[length:]
    return status, headers, rest[:length]


def request(port, method, path, src="127.0.0.1", timeout=10, body=b"", headers=()):
    with connect(port, src, timeout) as s:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        if body:
            extra += f"Content-Length: {len(body)}\r\n"
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n"
                  .encode() + body)
        return read_response(s, head_only=method == "HEAD")


def test_one_address_holding_connections_locks_nobody_out(fleet, tmp_path):
    # 300 idle connections from 127.0.0.1 are more than the server's cap of
    # 256; a health check from 127.0.0.2 must still be answered, at once and
    # every time, for several seconds.
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0")
    idle = []
    try:
        port = listening(d)
        for _ in range(300):
            try:
                idle.append(connect(port))
            except OSError:
                pass  # refused ones may be reset: the attacker's loss
        checks = []
        until = time.monotonic() + 5
        while time.monotonic() < until:
            started = time.monotonic()
            status, _, body = request(port, "GET", "/healthz", src="127.0.0.2", timeout=1)
            checks.append((status, time.monotonic() - started))
            assert status == 200, (status, body)
            time.sleep(0.1)  # a health checker's pace, not a wait for anything
        print(f"{len(idle)} connections from 127.0.0.1; /healthz from 127.0.0.2: "
              f"{len(checks)} checks, slowest {max(t for _, t in checks) * 1000:.1f} ms")
        assert len(checks) >= 20
        assert max(t for _, t in checks) < 1, checks
        assert d.proc.poll() is None
    finally:
        for s in idle:
            s.close()
        assert d.stop() == 0


def test_head_answers_like_get_and_a_wrong_method_gets_405(fleet, tmp_path):
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0")
    try:
        port = listening(d)
        # HEAD: GET's status and headers, no body (the connection then ends
        # with nothing more on it).
        with connect(port) as s:
            s.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            status, headers, _ = read_response(s, head_only=True)
            assert status == 200 and headers["content-length"] == "3", headers
            assert s.recv(100) == b""
        status, headers, _ = request(port, "HEAD", "/metrics")
        assert status == 200 and int(headers["content-length"]) > 100
        # A known path with another method: 405 and what it allows.
        for method, path, allow in (("POST", "/healthz", "GET, HEAD"),
                                    ("DELETE", "/api/v1/apps/hello", "GET, HEAD"),
                                    ("PUT", "/metrics", "GET, HEAD"),
                                    ("GET", "/hooks/github", "POST"),
                                    ("HEAD", "/hooks/generic", "POST")):
            status, headers, _ = request(port, method, path)
            assert (status, headers.get("allow")) == (405, allow), (method, path, status)
        # Unknown paths stay 404, whatever the method.
        for method in ("GET", "HEAD", "POST"):
            assert request(port, method, "/nope")[0] == 404, method
    finally:
        assert d.stop() == 0


def metric(text, name, labels):
    m = re.search(r"^" + re.escape(name + "{" + labels + "}") + r" (\d+)$", text, re.M)
    assert m, f"{name}{{{labels}}} not in /metrics"
    return int(m.group(1))


def unsigned_hooks(port, count, batch=100):
    """count unsigned hooks on one keep-alive connection, pipelined in
    batches; returns how many got 401."""
    req = (b"POST /hooks/generic HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}")
    got = 0
    left = bytearray()
    with connect(port) as s:
        while count > 0:
            n = min(batch, count)
            s.sendall(req * n)
            for _ in range(n):
                got += read_response(s, left=left)[0] == 401
            count -= n
    return got


def malformed(port, count):
    got = 0
    for _ in range(count):
        with connect(port) as s:
            s.sendall(b"GARBAGE\r\n\r\n")
            got += read_response(s)[0] == 400
    return got


def test_a_flood_of_refusals_logs_a_bounded_number_of_lines(fleet, tmp_path):
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0")
    try:
        port = listening(d)
        before = len(d.lines())
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=6) as pool:
            hooks = [pool.submit(unsigned_hooks, port, 2250) for _ in range(4)]
            bad = [pool.submit(malformed, port, 500) for _ in range(2)]
            assert sum(f.result() for f in hooks) == 9000
            assert sum(f.result() for f in bad) == 1000
        took = time.monotonic() - started
        print(f"10000 refusals in {took:.2f}s")
        assert took < 10
        metrics = wait_until(lambda: request(port, "GET", "/metrics")[2].decode(),
                             what="/metrics")
        assert metric(metrics, "kiln_http_rejected_total", 'reason="bad_signature"') == 9000
        assert metric(metrics, "kiln_http_rejected_total", 'reason="malformed"') == 1000
        assert metric(metrics, "kiln_log_suppressed_total", 'kind="bad_signature"') >= 8990
        assert metric(metrics, "kiln_log_suppressed_total", 'kind="malformed"') >= 990
        logged = len(d.lines()) - before
        print(f"log lines for 10000 refusals: {logged}")
        assert logged < 100, d.lines()[-20:]
        assert d.proc.poll() is None
    finally:
        assert d.stop() == 0
    # At exit, the window still open is summed up: every refusal is in the
    # log, as a line or in a summary.
    lines = d.lines()
    said = sum(1 for l in lines if "bad signature" in l.get("msg", ""))
    summed = sum(int(m.group(1)) for l in lines
                 for m in [re.search(r"\.\.\. and (\d+) more refusals \(bad_signature\)",
                                     l.get("msg", ""))] if m)
    assert said + summed == 9000, (said, summed)


SECRET = b"s3cret-for-hooks"


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def server_recv_queues(port):
    """Bytes the kernel holds, not yet read, on the server's side of each
    connection to port."""
    queues = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
                queues.append(int(fields[4].split(":")[1], 16))
    return queues


def signed_head(body, path="/hooks/generic", header="X-Kiln-Signature-256"):
    sig = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return (f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n"
            f"{header}: {sig}\r\n\r\n").encode()


def test_stalled_hook_bodies_are_not_held_in_memory(fleet, tmp_path):
    secret_file = tmp_path / "hook-secret"
    secret_file.write_bytes(SECRET)
    secret_file.chmod(0o600)
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0",
               "--webhook-secret-file", str(secret_file), "--interval", "1h")
    stalled = []
    try:
        port = listening(d)
        wait_until(lambda: d.said("ready"), timeout=60, what="readiness")
        body = bytes(range(256)) * 4096  # 1 MiB
        head = signed_head(body)
        before = rss_bytes(d.proc.pid)
        # 200 hooks, each stalled halfway through its body, from ten client
        # addresses (one address may hold 32 connections).
        for i in range(200):
            s = connect(port, src=f"127.0.0.{10 + i % 10}")
            s.sendall(head + body[:len(body) // 2])
            stalled.append(s)
        wait_until(lambda: len(server_recv_queues(port)) >= 200
                   and not any(server_recv_queues(port)),
                   timeout=20, what="the server to read every stalled body")
        grown = rss_bytes(d.proc.pid) - before
        print(f"RSS growth with 200 stalled 1 MiB hooks: {grown / 2**20:.1f} MiB")
        assert grown < 64 * 2**20, grown  # the bodies alone: 100 MiB
        # Meanwhile a signed hook, body and all, is verified and fetches.
        with connect(port, src="127.0.0.2") as s:
            s.sendall(head + body)
            status, _, answer = read_response(s)
        assert status == 202, answer
        wait_until(lambda: d.said("signed hook from 127.0.0.2"), timeout=10,
                   what="the fetch the hook asked for")
        # A wrong signature over a streamed body is still refused.
        with connect(port, src="127.0.0.3") as s:
            s.sendall(head + body[:-1] + b"x")
            assert read_response(s)[0] == 401
        assert d.proc.poll() is None
    finally:
        for s in stalled:
            s.close()
        assert d.stop() == 0
