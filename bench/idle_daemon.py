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
from fleet import Fleet, kiln_bin  # noqa: E402
from resync import listen_port, metrics  # noqa: E402
from awsemu.testing import wait_until  # noqa: E402


# CPU per hour is also reported per window of this many seconds, for a
# min / median / max: each window holds fetches; some hold a resync.
WINDOW_S = 120


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
        log = fleet.dir / "daemon.log"
        with open(log, "w") as err:
            proc = subprocess.Popen([kiln_bin(), "run", "--repo", str(fleet.repo),
                                     "--state-dir", str(state), "--listen", "127.0.0.1:0"],
                                    env=fleet.env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            # From the end of the first pass on, it idles.
            port = listen_port(log)
            wait_until(lambda: metrics(port).get("kiln_reconcile_passes_total", 0) >= 1,
                       timeout=120, interval=0.5, what="the first pass")
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            fleet.emu.reset_requests()
            rss, windows = [], []
            window_cpu, window_t = cpu0, t0
            while time.monotonic() - t0 < seconds:
                time.sleep(min(10, seconds))  # the sampling period
                rss.append(rss_kib(proc.pid))
                if time.monotonic() - window_t >= WINDOW_S:
                    now_cpu, now_t = cpu_seconds(proc.pid), time.monotonic()
                    windows.append((now_cpu - window_cpu) * 3600 / (now_t - window_t))
                    window_cpu, window_t = now_cpu, now_t
            cpu = cpu_seconds(proc.pid) - cpu0
            elapsed = time.monotonic() - t0
            by_action = fleet.emu.counts()
            requests = sum(by_action.values())
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        print(json.dumps({
            "bench": "idle", "apps": n, "seconds": round(elapsed), "cpu_s": round(cpu, 3),
            "cpu_s_per_hour": round(cpu * 3600 / elapsed, 2),
            "cpu_s_per_hour_by_window": [round(w, 3) for w in windows],
            "window_s": WINDOW_S,
            "rss_kib_min": min(rss), "rss_kib_max": max(rss),
            "aws_requests": requests, "aws_requests_by_action": by_action,
            "note": "default settings: fetch every 1m, resync every 5m",
        }))
    finally:
        fleet.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1,
         float(sys.argv[2]) if len(sys.argv) > 2 else 600)
