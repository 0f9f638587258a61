"""Several accounts (reached through STS AssumeRole) and EC2 CopyImage
across regions and accounts, judged through boto3 as Kiln would see them."""

import datetime
import json

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from awsemu.testing import AwsEmu, account_session, make_deploy_role, wait_until

from .helpers import bake_inputs, group, group_with_template, public_amis, unique

KILN = "123456789012"      # the default account (the plain "testing" keys)
PROD = "210987654321"
OTHER = "333344445555"
CALLER = f"arn:aws:sts::{KILN}:user/moto"  # GetCallerIdentity of the "testing" keys
COPY_S = 0.5


@pytest.fixture(scope="module")
def fleet():
    e = AwsEmu(bake_seconds=0.3, refresh_batch_seconds=0.2, copy_seconds=COPY_S)
    yield e
    e.stop()


PUBLIC_AMI = {}


@pytest.fixture
def emu(fleet):
    if not PUBLIC_AMI:
        PUBLIC_AMI["id"] = public_amis(fleet, 1)[0]
    fleet.clear_faults()
    yield fleet
    fleet.clear_faults()


class Acting:
    """An emulator as seen from one account and region: .client() like
    AwsEmu's, so the shared builders work in that account."""

    def __init__(self, emu, session, region):
        self.emu, self.session, self.region = emu, session, region
        self.endpoint = emu.endpoint

    def client(self, service, **config):
        return self.session.client(service, endpoint_url=self.endpoint,
                                   region_name=self.region,
                                   config=Config(retries={"total_max_attempts": 1,
                                                          "mode": "standard"}, **config))


def acting(emu, account, region="us-east-1"):
    if account == KILN:
        return Acting(emu, boto3.Session(aws_access_key_id="testing",
                                         aws_secret_access_key="testing"), region)
    return Acting(emu, account_session(emu.endpoint, account, region), region)


def error_of(call, **kwargs):
    """(HTTP status, code, message) of a call that must fail."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def image(ec2, ami):
    return ec2.describe_images(ImageIds=[ami])["Images"][0]


def wait_state(ec2, ami, state, timeout=5):
    return wait_until(lambda: image(ec2, ami)["State"] == state and image(ec2, ami),
                      timeout, what=f"{ami} {state}")


def root_snapshot(img):
    return img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]


def tags(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or []}


def own_image(ec2, tags_=None):
    """An available AMI of the client's account in us-east-1 (a copy of a
    public one: moto's catalogue is in every account)."""
    parent = PUBLIC_AMI["id"]
    spec = ([{"ResourceType": "image", "Tags": [{"Key": k, "Value": v}
                                                 for k, v in tags_.items()]}]
            if tags_ else [])
    ami = ec2.copy_image(SourceImageId=parent, SourceRegion="us-east-1", Name=unique("src"),
                         TagSpecifications=spec)["ImageId"]
    wait_state(ec2, ami, "available")
    return ami


def share(ec2, ami, account, snapshots=True, launch=True):
    if launch:
        ec2.modify_image_attribute(ImageId=ami, LaunchPermission={"Add": [{"UserId": account}]})
    if snapshots:
        # The structured form (CreateVolumePermission.Add.N.UserId), as Kiln
        # sends it; the flat OperationType + UserIds form works too.
        ec2.modify_snapshot_attribute(SnapshotId=root_snapshot(image(ec2, ami)),
                                      Attribute="createVolumePermission",
                                      CreateVolumePermission={"Add": [{"UserId": account}]})


# ---------------------------------------------------------------- STS


