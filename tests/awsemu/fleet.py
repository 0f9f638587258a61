"""POST /_awsemu/fleet: a fleet of apps as Kiln would have left them, built
directly in moto's state (bench/fleet_gen.py describes it).

Building 10,000 apps through the API would take hours at moto's ~10 ms a
request; here each resource goes through the same moto code an API call
reaches (its request handlers, for launch templates and groups), minus
HTTP, XML and SigV4, and the emulator's own state (Image Builder's AMI
naming, instance refreshes) is made by the emulator's own code.

The body (JSON):

    {"account": "123456789012", "region": "us-east-1",     (both optional)
     "apps": [APP, ...],
     "foreign": {"images": [IMAGE, ...], "launch_templates": [TEMPLATE, ...]}}

    APP = {"name": "shop",                 Kiln's app name (kiln:app)
           "parent": "ami-…",              the AMI its images were baked from
           "tags": {"Owner": "platform"},  kiln.yaml's tags (every resource)
           "launch_template": "shop",
           "data": {...},                  LaunchTemplateData as Kiln sends
                                           it (API shape), without ImageId
           "group": {"name": "shop", "min": 0, "max": 3, "desired": 1,
                     "subnets": ["subnet-…"], "health_check_type": null,
                     "grace_seconds": null},
           "releases": [{"commit": "<40 hex>", "digest": "<64 hex>",
                         "time": EPOCH, "preferences": {...} | null}, ...],
           "rolling_out": false}

Releases are oldest first; the last is the current one. Each release is an
AMI (with its snapshot) baked at `time`, tagged as Kiln tags it, and a
launch template version (the first creates the template) whose description
names its commit and digest; the last version is the default. The group
was created with the first release and refreshed to each later one
(`preferences`: what Kiln sent as StartInstanceRefresh Preferences; null:
no refresh, the group had no instances), so its past refreshes are
`Successful`. With `rolling_out`, the last release's refresh is still
under way: the group was on the version before, the refresh was started
as Kiln starts it and driven through its batches until it waits (a
checkpoint), so some instances run the new version and some the old.

    IMAGE = {"name": ..., "parent": "ami-…", "tags": {...}, "time": EPOCH}
    TEMPLATE = {"name": ..., "data": {... with ImageId}, "tags": {...},
                "versions": N}

Resources of other owners: no kiln: tags, names of their own.

The answer counts what was made: {"apps", "images", "launch_templates",
"versions", "instances", "refreshes", "seconds"}. A body that names an
unknown parent AMI or subnet, or a launch template or group that already
exists, is refused (400) before anything of that app is made; apps of the
same body before it stay made.
"""

import copy
import datetime
import json
import time
from types import SimpleNamespace

from . import imagebuilder, model, motoglue
from .errors import ApiError
from .protocol import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

# How far a rolling-out app's refresh is driven: enough steps for a first
# batch and a checkpoint, whatever its preferences.
MAX_REFRESH_STEPS = 8


class FleetError(ValueError):
    """A fleet description that cannot be built (answered 400)."""


def build(emulator, doc):
    """Builds the fleet `doc` describes; call under the emulator's lock."""
    started = time.monotonic()
    ctx = _Context(emulator, doc.get("account") or DEFAULT_ACCOUNT_ID,
                   doc.get("region") or DEFAULT_REGION)
    for app in doc.get("apps") or []:
        _app(ctx, app)
    foreign = doc.get("foreign") or {}
    for image in foreign.get("images") or []:
        _foreign_image(ctx, image)
    for template in foreign.get("launch_templates") or []:
        _foreign_template(ctx, template)
    out = dict(ctx.counts)
    out["seconds"] = round(time.monotonic() - started, 3)
    return out


