"""kiln run under overlapping events: commits that land while a pass is in
flight, hooks that arrive while a fetch is in flight, and drift causes
over many apps each last applied at its own commit.

Run by tests/run against the sanitizer build: a use-after-free or a leak
shows in the daemon's log and fails the test."""
import hashlib
import hmac
import json
import subprocess
import time

import pytest

from kiln_cli import git, http
from test_apply import Fleet, fleet  # noqa: F401  (fixture)
from test_daemon import Daemon, listening

from awsemu.testing import wait_until
from gitserver import GitHTTPServer

SECRET = b"hook-secret-for-events"


def sanitizer_reports(d):
    text = d.log_path.read_text(errors="replace")
    return [l for l in text.splitlines()
            if "AddressSanitizer" in l or "LeakSanitizer" in l or "runtime error:" in l]


def bare_clone(fleet, where):
    subprocess.run(["git", "clone", "-q", "--bare", str(fleet.root), str(where)], check=True)
    return where


def group_commit(fleet, name="hello"):
    tags = {t["Key"]: t["Value"] for t in fleet.group(name)["Tags"]}
    return tags.get("kiln:commit")


def test_commits_pushed_while_passes_are_slow(fleet, tmp_path):
    # Every observation waits 2.5 s on DescribeAutoScalingGroups, so each of
    # the four commits below lands while a pass is in flight: the pass must
    # finish on the snapshot it began with, and the next take the new one.
    served = bare_clone(fleet, tmp_path / "served.git")
    d = Daemon(fleet, tmp_path, f"file://{served}", "--interval", "500ms",
               "--resync", "2s")
    try:
        wait_until(lambda: fleet.group() is not None, timeout=90, what="the group")
        wait_until(lambda: d.said("ready"), timeout=20, what="readiness")
        fleet.emu.faults({"service": "autoscaling", "action": "DescribeAutoScalingGroups",
                          "kind": "latency", "latency_ms": 2500})
        last = None
        for i, size in enumerate((4, 5, 6, 7)):
            last = fleet.edit(f"  max: {size - 1}", f"  max: {size}", message=f"max {size}")
            git(fleet.root, "push", "-q", str(served), "main")
            if i < 3:
                time.sleep(1.0 + 0.5 * (i % 2))  # the pushes' own pacing, not a wait
        wait_until(lambda: fleet.group()["MaxSize"] == 7 and group_commit(fleet) == last,
                   timeout=60, what="the group at the last commit")
        assert d.proc.poll() is None, "the daemon died"
        assert d.said("the pass in flight finishes on the old one")
    finally:
        fleet.emu.clear_faults()
        code = d.stop()
    assert sanitizer_reports(d) == []
    assert code == 0


def sign(body):
    return "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()


def test_hook_during_a_slow_fetch_is_not_lost(fleet, tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    secret.chmod(0o600)
    root = tmp_path / "served"
    root.mkdir()
    bare_clone(fleet, root / "fleet.git")
    server = GitHTTPServer(root, upload_pack_delay=3.0)
    d = Daemon(fleet, tmp_path, server.url("fleet.git"), "--listen", "127.0.0.1:0",
               "--webhook-secret-file", str(secret), "--interval", "1h")
    try:
        port = listening(d)
        wait_until(lambda: fleet.group() is not None, timeout=90, what="the group")
        wait_until(lambda: http(port, "/readyz")[0] == 200, timeout=30, what="ready")
        body = b'{"ref": "refs/heads/main"}'

        fleet.edit("  max: 3", "  max: 4", message="max 4")
        git(fleet.root, "push", "-q", str(root / "fleet.git"), "main")
        packs = server.upload_packs
        assert http(port, "/hooks/github", body, {"X-Hub-Signature-256": sign(body)})[0] == 202
        # The second push and hook come while the first fetch waits on git.
        wait_until(lambda: server.upload_packs > packs, timeout=10, what="the first fetch")
        second = fleet.edit("  max: 4", "  max: 5", message="max 5")
        git(fleet.root, "push", "-q", str(root / "fleet.git"), "main")
        status, answer = http(port, "/hooks/github", body, {"X-Hub-Signature-256": sign(body)})
        assert status == 202 and json.loads(answer)["fetch"] == "queued"
        wait_until(lambda: fleet.group()["MaxSize"] == 5 and group_commit(fleet) == second,
                   timeout=30, what="the second commit applied")
        metrics = http(port, "/metrics")[1]
        assert "kiln_fetch_requests_coalesced_total 1" in metrics
    finally:
        code = d.stop()
        server.close()
    assert sanitizer_reports(d) == []
    assert code == 0


APP = """apiVersion: kiln.dev/v1
kind: App
name: {name}
version: "1.0.0"
image:
  parent: ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
  components:
    - arn: arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x
launchTemplate:
  instanceType: t3.micro
  securityGroups: [{sg}]
autoscaling:
  subnets: [{subnet}]
  min: 0
  max: {max}
  desired: 0
"""


def test_drift_causes_hold_for_ten_apps_at_ten_commits(awsemu_factory, tmp_path):
    emu = awsemu_factory(bake_seconds=0.5)
    ec2 = emu.client("ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    sg = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    root = tmp_path / "repo"
    (root / "apps").mkdir(parents=True)
    (root / "kiln.yaml").write_text(
        "apiVersion: kiln.dev/v1\nkind: Defaults\nregion: us-east-1\n"
        "image:\n  build: {instanceProfile: kiln-image-builder, instanceTypes: [t3.small]}\n")
    names = [f"app{i:02d}" for i in range(10)]
    for n in names:
        (root / "apps" / n).mkdir()
        (root / "apps" / n / "app.yaml").write_text(APP.format(name=n, sg=sg, subnet=subnet, max=2))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "ten apps")
    fleet = Fleet(emu, root, tmp_path)
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr

    # Each app is then applied alone at a commit of its own: ten apps, ten
    # different kiln:commit tags, nine of them older than the tip.
    commits = {}
    for n in names:
        commits[n] = fleet.edit("  max: 2", "  max: 3", path=f"apps/{n}/app.yaml",
                                message=f"grow {n}")
        r = fleet.apply("--app", n)
        assert r.returncode == 0, r.stdout + r.stderr
    assert {n: group_commit(fleet, n) for n in names} == commits

    # The same change by hand on every group: out-of-band for all ten.
    for n in names:
        fleet.asg.update_auto_scaling_group(AutoScalingGroupName=n, MaxSize=9)
    rc, doc = fleet.plan()
    assert rc == 2
    causes = {a["name"]: [(d["field"], d["cause"]) for d in a["drift"]] for a in doc["apps"]}
    assert causes == {n: [("autoscaling.max", "out-of-band")] for n in names}, causes