def test_assume_role_with_its_external_id_acts_in_the_roles_account(emu):
    name = unique("deploy")
    arn = make_deploy_role(emu.endpoint, PROD, name, "kiln-ext")
    assert arn == f"arn:aws:iam::{PROD}:role/{name}"
    got = emu.client("sts").assume_role(RoleArn=arn, RoleSessionName="kiln",
                                        ExternalId="kiln-ext")
    assert got["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{PROD}:assumed-role/{name}/kiln"
    creds = got["Credentials"]
    # DurationSeconds defaults to one hour.
    left = creds["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
    assert 3500 < left.total_seconds() <= 3600
    me = boto3.client("sts", endpoint_url=emu.endpoint, region_name="eu-west-1",
                      aws_access_key_id=creds["AccessKeyId"],
                      aws_secret_access_key=creds["SecretAccessKey"],
                      aws_session_token=creds["SessionToken"]).get_caller_identity()
    assert (me["Account"], me["Arn"]) == (PROD, got["AssumedRoleUser"]["Arn"])


@pytest.mark.parametrize("external_id", ["wrong", None])
def test_assume_role_without_its_external_id_is_access_denied(emu, external_id):
    arn = make_deploy_role(emu.endpoint, PROD, unique("deploy"), "kiln-ext")
    extra = {"ExternalId": external_id} if external_id else {}
    status, code, message = error_of(emu.client("sts").assume_role, RoleArn=arn,
                                     RoleSessionName="kiln", **extra)
    assert (status, code) == (403, "AccessDenied")
    assert message == (f"User: {CALLER} is not authorized to perform: sts:AssumeRole on "
                       f"resource: {arn}")


def test_the_denial_is_sts_xml_error(emu):
    import requests

    arn = f"arn:aws:iam::{PROD}:role/{unique('nobody')}"
    # One raw request, signed as boto3 signs it, to see the body itself.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = f"Action=AssumeRole&Version=2011-06-15&RoleArn={arn}&RoleSessionName=kiln"
    raw = AWSRequest("POST", emu.endpoint + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials("testing", "testing"), "sts", "us-east-1").add_auth(raw)
    r = requests.post(emu.endpoint + "/", data=body, headers=dict(raw.headers), timeout=10)
    assert r.status_code == 403
    assert "<ErrorResponse" in r.text and "<Type>Sender</Type>" in r.text
    assert "<Code>AccessDenied</Code>" in r.text
    assert (f"<Message>User: {CALLER} is not authorized to perform: sts:AssumeRole on "
            f"resource: {arn}</Message>") in r.text


def test_a_role_that_does_not_exist_is_access_denied(emu):
    sts = emu.client("sts")
    for arn in (f"arn:aws:iam::{PROD}:role/{unique('nobody')}",
                f"arn:aws:iam::{OTHER}:user/{unique('someone')}"):
        assert error_of(sts.assume_role, RoleArn=arn, RoleSessionName="kiln") == (
            403, "AccessDenied",
            f"User: {CALLER} is not authorized to perform: sts:AssumeRole on resource: {arn}")


def test_a_role_that_trusts_someone_else_is_access_denied(emu):
    iam = acting(emu, PROD).client("iam")
    sts = emu.client("sts")
    for principal in ({"Service": "ec2.amazonaws.com"}, {"AWS": f"arn:aws:iam::{OTHER}:root"}):
        name = unique("other")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": principal,
                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        assert error_of(sts.assume_role, RoleArn=arn, RoleSessionName="kiln")[:2] == (
            403, "AccessDenied")
    # The account it trusts may assume it.
    arn = make_deploy_role(emu.endpoint, PROD, unique("from-other"), None,
                           trusted_account=OTHER)
    assert error_of(sts.assume_role, RoleArn=arn, RoleSessionName="kiln")[1] == "AccessDenied"
    other_sts = acting(emu, OTHER).client("sts")
    assert other_sts.assume_role(RoleArn=arn, RoleSessionName="kiln")[
        "AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{PROD}:assumed-role/")


def test_role_session_names_and_durations_are_checked(emu):
    sts = emu.client("sts", parameter_validation=False)
    arn = make_deploy_role(emu.endpoint, PROD, unique("deploy"), None)
    for name in ("a", "has space", "semi;colon", "x" * 65):
        status, code, message = error_of(sts.assume_role, RoleArn=arn, RoleSessionName=name)
        assert (status, code) == (400, "ValidationError"), name
        assert "at 'roleSessionName' failed to satisfy constraint" in message
    for name in ("ab", "kiln+deploy=1,a.b@c-d_e", "y" * 64):
        sts.assume_role(RoleArn=arn, RoleSessionName=name)
    # Longer than the role's MaxSessionDuration (3600 by default).
    assert error_of(sts.assume_role, RoleArn=arn, RoleSessionName="kiln",
                    DurationSeconds=7200) == (
        400, "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")


def test_every_account_has_the_organization_role(emu):
    account = "444455556666"
    session = account_session(emu.endpoint, account, "eu-west-1")
    me = session.client("sts", endpoint_url=emu.endpoint).get_caller_identity()
    assert me["Account"] == account
    assert me["Arn"].startswith(
        f"arn:aws:sts::{account}:assumed-role/OrganizationAccountAccessRole/")
    role = session.client("iam", endpoint_url=emu.endpoint).get_role(
        RoleName="OrganizationAccountAccessRole")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    # Kiln's own account has one too.
    assert emu.client("iam").get_role(RoleName="OrganizationAccountAccessRole")["Role"][
        "Arn"] == f"arn:aws:iam::{KILN}:role/OrganizationAccountAccessRole"


# ---------------------------------------------------------- isolation


def test_groups_and_refreshes_are_per_account(emu):
    prod = acting(emu, PROD)
    name, lt, amis = group_with_template(prod, capacity=1)
    refresh = prod.client("autoscaling").start_instance_refresh(
        AutoScalingGroupName=name, DesiredConfiguration={
            "LaunchTemplate": {"LaunchTemplateId": lt, "Version": "2"}})["InstanceRefreshId"]
    wait_until(lambda: prod.client("autoscaling").describe_instance_refreshes(
        AutoScalingGroupName=name)["InstanceRefreshes"][0]["Status"] == "Successful", 10)
    assert group(prod, name)["LaunchTemplate"]["Version"] == "2"

    kiln_asg = emu.client("autoscaling")
    assert kiln_asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"] == []
    assert kiln_asg.describe_instance_refreshes(AutoScalingGroupName=name)[
        "InstanceRefreshes"] == []
    assert lt not in {t["LaunchTemplateId"] for t in emu.client("ec2").describe_launch_templates(
        )["LaunchTemplates"]}
    # The same name in Kiln's own account is another group.
    kiln_lt = emu.client("ec2").create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": amis[0]})["LaunchTemplate"]
    kiln_asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=1, DesiredCapacity=0,
        AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": kiln_lt["LaunchTemplateId"], "Version": "1"})
    assert group(emu, name)["DesiredCapacity"] == 0
    assert group(prod, name)["DesiredCapacity"] == 1
    assert [r["InstanceRefreshId"] for r in prod.client("autoscaling").describe_instance_refreshes(
        AutoScalingGroupName=name)["InstanceRefreshes"]] == [refresh]


def test_images_are_per_account(emu):
    prod_ec2 = acting(emu, PROD).client("ec2")
    ami = own_image(prod_ec2)
    assert image(prod_ec2, ami)["OwnerId"] == PROD
    kiln_ec2 = emu.client("ec2")
    assert error_of(kiln_ec2.describe_images, ImageIds=[ami])[1] == "InvalidAMIID.NotFound"
    assert ami not in {i["ImageId"] for i in kiln_ec2.describe_images(Owners=["self"])["Images"]}
    assert ami not in {i["ImageId"] for i in kiln_ec2.describe_images(Owners=[PROD])["Images"]}


def test_image_builder_bakes_are_per_account(emu):
    prod = acting(emu, PROD)
    recipe, infra, _ = bake_inputs(prod)
    ib = prod.client("imagebuilder")
    arn = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                          clientToken=unique("t"))["imageBuildVersionArn"]
    assert arn.startswith(f"arn:aws:imagebuilder:us-east-1:{PROD}:image/")
    done = wait_until(lambda: (lambda i: i["state"]["status"] == "AVAILABLE" and i)(
        ib.get_image(imageBuildVersionArn=arn)["image"]), 10)
    ami = done["outputResources"]["amis"][0]
    assert ami["accountId"] == PROD
    assert image(prod.client("ec2"), ami["image"])["OwnerId"] == PROD

    kiln_ib = emu.client("imagebuilder")
    assert error_of(kiln_ib.get_image, imageBuildVersionArn=arn)[1] == \
        "ResourceNotFoundException"
    assert arn not in {i["arn"] for i in kiln_ib.list_images()["imageVersionList"]}
    assert error_of(kiln_ib.get_image_recipe, imageRecipeArn=recipe)[1] == \
        "ResourceNotFoundException"
    assert error_of(emu.client("ec2").describe_images, ImageIds=[ami["image"]])[1] == \
        "InvalidAMIID.NotFound"


def test_faults_and_counts_can_name_an_account(emu):
    prod_ec2 = acting(emu, PROD).client("ec2")
    kiln_ec2 = emu.client("ec2")
    emu.faults({"service": "ec2", "action": "DescribeImages", "kind": "throttle",
                "account": PROD})
    emu.reset_requests()
    assert error_of(prod_ec2.describe_images, Owners=["self"])[1] == "RequestLimitExceeded"
    kiln_ec2.describe_images(Owners=["self"])
    assert emu.counts(PROD) == {"ec2:DescribeImages": 1}
    assert emu.counts(KILN) == {"ec2:DescribeImages": 1}
    assert emu.counts() == {"ec2:DescribeImages": 2}
    assert [(e["account"], e["status"]) for e in emu.requests(PROD)["log"]] == [(PROD, 503)]


# -------------------------------------------------------------- CopyImage


def test_copy_to_another_region_of_the_account(emu):
    east, west = emu.client("ec2"), emu.client("ec2", region="eu-west-1")
    source = own_image(east, tags_={"app": "hello", "digest": "abc"})
    name = unique("hello-eu")
    copy = west.copy_image(
        SourceImageId=source, SourceRegion="us-east-1", Name=name, Description="for prod",
        CopyImageTags=True, TagSpecifications=[
            {"ResourceType": "image", "Tags": [{"Key": "env", "Value": "prod"}]},
            {"ResourceType": "snapshot", "Tags": [{"Key": "env", "Value": "prod-snap"}]}],
    )["ImageId"]
    assert copy != source
    pending = image(west, copy)
    assert pending["State"] == "pending"
    assert (pending["OwnerId"], pending["Name"], pending["Description"]) == (
        KILN, name, "for prod")
    assert tags(pending) == {"app": "hello", "digest": "abc", "env": "prod"}
    assert (pending["SourceImageId"], pending["SourceImageRegion"]) == (source, "us-east-1")
    done = wait_state(west, copy, "available")
    snapshot = root_snapshot(done)
    assert snapshot != root_snapshot(image(east, source))
    snap = west.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]
    assert (snap["OwnerId"], snap["State"], tags(snap)) == (KILN, "completed",
                                                            {"env": "prod-snap"})
    assert copy in {i["ImageId"] for i in west.describe_images(Owners=["self"])["Images"]}
    assert [i["ImageId"] for i in west.describe_images(
        Filters=[{"Name": "tag:digest", "Values": ["abc"]}])["Images"]] == [copy]
    # The copy lives in eu-west-1 only.
    assert error_of(east.describe_images, ImageIds=[copy])[1] == "InvalidAMIID.NotFound"


