"""kiln plan and kiln apply against tests/awsemu, judged through boto3.

Each test gets a fresh emulator (a clean account) and a git repository made
from seed-repo, with the subnets and security group of the emulator's
default VPC.
"""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from kiln_cli import git, run_kiln, seeded_repo

APP = "apps/hello/app.yaml"


def add_apps(fleet, names):
    """Copies hello as apps of these names, each at its own version."""
    text = (fleet.root / APP).read_text()
    for i, name in enumerate(names):
        d = fleet.root / "apps" / name
        shutil.copytree(fleet.root / "apps/hello", d)
        (d / "app.yaml").write_text(
            text.replace("name: hello", f"name: {name}")
                .replace('version: "0.1.0"', f'version: "0.1.{i + 1}"')
                .replace("Application: hello", f"Application: {name}"))
    git(fleet.root, "add", "-A")
    git(fleet.root, "commit", "-qm", "more apps")


class Fleet:
    """A desired-state repository wired to one emulator."""

    def __init__(self, emu, root, tmp_path):
        self.emu = emu
        self.root = root
        self.env = {**os.environ, **emu.env, "KILN_CACHE_DIR": str(tmp_path / "cache"),
                    "KILN_STATE_DIR": str(tmp_path / "kiln-state")}
        self.ec2 = emu.client("ec2")
        self.asg = emu.client("autoscaling")

    def edit(self, old, new, path=APP, message="edit"):
        p = self.root / path
        text = p.read_text()
        assert old in text, old
        p.write_text(text.replace(old, new, 1))
        git(self.root, "commit", "-qam", message)
        return git(self.root, "rev-parse", "HEAD")

    def kiln(self, *args, timeout=120):
        return run_kiln(*args, env=self.env, timeout=timeout)

    def apply(self, *extra):
        return self.kiln("apply", "--repo", self.root, "--wait", "--timeout", "90s",
                         "--interval", "500ms", *extra)

    def plan(self):
        r = self.kiln("plan", "--repo", self.root, "--format", "json")
        return r.returncode, json.loads(r.stdout)

    def group(self, name="hello"):
        groups = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return groups["AutoScalingGroups"][0] if groups["AutoScalingGroups"] else None

    def kiln_images(self):
        images = self.ec2.describe_images(Owners=["self"],
                                          Filters=[{"Name": "tag-key", "Values": ["kiln:digest"]}])
        return images["Images"]

    def default_version(self, name="hello"):
        return self.ec2.describe_launch_template_versions(
            LaunchTemplateName=name, Versions=["$Default"])["LaunchTemplateVersions"][0]


@pytest.fixture
def fleet(awsemu_factory, tmp_path):
    emu = awsemu_factory(bake_seconds=1.0, refresh_batch_seconds=0.3)
    return Fleet(emu, seeded_repo(emu, tmp_path / "repo"), tmp_path)


def test_apply_converges_the_seed_app(fleet):
    rc, doc = fleet.plan()
    assert rc == 2
    assert doc["apps"][0]["status"] == "pending" and doc["apps"][0]["bake_needed"] is True

    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Converged" in r.stdout

    images = fleet.kiln_images()
    assert len(images) == 1
    tags = {t["Key"]: t["Value"] for t in images[0]["Tags"]}
    head = git(fleet.root, "rev-parse", "HEAD")
    assert tags["kiln:app"] == "hello" and tags["kiln:commit"] == head
    assert tags["kiln:digest"] == doc["apps"][0]["digest"]

    v = fleet.default_version()
    data = v["LaunchTemplateData"]
    assert data["ImageId"] == images[0]["ImageId"]
    assert data["InstanceType"] == "t3.micro"
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert v["VersionDescription"].startswith(f"kiln commit={head}")

    g = fleet.group()
    assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (0, 3, 1)
    assert g["LaunchTemplate"]["Version"] == str(v["VersionNumber"])
    assert len(g["Instances"]) == 1

    rc, doc = fleet.plan()
    assert rc == 0, doc
    assert doc["apps"][0]["status"] == "in-sync" and doc["apps"][0]["drift"] == []


