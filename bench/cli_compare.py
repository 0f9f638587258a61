"""Issue 19: Kiln's drift check against the one a user writes with the AWS
CLI (bench/cli_drift.sh), on the same converged fleet of N apps and the same
emulator.

For each N: a fleet of N converged apps with a past (make_fleet: bench/
fleet_gen.py, one past release per app, the foreign templates and AMIs, no
refresh in flight, so that both checks must find it in sync); `kiln plan` and
bench/cli_drift.sh each run against it, the emulator's request accounting
reset before each, and for each the AWS requests (the emulator's count),
the wall time and the CPU time of the processes (Kiln; the shell, xargs and
every `aws` process). Both must find the fleet in sync. The CLI's desired
state (a file of "APP AMI" lines) is taken from one `kiln plan --format json`
beforehand, which is not measured.

The CLI starts one Python process per call, three per app. When checking
the first CLI_PROBE_APPS apps one after the other says that all N would take
more than CLI_SEQUENTIAL_LIMIT_S, the measured run checks CLI_PARALLEL apps
at once (xargs -P, as a user would); the output says which, and the
estimate. CLI_PARALLEL=1 forces one at a time, CLI_PARALLEL=K always K.

After the measurements, one app's group is moved out of band to another
launch template version, and both checks must report that app and no other
(a comparison of two checks that see nothing would prove nothing).

The AWS CLI is v1 from PyPI, pinned (AWSCLI_VERSION), in its own venv under
$XDG_CACHE_HOME/kiln-bench (default ~/.cache/kiln-bench), made when missing:
awscli pins its own botocore, which tests/requirements.txt's does not match.

CLI_BESIDE names what else ran on the machine meanwhile (bench/run runs
the 1,000-app comparison beside the release benchmark, which mostly waits
on EC2's buckets): it goes into the output, and the report says it.

Prints one JSON object per N. Usage: python3 bench/cli_compare.py [SIZES]
(default 100,1000); BENCH_REPEATS (default 3) runs of kiln plan per N, the
CLI once (CLI_REPEATS).
"""
import json
import os
import pathlib
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet_gen import GeneratedFleet, kiln_bin  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
AWSCLI_VERSION = "1.46.2"
CLI_PROBE_APPS = 20
CLI_SEQUENTIAL_LIMIT_S = 300
CLI_DEFAULT_PARALLEL = 4
CLI_SEQUENTIAL_MAX_APPS = 200


def make_fleet(n):
    """A fleet of n converged apps, each with a launch template and a group
    named after it, one past release each, and the foreign templates and
    AMIs. The one place that says which fleet is measured."""
    return GeneratedFleet(n, 1, foreign=True, rolling=set())


def awscli():
    """The pinned AWS CLI's `aws`, installing it into its venv first when
    missing."""
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    venv = cache / "kiln-bench" / "awscli-venv"
    aws = venv / "bin" / "aws"
    stamp = venv / f"awscli-{AWSCLI_VERSION}"
    if not stamp.exists():
        print(f"bench: installing awscli {AWSCLI_VERSION} into {venv}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"awscli=={AWSCLI_VERSION}"],
                       check=True)
        stamp.touch()
    return str(aws)


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(fleet, argv, env):
    """Runs argv with the emulator's accounting reset first: (completed
    process, wall s, CPU s of it and its children, requests by action)."""
    fleet.emu.reset_requests()
    cpu0, t0 = children_cpu_s(), time.monotonic()
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=7200)
    wall, cpu = time.monotonic() - t0, children_cpu_s() - cpu0
    return r, wall, cpu, fleet.emu.counts()