def test_copy_of_an_ami_shared_with_another_account(emu):
    kiln_ec2 = emu.client("ec2")
    source = own_image(kiln_ec2, tags_={"app": "hello"})
    share(kiln_ec2, source, PROD)
    prod_east = acting(emu, PROD).client("ec2")
    # The shared AMI is visible (not its owner's tags), not owned.
    seen = image(prod_east, source)
    assert (seen["OwnerId"], tags(seen)) == (KILN, {})
    assert source in {i["ImageId"] for i in prod_east.describe_images(
        ExecutableUsers=["self"])["Images"]}
    assert source not in {i["ImageId"] for i in prod_east.describe_images(
        Owners=["self"])["Images"]}
    assert kiln_ec2.describe_image_attribute(ImageId=source, Attribute="launchPermission")[
        "LaunchPermissions"] == [{"UserId": PROD}]
    assert error_of(prod_east.describe_image_attribute, ImageId=source,
                    Attribute="launchPermission")[1] == "InvalidAMIID.NotFound"

    prod_west = acting(emu, PROD, "eu-west-1").client("ec2")
    copy = prod_west.copy_image(SourceImageId=source, SourceRegion="us-east-1",
                                Name=unique("hello-prod"), CopyImageTags=True)["ImageId"]
    pending = image(prod_west, copy)
    assert (pending["State"], pending["OwnerId"], tags(pending)) == ("pending", PROD, {})
    done = wait_state(prod_west, copy, "available")
    snap = prod_west.describe_snapshots(SnapshotIds=[root_snapshot(done)])["Snapshots"][0]
    assert snap["OwnerId"] == PROD
    assert copy in {i["ImageId"] for i in prod_west.describe_images(Owners=["self"])["Images"]}
    # Neither Kiln's account nor a third one sees the copy.
    for ec2 in (emu.client("ec2", region="eu-west-1"),
                acting(emu, OTHER, "eu-west-1").client("ec2")):
        assert error_of(ec2.describe_images, ImageIds=[copy])[1] == "InvalidAMIID.NotFound"


