"""ASG instance refresh: instances really replaced, batch by batch."""

import botocore.exceptions
import pytest

from awsemu.testing import AwsEmu, wait_until
from .helpers import group, group_with_template, instance_images, public_amis


@pytest.fixture(scope="module")
def slow_emu():
    """An emulator whose batches last 1 s, so a test can act between two
    batches (cancel, roll back, look at a half-done group) with room to
    spare."""
    emu = AwsEmu(refresh_batch_seconds=1.0)
    yield emu
    emu.stop()


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def refresh_of(emu, name, refresh_id):
    refreshes = emu.client("autoscaling").describe_instance_refreshes(
        AutoScalingGroupName=name, InstanceRefreshIds=[refresh_id])["InstanceRefreshes"]
    assert len(refreshes) == 1
    return refreshes[0]


def wait_status(emu, name, refresh_id, statuses, timeout=20):
    return wait_until(
        lambda: (lambda r: r if r["Status"] in statuses else None)(
            refresh_of(emu, name, refresh_id)),
        timeout=timeout, what=f"refresh {refresh_id} to reach {statuses}")


def versions(emu, name):
    return sorted(i["LaunchTemplate"]["Version"] for i in group(emu, name)["Instances"])


def start(emu, name, lt_id, version="2", **prefs):
    return emu.client("autoscaling").start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt_id,
                                                 "Version": version}},
        Preferences=prefs)["InstanceRefreshId"]


def test_refresh_puts_every_instance_on_the_new_ami_and_version(awsemu):
    name, lt_id, amis = group_with_template(awsemu, capacity=4)
    old_ids = {i["InstanceId"] for i in group(awsemu, name)["Instances"]}
    assert set(instance_images(awsemu, sorted(old_ids)).values()) == {amis[0]}

    refresh_id = start(awsemu, name, lt_id, MinHealthyPercentage=50, SkipMatching=True)
    done = wait_status(awsemu, name, refresh_id, ("Successful", "Failed"))

    assert done["Status"] == "Successful"
    assert done["PercentageComplete"] == 100 and done["InstancesToUpdate"] == 0
    g = group(awsemu, name)
    assert g["LaunchTemplate"]["Version"] == "2"
    assert len(g["Instances"]) == 4
    new_ids = {i["InstanceId"] for i in g["Instances"]}
    assert not new_ids & old_ids
    assert {i["LaunchTemplate"]["Version"] for i in g["Instances"]} == {"2"}
    assert set(instance_images(awsemu, sorted(new_ids)).values()) == {amis[1]}
    # The replaced instances are terminated in EC2.
    states = {i["State"]["Name"] for r in awsemu.client("ec2").describe_instances(
        InstanceIds=sorted(old_ids))["Reservations"] for i in r["Instances"]}
    assert states == {"terminated"}


def test_batches_follow_the_health_percentages(slow_emu):
    # 4 instances, MinHealthyPercentage 50: two at a time, so the group is
    # seen with exactly two on the new version for a whole batch period.
    emu = slow_emu
    name, lt_id, _ = group_with_template(emu, capacity=4)
    refresh_id = start(emu, name, lt_id, MinHealthyPercentage=50)
    wait_until(lambda: versions(emu, name) == ["1", "1", "2", "2"], what="first batch of 2")
    r = refresh_of(emu, name, refresh_id)
    assert r["Status"] == "InProgress"
    assert r["PercentageComplete"] == 50 and r["InstancesToUpdate"] == 2
    assert wait_status(emu, name, refresh_id, ("Successful",))
    assert versions(emu, name) == ["2"] * 4

    # MaxHealthyPercentage 200 lets all four be replaced in one batch.
    ec2 = emu.client("ec2")
    ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData={
        "ImageId": public_amis(emu, 3)[2]})
    refresh_id = start(emu, name, lt_id, version="3", MinHealthyPercentage=100,
                       MaxHealthyPercentage=200)
    wait_until(lambda: set(versions(emu, name)) != {"2"}, what="first batch")
    assert versions(emu, name) == ["3"] * 4


def test_skip_matching_leaves_matching_instances(awsemu):
    name, lt_id, _ = group_with_template(awsemu, capacity=2)
    ids = {i["InstanceId"] for i in group(awsemu, name)["Instances"]}
    refresh_id = start(awsemu, name, lt_id, version="1", SkipMatching=True)
    assert wait_status(awsemu, name, refresh_id, ("Successful",))
    assert {i["InstanceId"] for i in group(awsemu, name)["Instances"]} == ids

    # Without SkipMatching every instance is replaced, even a matching one.
    refresh_id = start(awsemu, name, lt_id, version="1", SkipMatching=False)
    assert wait_status(awsemu, name, refresh_id, ("Successful",))
    assert not {i["InstanceId"] for i in group(awsemu, name)["Instances"]} & ids


def test_one_refresh_per_group(slow_emu):
    emu = slow_emu
    asg = emu.client("autoscaling")
    name, lt_id, _ = group_with_template(emu, capacity=4)
    start(emu, name, lt_id, MinHealthyPercentage=75)  # four batches
    with pytest.raises(botocore.exceptions.ClientError) as e:
        start(emu, name, lt_id)
    assert error_code(e) == "InstanceRefreshInProgress"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.start_instance_refresh(AutoScalingGroupName="no-such-group")
    assert error_code(e) == "ValidationError"


