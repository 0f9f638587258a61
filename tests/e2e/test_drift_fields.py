"""Every field Kiln sets from git is compared (README, "Drift: every field").

One apply of the seed app, then per field: change that one field by hand
through boto3, expect `kiln plan --format json` to report out-of-band drift
for exactly that field, then `kiln apply` to put it back (judged through
boto3) and the plan to be in sync again.
"""
import base64
import json
import os

import pytest

from awsemu.testing import AwsEmu
from kiln_cli import git, run_kiln, seeded_repo

APP = "apps/hello/app.yaml"


class Fleet:
    def __init__(self, emu, root, tmp):
        self.emu, self.root = emu, root
        self.env = {**os.environ, **emu.env, "KILN_CACHE_DIR": str(tmp / "cache"),
                    "KILN_STATE_DIR": str(tmp / "state")}
        self.ec2 = emu.client("ec2")
        self.asg = emu.client("autoscaling")

    def plan(self):
        r = run_kiln("plan", "--repo", self.root, "--format", "json", env=self.env)
        assert r.returncode in (0, 2), r.stdout + r.stderr
        return r.returncode, json.loads(r.stdout)["apps"][0]

    def apply(self):
        r = run_kiln("apply", "--repo", self.root, "--wait", "--timeout", "60s",
                     "--interval", "300ms", env=self.env, timeout=90)
        assert r.returncode == 0, r.stdout + r.stderr
        return r

    def edit(self, old, new, path=APP):
        p = self.root / path
        assert old in p.read_text(), old
        p.write_text(p.read_text().replace(old, new, 1))
        git(self.root, "commit", "-qam", f"{old} -> {new}")

    def group(self):
        return self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["hello"])["AutoScalingGroups"][0]

    def group_tags(self):
        return {t["Key"]: t["Value"] for t in self.group()["Tags"]}

    def default_version(self):
        return self.ec2.describe_launch_template_versions(
            LaunchTemplateName="hello", Versions=["$Default"])["LaunchTemplateVersions"][0]

    def make_default_by_hand(self, change):
        """A version made outside Kiln from the default's data with one
        change, made the default."""
        v = self.default_version()
        data = json.loads(json.dumps(v["LaunchTemplateData"]))
        change(data)
        new = self.ec2.create_launch_template_version(
            LaunchTemplateId=v["LaunchTemplateId"], LaunchTemplateData=data,
            VersionDescription="by hand")["LaunchTemplateVersion"]
        self.ec2.modify_launch_template(LaunchTemplateId=v["LaunchTemplateId"],
                                        DefaultVersion=str(new["VersionNumber"]))
        return new


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    emu = AwsEmu(bake_seconds=0.5, refresh_batch_seconds=0.2)
    try:
        tmp = tmp_path_factory.mktemp("drift")
        f = Fleet(emu, seeded_repo(emu, tmp / "repo"), tmp)
        f.apply()
        rc, app = f.plan()
        assert rc == 0 and app["drift"] == [], app
        yield f
    finally:
        emu.stop()


def other_ami(f):
    mine = f.default_version()["LaunchTemplateData"]["ImageId"]
    return next(i["ImageId"] for i in f.ec2.describe_images()["Images"] if i["ImageId"] != mine)


def other_sg(f):
    vpc = f.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    groups = f.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["drift-test"]}])
    if groups["SecurityGroups"]:
        return groups["SecurityGroups"][0]["GroupId"]
    return f.ec2.create_security_group(GroupName="drift-test", Description="x", VpcId=vpc)["GroupId"]


def instance_tags(data):
    return next(s for s in data["TagSpecifications"] if s["ResourceType"] == "instance")["Tags"]


def set_instance_tag(data, key, value):
    tags = instance_tags(data)
    for t in tags:
        if t["Key"] == key:
            t["Value"] = value


def fold_instance_tags(data):
    """Application="hello,CostCenter=1234" and no CostCenter: joined as
    k=v with commas, the very string of git's tags."""
    set_instance_tag(data, "Application", "hello,CostCenter=1234")
    spec = next(s for s in data["TagSpecifications"] if s["ResourceType"] == "instance")
    spec["Tags"] = [t for t in spec["Tags"] if t["Key"] != "CostCenter"]


