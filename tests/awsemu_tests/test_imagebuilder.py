"""Image Builder as Kiln uses it: bakes that end in real AMIs."""

import botocore.exceptions
import pytest

from awsemu.testing import wait_until
from .helpers import COMPONENT_DOC, bake_inputs, unique

ORDER = ["PENDING", "BUILDING", "TESTING", "AVAILABLE"]


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def follow_bake(emu, arn, timeout=20):
    """Polls GetImage until the bake ends; returns (statuses seen, image)."""
    ib = emu.client("imagebuilder")
    seen = []

    def done():
        image = ib.get_image(imageBuildVersionArn=arn)["image"]
        status = image["state"]["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        return image if status in ("AVAILABLE", "FAILED", "CANCELLED", "DISABLED") else None

    image = wait_until(done, timeout=timeout, interval=0.02, what=f"bake {arn}")
    return seen, image


def test_bake_yields_an_ami_that_describe_images_returns(awsemu):
    ib, ec2 = awsemu.client("imagebuilder"), awsemu.client("ec2")
    recipe, infra, parent = bake_inputs(awsemu)
    arn = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                          clientToken=unique("bake"))["imageBuildVersionArn"]
    assert arn.endswith("/1.0.0/1")
    seen, image = follow_bake(awsemu, arn)

    assert image["state"]["status"] == "AVAILABLE"
    # States only move forward, in AWS's order, starting at PENDING.
    assert seen[0] == "PENDING"
    assert [ORDER.index(s) for s in seen] == sorted(ORDER.index(s) for s in seen)
    amis = image["outputResources"]["amis"]
    assert len(amis) == 1 and amis[0]["region"] == "us-east-1"
    ami_id = amis[0]["image"]

    described = ec2.describe_images(ImageIds=[ami_id])["Images"]
    assert len(described) == 1
    baked, parent_image = described[0], ec2.describe_images(ImageIds=[parent])["Images"][0]
    assert baked["OwnerId"] == "123456789012"
    assert baked["Architecture"] == parent_image["Architecture"]
    assert {"Key": "Ec2ImageBuilderArn", "Value": arn} in baked["Tags"]
    assert ami_id in [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]]


def test_bake_walks_through_building_and_testing(awsemu_factory):
    # A slower bake so every intermediate state lasts long enough to be seen.
    emu = awsemu_factory(bake_seconds=2.0)
    ib = emu.client("imagebuilder")
    recipe, infra, _ = bake_inputs(emu)
    arn = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                          clientToken="t")["imageBuildVersionArn"]
    seen, image = follow_bake(emu, arn)
    assert seen == ORDER


def test_bake_fail_fault_ends_failed_with_reason_and_no_ami(awsemu):
    ib, ec2 = awsemu.client("imagebuilder"), awsemu.client("ec2")
    recipe, infra, _ = bake_inputs(awsemu)
    before = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    awsemu.faults({"service": "imagebuilder", "action": "CreateImage", "kind": "bake-fail",
                   "count": 1})
    arn = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                          clientToken=unique("bake"))["imageBuildVersionArn"]
    _, image = follow_bake(awsemu, arn)
    assert image["state"]["status"] == "FAILED"
    assert "fault" in image["state"]["reason"]
    assert image.get("outputResources", {}).get("amis", []) == []

    # The fault was used up: the next bake of the same recipe succeeds, as
    # build 2 of the same version.
    arn2 = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                           clientToken=unique("bake"))["imageBuildVersionArn"]
    assert arn2.endswith("/1.0.0/2")
    _, image2 = follow_bake(awsemu, arn2)
    assert image2["state"]["status"] == "AVAILABLE"
    after = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    assert after - before == {image2["outputResources"]["amis"][0]["image"]}


@pytest.mark.parametrize("kind,status", [("bake-cancel", "CANCELLED"),
                                         ("bake-disable", "DISABLED")])
def test_bake_cancel_and_disable_faults_end_the_bake_without_an_ami(awsemu, kind, status):
    ib = awsemu.client("imagebuilder")
    recipe, infra, _ = bake_inputs(awsemu)
    awsemu.faults({"service": "imagebuilder", "action": "CreateImage", "kind": kind,
                   "count": 1})
    arn = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                          clientToken=unique("bake"))["imageBuildVersionArn"]
    _, image = follow_bake(awsemu, arn)
    assert image["state"]["status"] == status
    assert image.get("outputResources", {}).get("amis", []) == []


