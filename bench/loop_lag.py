"""How late the daemon's loop runs while it reconciles N converged apps
(default 1000): the cost of blocking work on the loop's thread.

The fleet is converged at commit A; then a commit B that changes no app is
made, so the groups still say A and the first pass of `kiln run` must read
A's specs to tell drift causes (the "older commit" work), and every pass
writes history. The daemon measures how late a 10 ms timer fires during
each pass (kiln_last_pass_loop_lag_{p99,max}_seconds in /metrics). The
first pass and BENCH_REPEATS (default 5) resync passes are sampled.

Prints one JSON object. Usage: python3 bench/loop_lag.py [APPS]
"""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet import Fleet, git, kiln_bin  # noqa: E402
from resync import listen_port, metrics  # noqa: E402
from awsemu.testing import wait_until  # noqa: E402


def sample(port, target):
    return wait_until(lambda: (lambda m: m if m.get("kiln_reconcile_passes_total", 0) >= target
                               else None)(metrics(port)),
                      timeout=600, interval=0.5, what=f"pass {target}")


def measure(fleet, repeats):
    (fleet.repo / "NOTES.md").write_text("a commit that changes no app\n")
    git(fleet.repo, "add", "-A")
    git(fleet.repo, "commit", "-qm", "notes")
    log = fleet.dir / "lag.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [kiln_bin(), "run", "--repo", str(fleet.repo), "--state-dir",
             str(fleet.dir / "lag-state"), "--listen", "127.0.0.1:0", "--interval", "1h",
             "--resync", "2s"],
            env=fleet.env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        port = listen_port(log)
        passes = []
        for target in range(1, repeats + 2):
            m = sample(port, target)
            passes.append({"p99_ms": m["kiln_last_pass_loop_lag_p99_seconds"] * 1000,
                           "max_ms": m["kiln_last_pass_loop_lag_max_seconds"] * 1000,
                           "cpu_s": m["kiln_last_pass_cpu_seconds"]})
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return {
        "bench": "loop_lag", "apps": fleet.n,
        "label": os.environ.get("BENCH_LABEL", ""),
        "first_p99_ms": passes[0]["p99_ms"], "first_max_ms": passes[0]["max_ms"],
        "resync_p99_ms": [p["p99_ms"] for p in passes[1:]],
        "resync_max_ms": [p["max_ms"] for p in passes[1:]],
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
