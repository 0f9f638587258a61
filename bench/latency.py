"""Benchmark 3: latencies, each over BENCH_REPEATS runs (default 5).

- hook:   `kiln run --interval 1h` serving a repository behind git's own
          smart-HTTP backend (git http-backend). Per run: commit a change of
          the group's `max` (exactly one AWS mutation, no bake), push it,
          POST a signed /hooks/github; latency = the emulator's time of the
          first mutating request (anything but Describe*/Get*/List*) minus
          the time the hook was sent.
- poll:   the same daemon with `--interval 2s` and no hook. Per run: push
          such a change timed to land a chosen lead before the
          daemon's next fetch (the leads spread evenly over the interval,
          as random pushes would be on average); latency = first mutation
          minus the time the push returned, ~lead + fetch + pass, so the
          median is ~interval/2 + fetch + pass.
- revert-hook: `kiln run` as in `hook`, after `revert`: per run, `git
          revert --no-edit HEAD` (back to the other baked version), push,
          POST a signed /hooks/github; latency = StartInstanceRefresh minus
          the time the hook was sent. This is rolling back as people do
          with the daemon.
- revert: `kiln apply` (no daemon). The app is released at version A, then
          B (baked, `kiln apply --wait`); each run is `git revert --no-edit
          HEAD` (alternately back to A and to B, both already baked) and
          `kiln apply --wait`; latency = the emulator's time of
          StartInstanceRefresh minus the time `kiln apply` was started. A
          revert that bakes (ec2/imagebuilder CreateImage) or creates a
          launch template version fails the benchmark.

AWS is tests/awsemu (bake 0.5 s, refresh batches 0.2 s); the app is
seed-repo's `hello` (desired 1, so a release needs an instance refresh).
The emulator stamps a request when it has answered it, so each latency
includes the emulator's handling of that one request. Samples, not just
medians, are reported: one JSON object per kind on stdout; progress goes
to stderr.

Usage: python3 bench/latency.py    (KILN_BIN, BENCH_REPEATS as elsewhere)
"""
import hashlib
import hmac
import json
import math
import os
import pathlib
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

from awsemu.testing import AwsEmu, wait_until  # noqa: E402
from gitserver import GitHTTPServer  # noqa: E402
from kiln_cli import git, http, json_log, kiln_bin, seeded_repo  # noqa: E402

REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
POLL_INTERVAL_S = 2
SECRET = b"bench-latency-hook-secret"
APP_YAML = "apps/hello/app.yaml"
READS = ("Describe", "Get", "List")
FORBIDDEN_IN_REVERT = {"ec2:CreateImage", "imagebuilder:CreateImage",
                       "ec2:CreateLaunchTemplateVersion"}
POLL_S = 0.05  # how often the emulator's log is read while waiting


def log(msg):
    print(f"latency: {msg}", file=sys.stderr, flush=True)


# ---- the environment: one emulator, one repository, a smart-HTTP remote ----

