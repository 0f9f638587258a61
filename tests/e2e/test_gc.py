"""kiln gc (issue 17): garbage collection that never breaks a revert.
Judged through boto3 against tests/awsemu."""
import json
import os
import signal
import subprocess
import time

import pytest

from awsemu.testing import wait_until
from kiln_cli import git, kiln_bin
from test_apply import APP, fleet  # noqa: F401  (fixture)

RETENTION = "\nretention: {releases: 2, minAgeDays: 0}\n"


def release(fleet, version):
    text = (fleet.root / APP).read_text()
    old = text.split('\nversion: "', 1)[1].split('"', 1)[0]
    fleet.edit(f'\nversion: "{old}"', f'\nversion: "{version}"', message=version)
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr


def releases(fleet, n):
    """n releases of hello (0.1.0 ... 0.n.0), keeping the last two."""
    p = fleet.root / APP
    p.write_text(p.read_text() + RETENTION)
    git(fleet.root, "commit", "-qam", "retention")
    assert fleet.apply().returncode == 0
    for i in range(2, n + 1):
        release(fleet, f"0.{i}.0")


def six_releases(fleet):
    releases(fleet, 6)


def images_by_version(fleet):
    """{version: image} of Kiln's AMIs, by the launch template versions
    that name them (version n is release n)."""
    out = {}
    for v in fleet.ec2.describe_launch_template_versions(
            LaunchTemplateName="hello")["LaunchTemplateVersions"]:
        out[v["VersionNumber"]] = v["LaunchTemplateData"]["ImageId"]
    return out


def failures(doc):
    return ([(i["image_id"], i["error"]) for i in doc["images"] if i["error"]]
            + [(v["launch_template"], v["version"], v["error"])
               for v in doc["launch_template_versions"] if v["error"]] + doc["errors"])


def gc(fleet, *extra):
    r = fleet.kiln("gc", "--repo", fleet.root, "--format", "json", *extra)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert (r.returncode == 0) == (failures(doc) == []), (r.returncode, failures(doc))
    return r.returncode, doc


def existing(fleet, ids):
    images = fleet.ec2.describe_images(Owners=["self"])["Images"]
    return {i["ImageId"] for i in images} & set(ids)


def snapshots_of(fleet, ami):
    im = fleet.ec2.describe_images(ImageIds=[ami])["Images"][0]
    return [m["Ebs"]["SnapshotId"] for m in im["BlockDeviceMappings"] if "Ebs" in m]


def live_snapshots(fleet):
    return {s["SnapshotId"] for s in fleet.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


def test_six_releases_keep_the_last_two_and_a_revert_still_needs_no_bake(fleet):
    six_releases(fleet)
    amis = images_by_version(fleet)
    assert len(set(amis.values())) == 6, amis
    old = [amis[v] for v in (1, 2, 3, 4)]
    old_snaps = {s for a in old for s in snapshots_of(fleet, a)}
    assert old_snaps

    rc, doc = gc(fleet)
    assert rc == 0, failures(doc)
    verdict = {i["image_id"]: i for i in doc["images"]}
    assert {a for a, v in verdict.items() if v["action"] == "delete"} == set(old), doc
    assert verdict[amis[5]]["reason"] == "within the last 2 releases", verdict[amis[5]]
    assert verdict[amis[6]]["reason"].startswith(("in use by group hello",
                                                  "the default of", "running on")), verdict
    assert doc["freed_gib"] > 0 and doc["deleted"] is False
    assert existing(fleet, old) == set(old)  # a report deletes nothing

    fleet.emu.reset_requests()
    rc, doc = gc(fleet, "--delete")
    assert rc == 0, failures(doc)
    assert existing(fleet, old) == set()
    assert existing(fleet, [amis[5], amis[6]]) == {amis[5], amis[6]}
    assert not (old_snaps & live_snapshots(fleet))
    versions = {v["VersionNumber"] for v in fleet.ec2.describe_launch_template_versions(
        LaunchTemplateName="hello")["LaunchTemplateVersions"]}
    assert versions == {5, 6}, versions
    # Image Builder keeps the recipes (and builds) of the kept images only;
    # their AMIs are what a revert needs.
    ib = fleet.emu.client("imagebuilder")
    recipes = ib.list_image_recipes(owner="Self")["imageRecipeSummaryList"]
    assert len(recipes) == 2, recipes
    builds = [b for r in recipes for b in ib.list_image_build_versions(
        imageVersionArn=r["arn"].replace(":image-recipe/", ":image/"))["imageSummaryList"]]
    assert len(builds) == 2, builds
    assert sum(1 for r in doc["image_recipes"] if r["action"] == "delete") == 4, doc
    import sqlite3
    db = sqlite3.connect(os.path.join(fleet.env["KILN_STATE_DIR"], "history.db"))
    recorded = {r[0] for r in db.execute(
        "SELECT resource FROM collections WHERE kind = 'image'").fetchall()}
    assert recorded == set(old), recorded
    # Collected: a second run has nothing left to do.
    rc, doc = gc(fleet, "--delete")
    assert rc == 0 and not [i for i in doc["images"] if i["action"] == "delete"], doc

    # The revert to the oldest kept release rolls out with no bake.
    git(fleet.root, "revert", "--no-edit", "HEAD")
    fleet.emu.reset_requests()
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "imagebuilder:CreateImage" not in fleet.emu.counts()
    assert fleet.default_version()["LaunchTemplateData"]["ImageId"] == amis[5]


def test_an_image_a_group_was_pointed_at_by_hand_is_kept_with_the_reason(fleet):
    releases(fleet, 4)
    amis = images_by_version(fleet)
    fleet.asg.update_auto_scaling_group(
        AutoScalingGroupName="hello",
        LaunchTemplate={"LaunchTemplateName": "hello", "Version": "2"})
    rc, doc = gc(fleet, "--delete")
    assert rc == 0, failures(doc)
    verdict = {i["image_id"]: i for i in doc["images"]}
    assert verdict[amis[2]]["action"] == "keep", verdict[amis[2]]
    assert verdict[amis[2]]["reason"] == "in use by group hello"
    assert existing(fleet, [amis[2]]) == {amis[2]}
    versions = {v["VersionNumber"] for v in fleet.ec2.describe_launch_template_versions(
        LaunchTemplateName="hello")["LaunchTemplateVersions"]}
    assert 2 in versions and 4 in versions and 1 not in versions, versions


def test_images_not_of_this_repositorys_apps_are_never_touched(fleet):
    releases(fleet, 3)
    base = fleet.ec2.describe_images(Owners=["self"])["Images"][0]
    untagged = fleet.ec2.register_image(
        Name="someone-elses", RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                              "Ebs": {"SnapshotId": snapshots_of(fleet, base["ImageId"])[0]}}]
    )["ImageId"]
    foreign = fleet.ec2.copy_image(SourceImageId=base["ImageId"], SourceRegion="us-east-1",
                                   Name="another-repos")["ImageId"]
    fleet.ec2.create_tags(Resources=[foreign], Tags=[
        {"Key": "kiln:app", "Value": "billing"}, {"Key": "kiln:digest", "Value": "ab" * 32}])
    wait_until(lambda: fleet.ec2.describe_images(ImageIds=[foreign])["Images"][0]["State"]
               == "available", timeout=30, what="the copy")
    rc, doc = gc(fleet, "--delete")
    assert rc == 0, failures(doc)
    listed = {i["image_id"] for i in doc["images"]}
    assert untagged not in listed and foreign not in listed
    assert existing(fleet, [untagged, foreign]) == {untagged, foreign}


