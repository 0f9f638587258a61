"""Benchmark 5: releasing N apps (default 200) while the emulator throttles
at EC2's published bucket rates, against the floor those buckets allow.

A fleet of N apps sharing one image recipe is released at 1.0.0, then each
measured run bumps every app to the next version in one commit and times
`kiln apply --wait` until every app is in sync: one bake, then for each app
a launch template version, its default, the group and an instance refresh.
Between runs the emulator's buckets are made afresh (full), as an account
that has been quiet would have them.

The EC2 buckets (per account, region and API action, as EC2 meters them):
Describe* 100 burst / 20 per s, CreateLaunchTemplateVersion 100 / 5 per s,
other mutating actions 200 / 5 per s. Auto Scaling, Image Builder and SSM
publish no buckets and are not throttled here.

Configurations, each BENCH_REPEATS times (default 3):
  throttled              EC2's buckets, Kiln as shipped (its pacer on)
  throttled-no-limiter   the same buckets, KILN_AWS_RATE_LIMIT=off: what
                         Kiln's pacing saves (throttled responses, retries)
  unthrottled-no-limiter neither: how fast the emulator itself goes
With THROTTLE_ALL=1 a fourth, unthrottled (no buckets, Kiln as shipped):
the pacer's cost when nothing throttles. THROTTLE_SHARES=0.9,... adds one
configuration per share, throttled-share-S: the same buckets with
KILN_AWS_RATE_LIMIT=S (a user's setting: the pacer at that share of each
bucket instead of 90 %).

The floor the buckets allow: the buckets are per action and drain in
parallel, so for each throttled EC2 action, with `calls` the requests a
release makes of it (counted in the unthrottled-no-limiter runs, which
retry nothing), seconds = max(0, (calls - burst) / refill); the floor is
the largest. It leaves out the bake and the emulator's own time, which the
unthrottled-no-limiter line shows. Kiln's own floor is the same sum over
its pacer's buckets (90 % of each, aws/ratelimit.c).

Prints one JSON object for the floor, then one per configuration.
Usage: python3 bench/throttle.py [APPS]
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet import Fleet, git  # noqa: E402

DESCRIBES = ("DescribeImages", "DescribeLaunchTemplates", "DescribeLaunchTemplateVersions",
             "DescribeSubnets", "DescribeSecurityGroups", "DescribeInstances",
             "DescribeSnapshots")
MUTATING = ("CreateLaunchTemplate", "ModifyLaunchTemplate", "CreateTags", "DeleteTags",
            "CreateImage", "DeregisterImage", "DeleteLaunchTemplateVersions", "DeleteSnapshot",
            "ModifyImageAttribute", "ModifySnapshotAttribute", "CopyImage")

# Kiln's pacer takes this share of each published bucket (aws/ratelimit.c).
KILN_SHARE = 0.9
# Issue 19: a release within this many times the floor, nothing throttled.
FLOOR_GOAL = 1.25


def ec2_buckets():
    rules = [{"service": "ec2", "action": a, "kind": "bucket", "burst": 100, "refill_per_s": 20}
             for a in DESCRIBES]
    rules.append({"service": "ec2", "action": "CreateLaunchTemplateVersion", "kind": "bucket",
                  "burst": 100, "refill_per_s": 5})
    rules += [{"service": "ec2", "action": a, "kind": "bucket", "burst": 200, "refill_per_s": 5}
              for a in MUTATING]
    return rules


def bump(fleet, version):
    for app in sorted((fleet.repo / "apps").iterdir()):
        spec = app / "app.yaml"
        text = spec.read_text()
        start = text.index('version: "') + len('version: "')
        end = text.index('"', start)
        spec.write_text(text[:start] + version + text[end:])
    git(fleet.repo, "commit", "-qam", f"release {version}")


def release(fleet, version, throttled, rate_limit):
    """rate_limit: KILN_AWS_RATE_LIMIT for Kiln, None to leave it unset."""
    fleet.emu.clear_faults()
    if throttled:
        fleet.emu.faults(*ec2_buckets())
    bump(fleet, version)
    fleet.emu.reset_requests()
    extra = {} if rate_limit is None else {"KILN_AWS_RATE_LIMIT": rate_limit}
    wall0 = time.time()  # the emulator's log is stamped with time.time()
    t0 = time.monotonic()
    r = fleet.kiln("apply", "--repo", fleet.repo, "--wait", "--timeout", "60m",
                   "--interval", "1s", extra_env=extra)
    elapsed = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"release {version} failed:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    log = fleet.emu.requests()["log"]
    return {
        "seconds": round(elapsed, 2),
        "requests": len(log),
        "throttled": sum(1 for e in log if e["fault"] == "throttle"),
        "by_action": count_by(log),
        "throttled_by_action": count_by(e for e in log if e["fault"] == "throttle"),
        "timeline": timeline(log, wall0),
    }


def timeline(log, wall0):
    """Per action, the seconds from the start of `kiln apply` to its first
    and last request: where the time of a release goes."""
    out = {}
    for e in log:
        key = f"{e['service']}:{e['action']}"
        t = round(e["t"] - wall0, 2)
        first, last = out.get(key, (t, t))
        out[key] = (min(first, t), max(last, t))
    return {k: list(v) for k, v in out.items()}


def count_by(log):
    out = {}
    for e in log:
        key = f"{e['service']}:{e['action']}"
        out[key] = out.get(key, 0) + 1
    return out


def floor(n, calls_by_action):
    """The floor the emulator's buckets allow for a release that makes
    calls_by_action requests, and Kiln's pacer's own: per bucketed action,
    max(0, (calls - burst) / refill); the largest of them."""
    rows = []
    for rule in ec2_buckets():
        calls = calls_by_action.get(f"ec2:{rule['action']}", 0)
        if calls == 0:
            continue
        burst, refill = rule["burst"], rule["refill_per_s"]
        rows.append({
            "action": rule["action"], "calls": calls, "burst": burst, "refill_per_s": refill,
            "seconds": round(max(0.0, (calls - burst) / refill), 1),
            "kiln_burst": burst * KILN_SHARE, "kiln_refill_per_s": refill * KILN_SHARE,
            "kiln_seconds": round(max(0.0, (calls - burst * KILN_SHARE)
                                      / (refill * KILN_SHARE)), 1),
        })
    # No action is binding when every one fits in its burst.
    binding = max((r for r in rows if r["seconds"] > 0), key=lambda r: r["seconds"],
                  default=None)
    kiln = max((r for r in rows if r["kiln_seconds"] > 0), key=lambda r: r["kiln_seconds"],
               default=None)
    return {
        "bench": "throttle_floor", "apps": n,
        "floor_s": binding["seconds"] if binding else 0.0,
        "binding_action": binding["action"] if binding else None,
        "kiln_pacer_floor_s": kiln["kiln_seconds"] if kiln else 0.0,
        "kiln_share": KILN_SHARE, "goal_ratio": FLOOR_GOAL,
        "by_action": rows,
        "formula": "per EC2 action: max(0, (calls - burst) / refill) s; buckets are per "
                   "action and drain in parallel, so the floor is the largest; calls are "
                   "the requests of a release without throttling or retries",
    }


# (name, EC2's buckets in the emulator, KILN_AWS_RATE_LIMIT)
CONFIGS = (("throttled", True, None), ("throttled-no-limiter", True, "off"),
           ("unthrottled-no-limiter", False, "off"))
PACED_UNTHROTTLED = ("unthrottled", False, None)


def main(n, repeats, configs):
    fleet = Fleet(n, bake_seconds=2)
    try:
        fleet.converge()
        runs = {name: [] for name, _, _ in configs}
        minor = 0
        for _ in range(repeats):
            for name, throttled, rate_limit in configs:
                minor += 1
                runs[name].append(release(fleet, f"1.{minor}.0", throttled, rate_limit))
                brief = {k: v for k, v in runs[name][-1].items()
                         if "by_action" not in k and k != "timeline"}
                print(f"bench: {name}: {brief}", file=sys.stderr, flush=True)
        # The calls a release needs: the runs that neither throttle nor retry.
        needed = {}
        for r in runs["unthrottled-no-limiter"]:
            for action, count in r["by_action"].items():
                needed[action] = max(needed.get(action, 0), count)
        fl = floor(n, needed)
        print(json.dumps(fl), flush=True)
        for name, _, rate_limit in configs:
            seconds = [r["seconds"] for r in runs[name]]
            print(json.dumps({
                "bench": "throttle", "apps": n, "config": name,
                "rate_limit": rate_limit or "default",
                "seconds": seconds,
                "throttled": [r["throttled"] for r in runs[name]],
                "requests": [r["requests"] for r in runs[name]],
                "floor_s": fl["floor_s"],
                "ratio_to_floor": (round(statistics.median(seconds) / fl["floor_s"], 2)
                                   if fl["floor_s"] else None),
                "by_action": runs[name][-1]["by_action"],
                "throttled_by_action": runs[name][-1]["throttled_by_action"],
                "timeline_s": runs[name][-1]["timeline"],
            }), flush=True)
    finally:
        fleet.close()


if __name__ == "__main__":
    configs = CONFIGS + ((PACED_UNTHROTTLED,) if os.environ.get("THROTTLE_ALL") == "1" else ())
    configs += tuple((f"throttled-share-{share}", True, share)
                     for share in os.environ.get("THROTTLE_SHARES", "").split(",") if share)
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200,
         int(os.environ.get("BENCH_REPEATS", "3")), configs)
