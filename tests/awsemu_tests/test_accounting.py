"""Request accounting: exact per-action counts and a log with statuses."""

import time

import botocore.exceptions
import pytest
import requests

from .helpers import COMPONENT_DOC, unique


def test_counts_are_exact(awsemu):
    ec2, ssm, ib = awsemu.client("ec2"), awsemu.client("ssm"), awsemu.client("imagebuilder")
    awsemu.reset_requests()
    assert awsemu.requests() == {"counts": {}, "log": []}
    before = time.time()

    ec2.describe_images(Owners=["self"])
    ec2.describe_images(Owners=["self"])
    ec2.describe_instances()
    ssm.get_parameters(Names=["/kiln/x"])
    ib.create_component(name=unique("c"), semanticVersion="1.0.0", platform="Linux",
                        data=COMPONENT_DOC, clientToken=unique("t"))
    awsemu.faults({"service": "ssm", "action": "GetParameters", "kind": "throttle",
                   "count": 1})
    with pytest.raises(botocore.exceptions.ClientError):
        ssm.get_parameters(Names=["/kiln/x"])
    with pytest.raises(botocore.exceptions.ClientError):  # answered by the contract check
        awsemu.client("autoscaling", parameter_validation=False).create_auto_scaling_group(
            MinSize=1)

    got = awsemu.requests()
    assert got["counts"] == {
        "ec2:DescribeImages": 2,
        "ec2:DescribeInstances": 1,
        "ssm:GetParameters": 2,
        "imagebuilder:CreateComponent": 1,
        "autoscaling:CreateAutoScalingGroup": 1,
    }
    assert [(e["service"], e["action"], e["status"]) for e in got["log"]] == [
        ("ec2", "DescribeImages", 200),
        ("ec2", "DescribeImages", 200),
        ("ec2", "DescribeInstances", 200),
        ("ssm", "GetParameters", 200),
        ("imagebuilder", "CreateComponent", 200),
        ("ssm", "GetParameters", 400),
        ("autoscaling", "CreateAutoScalingGroup", 400),
    ]
    times = [e["t"] for e in got["log"]]
    assert times == sorted(times) and before <= times[0] <= time.time()


def test_every_page_is_one_request(awsemu):
    ec2 = awsemu.client("ec2")
    prefix = unique("count")
    for i in range(5):
        ec2.create_launch_template(LaunchTemplateName=f"{prefix}-{i}",
                                   LaunchTemplateData={"InstanceType": "t3.micro"})
    awsemu.reset_requests()
    pages = list(ec2.get_paginator("describe_launch_templates").paginate(
        Filters=[{"Name": "launch-template-name", "Values": [f"{prefix}-{i}" for i in range(5)]}],
        PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert awsemu.counts() == {"ec2:DescribeLaunchTemplates": 3}


def test_admin_calls_are_not_counted_and_reset_clears(awsemu):
    awsemu.client("sts").get_caller_identity()
    awsemu.faults({"service": "ec2", "action": "X", "kind": "throttle"})
    awsemu.clear_faults()
    assert requests.get(f"{awsemu.endpoint}/_awsemu/requests", timeout=10).status_code == 200
    counts = awsemu.counts()
    assert all(key.split(":")[0] in ("ec2", "autoscaling", "ssm", "sts", "imagebuilder")
               for key in counts)
    assert counts.get("sts:GetCallerIdentity", 0) >= 1
    awsemu.reset_requests()
    assert awsemu.requests() == {"counts": {}, "log": []}
