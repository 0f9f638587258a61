"""An instance's life in a group as AWS runs it: Pending for a boot time,
then InService; refresh batches that wait for the boot; ELB health checks
that replace an unhealthy instance outside a refresh.

The emulator runs at --time-scale 200 with a boot of 100 AWS seconds, so an
instance is Pending for 0.5 s (a hundred requests' worth)."""

import time

import pytest

from awsemu.testing import AwsEmu, wait_until
from .helpers import (elb_group, group, group_with_template, own_ami, public_amis,
                      target_health, unique)

SCALE = 200
BOOT = 100                 # AWS seconds
BOOT_S = BOOT / SCALE      # emulator seconds
TERMINAL = ("Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed")
ELB_CAUSE = "taken out of service in response to an ELB system health check failure"


@pytest.fixture(scope="module")
def emu():
    e = AwsEmu(refresh_batch_seconds=None, time_scale=SCALE, boot_seconds=BOOT)
    yield e
    e.stop()


def states(emu, name):
    return sorted(i["LifecycleState"] for i in group(emu, name)["Instances"])


def ids(emu, name):
    return sorted(i["InstanceId"] for i in group(emu, name)["Instances"])


def activities(emu, name):
    """Oldest first."""
    return emu.client("autoscaling").describe_scaling_activities(
        AutoScalingGroupName=name)["Activities"][::-1]


def launched_at(emu, name, instance_id):
    return next(a["StartTime"] for a in activities(emu, name)
                if a["Description"] == f"Launching a new EC2 instance: {instance_id}")


def all_in_service(emu, name):
    return wait_until(lambda: set(states(emu, name)) == {"InService"}, timeout=15,
                      what=f"{name} in service")


def test_instances_are_pending_for_the_boot_time_then_in_service(emu):
    name, _, _ = group_with_template(emu, capacity=2)
    assert states(emu, name) == ["Pending", "Pending"]
    described = emu.client("autoscaling").describe_auto_scaling_instances(
        InstanceIds=ids(emu, name))["AutoScalingInstances"]
    assert [i["LifecycleState"] for i in described] == ["Pending", "Pending"]
    # A Pending instance counts in the group's capacity: nothing more is launched.
    assert len(activities(emu, name)) == 2
    all_in_service(emu, name)
    first = min(launched_at(emu, name, i) for i in ids(emu, name))
    assert time.time() - first.timestamp() >= 0.9 * BOOT_S
    assert len(activities(emu, name)) == 2


def start(emu, name, lt_id, **prefs):
    return emu.client("autoscaling").start_instance_refresh(
        AutoScalingGroupName=name, Preferences=prefs,
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt_id, "Version": "2"}},
    )["InstanceRefreshId"]


def refresh_done(emu, name, rid, timeout=20):
    asg = emu.client("autoscaling")
    return wait_until(lambda: (lambda r: r if r["Status"] in TERMINAL else None)(
        asg.describe_instance_refreshes(AutoScalingGroupName=name, InstanceRefreshIds=[rid])[
            "InstanceRefreshes"][0]), timeout=timeout, what="refresh to end")


def refresh_launches(emu, name):
    return [a for a in activities(emu, name)
            if "in response to an instance refresh" in a["Cause"]]


def test_a_refresh_batch_lasts_the_boot_plus_the_warmup(emu):
    name, lt_id, _ = group_with_template(emu, capacity=2)
    all_in_service(emu, name)
    # One instance at a time; 60 AWS seconds of warmup after the boot.
    rid = start(emu, name, lt_id, MinHealthyPercentage=50, InstanceWarmup=60)
    wait_until(lambda: refresh_launches(emu, name), timeout=10, what="first replacement")
    assert "Pending" in states(emu, name)  # the replacement boots
    assert refresh_done(emu, name, rid)["Status"] == "Successful"
    first, second = [a["StartTime"].timestamp() for a in refresh_launches(emu, name)]
    assert second - first >= 0.9 * (BOOT + 60) / SCALE


