"""SSM and Image Builder operations through Kiln's client, judged by
boto3."""

import pytest

from awsemu.testing import wait_until
from .ops import AL2023, public_ami, result, run, unique

COMPONENT_DOC = """\
name: hello
schemaVersion: 1.0
parameters:
  - ArtifactUrl:
      type: string
      default: https://example.com/hello.jar
phases:
  - name: build
    steps:
      - name: Install
        action: ExecuteBash
        inputs:
          commands: ["echo 'héllo \\"quoted\\" & <tag>'"]
"""


def test_get_parameters_found_and_invalid(awsemu):
    ssm = awsemu.client("ssm")
    base = "/" + unique("kiln")
    ssm.put_parameter(Name=f"{base}/a", Value="ami-0123456789abcdef0", Type="String")
    ssm.put_parameter(Name=f"{base}/b", Value="ünïcödé ✓ \"q\" \\ /", Type="String")
    ssm.put_parameter(Name=f"{base}/b", Value="v2: ünïcödé ✓ \"q\" \\ /", Type="String",
                      Overwrite=True)
    names = [f"{base}/a", f"{base}/b", f"{base}/missing", AL2023]
    got = result(awsemu, "get_parameters", {"names": names})
    want = ssm.get_parameters(Names=names)
    assert sorted((p["name"], p["type"], p["value"], p["version"]) for p in got["parameters"]) \
        == sorted((p["Name"], p["Type"], p["Value"], p["Version"]) for p in want["Parameters"])
    assert got["invalid"] == want["InvalidParameters"] == [f"{base}/missing"]
    b = [p for p in got["parameters"] if p["name"] == f"{base}/b"][0]
    assert b["version"] == 2 and b["value"].startswith("v2: ünïcödé ✓")


def test_get_parameters_limits(awsemu):
    assert run(awsemu, "get_parameters", {"names": []}, expect_ok=False)["err"] == "KILN_EINVAL"
    out = run(awsemu, "get_parameters", {"names": [f"/n{i}" for i in range(11)]},
              expect_ok=False)
    assert out["err"] == "KILN_EINVAL"


def test_get_parameter_and_not_found(awsemu):
    got = result(awsemu, "get_parameter", {"name": AL2023})
    want = awsemu.client("ssm").get_parameter(Name=AL2023)["Parameter"]
    assert (got["name"], got["value"], got["version"], got["type"]) == (
        want["Name"], want["Value"], want["Version"], want["Type"])
    out = run(awsemu, "get_parameter", {"name": "/kiln/does-not-exist"}, expect_ok=False)
    assert out["err"] == "KILN_EAWS" and out["code"] == "ParameterNotFound"
    assert out["request_id"] and out["http_status"] == 400


def create_component(emu, name, version="1.0.0"):
    return result(emu, "ib_create_component", {
        "name": name, "semantic_version": version, "data": COMPONENT_DOC,
        "description": "Kiln's hello", "tags": [{"key": "kiln:app", "value": "hello"}],
        "client_token": unique("tok")})["arn"]


def test_components(awsemu):
    ib = awsemu.client("imagebuilder")
    name = unique("comp")
    arn = create_component(awsemu, name)
    w = ib.get_component(componentBuildVersionArn=arn)["component"]
    assert w["name"] == name and w["platform"] == "Linux" and w["data"] == COMPONENT_DOC
    assert w["description"] == "Kiln's hello" and w["tags"] == {"kiln:app": "hello"}
    got = result(awsemu, "ib_get_component", {"arn": arn})
    assert (got["arn"], got["name"], got["version"], got["platform"], got["description"],
            got["data"], got["tags"]) == (w["arn"], w["name"], w["version"], w["platform"],
                                          w["description"], w["data"], w["tags"])
    create_component(awsemu, name, "1.0.1")
    listed = result(awsemu, "ib_list_components", {
        "owner": "Self", "filters": [{"name": "name", "values": [name]}]})["items"]
    want = ib.list_components(owner="Self", filters=[{"name": "name", "values": [name]}])
    assert sorted((c["arn"], c["name"], c["version"]) for c in listed) == sorted(
        (c["arn"], c["name"], c["version"]) for c in want["componentVersionList"])
    assert len(listed) >= 1


def test_list_components_follows_next_token(awsemu):
    prefix = unique("many")
    for i in range(5):
        create_component(awsemu, f"{prefix}-{i}")
    awsemu.reset_requests()
    listed = result(awsemu, "ib_list_components", {"owner": "Self", "max_results": 2})["items"]
    assert awsemu.counts()["imagebuilder:ListComponents"] >= 3
    names = {c["name"] for c in listed}
    assert {f"{prefix}-{i}" for i in range(5)} <= names
    want = [c for p in awsemu.client("imagebuilder").get_paginator("list_components")
            .paginate(owner="Self") for c in p["componentVersionList"]]
    assert sorted(c["arn"] for c in listed) == sorted(c["arn"] for c in want)