# The launch template's managed fields: (drift field, change to the $Default
# version's data, what that data must hold again once Kiln put it back).
LT_FIELDS = [
    ("launchTemplate.imageId",
     lambda f, d: d.update(ImageId=other_ami(f)), lambda d: d["ImageId"]),
    ("launchTemplate.instanceType",
     lambda f, d: d.update(InstanceType="t3.large"), lambda d: d["InstanceType"]),
    ("launchTemplate.userData",
     lambda f, d: d.update(UserData=base64.b64encode(b"#!/bin/sh\necho hand\n").decode()),
     lambda d: d["UserData"]),
    ("launchTemplate.securityGroups",
     lambda f, d: d.update(SecurityGroupIds=[other_sg(f)]), lambda d: d["SecurityGroupIds"]),
    ("launchTemplate.instanceProfile",
     lambda f, d: d.update(IamInstanceProfile={"Name": "someone-else"}),
     lambda d: d["IamInstanceProfile"]),
    ("launchTemplate.blockDevices",
     lambda f, d: d["BlockDeviceMappings"][0]["Ebs"].update(VolumeSize=16),
     lambda d: d["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"]),
    ("launchTemplate.metadata.httpTokens",
     lambda f, d: d["MetadataOptions"].update(HttpTokens="optional"),
     lambda d: d["MetadataOptions"]["HttpTokens"]),
    ("launchTemplate.metadata.hopLimit",
     lambda f, d: d["MetadataOptions"].update(HttpPutResponseHopLimit=5),
     lambda d: d["MetadataOptions"]["HttpPutResponseHopLimit"]),
    ("launchTemplate.metadata.httpEndpoint",
     lambda f, d: d["MetadataOptions"].update(HttpEndpoint="disabled"),
     lambda d: d["MetadataOptions"]["HttpEndpoint"]),
    # A value holding "," and "=" is one tag, not two.
    ("launchTemplate.tags", lambda f, d: fold_instance_tags(d),
     lambda d: sorted((t["Key"], t["Value"]) for t in instance_tags(d))),
]


def assert_only_out_of_band(app, field):
    assert app["status"] == "drifted", app
    assert [d["field"] for d in app["drift"]] == [field], app["drift"]
    assert app["drift"][0]["cause"] == "out-of-band", app["drift"]


def assert_back_in_sync(f):
    rc, app = f.plan()
    assert rc == 0 and app["drift"] == [], app


@pytest.mark.parametrize("field,change,value", LT_FIELDS, ids=[x[0] for x in LT_FIELDS])
def test_launch_template_field(fleet, field, change, value):
    before = fleet.default_version()
    fleet.make_default_by_hand(lambda d: change(fleet, d))
    assert value(fleet.default_version()["LaunchTemplateData"]) != value(before["LaunchTemplateData"])
    rc, app = fleet.plan()
    assert rc == 2
    assert_only_out_of_band(app, field)
    fleet.apply()
    after = fleet.default_version()
    assert after["VersionNumber"] == before["VersionNumber"]  # Kiln's own version again
    assert value(after["LaunchTemplateData"]) == value(before["LaunchTemplateData"])
    assert_back_in_sync(fleet)


def test_launch_template_tags_are_a_json_object(fleet):
    fleet.make_default_by_hand(fold_instance_tags)
    _, app = fleet.plan()
    d = app["drift"][0]
    assert d["desired"]["Application"] == "hello" and d["desired"]["CostCenter"] == "1234"
    assert d["actual"]["Application"] == "hello,CostCenter=1234" and "CostCenter" not in d["actual"]
    fleet.apply()
    assert_back_in_sync(fleet)


def hand_version(f):
    """A version made by hand, not the default."""
    v = f.default_version()
    return f.ec2.create_launch_template_version(
        LaunchTemplateId=v["LaunchTemplateId"], LaunchTemplateData=v["LaunchTemplateData"],
        VersionDescription="by hand")["LaunchTemplateVersion"]


def move_group_version(f):
    v = hand_version(f)
    f.asg.update_auto_scaling_group(AutoScalingGroupName="hello", LaunchTemplate={
        "LaunchTemplateId": v["LaunchTemplateId"], "Version": str(v["VersionNumber"])})


def fold_group_tags(f):
    """CostCenter="1234,Owner=platform" and no Owner."""
    set_tag(f, "CostCenter", "1234,Owner=platform")
    f.asg.delete_tags(Tags=[{"ResourceId": "hello", "ResourceType": "auto-scaling-group", "Key": "Owner"}])


def set_tag(f, key, value):
    f.asg.create_or_update_tags(Tags=[{"ResourceId": "hello", "ResourceType": "auto-scaling-group",
                                       "Key": key, "Value": value, "PropagateAtLaunch": True}])


# The group's managed fields: (drift field, change by hand, what the group
# must hold again once Kiln put it back).
GROUP_FIELDS = [
    ("autoscaling.min",
     lambda f: f.asg.update_auto_scaling_group(AutoScalingGroupName="hello", MinSize=1),
     lambda f: f.group()["MinSize"]),
    ("autoscaling.max",
     lambda f: f.asg.update_auto_scaling_group(AutoScalingGroupName="hello", MaxSize=5),
     lambda f: f.group()["MaxSize"]),
    ("autoscaling.desired",
     lambda f: f.asg.set_desired_capacity(AutoScalingGroupName="hello", DesiredCapacity=2),
     lambda f: f.group()["DesiredCapacity"]),
    ("autoscaling.subnets",
     lambda f: f.asg.update_auto_scaling_group(
         AutoScalingGroupName="hello", VPCZoneIdentifier=f.group()["VPCZoneIdentifier"].split(",")[0]),
     lambda f: sorted(f.group()["VPCZoneIdentifier"].split(","))),
    ("autoscaling.launchTemplateVersion", move_group_version,
     lambda f: f.group()["LaunchTemplate"]["Version"]),
    # kiln.yaml's tags, on the group: a value with "," and "=" is one tag.
    ("autoscaling.tags", fold_group_tags,
     lambda f: {k: v for k, v in f.group_tags().items() if not k.startswith("kiln:")}),
]


