"""What AWS refuses and moto lets through or crashes on (a 500 instead of
AWS's 400), for the EC2 and Auto Scaling calls Kiln uses. Each check runs
before the request reaches moto or the emulator's own handlers and raises
the ApiError AWS answers with."""

import re

from . import motoglue
from .errors import ApiError

# Auto Scaling Describe* calls: the largest MaxRecords AWS accepts (the
# smallest is always 1).
MAX_RECORDS = {
    "DescribeAutoScalingGroups": 100,
    "DescribeAutoScalingInstances": 50,
    "DescribeTags": 100,
    "DescribeScalingActivities": 100,
    "DescribeInstanceRefreshes": 100,
    "DescribeLaunchConfigurations": 100,
    "DescribeLoadBalancerTargetGroups": 100,
}

LAUNCH_TEMPLATE_NAME = re.compile(r"[a-zA-Z0-9().\-/_]{3,128}")
AMI_NAME = re.compile(r"[a-zA-Z0-9()\[\] ./\-'@_]{3,128}")
TEMPLATE_VERSION = re.compile(r"\d+|\$Latest|\$Default")
# EC2 Describe* calls: the most filter values (every Filter.N.Value.M of
# the request together) AWS takes in one call.
MAX_FILTER_VALUES = 200

# Auto Scaling actions naming one group that moto crashes on (KeyError)
# when the group does not exist.
NAMES_A_GROUP = ("SetDesiredCapacity", "AttachLoadBalancerTargetGroups",
                 "DetachLoadBalancerTargetGroups", "SetInstanceProtection")


def check_names(req):
    """EC2's own errors for malformed names, which AWS answers before (and
    instead of) the generic length error of the contract. Reads no state."""
    if req.service != "ec2":
        return None
    try:
        _names(req, req.params)
    except ApiError as e:
        return e
    return None


def check(req):
    """Raises AWS's error for what the request asks that AWS refuses.
    Reads moto's state: call it under the emulator's lock."""
    if req.service == "autoscaling":
        _autoscaling(req, req.params)
    elif req.service == "ec2":
        _ec2(req, req.params)


# ------------------------------------------------------------ Auto Scaling

def _autoscaling(req, p):
    if req.action in MAX_RECORDS and p.get("MaxRecords") is not None:
        _max_records(p["MaxRecords"], MAX_RECORDS[req.action])
    if req.action == "CreateAutoScalingGroup":
        _group_is_new(req, p.get("AutoScalingGroupName"))
    elif req.action in ("CreateOrUpdateTags", "DeleteTags"):
        _tagged_groups_exist(req, p.get("Tags") or [])
    elif req.action in NAMES_A_GROUP:
        _group_exists(req, p.get("AutoScalingGroupName"))
    elif req.action == "TerminateInstanceInAutoScalingGroup":
        _instance_is_managed(req, p.get("InstanceId"))


def _max_records(value, largest):
    """AWS's answer to MaxRecords outside 1..largest (0 included)."""
    if 1 <= value <= largest:
        return
    bound = ("greater than or equal to 1" if value < 1
             else f"less than or equal to {largest}")
    raise ApiError("ValidationError",
                   f"1 validation error detected: Value '{value}' at 'maxRecords' failed to "
                   f"satisfy constraint: Member must have value {bound}")


def _group_is_new(req, name):
    """CreateAutoScalingGroup never replaces a group of the same name."""
    if name and motoglue.find_group(req.account_id, req.region, name) is not None:
        raise ApiError("AlreadyExists",
                       "AutoScalingGroup by this name already exists - A group with the "
                       f"name {name} already exists")


