"""Auto Scaling operations through Kiln's client, judged by boto3."""

import pytest

from awsemu.testing import wait_until
from .ops import public_ami, result, run, tags, unique


def template(emu, versions=1):
    ec2 = emu.client("ec2")
    ami = public_ami(emu)
    lt = ec2.create_launch_template(LaunchTemplateName=unique("lt"),
                                    LaunchTemplateData={"ImageId": ami,
                                                        "InstanceType": "t3.micro"})
    lt = lt["LaunchTemplate"]
    for _ in range(versions - 1):
        ec2.create_launch_template_version(LaunchTemplateId=lt["LaunchTemplateId"],
                                           LaunchTemplateData={"ImageId": ami,
                                                               "InstanceType": "t3.small"})
    return lt["LaunchTemplateId"], lt["LaunchTemplateName"]


def subnets(emu, n=2):
    return [s["SubnetId"] for s in emu.client("ec2").describe_subnets()["Subnets"]][:n]


def boto_group(emu, name):
    return emu.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"][0]


def compare_group(g, w):
    assert g["name"] == w["AutoScalingGroupName"]
    assert g["arn"] == w.get("AutoScalingGroupARN")
    assert (g["min_size"], g["max_size"], g["desired_capacity"]) == (
        w["MinSize"], w["MaxSize"], w["DesiredCapacity"])
    lt = w.get("LaunchTemplate", {})
    assert g["launch_template"] == {"id": lt.get("LaunchTemplateId"),
                                    "name": lt.get("LaunchTemplateName"),
                                    "version": lt.get("Version")}
    assert g["vpc_zone_identifier"] == (w.get("VPCZoneIdentifier") or None)
    assert g["availability_zones"] == w["AvailabilityZones"]
    assert g["status"] == w.get("Status")
    assert [(i["instance_id"], i["lifecycle_state"], i["health_status"],
             i["launch_template"]["version"]) for i in g["instances"]] == [
        (i["InstanceId"], i["LifecycleState"], i["HealthStatus"],
         i.get("LaunchTemplate", {}).get("Version")) for i in w["Instances"]]
    assert g["tags"] == [{"key": t["Key"], "value": t["Value"],
                          "propagate_at_launch": t["PropagateAtLaunch"]} for t in w["Tags"]]


def test_create_group_through_kiln_is_seen_by_boto3(awsemu):
    lt_id, _ = template(awsemu, versions=2)
    name = unique("asg")
    nets = subnets(awsemu)
    run(awsemu, "create_group", {
        "name": name, "launch_template": {"id": lt_id, "version": "2"},
        "min_size": 1, "max_size": 4, "desired_capacity": 2,
        "vpc_zone_identifier": ",".join(nets),
        "tags": [{"key": "kiln:app", "value": "hello", "propagate_at_launch": 1},
                 {"key": "team", "value": "a&b c", "propagate_at_launch": 0}]})
    w = boto_group(awsemu, name)
    assert (w["MinSize"], w["MaxSize"], w["DesiredCapacity"]) == (1, 4, 2)
    assert w["LaunchTemplate"]["LaunchTemplateId"] == lt_id
    assert w["LaunchTemplate"]["Version"] == "2"
    assert sorted(w["VPCZoneIdentifier"].split(",")) == sorted(nets)
    assert {(t["Key"], t["Value"], t["PropagateAtLaunch"]) for t in w["Tags"]} == {
        ("kiln:app", "hello", True), ("team", "a&b c", False)}
    got = result(awsemu, "describe_groups", {"names": [name]})["groups"]
    assert len(got) == 1
    compare_group(got[0], w)
    assert len(got[0]["instances"]) == 2


def test_create_group_without_desired_capacity(awsemu):
    lt_id, lt_name = template(awsemu)
    name = unique("asg")
    run(awsemu, "create_group", {"name": name, "launch_template": {"name": lt_name,
                                                                   "version": "1"},
                                 "min_size": 0, "max_size": 2,
                                 "availability_zones": ["us-east-1a"]})
    w = boto_group(awsemu, name)
    assert w["DesiredCapacity"] == 0 and w["AvailabilityZones"] == ["us-east-1a"]
    compare_group(result(awsemu, "describe_groups", {"names": [name]})["groups"][0], w)


def test_update_group(awsemu):
    lt_id, _ = template(awsemu, versions=3)
    name = unique("asg")
    awsemu.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=2, DesiredCapacity=0,
        AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "1"})
    run(awsemu, "update_group", {"name": name, "max_size": 5, "desired_capacity": 1,
                                 "launch_template": {"id": lt_id, "version": "3"}})
    w = boto_group(awsemu, name)
    assert (w["MinSize"], w["MaxSize"], w["DesiredCapacity"]) == (0, 5, 1)
    assert w["LaunchTemplate"]["Version"] == "3"
    run(awsemu, "update_group", {"name": name, "min_size": 1})
    assert boto_group(awsemu, name)["MinSize"] == 1