@pytest.mark.parametrize("field,change,value", GROUP_FIELDS, ids=[x[0] for x in GROUP_FIELDS])
def test_group_field(fleet, field, change, value):
    before = value(fleet)
    change(fleet)
    assert value(fleet) != before
    rc, app = fleet.plan()
    assert rc == 2
    assert_only_out_of_band(app, field)
    fleet.apply()
    assert value(fleet) == before
    assert_back_in_sync(fleet)


def test_group_tags_kiln_does_not_own_are_left_alone(fleet):
    """A tag Kiln never set is no drift and survives a correction; kiln:*
    tags are bookkeeping, not user drift."""
    set_tag(fleet, "Team", "search")
    set_tag(fleet, "Owner", "someone")
    rc, app = fleet.plan()
    assert_only_out_of_band(app, "autoscaling.tags")
    assert app["drift"][0]["desired"] == {"Owner": "platform", "CostCenter": "1234"}
    assert app["drift"][0]["actual"] == {"Owner": "someone", "CostCenter": "1234"}
    fleet.apply()
    tags = fleet.group_tags()
    assert tags["Owner"] == "platform" and tags["Team"] == "search"
    assert_back_in_sync(fleet)


def test_a_tag_removed_from_git_is_deleted_only_while_it_is_kilns(fleet):
    # CostCenter leaves git: Kiln set it at the commit it last applied and
    # nobody changed it since, so it is Kiln's to delete.
    fleet.edit('  CostCenter: "1234"\n', "", path="kiln.yaml")
    rc, app = fleet.plan()
    assert rc == 2
    tags_drift = [d for d in app["drift"] if d["field"] == "autoscaling.tags"]
    assert tags_drift and tags_drift[0]["cause"] == "commit", app["drift"]
    assert tags_drift[0]["actual"] == {"Owner": "platform", "CostCenter": "1234"}
    fleet.apply()
    assert "CostCenter" not in fleet.group_tags()
    assert "Team" in fleet.group_tags()  # never Kiln's
    assert_back_in_sync(fleet)

    # Owner leaves git after someone changed it by hand: Kiln cannot tell
    # it is still its own, so it reports it and leaves it.
    set_tag(fleet, "Owner", "ops")
    fleet.edit("tags:\n  Owner: platform\n", "", path="kiln.yaml")
    rc, app = fleet.plan()
    tags_drift = [d for d in app["drift"] if d["field"] == "autoscaling.tags"]
    assert tags_drift and tags_drift[0]["cause"] == "out-of-band", app["drift"]
    assert tags_drift[0]["actual"] == {"Owner": "ops"}
    fleet.apply()
    assert fleet.group_tags()["Owner"] == "ops"
    assert_back_in_sync(fleet)


def template_tags(fleet):
    lt = fleet.ec2.describe_launch_templates(LaunchTemplateNames=["hello"])["LaunchTemplates"][0]
    return lt["LaunchTemplateId"], {t["Key"]: t["Value"] for t in lt.get("Tags", [])}


def test_launch_template_resource_tags(fleet):
    """kiln.yaml's tags on the launch template resource itself: a value
    changed by hand is out-of-band drift and put back; a tag Kiln never set
    is left alone."""
    if "Owner: platform" not in (fleet.root / "kiln.yaml").read_text():
        fleet.edit("region: us-east-1\n", "region: us-east-1\ntags:\n  Owner: platform\n",
                   path="kiln.yaml")
        fleet.apply()
    lt, before = template_tags(fleet)
    assert before["Owner"] == "platform"
    fleet.ec2.create_tags(Resources=[lt], Tags=[{"Key": "Owner", "Value": "someone"},
                                                {"Key": "Team", "Value": "theirs"}])
    rc, app = fleet.plan()
    assert rc == 2
    assert_only_out_of_band(app, "launchTemplate.templateTags")
    assert app["drift"][0]["actual"]["Owner"] == "someone"
    fleet.apply()
    _, after = template_tags(fleet)
    assert after["Owner"] == "platform" and after["Team"] == "theirs"
    assert_back_in_sync(fleet)
    fleet.ec2.delete_tags(Resources=[lt], Tags=[{"Key": "Team"}])
