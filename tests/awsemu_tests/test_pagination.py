"""Every describe and list call Kiln uses pages as AWS does: page-size
limits, NextToken, and everything returned across pages."""

import botocore.exceptions
import pytest

from awsemu.testing import AwsEmu, wait_until
from .helpers import COMPONENT_DOC, public_amis


@pytest.fixture(scope="module")
def emu():
    """A fresh emulator, so listings hold exactly what these tests made."""
    e = AwsEmu()
    yield e
    e.stop()


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def pages(call, token_in, token_out, key, **kwargs):
    """Calls until no token is returned; returns the list of pages."""
    out = []
    token = None
    while True:
        args = dict(kwargs, **({token_in: token} if token else {}))
        resp = call(**args)
        out.append(resp[key])
        token = resp.get(token_out)
        if not token:
            return out
        assert len(out) < 100, "pagination does not end"


def test_describe_launch_templates(emu):
    ec2 = emu.client("ec2")
    ami = public_amis(emu, 1)[0]
    names = {f"lt-{i:02d}" for i in range(23)}
    for n in sorted(names):
        ec2.create_launch_template(LaunchTemplateName=n, LaunchTemplateData={"ImageId": ami})

    # Without MaxResults AWS returns them all (moto alone stops at 15).
    assert {t["LaunchTemplateName"] for t in ec2.describe_launch_templates()[
        "LaunchTemplates"]} == names
    got = pages(ec2.describe_launch_templates, "NextToken", "NextToken", "LaunchTemplates",
                MaxResults=10)
    assert [len(p) for p in got] == [10, 10, 3]
    assert {t["LaunchTemplateName"] for p in got for t in p} == names
    paginated = ec2.get_paginator("describe_launch_templates").paginate(
        PaginationConfig={"PageSize": 7})
    assert sorted(t["LaunchTemplateName"] for p in paginated for t in p["LaunchTemplates"]) \
        == sorted(names)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_launch_templates(MaxResults=201)
    assert error_code(e) == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_launch_templates(MaxResults=10, NextToken="not-a-token")
    assert error_code(e) == "InvalidPaginationToken"
    # A token is good only for the request that produced it.
    token = ec2.describe_launch_templates(MaxResults=10)["NextToken"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_launch_templates(MaxResults=10, NextToken=token,
                                      LaunchTemplateNames=["lt-01"])
    assert error_code(e) == "InvalidPaginationToken"


def test_describe_launch_template_versions(emu):
    ec2 = emu.client("ec2")
    amis = public_amis(emu, 2)
    lt = ec2.create_launch_template(LaunchTemplateName="many-versions",
                                    LaunchTemplateData={"ImageId": amis[0]})["LaunchTemplate"]
    for i in range(34):
        ec2.create_launch_template_version(LaunchTemplateId=lt["LaunchTemplateId"],
                                           LaunchTemplateData={"ImageId": amis[i % 2]})
    every = ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"])
    assert sorted(v["VersionNumber"] for v in every["LaunchTemplateVersions"]) == \
        list(range(1, 36))
    got = pages(ec2.describe_launch_template_versions, "NextToken", "NextToken",
                "LaunchTemplateVersions", LaunchTemplateId=lt["LaunchTemplateId"], MaxResults=20)
    assert [len(p) for p in got] == [20, 15]
    assert sorted(v["VersionNumber"] for p in got for v in p) == list(range(1, 36))


def test_describe_instances(emu):
    ec2 = emu.client("ec2")
    ami = public_amis(emu, 1)[0]
    ids = set()
    for _ in range(12):
        r = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                              TagSpecifications=[{"ResourceType": "instance",
                                                  "Tags": [{"Key": "t", "Value": "paging"}]}])
        ids.add(r["Instances"][0]["InstanceId"])
    flt = [{"Name": "tag:t", "Values": ["paging"]}]
    got = pages(ec2.describe_instances, "NextToken", "NextToken", "Reservations",
                Filters=flt, MaxResults=5)
    assert [len(p) for p in got] == [5, 5, 2]
    assert {i["InstanceId"] for p in got for r in p for i in r["Instances"]} == ids
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances(MaxResults=4)
    assert error_code(e) == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances(InstanceIds=sorted(ids)[:2], MaxResults=5)
    assert error_code(e) == "InvalidParameterCombination"


