"""EC2 DeleteLaunchTemplateVersions (tests/awsemu/lt_versions.py)."""
import pytest

from awsemu.testing import AwsEmu


@pytest.fixture(scope="module")
def emu():
    e = AwsEmu(bake_seconds=0.3)
    yield e
    e.stop()


def test_delete_launch_template_versions_keeps_the_default_and_numbers(emu):
    """moto lacks DeleteLaunchTemplateVersions: deleted versions are gone
    from the listing, the default is refused, numbers are not reused."""
    ec2 = emu.client("ec2")
    lt = ec2.create_launch_template(LaunchTemplateName="del-versions",
                                    LaunchTemplateData={"ImageId": "ami-12c6146b"})
    tid = lt["LaunchTemplate"]["LaunchTemplateId"]
    for _ in range(3):
        ec2.create_launch_template_version(LaunchTemplateId=tid,
                                           LaunchTemplateData={"ImageId": "ami-12c6146b"})
    r = ec2.delete_launch_template_versions(LaunchTemplateId=tid, Versions=["1", "2", "9"])
    assert [v["VersionNumber"] for v in r["SuccessfullyDeletedLaunchTemplateVersions"]] == [2]
    refused = {v["VersionNumber"]: v["ResponseError"]["Code"]
               for v in r["UnsuccessfullyDeletedLaunchTemplateVersions"]}
    assert refused == {1: "launchTemplateVersionIsDefaultVersion",
                       9: "launchTemplateVersionDoesNotExist"}
    listed = [v["VersionNumber"] for v in ec2.describe_launch_template_versions(
        LaunchTemplateId=tid)["LaunchTemplateVersions"]]
    assert sorted(listed) == [1, 3, 4]
    v = ec2.create_launch_template_version(LaunchTemplateId=tid,
                                           LaunchTemplateData={"ImageId": "ami-12c6146b"})
    assert v["LaunchTemplateVersion"]["VersionNumber"] == 5
