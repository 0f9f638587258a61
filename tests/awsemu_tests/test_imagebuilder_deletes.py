"""Image Builder deletions as AWS does them: DeleteImage leaves the AMI in
EC2 and refuses a build that is still running, DeleteImageRecipe does not
care about the images built from the recipe, DeleteComponent waits until no
recipe uses the component. Runs on the session's emulator (--bake-seconds 1)."""

import botocore.exceptions
import pytest

from awsemu.testing import account_session, wait_until

from .helpers import COMPONENT_DOC, bake_inputs, unique

OTHER_ACCOUNT = "210987654321"


def refused(call, code, **kwargs):
    """Calls call(**kwargs), which must fail with `code`; returns the message."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    assert e.value.response["Error"]["Code"] == code, e.value.response
    return e.value.response["Error"]["Message"]


def bake_end(ib, arn, timeout=10):
    """Polls GetImage until the build has ended; returns the image."""
    def ended():
        image = ib.get_image(imageBuildVersionArn=arn)["image"]
        return image if image["state"]["status"] in (
            "AVAILABLE", "FAILED", "CANCELLED", "DISABLED") else None
    return wait_until(ended, timeout=timeout, interval=0.02, what=f"bake {arn}")


def component_of(ib, recipe):
    """The account's own component build version the recipe names."""
    refs = ib.get_image_recipe(imageRecipeArn=recipe)["imageRecipe"]["components"]
    own = [r["componentArn"] for r in refs if ":aws:component/" not in r["componentArn"]]
    assert len(own) == 1, refs
    return own[0]


def test_delete_image_recipe_and_component_in_dependency_order(awsemu):
    ib, ec2 = awsemu.client("imagebuilder"), awsemu.client("ec2")
    recipe, infra, _ = bake_inputs(awsemu)
    component = component_of(ib, recipe)

    # Bake one image to the end, and leave a second build of the same recipe
    # (cancelled) that is never deleted.
    baked = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                            clientToken=unique("t"))["imageBuildVersionArn"]
    kept = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                           clientToken=unique("t"))["imageBuildVersionArn"]
    ib.cancel_image_creation(imageBuildVersionArn=kept, clientToken=unique("t"))
    image = bake_end(ib, baked)
    assert image["state"]["status"] == "AVAILABLE"
    ami = image["outputResources"]["amis"][0]["image"]

    # The recipe still uses the component.
    message = refused(ib.delete_component, "ResourceDependencyException",
                      componentBuildVersionArn=component)
    assert recipe in message
    assert ib.get_component(componentBuildVersionArn=component)["component"]["arn"] == component

    # DeleteImage: gone from Image Builder, the AMI stays in EC2.
    out = ib.delete_image(imageBuildVersionArn=baked)
    assert out["imageBuildVersionArn"] == baked and out["requestId"]
    refused(ib.get_image, "ResourceNotFoundException", imageBuildVersionArn=baked)
    version = baked.rsplit("/", 1)[0]
    builds = ib.list_image_build_versions(imageVersionArn=version)["imageSummaryList"]
    assert [b["arn"] for b in builds] == [kept]
    # The version ARN now stands for the build that is left.
    assert ib.get_image(imageBuildVersionArn=version)["image"]["arn"] == kept
    described = ec2.describe_images(ImageIds=[ami])["Images"]
    assert [i["State"] for i in described] == ["available"]
    assert {"Key": "Ec2ImageBuilderArn", "Value": baked} in described[0]["Tags"]
    refused(ib.delete_image, "ResourceNotFoundException", imageBuildVersionArn=baked)

    # DeleteImageRecipe: allowed although an image built from it remains; that
    # image keeps its copy of the recipe.
    name = ib.get_image_recipe(imageRecipeArn=recipe)["imageRecipe"]["name"]
    out = ib.delete_image_recipe(imageRecipeArn=recipe)
    assert out["imageRecipeArn"] == recipe and out["requestId"]
    refused(ib.get_image_recipe, "ResourceNotFoundException", imageRecipeArn=recipe)
    listed = ib.list_image_recipes(filters=[{"name": "name", "values": [name]}])
    assert listed["imageRecipeSummaryList"] == []
    assert ib.get_image(imageBuildVersionArn=kept)["image"]["imageRecipe"]["arn"] == recipe
    refused(ib.create_image, "ResourceNotFoundException", imageRecipeArn=recipe,
            infrastructureConfigurationArn=infra, clientToken=unique("t"))

    # Nothing uses the component any more.
    out = ib.delete_component(componentBuildVersionArn=component)
    assert out["componentBuildVersionArn"] == component and out["requestId"]
    refused(ib.get_component, "ResourceNotFoundException", componentBuildVersionArn=component)
    listed = ib.list_components(owner="Self", filters=[{"name": "name", "values": [name]}])
    assert listed["componentVersionList"] == []

    # The last build of the version gone: ListImages no longer shows it.
    ib.delete_image(imageBuildVersionArn=kept)
    versions = ib.list_images(filters=[{"name": "name", "values": [name]}])["imageVersionList"]
    assert versions == []
    refused(ib.get_image, "ResourceNotFoundException", imageBuildVersionArn=version)