def instance_count(pages_of_reservations):
    return [sum(len(r["Instances"]) for r in p) for p in pages_of_reservations]


def test_describe_instances_pages_count_instances_not_reservations(emu):
    ec2 = emu.client("ec2")
    ami = public_amis(emu, 1)[0]
    tag = [{"ResourceType": "instance", "Tags": [{"Key": "t", "Value": "pairs"}]}]
    ids = {i["InstanceId"] for _ in range(3) for i in ec2.run_instances(
        ImageId=ami, MinCount=2, MaxCount=2, TagSpecifications=tag)["Instances"]}
    got = pages(ec2.describe_instances, "NextToken", "NextToken", "Reservations",
                Filters=[{"Name": "tag:t", "Values": ["pairs"]}], MaxResults=5)
    assert instance_count(got) == [5, 1]
    # The reservation split across the pages appears on both, with its share.
    assert [len(p) for p in got] == [3, 1]
    assert {i["InstanceId"] for p in got for r in p for i in r["Instances"]} == ids


def test_describe_instances_by_more_than_100_ids_is_paged(emu):
    ec2 = emu.client("ec2")
    ami = public_amis(emu, 1)[0]
    ids = sorted(i["InstanceId"] for i in ec2.run_instances(
        ImageId=ami, MinCount=105, MaxCount=105)["Instances"])
    first = ec2.describe_instances(InstanceIds=ids)
    assert instance_count([first["Reservations"]]) == [100]
    assert first["NextToken"]
    paginated = list(ec2.get_paginator("describe_instances").paginate(InstanceIds=ids))
    assert instance_count([p["Reservations"] for p in paginated]) == [100, 5]
    assert sorted(i["InstanceId"] for p in paginated for r in p["Reservations"]
                  for i in r["Instances"]) == ids
    # 100 ids or fewer: one answer, no token.
    assert "NextToken" not in ec2.describe_instances(InstanceIds=ids[:100])


def test_describe_images(emu):
    ec2 = emu.client("ec2")
    parent = public_amis(emu, 1)[0]
    made = {ec2.copy_image(SourceImageId=parent, SourceRegion="us-east-1",
                           Name=f"img-{i}")["ImageId"] for i in range(7)}
    got = pages(ec2.describe_images, "NextToken", "NextToken", "Images",
                Owners=["self"], MaxResults=3)
    assert [len(p) for p in got] == [3, 3, 1]
    assert {i["ImageId"] for p in got for i in p} == made
    assert {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]} == made


def test_describe_auto_scaling_groups(emu):
    asg = emu.client("autoscaling")
    ec2 = emu.client("ec2")
    lt = ec2.create_launch_template(LaunchTemplateName="asg-paging", LaunchTemplateData={
        "ImageId": public_amis(emu, 1)[0]})["LaunchTemplate"]
    names = {f"group-{i:02d}" for i in range(55)}
    for n in sorted(names):
        asg.create_auto_scaling_group(
            AutoScalingGroupName=n, MinSize=0, MaxSize=1, DesiredCapacity=0,
            AvailabilityZones=["us-east-1a"],
            LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "1"})
    got = pages(asg.describe_auto_scaling_groups, "NextToken", "NextToken", "AutoScalingGroups")
    assert [len(p) for p in got] == [50, 5]  # AWS's default page is 50
    assert {g["AutoScalingGroupName"] for p in got for g in p} == names
    got = pages(asg.describe_auto_scaling_groups, "NextToken", "NextToken",
                "AutoScalingGroups", MaxRecords=100)
    assert [len(p) for p in got] == [55]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_auto_scaling_groups(MaxRecords=101)
    assert error_code(e) == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_auto_scaling_groups(NextToken="no-such-token")
    assert error_code(e) == "InvalidNextToken"


