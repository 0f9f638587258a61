"""Writes bench/RESULTS.md from the raw outputs of bench/run."""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys


def mmm(values, fmt="{:.0f}"):
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(steady_path, sigv4_path, idle_path=None):
    rows = [json.loads(l) for l in open(steady_path) if l.startswith("{")]
    sigv4 = open(sigv4_path).read().strip() if os.path.exists(sigv4_path) else "(not run)"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    out = []
    out.append("# Benchmark results\n")
    out.append(f"Machine: {os.cpu_count()} × {cpu_model()}, "
               f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 2**30} GiB; "
               f"{platform.system()} {platform.release()}. Date: "
               f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. "
               f"Commit: {commit}. Reproduce with `bench/run`.\n")
    out.append("Figures are min / median / max over the repeated runs. AWS is "
               "tests/awsemu (moto plus Kiln's extensions) on this machine, so "
               "wall times include the emulator's own latency; request counts "
               "and Kiln's CPU and memory do not depend on it.\n")
    out.append("## 1. AWS requests per steady-state pass (`kiln plan` on a converged fleet)\n")
    out.append("| apps | Kiln's requests | goal (10 + N/50) | per-resource observer (4 per app) | ratio | by action |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        by = ", ".join(f"{k} {v}" for k, v in sorted(r["requests_by_action"].items()))
        out.append(f"| {r['n']} | {mmm(r['requests'])} | {r['goal']:.0f} | {r['per_resource_observer']} "
                   f"| {r['ratio']}× | {by} |")
    out.append("\nThe per-resource observer is what a Terraform-style refresh does: "
               "one describe per app for each of its SSM parameter, image, launch "
               "template and group.\n")
    out.append("## 2. Controller cost of one pass (`kiln plan`, whole process)\n")
    out.append("| apps | CPU time (s) | peak RSS (MiB) | wall (s) |")
    out.append("| --- | --- | --- | --- |")
    for r in rows:
        out.append(f"| {r['n']} | {mmm(r['plan_cpu_s'], '{:.2f}')} | "
                   f"{mmm([k / 1024 for k in r['plan_rss_kib']], '{:.1f}')} | "
                   f"{mmm(r['plan_wall_s'], '{:.2f}')} |")
    out.append("\nThis is the whole `kiln plan` process: start-up, git, parsing "
               "every app, observing and planning. The goal of issue 7 (under 100 ms "
               "of CPU and 32 MB at 1000 apps) is for the daemon's resync pass, "
               "which keeps the parsed snapshot between passes; the daemon does "
               "not exist yet, so the process figure stands in for it.\n")
    out.append("## 6. SigV4 signing throughput, Kiln vs botocore\n")
    out.append("```\n" + sigv4 + "\n```\n")
    if idle_path and os.path.exists(idle_path):
        for line in open(idle_path):
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            out.append("## 4. Idle daemon (`kiln run`, everything in sync)\n")
            out.append("| apps | measured | CPU per hour | RSS (MiB) | AWS requests in that time |")
            out.append("| --- | --- | --- | --- | --- |")
            out.append(f"| {r['apps']} | {r['seconds']} s | {r['cpu_s_per_hour']} s | "
                       f"{r['rss_kib_min'] / 1024:.1f}–{r['rss_kib_max'] / 1024:.1f} | "
                       f"{r['aws_requests']} |\n")
            out.append(f"Settings: {r['note']}.\n")
    out.append("Benchmarks 3 (latencies, here only from the e2e tests: hook to first "
               "mutation 30-53 ms, revert to StartInstanceRefresh 0.35 s) and 5 "
               "(throttling at EC2's bucket rates) are not automated yet.\n")
    print("\n".join(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
