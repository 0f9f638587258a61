"""kiln apply records releases; kiln history shows them.

The fleet set-up follows test_apply.py: a fresh emulator per test and a git
repository made from seed-repo with the emulator's default VPC. What is
recorded is judged against boto3's view of the emulator.
"""
import json
import os
import sqlite3
import time

import pytest

from kiln_cli import git, run_kiln, seeded_repo

APP = "apps/hello/app.yaml"

# A release's JSON form, the same in `kiln history --format json` and the
# daemon's /api/v1/history (README.md, "The history record"). Times are
# unix milliseconds.
RELEASE_KEYS = {"id", "app", "commit", "digest", "ami", "launch_template_version",
                "refresh_id", "started_at_ms", "ended_at_ms", "outcome", "reason"}


def now_ms():
    return int(time.time() * 1000)


class Fleet:
    def __init__(self, emu, root, tmp_path):
        self.emu = emu
        self.root = root
        self.state = tmp_path / "state"
        # KILN_STATE_DIR points elsewhere: --state-dir must win.
        self.env = {**os.environ, **emu.env, "KILN_CACHE_DIR": str(tmp_path / "cache"),
                    "KILN_STATE_DIR": str(tmp_path / "not-here")}
        self.ec2 = emu.client("ec2")

    def edit(self, old, new, message="edit"):
        p = self.root / APP
        text = p.read_text()
        assert old in text, old
        p.write_text(text.replace(old, new, 1))
        git(self.root, "commit", "-qam", message)
        return git(self.root, "rev-parse", "HEAD")

    def kiln(self, *args, timeout=120, env=None):
        return run_kiln(*args, env=env or self.env, timeout=timeout)

    def apply(self):
        return self.kiln("apply", "--repo", self.root, "--wait", "--timeout", "90s",
                         "--interval", "500ms", "--state-dir", self.state)

    def plan_digest(self):
        r = self.kiln("plan", "--repo", self.root, "--format", "json")
        return json.loads(r.stdout)["apps"][0]["digest"]

    def history(self, *extra):
        r = self.kiln("history", "--state-dir", self.state, "--format", "json", *extra)
        assert r.returncode == 0, r.stdout + r.stderr
        out = json.loads(r.stdout)
        assert set(out) == {"state_dir", "releases"}, out
        for rel in out["releases"]:
            assert set(rel) == RELEASE_KEYS, sorted(rel)
        return out["releases"]

    def image(self, ami):
        return self.ec2.describe_images(ImageIds=[ami])["Images"][0]

    def default_version(self):
        return self.ec2.describe_launch_template_versions(
            LaunchTemplateName="hello", Versions=["$Default"])["LaunchTemplateVersions"][0]


@pytest.fixture
def fleet(awsemu_factory, tmp_path):
    emu = awsemu_factory(bake_seconds=1.0, refresh_batch_seconds=0.3)
    return Fleet(emu, seeded_repo(emu, tmp_path / "repo"), tmp_path)


def check_release(fleet, rel, commit, digest):
    """A succeeded release names what AWS really runs."""
    assert rel["app"] == "hello"
    assert rel["commit"] == commit
    assert rel["digest"] == digest
    assert rel["outcome"] == "succeeded" and rel["reason"] is None
    image = fleet.image(rel["ami"])
    tags = {t["Key"]: t["Value"] for t in image["Tags"]}
    assert tags["kiln:digest"] == digest and tags["kiln:commit"] == commit
    assert isinstance(rel["id"], int) and rel["id"] > 0
    assert rel["ended_at_ms"] >= rel["started_at_ms"] > 0