def test_steady_state_plan_is_a_few_batched_reads(fleet):
    assert fleet.apply().returncode == 0
    fleet.emu.reset_requests()
    rc, _ = fleet.plan()
    assert rc == 0
    counts = fleet.emu.counts()
    assert counts == {
        "ssm:GetParameters": 1,
        "ec2:DescribeImages": 1,
        "ec2:DescribeLaunchTemplates": 1,
        "ec2:DescribeLaunchTemplateVersions": 1,
        "autoscaling:DescribeAutoScalingGroups": 1,
    }, counts


def test_release_then_revert_rolls_back_without_baking(fleet):
    assert fleet.apply().returncode == 0
    first_ami = fleet.kiln_images()[0]["ImageId"]

    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
    rc, doc = fleet.plan()
    assert rc == 2 and doc["apps"][0]["bake_needed"] is True
    fleet.emu.reset_requests()
    r = fleet.apply()
    assert r.returncode == 0, r.stdout
    assert fleet.emu.counts().get("imagebuilder:CreateImage") == 1
    amis = {i["ImageId"] for i in fleet.kiln_images()}
    assert len(amis) == 2
    second_ami = (amis - {first_ami}).pop()
    g = fleet.group()
    assert g["LaunchTemplate"]["Version"] == "2"
    described = fleet.ec2.describe_instances(InstanceIds=[i["InstanceId"] for i in g["Instances"]])
    on = {i["ImageId"] for res in described["Reservations"] for i in res["Instances"]}
    assert on == {second_ami}

    git(fleet.root, "revert", "--no-edit", "HEAD")
    rc, doc = fleet.plan()
    assert rc == 2
    assert doc["apps"][0]["bake_needed"] is False  # the old image is reused
    fleet.emu.reset_requests()
    started = time.time()
    r = fleet.apply()
    assert r.returncode == 0, r.stdout
    counts = fleet.emu.counts()
    refresh_at = [e["t"] for e in fleet.emu.requests()["log"]
                  if e["action"] == "StartInstanceRefresh"]
    # Recorded, not asserted: timing belongs to benchmarks.
    print(f"revert: apply start to StartInstanceRefresh {refresh_at[0] - started:.2f}s")
    assert "imagebuilder:CreateImage" not in counts
    assert "ec2:CreateLaunchTemplateVersion" not in counts  # version 1 reused
    assert counts.get("autoscaling:StartInstanceRefresh") == 1
    assert fleet.group()["LaunchTemplate"]["Version"] == "1"
    assert fleet.default_version()["VersionNumber"] == 1


def latest_refresh(fleet, name="hello"):
    return fleet.asg.describe_instance_refreshes(AutoScalingGroupName=name)["InstanceRefreshes"][0]


def test_a_revert_moves_template_and_group_in_one_pass(fleet):
    """A launch template step that lands is followed at once by the group's
    step: one pass makes the old version the default and starts its
    refresh, with one observation of AWS."""
    assert fleet.apply().returncode == 0
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
    assert fleet.apply().returncode == 0
    git(fleet.root, "revert", "--no-edit", "HEAD")
    fleet.emu.reset_requests()
    r = fleet.kiln("apply", "--repo", fleet.root)  # one pass, no --wait
    assert r.returncode == 0, r.stdout + r.stderr
    counts = fleet.emu.counts()
    assert counts.get("ec2:DescribeLaunchTemplates") == 1, counts  # one observation
    assert counts.get("ec2:ModifyLaunchTemplate") == 1, counts
    assert counts.get("autoscaling:StartInstanceRefresh") == 1, counts
    assert "ec2:CreateLaunchTemplateVersion" not in counts
    assert fleet.default_version()["VersionNumber"] == 1
    refresh = latest_refresh(fleet)
    assert refresh["DesiredConfiguration"]["LaunchTemplate"]["Version"] == "1"
    # The apply line says both steps.
    assert "the default of hello; started instance refresh" in r.stdout, r.stdout
    assert fleet.apply().returncode == 0
    assert fleet.group()["LaunchTemplate"]["Version"] == "1"


