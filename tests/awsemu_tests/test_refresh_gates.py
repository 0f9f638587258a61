"""Instance refresh gates as AWS runs them: checkpoints and their delay,
bake time, CloudWatch alarms (with and without AutoRollback), scale-in
protected instances, manual rollback and its refusals, cancelling a
rollback, and the validation of the preferences.

The emulator runs at --time-scale 200 (200 AWS seconds per second), so a
warmup of 50 lasts 0.25 s and a checkpoint delay of 200 lasts 1 s. Each test
records the sequence of (Status, kind of StatusReason, PercentageComplete)
that DescribeInstanceRefreshes reports and compares it with AWS's."""

import time

import botocore.exceptions
import pytest

from awsemu.testing import wait_until
from .conftest import SCALE  # the shared `emu` fixture's --time-scale
from .helpers import group, group_with_template, public_amis, unique
TERMINAL = ("Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed")


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def reason_kind(reason):
    if not reason:
        return ""
    if reason.startswith("Waiting for checkpoint delay"):
        return "checkpoint"
    if reason.startswith("Waiting for the bake time"):
        return "bake"
    if reason.startswith("Waiting for instances with scale-in protection"):
        return "protected"
    if "CloudWatch alarms" in reason:
        return "alarm"
    return "other: " + reason


def describe(emu, name, rid):
    return emu.client("autoscaling").describe_instance_refreshes(
        AutoScalingGroupName=name, InstanceRefreshIds=[rid])["InstanceRefreshes"][0]


def record(emu, name, rid, on=None, timeout=30):
    """Polls the refresh until it ends; returns the distinct consecutive
    (Status, reason kind, PercentageComplete) it went through, each with
    the time it was first seen. `on(snapshot)` is called on every poll."""
    seen = []
    deadline = time.monotonic() + timeout
    polled = time.monotonic()  # when the previous poll began
    while True:
        asked = time.monotonic()
        r = describe(emu, name, rid)
        key = (r["Status"], reason_kind(r.get("StatusReason")), r["PercentageComplete"])
        if not seen or seen[-1][0] != key:
            # It began between the previous poll and this answer.
            r["_began_after"] = polled
            seen.append((key, time.monotonic(), r))
        polled = asked
        if on is not None:
            on(r)
        if r["Status"] in TERMINAL:
            return seen
        assert time.monotonic() < deadline, [k for k, _, _ in seen]
        time.sleep(0.02)


def states(seen):
    return [k for k, _, _ in seen if k[0] != "Pending"]


def start(emu, name, lt_id, version="2", **prefs):
    return emu.client("autoscaling").start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt_id,
                                                 "Version": version}},
        Preferences=prefs)["InstanceRefreshId"]


def versions(emu, name):
    return sorted(i["LaunchTemplate"]["Version"] for i in group(emu, name)["Instances"])


def alarm(emu, state="OK"):
    cw = emu.client("cloudwatch")
    name = unique("alarm")
    cw.put_metric_alarm(AlarmName=name, MetricName="HTTPCode_Target_5XX_Count",
                        Namespace="AWS/ApplicationELB", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanOrEqualToThreshold")
    set_alarm(emu, name, state)
    return name


def set_alarm(emu, name, state):
    emu.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state,
                                             StateReason="test")


def test_checkpoints_pause_for_the_delay_then_the_refresh_bakes(emu):
    # 4 instances, MinHealthyPercentage 0 would replace all at once; the
    # checkpoint at 25 % limits the first batch to one instance.
    name, lt_id, _ = group_with_template(emu, capacity=4)
    rid = start(emu, name, lt_id, MinHealthyPercentage=0, InstanceWarmup=100,
                CheckpointPercentages=[25, 100], CheckpointDelay=200, BakeTime=100)
    seen = record(emu, name, rid)
    assert states(seen) == [
        ("InProgress", "", 0),
        ("InProgress", "", 25),
        ("InProgress", "checkpoint", 25),
        ("Baking", "bake", 100),
        ("Successful", "", 100),
    ]
    times = {k: t for k, t, _ in seen}
    began_after = {k: r["_began_after"] for k, _, r in seen}

    def span(a, b):
        """The longest the emulator can have spent from state a to state b:
        from the poll before a was seen to b's answer. A slow poll only
        lengthens it, so a machine under load cannot fail the bounds."""
        return times[b] - began_after[a]

    # The delay (200 AWS s) separates the checkpoint from the next batch,
    # the bake (100 AWS s) the last batch from the end, the warmup (100 AWS s)
    # the first batch from the checkpoint, each scaled.
    assert span(("InProgress", "checkpoint", 25), ("Baking", "bake", 100)) >= 0.9 * 200 / SCALE
    assert span(("Baking", "bake", 100), ("Successful", "", 100)) >= 0.9 * 100 / SCALE
    assert span(("InProgress", "", 25), ("InProgress", "checkpoint", 25)) >= 0.9 * 100 / SCALE
    waiting = [r for k, _, r in seen if k[1] == "checkpoint"][0]
    assert "Checkpoint 1 of 2 (25%)" in waiting["StatusReason"]
    assert group(emu, name)["LaunchTemplate"]["Version"] == "2"
    assert versions(emu, name) == ["2"] * 4