def test_cancel_image_creation_cancels_a_running_build_only(awsemu):
    ib = awsemu.client("imagebuilder")
    recipe, infra, _ = bake_inputs(awsemu)
    arn = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                          clientToken=unique("bake"))["imageBuildVersionArn"]
    out = ib.cancel_image_creation(imageBuildVersionArn=arn, clientToken=unique("cancel"))
    assert out["imageBuildVersionArn"] == arn
    state = ib.get_image(imageBuildVersionArn=arn)["image"]["state"]
    assert state["status"] == "CANCELLED"
    assert "cancelled" in state["reason"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ib.cancel_image_creation(imageBuildVersionArn=arn, clientToken=unique("cancel"))
    assert error_code(e) == "ResourceInUseException"


def test_client_token_makes_create_image_idempotent(awsemu):
    ib = awsemu.client("imagebuilder")
    recipe, infra, _ = bake_inputs(awsemu)
    token = unique("bake")
    first = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                            clientToken=token)
    again = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                            clientToken=token)
    assert again["imageBuildVersionArn"] == first["imageBuildVersionArn"]
    assert again["clientToken"] == token
    version_arn = first["imageBuildVersionArn"].rsplit("/", 1)[0]
    builds = ib.list_image_build_versions(imageVersionArn=version_arn)["imageSummaryList"]
    assert len(builds) == 1

    with pytest.raises(botocore.exceptions.ClientError) as e:
        ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                        clientToken=token, tags={"different": "request"})
    assert error_code(e) == "IdempotentParameterMismatchException"