def test_copy_of_another_accounts_ami_needs_it_and_its_snapshots_shared(emu):
    kiln_ec2 = emu.client("ec2")
    source = own_image(kiln_ec2)
    prod_west = acting(emu, PROD, "eu-west-1").client("ec2")

    def copy():
        return error_of(prod_west.copy_image, SourceImageId=source, SourceRegion="us-east-1",
                        Name=unique("nope"))

    not_found = (400, "InvalidAMIID.NotFound", f"The image id '[{source}]' does not exist")
    assert copy() == not_found
    share(kiln_ec2, source, PROD, launch=False)  # the snapshots alone are not enough
    assert copy() == not_found
    share(kiln_ec2, source, OTHER, snapshots=False)  # shared with someone else
    assert copy() == not_found
    kiln_ec2.modify_snapshot_attribute(SnapshotId=root_snapshot(image(kiln_ec2, source)),
                                       Attribute="createVolumePermission",
                                       OperationType="remove", UserIds=[PROD])
    share(kiln_ec2, source, PROD, snapshots=False)  # the AMI but not its storage
    assert copy() == (400, "InvalidRequest",
                      "You do not have permission to access the storage of this ami")
    snapshot = root_snapshot(image(kiln_ec2, source))
    assert kiln_ec2.describe_snapshot_attribute(
        SnapshotId=snapshot, Attribute="createVolumePermission")[
        "CreateVolumePermissions"] == []
    kiln_ec2.modify_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission",
                                       OperationType="add", UserIds=[PROD])
    assert kiln_ec2.describe_snapshot_attribute(
        SnapshotId=snapshot, Attribute="createVolumePermission")[
        "CreateVolumePermissions"] == [{"UserId": PROD}]
    kiln_ec2.modify_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission",
                                       CreateVolumePermission={"Remove": [{"UserId": PROD}]})
    assert copy()[1] == "InvalidRequest"
    assert prod_west.describe_images(Owners=["self"], Filters=[
        {"Name": "name", "Values": ["nope-*"]}])["Images"] == []


