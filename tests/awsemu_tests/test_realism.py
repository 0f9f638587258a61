"""AWS's timing and failures: refreshes that wait for warmup under
--time-scale, launches that fail as Auto Scaling activities."""

import time

import botocore.exceptions
import pytest

from awsemu.testing import AwsEmu, wait_until
from .helpers import group, group_with_template, public_amis, unique

TERMINAL = ("Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed")


@pytest.fixture(scope="module")
def aws_timed():
    """AWS's refresh timing (no --refresh-batch-seconds), two AWS minutes per
    emulator second."""
    emu = AwsEmu(refresh_batch_seconds=None, time_scale=120)
    yield emu
    emu.stop()


def record(emu, name, refresh_id, timeout=30):
    """Polls the refresh and the group until the refresh ends; returns the
    distinct (status, sorted instance versions) states in order, each with
    the emulator-clock second it was first seen."""
    asg = emu.client("autoscaling")
    seen = []
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        r = asg.describe_instance_refreshes(AutoScalingGroupName=name,
                                            InstanceRefreshIds=[refresh_id])[
            "InstanceRefreshes"][0]
        state = (r["Status"], tuple(sorted(i["LaunchTemplate"]["Version"]
                                           for i in group(emu, name)["Instances"])))
        if not seen or seen[-1][1] != state:
            seen.append((time.monotonic() - t0, state))
        if r["Status"] in TERMINAL:
            return seen, r
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)


def start(emu, name, lt_id, version="2", **prefs):
    return emu.client("autoscaling").start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt_id,
                                                 "Version": version}},
        Preferences=prefs)["InstanceRefreshId"]


def test_warmup_paces_the_batches_under_time_scale(aws_timed):
    emu = aws_timed
    name, lt_id, _ = group_with_template(emu, capacity=2)
    # One instance at a time, 120 AWS seconds of warmup each: 1 s apart.
    refresh_id = start(emu, name, lt_id, MinHealthyPercentage=50, InstanceWarmup=120)
    seen, done = record(emu, name, refresh_id)
    states = [s for _, s in seen]
    assert states[-1] == ("Successful", ("2", "2"))
    assert ("InProgress", ("1", "2")) in states
    when = {s: t for t, s in seen}
    gap = when[("Successful", ("2", "2"))] - when[("InProgress", ("1", "2"))]
    assert 0.85 <= gap <= 3.0, seen
    assert done["Preferences"]["InstanceWarmup"] == 120


def test_warmup_falls_back_to_the_health_check_grace_period(aws_timed):
    emu = aws_timed
    name, lt_id, _ = group_with_template(emu, capacity=2)
    emu.client("autoscaling").update_auto_scaling_group(AutoScalingGroupName=name,
                                                        HealthCheckGracePeriod=60)
    refresh_id = start(emu, name, lt_id, MinHealthyPercentage=50)
    seen, _ = record(emu, name, refresh_id)
    when = {s: t for t, s in seen}
    gap = when[("Successful", ("2", "2"))] - when[("InProgress", ("1", "2"))]
    assert 0.4 <= gap <= 2.0, seen  # 60 AWS s = 0.5 s; not the 300 s default (2.5 s)


def activities(emu, name):
    return emu.client("autoscaling").describe_scaling_activities(
        AutoScalingGroupName=name)["Activities"]


def statuses(seen):
    out = []
    for _, (status, _) in seen:
        if not out or out[-1] != status:
            out.append(status)
    return out


def is_subsequence(seen, documented):
    it = iter(documented)
    return all(s in it for s in seen)


def test_a_group_whose_ami_does_not_exist_has_a_failed_activity_and_no_instance(awsemu):
    ec2, asg = awsemu.client("ec2"), awsemu.client("autoscaling")
    name = unique("noami")
    lt = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "ImageId": "ami-0123456789abcdef0", "InstanceType": "t3.micro"})["LaunchTemplate"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=4, DesiredCapacity=2,
        AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "1"})
    assert group(awsemu, name)["Instances"] == []
    acts = activities(awsemu, name)
    assert [a["StatusCode"] for a in acts] == ["Failed"]
    assert acts[0]["StatusMessage"] == ("The image id '[ami-0123456789abcdef0]' does not "
                                        "exist. Launching EC2 instance failed.")
    assert acts[0]["Description"].startswith("Launching a new EC2 instance.  Status Reason: ")
    assert "increasing the capacity from 0 to 2" in acts[0]["Cause"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_scaling_activities(AutoScalingGroupName=name, MaxRecords=0)
    assert e.value.response["Error"]["Code"] == "ValidationError"


def test_a_subnet_out_of_addresses_fails_the_scale_out_instead_of_a_500(awsemu):
    ec2, asg = awsemu.client("ec2"), awsemu.client("autoscaling")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.0.0/28",
                               AvailabilityZone="us-east-1a")["Subnet"]
    free = subnet["AvailableIpAddressCount"]  # 16 - 5 reserved
    name = unique("full")
    lt = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "ImageId": public_amis(awsemu, 1)[0], "InstanceType": "t3.micro"})["LaunchTemplate"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=free + 5, DesiredCapacity=free,
        VPCZoneIdentifier=subnet["SubnetId"],
        LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "1"})
    assert len(group(awsemu, name)["Instances"]) == free
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=free + 1)
    assert len(group(awsemu, name)["Instances"]) == free
    failed = [a for a in activities(awsemu, name) if a["StatusCode"] == "Failed"]
    assert len(failed) == 1
    assert failed[0]["StatusMessage"] == (
        f"There are not enough free addresses in subnet '{subnet['SubnetId']}' to satisfy "
        "the requested number of instances. Launching EC2 instance failed.")
    assert len([a for a in activities(awsemu, name) if a["StatusCode"] == "Successful"]) \
        == free


@pytest.mark.parametrize("auto_rollback", [False, True])
def test_a_refresh_whose_replacements_cannot_launch_fails(awsemu, auto_rollback):
    ec2 = awsemu.client("ec2")
    name, lt_id, amis = group_with_template(awsemu, capacity=2, versions=1)
    ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData={
        "ImageId": amis[0], "InstanceType": "t3.micro",
        "SecurityGroupIds": ["sg-0123456789abcdef0"]})
    before = {i["InstanceId"] for i in group(awsemu, name)["Instances"]}
    refresh_id = start(awsemu, name, lt_id, MinHealthyPercentage=50,
                       AutoRollback=auto_rollback)
    seen, done = record(awsemu, name, refresh_id)
    if auto_rollback:
        documented = ["Pending", "InProgress", "RollbackInProgress", "RollbackSuccessful"]
        assert done["Status"] == "RollbackSuccessful"
        assert "could not be launched" in done["RollbackDetails"]["RollbackReason"]
    else:
        documented = ["Pending", "InProgress", "Failed"]
        assert done["Status"] == "Failed"
    assert is_subsequence(statuses(seen), documented), seen
    assert "The security group 'sg-0123456789abcdef0' does not exist" in done["StatusReason"]
    # Nothing was replaced: the old instances serve on.
    g = group(awsemu, name)
    assert {i["InstanceId"] for i in g["Instances"]} == before
    assert g["LaunchTemplate"]["Version"] == "1"
    failed = [a for a in activities(awsemu, name) if a["StatusCode"] == "Failed"]
    assert failed and "in response to an instance refresh" in failed[0]["Cause"]
