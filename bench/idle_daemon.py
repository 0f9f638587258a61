"""Benchmark 4 (and #6's idle figure): CPU and memory of `kiln run` idling
over N converged apps. Prints one JSON object.

Usage: python3 bench/idle_daemon.py [APPS] [SECONDS]   (default 1, 600)
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet import Fleet  # noqa: E402


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main(n, seconds):
    fleet = Fleet(n)
    try:
        fleet.converge()
        state = fleet.dir / "state"
        proc = subprocess.Popen([os.environ.get("KILN_BIN", "build/controller/kiln"), "run",
                                 "--repo", str(fleet.repo), "--state-dir", str(state)],
                                env=fleet.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            time.sleep(15)  # first fetch and pass; then it idles
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            fleet.emu.reset_requests()
            rss = []
            while time.monotonic() - t0 < seconds:
                time.sleep(min(10, seconds))
                rss.append(rss_kib(proc.pid))
            cpu = cpu_seconds(proc.pid) - cpu0
            elapsed = time.monotonic() - t0
            requests = sum(fleet.emu.counts().values())
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        print(json.dumps({
            "apps": n, "seconds": round(elapsed), "cpu_s": round(cpu, 3),
            "cpu_s_per_hour": round(cpu * 3600 / elapsed, 2),
            "rss_kib_min": min(rss), "rss_kib_max": max(rss),
            "aws_requests": requests,
            "note": "default settings: fetch every 1m, resync every 5m",
        }))
    finally:
        fleet.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1,
         float(sys.argv[2]) if len(sys.argv) > 2 else 600)
