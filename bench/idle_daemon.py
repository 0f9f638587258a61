"""Benchmark 4 (and #6's idle figure): CPU and memory of `kiln run` idling
over N converged apps. Prints one JSON object.

The daemon's CPU time is read from the scheduler's clock, in nanoseconds:
the first field of /proc/PID/task/TID/schedstat, summed over its threads
(/proc/PID/schedstat is the main thread's alone, and the thread pool's
work, git fetches among it, runs on other threads). Clock ticks
(/proc/PID/stat, 10 ms) would round a window's few milliseconds to 0 or 10.
A thread that ends takes its time out of the sum: the output counts the
threads seen to end, and gives the tick-based figure of the whole run
beside it (which keeps ended threads' time) as a check.

Usage: python3 bench/idle_daemon.py [APPS] [SECONDS]   (default 1, 600)
IDLE_WINDOW_S (default 120): CPU per hour is also given per window.
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet import Fleet, kiln_bin  # noqa: E402
from daemon_probe import listen_port, metrics  # noqa: E402
from awsemu.testing import wait_until  # noqa: E402


# CPU per hour is also reported per window of this many seconds, for a
# min / median / max: each window holds fetches; some hold a resync.
WINDOW_S = float(os.environ.get("IDLE_WINDOW_S", "120"))


def cpu_seconds(pid):
    """User + system time from clock ticks, every thread's, ended ones too."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def thread_cpu_ns(pid):
    """{thread id: CPU ns} from each live thread's schedstat."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # it ended between the listing and the read
    return out


class CpuClock:
    """The daemon's CPU ns so far, as the sum of its threads' schedstat;
    counts threads that ended between two reads (their last stretch is
    lost)."""

    def __init__(self, pid):
        self.pid = pid
        self.last = thread_cpu_ns(pid)
        self.ended = 0
        self.threads_max = len(self.last)

    def read(self):
        now = thread_cpu_ns(self.pid)
        self.ended += len(set(self.last) - set(now))
        self.threads_max = max(self.threads_max, len(now))
        self.last = now
        return sum(now.values())


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
            clock = CpuClock(proc.pid)
            ticks0 = cpu_seconds(proc.pid)
            cpu0, t0 = clock.read(), time.monotonic()
            main0 = int(open(f"/proc/{proc.pid}/schedstat").read().split()[0])
            fleet.emu.reset_requests()
            rss, windows = [], []
            window_cpu, window_t = cpu0, t0
            while time.monotonic() - t0 < seconds:
                time.sleep(min(10, seconds))  # the sampling period
                rss.append(rss_kib(proc.pid))
                now_cpu, now_t = clock.read(), time.monotonic()
                if now_t - window_t >= WINDOW_S:
                    windows.append((now_cpu - window_cpu) / 1e6 * 3600 / (now_t - window_t))
                    window_cpu, window_t = now_cpu, now_t
            cpu_ns = clock.read() - cpu0
            elapsed = time.monotonic() - t0
            main_ns = int(open(f"/proc/{proc.pid}/schedstat").read().split()[0]) - main0
            ticks = cpu_seconds(proc.pid) - ticks0
            by_action = fleet.emu.counts()
            requests = sum(by_action.values())
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        cpu = cpu_ns / 1e9
        print(json.dumps({
            "bench": "idle", "apps": n, "seconds": round(elapsed), "clock": "schedstat",
            "cpu_ms": round(cpu * 1000, 3),
            "cpu_ms_per_hour": round(cpu * 1000 * 3600 / elapsed, 1),
            "cpu_ms_per_hour_by_window": [round(w, 1) for w in windows],
            "window_s": WINDOW_S,
            "main_thread_cpu_ms": round(main_ns / 1e6, 3),
            "threads_max": clock.threads_max, "threads_ended": clock.ended,
            "ticks_cpu_s": round(ticks, 2),
            "cpu_s": round(cpu, 4), "cpu_s_per_hour": round(cpu * 3600 / elapsed, 3),
            "rss_kib_min": min(rss), "rss_kib_max": max(rss),
            "aws_requests": requests, "aws_requests_by_action": by_action,
            "note": "default settings: fetch every 1m, resync every 5m",
        }))
    finally:
        fleet.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1,
         float(sys.argv[2]) if len(sys.argv) > 2 else 600)
