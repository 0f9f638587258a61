"""Writes bench/RESULTS.md from the raw outputs of bench/run.

Usage: python3 bench/report.py RESULTS.jsonl SIGV4.txt [OLD_RESULTS.md] > NEW.md

What follows the KEPT line in OLD_RESULTS.md (measurements made by hand,
and what bounds the figures) is kept at the end of the new report.

RESULTS.jsonl holds one JSON object per line, each with a "bench" key:
scale (scale.py), cli_compare (cli_compare.py), latency (latency.py),
scale_growth (scale.py: a smaller fleet's passes before and after a larger
one's), throttle and throttle_floor (throttle.py), idle (idle_daemon.py),
fetch_rss (fetch_rss.py). Sections whose benchmark did not run say so.
"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

# Issue 19's goals: a daemon pass's CPU (all its work) at 1,000 apps,
# growing no faster than linearly; its RSS at 1,000 and 10,000 apps; the
# loop's lag p99 during a pass; a release within this many times the floor
# EC2's buckets allow.
PASS_CPU_GOAL_MS = {1000: 50}
RSS_GOAL_MIB = {1000: 32, 10000: 120}
LAG_P99_GOAL_MS = 5
THROTTLE_FLOOR_GOAL = 1.25


def mmm(values, fmt="{:.0f}"):
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def runs(values, fmt="{:.0f}"):
    """min / median / max, or the one value of a single run."""
    return fmt.format(values[0]) if len(values) == 1 else mmm(values, fmt)


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
        f" UTC. Commit: {commit}. Reproduce with `bench/run` (its head lists the benchmarks); "
        "every sample is in [results.jsonl](results.jsonl).\n",
        "Figures are min / median / max over repeated runs. AWS is tests/awsemu (moto "
        "plus Kiln's extensions) on this machine, so wall times include the emulator's "
        "own latency (moto: about 10 ms a request, more in a region holding more); request "
        "counts and Kiln's CPU and memory do not depend on it. Every figure names the "
        "fleet and the number of apps it was measured on.\n",
    ]


def fleet_label(r):
    return (f"{r['n']} apps, H={r['history']}" + (", foreign" if r["foreign"] else "")
            + f", {r['rolling']} mid-release")


def scale_intro():
    return ["Fleets made by bench/fleet_gen.py in the emulator, as Kiln would have left "
            "them: a digest per app, image parents over 5 SSM parameters, H past releases per "
            "app (Kiln's AMIs with snapshots and old template versions), groups of 1–2 "
            "instances, one app in twenty mid-release (a refresh paused at a 50 % checkpoint "
            "for an hour), and with \"foreign\" 500 launch templates and 2,000 AMIs in the "
            "region that are not Kiln's.\n"]


def requests_section(rows):
    out = ["## 1. AWS requests per steady-state pass (`kiln run`, warm)\n"]
    if not rows:
        return out + ["Not run.\n"]
    out += scale_intro()
    out.append("A pass of the daemon once an earlier one has read the templates' default "
               "versions and seen the paused refreshes (each pass still asks four of those "
               "again, the longest unasked first, and any seen more than 10–20 minutes ago). "
               "The emulator's request accounting, reset between passes.\n")
    out.append("| fleet | requests per pass | goal (10 + N/50) | by action (last pass) |")
    out.append("| --- | --- | --- | --- |")
    for r in rows:
        d = r["daemon"]
        by = ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(d["by_action"].items()))
        out.append(f"| {fleet_label(r)} | {runs(d['requests'])} | {r['goal_requests']:.0f} | "
                   f"{by} |")
    out.append("")
    out.append("`kiln plan --app` of one app, and `kiln plan` from a fresh process (nothing "
               "remembered: every paused refresh and its activities asked, every default "
               "version listed):\n")
    out.append("| fleet | `plan --app` requests | `plan` requests | `plan` CPU (s) "
               "| `plan` peak RSS (MiB) | `plan` wall (s) |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        p = r.get("plan")
        if p is None:
            out.append(f"| {fleet_label(r)} | {r['plan_app']['requests']} | not run | | | |")
            continue
        out.append(f"| {fleet_label(r)} | {r['plan_app']['requests']} | {runs(p['requests'])} "
                   f"| {runs(p['cpu_s'], '{:.2f}')} | "
                   f"{runs([k / 1024 for k in p['peak_rss_kib']], '{:.0f}')} | "
                   f"{runs(p['wall_s'], '{:.1f}')} |")
    out.append("")
    return out


def growths(scale, bracketed):
    """(smaller row, larger row, the pass's CPU growth, how it was measured)
    for the fleets that differ only in N: from the smaller fleet's passes
    run before and after the larger's (scale_growth) where they were."""
    out = []
    for small, large in growth_pairs(scale):
        spec = lambda r: f"{r['n']}:{r['history']}:{int(r['foreign'])}"  # noqa: E731
        b = [g for g in bracketed if g["small"] == spec(small) and g["large"] == spec(large)]
        if b:
            g = b[-1]
            around = g["small_before_process_cpu_s"] + g["small_after_process_cpu_s"]
            f = med(g["large_process_cpu_s"]) / med(around)
            how = (f"the {small['n']}-app passes measured just before and just after the "
                   f"{large['n']}-app ones (medians {med(g['small_before_process_cpu_s']) * 1000:.1f} "
                   f"and {med(g['small_after_process_cpu_s']) * 1000:.1f} ms)")
        else:
            f = med(large["daemon"]["process_cpu_s"]) / med(small["daemon"]["process_cpu_s"])
            how = "each fleet's own passes, measured minutes apart"
        out.append((small, large, f, how))
    return out


def pass_section(rows, bracketed=()):
    out = ["## 2. What a daemon pass costs Kiln\n"]
    if not rows:
        return out + ["Not run.\n"]
    out.append("The same warm passes: CPU on the loop's thread "
               "(`kiln_last_pass_cpu_seconds`) and of the whole process, every thread, from "
               "the pass's start to its history written (`kiln_last_pass_process_cpu_seconds`: "
               "observe, plan, history, the status model); RSS after the pass (the daemon "
               "gives a pass's memory back when it ends), its peak during the pass (VmHWM, "
               "reset by /proc/PID/clear_refs before the pass) and the process's peak since "
               "it started (its first, cold pass: every default version and refresh read); how late a "
               "10 ms timer re-armed each time it fires would have run during the pass (from the "
               "stretches the loop was busy: controller/loop_lag.h); the pass's wall time, which is mostly the "
               "emulator answering (moto, ~10 ms a request and slower with more resources: "
               "not Kiln's).\n")
    out.append("| fleet | loop CPU (ms) | process CPU (ms) | goal | RSS after (MiB) "
               "| RSS peak in the pass (MiB) | process peak (MiB) | goal | lag p99 (ms), goal ≤ 5 "
               "| lag max (ms) | wall (s) |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        d = r["daemon"]
        cpu_goal = PASS_CPU_GOAL_MS.get(r["n"])
        rss_goal = RSS_GOAL_MIB.get(r["n"])
        out.append(
            f"| {fleet_label(r)} | {runs([c * 1000 for c in d['cpu_s']])} | "
            f"{runs([c * 1000 for c in d['process_cpu_s']])} | "
            f"{f'≤ {cpu_goal}' if cpu_goal else 'linear'} | "
            f"{runs([k / 1024 for k in d['rss_kib']])} | "
            f"{runs([k / 1024 for k in d['pass_peak_rss_kib']]) if 'pass_peak_rss_kib' in d else '–'} | "
            f"{runs([k / 1024 for k in d['peak_rss_kib']])} | "
            f"{f'≤ {rss_goal}' if rss_goal else '–'} | "
            f"{runs([x * 1000 for x in d['lag_p99_s']], '{:.1f}')} | "
            f"{max(d['lag_max_s']) * 1000:.1f} | "
            f"{runs(d['wall_s'], '{:.1f}')} |")
    out.append("")
    split = [r for r in rows if "rss_anon_kib" in r["daemon"]]
    if split:
        out.append("RSS after a pass, split (`/proc/PID/status`): Kiln's own memory (RssAnon) "
                   "and mapped files (RssFile: the pages of libcrypto, libc, SQLite, libgit2, "
                   "libxml2, libcurl and what they pull in, shared with every other process "
                   "using them): " + "; ".join(
                       f"{fleet_label(r)}: {med(r['daemon']['rss_anon_kib']) / 1024:.1f} + "
                       f"{med(r['daemon']['rss_file_kib']) / 1024:.1f} MiB" for r in split) + ".")
        out.append("")
    for small, large, f, how in growths(rows, bracketed):
        out.append(f"From {small['n']} to {large['n']} apps (H={small['history']}, "
                   f"{'foreign' if small['foreign'] else 'no foreign'}) the pass's process CPU "
                   f"grows {f:.1f}× for {large['n'] / small['n']:.0f}× the apps, by the medians "
                   f"of {how}.")
    out.append("")
    return out


def growth_pairs(rows):
    """(smaller, larger) fleets that differ only in N."""
    out = []
    for a in rows:
        for b in rows:
            if (a["n"] < b["n"] and a["history"] == b["history"]
                    and a["foreign"] == b["foreign"]):
                out.append((a, b))
    return out


def cli_section(rows):
    out = ["## 1b. The same drift check written with the AWS CLI\n"]
    if not rows:
        return out + ["Not run.\n"]
    out.append("`kiln plan` and `bench/cli_drift.sh` (per app: `aws autoscaling "
               "describe-auto-scaling-groups`, `aws ec2 describe-launch-template-versions "
               "--versions '$Default'`, `aws ec2 describe-images` of that version's AMI; the "
               "AMI and the group's version compared with the desired state) on the same "
               "converged fleet (bench/fleet_gen.py: one past release per app, the foreign "
               "templates and AMIs, nothing mid-release) and emulator, request accounting "
               "reset between them. CPU is "
               "the processes' own (Kiln; the shell, xargs and every `aws`).\n")
    out.append("| apps | Kiln's requests | Kiln wall (s) | Kiln CPU (s) | CLI requests "
               "| CLI wall (s) | CLI CPU (s) | CLI processes | ratio (requests) "
               "| ratio (wall) |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        k, c = r["kiln"], r["cli"]
        at_once = (f", {c['parallel']} at once" if c.get("parallel", 1) > 1
                   else ", one at a time")
        out.append(f"| {r['apps']} | {runs(k['requests'])} | {runs(k['seconds'], '{:.2f}')} | "
                   f"{mmm(k['cpu_s'], '{:.2f}')} | {runs(c['requests'])} | "
                   f"{runs(c['seconds'], '{:.0f}')} | {runs(c['cpu_s'], '{:.0f}')} | "
                   f"{c['processes']}{at_once} | {r['ratio_requests']}× | "
                   f"{r['ratio_seconds']}× |")
    out.append("")
    cli = rows[0]["cli"]
    out.append(f"Kiln: {len(rows[0]['kiln']['seconds'])} runs of `kiln plan` per size "
               f"(min / median / max), the CLI {len(cli['seconds'])}. "
               f"AWS CLI {cli.get('awscli', '?')} (v1, from PyPI, in its own venv). Both checks "
               "must find the fleet in sync; then one app's group is moved out of band to "
               "another template version and both must report that app alone "
               f"(the CLI: `{rows[0]['drift_check'][0]}`).")
    out += [f"- {r['apps']} apps: {r['note']}." for r in rows if r.get("note")]
    out += [f"- {r['apps']} apps: ran beside {r['beside']}, so both checks' wall times include "
            "sharing the 2 cores with it (the CPU times are each process's own)."
            for r in rows if r.get("beside")]
    out.append("")
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
    out.append("| apps | measured | clock | CPU per hour (whole run) | CPU per hour by "
               "window (min / median / max) | RSS (MiB) | AWS requests in that time |")
    out.append("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if "cpu_ms_per_hour" in r:
            whole, windows = r["cpu_ms_per_hour"], r["cpu_ms_per_hour_by_window"] or [
                r["cpu_ms_per_hour"]]
            clock = "schedstat (ns), all threads"
        else:  # before issue 19: clock ticks, in seconds
            whole = r["cpu_s_per_hour"] * 1000
            windows = [w * 1000 for w in r.get("cpu_s_per_hour_by_window")
                       or [r["cpu_s_per_hour"]]]
            clock = "ticks (10 ms)"
        window_s = r.get("window_s", r["seconds"])
        out.append(f"| {r['apps']} | {r['seconds']} s | {clock} | {whole:.0f} ms | "
                   f"{mmm(windows, '{:.0f}')} ms ({window_s:g} s windows) | "
                   f"{r['rss_kib_min'] / 1024:.1f}–{r['rss_kib_max'] / 1024:.1f} | "
                   f"{r['aws_requests']} |")
    note = rows[0]["note"]
    out.append(f"\n{note[0].upper()}{note[1:]}. The AWS requests are the resync passes' "
               "(one pass over 100 apps is 5 requests); the window ends about when the "
               "second resync runs, so part of it may fall outside. A window holds fetches, "
               "and some a resync: hence the spread between windows.")
    for r in rows:
        if "cpu_ms_per_hour" in r:
            out.append(f"With the scheduler's clock ({r['apps']} apps): {r['cpu_ms']:.1f} ms of "
                       f"CPU in {r['seconds']} s over at most {r['threads_max']} threads "
                       f"({r['main_thread_cpu_ms']:.1f} ms on the main thread, "
                       f"{r['threads_ended']} threads ended meanwhile); clock ticks said "
                       f"{r['ticks_cpu_s'] * 1000:.0f} ms.")
    out.append("")
    return out


THROTTLE_TITLES = {
    "throttled": "EC2's buckets, Kiln as shipped (its pacer on)",
    "throttled-no-limiter": "EC2's buckets, `KILN_AWS_RATE_LIMIT=off`",
    "unthrottled-no-limiter": "no buckets, `KILN_AWS_RATE_LIMIT=off` (the emulator's own floor)",
    "unthrottled": "no buckets, Kiln as shipped (the pacer's cost alone)",
}


def throttle_title(config):
    if config.startswith("throttled-share-"):
        share = config[len("throttled-share-"):]
        return f"EC2's buckets, `KILN_AWS_RATE_LIMIT={share}` (the pacer at {share} of each)"
    return THROTTLE_TITLES.get(config, config)


def floor_ratio(r, floor):
    if floor and floor.get("floor_s"):
        return f"{med(r['seconds']) / floor['floor_s']:.2f}×"
    return "–"


def floor_binding(floor):
    return next(a for a in floor["by_action"] if a["action"] == floor["binding_action"])


def floor_calls(floor):
    return floor_binding(floor)["calls"]


def floor_burst(floor):
    return floor_binding(floor)["burst"]


def floor_refill(floor):
    return floor_binding(floor)["refill_per_s"]


def throttle_floor_lines(n, floor, by):
    out = [f"The floor EC2's buckets allow for this release of {n} apps: per bucketed EC2 "
           "action, with the calls the release makes of it (the runs without buckets or "
           "pacing, which retry nothing), seconds = max(0, (calls − burst) / refill); the "
           "buckets are per action and drain in parallel, so the floor is the largest. "
           "Kiln's pacer keeps buckets of its own at "
           f"{floor['kiln_share'] * 100:.0f} % of each (aws/ratelimit.c), whose floor is "
           "the same sum over its buckets.\n"]
    out.append("| EC2 action | calls | burst | refill per s | floor at EC2's buckets (s) "
               f"| floor at Kiln's {floor['kiln_share'] * 100:.0f} % (s) |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    for a in floor["by_action"]:
        out.append(f"| {a['action']} | {a['calls']} | {a['burst']} | {a['refill_per_s']} | "
                   f"{a['seconds']:.1f} | {a['kiln_seconds']:.1f} |")
    goal = floor["goal_ratio"] * floor["floor_s"]
    out.append(f"\nFloor: {floor['floor_s']:.1f} s ({floor['binding_action']}); goal: the "
               f"release within {floor['goal_ratio']:.2f}× that, {goal:.0f} s, with no "
               "throttled response. Kiln's pacer alone cannot go faster than "
               f"{floor['kiln_pacer_floor_s']:.1f} s "
               f"({floor['kiln_pacer_floor_s'] / floor['floor_s']:.2f}× the floor)."
               if floor["floor_s"] else
               f"\nFloor: 0 s (no bucketed action is called more than its burst).")
    if "throttled" in by and floor["floor_s"]:
        r = by["throttled"]
        ratio = med(r["seconds"]) / floor["floor_s"]
        verdict = ("met" if ratio <= floor["goal_ratio"] and max(r["throttled"]) == 0 else
                   f"missed by {(ratio / floor['goal_ratio'] - 1) * 100:.0f} %"
                   if ratio > floor["goal_ratio"] else "missed: throttled responses")
        out.append(f"Kiln as shipped: {med(r['seconds']):.1f} s, {ratio:.2f}× the floor, "
                   f"{med(r['throttled']):.0f} throttled responses: goal {verdict}.")
    action = f"ec2:{floor['binding_action']}"
    for r in by.values():
        span = r.get("timeline_s", {}).get(action)
        if span and r["config"] != "unthrottled-no-limiter":
            out.append(f"{throttle_title(r['config'])}: the first {floor['binding_action']} "
                       f"at {span[0]:.1f} s (after the bake), the last at {span[1]:.1f} s: "
                       f"{span[1] - span[0]:.1f} s for "
                       f"{r['by_action'].get(action, 0)} requests; the release ended at "
                       f"{med(r['seconds']):.1f} s.")
    for r in by.values():
        if r["config"].startswith("throttled-share-") and floor["floor_s"]:
            share = float(r["config"][len("throttled-share-"):])
            pacer = max(0.0, (floor_calls(floor) - floor_burst(floor) * share)
                        / (floor_refill(floor) * share))
            out.append(f"With `KILN_AWS_RATE_LIMIT={share:g}` (a user's setting, no change "
                       f"to Kiln) the pacer's floor is {pacer:.1f} s, and the release took "
                       f"{med(r['seconds']):.1f} s, {floor_ratio(r, floor)} the floor, with "
                       f"{med(r['throttled']):.0f} throttled responses.")
    if "throttled-no-limiter" in by:
        r = by["throttled-no-limiter"]
        out.append(f"Without its pacing the same release takes {med(r['seconds']):.1f} s "
                   f"({floor_ratio(r, floor)} the floor) but draws "
                   f"{med(r['throttled']):.0f} throttled responses: retries, and throttling "
                   "that every other caller of the account's buckets would suffer too.")
    out.append("")
    return out


def throttle_section(rows, floors):
    out = ["## 5. Releasing many apps under EC2's request buckets\n"]
    if not rows:
        return out + ["Not run.\n"]
    out.append("Every app (one shared image recipe) bumped in one commit; "
               "`kiln apply --wait` until all are in sync: one bake, then per app a launch "
               "template version made default and the group moved to it (the groups are "
               "scaled to zero, so no instance refresh). The emulator's "
               "buckets are EC2's published ones, per action: Describe* 100 / 20 per s, "
               "CreateLaunchTemplateVersion 100 / 5 per s, other mutating actions 200 / 5 "
               "per s, full at the start of each run.\n")
    floor_of = {f["apps"]: f for f in floors}
    for n in sorted({r["apps"] for r in rows}):
        group = [r for r in rows if r["apps"] == n]
        by = {r["config"]: r for r in group}
        floor = floor_of.get(n)
        out.append(f"### {n} apps\n")
        out.append("| configuration | runs | time to release (s) | throttled responses "
                   "| requests | time / floor |")
        out.append("| --- | --- | --- | --- | --- | --- |")
        for r in group:
            out.append(f"| {throttle_title(r['config'])} | "
                       f"{len(r['seconds'])} | {runs(r['seconds'], '{:.1f}')} | "
                       f"{runs(r['throttled'])} | {runs(r['requests'])} | "
                       f"{floor_ratio(r, floor)} |")
        out.append("")
        if floor:
            out += throttle_floor_lines(n, floor, by)
    return out


def sigv4_section(text):
    return ["## 6. SigV4 signing throughput, Kiln vs botocore\n", "```\n" + text + "\n```\n"]


def missed(scale, throttle, floors, bracketed=()):
    notes = []
    for r in scale:
        d, label = r["daemon"], fleet_label(r)
        if med(d["requests"]) > r["goal_requests"]:
            notes.append(f"- Requests per pass ({label}): {med(d['requests']):.0f}, goal "
                         f"{r['goal_requests']:.0f}.")
        goal = PASS_CPU_GOAL_MS.get(r["n"])
        cpu = med(d["process_cpu_s"]) * 1000
        if goal and cpu > goal:
            notes.append(f"- A pass's CPU ({label}): {cpu:.0f} ms, goal {goal} ms "
                         f"({cpu / goal:.1f}×).")
        goal = RSS_GOAL_MIB.get(r["n"])
        peak = max(d["peak_rss_kib"]) / 1024
        pass_peak = max(d.get("pass_peak_rss_kib", d["peak_rss_kib"])) / 1024
        after = med(d["rss_kib"]) / 1024
        if goal and peak > goal:
            notes.append(f"- RSS ({label}): {after:.0f} MiB after a warm pass, {pass_peak:.0f} MiB "
                         f"at its peak, {peak:.0f} MiB at the process's peak (its cold first "
                         f"pass), goal {goal} MiB.")
        lag = med(d["lag_p99_s"]) * 1000
        if lag > LAG_P99_GOAL_MS:
            notes.append(f"- Loop lag p99 during a pass ({label}): {lag:.1f} ms, goal "
                         f"{LAG_P99_GOAL_MS} ms.")
    for small, large, f, _ in growths(scale, bracketed):
        if f > large["n"] / small["n"] * 1.1:
            notes.append(f"- A pass's CPU grows {f:.1f}× from {small['n']} to {large['n']} apps, "
                         f"faster than linearly ({large['n'] / small['n']:.0f}×).")
    floor_of = {f["apps"]: f for f in floors}
    for n in sorted({r["apps"] for r in throttle}):
        by = {r["config"]: r for r in throttle if r["apps"] == n}
        floor = floor_of.get(n)
        if "throttled" in by and floor and floor["floor_s"]:
            r = by["throttled"]
            ratio = med(r["seconds"]) / floor["floor_s"]
            if ratio > THROTTLE_FLOOR_GOAL or max(r["throttled"]) > 0:
                notes.append(f"- Release of {n} apps under EC2's buckets: {ratio:.2f}× the "
                             f"floor the buckets allow ({floor['floor_s']:.0f} s), goal "
                             f"{THROTTLE_FLOOR_GOAL:.2f}×; {max(r['throttled'])} throttled "
                             "responses at most, goal 0. Kiln's pacer at "
                             f"{floor['kiln_share'] * 100:.0f} % of each bucket allows no "
                             f"better than {floor['kiln_pacer_floor_s'] / floor['floor_s']:.2f}×.")
    out = ["## Goals missed\n"]
    return out + (notes + [""] if notes else ["None in this run.\n"])


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


KEPT = "<!-- Written by hand from here on: bench/report.py keeps it. -->"


def kept(old_path):
    try:
        text = open(old_path).read()
    except (OSError, TypeError):
        return []
    return [KEPT, text.split(KEPT, 1)[1].strip("\n") + "\n"] if KEPT in text else []


def main(results_path, sigv4_path, old_path=None):
    rows = [json.loads(line) for line in open(results_path) if line.startswith("{")]
    pick = lambda kind: [r for r in rows if r.get("bench") == kind]  # noqa: E731
    scale, throttle = pick("scale"), pick("throttle")
    sigv4 = open(sigv4_path).read().strip() if os.path.exists(sigv4_path) else "(not run)"
    out = header()
    out += requests_section(scale)
    out += cli_section(pick("cli_compare"))
    out += pass_section(scale, pick("scale_growth"))
    out += latency_section(pick("latency"))
    out += idle_section(pick("idle"))
    out += throttle_section(throttle, pick("throttle_floor"))
    out += sigv4_section(sigv4)
    out += fetch_rss_section(pick("fetch_rss"))
    out += missed(scale, throttle, pick("throttle_floor"), pick("scale_growth"))
    out += kept(old_path)
    print("\n".join(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