def test_alarm_at_a_checkpoint_rolls_the_refresh_back(emu):
    name, lt_id, amis = group_with_template(emu, capacity=4)
    alarm_name = alarm(emu)
    rid = start(emu, name, lt_id, MinHealthyPercentage=50, InstanceWarmup=50,
                CheckpointPercentages=[50, 100], CheckpointDelay=3600, AutoRollback=True,
                AlarmSpecification={"Alarms": [alarm_name]})

    def on(r):
        if reason_kind(r.get("StatusReason")) == "checkpoint":
            set_alarm(emu, alarm_name, "ALARM")

    seen = record(emu, name, rid, on=on)
    got = states(seen)
    assert got[:3] == [("InProgress", "", 0), ("InProgress", "", 50),
                       ("InProgress", "checkpoint", 50)]
    assert got[3][:2] == ("RollbackInProgress", "alarm")
    assert got[-1][:2] == ("RollbackSuccessful", "alarm")
    assert got[-1][2] == 0  # AWS: PercentageComplete goes back down to zero
    done = seen[-1][2]
    assert alarm_name in done["StatusReason"]
    assert alarm_name in done["RollbackDetails"]["RollbackReason"]
    assert group(emu, name)["LaunchTemplate"]["Version"] == "1"
    assert versions(emu, name) == ["1"] * 4


def test_alarm_while_baking_rolls_back_every_replacement(emu):
    name, lt_id, _ = group_with_template(emu, capacity=2)
    alarm_name = alarm(emu)
    rid = start(emu, name, lt_id, MinHealthyPercentage=50, InstanceWarmup=10,
                BakeTime=3600, AutoRollback=True,
                AlarmSpecification={"Alarms": [alarm(emu), alarm_name]})

    def on(r):
        if r["Status"] == "Baking":
            assert versions(emu, name) == ["2", "2"]
            set_alarm(emu, alarm_name, "ALARM")

    got = states(record(emu, name, rid, on=on))
    assert ("Baking", "bake", 100) in got
    assert got[got.index(("Baking", "bake", 100)) + 1][:2] == ("RollbackInProgress", "alarm")
    assert got[-1][:2] == ("RollbackSuccessful", "alarm")
    assert group(emu, name)["LaunchTemplate"]["Version"] == "1"
    assert versions(emu, name) == ["1", "1"]


def test_alarm_without_auto_rollback_fails_the_refresh(emu):
    name, lt_id, _ = group_with_template(emu, capacity=2)
    alarm_name = alarm(emu, "ALARM")
    rid = start(emu, name, lt_id, MinHealthyPercentage=50, InstanceWarmup=50,
                AlarmSpecification={"Alarms": [alarm_name]})
    got = states(record(emu, name, rid))
    assert got[-1] == ("Failed", "alarm", 0)
    assert "RollbackDetails" not in describe(emu, name, rid)
    assert versions(emu, name) == ["1", "1"]


def test_an_alarm_in_ok_or_insufficient_data_does_not_stop_the_refresh(emu):
    name, lt_id, _ = group_with_template(emu, capacity=2)
    names = [alarm(emu, "OK"), alarm(emu, "INSUFFICIENT_DATA")]
    rid = start(emu, name, lt_id, MinHealthyPercentage=50, InstanceWarmup=10,
                AutoRollback=True, AlarmSpecification={"Alarms": names})
    assert states(record(emu, name, rid))[-1] == ("Successful", "", 100)