def test_describe_instance_refreshes(emu):
    asg = emu.client("autoscaling")
    ec2 = emu.client("ec2")
    lt = ec2.create_launch_template(LaunchTemplateName="refresh-paging", LaunchTemplateData={
        "ImageId": public_amis(emu, 1)[0]})["LaunchTemplate"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName="refreshed", MinSize=0, MaxSize=1, DesiredCapacity=0,
        AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "1"})
    ids = []
    for _ in range(5):
        rid = asg.start_instance_refresh(AutoScalingGroupName="refreshed")["InstanceRefreshId"]
        ids.append(rid)
        wait_until(lambda: asg.describe_instance_refreshes(
            AutoScalingGroupName="refreshed", InstanceRefreshIds=[rid])[
            "InstanceRefreshes"][0]["Status"] == "Successful", what="empty refresh")
    got = pages(asg.describe_instance_refreshes, "NextToken", "NextToken", "InstanceRefreshes",
                AutoScalingGroupName="refreshed", MaxRecords=2)
    assert [len(p) for p in got] == [2, 2, 1]
    # Newest first, as AWS lists them.
    assert [r["InstanceRefreshId"] for p in got for r in p] == ids[::-1]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_instance_refreshes(AutoScalingGroupName="refreshed", NextToken="bogus")
    assert error_code(e) == "InvalidNextToken"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_instance_refreshes(AutoScalingGroupName="refreshed", MaxRecords=101)
    assert error_code(e) == "ValidationError"


def test_get_parameters_takes_at_most_ten_names(emu):
    ssm = emu.client("ssm", parameter_validation=False)
    for i in range(11):
        ssm.put_parameter(Name=f"/kiln/p{i}", Value=str(i), Type="String")
    got = ssm.get_parameters(Names=[f"/kiln/p{i}" for i in range(10)])["Parameters"]
    assert sorted(p["Value"] for p in got) == sorted(str(i) for i in range(10))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameters(Names=[f"/kiln/p{i}" for i in range(11)])
    assert error_code(e) == "ValidationException"


def test_image_builder_lists(emu):
    ib = emu.client("imagebuilder")
    arns = {ib.create_component(name=f"paged-{i:02d}", semanticVersion="1.0.0",
                                platform="Linux", data=COMPONENT_DOC, clientToken=f"c{i}")
            ["componentBuildVersionArn"].rsplit("/", 1)[0] for i in range(30)}
    got = pages(ib.list_components, "nextToken", "nextToken", "componentVersionList")
    assert [len(p) for p in got] == [25, 5]  # 25 is Image Builder's largest page
    assert {c["arn"] for p in got for c in p} == arns
    got = pages(ib.list_components, "nextToken", "nextToken", "componentVersionList",
                maxResults=7)
    assert [len(p) for p in got] == [7, 7, 7, 7, 2]
    assert {c["arn"] for p in got for c in p} == arns
    paginated = ib.get_paginator("list_components").paginate(PaginationConfig={"PageSize": 4})
    assert {c["arn"] for p in paginated for c in p["componentVersionList"]} == arns
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ib.list_components(nextToken="bogus")
    assert error_code(e) == "InvalidPaginationTokenException"
    raw = emu.client("imagebuilder", parameter_validation=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.list_components(maxResults=26)
    assert error_code(e) == "InvalidParameterValueException"

    for i in range(3):
        ib.create_infrastructure_configuration(name=f"paged-{i}", instanceProfileName="p",
                                               clientToken=f"i{i}")
    got = pages(ib.list_infrastructure_configurations, "nextToken", "nextToken",
                "infrastructureConfigurationSummaryList", maxResults=2)
    assert [len(p) for p in got] == [2, 1]
