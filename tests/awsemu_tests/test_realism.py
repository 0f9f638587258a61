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
    """AWS's refresh timing (no --refresh-batch-seconds), one AWS minute per
    emulator second."""
    emu = AwsEmu(refresh_batch_seconds=None, time_scale=60)
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
    # One instance at a time, 120 AWS seconds of warmup each: 2 s apart.
    refresh_id = start(emu, name, lt_id, MinHealthyPercentage=50, InstanceWarmup=120)
    seen, done = record(emu, name, refresh_id)
    states = [s for _, s in seen]
    assert states[-1] == ("Successful", ("2", "2"))
    assert ("InProgress", ("1", "2")) in states
    when = {s: t for t, s in seen}
    gap = when[("Successful", ("2", "2"))] - when[("InProgress", ("1", "2"))]
    assert 1.7 <= gap <= 4.0, seen
    assert done["Preferences"]["InstanceWarmup"] == 120


def test_warmup_falls_back_to_the_health_check_grace_period(aws_timed):
    emu = aws_timed
    name, lt_id, _ = group_with_template(emu, capacity=2)
    emu.client("autoscaling").update_auto_scaling_group(AutoScalingGroupName=name,
                                                        HealthCheckGracePeriod=30)
    refresh_id = start(emu, name, lt_id, MinHealthyPercentage=50)
    seen, _ = record(emu, name, refresh_id)
    when = {s: t for t, s in seen}
    gap = when[("Successful", ("2", "2"))] - when[("InProgress", ("1", "2"))]
    assert 0.4 <= gap <= 2.0, seen  # 30 AWS s = 0.5 s