def test_cancel_keeps_completed_replacements_and_the_old_configuration(slow_emu):
    emu = slow_emu
    asg = emu.client("autoscaling")
    name, lt_id, _ = group_with_template(emu, capacity=4)
    refresh_id = start(emu, name, lt_id, MinHealthyPercentage=75)  # one at a time
    wait_until(lambda: versions(emu, name) == ["1", "1", "1", "2"], what="first replacement")
    assert asg.cancel_instance_refresh(AutoScalingGroupName=name)["InstanceRefreshId"] == \
        refresh_id
    at_cancel = versions(emu, name)
    assert refresh_of(emu, name, refresh_id)["Status"] in ("Cancelling", "Cancelled")
    done = wait_status(emu, name, refresh_id, ("Cancelled",))
    assert "EndTime" in done
    # Nothing is replaced after the cancel, and nothing is undone: some
    # instances are still on the old version, some on the new one.
    assert versions(emu, name) == at_cancel
    assert "1" in at_cancel and "2" in at_cancel
    assert group(emu, name)["LaunchTemplate"]["Version"] == "1"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.cancel_instance_refresh(AutoScalingGroupName=name)
    assert error_code(e) == "ActiveInstanceRefreshNotFound"


def test_rollback_restores_the_previous_configuration(slow_emu):
    emu = slow_emu
    asg = emu.client("autoscaling")
    name, lt_id, amis = group_with_template(emu, capacity=4)
    refresh_id = start(emu, name, lt_id, MinHealthyPercentage=75)  # one at a time
    wait_until(lambda: versions(emu, name) == ["1", "1", "1", "2"], what="first replacement")
    assert asg.rollback_instance_refresh(AutoScalingGroupName=name)["InstanceRefreshId"] == \
        refresh_id
    assert refresh_of(emu, name, refresh_id)["Status"] == "RollbackInProgress"
    done = wait_status(emu, name, refresh_id, ("RollbackSuccessful", "RollbackFailed"))
    assert done["Status"] == "RollbackSuccessful"
    assert done["RollbackDetails"]["RollbackReason"]
    assert done["RollbackDetails"]["PercentageCompleteOnRollback"] == 100
    g = group(emu, name)
    assert g["LaunchTemplate"]["Version"] == "1"
    assert versions(emu, name) == ["1"] * 4
    ids = [i["InstanceId"] for i in g["Instances"]]
    assert set(instance_images(emu, ids).values()) == {amis[0]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.rollback_instance_refresh(AutoScalingGroupName=name)
    assert error_code(e) == "ActiveInstanceRefreshNotFound"


def test_rollback_needs_a_desired_configuration(slow_emu):
    emu = slow_emu
    asg = emu.client("autoscaling")
    name, _, _ = group_with_template(emu, capacity=4)
    asg.start_instance_refresh(AutoScalingGroupName=name,
                               Preferences={"MinHealthyPercentage": 75})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.rollback_instance_refresh(AutoScalingGroupName=name)
    assert error_code(e) == "IrreversibleInstanceRefresh"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.start_instance_refresh(AutoScalingGroupName=name + "-x",
                                   Preferences={"AutoRollback": True})
    assert error_code(e) == "ValidationError"


def test_refresh_fail_with_auto_rollback(awsemu):
    name, lt_id, amis = group_with_template(awsemu, capacity=4)
    awsemu.faults({"service": "autoscaling", "action": "StartInstanceRefresh",
                   "kind": "refresh-fail", "count": 1})
    refresh_id = start(awsemu, name, lt_id, MinHealthyPercentage=50, AutoRollback=True)
    done = wait_status(awsemu, name, refresh_id,
                       ("Successful", "Failed", "RollbackSuccessful", "RollbackFailed"))
    assert done["Status"] == "RollbackSuccessful"
    assert "fault" in done["RollbackDetails"]["RollbackReason"]
    g = group(awsemu, name)
    assert g["LaunchTemplate"]["Version"] == "1"
    assert versions(awsemu, name) == ["1"] * 4
    assert set(instance_images(awsemu, [i["InstanceId"] for i in g["Instances"]]).values()) \
        == {amis[0]}


def test_refresh_fail_without_auto_rollback(awsemu):
    name, lt_id, _ = group_with_template(awsemu, capacity=4)
    awsemu.faults({"service": "autoscaling", "action": "*", "kind": "refresh-fail",
                   "count": 1})
    refresh_id = start(awsemu, name, lt_id, MinHealthyPercentage=50)
    done = wait_status(awsemu, name, refresh_id, ("Successful", "Failed"))
    assert done["Status"] == "Failed"
    assert done["StatusReason"]
    # The failed refresh does not touch the group's configuration, and the
    # batch it replaced before failing stays replaced.
    assert group(awsemu, name)["LaunchTemplate"]["Version"] == "1"
    assert versions(awsemu, name) == ["1", "1", "2", "2"]
    # The fault was used up: a new refresh succeeds.
    refresh_id = start(awsemu, name, lt_id, MinHealthyPercentage=50, SkipMatching=True)
    assert wait_status(awsemu, name, refresh_id, ("Successful",))


def test_preferences_are_validated(awsemu):
    asg = awsemu.client("autoscaling")
    name, lt_id, _ = group_with_template(awsemu, capacity=1)
    for prefs in ({"MaxHealthyPercentage": 150},
                  {"MinHealthyPercentage": 10, "MaxHealthyPercentage": 200},
                  {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 100}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            start(awsemu, name, lt_id, **prefs)
        assert error_code(e) == "ValidationError", prefs
    with pytest.raises(botocore.exceptions.ClientError) as e:
        start(awsemu, name, lt_id, version="9")
    assert error_code(e) == "ValidationError"
    refreshes = asg.describe_instance_refreshes(AutoScalingGroupName=name)["InstanceRefreshes"]
    assert refreshes == []
