"""Issue 13: the memory of `kiln run` over many fetches. A daemon fetches
every --interval (default 1m: 1440 fetches a day) for as long as it runs,
so anything a fetch leaves behind grows without bound.

A converged fleet of APPS apps (default 10) is served from a file:// bare
remote; `kiln run --interval 10ms --resync 1h` fetches it FETCHES times
(default 1000; counted with /metrics kiln_fetches_total) with no new commit,
and its resident memory (VmRSS) is sampled every 100 fetches. Flat after
warm-up is the goal. Prints one JSON object.

Usage: python3 bench/fetch_rss.py [FETCHES] [APPS]
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet import Fleet, kiln_bin  # noqa: E402
from idle_daemon import rss_kib  # noqa: E402
from daemon_probe import listen_port, metrics  # noqa: E402
from awsemu.testing import wait_until  # noqa: E402

SAMPLE_EVERY = 100


def main(fetches, n):
    fleet = Fleet(n)
    try:
        fleet.converge()
        bare = fleet.dir / "remote.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(fleet.repo), str(bare)], check=True)
        log = fleet.dir / "daemon.log"
        with open(log, "w") as err:
            proc = subprocess.Popen(
                [kiln_bin(), "run", "--repo", f"file://{bare}", "--state-dir",
                 str(fleet.dir / "state"), "--listen", "127.0.0.1:0", "--interval", "10ms",
                 "--resync", "1h"],
                env=fleet.env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            port = listen_port(log)
            wait_until(lambda: metrics(port).get("kiln_reconcile_passes_total", 0) >= 1,
                       timeout=120, interval=0.1, what="the first pass")
            samples = []  # (fetches, VmRSS KiB)
            started = time.monotonic()
            for target in range(SAMPLE_EVERY, fetches + 1, SAMPLE_EVERY):
                m = wait_until(lambda: (lambda x: x if x["kiln_fetches_total"] >= target
                                        else None)(metrics(port)),
                               timeout=600, interval=0.01, what=f"{target} fetches")
                samples.append((int(m["kiln_fetches_total"]), rss_kib(proc.pid)))
            elapsed = time.monotonic() - started
            failing = metrics(port).get("kiln_fetch_failing", 0)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        if failing:
            raise RuntimeError(f"fetches failing; see {log}")
        rss = [r for _, r in samples]
        # After warm-up: from the second sample on (allocator arenas, the
        # first pass's and libgit2's caches are in place by then).
        warm = samples[1:]
        per_fetch = ((warm[-1][1] - warm[0][1]) * 1024 / (warm[-1][0] - warm[0][0])
                     if len(warm) > 1 else 0)
        print(json.dumps({
            "bench": "fetch_rss", "apps": n, "fetches": samples[-1][0],
            "seconds": round(elapsed, 1),
            "rss_kib_by_fetches": [[f, r] for f, r in samples],
            "rss_kib_min": min(rss), "rss_kib_max": max(rss),
            "growth_bytes_per_fetch_after_warmup": round(per_fetch),
            "note": "kiln run --interval 10ms --resync 1h, file:// remote, no new commits",
        }))
    finally:
        fleet.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
         int(sys.argv[2]) if len(sys.argv) > 2 else 10)
