"""Requests are checked against the botocore model: a malformed request
fails as it would against AWS."""

import json

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
import requests


def error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def add_to_body(client, event, extra):
    """Adds members the SDK would never send, just before signing."""

    def hook(params, **_):
        body = params["body"]
        if isinstance(body, dict):
            body.update(extra)
        else:
            doc = json.loads(body or b"{}")
            doc.update(extra)
            params["body"] = json.dumps(doc).encode()

    client.meta.events.register(f"before-call.{event}", hook)
    return client


def test_ec2_unknown_and_missing_parameters(awsemu):
    ec2 = add_to_body(awsemu.client("ec2"), "ec2.DescribeImages", {"Bogus": "1"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_images(Owners=["self"])
    assert error(e) == ("UnknownParameter", "The parameter Bogus is not recognized")

    raw = awsemu.client("ec2", parameter_validation=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.run_instances(MinCount=1, ImageId="ami-12c6146b")
    assert error(e) == ("MissingParameter", "The request must contain the parameter MaxCount")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.describe_images(MaxResults="many")
    assert error(e)[0] == "InvalidParameterValue"


def test_autoscaling_validation_errors(awsemu):
    raw = awsemu.client("autoscaling", parameter_validation=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.create_auto_scaling_group(MinSize=1, MaxSize=1)
    code, message = error(e)
    assert code == "ValidationError"
    assert message == ("1 validation error detected: Value null at 'autoScalingGroupName' "
                       "failed to satisfy constraint: Member must not be null")
    asg = add_to_body(awsemu.client("autoscaling"), "auto-scaling.DescribeAutoScalingGroups",
                      {"Colour": "red"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_auto_scaling_groups()
    assert error(e)[0] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.start_instance_refresh(AutoScalingGroupName="g",
                                   Preferences={"MinHealthyPercentage": 101})
    code, message = error(e)
    assert code == "ValidationError" and "preferences.minHealthyPercentage" in message


def test_ssm_validation_errors(awsemu):
    raw = awsemu.client("ssm", parameter_validation=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.get_parameters()
    assert error(e)[0] == "ValidationException"
    ssm = add_to_body(awsemu.client("ssm"), "ssm.GetParameters", {"Recursive": True})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameters(Names=["/a"])
    assert error(e)[0] == "ValidationException"


def test_image_builder_validation_errors(awsemu):
    raw = awsemu.client("imagebuilder", parameter_validation=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.create_component(semanticVersion="1.0.0", platform="Linux", data="x")
    assert error(e)[0] == "InvalidRequestException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.create_component(name="ok-name", semanticVersion="1.0.0", platform="Plan9",
                             data="x")
    assert error(e)[0] == "InvalidParameterValueException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.get_image(imageBuildVersionArn="not-an-arn")
    assert error(e)[0] == "InvalidParameterValueException"


def signed(awsemu, service, body, headers=None):
    """A hand-made SigV4 request, for what no SDK would send."""
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=awsemu.endpoint + "/", data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    creds = botocore.credentials.Credentials("testing", "testing")
    botocore.auth.SigV4Auth(creds, service, "us-east-1").add_auth(req)
    return requests.post(req.url, data=body, headers=dict(req.headers), timeout=10)


def test_unknown_actions(awsemu):
    r = signed(awsemu, "ec2", "Action=LaunchRockets&Version=2016-11-15")
    assert r.status_code == 400 and "<Code>InvalidAction</Code>" in r.text
    r = signed(awsemu, "autoscaling", "Action=LaunchRockets&Version=2011-01-01")
    assert r.status_code == 400 and "<Code>InvalidAction</Code>" in r.text
    r = signed(awsemu, "ssm", "{}", {"Content-Type": "application/x-amz-json-1.1",
                                      "X-Amz-Target": "AmazonSSM.LaunchRockets"})
    assert r.status_code == 400 and r.json()["__type"] == "UnknownOperationException"


def test_ec2_client_tokens_are_idempotent(awsemu):
    from .helpers import unique

    ec2 = awsemu.client("ec2")
    lt = ec2.create_launch_template(LaunchTemplateName=unique("tok"), LaunchTemplateData={
        "InstanceType": "t3.micro"})["LaunchTemplate"]
    first = ec2.create_launch_template_version(
        LaunchTemplateId=lt["LaunchTemplateId"], ClientToken="kiln-digest-1",
        LaunchTemplateData={"InstanceType": "t3.small"})["LaunchTemplateVersion"]
    again = ec2.create_launch_template_version(
        LaunchTemplateId=lt["LaunchTemplateId"], ClientToken="kiln-digest-1",
        LaunchTemplateData={"InstanceType": "t3.small"})["LaunchTemplateVersion"]
    assert first["VersionNumber"] == again["VersionNumber"] == 2
    versions = ec2.describe_launch_template_versions(
        LaunchTemplateId=lt["LaunchTemplateId"])["LaunchTemplateVersions"]
    assert len(versions) == 2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.create_launch_template_version(
            LaunchTemplateId=lt["LaunchTemplateId"], ClientToken="kiln-digest-1",
            LaunchTemplateData={"InstanceType": "t3.large"})
    assert error(e)[0] == "IdempotentParameterMismatch"


def test_well_formed_requests_of_every_shape_pass(awsemu):
    """Nested structures, lists of structures, maps and blobs as Kiln sends
    them are decoded without false rejections."""
    from .helpers import public_amis, unique

    ec2, asg = awsemu.client("ec2"), awsemu.client("autoscaling")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=unique("sg"), Description="d",
                                   VpcId=vpc)["GroupId"]
    ami = public_amis(awsemu, 1)[0]
    name = unique("shapes")
    data = {
        "ImageId": ami, "InstanceType": "t3.micro", "UserData": "IyEvYmluL3NoCg==",
        "SecurityGroupIds": [sg], "IamInstanceProfile": {"Name": "hello-app"},
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
            "VolumeSize": 8, "VolumeType": "gp3", "Encrypted": True}}],
        "TagSpecifications": [{"ResourceType": "instance",
                               "Tags": [{"Key": "Application", "Value": "hello"}]}],
    }
    lt = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData=data, VersionDescription="v1",
        TagSpecifications=[{"ResourceType": "launch-template",
                            "Tags": [{"Key": "kiln:app", "Value": "hello"}]}],
        ClientToken=unique("t"))["LaunchTemplate"]
    ec2.create_launch_template_version(LaunchTemplateId=lt["LaunchTemplateId"],
                                       SourceVersion="1", LaunchTemplateData={"ImageId": ami},
                                       ClientToken=unique("t"))
    ec2.modify_launch_template(LaunchTemplateId=lt["LaunchTemplateId"], DefaultVersion="2")
    versions = ec2.describe_launch_template_versions(
        LaunchTemplateId=lt["LaunchTemplateId"], Versions=["$Default", "1"])
    assert sorted(v["VersionNumber"] for v in versions["LaunchTemplateVersions"]) == [1, 2]
    ec2.create_tags(Resources=[ami], Tags=[{"Key": "kiln:digest", "Value": "abc"}])
    assert ec2.describe_images(ImageIds=[ami], Filters=[
        {"Name": "tag:kiln:digest", "Values": ["abc"]}])["Images"]

    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=3, DesiredCapacity=1,
        VPCZoneIdentifier=subnet, HealthCheckGracePeriod=60,
        LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "2"},
        Tags=[{"Key": "kiln:app", "Value": "hello", "PropagateAtLaunch": True}])
    asg.update_auto_scaling_group(AutoScalingGroupName=name, MaxSize=4,
                                  LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"],
                                                  "Version": "1"})
    found = asg.describe_auto_scaling_groups(
        Filters=[{"Name": "tag:kiln:app", "Values": ["hello"]}],
        AutoScalingGroupNames=[name])["AutoScalingGroups"]
    assert found[0]["MaxSize"] == 4
    asg.start_instance_refresh(
        AutoScalingGroupName=name, Strategy="Rolling",
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateName": name, "Version": "2"}},
        Preferences={"MinHealthyPercentage": 90, "MaxHealthyPercentage": 190,
                     "InstanceWarmup": 300, "SkipMatching": True, "AutoRollback": True,
                     "CheckpointPercentages": [50, 100], "CheckpointDelay": 60})