class Bench:
    """An emulator, seed-repo's app converged in it, and a bare clone of the
    repository served by git http-backend."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="kiln-bench-latency-"))
        self.emu = AwsEmu(bake_seconds=0.5, refresh_batch_seconds=0.2)
        self.server = None
        self.repo = seeded_repo(self.emu, self.dir / "repo")
        self.env = {**os.environ, **self.emu.env, "KILN_CACHE_DIR": str(self.dir / "cache"),
                    "KILN_STATE_DIR": str(self.dir / "apply-state")}
        self.asg = self.emu.client("autoscaling")
        self.ec2 = self.emu.client("ec2")
        self.bare = self.dir / "served" / "fleet.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(self.repo), str(self.bare)],
                       check=True)
        self.server = GitHTTPServer(self.bare.parent)
        self.url = self.server.url("fleet.git")

    def apply(self):
        """kiln apply --wait; returns its CompletedProcess, failing if it did."""
        r = subprocess.run([kiln_bin(), "apply", "--repo", str(self.repo), "--wait",
                            "--timeout", "90s", "--interval", "500ms"],
                           env=self.env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"kiln apply failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def commit_edit(self, pattern, replacement, message):
        """Rewrites the app's spec (a regex substitution that must match) and
        commits it; returns the new commit."""
        p = self.repo / APP_YAML
        text, n = re.subn(pattern, replacement, p.read_text(), count=1, flags=re.M)
        if n != 1:
            raise RuntimeError(f"{pattern!r} not found in {APP_YAML}")
        p.write_text(text)
        git(self.repo, "commit", "-qam", message)
        return git(self.repo, "rev-parse", "HEAD")

    def commit_max(self):
        """A commit that flips only the group's max between 3 and 4: exactly
        one AWS mutation, UpdateAutoScalingGroup, and no bake."""
        now = re.search(r"^  max: (\d+)$", (self.repo / APP_YAML).read_text(), re.M).group(1)
        new = "4" if now == "3" else "3"
        return self.commit_edit(r"^  max: \d+$", f"  max: {new}", f"max {now} -> {new}")

    def push(self):
        git(self.repo, "push", "-q", str(self.bare), "main")

    def kiln_images(self):
        return self.ec2.describe_images(
            Owners=["self"], Filters=[{"Name": "tag-key", "Values": ["kiln:digest"]}])["Images"]

    def close(self):
        if self.server is not None:
            self.server.close()
        self.emu.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- the emulator's request log ---------------------------------------------

def is_mutation(entry):
    return not entry["action"].startswith(READS)


def entries_since(emu, since):
    return [e for e in emu.requests()["log"] if e["t"] >= since]


def wait_first(emu, since, predicate, timeout, what):
    """The first logged request at or after `since` matching predicate."""
    def found():
        hits = [e for e in entries_since(emu, since) if predicate(e)]
        return hits[0] if hits else None
    return wait_until(found, timeout=timeout, interval=POLL_S, what=what)


# ---- the daemon ---------------------------------------------------------------

class Daemon:
    """`kiln run` on the served repository, its JSON log in a file."""

    def __init__(self, bench, name, *extra):
        self.log_path = bench.dir / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [kiln_bin(), "run", "--repo", bench.url, "--listen", "127.0.0.1:0",
             "--state-dir", str(bench.dir / f"{name}-state"), *extra],
            env=bench.env, stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = wait_until(self._port, timeout=15, what=f"{name} listening")

    def lines(self):
        return json_log(self.log_path)

    def _port(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"kiln run exited {self.proc.returncode}:\n{self.tail()}")
        for line in self.lines():
            m = re.search(r"listening on .*\(port (\d+)\)", line.get("msg", ""))
            if m:
                return int(m.group(1))
        return None

    def tail(self, n=20):
        return "\n".join(self.log_path.read_text().splitlines()[-n:])

    def request(self, path, body=None, headers=None):
        return http(self.port, path, body, headers)

    def in_sync_at(self, commit):
        """True once the daemon's last pass was over `commit` and found the
        app in sync (the pass after a step has run)."""
        status, body = self.request("/api/v1/apps")
        if status != 200:
            return False
        doc = json.loads(body)
        return doc["commit"] == commit and all(a["status"] == "in-sync" for a in doc["apps"])

    def settle(self, commit, timeout=30):
        wait_until(lambda: self.in_sync_at(commit), timeout=timeout, interval=POLL_S,
                   what=f"the daemon in sync at {commit[:12]}")

    def stop(self, timeout=15):
        """SIGTERM and wait; raises unless it exits 0 in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = "killed after SIGTERM timed out"
        self.log.close()
        if code != 0:
            raise RuntimeError(f"kiln run stopped with {code}:\n{self.tail()}")


def hook_signature(body):
    return "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()


# ---- the three measurements ----------------------------------------------------

def summary(kind, samples, **extra):
    return {"bench": "latency", "kind": kind, "runs": len(samples),
            "median_s": round(statistics.median(samples), 4),
            "min_s": round(min(samples), 4), "max_s": round(max(samples), 4),
            "samples_s": [round(s, 4) for s in samples], **extra}


def send_hook(bench, daemon, commit):
    """Pushes commit and POSTs the signed GitHub hook for it; returns when
    it was sent, with the emulator's log emptied just before."""
    bench.push()
    bench.emu.reset_requests()
    body = json.dumps({"ref": "refs/heads/main", "after": commit}).encode()
    headers = {"X-Hub-Signature-256": hook_signature(body), "X-GitHub-Event": "push",
               "Content-Type": "application/json"}
    sent = time.time()
    status, text = daemon.request("/hooks/github", body, headers)
    if status != 202:
        raise RuntimeError(f"hook answered {status}: {text}")
    return sent


