"""Issue 19's goals on realistic fleets: what a look at AWS costs at 1,000
and 10,000 apps with a past (bench/fleet_gen.py: a digest per app, parents
over 5 SSM parameters, H past releases, groups of 1-2 instances, 5 % of
the apps with a refresh paused at a checkpoint, and with --foreign 500
launch templates and 2,000 AMIs that are not Kiln's).

For each fleet (N:H:F, F 1 for the foreign resources):
  plan        `kiln plan` from a fresh process (nothing remembered): AWS
              requests by action, CPU, peak RSS, wall
  plan_app    `kiln plan --app` of one app: AWS requests
  daemon      `kiln run` over the fleet, its resync passes once warm
              (default versions and paused refreshes seen by an earlier
              pass): AWS requests per pass, CPU on the loop's thread and on
              every thread to the pass's history record, RSS after the pass,
              at its peak during the pass (VmHWM, reset before it) and the
              process's peak since it started; after the pass, RSS split
              into Kiln's own memory (RssAnon) and mapped files (RssFile:
              the shared libraries' pages), the loop's lag p99 during the
              pass, wall

Prints one JSON object per fleet. BENCH_REPEATS (default 3) runs per
figure; no cold plan above SCALE_COLD_PLAN_MAX_APPS apps (default 1,000).

Growth: a fleet that a later, larger one differs from only in N stays up
while the larger is measured, and its daemon runs again after it: the
smaller fleet's passes bracket the larger's in time, so that the ratio of
the two is not that of the machine's speed at two moments (this VM's
varies by 15-35 % over an hour). One more JSON object per such pair
("scale_growth"). Usage: python3 bench/scale.py [N:H:F,...]
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet_gen import GeneratedFleet, kiln_bin  # noqa: E402
from daemon_probe import listen_port, metrics, pass_accounted, status  # noqa: E402
from awsemu.testing import wait_until  # noqa: E402

DEFAULT = "1000:1:0,1000:1:1,1000:20:1,10000:1:1"
# Fleets larger than this get no cold plan (SCALE_COLD_PLAN_MAX_APPS): at
# 10,000 apps it takes a minute and a half of the emulator's time.
COLD_PLAN_MAX_APPS = int(os.environ.get("SCALE_COLD_PLAN_MAX_APPS", "1000"))


def counts(emu):
    c = emu.counts()
    return sum(c.values()), dict(sorted(c.items()))


def plan_cold(fleet, repeats):
    out = {"requests": [], "cpu_s": [], "peak_rss_kib": [], "wall_s": []}
    for _ in range(repeats):
        fleet.emu.reset_requests()
        r = subprocess.run(["/usr/bin/time", "-f", "KILNTIME %e %U %S %M", kiln_bin(), "plan",
                            "--repo", str(fleet.repo), "--format", "json"], env=fleet.env,
                           capture_output=True, text=True, timeout=1800)
        if r.returncode not in (0, 2):
            raise RuntimeError(f"kiln plan failed ({r.returncode}): {r.stderr[-2000:]}")
        wall, user, sys_, rss = [l for l in r.stderr.splitlines()
                                 if l.startswith("KILNTIME ")][-1].split()[1:]
        total, by = counts(fleet.emu)
        out["requests"].append(total)
        out["by_action"] = by
        out["cpu_s"].append(round(float(user) + float(sys_), 3))
        out["peak_rss_kib"].append(int(rss))
        out["wall_s"].append(float(wall))
        statuses = [a["status"] for a in json.loads(r.stdout)["apps"]]
        out["statuses"] = {s: statuses.count(s) for s in sorted(set(statuses))}
    return out


def plan_one_app(fleet):
    app = fleet.apps[len(fleet.apps) // 3].name
    fleet.emu.reset_requests()
    r = fleet.kiln("plan", "--repo", fleet.repo, "--app", app)
    if r.returncode not in (0, 2):
        raise RuntimeError(f"kiln plan --app failed: {r.stderr[-2000:]}")
    total, by = counts(fleet.emu)
    return {"app": app, "requests": total, "by_action": by}


def reset_peak_rss(pid):
    """Linux: VmHWM starts again from the current RSS (proc(5), clear_refs 5)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def proc_status_kib(pid, field):
    """VmHWM, RssAnon, RssFile... of /proc/PID/status, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def daemon_passes(fleet, repeats):
    log_path = fleet.dir / "daemon.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [kiln_bin(), "run", "--repo", str(fleet.repo), "--state-dir", str(fleet.dir / "state"),
         "--listen", "127.0.0.1:0", "--interval", "1h", "--resync", "3s"],
        env=fleet.env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        port = listen_port(log_path)

        # The first pass reads every default version and refresh; the
        # second is the first warm one. The waits poll /api/v1/status, not
        # /metrics: a scrape is work the pass's CPU would count (at 10,000
        # apps, polling /metrics every 0.2 s was 40 % of it).
        wait_until(lambda: pass_accounted(port, 1), timeout=1800, interval=0.2,
                   what="two passes")
        samples = []
        for _ in range(repeats):
            done = status(port)["passes"]
            fleet.emu.reset_requests()  # between passes: the next starts 3 s later
            reset_peak_rss(proc.pid)
            # Polled once a second: every answer is work on the loop, and
            # a pass that waits 20 s on the emulator must not count forty.
            wait_until(lambda: pass_accounted(port, done), timeout=1800, interval=1.0,
                       what="a resync pass")
            warm_peak = proc_status_kib(proc.pid, "VmHWM")
            m = metrics(port)
            anon = proc_status_kib(proc.pid, "RssAnon")
            shared_libs = proc_status_kib(proc.pid, "RssFile")
            total, by = counts(fleet.emu)
            samples.append({
                "requests": total, "by_action": by,
                "cpu_s": m["kiln_last_pass_cpu_seconds"],
                "process_cpu_s": m["kiln_last_pass_process_cpu_seconds"],
                "rss_kib": m["process_resident_memory_bytes"] / 1024,
                "peak_rss_kib": m["process_max_resident_memory_bytes"] / 1024,
                "pass_peak_rss_kib": warm_peak,
                "rss_anon_kib": anon,
                "rss_file_kib": shared_libs,
                "lag_p99_s": m["kiln_last_pass_loop_lag_p99_seconds"],
                "lag_max_s": m["kiln_last_pass_loop_lag_max_seconds"],
                "wall_s": m["kiln_last_pass_duration_seconds"],
            })
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
    keys = [k for k in samples[0] if k != "by_action"]
    out = {k: [round(s[k], 6) for s in samples] for k in keys}
    out["by_action"] = samples[-1]["by_action"]
    return out


def parse(spec):
    n, h, foreign = (int(x) for x in spec.split(":"))
    return n, h, foreign


def growth_partner(configs, i):
    """The first later config that differs from configs[i] only in a larger
    N, or None."""
    n, h, f = parse(configs[i])
    for spec in configs[i + 1:]:
        n2, h2, f2 = parse(spec)
        if n2 > n and (h2, f2) == (h, f):
            return spec
    return None


def main(configs, repeats):
    kept = {}  # spec of the larger fleet -> (smaller spec, its fleet, its passes)
    try:
        measure_all(configs, repeats, kept)
    finally:
        for _, small, _ in kept.values():  # a larger fleet was not measured
            small.close()


def measure_all(configs, repeats, kept):
    for i, spec in enumerate(configs):
        n, h, foreign = parse(spec)
        t = time.monotonic()
        fleet = GeneratedFleet(n, h, foreign=bool(foreign), made_up_past_digests=h > 1)
        keep = False
        try:
            rss, peak = fleet.emulator_rss_mib()
            result = {"bench": "scale", "n": n, "history": h, "foreign": bool(foreign),
                      "rolling": len(fleet.rolling), "build_s": round(time.monotonic() - t, 1),
                      "emulator_rss_mib": round(rss), "goal_requests": 10 + n / 50}
            # A cold plan at 10,000 apps takes minutes, and is no goal.
            if n <= COLD_PLAN_MAX_APPS:
                result["plan"] = plan_cold(fleet, repeats)
            result["plan_app"] = plan_one_app(fleet)
            result["daemon"] = daemon_passes(fleet, repeats)
            result["seconds"] = round(time.monotonic() - t, 1)
            print(json.dumps(result), flush=True)
            if spec in kept:
                small_spec, small, before = kept.pop(spec)
                try:
                    after = daemon_passes(small, repeats)["process_cpu_s"]
                finally:
                    small.close()
                print(json.dumps({
                    "bench": "scale_growth", "small": small_spec, "large": spec,
                    "small_before_process_cpu_s": before,
                    "large_process_cpu_s": result["daemon"]["process_cpu_s"],
                    "small_after_process_cpu_s": after}), flush=True)
            partner = growth_partner(configs, i)
            if partner is not None and partner not in kept:
                kept[partner] = (spec, fleet, result["daemon"]["process_cpu_s"])
                keep = True
        finally:
            if not keep:
                fleet.close()


if __name__ == "__main__":
    main((sys.argv[1] if len(sys.argv) > 1 else DEFAULT).split(","),
         int(os.environ.get("BENCH_REPEATS", "3")))