def test_delete_image_refuses_a_build_in_progress(awsemu):
    ib = awsemu.client("imagebuilder")
    recipe, infra, _ = bake_inputs(awsemu)
    arn = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                          clientToken=unique("t"))["imageBuildVersionArn"]
    # A bake lasts a second (PENDING, BUILDING, TESTING): this comes first.
    message = refused(ib.delete_image, "ResourceDependencyException", imageBuildVersionArn=arn)
    assert "CancelImageCreation" in message
    assert ib.get_image(imageBuildVersionArn=arn)["image"]["state"]["status"] != "AVAILABLE"

    # Cancelled, it can go; the next build of the version does not reuse its
    # number.
    ib.cancel_image_creation(imageBuildVersionArn=arn, clientToken=unique("t"))
    ib.delete_image(imageBuildVersionArn=arn)
    again = ib.create_image(imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                            clientToken=unique("t"))["imageBuildVersionArn"]
    assert arn.endswith("/1") and again == arn[:-1] + "2"
    ib.cancel_image_creation(imageBuildVersionArn=again, clientToken=unique("t"))


def test_a_recipe_holds_the_component_version_its_wildcard_resolves_to(awsemu):
    ib = awsemu.client("imagebuilder")
    name = unique("comp")
    old, new = (ib.create_component(name=name, semanticVersion=v, platform="Linux",
                                    data=COMPONENT_DOC, clientToken=unique("t"))
                ["componentBuildVersionArn"] for v in ("1.0.0", "1.1.0"))
    parent = ib.get_image_recipe(imageRecipeArn=bake_inputs(awsemu)[0])["imageRecipe"][
        "parentImage"]
    recipe = ib.create_image_recipe(
        name=unique("r"), semanticVersion="1.0.0", parentImage=parent,
        components=[{"componentArn": old.rsplit("/", 2)[0] + "/1.x.x"}],
        clientToken=unique("t"))["imageRecipeArn"]
    refused(ib.delete_component, "ResourceDependencyException", componentBuildVersionArn=new)
    ib.delete_component(componentBuildVersionArn=old)  # not what the recipe uses
    ib.delete_image_recipe(imageRecipeArn=recipe)
    ib.delete_component(componentBuildVersionArn=new)


def test_unknown_arns_are_not_found(awsemu):
    ib = awsemu.client("imagebuilder")
    prefix = "arn:aws:imagebuilder:us-east-1:123456789012"
    missing = unique("missing")
    refused(ib.delete_image, "ResourceNotFoundException",
            imageBuildVersionArn=f"{prefix}:image/{missing}/1.0.0/1")
    refused(ib.delete_image_recipe, "ResourceNotFoundException",
            imageRecipeArn=f"{prefix}:image-recipe/{missing}/1.0.0")
    refused(ib.delete_component, "ResourceNotFoundException",
            componentBuildVersionArn=f"{prefix}:component/{missing}/1.0.0/1")
    # An AWS-managed component is not the account's to delete.
    refused(ib.delete_component, "ResourceNotFoundException",
            componentBuildVersionArn="arn:aws:imagebuilder:us-east-1:aws:component/"
                                     "update-linux/1.0.2/1")
    # A recipe is deleted by its exact version, not a wildcard.
    recipe = bake_inputs(awsemu)[0]
    wildcard = recipe.rsplit("/", 1)[0] + "/1.x.x"
    assert "wildcard" in refused(ib.delete_image_recipe, "ResourceNotFoundException",
                                 imageRecipeArn=wildcard)
    # A build version ARN is required: a version ARN breaks the API's pattern.
    refused(ib.delete_image, "InvalidParameterValueException",
            imageBuildVersionArn=f"{prefix}:image/{missing}/1.0.0")
    assert ib.get_image_recipe(imageRecipeArn=recipe)["imageRecipe"]["arn"] == recipe


def test_deletes_act_in_the_callers_account_and_region(awsemu):
    ib = awsemu.client("imagebuilder")
    component = ib.create_component(name=unique("c"), semanticVersion="1.0.0",
                                    platform="Linux", data=COMPONENT_DOC,
                                    clientToken=unique("t"))["componentBuildVersionArn"]
    other = account_session(awsemu.endpoint, OTHER_ACCOUNT).client(
        "imagebuilder", endpoint_url=awsemu.endpoint)
    refused(other.delete_component, "ResourceNotFoundException",
            componentBuildVersionArn=component)
    elsewhere = awsemu.client("imagebuilder", region="eu-west-1")
    refused(elsewhere.delete_component, "ResourceNotFoundException",
            componentBuildVersionArn=component)
    assert ib.get_component(componentBuildVersionArn=component)["component"]["arn"] == component
    ib.delete_component(componentBuildVersionArn=component)