def _group_exists(req, name):
    if name and motoglue.find_group(req.account_id, req.region, name) is None:
        raise ApiError("ValidationError",
                       f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")


def _tagged_groups_exist(req, tags):
    """CreateOrUpdateTags/DeleteTags on a group that does not exist."""
    for tag in tags:
        name = tag.get("ResourceId")
        if name and motoglue.find_group(req.account_id, req.region, name) is None:
            raise ApiError("ValidationError",
                           f"AutoScalingGroup not found - AutoScaling Group {name} not found")


def _instance_is_managed(req, instance_id):
    if instance_id and not motoglue.instance_in_a_group(req.account_id, req.region,
                                                        instance_id):
        raise ApiError("ValidationError",
                       "Instance Id not found - No managed instance found for instance ID: "
                       f"{instance_id}")


# ------------------------------------------------------------------- EC2

def _names(req, p):
    for name in _launch_template_names(p):
        if not isinstance(name, str):
            continue
        if not LAUNCH_TEMPLATE_NAME.fullmatch(name):
            raise ApiError("InvalidLaunchTemplateName.MalformedException",
                           "A launch template name must be between 3 and 128 characters, "
                           "and may contain letters, numbers, and the following characters: "
                           "- ( ) . / _.")
    if req.action in ("CreateImage", "CopyImage", "RegisterImage") and \
            isinstance(p.get("Name"), str) and not AMI_NAME.fullmatch(p["Name"]):
        raise ApiError("InvalidAMIName.Malformed",
                       "AMI names must be between 3 and 128 characters long, and may "
                       "contain letters, numbers, '(', ')', '.', '-', '/' and '_'")


def _ec2(req, p):
    if req.action.startswith("Describe"):
        # A few actions call their filter list Filter, not Filters.
        _filter_values((p.get("Filters") or []) + (p.get("Filter") or []))
    if req.action in ("CreateTags", "DeleteTags"):
        _tag_keys(p.get("Tags") or [])
    for spec in p.get("TagSpecifications") or []:
        _tag_keys(spec.get("Tags") or [])
    if req.action in ("DescribeLaunchTemplateVersions", "DeleteLaunchTemplateVersions"):
        _versions(p.get("Versions") or [])
    if req.action == "DeleteLaunchTemplateVersions":
        _template_exists(req, p)
    if req.action == "DescribeImageAttribute":
        _own_image_exists(req, p.get("ImageId"))


def _filter_values(filters):
    """AWS counts the values of all the filters of a call together."""
    if sum(len(f.get("Values") or []) for f in filters) > MAX_FILTER_VALUES:
        raise ApiError("FilterLimitExceeded",
                       "The maximum number of filter values specified on a single call is "
                       f"{MAX_FILTER_VALUES}")


def _own_image_exists(req, image_id):
    """DescribeImageAttribute of an AMI the account does not own (moto
    crashed on one it does not have)."""
    if image_id and not motoglue.image_exists(req.account_id, req.region, image_id):
        raise ApiError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")


def _launch_template_names(p):
    names = list(p.get("LaunchTemplateNames") or [])
    if p.get("LaunchTemplateName") is not None:
        names.append(p["LaunchTemplateName"])
    return names


def _tag_keys(tags):
    """Keys 1-128 characters, values at most 256; `aws:` is AWS's own
    prefix."""
    for tag in tags:
        key = tag.get("Key")
        if not key or len(key) > 128:
            raise ApiError("InvalidParameterValue",
                           f"Value ( {key or ''} ) for parameter key is invalid. Tag keys "
                           "must be between 1 and 128 characters long.")
        if key.lower().startswith("aws:"):
            raise ApiError("InvalidParameterValue",
                           f"Value ( {key} ) for parameter key is invalid. Tag keys starting "
                           "with 'aws:' are reserved for internal use")
        if len(tag.get("Value") or "") > 256:
            raise ApiError("InvalidParameterValue",
                           f"Value ( {tag['Value']} ) for parameter value is invalid. Tag "
                           "values must be at most 256 characters long.")


def _versions(versions):
    for v in versions:
        if not TEMPLATE_VERSION.fullmatch(v):
            raise ApiError("InvalidParameterValue",
                           f"Value ( {v} ) for parameter versions is invalid. A launch "
                           "template version must be a version number, $Latest or $Default.")


def _template_exists(req, p):
    tid, name = p.get("LaunchTemplateId"), p.get("LaunchTemplateName")
    if not (tid or name) or motoglue.template_exists(req.account_id, req.region, tid, name):
        return
    if tid:
        raise ApiError("InvalidLaunchTemplateId.NotFound",
                       f"The specified launch template, with template ID {tid}, does not "
                       "exist.")
    raise ApiError("InvalidLaunchTemplateName.NotFoundException",
                   f"The specified launch template, with template name {name}, does not "
                   "exist.")


def crash_error(req, exc):
    """AWS's 400 for a request moto crashed on, or None (a real 500)."""
    if req.service != "ec2":
        return None
    filters = [f.get("Name") for f in req.params.get("Filters") or []]
    name = motoglue.unsupported_filter(exc, filters)
    if name is not None:
        return ApiError("InvalidParameterValue", f"The filter '{name}' is invalid")
    return None
