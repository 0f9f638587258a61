"""What the benchmarks read of a running `kiln run`: the port its HTTP
server took (from its log), its /api/v1/status and its /metrics as
{name: value}."""
import json
import re
import urllib.request

from awsemu.testing import wait_until


def listen_port(log_path, timeout=60):
    def port():
        try:
            m = re.search(r"listening on \S+ \(port (\d+)\)", log_path.read_text())
        except FileNotFoundError:
            return None
        return int(m.group(1)) if m else None
    return wait_until(port, timeout=timeout, interval=0.05, what="the daemon's HTTP server")


def status(port):
    """/api/v1/status: a few hundred bytes whatever the number of apps, so
    polling it while a pass runs costs the pass nothing worth counting
    (/metrics has a line per app: 1 ms to render at 10,000 apps)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=30) as r:
        return json.load(r)


def pass_accounted(port, after):
    """The status once pass number `after` + 1 has ended and its whole cost
    (history record included) is counted; None before."""
    s = status(port)
    last = s.get("last_pass") or {}
    return s if s["passes"] > after and last.get("process_cpu_seconds") is not None else None


def metrics(port):
    """Unlabelled samples only."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out
