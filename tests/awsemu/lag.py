"""Eventual consistency: the `lag` fault.

AWS's control planes are eventually consistent: a resource a mutating call
created may be missing from Describe*/Get*/List* answers for a while. A
`lag` rule matches the mutating call (service and action); when it fires on
a successful answer, what that call created stays invisible to reads of the
same service for `lag_ms`:

- a read that names it (InstanceIds, ImageIds, LaunchTemplateIds, an ARN,
  a parameter name) gets the error AWS gives for a resource that does not
  exist;
- a read that lists it leaves it out.

Only the resources below are tracked; any other mutation matching a `lag`
rule is answered normally and hides nothing.
"""

import json
import time
from xml.etree import ElementTree as ET

from . import model
from .errors import ApiError

READ_PREFIXES = ("Describe", "Get", "List")


def is_read(action):
    return action.startswith(READ_PREFIXES)


def _local(tag):
    """An element's name without its namespace (moto's EC2 answers do not
    all use the same namespace string)."""
    return tag.rsplit("}", 1)[-1]


def _texts(root, tag):
    return [e.text for e in root.iter() if _local(e.tag) == tag and e.text]


class Lag:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        # (service, account, region, kind, key, until): hidden from reads
        # of that service by the same account in the same region, where the
        # resource lives (the names of groups, parameters and templates are
        # only unique there).
        self.hidden = []

    # ----------------------------------------------------------- recording

    def created(self, req, rule, body):
        """Called after a successful mutation that a lag rule matched."""
        until = self.clock() + rule.lag_ms / 1000.0
        for kind, key in self._created_keys(req, body):
            self.hidden.append((req.service, req.account_id, req.region, kind, key, until))

    def _created_keys(self, req, body):
        s, a = req.service, req.action
        try:
            if s == "ec2":
                root = ET.fromstring(body)
                if a == "RunInstances":
                    return [("instance", i) for i in _texts(root, "instanceId")]
                if a in ("CreateImage", "RegisterImage", "CopyImage"):
                    return [("image", i) for i in _texts(root, "imageId")]
                if a == "CreateLaunchTemplate":
                    return ([("lt", i) for i in _texts(root, "launchTemplateId")]
                            + [("ltname", n) for n in _texts(root, "launchTemplateName")])
                if a == "CreateLaunchTemplateVersion":
                    ids, nums = _texts(root, "launchTemplateId"), _texts(root, "versionNumber")
                    if ids and nums:
                        return [("ltv", (ids[0], nums[0]))]
            elif s == "autoscaling" and a == "CreateAutoScalingGroup":
                return [("asg", req.params.get("AutoScalingGroupName"))]
            elif s == "imagebuilder" and a.startswith("Create"):
                doc = json.loads(body or b"{}")
                return [("arn", v) for k, v in doc.items()
                        if k.endswith("Arn") and isinstance(v, str)]
            elif s == "ssm" and a == "PutParameter":
                doc = json.loads(body or b"{}")
                if doc.get("Version") == 1:
                    return [("param", req.params.get("Name"))]
        except (ET.ParseError, ValueError):
            pass
        return []

    def _now_hidden(self, req):
        now = self.clock()
        self.hidden = [h for h in self.hidden if h[5] > now]
        out = {}
        for svc, account, region, kind, key, _ in self.hidden:
            if (svc, account, region) == (req.service, req.account_id, req.region):
                out.setdefault(kind, set()).add(key)
        return out

    # ---------------------------------------------------------------- reads

    def before_read(self, req):
        """The not-found error for a read that names a hidden resource."""
        if not is_read(req.action):
            return None
        hidden = self._now_hidden(req)
        if not hidden:
            return None
        p = req.params
        if req.service == "ec2":
            if req.action == "DescribeInstances":
                for i in p.get("InstanceIds") or []:
                    if i in hidden.get("instance", ()):
                        return ApiError("InvalidInstanceID.NotFound",
                                        f"The instance ID '{i}' does not exist")
            if req.action == "DescribeImages":
                for i in p.get("ImageIds") or []:
                    if i in hidden.get("image", ()):
                        return ApiError("InvalidAMIID.NotFound",
                                        f"The image id '[{i}]' does not exist")
            if req.action in ("DescribeLaunchTemplates", "DescribeLaunchTemplateVersions"):
                ids = list(p.get("LaunchTemplateIds") or []) + (
                    [p["LaunchTemplateId"]] if p.get("LaunchTemplateId") else [])
                names = list(p.get("LaunchTemplateNames") or []) + (
                    [p["LaunchTemplateName"]] if p.get("LaunchTemplateName") else [])
                for i in ids:
                    if i in hidden.get("lt", ()):
                        return ApiError("InvalidLaunchTemplateId.NotFound",
                                        f"The specified launch template, with template ID "
                                        f"{i}, does not exist.")
                for n in names:
                    if n in hidden.get("ltname", ()):
                        return ApiError("InvalidLaunchTemplateName.NotFoundException",
                                        "At least one of the launch templates specified in "
                                        "the request does not exist.")
                if req.action == "DescribeLaunchTemplateVersions" and ids:
                    for v in p.get("Versions") or []:
                        if (ids[0], v) in hidden.get("ltv", ()):
                            return ApiError("InvalidLaunchTemplateId.VersionNotFound",
                                            f"Could not find launch template version {v} "
                                            f"for launch template {ids[0]}")
        elif req.service == "imagebuilder" and req.action.startswith("Get"):
            for v in p.values():
                if isinstance(v, str) and v in hidden.get("arn", ()):
                    shape = model.service_model("imagebuilder").shape_for(
                        "ResourceNotFoundException")
                    return ApiError("ResourceNotFoundException",
                                    f"The resource {v} was not found.",
                                    shape.metadata["error"]["httpStatusCode"])
        elif req.service == "ssm" and req.action == "GetParameter":
            if p.get("Name") in hidden.get("param", ()):
                return ApiError("ParameterNotFound", "")
        return None

    def filter(self, req, body):
        """The answer of a listing read without the hidden resources."""
        if not is_read(req.action):
            return body
        hidden = self._now_hidden(req)
        if not hidden:
            return body
        try:
            if req.service == "ec2":
                return self._filter_ec2(req, body, hidden)
            if req.service == "autoscaling" and req.action == "DescribeAutoScalingGroups":
                return self._filter_xml(body, "member",
                                        lambda el: _child(el, "AutoScalingGroupName")
                                        in hidden.get("asg", ()))
            if req.service == "imagebuilder" and req.action.startswith("List"):
                doc = json.loads(body)
                arns = hidden.get("arn", ())
                for k, v in doc.items():
                    if isinstance(v, list):
                        doc[k] = [e for e in v if not (isinstance(e, dict) and
                                                       e.get("arn") in arns)]
                return json.dumps(doc).encode()
            if req.service == "ssm" and req.action == "GetParameters":
                doc = json.loads(body)
                names = hidden.get("param", ())
                gone = [e["Name"] for e in doc.get("Parameters", []) if e.get("Name") in names]
                if gone:
                    doc["Parameters"] = [e for e in doc["Parameters"] if e["Name"] not in gone]
                    doc["InvalidParameters"] = list(doc.get("InvalidParameters") or []) + gone
                return json.dumps(doc).encode()
        except (ET.ParseError, ValueError):
            pass
        return body

    def _filter_ec2(self, req, body, hidden):
        a = req.action
        if a == "DescribeInstances":
            out = self._filter_xml(body, "item", lambda el: _child(el, "instanceId")
                                   in hidden.get("instance", ()))
            # A reservation whose every instance is hidden is hidden too.
            return self._filter_xml(out, "item", lambda el: (
                _find(el, "instancesSet") is not None and len(_find(el, "instancesSet")) == 0))
        if a == "DescribeImages":
            return self._filter_xml(body, "item",
                                    lambda el: _child(el, "imageId") in hidden.get("image", ()))
        if a == "DescribeLaunchTemplates":
            return self._filter_xml(body, "item",
                                    lambda el: _child(el, "launchTemplateId")
                                    in hidden.get("lt", ()))
        if a == "DescribeLaunchTemplateVersions":
            return self._filter_xml(body, "item", lambda el: (
                _child(el, "launchTemplateId") in hidden.get("lt", ())
                or (_child(el, "launchTemplateId"), _child(el, "versionNumber"))
                in hidden.get("ltv", ())))
        return body

    def _filter_xml(self, body, item_tag, doomed):
        root = ET.fromstring(body)
        changed = False
        for parent in list(root.iter()):
            for el in list(parent):
                if _local(el.tag) == item_tag and doomed(el):
                    parent.remove(el)
                    changed = True
        if not changed:
            return body
        ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else None
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
            root, encoding="unicode", default_namespace=ns).encode()


def _find(el, tag):
    for c in el:
        if _local(c.tag) == tag:
            return c
    return None


def _child(el, tag):
    c = _find(el, tag)
    return c.text if c is not None else None