def test_a_protected_instance_is_waited_for(emu):
    asg = emu.client("autoscaling")
    name, lt_id, _ = group_with_template(emu, capacity=2)
    protected = sorted(i["InstanceId"] for i in group(emu, name)["Instances"])[0]
    asg.set_instance_protection(AutoScalingGroupName=name, InstanceIds=[protected],
                                ProtectedFromScaleIn=True)
    rid = start(emu, name, lt_id, MinHealthyPercentage=0, InstanceWarmup=100)
    waits = []

    def on(r):
        if reason_kind(r.get("StatusReason")) == "protected":
            waits.append(r)
            if len(waits) == 20:  # seen waiting for a while: lift the protection
                assert protected in [i["InstanceId"] for i in group(emu, name)["Instances"]]
                asg.set_instance_protection(AutoScalingGroupName=name,
                                            InstanceIds=[protected],
                                            ProtectedFromScaleIn=False)

    got = states(record(emu, name, rid, on=on))
    assert got == [("InProgress", "", 0), ("InProgress", "", 50),
                   ("InProgress", "protected", 50), ("Successful", "", 100)]
    assert protected in waits[0]["StatusReason"]
    assert protected not in [i["InstanceId"] for i in group(emu, name)["Instances"]]
    assert versions(emu, name) == ["2", "2"]


def test_protected_instances_ignored_or_refreshed_on_request(emu):
    asg = emu.client("autoscaling")
    for pref, replaced in (("Ignore", False), ("Refresh", True)):
        name, lt_id, _ = group_with_template(emu, capacity=2)
        protected = group(emu, name)["Instances"][0]["InstanceId"]
        asg.set_instance_protection(AutoScalingGroupName=name, InstanceIds=[protected],
                                    ProtectedFromScaleIn=True)
        rid = start(emu, name, lt_id, MinHealthyPercentage=0, InstanceWarmup=10,
                    ScaleInProtectedInstances=pref)
        assert states(record(emu, name, rid))[-1] == ("Successful", "", 100), pref
        ids = [i["InstanceId"] for i in group(emu, name)["Instances"]]
        assert (protected not in ids) == replaced, pref


def test_cancelling_a_rollback(emu):
    asg = emu.client("autoscaling")
    name, lt_id, _ = group_with_template(emu, capacity=4)
    # One instance at a time, a batch a second.
    rid = start(emu, name, lt_id, MinHealthyPercentage=75, InstanceWarmup=100)
    wait_until(lambda: versions(emu, name) == ["1", "2", "2", "2"], timeout=20,
               what="three replacements")
    asg.rollback_instance_refresh(AutoScalingGroupName=name)
    wait_until(lambda: versions(emu, name) == ["1", "1", "2", "2"], timeout=20,
               what="first instance rolled back")
    assert describe(emu, name, rid)["Status"] == "RollbackInProgress"
    assert asg.cancel_instance_refresh(AutoScalingGroupName=name)["InstanceRefreshId"] == rid
    at_cancel = versions(emu, name)
    got = states(record(emu, name, rid))
    assert got[0][0] == "Cancelling" and got[-1][0] == "Cancelled"
    assert [k[0] for k in got] in (["Cancelling", "Cancelled"],)
    assert versions(emu, name) == at_cancel
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.cancel_instance_refresh(AutoScalingGroupName=name)
    assert error_code(e) == "ActiveInstanceRefreshNotFound"