def test_a_group_step_that_cannot_follow_waits_for_the_next_pass(fleet):
    """When the group's refresh cannot be looked up right after the
    template step, the group's step is left to the next pass: said so, not
    counted as the app's failure, and taken once."""
    assert fleet.apply().returncode == 0
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
    assert fleet.apply().returncode == 0
    git(fleet.root, "revert", "--no-edit", "HEAD")
    fleet.emu.reset_requests()
    fleet.emu.faults({"service": "autoscaling", "action": "DescribeInstanceRefreshes",
                      "kind": "error500", "rate": 1.0, "count": 3})
    env = {**fleet.env, "AWS_MAX_ATTEMPTS": "3"}
    r = run_kiln("apply", "--repo", fleet.root, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "made version 1 the default of hello; the group's step waits for the next " \
           "pass: cannot look up its instance refresh" in r.stdout, r.stdout
    assert "autoscaling:StartInstanceRefresh" not in fleet.emu.counts()
    assert fleet.default_version()["VersionNumber"] == 1
    assert fleet.apply().returncode == 0
    assert fleet.emu.counts().get("autoscaling:StartInstanceRefresh") == 1
    assert fleet.group()["LaunchTemplate"]["Version"] == "1"


def stuck_release(awsemu_factory, tmp_path):
    """A fleet whose release 0.2.0 (launch template version 2) has its
    instance refresh started and stuck before replacing any instance; the
    kiln apply that started it was killed."""
    emu = awsemu_factory(bake_seconds=0.5, refresh_batch_seconds=3600)
    fleet = Fleet(emu, seeded_repo(emu, tmp_path / "repo"), tmp_path)
    assert fleet.apply().returncode == 0
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
    kill_during(fleet, "autoscaling:StartInstanceRefresh")
    from awsemu.testing import wait_until
    wait_until(lambda: latest_refresh(fleet)["Status"] in ("Pending", "InProgress"),
               timeout=30, what="the release's refresh running")
    return fleet, latest_refresh(fleet)["InstanceRefreshId"]


def refresh_status(fleet, refresh_id):
    return [x["Status"] for x in fleet.asg.describe_instance_refreshes(
        AutoScalingGroupName="hello")["InstanceRefreshes"] if x["InstanceRefreshId"] == refresh_id][0]


def converge_back_to_version_1(fleet, rolling):
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    # AWS ends a cancel when the batch in flight is done; the group keeps
    # its configuration either way.
    assert refresh_status(fleet, rolling) in ("Cancelling", "Cancelled")
    g = fleet.group()
    assert g["LaunchTemplate"]["Version"] == "1"
    assert {i["LaunchTemplate"]["Version"] for i in g["Instances"]} == {"1"}
    assert_steady(fleet)


def test_a_revert_during_the_rollout_cancels_it_in_the_same_pass(awsemu_factory, tmp_path):
    """Reverting while the release's refresh has not replaced any instance
    yet: the pass that makes the old version the default cancels that
    refresh at once (AWS allows one refresh at a time), and the group never
    goes to the reverted version."""
    fleet, rolling = stuck_release(awsemu_factory, tmp_path)
    git(fleet.root, "revert", "--no-edit", "HEAD")
    fleet.emu.reset_requests()
    r = fleet.kiln("apply", "--repo", fleet.root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert fleet.default_version()["VersionNumber"] == 1
    assert fleet.emu.counts().get("autoscaling:CancelInstanceRefresh") == 1
    assert refresh_status(fleet, rolling) in ("Cancelling", "Cancelled")
    assert "cancelled instance refresh " + rolling in r.stdout, r.stdout
    converge_back_to_version_1(fleet, rolling)


def test_a_refresh_no_instance_shows_yet_is_found_by_a_later_pass(awsemu_factory, tmp_path):
    """The same revert, with Kiln stopped right after its template step
    (simulated: the step's changes made by hand, as Kiln makes them). Group
    and instances look in sync, but the group's kiln:version tag says Kiln
    sent it to version 2: a fresh pass looks, finds the refresh and cancels
    it."""
    fleet, rolling = stuck_release(awsemu_factory, tmp_path)
    assert fleet.group()["LaunchTemplate"]["Version"] == "1"
    git(fleet.root, "revert", "--no-edit", "HEAD")
    lt = fleet.default_version()["LaunchTemplateId"]
    fleet.ec2.modify_launch_template(LaunchTemplateId=lt, DefaultVersion="1")
    fleet.ec2.create_tags(Resources=[lt], Tags=[
        {"Key": "kiln:version", "Value": "1"},
        {"Key": "kiln:commit", "Value": git(fleet.root, "rev-parse", "HEAD")}])
    rc, doc = fleet.plan()
    assert rc == 2, doc
    assert [a["type"] for a in doc["apps"][0]["actions"]] == ["cancel-refresh"], doc
    assert doc["apps"][0]["actions"][0]["refresh_id"] == rolling
    converge_back_to_version_1(fleet, rolling)


def test_apps_sharing_image_inputs_share_one_bake_and_its_polling(fleet):
    for name in ("twin1", "twin2", "twin3"):
        twin = fleet.root / "apps" / name
        shutil.copytree(fleet.root / "apps" / "hello", twin)
        spec = twin / "app.yaml"
        spec.write_text(spec.read_text().replace("name: hello", f"name: {name}", 1))
    git(fleet.root, "add", "-A")
    git(fleet.root, "commit", "-qm", "twin")
    fleet.emu.reset_requests()
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    counts = fleet.emu.counts()
    assert counts["imagebuilder:CreateImage"] == 1
    # One look at the shared bake per pass (one DescribeImages each), not
    # one per app.
    assert 0 < counts["imagebuilder:GetImage"] <= counts["ec2:DescribeImages"]
    ami = fleet.default_version()["LaunchTemplateData"]["ImageId"]
    for name in ("twin1", "twin2", "twin3"):
        assert fleet.default_version(name)["LaunchTemplateData"]["ImageId"] == ami


def test_a_group_scaled_to_zero_is_released_without_a_refresh(fleet):
    fleet.edit("  desired: 1", "  desired: 0", message="scale to zero")
    assert fleet.apply().returncode == 0
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release")
    fleet.emu.reset_requests()
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    # Nothing to replace: the group names the new version, no refresh runs.
    assert "autoscaling:StartInstanceRefresh" not in fleet.emu.counts()
    assert fleet.group()["LaunchTemplate"]["Version"] == str(fleet.default_version()["VersionNumber"])


def test_out_of_band_change_is_reported_then_corrected(fleet):
    assert fleet.apply().returncode == 0
    fleet.asg.update_auto_scaling_group(AutoScalingGroupName="hello", MaxSize=7)
    rc, doc = fleet.plan()
    assert rc == 2
    app = doc["apps"][0]
    assert app["status"] == "drifted"
    assert {"field": "autoscaling.max", "desired": "3", "actual": "7",
            "cause": "out-of-band"} in app["drift"]
    assert fleet.apply().returncode == 0
    assert fleet.group()["MaxSize"] == 3


def test_git_change_is_reported_as_commit(fleet):
    assert fleet.apply().returncode == 0
    fleet.edit("  max: 3", "  max: 5", message="room to grow")
    rc, doc = fleet.plan()
    assert rc == 2
    app = doc["apps"][0]
    assert app["status"] == "pending"
    assert {"field": "autoscaling.max", "desired": "5", "actual": "3",
            "cause": "commit"} in app["drift"]


def test_report_mode_never_changes_aws(fleet):
    fleet.edit("drift: correct", "drift: report")
    fleet.emu.reset_requests()
    r = fleet.apply()
    assert r.returncode == 0, r.stdout
    writes = [k for k in fleet.emu.counts() if not k.split(":")[1].startswith(("Describe", "Get", "List"))]
    assert writes == []
    assert fleet.kiln_images() == []


@pytest.mark.parametrize("kind,words", [("bake-fail", "fault"),
                                        ("bake-cancel", "cancelled"),
                                        ("bake-disable", "DISABLED")])
def test_failed_bake_is_reported_and_not_retried(fleet, kind, words):
    # Every way Image Builder ends a build without an AMI (a DISABLED image
    # once looked like a bake that never ends) fails the release.
    fleet.emu.faults({"service": "imagebuilder", "action": "CreateImage", "kind": kind})
    r = fleet.apply()
    assert r.returncode == 1, r.stdout
    assert "bake of image" in r.stdout and "failed" in r.stdout
    assert words in r.stdout, r.stdout
    assert fleet.kiln_images() == []
    assert fleet.group() is None


def assert_steady(fleet):
    """In sync, and a pass is the few batched reads of steady state: no
    bookkeeping left behind costs a look at the group's refresh."""
    fleet.emu.reset_requests()
    rc, doc = fleet.plan()
    assert rc == 0, doc
    assert "autoscaling:DescribeInstanceRefreshes" not in fleet.emu.counts(), fleet.emu.counts()


def test_failed_refresh_marks_the_release_failed(fleet):
    assert fleet.apply().returncode == 0
    fleet.emu.faults({"service": "autoscaling", "action": "StartInstanceRefresh",
                      "kind": "refresh-fail"})
    fleet.edit('version: "0.1.0"', 'version: "0.3.0"', message="bad release")
    r = fleet.apply()
    assert r.returncode == 1, r.stdout
    assert "release of launch template version 2 failed" in r.stdout
    # AWS rolled the group back; Kiln does not try the same release again.
    fleet.emu.reset_requests()
    r = fleet.apply()
    assert r.returncode == 1
    assert "autoscaling:StartInstanceRefresh" not in fleet.emu.counts()
    assert fleet.group()["LaunchTemplate"]["Version"] == "1"
    # Reverting the failed release: the group already serves version 1.
    fleet.emu.clear_faults()
    git(fleet.root, "revert", "--no-edit", "HEAD")
    fleet.emu.reset_requests()
    r = fleet.apply()
    assert r.returncode == 0, r.stdout
    assert "autoscaling:StartInstanceRefresh" not in fleet.emu.counts()
    assert fleet.default_version()["VersionNumber"] == 1
    assert_steady(fleet)


def test_an_invalid_app_never_stops_the_others(fleet):
    shutil.copytree(fleet.root / "apps/hello", fleet.root / "apps/broken")
    p = fleet.root / "apps/broken/app.yaml"
    p.write_text(p.read_text().replace("name: hello", "name: broken").replace("  min: 0", "  min: 9"))
    git(fleet.root, "add", "-A")
    git(fleet.root, "commit", "-qm", "add a broken app")
    r = fleet.apply()
    assert r.returncode == 1
    assert "broken: error: the app's spec is invalid" in r.stdout
    assert fleet.group("hello") is not None
    assert fleet.group("broken") is None


def test_throttling_is_absorbed(fleet):
    fleet.emu.faults({"service": "ec2", "action": "*", "kind": "throttle", "rate": 0.3})
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    assert fleet.group() is not None


@pytest.mark.parametrize("value", ["fast", "0", "1.5", "-1", "0.5x", "nan", "inf", "1e-300"])
def test_a_bad_rate_limit_setting_is_refused_before_any_request(fleet, value):
    fleet.emu.reset_requests()
    r = run_kiln("plan", "--repo", fleet.root, env={**fleet.env, "KILN_AWS_RATE_LIMIT": value})
    assert r.returncode == 1
    assert 'KILN_AWS_RATE_LIMIT must be "off" or a share' in r.stderr
    assert f'not "{value}"' in r.stderr
    assert fleet.emu.counts() == {}


def test_a_share_of_the_rate_limit_still_converges(fleet):
    r = run_kiln("apply", "--repo", fleet.root, "--wait", "--timeout", "90s",
                 "--interval", "500ms", env={**fleet.env, "KILN_AWS_RATE_LIMIT": "0.25"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert fleet.group() is not None


def test_no_credentials_is_a_clear_error(fleet):
    env = {k: v for k, v in fleet.env.items() if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    r = run_kiln("plan", "--repo", fleet.root, env=env)
    assert r.returncode == 1
    assert "credentials" in (r.stdout + r.stderr).lower()


def test_capacity_only_change_neither_bakes_nor_refreshes(fleet):
    assert fleet.apply().returncode == 0
    fleet.edit("  desired: 1", "  desired: 2", message="scale out")
    rc, doc = fleet.plan()
    assert rc == 2 and doc["apps"][0]["bake_needed"] is False
    fleet.emu.reset_requests()
    assert fleet.apply().returncode == 0
    counts = fleet.emu.counts()
    for write in ("imagebuilder:CreateImage", "ec2:CreateLaunchTemplateVersion",
                  "autoscaling:StartInstanceRefresh"):
        assert write not in counts, counts
    assert counts.get("autoscaling:UpdateAutoScalingGroup") == 1
    assert fleet.group()["DesiredCapacity"] == 2


def drift_of(doc, field):
    return [d for d in doc["apps"][0]["drift"] if d["field"] == field]


def test_out_of_band_changes_are_reported_and_corrected(fleet):
    assert fleet.apply().returncode == 0
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
    assert fleet.apply().returncode == 0
    lt_id = fleet.default_version()["LaunchTemplateId"]

    # Desired capacity, the default version and the group's version, by hand.
    fleet.asg.set_desired_capacity(AutoScalingGroupName="hello", DesiredCapacity=2)
    fleet.ec2.modify_launch_template(LaunchTemplateId=lt_id, DefaultVersion="1")
    fleet.asg.update_auto_scaling_group(
        AutoScalingGroupName="hello",
        LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "1"})
    rc, doc = fleet.plan()
    assert rc == 2 and doc["apps"][0]["status"] == "drifted", json.dumps(doc["apps"][0]["drift"])
    for field in ("autoscaling.desired", "launchTemplate.imageId"):
        found = drift_of(doc, field)
        assert found and all(d["cause"] == "out-of-band" for d in found), (field, doc)

    assert fleet.apply().returncode == 0
    assert fleet.group()["DesiredCapacity"] == 1
    assert fleet.default_version()["VersionNumber"] == 2
    rc, doc = fleet.plan()
    assert rc == 0, doc
    # With the default back, the group's version alone is out-of-band too.
    fleet.asg.update_auto_scaling_group(
        AutoScalingGroupName="hello",
        LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "1"})
    rc, doc = fleet.plan()
    found = drift_of(doc, "autoscaling.launchTemplateVersion")
    assert found and found[0]["cause"] == "out-of-band", doc
    assert fleet.apply().returncode == 0
    assert fleet.group()["LaunchTemplate"]["Version"] == "2"


def test_deleted_ami_is_out_of_band_and_baked_again(fleet):
    assert fleet.apply().returncode == 0
    ami = fleet.kiln_images()[0]["ImageId"]
    fleet.ec2.deregister_image(ImageId=ami)
    rc, doc = fleet.plan()
    assert rc == 2
    found = drift_of(doc, "image.digest")
    assert found and found[0]["cause"] == "out-of-band", doc
    assert fleet.apply().returncode == 0
    images = fleet.kiln_images()
    assert len(images) == 1 and images[0]["ImageId"] != ami
    assert fleet.default_version()["LaunchTemplateData"]["ImageId"] == images[0]["ImageId"]


def test_report_mode_reports_out_of_band_but_keeps_it(fleet):
    assert fleet.apply().returncode == 0
    fleet.edit("drift: correct", "drift: report")
    fleet.asg.update_auto_scaling_group(AutoScalingGroupName="hello", MaxSize=7)
    rc, doc = fleet.plan()
    assert rc == 2
    assert drift_of(doc, "autoscaling.max")[0]["cause"] == "out-of-band"
    assert fleet.apply().returncode == 0
    assert fleet.group()["MaxSize"] == 7


def test_throttling_and_500s_converge_without_duplicates(fleet):
    fleet.emu.faults({"service": "*", "action": "*", "kind": "throttle", "rate": 0.3},
                     {"service": "*", "action": "*", "kind": "error500", "rate": 0.05})
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release under faults")
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    fleet.emu.clear_faults()
    ib = fleet.emu.client("imagebuilder")
    builds = [v for img in ib.list_images(owner="Self")["imageVersionList"]
              for v in ib.list_image_build_versions(imageVersionArn=img["arn"])["imageSummaryList"]]
    assert len(builds) == 2, builds  # one per release, never twice
    versions = fleet.ec2.describe_launch_template_versions(LaunchTemplateName="hello")
    assert len(versions["LaunchTemplateVersions"]) == 2
    refreshes = fleet.asg.describe_instance_refreshes(AutoScalingGroupName="hello")
    log = [(e["action"], e["status"]) for e in fleet.emu.requests()["log"]
           if e["service"] == "autoscaling" and not e["action"].startswith("Describe")]
    assert len(refreshes["InstanceRefreshes"]) == 1, (r.stdout, log)


def kill_during(fleet, action):
    """Starts kiln apply --wait, SIGKILLs it right after `action` was called."""
    fleet.emu.reset_requests()
    proc = subprocess.Popen(
        [os.environ.get("KILN_BIN", "build/controller/kiln"), "apply", "--repo", str(fleet.root),
         "--wait", "--timeout", "90s", "--interval", "500ms"],
        env=fleet.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from awsemu.testing import wait_until
        wait_until(lambda: action in fleet.emu.counts(), timeout=60, what=action)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_sigkill_during_bake_and_refresh_never_repeats_them(awsemu_factory, tmp_path, fleet):
    ib = fleet.emu.client("imagebuilder")
    kill_during(fleet, "imagebuilder:CreateImage")
    r = fleet.apply()
    assert r.returncode == 0, r.stdout
    builds = [v for img in ib.list_images(owner="Self")["imageVersionList"]
              for v in ib.list_image_build_versions(imageVersionArn=img["arn"])["imageSummaryList"]]
    assert len(builds) == 1, builds

    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
    kill_during(fleet, "autoscaling:StartInstanceRefresh")
    r = fleet.apply()
    assert r.returncode == 0, r.stdout
    refreshes = fleet.asg.describe_instance_refreshes(AutoScalingGroupName="hello")
    assert len(refreshes["InstanceRefreshes"]) == 1
    assert fleet.group()["LaunchTemplate"]["Version"] == "2"


def test_failed_bake_of_a_release_leaves_the_previous_one_serving(fleet):
    assert fleet.apply().returncode == 0
    first_ami = fleet.kiln_images()[0]["ImageId"]
    fleet.emu.faults({"service": "imagebuilder", "action": "CreateImage", "kind": "bake-fail"})
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release that cannot bake")
    r = fleet.apply()
    assert r.returncode == 1
    assert "bake of image" in r.stdout and "failed" in r.stdout
    assert [i["ImageId"] for i in fleet.kiln_images()] == [first_ami]
    g = fleet.group()
    assert g["LaunchTemplate"]["Version"] == "1"
    assert fleet.default_version()["LaunchTemplateData"]["ImageId"] == first_ami


def test_an_aws_error_in_one_app_never_stops_the_others(fleet):
    shutil.copytree(fleet.root / "apps/hello", fleet.root / "apps/lost")
    p = fleet.root / "apps/lost/app.yaml"
    text = p.read_text().replace("name: hello", "name: lost")
    # A subnet of the right form that does not exist: AWS refuses the group.
    import re
    text = re.sub(r"subnets: \[[^\]]*\]", "subnets: [subnet-0123456789abcdef0]", text)
    p.write_text(text)
    git(fleet.root, "add", "-A")
    git(fleet.root, "commit", "-qm", "an app in a subnet that does not exist")
    r = fleet.apply()
    assert r.returncode == 1, r.stdout
    assert fleet.group("hello") is not None
    assert fleet.group("lost") is None
    assert "lost: create-group failed" in r.stdout, r.stdout