def test_describe_groups_follows_pages(awsemu):
    lt_id, _ = template(awsemu)
    asg = awsemu.client("autoscaling")
    names = sorted(unique("pg") for _ in range(5))
    for n in names:
        asg.create_auto_scaling_group(AutoScalingGroupName=n, MinSize=0, MaxSize=1,
                                      AvailabilityZones=["us-east-1a"],
                                      LaunchTemplate={"LaunchTemplateId": lt_id,
                                                      "Version": "1"},
                                      Tags=[{"Key": "n", "Value": n}])
    awsemu.reset_requests()
    got = result(awsemu, "describe_groups", {"names": names, "max_records": 2})["groups"]
    assert awsemu.counts()["autoscaling:DescribeAutoScalingGroups"] == 3
    assert sorted(g["name"] for g in got) == names
    want = asg.describe_auto_scaling_groups(AutoScalingGroupNames=names)["AutoScalingGroups"]
    by_name = {w["AutoScalingGroupName"]: w for w in want}
    for g in got:
        compare_group(g, by_name[g["name"]])
    every = result(awsemu, "describe_groups", {"max_records": 3})["groups"]
    assert set(names) <= {g["name"] for g in every}


def test_describe_groups_refuses_more_than_100_names(awsemu):
    out = run(awsemu, "describe_groups", {"names": [f"g{i}" for i in range(101)]},
              expect_ok=False)
    assert out["err"] == "KILN_EINVAL"


def group_on_v1(emu, capacity=2):
    lt_id, _ = template(emu, versions=2)
    name = unique("asg")
    emu.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=capacity * 2 + 2,
        DesiredCapacity=capacity, AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "1"})
    return name, lt_id


def test_instance_refresh_start_describe_and_finish(awsemu):
    name, lt_id = group_on_v1(awsemu)
    rid = result(awsemu, "start_instance_refresh", {
        "group_name": name, "desired_launch_template": {"id": lt_id, "version": "2"},
        "preferences": {"min_healthy_percentage": 50, "max_healthy_percentage": 150,
                        "instance_warmup_s": 0, "skip_matching": True,
                        "auto_rollback": True}})["instance_refresh_id"]
    asg = awsemu.client("autoscaling")
    w = asg.describe_instance_refreshes(AutoScalingGroupName=name)["InstanceRefreshes"]
    assert [r["InstanceRefreshId"] for r in w] == [rid]
    p = w[0]["Preferences"]
    assert (p["MinHealthyPercentage"], p["MaxHealthyPercentage"], p["InstanceWarmup"],
            p["SkipMatching"], p["AutoRollback"]) == (50, 150, 0, True, True)
    assert w[0]["DesiredConfiguration"]["LaunchTemplate"]["Version"] == "2"

    def done():
        got = result(awsemu, "describe_instance_refreshes",
                     {"group_name": name, "ids": [rid]})["refreshes"]
        return got[0] if got[0]["status"] == "Successful" else None

    r = wait_until(done, timeout=30, what="refresh to succeed")
    w = asg.describe_instance_refreshes(AutoScalingGroupName=name,
                                        InstanceRefreshIds=[rid])["InstanceRefreshes"][0]
    assert r["id"] == w["InstanceRefreshId"] and r["group_name"] == name
    assert r["status"] == w["Status"] and r["status_reason"] == w.get("StatusReason")
    assert r["percentage_complete"] == w.get("PercentageComplete") == 100
    assert r["instances_to_update"] == w.get("InstancesToUpdate")
    assert r["start_time"] is not None and r["end_time"] is not None
    assert r["desired_launch_template"]["version"] == "2"
    assert r["preferences"] == {"min_healthy_percentage": 50, "max_healthy_percentage": 150,
                                "instance_warmup_s": 0, "skip_matching": True,
                                "auto_rollback": True}
    assert r["rollback_reason"] is None
    g = result(awsemu, "describe_groups", {"names": [name]})["groups"][0]
    assert {i["launch_template"]["version"] for i in g["instances"]} == {"2"}


def test_instance_refresh_cancel_and_pages(awsemu_factory):
    emu = awsemu_factory(refresh_batch_seconds=5.0)
    name, lt_id = group_on_v1(emu, capacity=4)
    rid = result(emu, "start_instance_refresh", {
        "group_name": name, "desired_launch_template": {"id": lt_id, "version": "2"},
        "preferences": {"min_healthy_percentage": 75}})["instance_refresh_id"]
    cancelled = result(emu, "cancel_instance_refresh", {"group_name": name})
    assert cancelled["instance_refresh_id"] == rid
    asg = emu.client("autoscaling")
    wait_until(lambda: asg.describe_instance_refreshes(AutoScalingGroupName=name)
               ["InstanceRefreshes"][0]["Status"] == "Cancelled", timeout=20,
               what="refresh cancelled")
    rid2 = result(emu, "start_instance_refresh", {
        "group_name": name, "desired_launch_template": {"id": lt_id, "version": "2"}}
    )["instance_refresh_id"]
    emu.reset_requests()
    got = result(emu, "describe_instance_refreshes", {"group_name": name,
                                                      "max_records": 1})["refreshes"]
    assert [r["id"] for r in got] == [rid2, rid]  # newest first, over two pages
    assert emu.counts()["autoscaling:DescribeInstanceRefreshes"] >= 2
    assert got[1]["status"] == "Cancelled"


def test_cancel_without_refresh_is_an_aws_error(awsemu):
    name, _ = group_on_v1(awsemu, capacity=0)
    out = run(awsemu, "cancel_instance_refresh", {"group_name": name}, expect_ok=False)
    with pytest.raises(Exception) as e:
        awsemu.client("autoscaling").cancel_instance_refresh(AutoScalingGroupName=name)
    assert out["err"] == "KILN_EAWS"
    assert out["code"] == e.value.response["Error"]["Code"]
    assert out["aws_message"] == e.value.response["Error"]["Message"]