def hook_daemon(bench, name, *extra):
    secret = bench.dir / "hook-secret"
    secret.write_bytes(SECRET + b"\n")
    secret.chmod(0o600)
    return Daemon(bench, name, "--interval", "1h", "--webhook-secret-file", str(secret), *extra)


def hook_run(bench, daemon, run):
    """One hook run: (latency, first AWS request after the hook, mutation)."""
    commit = bench.commit_max()
    sent = send_hook(bench, daemon, commit)
    mutation = wait_first(bench.emu, sent, is_mutation, 30, "the first mutation after the hook")
    first = wait_first(bench.emu, sent, lambda e: True, 1, "the first request")
    daemon.settle(commit)
    return mutation["t"] - sent, first["t"] - sent, mutation["action"]


def bench_hook(bench):
    daemon = hook_daemon(bench, "hook")
    try:
        daemon.settle(git(bench.repo, "rev-parse", "HEAD"))
        samples, firsts, actions = [], [], set()
        for run in range(REPEATS):
            latency, first, action = hook_run(bench, daemon, run)
            log(f"hook run {run + 1}/{REPEATS}: {latency:.3f} s ({action})")
            samples.append(latency)
            firsts.append(round(first, 4))
            actions.add(action)
    finally:
        daemon.stop()
    return summary("hook", samples, first_aws_request_s=firsts,
                   first_mutation=sorted(actions),
                   note="signed POST /hooks/github to the emulator's answer to the first "
                        "mutating request; daemon at --interval 1h, repository over git's "
                        "smart-HTTP backend; first_aws_request_s marks the end of the fetch")


def push_time(anchor, lead_s):
    """The first time from now on that is lead_s before one of the daemon's
    fetches, taken to fall every interval after `anchor` (a fetch that
    brought a new commit, seen as the first AWS request of its pass)."""
    k = math.ceil((time.time() + 0.01 + lead_s - anchor) / POLL_INTERVAL_S)
    return anchor + k * POLL_INTERVAL_S - lead_s


def poll_run(bench, daemon, anchor, lead_s):
    """One poll run, pushing about lead_s before a fetch: (latency, first AWS
    request after the push, mutation, the new anchor)."""
    commit = bench.commit_max()
    bench.emu.reset_requests()
    time.sleep(max(0.0, push_time(anchor, lead_s) - time.time()))
    bench.push()
    pushed = time.time()
    mutation = wait_first(bench.emu, pushed, is_mutation, POLL_INTERVAL_S + 30,
                          "the first mutation after the push")
    first = wait_first(bench.emu, pushed, lambda e: True, 1, "the first request")
    daemon.settle(commit)
    return mutation["t"] - pushed, first["t"] - pushed, mutation["action"], first["t"]


def bench_poll(bench):
    # Pushes land at evenly spread leads before the next fetch (in shuffled
    # order), as pushes at random moments would on average.
    leads = [(k + 0.5) / REPEATS * POLL_INTERVAL_S for k in range(REPEATS)]
    random.Random(7).shuffle(leads)
    started = time.time()
    daemon = Daemon(bench, "poll", "--interval", f"{POLL_INTERVAL_S}s")
    try:
        daemon.settle(git(bench.repo, "rev-parse", "HEAD"))
        anchor = entries_since(bench.emu, started)[0]["t"]  # the first fetch's pass
        samples, firsts, actions = [], [], set()
        for run in range(REPEATS):
            latency, first, action, anchor = poll_run(bench, daemon, anchor, leads[run])
            log(f"poll run {run + 1}/{REPEATS}: {latency:.3f} s ({action}; pushed "
                f"~{leads[run]:.1f} s before a fetch)")
            samples.append(latency)
            firsts.append(round(first, 4))
            actions.add(action)
    finally:
        daemon.stop()
    return summary("poll", samples, interval_s=POLL_INTERVAL_S, first_aws_request_s=firsts,
                   push_leads_s=[round(x, 2) for x in leads], first_mutation=sorted(actions),
                   note=f"push returned to the emulator's answer to the first mutating "
                        f"request; pushes timed to land evenly over the {POLL_INTERVAL_S} s "
                        f"fetch timer (push_leads_s before a fetch, estimated from the last "
                        f"fetch that brought a commit), so samples ~ lead + fetch + pass and "
                        f"the median ~ interval/2 + fetch + pass "
                        f"(~{POLL_INTERVAL_S / 2:g} s + the hook latency)")