def bake_inputs(emu):
    name = unique("hello")
    comp = create_component(emu, name)
    recipe = result(emu, "ib_create_image_recipe", {
        "name": name, "semantic_version": "1.0.0", "parent_image": public_ami(emu),
        "description": "recipe", "client_token": unique("tok"),
        "components": [{"component_arn": comp, "parameters": [
                            {"name": "ArtifactUrl", "values": ["https://x/hello-1.jar"]}]},
                       {"component_arn": "arn:aws:imagebuilder:us-east-1:aws:component/"
                                         "update-linux/x.x.x"}],
        "block_devices": [{"device_name": "/dev/xvda", "volume_size_gib": 12,
                           "volume_type": "gp3", "encrypted": True}],
        "tags": [{"key": "kiln:app", "value": "hello"}]})["arn"]
    infra = result(emu, "ib_create_infrastructure_configuration", {
        "name": name, "instance_profile_name": "kiln-image-builder",
        "instance_types": ["t3.small", "t3.medium"], "terminate_instance_on_failure": True,
        "tags": [{"key": "kiln:app", "value": "hello"}], "client_token": unique("tok")})["arn"]
    return name, comp, recipe, infra


def test_recipes_and_infrastructure_configurations(awsemu):
    ib = awsemu.client("imagebuilder")
    name, comp, recipe, infra = bake_inputs(awsemu)
    r = ib.get_image_recipe(imageRecipeArn=recipe)["imageRecipe"]
    assert r["name"] == name and r["parentImage"] == public_ami(awsemu)
    assert r["components"][0]["componentArn"] == comp
    assert r["components"][0]["parameters"] == [{"name": "ArtifactUrl",
                                                 "value": ["https://x/hello-1.jar"]}]
    assert r["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 12
    assert r["tags"] == {"kiln:app": "hello"}
    listed = result(awsemu, "ib_list_image_recipes", {"owner": "Self"})["items"]
    mine = [x for x in listed if x["arn"] == recipe]
    assert len(mine) == 1 and mine[0]["name"] == name
    assert mine[0]["parent_image"] == r["parentImage"] and mine[0]["tags"] == r["tags"]
    i = ib.get_infrastructure_configuration(infrastructureConfigurationArn=infra)
    i = i["infrastructureConfiguration"]
    assert i["instanceTypes"] == ["t3.small", "t3.medium"]
    assert i["instanceProfileName"] == "kiln-image-builder"
    assert i["terminateInstanceOnFailure"] is True and i["tags"] == {"kiln:app": "hello"}
    result(awsemu, "ib_update_infrastructure_configuration", {
        "arn": infra, "instance_profile_name": "kiln-image-builder-2",
        "instance_types": ["t3.large"], "client_token": unique("tok")})
    i = ib.get_infrastructure_configuration(infrastructureConfigurationArn=infra)
    assert i["infrastructureConfiguration"]["instanceTypes"] == ["t3.large"]
    assert i["infrastructureConfiguration"]["instanceProfileName"] == "kiln-image-builder-2"
    listed = result(awsemu, "ib_list_infrastructure_configurations",
                    {"filters": [{"name": "name", "values": [name]}]})["items"]
    want = ib.list_infrastructure_configurations(
        filters=[{"name": "name", "values": [name]}])["infrastructureConfigurationSummaryList"]
    assert [(x["arn"], x["name"]) for x in listed] == [(w["arn"], w["name"]) for w in want]
    assert [x["arn"] for x in listed] == [infra]


def test_bake_through_kiln(awsemu):
    name, _, recipe, infra = bake_inputs(awsemu)
    token = unique("digest")
    arn = result(awsemu, "ib_create_image", {
        "image_recipe_arn": recipe, "infrastructure_configuration_arn": infra,
        "tags": [{"key": "kiln:digest", "value": token}], "client_token": token})["arn"]
    assert arn.endswith("/1.0.0/1")
    # The same client token names the same bake: no second build.
    again = result(awsemu, "ib_create_image", {
        "image_recipe_arn": recipe, "infrastructure_configuration_arn": infra,
        "tags": [{"key": "kiln:digest", "value": token}], "client_token": token})["arn"]
    assert again == arn

    def done():
        img = result(awsemu, "ib_get_image", {"arn": arn})
        return img if img["state_status"] in ("AVAILABLE", "FAILED") else None

    img = wait_until(done, timeout=30, what="bake")
    w = awsemu.client("imagebuilder").get_image(imageBuildVersionArn=arn)["image"]
    assert img["state_status"] == w["state"]["status"] == "AVAILABLE"
    assert img["state_reason"] == w["state"].get("reason")
    assert img["image_recipe_arn"] == recipe
    assert img["infrastructure_configuration_arn"] == infra
    assert img["amis"] == [{"image": a["image"], "region": a["region"]}
                           for a in w["outputResources"]["amis"]]
    assert len(img["amis"]) == 1 and img["amis"][0]["region"] == "us-east-1"
    assert img["tags"] == w.get("tags", {})
    # The AMI is real: DescribeImages through Kiln finds it.
    found = result(awsemu, "describe_images", {"image_ids": [img["amis"][0]["image"]]})
    assert [i["image_id"] for i in found["images"]] == [img["amis"][0]["image"]]


def test_get_image_of_unknown_arn_is_an_aws_error(awsemu):
    arn = "arn:aws:imagebuilder:us-east-1:123456789012:image/nope/1.0.0/1"
    out = run(awsemu, "ib_get_image", {"arn": arn}, expect_ok=False)
    with pytest.raises(Exception) as e:
        awsemu.client("imagebuilder").get_image(imageBuildVersionArn=arn)
    assert out["err"] == "KILN_EAWS"
    assert out["code"] == e.value.response["Error"]["Code"]
    assert out["http_status"] == e.value.response["ResponseMetadata"]["HTTPStatusCode"]
