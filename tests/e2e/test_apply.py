"""kiln plan and kiln apply against tests/awsemu, judged through boto3.

Each test gets a fresh emulator (a clean account) and a git repository made
from seed-repo, with the subnets and security group of the emulator's
default VPC.
"""
import json
import os
import shutil
import subprocess

import pytest

from kiln_cli import SEED_REPO, run_kiln

APP = "apps/hello/app.yaml"


def git(root, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return subprocess.run(["git", "-C", str(root), *args], check=True,
                          capture_output=True, text=True, env=env).stdout.strip()


class Fleet:
    """A desired-state repository wired to one emulator."""

    def __init__(self, emu, root, tmp_path):
        self.emu = emu
        self.root = root
        self.env = {**os.environ, **emu.env, "KILN_CACHE_DIR": str(tmp_path / "cache")}
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
    ec2 = emu.client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    sg = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    root = tmp_path / "repo"
    shutil.copytree(SEED_REPO, root)
    p = root / APP
    text = p.read_text()
    text = text.replace("subnet-0a1b2c3d4e5f60718, subnet-0f1e2d3c4b5a69788", ", ".join(subnets))
    text = text.replace("sg-0a1b2c3d4e5f60718", sg)
    p.write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "seed")
    return Fleet(emu, root, tmp_path)


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
        "ec2:DescribeLaunchTemplateVersions": 1,
        "autoscaling:DescribeAutoScalingGroups": 1,
    }, counts


def test_release_then_revert_rolls_back_without_baking(fleet):
    assert fleet.apply().returncode == 0
    first_ami = fleet.kiln_images()[0]["ImageId"]

    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
    r = fleet.apply()
    assert r.returncode == 0, r.stdout
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
    r = fleet.apply()
    assert r.returncode == 0, r.stdout
    counts = fleet.emu.counts()
    assert "imagebuilder:CreateImage" not in counts
    assert "ec2:CreateLaunchTemplateVersion" not in counts  # version 1 reused
    assert counts.get("autoscaling:StartInstanceRefresh") == 1
    assert fleet.group()["LaunchTemplate"]["Version"] == "1"
    assert fleet.default_version()["VersionNumber"] == 1


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


def test_failed_bake_is_reported_and_not_retried(fleet):
    fleet.emu.faults({"service": "imagebuilder", "action": "CreateImage", "kind": "bake-fail"})
    r = fleet.apply()
    assert r.returncode == 1
    assert "bake of image" in r.stdout and "failed" in r.stdout
    assert fleet.kiln_images() == []
    assert fleet.group() is None


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


def test_no_credentials_is_a_clear_error(fleet):
    env = {k: v for k, v in fleet.env.items() if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    r = run_kiln("plan", "--repo", fleet.root, env=env)
    assert r.returncode == 1
    assert "credentials" in (r.stdout + r.stderr).lower()
