"""EC2 Image Builder, which moto does not implement: the calls Kiln uses.

Components, image recipes and infrastructure configurations are kept per
account and region. CreateImage starts a bake that walks PENDING →
BUILDING → TESTING → AVAILABLE over --bake-seconds and then registers a
real AMI in moto's EC2, derived from the recipe's parent image; a bake-fail
fault ends it FAILED with a reason and no AMI. DeleteImage,
DeleteImageRecipe and DeleteComponent remove what nothing still depends on.
"""

import base64
import datetime
import hashlib
import json
import re
import time

from . import component_doc, model, motoglue, protocol
from .errors import ApiError

SERVICE = "imagebuilder"
MAX_NODE = 2**30 - 1
# Fractions of --bake-seconds at which a bake enters each state.
PHASES = (("PENDING", 0.0), ("BUILDING", 0.2), ("TESTING", 0.7))
BAKE_FAIL_REASON = ("Image build failed: step 'build' of a component exited with a "
                    "non-zero status (bake-fail fault injected by awsemu).")
CANCEL_REASON = "The image build was cancelled."
# States a build never leaves.
TERMINAL = ("AVAILABLE", "FAILED", "CANCELLED", "DISABLED", "DELETED", "DEPRECATED")

# AWS-managed components a recipe may name (owner "aws").
MANAGED_COMPONENTS = {
    "update-linux": ("1.0.2", "Updates Linux with the latest security updates.",
                     "UpdateOS"),
    "aws-cli-version-2-linux": ("1.0.4", "Installs the AWS CLI version 2.", "ExecuteBash"),
    "amazon-cloudwatch-agent-linux": ("1.0.1", "Installs the CloudWatch agent.",
                                      "ExecuteBash"),
    "reboot-linux": ("1.0.1", "Reboots the instance.", "Reboot"),
}


def _err(code, message):
    shape = model.service_model(SERVICE).shape_for(code)
    return ApiError(code, message, shape.metadata["error"]["httpStatusCode"])


def _now_str(t):
    return protocol.iso8601(t)


def image_arn(account, region, recipe_name, version, build):
    """The ARN of build `build` of an image from recipe `recipe_name` at
    `version` ('1.2.3')."""
    return f"arn:aws:imagebuilder:{region}:{account}:image/{_slug(recipe_name)}/{version}/{build}"


def baked_ami_name(recipe_name, when):
    """The name of the AMI a bake registers at `when` (epoch seconds)."""
    stamp = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H-%M-%S.%f")[:-3]
    return f"{recipe_name} {stamp}Z"


def baked_ami_description(image_arn_):
    return f"Built by awsemu Image Builder from {image_arn_}"


def baked_ami_tags(image_arn_, ami_tags=None):
    """The tags Image Builder puts on the AMI it registers."""
    tags = {"Ec2ImageBuilderArn": image_arn_, "CreatedBy": "EC2 Image Builder"}
    tags.update(ami_tags or {})
    return tags


def _slug(name):
    # Image Builder ARNs carry the name lowercased, spaces as hyphens.
    return name.lower().replace(" ", "-")


def _parse_version(text, allow_wildcards=False):
    """'1.2.3' → (1, 2, 3); with wildcards 'x' stays 'x' ('1.x.x').
    Raises InvalidVersionNumberException the way AWS words it."""
    parts = text.split(".")
    bad = _err("InvalidVersionNumberException",
               f"The semantic version '{text}' is not valid. It must be "
               "<major>.<minor>.<patch>, each an integer from 0 to 1073741823 "
               "without leading zeros.")
    if len(parts) != 3:
        raise bad
    out = []
    for p in parts:
        if allow_wildcards and p == "x":
            out.append("x")
            continue
        if not p.isdigit() or (len(p) > 1 and p[0] == "0") or int(p) > MAX_NODE:
            raise bad
        out.append(int(p))
    # A wildcard node may only be followed by wildcards: 1.x.x, not x.1.x.
    if "x" in out and any(v != "x" for v in out[out.index("x"):]):
        raise bad
    return tuple(out)


def _version_str(v):
    return ".".join(str(p) for p in v)


def _matches(version, pattern):
    return all(p == "x" or p == v for v, p in zip(version, pattern))


