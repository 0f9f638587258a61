"""Benchmark 5: releasing N apps (default 200) while the emulator throttles
at EC2's published bucket rates, against the same release unthrottled.

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
  unthrottled            emulator without buckets, Kiln as shipped
  throttled              emulator with EC2's buckets, Kiln as shipped
  throttled-no-limiter   the same buckets, KILN_AWS_RATE_LIMIT=off (what
                         Kiln's pacing saves: throttled responses, retries)
  unthrottled-no-limiter neither: how fast the emulator itself goes

Prints one JSON object per configuration.
Usage: python3 bench/throttle.py [APPS]
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet import Fleet, git  # noqa: E402

DESCRIBES = ("DescribeImages", "DescribeLaunchTemplates", "DescribeLaunchTemplateVersions",
             "DescribeSubnets", "DescribeSecurityGroups", "DescribeInstances")
MUTATING = ("CreateLaunchTemplate", "ModifyLaunchTemplate", "CreateTags", "DeleteTags",
            "CreateImage", "DeregisterImage")


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


def release(fleet, version, throttled, limiter):
    fleet.emu.clear_faults()
    if throttled:
        fleet.emu.faults(*ec2_buckets())
    bump(fleet, version)
    fleet.emu.reset_requests()
    extra = {} if limiter else {"KILN_AWS_RATE_LIMIT": "off"}
    t0 = time.monotonic()
    r = fleet.kiln("apply", "--repo", fleet.repo, "--wait", "--timeout", "20m",
                   "--interval", "1s", extra_env=extra)
    elapsed = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"release {version} failed:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    log = fleet.emu.requests()["log"]
    return {
        "seconds": round(elapsed, 2),
        "requests": len(log),
        "throttled": sum(1 for e in log if e["fault"] == "throttle"),
        "by_action": count_by(log, "action"),
    }


def count_by(log, key):
    out = {}
    for e in log:
        out[str(e[key])] = out.get(str(e[key]), 0) + 1
    return out


CONFIGS = (("unthrottled", False, True), ("throttled", True, True),
           ("throttled-no-limiter", True, False), ("unthrottled-no-limiter", False, False))


def main(n, repeats):
    fleet = Fleet(n, bake_seconds=2)
    try:
        fleet.converge()
        runs = {name: [] for name, _, _ in CONFIGS}
        minor = 0
        for _ in range(repeats):
            for name, throttled, limiter in CONFIGS:
                minor += 1
                runs[name].append(release(fleet, f"1.{minor}.0", throttled, limiter))
                print(f"bench: {name}: {runs[name][-1]}", file=sys.stderr, flush=True)
        for name, throttled, limiter in CONFIGS:
            print(json.dumps({
                "bench": "throttle", "apps": n, "config": name,
                "seconds": [r["seconds"] for r in runs[name]],
                "throttled": [r["throttled"] for r in runs[name]],
                "requests": [r["requests"] for r in runs[name]],
            }), flush=True)
    finally:
        fleet.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200,
         int(os.environ.get("BENCH_REPEATS", "3")))
