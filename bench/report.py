"""Writes bench/RESULTS.md from the raw outputs of bench/run.

Usage: python3 bench/report.py RESULTS.jsonl SIGV4.txt > bench/RESULTS.md

RESULTS.jsonl holds one JSON object per line, each with a "bench" key:
steady (steady_state.py), resync (resync.py), latency (latency.py),
throttle (throttle.py), idle (idle_daemon.py), loop_lag (loop_lag.py),
fetch_rss (fetch_rss.py). Sections whose benchmark did
not run say so.
"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

# Issue 7's goals.
RESYNC_CPU_GOAL_S = 0.100
RESYNC_RSS_GOAL_MIB = 32
THROTTLE_SLOWDOWN_GOAL = 1.20


def mmm(values, fmt="{:.0f}"):
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def med(values):
    return statistics.median(values)


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def header():
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**30
    return [
        "# Benchmark results\n",
        f"Machine: {os.cpu_count()} × {cpu_model()}, {ram} GiB; {platform.system()} "
        f"{platform.release()}. Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}"
        f" UTC. Commit: {commit}. Reproduce with `bench/run` (issue 7 lists the benchmarks); "
        "every sample is in [results.jsonl](results.jsonl).\n",
        "Figures are min / median / max over repeated runs. AWS is tests/awsemu (moto "
        "plus Kiln's extensions) on this machine, so wall times include the emulator's "
        "own latency (about 10 ms a request, 10 s for a pass over 1000 apps); request "
        "counts and Kiln's CPU and memory do not depend on it.\n",
    ]


def steady_section(rows):
    out = ["## 1. AWS requests per steady-state pass (`kiln plan` on a converged fleet)\n"]
    if not rows:
        return out + ["Not run.\n"]
    out.append("| apps | Kiln's requests | goal (10 + N/50) | per-resource observer (4 per app) "
               "| ratio | by action |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        by = ", ".join(f"{k} {v}" for k, v in sorted(r["requests_by_action"].items()))
        out.append(f"| {r['n']} | {mmm(r['requests'])} | {r['goal']:.0f} | "
                   f"{r['per_resource_observer']} | {r['ratio']}× | {by} |")
    out.append("\nThe per-resource observer is what a Terraform-style refresh does: one "
               "describe per app for each of its SSM parameter, image, launch template and "
               "group.\n")
    return out


def cost_section(rows, resync):
    out = ["## 2. Controller cost of one pass\n"]
    if rows:
        out.append("`kiln plan`, the whole process (start-up, git, parsing every app, "
                   "observing, planning):\n")
        out.append("| apps | CPU time (s) | peak RSS (MiB) | wall (s) |")
        out.append("| --- | --- | --- | --- |")
        for r in rows:
            out.append(f"| {r['n']} | {mmm(r['plan_cpu_s'], '{:.3f}')} | "
                       f"{mmm([k / 1024 for k in r['plan_rss_kib']], '{:.1f}')} | "
                       f"{mmm(r['plan_wall_s'], '{:.2f}')} |")
        out.append("")
    if resync:
        r = resync
        out.append(f"The daemon's resync pass (`kiln run`, {r['apps']} apps, parsed state kept "
                   "between passes; CPU of the pass on the loop thread from "
                   "`kiln_last_pass_cpu_seconds`, memory of the process):\n")
        out.append("| apps | CPU per pass (ms) | goal | RSS (MiB) | peak RSS (MiB) | goal "
                   "| wall (s) | AWS requests |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        out.append(f"| {r['apps']} | {mmm([c * 1000 for c in r['cpu_s']], '{:.0f}')} | "
                   f"< {RESYNC_CPU_GOAL_S * 1000:.0f} | "
                   f"{mmm([k / 1024 for k in r['rss_kib']], '{:.1f}')} | "
                   f"{mmm([k / 1024 for k in r['peak_rss_kib']], '{:.1f}')} | "
                   f"< {RESYNC_RSS_GOAL_MIB} | {mmm(r['wall_s'], '{:.2f}')} | "
                   f"{mmm(r['requests'])} |\n")
    else:
        out.append("The daemon's resync pass: not run.\n")
    return out


LATENCY_TITLES = {
    "hook": "signed `/hooks/github` → first AWS mutation (git smart-HTTP remote, polling off)",
    "poll": "`git push` → first AWS mutation, found by polling",
    "revert": "`git revert` → `StartInstanceRefresh` (`kiln apply`, no bake)",
    "revert-hook": "`git revert` pushed, signed hook → `StartInstanceRefresh` (`kiln run`, "
                   "no bake)",
}


def latency_section(rows):
    out = ["## 3. Latency\n"]
    if not rows:
        return out + ["Not run.\n"]
    out.append("| what | runs | seconds (min / median / max) |")
    out.append("| --- | --- | --- |")
    for r in rows:
        title = LATENCY_TITLES.get(r["kind"], r["kind"])
        if r["kind"] == "poll" and "interval_s" in r:
            title += f" every {r['interval_s']:g} s"
        out.append(f"| {title} | {len(r['samples_s'])} | {mmm(r['samples_s'], '{:.3f}')} |")
    out.append("")
    out += [f"- {r['kind']}: {r['note']}." for r in rows if r.get("note")]
    out.append("")
    return out


def idle_section(rows):
    out = ["## 4. Idle daemon (`kiln run`, everything in sync)\n"]
    if not rows:
        return out + ["Not run.\n"]
    out.append("| apps | measured | CPU per hour (whole run) | CPU per hour by "
               "window (min / median / max) | RSS (MiB) | AWS requests in that time |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        windows = r.get("cpu_s_per_hour_by_window") or [r["cpu_s_per_hour"]]
        out.append(f"| {r['apps']} | {r['seconds']} s | {r['cpu_s_per_hour']:.2f} s | "
                   f"{mmm(windows, '{:.2f}')} s ({r.get('window_s', r['seconds'])} s windows) | "
                   f"{r['rss_kib_min'] / 1024:.1f}–{r['rss_kib_max'] / 1024:.1f} | "
                   f"{r['aws_requests']} |")
    note = rows[0]["note"]
    out.append(f"\n{note[0].upper()}{note[1:]}. The AWS requests are the resync passes' "
               "(one pass over 100 apps is 5 requests); the window ends about when the "
               "second resync runs, so part of it may fall outside.\n")
    return out


THROTTLE_TITLES = {
    "unthrottled": "emulator unthrottled, Kiln as shipped",
    "throttled": "emulator at EC2's buckets, Kiln as shipped",
    "throttled-no-limiter": "emulator at EC2's buckets, `KILN_AWS_RATE_LIMIT=off`",
    "unthrottled-no-limiter": "emulator unthrottled, `KILN_AWS_RATE_LIMIT=off`",
}


def throttle_section(rows):
    out = ["## 5. Releasing many apps under EC2's request buckets\n"]
    if not rows:
        return out + ["Not run.\n"]
    n = rows[0]["apps"]
    out.append(f"Every one of {n} apps (one shared image recipe) bumped in one commit; "
               "`kiln apply --wait` until all are in sync: one bake, then per app a launch "
               "template version made default and the group moved to it (the groups are "
               "scaled to zero, so no instance refresh). The emulator's "
               "buckets are EC2's published ones, per action: Describe* 100 / 20 per s, "
               "CreateLaunchTemplateVersion 100 / 5 per s, other mutating actions 200 / 5 "
               "per s, full at the start of each run.\n")
    out.append("| configuration | runs | time to release (s) | throttled responses | requests |")
    out.append("| --- | --- | --- | --- | --- |")
    by = {r["config"]: r for r in rows}
    for r in rows:
        out.append(f"| {THROTTLE_TITLES.get(r['config'], r['config'])} | {len(r['seconds'])} | "
                   f"{mmm(r['seconds'], '{:.1f}')} | {mmm(r['throttled'])} | "
                   f"{mmm(r['requests'])} |")
    if "unthrottled" in by and "throttled" in by:
        ratio = med(by["throttled"]["seconds"]) / med(by["unthrottled"]["seconds"])
        out.append(f"\nThrottled against unthrottled (medians): {ratio:.2f}× the time "
                   f"(goal ≤ {THROTTLE_SLOWDOWN_GOAL:.2f}×), "
                   f"{med(by['throttled']['throttled']):.0f} throttled responses (goal: near "
                   "zero).")
    # What EC2's bucket allows at best for the action a release needs most of.
    floor = max(0, n - 100) / 5
    own_floor = max(0, n - 80) / 4
    out.append(f"\nEC2's buckets alone allow no faster than {floor:.0f} s for {n} "
               "CreateLaunchTemplateVersion calls. Kiln paces each EC2 action at 80 % of "
               f"its bucket (the rest is left to the other tools of the account): {own_floor:.0f} s "
               "for those calls, the bulk of the figure above. Auto Scaling publishes no limits; "
               "Kiln paces it at a guess that throttled answers would lower. Each group's step "
               "follows its template's in the same pass, so the groups move while the "
               "templates are still being made.")
    if "throttled-no-limiter" in by:
        r = by["throttled-no-limiter"]
        out.append(f"Without its pacing the same release takes {med(r['seconds']):.0f} s "
                   f"but draws {med(r['throttled']):.0f} throttled responses: retries, "
                   "and throttling that every other caller of the account's buckets "
                   "would suffer too.")
    out.append("")
    return out


def sigv4_section(text):
    return ["## 6. SigV4 signing throughput, Kiln vs botocore\n", "```\n" + text + "\n```\n"]


def missed(steady, resync, throttle):
    notes = []
    for r in steady:
        if med(r["requests"]) > r["goal"]:
            notes.append(f"- Requests per pass at {r['n']} apps: {med(r['requests']):.0f}, "
                         f"goal {r['goal']:.0f}.")
    if resync:
        if med(resync["cpu_s"]) > RESYNC_CPU_GOAL_S:
            notes.append(f"- Resync CPU at {resync['apps']} apps: "
                         f"{med(resync['cpu_s']) * 1000:.0f} ms, goal "
                         f"{RESYNC_CPU_GOAL_S * 1000:.0f} ms.")
        if max(resync["peak_rss_kib"]) / 1024 > RESYNC_RSS_GOAL_MIB:
            notes.append(f"- Daemon peak RSS at {resync['apps']} apps: "
                         f"{max(resync['peak_rss_kib']) / 1024:.1f} MiB, goal "
                         f"{RESYNC_RSS_GOAL_MIB} MiB.")
    by = {r["config"]: r for r in throttle}
    if "unthrottled" in by and "throttled" in by:
        ratio = med(by["throttled"]["seconds"]) / med(by["unthrottled"]["seconds"])
        if ratio > THROTTLE_SLOWDOWN_GOAL:
            notes.append(f"- Release under EC2's buckets: {ratio:.2f}× the unthrottled time, "
                         f"goal {THROTTLE_SLOWDOWN_GOAL:.2f}×.")
    out = ["## Goals missed\n"]
    return out + (notes + [""] if notes else ["None in this run.\n"])


def lag_section(rows):
    out = ["## Loop lag: how late a 10 ms timer fires during the daemon's passes\n"]
    if not rows:
        return out + ["Not run.\n"]
    out.append("| build | apps | first pass p99 / max (ms) | resync passes p99 (ms) "
               "| resync passes max (ms) |")
    out.append("| --- | --- | --- | --- | --- |")
    for r in rows:
        out.append(f"| {r.get('label') or 'this commit'} | {r['apps']} | "
                   f"{r['first_p99_ms']:.1f} / {r['first_max_ms']:.1f} | "
                   f"{mmm(r['resync_p99_ms'], '{:.1f}')} | {mmm(r['resync_max_ms'], '{:.1f}')} |")
    out.append("\nThe fleet is converged at one commit, then a commit that changes no app "
               "makes the first pass read the older commit's specs (drift causes); every "
               "pass records history. What remains on the loop's thread is parsing AWS's "
               "answers (a DescribeAutoScalingGroups page of 100 groups is one callback), "
               "which is the loop's own work.\n")
    return out


def fetch_rss_section(rows):
    out = ["## Memory over 1000 fetches\n"]
    if not rows:
        return out + ["Not run.\n"]
    out.append("| apps | fetches | VmRSS every 100 fetches (MiB) | growth after warm-up |")
    out.append("| --- | --- | --- | --- |")
    for r in rows:
        rss = " ".join(f"{kib / 1024:.1f}" for _, kib in r["rss_kib_by_fetches"])
        out.append(f"| {r['apps']} | {r['fetches']} | {rss} | "
                   f"{r['growth_bytes_per_fetch_after_warmup']} bytes a fetch |")
    out.append("\n`kiln run --interval 10ms` against a file:// remote with no new commit "
               "(bench/fetch_rss.py); at the default interval of 1 minute a daemon "
               "fetches 1440 times a day.\n")
    return out


def main(results_path, sigv4_path):
    rows = [json.loads(line) for line in open(results_path) if line.startswith("{")]
    pick = lambda kind: [r for r in rows if r.get("bench") == kind]  # noqa: E731
    steady, throttle = pick("steady"), pick("throttle")
    resync = (pick("resync") or [None])[-1]
    sigv4 = open(sigv4_path).read().strip() if os.path.exists(sigv4_path) else "(not run)"
    out = header()
    out += steady_section(steady)
    out += cost_section(steady, resync)
    out += latency_section(pick("latency"))
    out += idle_section(pick("idle"))
    out += throttle_section(throttle)
    out += sigv4_section(sigv4)
    out += lag_section(pick("loop_lag"))
    out += fetch_rss_section(pick("fetch_rss"))
    out += missed(steady, resync, throttle)
    print("\n".join(out))


if __name__ == "__main__":
    main(*sys.argv[1:3])
