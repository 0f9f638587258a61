"""Instances in target groups and their health: registration of every
instance a group launches (refresh replacements too), DescribeTargetHealth
initial → healthy after the grace period, the `unhealthy` fault failing a
refresh; the aws:ec2launchtemplate:version tag of replacements."""

from awsemu.testing import wait_until
from .helpers import elb_group, group, own_ami, public_amis, target_health

# `emu` is the shared emulator at --time-scale 200 (conftest.py).
TERMINAL = ("Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed")


def fleet(emu, capacity=2, grace=200, health_type="ELB", tagged_v2=None):
    """A group in a target group on version 1 of a template whose version 2
    uses an AMI of the account's own (tagged `tagged_v2`)."""
    old, parent = public_amis(emu, 2)
    return elb_group(emu, [old, own_ami(emu, parent, tagged_v2)], capacity=capacity,
                     grace=grace, health_type=health_type)



def ids(emu, name):
    return sorted(i["InstanceId"] for i in group(emu, name)["Instances"])


def refresh(emu, name, lt, **prefs):
    asg = emu.client("autoscaling")
    rid = asg.start_instance_refresh(
        AutoScalingGroupName=name, Preferences=prefs,
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt, "Version": "2"}})[
        "InstanceRefreshId"]
    return wait_until(lambda: (lambda r: r if r["Status"] in TERMINAL else None)(
        asg.describe_instance_refreshes(AutoScalingGroupName=name, InstanceRefreshIds=[rid])[
            "InstanceRefreshes"][0]), timeout=30, what="refresh to end")


def test_targets_are_initial_during_the_grace_period_then_healthy(emu):
    name, lt, tg = fleet(emu, grace=200)  # 1 s
    first = ids(emu, name)
    assert set(target_health(emu, tg).values()) == {"initial"}
    assert sorted(target_health(emu, tg)) == first
    wait_until(lambda: set(target_health(emu, tg).values()) == {"healthy"}, timeout=10,
               what="targets healthy")
    # Replacements are registered, the replaced deregistered.
    done = refresh(emu, name, lt, MinHealthyPercentage=50, InstanceWarmup=20)
    assert done["Status"] == "Successful"
    now = ids(emu, name)
    assert not set(now) & set(first)
    health = target_health(emu, tg)
    assert sorted(i for i, s in health.items() if s in ("initial", "healthy")) == now
    # The replacements carry the version they were launched from.
    tags = {t["ResourceId"]: t["Value"] for t in emu.client("ec2").describe_tags(Filters=[
        {"Name": "resource-id", "Values": now},
        {"Name": "key", "Values": ["aws:ec2launchtemplate:version"]}])["Tags"]}
    assert tags == {i: "2" for i in now}


def test_unhealthy_image_fails_the_refresh_and_it_rolls_back(emu):
    name, lt, tg = fleet(emu, grace=0, tagged_v2={"Release": "bad"})
    first = ids(emu, name)
    emu.faults({"kind": "unhealthy", "image_tags": {"Release": "bad"}})
    try:
        done = refresh(emu, name, lt, MinHealthyPercentage=50, InstanceWarmup=20,
                       AutoRollback=True)
    finally:
        emu.clear_faults()
    assert done["Status"] == "RollbackSuccessful", done
    assert "health checks" in done["RollbackDetails"]["RollbackReason"]
    g = group(emu, name)
    assert g["LaunchTemplate"]["Version"] == "1"
    assert {i["LaunchTemplate"]["Version"] for i in g["Instances"]} == {"1"}
    assert len(g["Instances"]) == len(first)


def test_unhealthy_fault_only_for_images_with_all_its_tags(emu):
    name, lt, tg = fleet(emu, grace=0, tagged_v2={"Release": "good"})
    emu.faults({"kind": "unhealthy", "image_tags": {"Release": "good", "Other": "x"}})
    try:
        done = refresh(emu, name, lt, MinHealthyPercentage=50, InstanceWarmup=20,
                       AutoRollback=True)
        assert done["Status"] == "Successful", done
        wait_until(lambda: set(target_health(emu, tg).values()) == {"healthy"}, timeout=10,
                   what="targets healthy")
    finally:
        emu.clear_faults()


def test_unhealthy_targets_without_elb_health_checks_do_not_fail_a_refresh(emu):
    name, lt, tg = fleet(emu, grace=0, health_type="EC2", tagged_v2={"Release": "bad"})
    emu.faults({"kind": "unhealthy", "image_tags": {"Release": "bad"}})
    try:
        done = refresh(emu, name, lt, MinHealthyPercentage=50, InstanceWarmup=20)
        assert done["Status"] == "Successful", done
        wait_until(lambda: set(target_health(emu, tg).values()) == {"unhealthy"}, timeout=10,
                   what="targets unhealthy")
    finally:
        emu.clear_faults()