def check_revert(bench, entries, images_before):
    """Raises unless the requests of a revert show no bake, no new launch
    template version and a StartInstanceRefresh; returns that request."""
    keys = {f"{e['service']}:{e['action']}" for e in entries}
    if keys & FORBIDDEN_IN_REVERT:
        raise RuntimeError(f"the revert baked or made a launch template version: "
                           f"{sorted(keys & FORBIDDEN_IN_REVERT)}")
    if len(bench.kiln_images()) != images_before:
        raise RuntimeError("the revert made a new image")
    refreshes = [e for e in entries if e["action"] == "StartInstanceRefresh"]
    if not refreshes:
        raise RuntimeError(f"the revert started no instance refresh: {sorted(keys)}")
    return refreshes[0]


def revert_hook_run(bench, daemon, images_before):
    """One daemon revert: pushed, hooked, until StartInstanceRefresh."""
    git(bench.repo, "revert", "--no-edit", "HEAD")
    commit = git(bench.repo, "rev-parse", "HEAD")
    sent = send_hook(bench, daemon, commit)
    wait_first(bench.emu, sent, lambda e: e["action"] == "StartInstanceRefresh", 30,
               "StartInstanceRefresh after the revert's hook")
    daemon.settle(commit)
    refresh = check_revert(bench, entries_since(bench.emu, sent), images_before)
    return refresh["t"] - sent


def bench_revert_hook(bench):
    """After bench_revert: A and B are baked, HEAD is one of them."""
    images = len(bench.kiln_images())
    bench.push()
    daemon = hook_daemon(bench, "revert-hook", "--refresh-poll", "500ms")
    try:
        daemon.settle(git(bench.repo, "rev-parse", "HEAD"))
        samples = []
        for run in range(REPEATS):
            samples.append(revert_hook_run(bench, daemon, images))
            log(f"revert-hook run {run + 1}/{REPEATS}: {samples[-1]:.3f} s")
    finally:
        daemon.stop()
    return summary("revert-hook", samples,
                   note="`git revert --no-edit HEAD` pushed to the smart-HTTP remote and a "
                        "signed POST /hooks/github to `kiln run` (--interval 1h): hook sent "
                        "to the emulator's answer to StartInstanceRefresh; no bake, no new "
                        "launch template version (checked)")


def revert_run(bench, images_before):
    """One `git revert` and `kiln apply --wait`: (latency, mutating steps as
    [action, seconds from start])."""
    git(bench.repo, "revert", "--no-edit", "HEAD")
    bench.emu.reset_requests()
    started = time.time()
    bench.apply()
    entries = entries_since(bench.emu, started)
    refresh = check_revert(bench, entries, images_before)
    steps = [[e["action"], round(e["t"] - started, 3)] for e in entries if is_mutation(e)]
    return refresh["t"] - started, steps


def bench_revert(bench):
    bench.apply()  # version A, converged (no-op if it already is)
    bench.commit_edit(r'^version: "0\.1\.0"$', 'version: "0.2.0"', "release 0.2.0")
    bench.apply()  # B is baked and rolled out
    images = len(bench.kiln_images())
    if images != 2:
        raise RuntimeError(f"expected the images of A and B, found {images}")
    samples, firsts, steps = [], [], None
    for run in range(REPEATS):
        latency, steps = revert_run(bench, images)
        log(f"revert run {run + 1}/{REPEATS}: {latency:.3f} s")
        samples.append(latency)
        firsts.append(steps[0][1])
    return summary("revert", samples, first_mutation_s=firsts, last_run_mutations=steps,
                   note="`git revert --no-edit HEAD` (alternately to A and B, both baked), "
                        "then `kiln apply --wait`: process start to the emulator's answer to "
                        "StartInstanceRefresh; no CreateImage, no CreateLaunchTemplateVersion "
                        "(checked). One pass: it moves the template's default version "
                        "(first_mutation_s), and the group's step follows at once")


def main():
    started = time.monotonic()
    bench = Bench()
    try:
        log(f"emulator up in {bench.emu.startup_s:.1f} s; converging the seed app")
        bench.apply()
        bench.push()
        for measure in (bench_hook, bench_poll, bench_revert, bench_revert_hook):
            print(json.dumps(measure(bench)), flush=True)
    finally:
        bench.close()
    log(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