def test_manual_rollback_while_baking(emu):
    asg = emu.client("autoscaling")
    name, lt_id, _ = group_with_template(emu, capacity=2)
    rid = start(emu, name, lt_id, MinHealthyPercentage=0, InstanceWarmup=10, BakeTime=3600)
    wait_until(lambda: describe(emu, name, rid)["Status"] == "Baking", what="Baking")
    asg.rollback_instance_refresh(AutoScalingGroupName=name)
    got = states(record(emu, name, rid))
    # The rollback may be over by the first look (one batch of two): it is
    # in progress, then successful, and nothing else.
    assert {k[0] for k in got} <= {"RollbackInProgress", "RollbackSuccessful"}, got
    assert got[-1][0] == "RollbackSuccessful", got
    assert versions(emu, name) == ["1", "1"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.rollback_instance_refresh(AutoScalingGroupName=name)
    assert error_code(e) == "ActiveInstanceRefreshNotFound"


def test_rollback_refusals(emu):
    asg = emu.client("autoscaling")
    ec2 = emu.client("ec2")
    # The group on $Latest: refused.
    name, lt_id, _ = group_with_template(emu, capacity=2)
    asg.update_auto_scaling_group(AutoScalingGroupName=name, LaunchTemplate={
        "LaunchTemplateId": lt_id, "Version": "$Latest"})
    start(emu, name, lt_id, MinHealthyPercentage=75, InstanceWarmup=3600)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.rollback_instance_refresh(AutoScalingGroupName=name)
    assert error_code(e) == "IrreversibleInstanceRefresh"
    asg.cancel_instance_refresh(AutoScalingGroupName=name)
    name, lt_id, _ = group_with_template(emu, capacity=1)
    asg.update_auto_scaling_group(AutoScalingGroupName=name, LaunchTemplate={
        "LaunchTemplateId": lt_id, "Version": "$Default"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        start(emu, name, lt_id, AutoRollback=True)
    assert error_code(e) == "ValidationError"

    # A launch template whose ImageId is an SSM parameter: refused.
    ami = public_amis(emu, 1)[0]
    lt_name = unique("ssm")
    lt = ec2.create_launch_template(LaunchTemplateName=lt_name, LaunchTemplateData={
        "ImageId": "resolve:ssm:/aws/service/ami-amazon-linux-latest/"
                   "al2023-ami-kernel-default-x86_64",
        "InstanceType": "t3.micro"})["LaunchTemplate"]
    ec2.create_launch_template_version(LaunchTemplateId=lt["LaunchTemplateId"],
                                       LaunchTemplateData={"ImageId": ami})
    asg.create_auto_scaling_group(
        AutoScalingGroupName=lt_name, MinSize=0, MaxSize=4, DesiredCapacity=2,
        AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "1"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        start(emu, lt_name, lt["LaunchTemplateId"], AutoRollback=True)
    assert error_code(e) == "ValidationError"
    assert "Systems Manager" in e.value.response["Error"]["Message"]
    start(emu, lt_name, lt["LaunchTemplateId"], MinHealthyPercentage=75, InstanceWarmup=3600)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.rollback_instance_refresh(AutoScalingGroupName=lt_name)
    assert error_code(e) == "IrreversibleInstanceRefresh"
    asg.cancel_instance_refresh(AutoScalingGroupName=lt_name)

    # No refresh at all.
    name, lt_id, _ = group_with_template(emu, capacity=1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.rollback_instance_refresh(AutoScalingGroupName=name)
    assert error_code(e) == "ActiveInstanceRefreshNotFound"


@pytest.mark.parametrize("prefs", [
    {"CheckpointPercentages": [50, 10]},
    {"CheckpointPercentages": [50, 50, 100]},
    {"CheckpointPercentages": [0, 100]},
    {"CheckpointPercentages": [50, 101]},
    {"CheckpointDelay": 60},
    {"CheckpointPercentages": [100], "CheckpointDelay": 172801},
    {"BakeTime": 172801},
    {"BakeTime": -1},
    {"AlarmSpecification": {"Alarms": [f"a{i}" for i in range(11)]}},
])
def test_gate_preferences_are_validated(emu, prefs):
    name, lt_id, _ = group_with_template(emu, capacity=1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emu.client("autoscaling", parameter_validation=False).start_instance_refresh(
            AutoScalingGroupName=name, Preferences=prefs,
            DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt_id,
                                                     "Version": "2"}})
    assert error_code(e) == "ValidationError"
    assert emu.client("autoscaling").describe_instance_refreshes(
        AutoScalingGroupName=name)["InstanceRefreshes"] == []


def test_auto_rollback_with_alarms_needs_a_desired_configuration(emu):
    name, _, _ = group_with_template(emu, capacity=1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emu.client("autoscaling").start_instance_refresh(
            AutoScalingGroupName=name, Preferences={
                "AutoRollback": True, "AlarmSpecification": {"Alarms": [alarm(emu)]}})
    assert error_code(e) == "ValidationError"


def test_what_kiln_sends_still_completes_quickly(awsemu):
    # tests/e2e/test_rollout_gates.py: checkpoints [10, 50, 100], a delay of
    # 1 s, a bake of 2 s, alarms, AutoRollback, against the default emulator.
    name, lt_id, _ = group_with_template(awsemu, capacity=2)
    names = [alarm(awsemu), alarm(awsemu)]
    began = time.monotonic()
    rid = start(awsemu, name, lt_id, MinHealthyPercentage=100, MaxHealthyPercentage=200,
                InstanceWarmup=0, AutoRollback=True, AlarmSpecification={"Alarms": names},
                CheckpointPercentages=[10, 50, 100], CheckpointDelay=1, BakeTime=2)
    got = states(record(awsemu, name, rid))
    assert got == [("InProgress", "", 0), ("InProgress", "", 50),
                   ("InProgress", "checkpoint", 50), ("Baking", "bake", 100),
                   ("Successful", "", 100)]
    assert time.monotonic() - began < 15
