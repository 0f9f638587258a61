"""kiln run: the controller on its loop, against tests/awsemu and real git."""
import json
import os
import signal
import subprocess
import time

from kiln_cli import kiln_bin
from test_apply import fleet, git  # noqa: F401  (fixture)

from awsemu.testing import wait_until


class Daemon:
    def __init__(self, fleet, tmp_path, repo=None, *extra):
        self.log_path = tmp_path / "kiln-run.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [kiln_bin(), "run", "--repo", str(repo or fleet.root), "--state-dir",
             str(tmp_path / "state"), "--interval", "1s", "--resync", "1m",
             "--bake-poll", "500ms", "--refresh-poll", "500ms", *extra],
            env=fleet.env, stdout=subprocess.DEVNULL, stderr=self.log)

    def lines(self):
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append({"msg": line, "level": "raw"})
        return out

    def said(self, fragment):
        return any(fragment in l.get("msg", "") for l in self.lines())

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.log.close()
        return code


def test_daemon_releases_each_commit_and_stops_cleanly(fleet, tmp_path):
    d = Daemon(fleet, tmp_path)
    try:
        wait_until(lambda: fleet.group() is not None, timeout=60, what="the group")
        wait_until(lambda: d.said("ready"), timeout=10, what="readiness")
        fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
        wait_until(lambda: fleet.group()["LaunchTemplate"]["Version"] == "2",
                   timeout=90, what="the release of 0.2.0")
        assert len(fleet.kiln_images()) == 2
        lines = d.lines()
        assert all(set(l) >= {"ts", "level", "msg"} for l in lines), lines[:3]
        assert not any("testing" in json.dumps(l) for l in lines)  # no secrets
    finally:
        started = time.monotonic()
        code = d.stop()
    assert code == 0
    assert time.monotonic() - started < 10
    assert d.said("stopped")


def test_unreachable_remote_keeps_the_last_good_commit(fleet, tmp_path):
    served = tmp_path / "served.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(fleet.root), str(served)], check=True)
    d = Daemon(fleet, tmp_path, repo=f"file://{served}")
    try:
        wait_until(lambda: fleet.group() is not None, timeout=60, what="the group")
        os.rename(served, tmp_path / "away.git")
        wait_until(lambda: d.said("the last good commit stays"), timeout=20,
                   what="the fetch failure report")
        assert d.proc.poll() is None
        # Drift is still corrected from the last good commit meanwhile.
        fleet.asg.update_auto_scaling_group(AutoScalingGroupName="hello", MaxSize=7)
        os.rename(tmp_path / "away.git", served)
        wait_until(lambda: d.said("works again"), timeout=30, what="recovery")
    finally:
        assert d.stop() == 0


def test_history_rewrite_is_reported_and_followed(fleet, tmp_path):
    d = Daemon(fleet, tmp_path)
    try:
        wait_until(lambda: fleet.group() is not None, timeout=60, what="the group")
        first = git(fleet.root, "rev-parse", "HEAD")
        fleet.edit("  max: 3", "  max: 4", message="one")
        wait_until(lambda: fleet.group()["MaxSize"] == 4, timeout=30, what="max 4")
        git(fleet.root, "reset", "-q", "--hard", first)
        fleet.edit("  max: 3", "  max: 2", message="rewritten")
        wait_until(lambda: fleet.group()["MaxSize"] == 2, timeout=30, what="max 2")
        assert d.said("history was rewritten")
    finally:
        assert d.stop() == 0