def test_apply_records_a_succeeded_release(fleet):
    head = git(fleet.root, "rev-parse", "HEAD")
    digest = fleet.plan_digest()
    before = now_ms()
    r = fleet.apply()
    after = now_ms()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in r.stderr, r.stderr
    assert not (fleet.state.parent / "not-here").exists()
    assert oct(fleet.state.stat().st_mode & 0o777) == "0o700"

    releases = fleet.history()
    assert len(releases) == 1, releases
    rel = releases[0]
    check_release(fleet, rel, head, digest)
    # Milliseconds since the epoch, within the run (seconds would be 1000
    # times too small).
    assert before <= rel["started_at_ms"] <= rel["ended_at_ms"] <= after
    v = fleet.default_version()
    assert rel["launch_template_version"] == v["VersionNumber"] == 1
    assert v["LaunchTemplateData"]["ImageId"] == rel["ami"]

    # Applying again when in sync records nothing new.
    assert fleet.apply().returncode == 0
    assert fleet.history() == releases

    # The text table names the same release.
    r = fleet.kiln("history", "--state-dir", fleet.state)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:4] == ["APP", "COMMIT", "DIGEST", "AMI"]
    assert len(lines) == 2
    row = lines[1].split()
    assert row[:5] == ["hello", head[:12], digest[:12], rel["ami"], "1"]
    assert "succeeded" in row

    # The store is a sound SQLite database with the schema it says.
    db = sqlite3.connect(fleet.state / "history.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    columns = {row[1] for row in db.execute("PRAGMA table_info(releases)")}
    assert {"started_at_ms", "ended_at_ms"} <= columns
    assert not {"started_at", "ended_at"} & columns
    db.close()


def test_a_version_bump_is_a_second_release(fleet):
    first_commit = git(fleet.root, "rev-parse", "HEAD")
    first_digest = fleet.plan_digest()
    assert fleet.apply().returncode == 0
    second_commit = fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
    second_digest = fleet.plan_digest()
    assert second_digest != first_digest
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr

    releases = fleet.history()
    assert [rel["commit"] for rel in releases] == [second_commit, first_commit]
    check_release(fleet, releases[1], first_commit, first_digest)
    check_release(fleet, releases[0], second_commit, second_digest)
    assert releases[0]["ami"] != releases[1]["ami"]
    v = fleet.default_version()
    assert releases[0]["launch_template_version"] == v["VersionNumber"] == 2
    assert v["LaunchTemplateData"]["ImageId"] == releases[0]["ami"]
    assert releases[0]["started_at_ms"] >= releases[1]["ended_at_ms"]
    # The rollout went through an instance refresh, which AWS still knows.
    refreshes = fleet.emu.client("autoscaling").describe_instance_refreshes(
        AutoScalingGroupName="hello")["InstanceRefreshes"]
    assert releases[0]["refresh_id"] in {x["InstanceRefreshId"] for x in refreshes}
    assert releases[1]["refresh_id"] is None  # a new group needs no refresh

    # One app, newest first, limited.
    only = fleet.history("hello", "--limit", "1")
    assert [rel["commit"] for rel in only] == [second_commit]
    assert fleet.history("nobody") == []


def test_a_failed_bake_is_a_failed_release(fleet):
    assert fleet.apply().returncode == 0
    fleet.emu.faults({"service": "imagebuilder", "action": "CreateImage", "kind": "bake-fail"})
    bad = fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release that cannot bake")
    r = fleet.apply()
    assert r.returncode == 1

    releases = fleet.history()
    assert len(releases) == 2, releases
    failed = releases[0]
    assert failed["commit"] == bad
    assert failed["outcome"] == "failed"
    assert "bake of image" in failed["reason"] and "failed" in failed["reason"]
    assert failed["ami"] is None and failed["launch_template_version"] is None
    assert failed["refresh_id"] is None
    assert failed["ended_at_ms"] >= failed["started_at_ms"]
    assert releases[1]["outcome"] == "succeeded"

    # Not retried, not recorded again.
    assert fleet.apply().returncode == 1
    assert len(fleet.history()) == 2
    r = fleet.kiln("history", "--state-dir", fleet.state)
    assert "failed" in r.stdout and "bake of image" in r.stdout


def test_a_newer_commit_supersedes_a_release_in_progress(fleet):
    assert fleet.apply().returncode == 0
    first = fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="0.2.0")
    # One pass, no wait: the bake starts and the release is in progress.
    r = fleet.kiln("apply", "--repo", fleet.root, "--state-dir", fleet.state)
    assert r.returncode == 0, r.stdout + r.stderr
    running = fleet.history()[0]
    assert running["outcome"] == "in-progress"
    assert running["ended_at_ms"] is None and running["reason"] is None
    second = fleet.edit('version: "0.2.0"', 'version: "0.3.0"', message="0.3.0")
    assert fleet.apply().returncode == 0
    releases = fleet.history()
    assert [x["commit"] for x in releases[:2]] == [second, first]
    assert releases[0]["outcome"] == "succeeded"
    assert releases[1]["outcome"] == "superseded"
    assert second[:12] in releases[1]["reason"]