class Region:
    """Image Builder state of one account in one region."""

    def __init__(self):
        self.components = {}   # build ARN → dict
        self.recipes = {}      # ARN → dict
        self.infra = {}        # ARN → dict
        self.images = {}       # build ARN → dict
        self.last_build = {}   # (name slug, version) → last build number given
        self.tokens = {}       # (action, clientToken) → (fingerprint, response)


class ImageBuilder:
    def __init__(self, emulator, bake_seconds):
        self.emulator = emulator
        self.bake_seconds = max(0.0, float(bake_seconds))
        self.regions = {}

    def _state(self, account, region):
        key = (account, region)
        if key not in self.regions:
            self.regions[key] = Region()
        return self.regions[key]

    # ------------------------------------------------------------ dispatch

    def handle(self, req):
        handler = getattr(self, "_" + req.action, None)
        if handler is None:
            raise _err("InvalidRequestException",
                       f"awsemu does not implement Image Builder {req.action}.")
        ctx = _Ctx(req, self._state(req.account_id, req.region))
        token = req.params.get("clientToken")
        if token is not None:
            return protocol.render_json(req, self._idempotent(ctx, token, handler))
        result = handler(ctx, req.params)
        if result is not None and req.op.output_shape is not None:
            if "requestId" in req.op.output_shape.members:
                result = dict(result, requestId=req.request_id)
        return protocol.render_json(req, result or {})

    def _idempotent(self, ctx, token, handler):
        """clientToken: the same token with the same request returns the
        first answer and changes nothing; with a different request it is
        IdempotentParameterMismatchException."""
        params = {k: v for k, v in ctx.req.params.items() if k != "clientToken"}
        fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
        key = (ctx.req.action, token)
        if key in ctx.state.tokens:
            seen, response = ctx.state.tokens[key]
            if seen != fingerprint:
                raise _err("IdempotentParameterMismatchException",
                           f"The client token {token} was already used with different "
                           "request parameters.")
            return dict(response, requestId=ctx.req.request_id)
        response = dict(handler(ctx, ctx.req.params), clientToken=token)
        ctx.state.tokens[key] = (fingerprint, response)
        return dict(response, requestId=ctx.req.request_id)

    # ----------------------------------------------------------- components

    def _CreateComponent(self, ctx, p):
        version = _parse_version(p["semanticVersion"])
        if ("data" in p) == ("uri" in p):
            raise _err("InvalidParameterCombinationException",
                       "You must specify exactly one of data and uri.")
        if "uri" in p:
            raise _err("InvalidParameterValueException",
                       "awsemu does not fetch component documents from S3; send data.")
        try:
            parameters = component_doc.parse(p["data"])
        except component_doc.DocumentError as e:
            raise _err("InvalidParameterValueException",
                       f"The value supplied for parameter 'data' is not valid. {e}")
        name = _slug(p["name"])
        prefix = f"{ctx.arn_prefix}:component/{name}/{_version_str(version)}/"
        if any(a.startswith(prefix) for a in ctx.state.components):
            raise _err("ResourceAlreadyExistsException",
                       f"The component {prefix.rstrip('/')} already exists.")
        arn = prefix + "1"
        ctx.state.components[arn] = {
            "arn": arn, "name": p["name"], "version": _version_str(version),
            "description": p.get("description"), "changeDescription": p.get("changeDescription"),
            "type": "BUILD", "platform": p["platform"],
            "supportedOsVersions": p.get("supportedOsVersions"),
            "state": {"status": "ACTIVE"},
            "parameters": [{"name": k, "type": v["type"], **(
                {"defaultValue": _as_list(v["default"])} if "default" in v else {})}
                for k, v in parameters.items()] or None,
            "owner": ctx.account, "data": p["data"], "kmsKeyId": p.get("kmsKeyId"),
            "encrypted": True, "dateCreated": _now_str(time.time()),
            "tags": p.get("tags") or {},
            "_declared": parameters, "_semver": version,
        }
        return {"componentBuildVersionArn": arn}

    def _managed_components(self, ctx):
        out = {}
        for name, (version, description, action) in MANAGED_COMPONENTS.items():
            arn = f"arn:aws:imagebuilder:{ctx.region}:aws:component/{name}/{version}/1"
            data = ("schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                    f"      - name: Run\n        action: {action}\n")
            out[arn] = {
                "arn": arn, "name": name, "version": version, "description": description,
                "type": "BUILD", "platform": "Linux", "state": {"status": "ACTIVE"},
                "owner": "Amazon", "data": data, "encrypted": True,
                "dateCreated": "2020-01-01T00:00:00.000Z", "tags": {},
                "_declared": {}, "_semver": _parse_version(version),
            }
        return out

    def _all_components(self, ctx):
        return {**self._managed_components(ctx), **ctx.state.components}

    def _find_component(self, ctx, arn):
        """A component by build-version ARN, version ARN, or wildcard ARN
        (x.x.x, 1.x.x, 1.2.x): the newest that matches."""
        m = re.match(r"^arn:aws[^:]*:imagebuilder:([^:]+):([^:]+):component/([a-z0-9-_]+)/"
                     r"([0-9x.]+)(?:/([0-9]+))?$", arn)
        if not m:
            raise _err("InvalidParameterValueException", f"The ARN {arn} is not valid.")
        _, owner, name, version, build = m.groups()
        pattern = _parse_version(version, allow_wildcards=True)
        found = [c for a, c in self._all_components(ctx).items()
                 if a.split(":")[4] == owner and _slug(c["name"]) == name
                 and _matches(c["_semver"], pattern)
                 and (build is None or a.endswith(f"/{build}"))]
        if not found:
            raise _err("ResourceNotFoundException", f"The component {arn} was not found.")
        return max(found, key=lambda c: (c["_semver"], c["arn"]))

    def _GetComponent(self, ctx, p):
        c = self._find_component(ctx, p["componentBuildVersionArn"])
        return {"component": _public(c)}

    def _ListComponents(self, ctx, p):
        owner = p.get("owner", "Self")
        pool = (self._managed_components(ctx) if owner == "Amazon"
                else ctx.state.components if owner == "Self" else {})
        rows = [{"arn": c["arn"].rsplit("/", 1)[0], "name": c["name"], "version": c["version"],
                 "description": c.get("description"), "platform": c["platform"],
                 "supportedOsVersions": c.get("supportedOsVersions"), "type": c["type"],
                 "owner": c["owner"], "dateCreated": c["dateCreated"],
                 "status": "ACTIVE"} for c in pool.values()]
        rows = _filter(rows, p.get("filters"), ("name", "platform", "type", "supportedOsVersion"))
        return _page(p, rows, "componentVersionList")

    def _DeleteComponent(self, ctx, p):
        """Deletes one of the account's component build versions, refused
        (ResourceDependencyException) while a recipe uses it: names it, or
        names a version or wildcard that resolves to it now."""
        arn = p["componentBuildVersionArn"]
        if arn not in ctx.state.components:
            raise _err("ResourceNotFoundException", f"The component {arn} was not found.")
        users = sorted(r["arn"] for r in ctx.state.recipes.values()
                       if any(self._resolves_to(ctx, ref["componentArn"], arn)
                              for ref in r["components"]))
        if users:
            more = f" (and {len(users) - 1} more)" if len(users) > 1 else ""
            raise _err("ResourceDependencyException",
                       f"Resource dependency error: the component {arn} is used by the "
                       f"image recipe {users[0]}{more}; delete the recipe first.")
        del ctx.state.components[arn]
        return {"componentBuildVersionArn": arn}

    def _resolves_to(self, ctx, ref, arn):
        try:
            return self._find_component(ctx, ref)["arn"] == arn
        except ApiError:
            return False

    # -------------------------------------------------------------- recipes

    def _CreateImageRecipe(self, ctx, p):
        version = _parse_version(p["semanticVersion"])
        components = []
        platform = None
        for i, ref in enumerate(p.get("components") or []):
            c = self._find_component(ctx, ref["componentArn"])
            for given in ref.get("parameters") or []:
                if given["name"] not in c["_declared"]:
                    raise _err("InvalidParameterValueException",
                               f"The parameter '{given['name']}' is not defined by "
                               f"component {ref['componentArn']}.")
            platform = platform or c["platform"]
            components.append(ref)
        if not components:
            raise _err("InvalidRequestException", "A recipe needs at least one component.")
        self._resolve_parent(ctx, p["parentImage"])  # fail now, not at bake time
        name = _slug(p["name"])
        arn = f"{ctx.arn_prefix}:image-recipe/{name}/{_version_str(version)}"
        if arn in ctx.state.recipes:
            raise _err("ResourceAlreadyExistsException",
                       f"The image recipe {arn} already exists.")
        ctx.state.recipes[arn] = {
            "arn": arn, "type": "AMI", "name": p["name"], "description": p.get("description"),
            "platform": platform or "Linux", "owner": ctx.account,
            "version": _version_str(version), "components": components,
            "parentImage": p["parentImage"], "blockDeviceMappings": p.get("blockDeviceMappings"),
            "dateCreated": _now_str(time.time()), "tags": p.get("tags") or {},
            "workingDirectory": p.get("workingDirectory"),
            "additionalInstanceConfiguration": p.get("additionalInstanceConfiguration"),
            "amiTags": p.get("amiTags"), "_semver": version,
        }
        return {"imageRecipeArn": arn}

    def _resolve_parent(self, ctx, parent):
        """The AMI id a parent image (AMI id, ssm:/parameter, or image ARN)
        stands for now; InvalidParameterValueException when there is none."""
        ec2 = motoglue.ec2(ctx.account, ctx.region)
        ami = parent
        if parent.startswith("ssm:"):
            ssm = motoglue.ssm(ctx.account, ctx.region)
            try:
                ami = ssm.get_parameter(parent[4:]).value
            except Exception:
                ami = None
        elif parent.startswith("arn:"):
            ami = self._ami_of_image_arn(ctx, parent)
        if ami and ami in ec2.amis:
            return ami
        raise _err("InvalidParameterValueException",
                   f"The value supplied for parameter 'parentImage' is not valid: "
                   f"{parent} does not resolve to an existing AMI.")

    def _ami_of_image_arn(self, ctx, arn):
        m = re.match(r"^arn:aws[^:]*:imagebuilder:[^:]+:([^:]+):image/([a-z0-9-_]+)/"
                     r"([0-9x.]+)(?:/([0-9]+))?$", arn)
        if not m:
            return None
        owner, name, version, build = m.groups()
        if owner == "aws":
            # AWS-managed images: stand in moto's Amazon Linux 2023 AMI.
            ssm = motoglue.ssm(ctx.account, ctx.region)
            try:
                return ssm.get_parameter("/aws/service/ami-amazon-linux-latest/"
                                         "al2023-ami-kernel-default-x86_64").value
            except Exception:
                return None
        pattern = _parse_version(version, allow_wildcards=True)
        done = [i for i in ctx.state.images.values()
                if _slug(i["name"]) == name and i["state"]["status"] == "AVAILABLE"
                and _matches(i["_semver"], pattern)
                and (build is None or i["arn"].endswith(f"/{build}"))]
        if not done:
            return None
        newest = max(done, key=lambda i: (i["_semver"], i["_build"]))
        return newest["outputResources"]["amis"][0]["image"]

    def _find_recipe(self, ctx, arn):
        recipe = ctx.state.recipes.get(arn)
        base, version = arn.rsplit("/", 1)
        if recipe is None and "x" in version:  # 1.x.x: the newest matching version
            pattern = _parse_version(version, allow_wildcards=True)
            found = [r for a, r in ctx.state.recipes.items()
                     if a.rsplit("/", 1)[0] == base and _matches(r["_semver"], pattern)]
            recipe = max(found, key=lambda r: r["_semver"]) if found else None
        if recipe is None:
            raise _err("ResourceNotFoundException", f"The image recipe {arn} was not found.")
        return recipe

    def _GetImageRecipe(self, ctx, p):
        return {"imageRecipe": _public(self._find_recipe(ctx, p["imageRecipeArn"]))}

    def _ListImageRecipes(self, ctx, p):
        pool = ctx.state.recipes if p.get("owner", "Self") == "Self" else {}
        rows = [{"arn": r["arn"], "name": r["name"], "platform": r["platform"],
                 "owner": r["owner"], "parentImage": r["parentImage"],
                 "dateCreated": r["dateCreated"], "tags": r["tags"]} for r in pool.values()]
        rows = _filter(rows, p.get("filters"), ("name", "parentImage", "platform"))
        return _page(p, rows, "imageRecipeSummaryList")

    def _DeleteImageRecipe(self, ctx, p):
        """Deletes a recipe version by its exact ARN. Images built from it
        keep their own copy of it, so they do not hold it (AWS refuses only
        while an image pipeline uses it; the emulator has no pipelines)."""
        arn = p["imageRecipeArn"]
        if arn not in ctx.state.recipes:
            hint = (" DeleteImageRecipe takes a recipe's exact version, not a wildcard."
                    if "x" in arn.rsplit("/", 1)[-1] else "")
            raise _err("ResourceNotFoundException",
                       f"The image recipe {arn} was not found.{hint}")
        del ctx.state.recipes[arn]
        return {"imageRecipeArn": arn}

    # ---------------------------------------- infrastructure configurations

    _INFRA_FIELDS = ("description", "instanceTypes", "instanceProfileName", "securityGroupIds",
                     "subnetId", "logging", "keyPair", "terminateInstanceOnFailure",
                     "snsTopicArn", "resourceTags", "instanceMetadataOptions", "placement")

    def _CreateInfrastructureConfiguration(self, ctx, p):
        arn = f"{ctx.arn_prefix}:infrastructure-configuration/{_slug(p['name'])}"
        if arn in ctx.state.infra:
            raise _err("ResourceAlreadyExistsException",
                       f"The infrastructure configuration {arn} already exists.")
        now = _now_str(time.time())
        config = {"arn": arn, "name": p["name"], "dateCreated": now, "dateUpdated": now,
                  "tags": p.get("tags") or {}, "terminateInstanceOnFailure": True}
        config.update({k: p[k] for k in self._INFRA_FIELDS if k in p})
        ctx.state.infra[arn] = config
        return {"infrastructureConfigurationArn": arn}

    def _find_infra(self, ctx, arn):
        config = ctx.state.infra.get(arn)
        if config is None:
            raise _err("ResourceNotFoundException",
                       f"The infrastructure configuration {arn} was not found.")
        return config

    def _UpdateInfrastructureConfiguration(self, ctx, p):
        config = self._find_infra(ctx, p["infrastructureConfigurationArn"])
        # An update replaces every settable field: what is not sent is reset,
        # as in AWS.
        for k in self._INFRA_FIELDS:
            config.pop(k, None)
        config["terminateInstanceOnFailure"] = True
        config.update({k: p[k] for k in self._INFRA_FIELDS if k in p})
        config["dateUpdated"] = _now_str(time.time())
        return {"infrastructureConfigurationArn": config["arn"]}

    def _GetInfrastructureConfiguration(self, ctx, p):
        config = self._find_infra(ctx, p["infrastructureConfigurationArn"])
        return {"infrastructureConfiguration": _public(config)}

    def _ListInfrastructureConfigurations(self, ctx, p):
        keys = ("arn", "name", "description", "dateCreated", "dateUpdated", "resourceTags",
                "tags", "instanceTypes", "instanceProfileName", "placement")
        rows = [{k: c.get(k) for k in keys} for c in ctx.state.infra.values()]
        rows = _filter(rows, p.get("filters"), ("name",))
        return _page(p, rows, "infrastructureConfigurationSummaryList")

    # --------------------------------------------------------------- images

    def _CreateImage(self, ctx, p):
        if "containerRecipeArn" in p or "imageRecipeArn" not in p:
            raise _err("InvalidRequestException",
                       "awsemu bakes AMIs from an imageRecipeArn only.")
        if "distributionConfigurationArn" in p:
            raise _err("ResourceNotFoundException",
                       f"The distribution configuration {p['distributionConfigurationArn']} "
                       "was not found.")
        recipe = self._find_recipe(ctx, p["imageRecipeArn"])
        infra = self._find_infra(ctx, p["infrastructureConfigurationArn"])
        name = _slug(recipe["name"])
        # Build numbers count up per name and version and are never given
        # again, even once a build is deleted.
        key = (name, recipe["version"])
        build = ctx.state.last_build.get(key, 0) + 1
        ctx.state.last_build[key] = build
        arn = image_arn(ctx.account, ctx.region, recipe["name"], recipe["version"], build)
        now = time.time()
        ctx.state.images[arn] = {
            "arn": arn, "type": "AMI", "name": recipe["name"],
            "version": f"{recipe['version']}/{build}", "platform": recipe["platform"],
            "enhancedImageMetadataEnabled": p.get("enhancedImageMetadataEnabled", True),
            "osVersion": "Amazon Linux 2023" if recipe["platform"] == "Linux" else None,
            "state": {"status": "PENDING"}, "imageRecipe": _public(recipe),
            "infrastructureConfiguration": _public(infra),
            "imageTestsConfiguration": p.get("imageTestsConfiguration") or {
                "imageTestsEnabled": True, "timeoutMinutes": 720},
            "dateCreated": _now_str(now), "outputResources": {"amis": []},
            "tags": p.get("tags") or {}, "buildType": "USER_INITIATED", "imageSource": "CUSTOM",
            "_semver": recipe["_semver"], "_build": build, "_started": now,
            "_account": ctx.account, "_region": ctx.region,
            "_fail": self._fault(ctx, "bake-fail"),
            "_cancel": self._fault(ctx, "bake-cancel"),
            "_disable": self._fault(ctx, "bake-disable"),
        }
        return {"imageBuildVersionArn": arn}

    def _fault(self, ctx, kind):
        """Whether a bake fault of that kind applies to this CreateImage
        (in the caller's account and region)."""
        return self.emulator.faults.take(SERVICE, "CreateImage", kind, ctx.account,
                                         ctx.region) is not None

    def _find_image(self, ctx, arn):
        image = ctx.state.images.get(arn)
        if image is None:
            raise _err("ResourceNotFoundException", f"The image {arn} was not found.")
        return image

    def _CancelImageCreation(self, ctx, p):
        """AWS cancels a build that has not ended; one that has is in use
        by nobody and cannot be cancelled (ResourceInUseException)."""
        arn = p["imageBuildVersionArn"]
        image = self._find_image(ctx, arn)
        if image["state"]["status"] in TERMINAL:
            raise _err("ResourceInUseException",
                       f"The image {arn} cannot be cancelled: its state is "
                       f"{image['state']['status']}.")
        image["state"] = {"status": "CANCELLED", "reason": CANCEL_REASON}
        return {"clientToken": p.get("clientToken"), "imageBuildVersionArn": arn}

    def _DeleteImage(self, ctx, p):
        """Deletes an image build version; the AMI it produced stays in EC2,
        as in AWS. A build that has not ended is refused, as AWS documents
        (ResourceDependencyException): cancel it first."""
        arn = p["imageBuildVersionArn"]
        image = self._find_image(ctx, arn)
        status = image["state"]["status"]
        if status not in TERMINAL:
            raise _err("ResourceDependencyException",
                       f"Resource dependency error: the image {arn} is still being built "
                       f"(its state is {status}); cancel it with CancelImageCreation "
                       "before you delete it.")
        del ctx.state.images[arn]
        return {"imageBuildVersionArn": arn}

    def _GetImage(self, ctx, p):
        arn = p["imageBuildVersionArn"]
        if arn.count("/") == 2:  # a version ARN: its newest build
            builds = [i for a, i in ctx.state.images.items() if a.rsplit("/", 1)[0] == arn]
            if not builds:
                raise _err("ResourceNotFoundException", f"The image {arn} was not found.")
            return {"image": _public(max(builds, key=lambda i: i["_build"]))}
        return {"image": _public(self._find_image(ctx, arn))}

    def _ListImages(self, ctx, p):
        pool = ctx.state.images.values() if p.get("owner", "Self") == "Self" else []
        versions = {}
        for i in pool:
            varn = i["arn"].rsplit("/", 1)[0]
            versions.setdefault(varn, {
                "arn": varn, "name": i["name"], "type": i["type"],
                "version": i["version"].split("/")[0], "platform": i["platform"],
                "osVersion": i["osVersion"], "owner": i["_account"],
                "dateCreated": i["dateCreated"], "buildType": i["buildType"],
                "imageSource": i["imageSource"]})
        rows = _filter(list(versions.values()), p.get("filters"),
                       ("name", "osVersion", "platform", "type", "version"))
        return _page(p, rows, "imageVersionList")

    def _ListImageBuildVersions(self, ctx, p):
        varn = p.get("imageVersionArn")
        rows = [{"arn": i["arn"], "name": i["name"], "type": i["type"], "version": i["version"],
                 "platform": i["platform"], "osVersion": i["osVersion"], "state": i["state"],
                 "owner": i["_account"], "dateCreated": i["dateCreated"],
                 "outputResources": i["outputResources"], "tags": i["tags"],
                 "buildType": i["buildType"], "imageSource": i["imageSource"]}
                for i in ctx.state.images.values()
                if varn is None or i["arn"].rsplit("/", 1)[0] == varn]
        rows = _filter(rows, p.get("filters"), ("name", "osVersion", "platform", "type", "version"))
        return _page(p, rows, "imageSummaryList")

    # ----------------------------------------------------------------- tags

    def _tagged(self, ctx, arn):
        for pool in (ctx.state.components, ctx.state.recipes, ctx.state.infra,
                     ctx.state.images):
            if arn in pool:
                return pool[arn]
        raise _err("ResourceNotFoundException", f"The resource {arn} was not found.")

    def _TagResource(self, ctx, p):
        self._tagged(ctx, p["resourceArn"])["tags"].update(p["tags"])
        return {}

    def _UntagResource(self, ctx, p):
        tags = self._tagged(ctx, p["resourceArn"])["tags"]
        for k in p["tagKeys"]:
            tags.pop(k, None)
        return {}

    def _ListTagsForResource(self, ctx, p):
        return {"tags": dict(self._tagged(ctx, p["resourceArn"])["tags"])}

    # ----------------------------------------------------------------- bake

    def tick(self, now):
        for state in self.regions.values():
            for image in state.images.values():
                if image["state"]["status"] in TERMINAL:
                    continue
                self._advance(image, now)

    def _advance(self, image, now):
        elapsed = now - image["_started"]
        total = self.bake_seconds
        status = "PENDING"
        for name, fraction in PHASES:
            if elapsed >= fraction * total:
                status = name
        if image["_fail"] and status == "TESTING":
            # The build phase is where a broken component shows up.
            image["state"] = {"status": "FAILED", "reason": BAKE_FAIL_REASON}
            return
        if image.get("_cancel") and status == "BUILDING":
            image["state"] = {"status": "CANCELLED", "reason": CANCEL_REASON}
            return
        if image.get("_disable") and status == "TESTING":
            image["state"] = {"status": "DISABLED"}
            return
        if elapsed < total:
            image["state"] = {"status": status}
            return
        self._register(image)

    def _register(self, image):
        account, region = image["_account"], image["_region"]
        ctx = _Ctx(None, self._state(account, region), account=account, region=region)
        try:
            parent = self._resolve_parent(ctx, image["imageRecipe"]["parentImage"])
        except ApiError as e:
            image["state"] = {"status": "FAILED", "reason": e.message}
            return
        ec2 = motoglue.ec2(account, region)
        name = baked_ami_name(image["name"], time.time())
        tags = baked_ami_tags(image["arn"], image["imageRecipe"].get("amiTags"))
        ami = motoglue.register_ami(ec2, parent, name, baked_ami_description(image["arn"]), tags)
        image["outputResources"] = {"amis": [{
            "region": region, "image": ami.id, "name": name,
            "description": ami.description, "accountId": account}]}
        image["state"] = {"status": "AVAILABLE"}


class _Ctx:
    def __init__(self, req, state, account=None, region=None):
        self.req = req
        self.state = state
        self.account = account or req.account_id
        self.region = region or req.region
        self.arn_prefix = f"arn:aws:imagebuilder:{self.region}:{self.account}"


def _public(resource):
    """A resource as the API shows it: no emulator bookkeeping, no nulls."""
    return {k: v for k, v in resource.items() if not k.startswith("_") and v is not None}


def _as_list(v):
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


def _filter(rows, filters, allowed):
    for f in filters or []:
        if f.get("name") not in allowed:
            raise _err("InvalidParameterValueException",
                       f"The filter name {f.get('name')!r} is not valid; valid names are "
                       f"{', '.join(allowed)}.")
        values = set(f.get("values") or [])
        key = f["name"]
        rows = [r for r in rows
                if (set(r.get(key) or []) & values if isinstance(r.get(key), list)
                    else r.get(key) in values)]
    return rows


def _page(p, rows, key, default_size=25):
    """AWS-style pages: at most maxResults rows and an opaque nextToken that
    only the same request may use."""
    rows = sorted(rows, key=lambda r: r["arn"])
    fingerprint = hashlib.sha256(json.dumps(
        {k: v for k, v in p.items() if k not in ("nextToken", "maxResults")},
        sort_keys=True).encode()).hexdigest()[:16]
    start = 0
    if p.get("nextToken"):
        try:
            doc = json.loads(base64.urlsafe_b64decode(p["nextToken"].encode()))
            if doc["f"] != fingerprint or not isinstance(doc["o"], int) or doc["o"] < 0:
                raise ValueError
            start = doc["o"]
        except (ValueError, KeyError, TypeError):
            raise _err("InvalidPaginationTokenException", "The pagination token is not valid.")
    size = p.get("maxResults") or default_size
    out = {key: [_public(r) for r in rows[start:start + size]]}
    if start + size < len(rows):
        out["nextToken"] = base64.urlsafe_b64encode(json.dumps(
            {"o": start + size, "f": fingerprint}).encode()).decode()
    return out