def test_client_token_makes_copy_image_idempotent(emu):
    east, west = emu.client("ec2"), emu.client("ec2", region="eu-west-1")
    source = own_image(east)
    name, token = unique("idem"), unique("token")
    args = dict(SourceImageId=source, SourceRegion="us-east-1", Name=name, ClientToken=token)
    first = west.copy_image(**args)["ImageId"]
    assert west.copy_image(**args)["ImageId"] == first
    wait_state(west, first, "available")
    assert west.copy_image(**args)["ImageId"] == first
    assert [i["ImageId"] for i in west.describe_images(
        Filters=[{"Name": "name", "Values": [name]}])["Images"]] == [first]
    assert error_of(west.copy_image, **dict(args, Name=unique("other")))[1] == \
        "IdempotentParameterMismatch"
    # Tokens belong to an account: the same token in another account copies.
    share(east, source, PROD)
    prod_west = acting(emu, PROD, "eu-west-1").client("ec2")
    assert prod_west.copy_image(**args)["ImageId"] != first


def test_a_copy_can_fail(emu):
    east, west = emu.client("ec2"), emu.client("ec2", region="eu-west-1")
    source = own_image(east)
    emu.faults({"service": "ec2", "action": "CopyImage", "kind": "copy-fail", "count": 1})
    failed = west.copy_image(SourceImageId=source, SourceRegion="us-east-1",
                             Name=unique("fails"))["ImageId"]
    assert image(west, failed)["State"] == "pending"
    img = wait_state(west, failed, "failed")
    assert img["StateReason"] == {
        "Code": "Server.InternalError",
        "Message": "Copy of the image failed because of an internal error."}
    # The fault is used up: the next copy (the same name is free again) works.
    retry = west.copy_image(SourceImageId=source, SourceRegion="us-east-1",
                            Name=img["Name"])["ImageId"]
    assert wait_state(west, retry, "available")["Name"] == img["Name"]
    assert emu.faults() and emu.faults()[0]["remaining"] == 0