class _Context:
    def __init__(self, emulator, account, region):
        from moto.autoscaling.responses import AutoScalingResponse
        from moto.ec2.responses import EC2Response

        self.emulator = emulator
        self.account = account
        self.region = region
        self.ec2 = motoglue.ec2(account, region)
        self.asg = motoglue.autoscaling(account, region)
        self.ec2_api = _handler(EC2Response(), account, region)
        self.asg_api = _handler(AutoScalingResponse(), account, region)
        self.subnets = {s.id for s in self.ec2.describe_subnets()}
        self.preferences = {}  # JSON of Kiln's preferences -> the emulator's
        self.counts = {"apps": 0, "images": 0, "launch_templates": 0, "versions": 0,
                       "instances": 0, "refreshes": 0}

    def call(self, handler, service, action, params):
        """Runs moto's request handler for `action` as a request with these
        parameters (API shape) would: the parameters decoded the way moto
        decodes the wire."""
        handler.params = _moto_params(service, action, params)
        return getattr(handler, _snake(action))()


def _handler(response, account, region):
    response.current_account = account
    response.region = region
    response.partition = "aws"
    return response


def _snake(action):
    out = ""
    for c in action:
        out += ("_" + c.lower()) if c.isupper() and out else c.lower()
    return out


_PARSED = {}      # (service, action) -> a request moto parsed, as a pattern
_MISMATCH = object()


def _moto_params(service, action, params):
    """`params` (API shape) as moto's handlers see a request's. Parsing
    costs a millisecond, more than the rest of an app together: a request
    of the same shape as one parsed before (same members, same types, at
    every level) is given that one's member order instead, which is all
    the parser changes in such values; any other is parsed."""
    pattern = _PARSED.get((service, action))
    if pattern is not None:
        same = _shaped_like(pattern, params)
        if same is not _MISMATCH:
            return same
    parsed = _parse(service, action, params)
    # moto's handlers change what they are given (wrap user data, add tag
    # fields): the pattern is a copy.
    _PARSED[(service, action)] = copy.deepcopy(parsed)
    return parsed


def _shaped_like(pattern, value):
    if isinstance(pattern, dict):
        if not isinstance(value, dict) or pattern.keys() != value.keys():
            return _MISMATCH
        out = {}
        for k, p in pattern.items():
            out[k] = _shaped_like(p, value[k])
            if out[k] is _MISMATCH:
                return _MISMATCH
        return out
    if isinstance(pattern, list):
        if not isinstance(value, list) or len(pattern) != len(value):
            return _MISMATCH
        out = [_shaped_like(p, v) for p, v in zip(pattern, value)]
        return _MISMATCH if any(x is _MISMATCH for x in out) else out
    return value if type(pattern) is type(value) else _MISMATCH


def _parse(service, action, params):
    """`params` (API shape) as moto's handlers see a request's: serialized
    the way an SDK sends them, then parsed by moto's own parser."""
    from botocore import serialize
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.responses import get_service_model

    op = model.operation(service, action)
    protocol = op.metadata["protocol"]
    wire = serialize.create_serializer(protocol, include_validation=False).serialize_to_request(
        params, op)
    moto_op = get_service_model(service).operation_model(action)
    parser = PROTOCOL_PARSERS[protocol](moto_op, map_type=dict)
    return parser.parse({"method": "POST", "values": wire["body"], "headers": {}, "body": b"",
                         "url_path": "/", "url_params": {}})


def _utc_naive(when):
    # moto keeps creation times as naive UTC datetimes (its utcnow()).
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).replace(tzinfo=None)


def _naming_version(digest):
    """Kiln's recipe version for a digest (reconcilers/naming.c):
    1.<first 6 hex digits>.<next 6>, as decimal numbers."""
    return f"1.{int(digest[0:6], 16)}.{int(digest[6:12], 16)}"


# ------------------------------------------------------------------ apps

def _app(ctx, app):
    _check_shape(app)
    releases = app["releases"]
    parent = _parent(ctx, app.get("parent"))
    group = app["group"]
    _check_new(ctx, app, group)
    images = [_baked_image(ctx, app, r, parent) for r in releases]
    template = _template(ctx, app, releases, images)
    _group(ctx, app, template, releases)
    ctx.counts["apps"] += 1


