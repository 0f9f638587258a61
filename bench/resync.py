"""Benchmark 2, the daemon's half: CPU time and memory of one resync pass of
`kiln run` over N converged apps (default 1000).

The daemon keeps the parsed desired state between passes, so a resync is
observe + plan over the whole fleet, with nothing to do. It runs with
--resync 3s and --interval 1h (no fetch between passes); after the first
pass, BENCH_REPEATS (default 5) passes are sampled from /metrics: the CPU
time of each pass on the loop thread (kiln_last_pass_cpu_seconds), its
duration, and the process's resident and peak resident memory. The AWS
requests of one pass are counted by the emulator.

Prints one JSON object. Usage: python3 bench/resync.py [APPS]
"""
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet import Fleet, kiln_bin  # noqa: E402
from awsemu.testing import wait_until  # noqa: E402


def listen_port(log_path):
    def port():
        try:
            m = re.search(r"listening on \S+ \(port (\d+)\)", log_path.read_text())
        except FileNotFoundError:
            return None
        return int(m.group(1)) if m else None
    return wait_until(port, timeout=30, interval=0.05, what="the daemon's HTTP server")


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def sample_passes(port, fleet, repeats):
    # /metrics is asked once a second: serving it is work on the loop's
    # thread too, and would be counted in the pass it interrupts.
    wait_until(lambda: metrics(port).get("kiln_reconcile_passes_total", 0) >= 1,
               timeout=600, interval=1, what="the first pass")
    passes = int(metrics(port)["kiln_reconcile_passes_total"])
    samples = []
    for _ in range(repeats):
        fleet.emu.reset_requests()
        target = passes + 1
        m = wait_until(lambda: (lambda x: x if x["kiln_reconcile_passes_total"] >= target else None)(
            metrics(port)), timeout=120, interval=1, what="a resync pass")
        passes = int(m["kiln_reconcile_passes_total"])
        samples.append({
            "cpu_s": m["kiln_last_pass_cpu_seconds"],
            "wall_s": m["kiln_last_pass_duration_seconds"],
            "rss_kib": m["process_resident_memory_bytes"] / 1024,
            "peak_rss_kib": m["process_max_resident_memory_bytes"] / 1024,
            "requests": sum(fleet.emu.counts().values()),
        })
    return samples


def measure(fleet, repeats):
    """Runs the daemon over a converged fleet; the figures as a dict."""
    log = fleet.dir / "daemon.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [kiln_bin(), "run", "--repo", str(fleet.repo), "--state-dir",
             str(fleet.dir / "state"), "--listen", "127.0.0.1:0", "--interval", "1h",
             "--resync", "3s"],
            env=fleet.env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        samples = sample_passes(listen_port(log), fleet, repeats)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return {
        "bench": "resync", "apps": fleet.n,
        "cpu_s": [s["cpu_s"] for s in samples],
        "wall_s": [s["wall_s"] for s in samples],
        "rss_kib": [s["rss_kib"] for s in samples],
        "peak_rss_kib": [s["peak_rss_kib"] for s in samples],
        "requests": [s["requests"] for s in samples],
    }


def main(n, repeats):
    fleet = Fleet(n)
    try:
        fleet.converge()
        print(json.dumps(measure(fleet, repeats)), flush=True)
    finally:
        fleet.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
         int(os.environ.get("BENCH_REPEATS", "5")))
