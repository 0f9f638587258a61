"""Requests AWS refuses with a 400 where moto would accept them or crash
(a 500): missing groups, unsupported filters, malformed names, reserved
tag keys, MaxRecords 0, duplicate creations."""

import botocore.exceptions
import pytest

from .helpers import group_with_template, public_amis, unique

LT_DATA = {"InstanceType": "t3.micro"}


def refusal(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(*args, **kwargs)
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def test_tags_on_a_group_that_does_not_exist(awsemu):
    asg = awsemu.client("autoscaling")
    tag = {"ResourceId": "no-such-group", "ResourceType": "auto-scaling-group", "Key": "k",
           "Value": "v", "PropagateAtLaunch": False}
    assert refusal(asg.create_or_update_tags, Tags=[tag]) == (
        400, "ValidationError", "AutoScalingGroup not found - AutoScaling Group no-such-group "
                                "not found")
    assert refusal(asg.delete_tags, Tags=[{k: tag[k] for k in (
        "ResourceId", "ResourceType", "Key")}])[:2] == (400, "ValidationError")


def test_calls_naming_a_missing_group_or_instance(awsemu):
    asg = awsemu.client("autoscaling")
    tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/0123456789abcdef"
    for call, kwargs in (
            (asg.set_desired_capacity, {"DesiredCapacity": 1}),
            (asg.attach_load_balancer_target_groups, {"TargetGroupARNs": [tg]}),
            (asg.detach_load_balancer_target_groups, {"TargetGroupARNs": [tg]}),
            (asg.set_instance_protection, {"InstanceIds": ["i-0123456789abcdef0"],
                                           "ProtectedFromScaleIn": True})):
        assert refusal(call, AutoScalingGroupName="no-such-group", **kwargs) == (
            400, "ValidationError",
            "AutoScalingGroup name not found - AutoScalingGroup 'no-such-group' not found")
    assert refusal(asg.terminate_instance_in_auto_scaling_group,
                   InstanceId="i-0123456789abcdef0",
                   ShouldDecrementDesiredCapacity=False)[:2] == (400, "ValidationError")


def test_a_filter_moto_does_not_support_is_invalid(awsemu):
    ec2 = awsemu.client("ec2")
    ec2.run_instances(ImageId=public_amis(awsemu, 1)[0], MinCount=1, MaxCount=1)
    for call in (ec2.describe_images, ec2.describe_instances, ec2.describe_subnets,
                 ec2.describe_security_groups):
        assert refusal(call, Filters=[{"Name": "no-such-filter", "Values": ["x"]}]) == (
            400, "InvalidParameterValue", "The filter 'no-such-filter' is invalid")
    # A filter AWS has and moto lacks gets the same answer.
    assert refusal(ec2.describe_images, Filters=[{"Name": "tpm-support", "Values": ["v2.0"]}])[
        1] == "InvalidParameterValue"


@pytest.mark.parametrize("call, largest", [
    ("describe_auto_scaling_groups", 100), ("describe_auto_scaling_instances", 50),
    ("describe_tags", 100), ("describe_scaling_activities", 100),
    ("describe_launch_configurations", 100)])
def test_max_records_outside_its_range(awsemu, call, largest):
    asg = awsemu.client("autoscaling")
    for bad in (0, largest + 1):
        status, code, message = refusal(getattr(asg, call), MaxRecords=bad)
        assert (status, code) == (400, "ValidationError")
        assert f"Value '{bad}' at 'maxRecords'" in message
    getattr(asg, call)(MaxRecords=largest)


def test_max_records_zero_for_instance_refreshes(awsemu):
    name, _, _ = group_with_template(awsemu, capacity=0)
    assert refusal(awsemu.client("autoscaling").describe_instance_refreshes,
                   AutoScalingGroupName=name, MaxRecords=0)[1] == "ValidationError"


def test_duplicate_group_is_already_exists(awsemu):
    asg = awsemu.client("autoscaling")
    name, lt_id, _ = group_with_template(awsemu, capacity=1)
    status, code, message = refusal(
        asg.create_auto_scaling_group, AutoScalingGroupName=name, MinSize=0, MaxSize=9,
        DesiredCapacity=5, AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "2"})
    assert (status, code) == (400, "AlreadyExists")
    assert message == ("AutoScalingGroup by this name already exists - A group with the name "
                       f"{name} already exists")
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    assert (g["MaxSize"], g["DesiredCapacity"], len(g["Instances"])) == (4, 1, 1)


def test_duplicate_launch_template_is_already_exists(awsemu):
    ec2 = awsemu.client("ec2")
    name = unique("dup")
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=LT_DATA)
    assert refusal(ec2.create_launch_template, LaunchTemplateName=name,
                   LaunchTemplateData=LT_DATA)[1] == \
        "InvalidLaunchTemplateName.AlreadyExistsException"