def test_history_without_a_store_and_with_a_bad_one(fleet, tmp_path):
    empty = tmp_path / "empty"
    r = fleet.kiln("history", "--state-dir", empty, "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["releases"] == []
    assert not empty.exists()  # reading creates nothing

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "history.db").write_bytes(b"this is not a database, " * 200)
    r = fleet.kiln("history", "--state-dir", bad)
    assert r.returncode == 1
    assert str(bad / "history.db") in r.stderr and "move it aside" in r.stderr
    assert (bad / "history.db").read_bytes() == b"this is not a database, " * 200

    # A store that cannot be opened never stops apply.
    r = fleet.kiln("apply", "--repo", fleet.root, "--wait", "--timeout", "90s",
                   "--interval", "500ms", "--state-dir", bad)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr.count("warning") == 1 and "history.db" in r.stderr

    # The default: $KILN_STATE_DIR.
    env = {**fleet.env, "KILN_STATE_DIR": str(fleet.state)}
    assert fleet.kiln("apply", "--repo", fleet.root, env=env).returncode == 0
    r = fleet.kiln("history", "--format", "json", env=env)
    assert r.returncode == 0
    assert json.loads(r.stdout)["state_dir"] == str(fleet.state)

    assert fleet.kiln("history", "--limit", "x").returncode == 64
    r = fleet.kiln("history", "--help")
    assert r.returncode == 0 and "--state-dir" in r.stdout


# Schema 1, as Kiln wrote it before the times' columns carried their unit.
SCHEMA_1 = """
CREATE TABLE releases (
  id INTEGER PRIMARY KEY, app TEXT NOT NULL, "commit" TEXT NOT NULL,
  digest TEXT NOT NULL, ami TEXT, launch_template_version INTEGER,
  refresh_id TEXT, started_at INTEGER NOT NULL, ended_at INTEGER,
  outcome TEXT NOT NULL DEFAULT 'in-progress' CHECK (outcome IN
    ('in-progress', 'succeeded', 'failed', 'superseded')),
  reason TEXT,
  CHECK ((outcome = 'in-progress') = (ended_at IS NULL)));
CREATE INDEX releases_by_app ON releases (app, id);
CREATE UNIQUE INDEX releases_in_progress ON releases (app)
  WHERE outcome = 'in-progress';
CREATE TABLE drift (
  id INTEGER PRIMARY KEY, app TEXT NOT NULL, "commit" TEXT NOT NULL,
  observed_at INTEGER NOT NULL, field TEXT NOT NULL, desired TEXT,
  actual TEXT, cause TEXT NOT NULL CHECK (cause IN
    ('commit', 'out-of-band', 'cleared')));
CREATE INDEX drift_by_field ON drift (app, field, id);
INSERT INTO releases VALUES (1, 'hello', 'c1', 'd1', 'ami-1', 2, 'r-1',
  1700000000123, 1700000060456, 'failed', 'bake failed');
PRAGMA application_id = 1263094862;
PRAGMA user_version = 1;
"""


def test_an_existing_state_dir_is_migrated(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    db = sqlite3.connect(state / "history.db")
    db.executescript(SCHEMA_1)
    db.close()

    r = run_kiln("history", "--state-dir", state, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["releases"] == [{
        "id": 1, "app": "hello", "commit": "c1", "digest": "d1", "ami": "ami-1",
        "launch_template_version": 2, "refresh_id": "r-1",
        "started_at_ms": 1700000000123, "ended_at_ms": 1700000060456,
        "outcome": "failed", "reason": "bake failed"}]
    db = sqlite3.connect(state / "history.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    assert db.execute("SELECT started_at_ms, ended_at_ms FROM releases").fetchall() == [
        (1700000000123, 1700000060456)]
    assert db.execute("SELECT count(*) FROM drift WHERE observed_at_ms > 0").fetchone() == (0,)
    db.close()
    r = run_kiln("history", "--state-dir", state)
    assert r.returncode == 0 and "2023-11-14 22:13:20Z" in r.stdout, r.stdout