def _check_shape(app):
    """What an app needs, checked before any of it is made."""
    def need(doc, keys, where):
        if not isinstance(doc, dict):
            raise FleetError(f"{where} must be an object")
        missing = [k for k in keys if k not in doc]
        if missing:
            raise FleetError(f"{where} lacks {', '.join(missing)}")

    need(app, ("name", "parent", "launch_template", "data", "group", "releases"), "an app")
    name = app["name"]
    need(app["group"], ("name", "min", "max", "subnets"), f"app {name!r}: group")
    need(app["data"], (), f"app {name!r}: data")
    if not isinstance(app["releases"], list) or not app["releases"]:
        raise FleetError(f"app {name!r} has no releases")
    for release in app["releases"]:
        need(release, ("commit", "digest", "time"), f"app {name!r}: a release")


def _parent(ctx, ami_id):
    parent = ctx.ec2.amis.get(ami_id or "")
    if parent is None:
        raise FleetError(f"parent AMI {ami_id!r} does not exist in the emulator")
    return parent


def _check_new(ctx, app, group):
    if app["launch_template"] in ctx.ec2.launch_template_name_to_ids:
        raise FleetError(f"launch template {app['launch_template']!r} already exists")
    if group["name"] in ctx.asg.autoscaling_groups:
        raise FleetError(f"group {group['name']!r} already exists")
    for subnet in group.get("subnets") or []:
        if subnet not in ctx.subnets:
            raise FleetError(f"subnet {subnet!r} does not exist in the emulator")


def _new_ami(ctx, parent, name, description, when):
    """An AMI derived from `parent` (as a bake or CopyImage registers it:
    moto's copy, with a snapshot of its own), created at `when`."""
    from moto.ec2.models.amis import Ami
    from moto.ec2.utils import random_ami_id

    ami_id = random_ami_id()
    # moto's copy_image, without its lookup of the source (a scan of every
    # AMI of the region, for each copy).
    ami = Ami(ctx.ec2, ami_id, instance=None, source_ami=parent, name=name,
              description=description)
    ami.creation_date = _utc_naive(when)
    ami.ebs_snapshot.start_time = _utc_naive(when)
    ctx.ec2.amis[ami_id] = ami
    ctx.counts["images"] += 1
    return ami


def _baked_image(ctx, app, release, parent):
    """The AMI of one release: registered by Image Builder from Kiln's
    recipe (kiln-<app> at the digest's version, first build), then tagged
    by Kiln (kiln.yaml's tags, kiln:app, kiln:commit, kiln:digest)."""
    recipe = f"kiln-{app['name']}"
    arn = imagebuilder.image_arn(ctx.account, ctx.region, recipe,
                                 _naming_version(release["digest"]), 1)
    ami = _new_ami(ctx, parent, imagebuilder.baked_ami_name(recipe, release["time"]),
                   imagebuilder.baked_ami_description(arn), release["time"])
    ctx.ec2.create_tags([ami.id], imagebuilder.baked_ami_tags(arn))
    ctx.ec2.create_tags([ami.id], _kiln_tags(app, release["commit"], release["digest"]))
    return ami


def _kiln_tags(app, commit, digest=None):
    """The tags Kiln puts on what it makes, in its order
    (kiln__execute_tags)."""
    tags = dict(app.get("tags") or {})
    tags["kiln:app"] = app["name"]
    tags["kiln:commit"] = commit
    if digest is not None:
        tags["kiln:digest"] = digest
    return tags


def _description(release):
    return f"kiln commit={release['commit']} digest={release['digest']}"


