"""What the benchmarks read of a running `kiln run`: the port its HTTP
server took (from its log) and its /metrics as {name: value}."""
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
