"""Benchmarks 1 and 2: AWS requests per steady-state pass, and the CPU time
and peak RSS of `kiln plan`, for N converged apps; on the largest fleet, the
daemon's resync pass too (bench/resync.py), sparing a second setup.

Prints one JSON object per N (and one for the resync) on stdout.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet import Fleet  # noqa: E402
import resync  # noqa: E402

import subprocess  # noqa: E402


def plan_with_rusage(fleet):
    """Runs kiln plan under GNU time: (exit, cpu s, peak RSS KiB, wall s).

    GNU time, not a fork of this Python process: Linux carries the peak RSS
    of a process across exec, so a fork of a 50 MB interpreter would be
    measured, not Kiln."""
    r = subprocess.run(["/usr/bin/time", "-f", "KILNTIME %e %U %S %M",
                        os.environ.get("KILN_BIN", "build/controller/kiln"), "plan",
                        "--repo", str(fleet.repo)],
                       env=fleet.env, capture_output=True, text=True)
    line = [l for l in r.stderr.splitlines() if l.startswith("KILNTIME ")][-1]
    wall, user, system, rss = line.split()[1:]
    return r.returncode, float(user) + float(system), int(rss), float(wall)


def main(sizes, repeats):
    for n in sizes:
        fleet = Fleet(n)
        try:
            t0 = time.monotonic()
            fleet.converge()
            setup_s = time.monotonic() - t0
            counts, cpu, rss, wall = [], [], [], []
            per_action = None
            for _ in range(repeats):
                fleet.emu.reset_requests()
                code, c, r, w = plan_with_rusage(fleet)
                if code != 0:
                    raise RuntimeError(f"kiln plan exited {code} on a converged fleet of {n}")
                per_action = fleet.emu.counts()
                counts.append(sum(per_action.values()))
                cpu.append(c)
                rss.append(r)
                wall.append(w)
            # A per-resource observer (Terraform-style refresh) describes each
            # app's parameter, image, launch template and group on its own.
            naive = 4 * n
            print(json.dumps({
                "bench": "steady", "n": n, "setup_s": round(setup_s, 1),
                "requests": counts, "requests_by_action": per_action,
                "goal": 10 + n / 50, "per_resource_observer": naive,
                "ratio": round(naive / statistics.median(counts), 1),
                "plan_cpu_s": cpu, "plan_rss_kib": rss, "plan_wall_s": wall,
            }), flush=True)
            if n == max(sizes):
                print(json.dumps(resync.measure(fleet, repeats)), flush=True)
        finally:
            fleet.close()


if __name__ == "__main__":
    sizes = [int(x) for x in (sys.argv[1].split(",") if len(sys.argv) > 1 else ["10", "100", "1000"])]
    main(sizes, int(os.environ.get("BENCH_REPEATS", "5")))