@pytest.mark.parametrize("name", ["ab", "has space", "x" * 129, "semi;colon", "ünï"])
def test_malformed_launch_template_names(awsemu, name):
    ec2 = awsemu.client("ec2", parameter_validation=False)
    status, code, message = refusal(ec2.create_launch_template, LaunchTemplateName=name,
                                    LaunchTemplateData=LT_DATA)
    assert (status, code) == (400, "InvalidLaunchTemplateName.MalformedException")
    assert message.startswith("A launch template name must be between 3 and 128 characters")


def test_well_formed_launch_template_names(awsemu):
    ec2 = awsemu.client("ec2")
    for name in ("abc", "app/web_1.(blue)-x", "y" * 128):
        full = name + unique("")[-4:] if len(name) < 120 else name
        ec2.create_launch_template(LaunchTemplateName=full, LaunchTemplateData=LT_DATA)


@pytest.mark.parametrize("name", ["ab", "x" * 129, "semi;colon", "hash#"])
def test_malformed_ami_names(awsemu, name):
    ec2 = awsemu.client("ec2", parameter_validation=False)
    status, code, _ = refusal(ec2.copy_image, SourceImageId=public_amis(awsemu, 1)[0],
                              SourceRegion="us-east-1", Name=name)
    assert (status, code) == (400, "InvalidAMIName.Malformed")


def test_ami_names_with_every_allowed_character(awsemu):
    ec2 = awsemu.client("ec2")
    ec2.copy_image(SourceImageId=public_amis(awsemu, 1)[0], SourceRegion="us-east-1",
                   Name=unique("kiln (web) [v1] it's/a@b_c.d"))


def test_reserved_and_malformed_tag_keys(awsemu):
    ec2 = awsemu.client("ec2")
    ami = public_amis(awsemu, 1)[0]
    assert refusal(ec2.create_tags, Resources=[ami],
                   Tags=[{"Key": "aws:owner", "Value": "me"}]) == (
        400, "InvalidParameterValue", "Value ( aws:owner ) for parameter key is invalid. Tag "
                                      "keys starting with 'aws:' are reserved for internal use")
    assert refusal(ec2.delete_tags, Resources=[ami], Tags=[{"Key": "AWS:x"}])[1] == \
        "InvalidParameterValue"
    assert refusal(ec2.create_tags, Resources=[ami],
                   Tags=[{"Key": "k" * 129, "Value": "v"}])[1] == "InvalidParameterValue"
    assert refusal(ec2.create_tags, Resources=[ami], Tags=[{"Value": "v"}])[:2] == (
        400, "InvalidParameterValue")
    assert refusal(ec2.create_launch_template, LaunchTemplateName=unique("tags"),
                   LaunchTemplateData=LT_DATA, TagSpecifications=[{
                       "ResourceType": "launch-template",
                       "Tags": [{"Key": "aws:x", "Value": "y"}]}])[1] == "InvalidParameterValue"
    ec2.create_tags(Resources=[ami], Tags=[{"Key": "awsome:ok", "Value": "v"}])


def test_launch_template_versions_that_cannot_exist(awsemu):
    ec2 = awsemu.client("ec2")
    name = unique("ver")
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=LT_DATA)
    assert refusal(ec2.describe_launch_template_versions, LaunchTemplateName=name,
                   Versions=["latest"])[:2] == (400, "InvalidParameterValue")
    assert refusal(ec2.delete_launch_template_versions, LaunchTemplateName=unique("none"),
                   Versions=["1"])[:2] == (400, "InvalidLaunchTemplateName.NotFoundException")


def test_image_builder_type_error_is_reported_once(awsemu):
    ib = awsemu.client("imagebuilder", parameter_validation=False)
    status, code, message = refusal(ib.create_component, name=123, semanticVersion="1.0.0",
                                    platform="Linux", data="x", clientToken="t")
    assert status == 400
    assert message == "1 validation error detected: Value '123' at 'name' is not a valid string"


def test_more_than_200_filter_values_in_one_call_are_refused(awsemu):
    """AWS counts every value of every filter of a Describe* call together
    and refuses more than 200 (HTTP 400, FilterLimitExceeded)."""
    ec2 = awsemu.client("ec2")
    values = [f"v{i}" for i in range(150)]
    too_many = [{"Name": "tag:a", "Values": values}, {"Name": "tag:b", "Values": values[:51]}]
    for call in (ec2.describe_images, ec2.describe_instances, ec2.describe_launch_templates,
                 ec2.describe_snapshots, ec2.describe_subnets, ec2.describe_security_groups):
        assert refusal(call, Filters=too_many) == (
            400, "FilterLimitExceeded",
            "The maximum number of filter values specified on a single call is 200")
    # The few actions whose member is called Filter count too.
    assert refusal(ec2.describe_nat_gateways, Filter=too_many)[1] == "FilterLimitExceeded"
    assert refusal(ec2.describe_launch_template_versions, Versions=["$Default"],
                   Filters=too_many)[1] == "FilterLimitExceeded"
    # 200 in all is allowed.
    exactly = [{"Name": "tag:a", "Values": values}, {"Name": "tag:b", "Values": values[:50]}]
    ec2.describe_images(Owners=["self"], Filters=exactly)
    ec2.describe_launch_templates(Filters=exactly)