def test_a_refresh_waits_for_pending_instances_before_replacing(emu):
    name, lt_id, _ = group_with_template(emu, capacity=2)
    # Both instances are still Pending: none of them is healthy, so a
    # refresh that must keep half of the group healthy replaces nothing yet.
    rid = start(emu, name, lt_id, MinHealthyPercentage=50, InstanceWarmup=0)
    assert refresh_done(emu, name, rid)["Status"] == "Successful"
    booted = max(a["StartTime"] for a in activities(emu, name)[:2]).timestamp() + BOOT_S
    first_replacement = refresh_launches(emu, name)[0]["StartTime"].timestamp()
    assert first_replacement >= booted - 0.05  # activity times are to the 1/100 s


def elb_fleet(emu, health_type="ELB", capacity=2, grace=0, ami_tags=None):
    """A group in a target group whose instances run an AMI of the account's
    own, tagged `ami_tags`; version 2 of its template uses a public AMI."""
    public, parent = public_amis(emu, 2)
    return elb_group(emu, [own_ami(emu, parent, ami_tags), public], capacity=capacity,
                     grace=grace, health_type=health_type)



def health_terminations(emu, name):
    return [a for a in activities(emu, name) if ELB_CAUSE in a["Cause"]]


@pytest.fixture
def unhealthy_release(emu):
    """Tags that make an AMI's instances fail their health checks while the
    test runs."""
    tags = {"Release": unique("bad")}
    emu.faults({"kind": "unhealthy", "image_tags": tags})
    yield tags
    emu.clear_faults()


def test_elb_health_checks_replace_an_unhealthy_instance(emu, unhealthy_release):
    kept, _, kept_tg = elb_fleet(emu, health_type="EC2", capacity=1,
                                 ami_tags=unhealthy_release)
    name, _, tg = elb_fleet(emu, capacity=1, ami_tags=unhealthy_release)
    [first] = ids(emu, name)
    # Pending while it boots: not judged, its target is still initial.
    assert target_health(emu, tg) == {first: "initial"}
    gone = wait_until(lambda: health_terminations(emu, name), timeout=15,
                      what="an ELB health check replacement")
    assert gone[0]["Description"] == f"Terminating EC2 instance: {first}"
    assert gone[0]["Cause"].startswith("At ") and gone[0]["Cause"].endswith(
        "an instance was taken out of service in response to an ELB system health check "
        "failure.")
    assert gone[0]["StatusCode"] == "Successful"
    # The replacement comes from the group's launch template, as a launch
    # to get back to the desired capacity.
    after = activities(emu, name)[activities(emu, name).index(gone[0]) + 1:]
    assert after and after[0]["Description"].startswith("Launching a new EC2 instance: i-")
    assert "increasing the capacity from 0 to 1" in after[0]["Cause"]
    g = group(emu, name)
    assert len(g["Instances"]) == 1 and first not in ids(emu, name)
    assert g["Instances"][0]["LaunchTemplate"]["Version"] == "1"
    assert first not in target_health(emu, tg)
    state = emu.client("ec2").describe_instances(InstanceIds=[first])[
        "Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")
    # The EC2-checked group, unhealthy in its target group since the same
    # moment, keeps its instance: AWS ignores the load balancer's opinion.
    assert set(target_health(emu, kept_tg).values()) == {"unhealthy"}
    assert health_terminations(emu, kept) == []
    assert len(ids(emu, kept)) == 1


def test_no_health_replacement_while_a_refresh_is_active(emu, unhealthy_release):
    asg = emu.client("autoscaling")
    name, lt, tg = elb_fleet(emu, capacity=2, grace=0, ami_tags=unhealthy_release)
    # Half the group is replaced, then the refresh waits at its checkpoint
    # with one unhealthy instance of the old release still in service.
    rid = start(emu, name, lt, MinHealthyPercentage=50, InstanceWarmup=0,
                CheckpointPercentages=[50, 100], CheckpointDelay=3600)
    wait_until(lambda: "unhealthy" in target_health(emu, tg).values(), timeout=15,
               what="the old instance unhealthy")
    for _ in range(10):  # a dozen ticks of the emulator
        assert health_terminations(emu, name) == []
        time.sleep(0.05)
    assert asg.describe_instance_refreshes(AutoScalingGroupName=name, InstanceRefreshIds=[
        rid])["InstanceRefreshes"][0]["Status"] == "InProgress"
    # Once the refresh is over, health checks replace it.
    asg.cancel_instance_refresh(AutoScalingGroupName=name)
    refresh_done(emu, name, rid)
    wait_until(lambda: health_terminations(emu, name), timeout=15,
               what="the unhealthy instance replaced")