def test_client_token_makes_create_component_idempotent(awsemu):
    """AWS's semantics for every Create call with a clientToken: the same token
    with the same request answers the first result and makes nothing; with
    a different request (another app's component from the same document)
    it is IdempotentParameterMismatchException."""
    ib = awsemu.client("imagebuilder")
    token, name = unique("tok"), unique("comp")
    first = ib.create_component(name=name, semanticVersion="1.0.0", platform="Linux",
                                data=COMPONENT_DOC, tags={"kiln:app": "a"}, clientToken=token)
    again = ib.create_component(name=name, semanticVersion="1.0.0", platform="Linux",
                                data=COMPONENT_DOC, tags={"kiln:app": "a"}, clientToken=token)
    assert again["componentBuildVersionArn"] == first["componentBuildVersionArn"]
    assert again["clientToken"] == token
    listed = ib.list_components(owner="Self", filters=[{"name": "name", "values": [name]}])
    assert len(listed["componentVersionList"]) == 1
    for other in ({"name": unique("comp"), "tags": {"kiln:app": "a"}},
                  {"name": name, "tags": {"kiln:app": "b"}}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ib.create_component(semanticVersion="1.0.0", platform="Linux", data=COMPONENT_DOC,
                                clientToken=token, **other)
        assert error_code(e) == "IdempotentParameterMismatchException"


def test_component_versions_and_duplicates(awsemu):
    ib = awsemu.client("imagebuilder")
    name = unique("comp")
    for bad in ("1.0", "1.0.0.0", "01.0.0", "1.x.0", "1073741824.0.0"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ib.create_component(name=name, semanticVersion=bad, platform="Linux",
                                data=COMPONENT_DOC, clientToken=unique("t"))
        assert error_code(e) in ("InvalidVersionNumberException",
                                 "InvalidParameterValueException"), bad
    # A version that passes the API's pattern but not the semantic rules.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ib.create_component(name=name, semanticVersion="01.0.0", platform="Linux",
                            data=COMPONENT_DOC, clientToken=unique("t"))
    assert error_code(e) == "InvalidVersionNumberException"

    arns = [ib.create_component(name=name, semanticVersion=v, platform="Linux",
                                data=COMPONENT_DOC, clientToken=unique("t"))
            ["componentBuildVersionArn"] for v in ("1.0.0", "1.2.0", "2.0.0")]
    assert arns[0].endswith(f"component/{name}/1.0.0/1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ib.create_component(name=name, semanticVersion="1.0.0", platform="Linux",
                            data=COMPONENT_DOC, clientToken=unique("t"))
    assert error_code(e) == "ResourceAlreadyExistsException"

    # Wildcard ARNs resolve to the newest matching version.
    base = arns[0].rsplit("/", 2)[0]
    assert ib.get_component(componentBuildVersionArn=f"{base}/1.x.x")["component"][
        "version"] == "1.2.0"
    assert ib.get_component(componentBuildVersionArn=f"{base}/x.x.x")["component"][
        "version"] == "2.0.0"
    component = ib.get_component(componentBuildVersionArn=arns[0])["component"]
    assert component["data"] == COMPONENT_DOC
    assert component["parameters"][0]["name"] == "ArtifactUrl"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ib.get_component(componentBuildVersionArn=f"{base}/3.x.x")
    assert error_code(e) == "ResourceNotFoundException"


@pytest.mark.parametrize("doc, why", [
    ("phases: [build", "YAML"),
    ("- just\n- a list\n", "mapping"),
    ("schemaVersion: 2.0\nphases:\n  - name: build\n    steps:\n"
     "      - {name: a, action: ExecuteBash}\n", "schemaVersion"),
    ("schemaVersion: 1.0\nphases: []\n", "phases"),
    ("schemaVersion: 1.0\nphases:\n  - name: deploy\n    steps:\n"
     "      - {name: a, action: ExecuteBash}\n", "build"),
    ("schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
     "      - {name: a, action: RunSomething}\n", "action"),
    ("schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
     "      - {name: a, action: ExecuteBash}\n      - {name: a, action: Reboot}\n",
     "more than once"),
    ("schemaVersion: 1.0\nschemaVersion: 1.0\nphases: []\n", "duplicate"),
])
def test_invalid_component_documents_are_rejected(awsemu, doc, why):
    ib = awsemu.client("imagebuilder")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ib.create_component(name=unique("bad"), semanticVersion="1.0.0", platform="Linux",
                            data=doc, clientToken=unique("t"))
    assert error_code(e) == "InvalidParameterValueException"
    assert why in e.value.response["Error"]["Message"]


def test_recipe_checks_component_parameters_and_parent(awsemu):
    ib = awsemu.client("imagebuilder")
    comp = ib.create_component(name=unique("c"), semanticVersion="1.0.0", platform="Linux",
                               data=COMPONENT_DOC, clientToken=unique("t"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ib.create_image_recipe(
            name=unique("r"), semanticVersion="1.0.0", parentImage="ami-0123456789abcdef0",
            components=[{"componentArn": comp["componentBuildVersionArn"]}],
            clientToken=unique("t"))
    assert error_code(e) == "InvalidParameterValueException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ib.create_image_recipe(
            name=unique("r"), semanticVersion="1.0.0",
            parentImage="ssm:/aws/service/ami-amazon-linux-latest/"
                        "al2023-ami-kernel-default-x86_64",
            components=[{"componentArn": comp["componentBuildVersionArn"],
                         "parameters": [{"name": "Nope", "value": ["x"]}]}],
            clientToken=unique("t"))
    assert error_code(e) == "InvalidParameterValueException"
    # An ssm: parent resolves through moto's public SSM parameters.
    arn = ib.create_image_recipe(
        name=unique("r"), semanticVersion="1.0.0",
        parentImage="ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        components=[{"componentArn": comp["componentBuildVersionArn"]}],
        clientToken=unique("t"))["imageRecipeArn"]
    recipe = ib.get_image_recipe(imageRecipeArn=arn)["imageRecipe"]
    assert recipe["parentImage"].startswith("ssm:")
    assert recipe["components"][0]["componentArn"] == comp["componentBuildVersionArn"]


def test_infrastructure_configuration_update_replaces_fields(awsemu):
    ib = awsemu.client("imagebuilder")
    name = unique("infra")
    arn = ib.create_infrastructure_configuration(
        name=name, instanceProfileName="p1", instanceTypes=["t3.small"], subnetId="subnet-1",
        clientToken=unique("t"))["infrastructureConfigurationArn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ib.create_infrastructure_configuration(name=name, instanceProfileName="p1",
                                               clientToken=unique("t"))
    assert error_code(e) == "ResourceAlreadyExistsException"
    ib.update_infrastructure_configuration(infrastructureConfigurationArn=arn,
                                           instanceProfileName="p2",
                                           instanceTypes=["m5.large"], clientToken=unique("t"))
    got = ib.get_infrastructure_configuration(infrastructureConfigurationArn=arn)[
        "infrastructureConfiguration"]
    assert got["instanceProfileName"] == "p2"
    assert got["instanceTypes"] == ["m5.large"]
    assert "subnetId" not in got
    listed = ib.list_infrastructure_configurations(
        filters=[{"name": "name", "values": [name]}])["infrastructureConfigurationSummaryList"]
    assert [c["arn"] for c in listed] == [arn]


def test_tags_on_image_builder_resources(awsemu):
    ib = awsemu.client("imagebuilder")
    arn = ib.create_component(name=unique("c"), semanticVersion="1.0.0", platform="Linux",
                              data=COMPONENT_DOC, tags={"a": "1"},
                              clientToken=unique("t"))["componentBuildVersionArn"]
    ib.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert ib.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    ib.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert ib.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ib.list_tags_for_resource(resourceArn=arn.replace("/1.0.0/1", "/9.9.9/1"))
    assert error_code(e) == "ResourceNotFoundException"


def test_list_images_and_build_versions(awsemu):
    ib = awsemu.client("imagebuilder")
    recipe, infra, _ = bake_inputs(awsemu)
    arns = [ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                            clientToken=unique("t"))["imageBuildVersionArn"] for _ in range(3)]
    name = ib.get_image_recipe(imageRecipeArn=recipe)["imageRecipe"]["name"]
    versions = ib.list_images(filters=[{"name": "name", "values": [name]}])["imageVersionList"]
    assert [v["arn"] for v in versions] == [arns[0].rsplit("/", 1)[0]]
    assert versions[0]["version"] == "1.0.0"
    builds = ib.list_image_build_versions(imageVersionArn=versions[0]["arn"])["imageSummaryList"]
    assert sorted(b["arn"] for b in builds) == sorted(arns)
    for arn in arns:
        follow_bake(awsemu, arn)