def _template(ctx, app, releases, images):
    """The launch template: created with the first release (kiln:version 1),
    a version per later release, the last one the default, and the
    template's kiln:version and kiln:commit saying so."""
    name = app["launch_template"]
    first = releases[0]
    tags = _kiln_tags(app, first["commit"])
    tags["kiln:version"] = "1"
    ctx.call(ctx.ec2_api, "ec2", "CreateLaunchTemplate", {
        "LaunchTemplateName": name,
        "VersionDescription": _description(first),
        "LaunchTemplateData": {**app["data"], "ImageId": images[0].id},
        "TagSpecifications": [{"ResourceType": "launch-template",
                               "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]})
    template = motoglue.find_template(ctx.ec2, template_name=name)
    template.create_time = _utc_naive(first["time"])
    template.versions[0].create_time = _utc_naive(first["time"])
    ctx.counts["launch_templates"] += 1
    ctx.counts["versions"] += 1
    if len(releases) > 1:
        # Decoded once: the versions differ only in their image and
        # description, and decoding costs more than the rest together.
        proto = _moto_params("ec2", "CreateLaunchTemplateVersion", {
            "LaunchTemplateId": template.id, "VersionDescription": _description(releases[1]),
            "LaunchTemplateData": {**app["data"], "ImageId": images[1].id}})
        for release, ami in zip(releases[1:], images[1:]):
            # The versions share the data below the top level, which
            # nothing changes in place; what differs is copied.
            params = dict(proto, VersionDescription=_description(release))
            params["LaunchTemplateData"] = dict(proto["LaunchTemplateData"], ImageId=ami.id)
            ctx.ec2_api.params = params
            ctx.ec2_api.create_launch_template_version()
            template.versions[-1].create_time = _utc_naive(release["time"])
            ctx.counts["versions"] += 1
    last = releases[-1]
    template.default_version_number = len(releases)
    ctx.ec2.create_tags([template.id], {"kiln:version": str(len(releases)),
                                        "kiln:commit": last["commit"]})
    return template


def _group(ctx, app, template, releases):
    """The group, created on the first release's version and refreshed to
    each later one: on the last (its instances launched from it), or, while
    the last is rolling out, on the one before with the refresh under way."""
    g = app["group"]
    current = len(releases)
    rolling = bool(app.get("rolling_out")) and current > 1
    on = current - 1 if rolling else current
    tags = [{"Key": k, "Value": v, "PropagateAtLaunch": True}
            for k, v in (app.get("tags") or {}).items()]
    tags += [{"Key": "kiln:app", "Value": app["name"], "PropagateAtLaunch": False},
             {"Key": "kiln:commit", "Value": releases[-1]["commit"], "PropagateAtLaunch": False},
             {"Key": "kiln:version", "Value": str(current), "PropagateAtLaunch": False}]
    params = {"AutoScalingGroupName": g["name"],
              "LaunchTemplate": {"LaunchTemplateId": template.id, "Version": str(on)},
              "MinSize": g["min"], "MaxSize": g["max"],
              "VPCZoneIdentifier": ",".join(g["subnets"]), "Tags": tags}
    if g.get("desired") is not None:
        params["DesiredCapacity"] = g["desired"]
    if g.get("health_check_type"):
        params["HealthCheckType"] = g["health_check_type"]
    if g.get("grace_seconds") is not None:
        params["HealthCheckGracePeriod"] = g["grace_seconds"]
    ctx.call(ctx.asg_api, "autoscaling", "CreateAutoScalingGroup", params)
    group = ctx.asg.autoscaling_groups[g["name"]]
    group.created_time = datetime.datetime.fromtimestamp(releases[0]["time"]).isoformat()
    ctx.counts["instances"] += len(group.instance_states)
    for number in range(2, on + 1):
        _past_refresh(ctx, group, template, number, releases[number - 1])
    if rolling:
        _rolling_refresh(ctx, group, template, current, releases[-1])
    return group


def _desired(template, number):
    return {"LaunchTemplate": {"LaunchTemplateId": template.id, "Version": str(number)}}


def _preferences(ctx, release):
    prefs = release.get("preferences")
    if prefs is None:
        return None
    # Decoded as the emulator decodes a StartInstanceRefresh, then given
    # AWS's defaults by the emulator's own code; the apps of a fleet share
    # a few sets of preferences, and so do their refreshes' records.
    key = json.dumps(prefs, sort_keys=True)
    if key not in ctx.preferences:
        params = _emulator_params("autoscaling", "StartInstanceRefresh",
                                  {"AutoScalingGroupName": "x", "Preferences": prefs})
        ctx.preferences[key] = ctx.emulator.refreshes._preferences(
            params.get("Preferences") or {})
    return ctx.preferences[key]


def _emulator_params(service, action, params):
    from botocore import serialize

    op = model.operation(service, action)
    wire = serialize.create_serializer(op.metadata["protocol"],
                                       include_validation=False).serialize_to_request(params, op)
    pairs = [(k, str(v)) for k, v in wire["body"].items() if k not in ("Action", "Version")]
    decoded, problems = model.decode_query(op, pairs, ec2=op.metadata["protocol"] == "ec2")
    if problems:
        raise FleetError(f"{action}: {model.coral_message(problems)}")
    return decoded


def _past_refresh(ctx, group, template, number, release):
    """The refresh that took the group from version number-1 to number,
    long over (Successful)."""
    from .refresh import Refresh

    prefs = _preferences(ctx, release)
    if prefs is None:
        return
    when = release["time"]
    r = Refresh(group, when, prefs, _desired(template, number), "Rolling",
                (template, str(number)), (template, str(number - 1)), False)
    r.status = "Successful"
    r.total = r.replaced = len(group.instance_states)
    r.batches = 1
    r.end_time = when + 60
    r.to_replace = set()
    ctx.emulator.refreshes.add(r)
    ctx.counts["refreshes"] += 1


def _rolling_refresh(ctx, group, template, number, release):
    """Starts the refresh to `number` as Kiln starts it (the emulator's
    StartInstanceRefresh), and drives it until it waits."""
    refreshes = ctx.emulator.refreshes
    params = {"AutoScalingGroupName": group.name,
              "DesiredConfiguration": _desired(template, number)}
    if release.get("preferences") is not None:
        params["Preferences"] = release["preferences"]
    params = _emulator_params("autoscaling", "StartInstanceRefresh", params)
    now = time.time()
    req = SimpleNamespace(account_id=ctx.account, region=ctx.region)
    refresh_id = refreshes._StartInstanceRefresh(req, params, now)["InstanceRefreshId"]
    r = next(x for x in refreshes.live if x.id == refresh_id)
    before = len(group.instance_states)
    for _ in range(MAX_REFRESH_STEPS):
        # Without checkpoints it stops after its first batch, which the
        # ticker follows on as the refresh's timing says.
        if not r.active() or r.waiting is not None or (r.batches and not r.checkpoints):
            break
        refreshes._step(r, now)
    if r.active():
        r.next_at = max(r.next_at, now)
    ctx.counts["refreshes"] += 1
    ctx.counts["instances"] += len(group.instance_states) - before


# --------------------------------------------------------------- foreign

def _foreign_image(ctx, image):
    parent = _parent(ctx, image.get("parent"))
    ami = _new_ami(ctx, parent, image["name"], image.get("description"),
                   image.get("time") or time.time())
    if image.get("tags"):
        ctx.ec2.create_tags([ami.id], image["tags"])


def _foreign_template(ctx, t):
    if t["name"] in ctx.ec2.launch_template_name_to_ids:
        raise FleetError(f"launch template {t['name']!r} already exists")
    params = {"LaunchTemplateName": t["name"], "LaunchTemplateData": t["data"]}
    if t.get("tags"):
        params["TagSpecifications"] = [{"ResourceType": "launch-template", "Tags": [
            {"Key": k, "Value": v} for k, v in t["tags"].items()]}]
    ctx.call(ctx.ec2_api, "ec2", "CreateLaunchTemplate", params)
    template = motoglue.find_template(ctx.ec2, template_name=t["name"])
    ctx.counts["launch_templates"] += 1
    ctx.counts["versions"] += 1
    for _ in range(1, int(t.get("versions") or 1)):
        ctx.call(ctx.ec2_api, "ec2", "CreateLaunchTemplateVersion",
                 {"LaunchTemplateId": template.id, "LaunchTemplateData": t["data"]})
        ctx.counts["versions"] += 1


def handle(emulator, doc):
    """The admin route: (status, answer)."""
    if not isinstance(doc, dict):
        return 400, {"error": "body must be a JSON object"}
    try:
        with emulator.lock:
            return 200, build(emulator, doc)
    except (FleetError, ApiError, KeyError, TypeError) as e:
        return 400, {"error": f"{type(e).__name__}: {e}"}
