"""Kiln's AWS client against AWS failing the way its endpoints fail (issue 14):
pooled connections closed by the load balancer, 502/503/504 from the
gateway (before the service saw the request, and after it did the work),
truncated and trickled bodies, eventual consistency, and launches that
fail as Auto Scaling activities. Every test checks the outcome through
boto3 and the emulator's request log: converged, and no mutation made twice.
"""
import json
import re

import pytest

from kiln_cli import git, run_kiln
from test_apply import Fleet, fleet  # noqa: F401  (the fixture)

# The mutating calls of a first apply and of a release.
MUTATIONS = ("ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion",
             "ec2:ModifyLaunchTemplate", "autoscaling:CreateAutoScalingGroup",
             "autoscaling:StartInstanceRefresh", "imagebuilder:CreateComponent",
             "imagebuilder:CreateImageRecipe",
             "imagebuilder:CreateInfrastructureConfiguration", "imagebuilder:CreateImage")

# Mutations with no client token: sent again after AWS did them, they make
# a second refresh or fail blaming the first.
ONCE_ONLY = ("autoscaling:CreateAutoScalingGroup", "autoscaling:StartInstanceRefresh")


def log_of(fleet, action=None, status=None):
    return [e for e in fleet.emu.requests()["log"]
            if (action is None or f'{e["service"]}:{e["action"]}' == action)
            and (status is None or e["status"] == status)]


def ok_count(fleet, action):
    """Requests of `action` the service answered with success."""
    return len([e for e in log_of(fleet, action) if 200 <= e["status"] < 300])


def builds(fleet):
    ib = fleet.emu.client("imagebuilder")
    return [v for img in ib.list_images(owner="Self")["imageVersionList"]
            for v in ib.list_image_build_versions(imageVersionArn=img["arn"])["imageSummaryList"]]


def refreshes(fleet, name="hello"):
    return fleet.asg.describe_instance_refreshes(AutoScalingGroupName=name)["InstanceRefreshes"]


def versions(fleet, name="hello"):
    return fleet.ec2.describe_launch_template_versions(
        LaunchTemplateName=name)["LaunchTemplateVersions"]


def assert_one_of_each(fleet, releases=1):
    """One bake, one template version, one group per release, and one
    refresh per release after the first: nothing made twice."""
    ib = fleet.emu.client("imagebuilder")
    assert len(builds(fleet)) == releases, builds(fleet)
    assert len(fleet.kiln_images()) == releases
    # Components and recipes are versioned by their content (a second
    # create of one is ResourceAlreadyExistsException): one name each.
    assert len(ib.list_components(owner="Self")["componentVersionList"]) == 1
    assert len(ib.list_image_recipes(owner="Self")["imageRecipeSummaryList"]) == releases
    assert len(ib.list_infrastructure_configurations()[
        "infrastructureConfigurationSummaryList"]) == 1
    lts = fleet.ec2.describe_launch_templates()["LaunchTemplates"]
    assert [t["LaunchTemplateName"] for t in lts] == ["hello"]
    assert len(versions(fleet)) == releases
    groups = fleet.asg.describe_auto_scaling_groups()["AutoScalingGroups"]
    assert [g["AutoScalingGroupName"] for g in groups] == ["hello"]
    assert len(refreshes(fleet)) == releases - 1