def test_deregistering_the_source_leaves_the_copy(emu):
    east, west = emu.client("ec2"), emu.client("ec2", region="eu-west-1")
    source = own_image(east)
    share(east, source, PROD)
    prod_west = acting(emu, PROD, "eu-west-1").client("ec2")
    mine = west.copy_image(SourceImageId=source, SourceRegion="us-east-1",
                           Name=unique("mine"))["ImageId"]
    theirs = prod_west.copy_image(SourceImageId=source, SourceRegion="us-east-1",
                                  Name=unique("theirs"))["ImageId"]
    wait_state(west, mine, "available")
    wait_state(prod_west, theirs, "available")
    east.deregister_image(ImageId=source)
    assert east.describe_images(Owners=["self"], Filters=[
        {"Name": "image-id", "Values": [source]}])["Images"] == []
    for ec2, ami in ((west, mine), (prod_west, theirs)):
        img = image(ec2, ami)
        assert img["State"] == "available"
        assert ec2.describe_snapshots(SnapshotIds=[root_snapshot(img)])["Snapshots"]


def test_copy_image_refusals(emu):
    east, west = emu.client("ec2"), emu.client("ec2", region="eu-west-1")
    pending = east.copy_image(SourceImageId=PUBLIC_AMI["id"], SourceRegion="us-east-1",
                              Name=unique("pending"))["ImageId"]
    status, code, _ = error_of(west.copy_image, SourceImageId=pending,
                               SourceRegion="us-east-1", Name=unique("x"))
    assert (status, code) == (400, "InvalidAMIID.Unavailable")
    wait_state(east, pending, "available")
    source = pending
    name = unique("taken")
    west.copy_image(SourceImageId=source, SourceRegion="us-east-1", Name=name)
    assert error_of(west.copy_image, SourceImageId=source, SourceRegion="us-east-1",
                    Name=name)[1] == "InvalidAMIName.Duplicate"
    assert error_of(west.copy_image, SourceImageId=source, SourceRegion="us-east-1",
                    Name=unique("k"), KmsKeyId="alias/x")[1] == "InvalidParameterDependency"
    assert error_of(west.copy_image, SourceImageId=source, SourceRegion="us-east-1",
                    Name=unique("d"), DryRun=True)[:2] == (412, "DryRunOperation")
    assert error_of(west.copy_image, SourceImageId=source, SourceRegion="xx-nowhere-1",
                    Name=unique("r"))[1] == "InvalidParameterValue"
    assert error_of(west.copy_image, SourceImageId=source, SourceRegion="us-east-1",
                    Name=unique("t"), TagSpecifications=[
                        {"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}]
                    )[1] == "InvalidParameterValue"
    encrypted = west.copy_image(SourceImageId=source, SourceRegion="us-east-1",
                                Name=unique("enc"), Encrypted=True)["ImageId"]
    snap = west.describe_snapshots(SnapshotIds=[root_snapshot(image(west, encrypted))])[
        "Snapshots"][0]
    assert snap["Encrypted"] and snap["KmsKeyId"]