def desired_state(fleet, path):
    """Writes the CLI's desired state from Kiln's plan: per app, the name of
    its template and group, and the AMI it should run."""
    r = fleet.kiln("plan", "--repo", fleet.repo, "--format", "json")
    if r.returncode != 0:
        raise RuntimeError(f"kiln plan of the converged fleet exited {r.returncode}:\n"
                           f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    apps = json.loads(r.stdout)["apps"]
    lines = []
    for a in apps:
        name = a["app"] if a.get("environment") is None else f"{a['app']}-{a['environment']}"
        lines.append(f"{name} {a['ami']}\n")
    path.write_text("".join(lines))
    return [line.split()[0] for line in lines]


def cli_env(fleet, aws, parallel):
    return {**fleet.env, "AWS": aws, "CLI_PARALLEL": str(parallel)}


def run_cli(fleet, aws, desired, parallel):
    r, wall, cpu, counts = timed(fleet, [str(HERE / "cli_drift.sh"), str(desired)],
                                 cli_env(fleet, aws, parallel))
    return r, round(wall, 2), round(cpu, 2), counts


def choose_parallel(fleet, aws, desired, n):
    """(parallelism, estimated seconds one app at a time, apps probed). Up
    to CLI_SEQUENTIAL_MAX_APPS apps one at a time stays under the limit
    (three calls of about half a second each per app): no probe."""
    forced = os.environ.get("CLI_PARALLEL")
    if n <= CLI_SEQUENTIAL_MAX_APPS and not forced:
        return 1, None, 0
    probe = fleet.dir / "probe.txt"
    lines = desired.read_text().splitlines(keepends=True)[:CLI_PROBE_APPS]
    probe.write_text("".join(lines))
    r, wall, _, _ = run_cli(fleet, aws, probe, 1)
    if r.returncode != 0:
        raise RuntimeError(f"cli_drift.sh on a converged fleet exited {r.returncode}:\n"
                           f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    estimate = round(wall * n / len(lines), 1)
    if forced:
        return int(forced), estimate, len(lines)
    return (1 if estimate <= CLI_SEQUENTIAL_LIMIT_S else CLI_DEFAULT_PARALLEL), estimate, len(lines)


def make_drift(fleet, app):
    """Moves app's group out of band to a new version of its template (same
    data): the group is no longer on the default version."""
    ec2 = fleet.emu.client("ec2")
    v = ec2.create_launch_template_version(LaunchTemplateName=app, SourceVersion="$Default",
                                           LaunchTemplateData={"InstanceType": "t3.micro"})
    number = v["LaunchTemplateVersion"]["VersionNumber"]
    fleet.emu.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=app,
        LaunchTemplate={"LaunchTemplateName": app, "Version": str(number)})


def check_both_see_drift(fleet, aws, desired, names):
    """Both checks report the app drifted out of band, and only it."""
    drifted, other = names[0], names[-1]
    make_drift(fleet, drifted)
    r = fleet.kiln("plan", "--repo", fleet.repo, "--format", "json")
    kiln_drifted = sorted(a["name"] for a in json.loads(r.stdout)["apps"]
                          if a["status"] != "in-sync")
    if r.returncode != 2 or kiln_drifted != [drifted]:
        raise RuntimeError(f"kiln plan after drift of {drifted}: exit {r.returncode}, "
                           f"not in sync: {kiln_drifted}")
    pair = fleet.dir / "pair.txt"
    pair.write_text("".join(line + "\n" for line in desired.read_text().splitlines()
                            if line.split()[0] in (drifted, other)))
    c, _, _, _ = run_cli(fleet, aws, pair, 1)
    lines = c.stdout.splitlines()
    if c.returncode != 2 or [line.split()[0] for line in lines] != [drifted]:
        raise RuntimeError(f"cli_drift.sh after drift of {drifted}: exit {c.returncode}, "
                           f"{c.stdout!r} {c.stderr[-1000:]!r}")
    return lines


def main(sizes, repeats, cli_repeats):
    aws = awscli()
    for n in sizes:
        t0 = time.monotonic()
        fleet = make_fleet(n)
        try:
            setup_s = time.monotonic() - t0
            desired = fleet.dir / "desired.txt"
            names = desired_state(fleet, desired)
            kiln = {"requests": [], "seconds": [], "cpu_s": []}
            for _ in range(repeats):
                r, wall, cpu, counts = timed(fleet, [kiln_bin(), "plan", "--repo",
                                                     str(fleet.repo)], fleet.env)
                if r.returncode != 0:
                    raise RuntimeError(f"kiln plan exited {r.returncode} on a converged fleet")
                kiln["requests"].append(sum(counts.values()))
                kiln["seconds"].append(round(wall, 2))
                kiln["cpu_s"].append(round(cpu, 2))
                kiln["by_action"] = counts
            parallel, estimate, probed = choose_parallel(fleet, aws, desired, n)
            if estimate is not None:
                print(f"bench: cli at {n} apps: {estimate:.0f} s estimated one app at a time, "
                      f"running {parallel} at once", file=sys.stderr, flush=True)
            cli = {"requests": [], "seconds": [], "cpu_s": []}
            for _ in range(cli_repeats):
                r, wall, cpu, counts = run_cli(fleet, aws, desired, parallel)
                if r.returncode != 0:
                    raise RuntimeError(f"cli_drift.sh exited {r.returncode} on a converged "
                                       f"fleet:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
                cli["requests"].append(sum(counts.values()))
                cli["seconds"].append(wall)
                cli["cpu_s"].append(cpu)
                cli["by_action"] = counts
                print(f"bench: cli at {n} apps: {wall} s, {sum(counts.values())} requests",
                      file=sys.stderr, flush=True)
            cli.update({"processes": 3 * n, "parallel": parallel,
                        "sequential_estimate_s": estimate,
                        "probed_apps": probed, "awscli": AWSCLI_VERSION})
            drift_lines = check_both_see_drift(fleet, aws, desired, names)
            med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
            beside = os.environ.get("CLI_BESIDE")
            print(json.dumps({
                **({"beside": beside} if beside else {}),
                "bench": "cli_compare", "apps": n, "setup_s": round(setup_s, 1),
                "kiln": kiln, "cli": cli,
                "ratio_requests": round(med(cli["requests"]) / med(kiln["requests"]), 1),
                "ratio_seconds": round(med(cli["seconds"]) / med(kiln["seconds"]), 1),
                "drift_check": drift_lines,
                "note": (f"the CLI checked {parallel} apps at once (xargs -P {parallel}); "
                         f"one at a time was estimated at {estimate:.0f} s from "
                         f"{probed} apps" if parallel > 1 else
                         "the CLI checked one app after the other"),
            }), flush=True)
        finally:
            fleet.close()


if __name__ == "__main__":
    main([int(x) for x in (sys.argv[1] if len(sys.argv) > 1 else "100,1000").split(",")],
         int(os.environ.get("BENCH_REPEATS", "3")), int(os.environ.get("CLI_REPEATS", "1")))