def test_killed_mid_collection_the_next_run_finishes_and_keeps_what_it_must(fleet):
    releases(fleet, 4)
    amis = images_by_version(fleet)
    old = [amis[v] for v in (1, 2)]
    old_snaps = {s for a in old for s in snapshots_of(fleet, a)}
    # Every snapshot deletion takes 2 s: kill -9 once the first AMI is
    # deregistered, before its snapshots are gone.
    fleet.emu.faults({"service": "ec2", "action": "DeleteSnapshot", "kind": "latency",
                      "latency_ms": 2000})
    fleet.emu.reset_requests()
    p = subprocess.Popen([kiln_bin(), "gc", "--repo", str(fleet.root), "--delete"],
                         env=fleet.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: fleet.emu.counts().get("ec2:DeregisterImage", 0) >= 1,
                   timeout=60, what="the first deregistration")
        p.send_signal(signal.SIGKILL)
    finally:
        p.wait(timeout=10)
    assert existing(fleet, old) != set(old) or old_snaps <= live_snapshots(fleet)
    fleet.emu.clear_faults()
    rc, doc = gc(fleet, "--delete")
    assert rc == 0, failures(doc)
    assert existing(fleet, old) == set()
    assert not (old_snaps & live_snapshots(fleet))
    assert existing(fleet, [amis[3], amis[4]]) == {amis[3], amis[4]}
    for a in (amis[3], amis[4]):
        assert set(snapshots_of(fleet, a)) <= live_snapshots(fleet)


def test_the_daemon_collects_on_its_interval_and_says_what_it_deleted(fleet, tmp_path):
    import sqlite3

    from kiln_cli import http
    from test_daemon import Daemon, listening
    releases(fleet, 4)
    amis = images_by_version(fleet)
    old = [amis[v] for v in (1, 2)]
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0", "--resync", "1s",
               "--gc-interval", "1s")
    try:
        port = listening(d)
        wait_until(lambda: existing(fleet, old) == set(), timeout=60,
                   what="the daemon's collection")
        assert existing(fleet, [amis[3], amis[4]]) == {amis[3], amis[4]}
        wait_until(lambda: d.said(f"gc: deleted AMI {old[0]}"), timeout=30, what="the log")
        # The summary follows the last deletion (its snapshots' too).
        wait_until(lambda: d.said("gc: collected 2 image(s)"), timeout=30, what="the summary")
        metrics = http(port, "/metrics")[1]
        assert 'kiln_gc_deleted_total{kind="image"} 2' in metrics, metrics
        assert 'kiln_gc_runs_total{outcome="ok"}' in metrics
    finally:
        assert d.stop() == 0
    db = sqlite3.connect(tmp_path / "state" / "history.db")
    rows = db.execute("SELECT resource, reason FROM collections WHERE kind = 'image'").fetchall()
    assert {r[0] for r in rows} == set(old), rows
    assert all(r[1] == "not among the last 2 releases" for r in rows), rows