def converge_and_release(fleet, env_extra=None):
    """A first apply and a release, under whatever faults are set; returns
    both results."""
    env = {**fleet.env, **(env_extra or {})}
    first = run_kiln("apply", "--repo", fleet.root, "--wait", "--timeout", "90s",
                     "--interval", "500ms", env=env, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
    second = run_kiln("apply", "--repo", fleet.root, "--wait", "--timeout", "90s",
                      "--interval", "500ms", env=env, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    return first, second


def assert_released(fleet):
    g = fleet.group()
    assert g["LaunchTemplate"]["Version"] == "2", g
    assert {i["LaunchTemplate"]["Version"] for i in g["Instances"]} == {"2"}, g


# ---- connections the load balancer closes


def test_a_pooled_connection_closed_by_the_load_balancer_costs_no_retry(fleet):
    """Every request that comes on a reused connection is read and
    dropped (FIN, no answer), as when a load balancer closes an idle
    connection just as it is reused. The service never saw the request,
    so sending it again on a new connection is safe and is not a failure:
    Kiln converges with AWS_MAX_ATTEMPTS=1 (no retry budget at all)."""
    fleet.emu.faults({"service": "*", "action": "*", "kind": "close-idle"})
    converge_and_release(fleet, {"AWS_MAX_ATTEMPTS": "1"})
    closed = log_of(fleet, status=0)
    assert closed, "the fault never fired: no connection was reused"
    fleet.emu.clear_faults()  # boto3 would trip over it too
    assert_one_of_each(fleet, releases=2)
    assert_released(fleet)


# ---- gateway errors the service never saw


def test_a_gateway_error_before_the_service_is_retried(fleet):
    """The first calls of every service are answered by the load balancer
    (no AWS error code; an HTML page or nothing; 502, 503 or 504): retried,
    converged, nothing made twice."""
    fleet.emu.faults(
        {"service": "ec2", "kind": "gateway", "status": 502, "body": "html", "count": 12},
        {"service": "autoscaling", "kind": "gateway", "status": 503, "body": "empty",
         "count": 8},
        {"service": "imagebuilder", "kind": "gateway", "status": 504, "body": "html",
         "count": 8},
        {"service": "ssm", "kind": "gateway", "status": 504, "body": "empty", "count": 2})
    converge_and_release(fleet)
    fleet.emu.clear_faults()
    for status in (502, 503, 504):
        assert log_of(fleet, status=status), "the fault never fired"
    assert_one_of_each(fleet, releases=2)
    assert_released(fleet)


def test_a_gateway_error_after_the_work_never_makes_it_twice(fleet):
    """The duplicate-mutation trap: the service did the work, the client
    got a 502/504. Every mutation of a first apply and of a release meets
    it once; Kiln sends it again (client tokens make that safe) or finds
    what the first made, and AWS holds one of each."""
    fleet.emu.faults(*[{"service": m.split(":")[0], "action": m.split(":")[1],
                        "kind": "gateway", "status": 504 if i % 2 else 502,
                        "body": "html" if i % 3 else "empty",
                        "handled": True, "count": 1} for i, m in enumerate(MUTATIONS)])
    first, second = converge_and_release(fleet)
    fleet.emu.clear_faults()
    for r, action in ((first, "CreateAutoScalingGroup"), (second, "StartInstanceRefresh")):
        assert f"autoscaling {action}: the answer was lost (HTTP 50" in r.stdout, r.stdout
        assert "from a load balancer or proxy in front of AWS" in r.stdout
    for m in MUTATIONS:
        assert [e for e in log_of(fleet, m) if e["status"] in (502, 504)], \
            (m, "the fault never fired")
    assert_one_of_each(fleet, releases=2)
    assert_released(fleet)
    # What has no client token is never sent again after an answer that
    # does not say whether AWS did it (the next pass looks instead).
    counts = fleet.emu.counts()
    for m in ONCE_ONLY:
        assert counts[m] == 1, (m, counts)
    # The refresh AWS started is the release's, and it succeeded.
    assert [r["Status"] for r in refreshes(fleet)] == ["Successful"]


def test_a_gateway_error_that_outlasts_the_retries_says_where_it_came_from(fleet):
    """A 502 from the load balancer is not an AWS error: the message says
    so, instead of "error (HTTP 502)"."""
    fleet.emu.faults({"service": "ec2", "action": "DescribeLaunchTemplates", "kind": "gateway",
                      "status": 502, "body": "html"})
    r = run_kiln("plan", "--repo", fleet.root, env={**fleet.env, "AWS_MAX_ATTEMPTS": "2"})
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert ("ec2 DescribeLaunchTemplates: HTTP 502 from a load balancer or proxy in front of "
            "AWS, with no AWS error in it (an HTML page or text), after 2 attempts") in out, out
    assert fleet.emu.counts()["ec2:DescribeLaunchTemplates"] == 2


# ---- bodies cut short or trickled


def test_truncated_answers_are_retried_and_never_make_anything_twice(fleet):
    """The service did the work and half of its answer came: reads are
    read again, mutations with a client token sent again (AWS answers with
    the first result), the others left to the next pass."""
    fleet.emu.faults(
        *[{"service": m.split(":")[0], "action": m.split(":")[1], "kind": "truncate",
           "count": 1} for m in MUTATIONS],
        {"service": "ec2", "action": "DescribeImages", "kind": "truncate", "count": 2},
        {"service": "autoscaling", "action": "DescribeAutoScalingGroups", "kind": "truncate",
         "count": 2})
    converge_and_release(fleet)
    fleet.emu.clear_faults()
    assert_one_of_each(fleet, releases=2)
    assert_released(fleet)
    counts = fleet.emu.counts()
    for m in ONCE_ONLY:
        assert counts[m] == 1, (m, counts)


def test_trickled_answers_are_read_to_the_end(fleet):
    """Answers sent a few bytes at a time (well within the request
    timeout) are answers, not failures: no call is sent twice."""
    fleet.emu.faults({"service": "*", "action": "*", "kind": "slow-body", "chunk_bytes": 256,
                      "interval_ms": 5})
    first, second = converge_and_release(fleet, {"AWS_MAX_ATTEMPTS": "1"})
    fleet.emu.clear_faults()
    assert "failed" not in first.stdout + second.stdout, first.stdout + second.stdout
    assert_one_of_each(fleet, releases=2)
    assert_released(fleet)


# ---- eventual consistency


def test_what_is_not_visible_yet_is_not_made_twice(fleet):
    """What Kiln creates first stays invisible to reads for 2 s, as AWS's
    eventual consistency may: the passes that do not see it yet neither
    make a second one nor give up."""
    fleet.emu.faults(*[{"service": m.split(":")[0], "action": m.split(":")[1], "kind": "lag",
                        "lag_ms": 2000, "count": 1} for m in MUTATIONS
                       if m != "ec2:ModifyLaunchTemplate"])
    converge_and_release(fleet)
    fleet.emu.clear_faults()
    assert_one_of_each(fleet, releases=2)
    assert_released(fleet)


# ---- launches that fail


def test_a_release_whose_instances_cannot_launch_fails_and_the_previous_keeps_serving(fleet):
    """A release names a security group that does not exist: AWS takes the
    launch template version, but the refresh's launches fail as scaling
    activities and the refresh rolls back. Kiln says the release failed,
    with AWS's reason, and the group keeps serving the previous release."""
    assert fleet.apply().returncode == 0
    before = fleet.group()
    sg = fleet.ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    missing = "sg-0123456789abcdef0"
    fleet.edit(sg, missing, message="a security group that does not exist")
    r = fleet.apply()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "release of launch template version 2 failed" in r.stdout, r.stdout
    assert f"The security group '{missing}' does not exist" in r.stdout, r.stdout
    g = fleet.group()
    assert g["LaunchTemplate"]["Version"] == "1"
    assert {i["InstanceId"] for i in g["Instances"]} == {i["InstanceId"] for i in before["Instances"]}
    assert [x["Status"] for x in refreshes(fleet)] in (["RollbackSuccessful"], ["Failed"])
