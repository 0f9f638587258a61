"""Where the emulator reaches into moto's in-process state.

Everything that touches moto's internals lives here, so a moto upgrade has
one file to check.
"""

from moto.autoscaling import models as asg_models
from moto.backends import get_backend
from moto.core.types import Base64EncodedString
from moto.ec2.models import launch_templates as lt_models


def ec2(account_id, region):
    return get_backend("ec2")[account_id][region]


def autoscaling(account_id, region):
    return get_backend("autoscaling")[account_id][region]


def cloudwatch(account_id, region):
    return get_backend("cloudwatch")[account_id][region]


def ssm(account_id, region):
    return get_backend("ssm")[account_id][region]


def _install_user_data_fix():
    """moto's CreateLaunchTemplateVersion stores UserData as a plain string
    (CreateLaunchTemplate wraps it), and an Auto Scaling launch from such a
    version then fails an assertion inside moto. Wrap it on the way out."""
    cls = lt_models.LaunchTemplateVersion
    if getattr(cls, "_awsemu_user_data_fixed", False):
        return
    original = cls.user_data

    def user_data(self):
        value = self.data.get("UserData")
        if isinstance(value, str):
            self.data["UserData"] = Base64EncodedString(value)
        return original.fget(self)

    cls.user_data = property(user_data)
    cls._awsemu_user_data_fixed = True


def _install_template_tags_fix():
    """moto answers DescribeLaunchTemplates with the tags a template was
    created with and forgets later CreateTags/DeleteTags; AWS reports the
    current tags. Read them from the tag store every time."""
    cls = lt_models.LaunchTemplate
    if getattr(cls, "_awsemu_tags_fixed", False):
        return

    def tags(self):
        return self.get_tags()

    def set_tags(self, value):
        pass  # the tag store is the truth

    cls.tags = property(tags, set_tags)
    cls._awsemu_tags_fixed = True


def install():
    _install_target_health()
    _install_boot_time()
    _install_user_data_fix()
    _install_template_tags_fix()
    _install_instance_versions()
    _install_launch_checks()


def _install_instance_versions():
    """Makes each Auto Scaling instance remember the launch-template version
    it was launched from. moto reports the group's current default version
    for every instance, so a half-done refresh would be invisible in
    DescribeAutoScalingGroups; AWS reports each instance's own version."""
    cls = asg_models.InstanceState
    if getattr(cls, "_awsemu_installed", False):
        return
    original_init = cls.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.awsemu_launch_template = _group_template_now(self.auto_scaling_group)

    def launch_template(self):
        return getattr(self, "awsemu_launch_template", None)

    cls.__init__ = init
    cls.launch_template = property(launch_template)
    cls._awsemu_installed = True


def _group_template_now(group):
    template = getattr(group, "ec2_launch_template", None)
    if template is None:
        return None
    version = template.get_version(getattr(group, "launch_template_version", "$Default"))
    return {
        "LaunchTemplateId": template.id,
        "LaunchTemplateName": template.name,
        "Version": str(version.number),
    }


def instance_template(state):
    """(template id, version number as str) an ASG instance runs, or None."""
    lt = getattr(state, "awsemu_launch_template", None)
    if lt is None:
        return None
    return lt["LaunchTemplateId"], lt["Version"]


def launch_into_group(group, template, version, count):
    """Launches `count` instances into `group` from `template` at `version`,
    the way moto launches a group's own instances."""
    saved = (group.ec2_launch_template, getattr(group, "launch_template_version", None),
             getattr(group, "provided_launch_template_version", None))
    group.ec2_launch_template = template
    group.launch_template_version = str(version)
    try:
        before = set(id(s) for s in group.instance_states)
        group.replace_autoscaling_group_instances(count, group.get_propagated_tags())
        return [s for s in group.instance_states if id(s) not in before]
    finally:
        (group.ec2_launch_template, group.launch_template_version,
         group.provided_launch_template_version) = saved


def terminate_in_group(group, states):
    """Terminates instances of `group` and removes them from it (and from
    its target groups, as AWS deregisters them before terminating)."""
    if not states:
        return
    ids = [s.instance.id for s in states]
    doomed = set(id(s) for s in states)
    group.instance_states = [s for s in group.instance_states if id(s) not in doomed]
    for tg in _target_groups(group):
        tg.deregister_terminated_instances(ids)
    group.autoscaling_backend.ec2_backend.terminate_instances(ids)


def _target_groups(group):
    arns = list(getattr(group, "target_group_arns", None) or [])
    if not arns:
        return []
    elbv2 = group.autoscaling_backend.elbv2_backend
    return [elbv2.target_groups[a] for a in arns if a in elbv2.target_groups]


def _after_launch(group, states):
    """What AWS does for every instance a group launches and moto does not:
    the aws:ec2launchtemplate:version tag names the version the instance
    was really launched from (moto tags the template's default version),
    and the instance is registered in the group's target groups (moto does
    it only on capacity changes, not for refresh replacements)."""
    if not states:
        return
    ec2_backend = group.autoscaling_backend.ec2_backend
    template = getattr(group, "ec2_launch_template", None)
    if template is not None:
        try:
            number = str(template.get_version(group.launch_template_version).number)
        except Exception:
            number = None
        if number is not None:
            ec2_backend.create_tags([s.instance.id for s in states],
                                    {"aws:ec2launchtemplate:version": number})
    import time

    for s in states:
        LAUNCHED[s.instance.id] = time.time()
    for tg in _target_groups(group):
        tg.register([{"Id": s.instance.id, "Port": tg.port} for s in states])


LAUNCHED = {}  # instance id -> time its group launched it


def set_group_template(group, template, version):
    """Points the group at a launch-template version, as a successful
    refresh does."""
    group.ec2_launch_template = template
    group.launch_template_version = str(version)
    group.provided_launch_template_version = str(version)


def find_template(ec2_backend, template_id=None, template_name=None):
    if template_id:
        return ec2_backend.launch_templates.get(template_id)
    if template_name:
        tid = ec2_backend.launch_template_name_to_ids.get(template_name)
        return ec2_backend.launch_templates.get(tid) if tid else None
    return None


def register_ami(ec2_backend, parent_ami_id, name, description, tags):
    """Registers an AMI derived from `parent_ami_id` (same architecture,
    platform, virtualization) owned by the backend's account."""
    ami = ec2_backend.copy_image(parent_ami_id, ec2_backend.region_name, name, description)
    ec2_backend.create_tags([ami.id], tags)
    return ami


# ------------------------------------------------------------ launches
#
# moto launches whatever a group asks for: an AMI, security group or subnet
# that does not exist still gives a "running" instance, and a subnet with no
# free address crashes (StopIteration, a 500). AWS fails the launch as a
# scaling activity instead: the call that caused it succeeds, the activity
# is Failed with a StatusMessage, and no instance appears.

EMULATOR = None          # the Emulator, set when it is made
ACTIVITIES = {}          # (account, region, group name) -> [activity dict], oldest first
LAUNCH_CAUSE = {"text": None}  # set by the refresh while it launches


def activities_of(account_id, region, name):
    return ACTIVITIES.setdefault((account_id, region, name), [])


def _stamp(now):
    import datetime

    return datetime.datetime.fromtimestamp(now, datetime.timezone.utc)


def _record(group, description, cause, status, message=None, now=None):
    import time
    import uuid

    now = now or time.time()
    act = {
        "ActivityId": str(uuid.uuid4()),
        "AutoScalingGroupName": group.name,
        "AutoScalingGroupARN": getattr(group, "arn", None),
        "Description": description,
        "Cause": cause,
        "StartTime": _stamp(now),
        "EndTime": _stamp(now),
        "StatusCode": status,
        "Progress": 100,
        "Details": '{"Subnet ID":"%s","Availability Zone":"%s"}' % (
            (getattr(group, "vpc_zone_identifier", "") or "").split(",")[0],
            (group.availability_zones or [""])[0]),
    }
    if message:
        act["StatusMessage"] = message
    activities_of(group.account_id, group.region, group.name).append(act)
    return act


def launch_problem(group, count):
    """AWS's reason a launch of `count` instances for `group` would fail,
    or None."""
    ec2_backend = group.autoscaling_backend.ec2_backend
    template = getattr(group, "ec2_launch_template", None)
    data = {}
    if template is not None:
        try:
            data = template.get_version(group.launch_template_version).data or {}
        except Exception:
            data = {}
    image_id = group.image_id if (template is not None or group.launch_config) else None
    if image_id and image_id.startswith("resolve:ssm:"):
        image_id = None  # resolved by moto's SSM; not checked
    if image_id and image_id not in ec2_backend.amis:
        return f"The image id '[{image_id}]' does not exist"
    groups = list(data.get("SecurityGroupIds") or [])
    for ni in data.get("NetworkInterfaces") or []:
        groups += list(ni.get("Groups") or ni.get("SecurityGroupIds") or [])
    for sg in groups:
        if ec2_backend.get_security_group_from_id(sg) is None:
            return f"The security group '{sg}' does not exist"
    for sg in data.get("SecurityGroups") or []:
        if ec2_backend.get_security_group_from_name(sg) is None:
            return f"The security group '{sg}' does not exist in default VPC"
    profile = data.get("IamInstanceProfile") or {}
    if profile and EMULATOR is not None and EMULATOR.check_instance_profiles:
        from moto.iam.models import iam_backends

        iam = iam_backends[group.account_id]["global"]
        try:
            if profile.get("Arn"):
                iam.get_instance_profile_by_arn(profile["Arn"])
            elif profile.get("Name"):
                iam.get_instance_profile(profile["Name"])
        except Exception:
            if profile.get("Arn"):
                return (f"Value ({profile['Arn']}) for parameter iamInstanceProfile.arn is "
                        "invalid. Invalid IAM Instance Profile ARN")
            return (f"Value ({profile.get('Name')}) for parameter iamInstanceProfile.name "
                    "is invalid. Invalid IAM Instance Profile name")
    subnet_id = (getattr(group, "vpc_zone_identifier", "") or "").split(",")[0].strip()
    if subnet_id:
        try:
            subnet = ec2_backend.get_subnet(subnet_id)
        except Exception:
            return f"The subnet ID '{subnet_id}' does not exist"
        if subnet.available_ip_address_count < count:
            return ("There are not enough free addresses in subnet "
                    f"'{subnet_id}' to satisfy the requested number of instances.")
    return None


def _install_launch_checks():
    cls = asg_models.FakeAutoScalingGroup
    if getattr(cls, "_awsemu_launch_checks", False):
        return
    original = cls.replace_autoscaling_group_instances

    def replace(self, count_needed, propagated_tags):
        import datetime

        if count_needed <= 0:
            return original(self, count_needed, propagated_tags)
        before = list(self.instance_states)
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        cause = LAUNCH_CAUSE["text"] or (
            f"At {now} an instance was started in response to a difference between desired "
            f"and actual capacity, increasing the capacity from {len(before)} to "
            f"{len(before) + count_needed}.")
        problem = launch_problem(self, count_needed)
        if problem is None:
            try:
                original(self, count_needed, propagated_tags)
            except StopIteration:
                # moto ran out of addresses half-way: undo what it launched.
                problem = ("There are not enough free addresses in the subnet to satisfy "
                           "the requested number of instances.")
                self.instance_states = before
        if problem is not None:
            message = problem + ". Launching EC2 instance failed." if not problem.endswith(
                ".") else problem + " Launching EC2 instance failed."
            _record(self, "Launching a new EC2 instance.  Status Reason: " + message, cause,
                    "Failed", message)
            return
        fresh = [s for s in self.instance_states if s not in before]
        for s in fresh:
            _record(self, f"Launching a new EC2 instance: {s.instance.id}", cause,
                    "Successful")
        _after_launch(self, fresh)

    cls.replace_autoscaling_group_instances = replace
    cls._awsemu_launch_checks = True


# ------------------------------------------------------------ health

def unhealthy_rule(instance):
    """The active `unhealthy` fault whose image_tags the instance's AMI
    carries (all of them), or None."""
    if EMULATOR is None:
        return None
    rules = EMULATOR.faults.active("unhealthy")
    if not rules:
        return None
    ec2_backend = instance.ec2_backend
    ami = ec2_backend.amis.get(instance.image_id)
    tags = {t["key"]: t["value"] for t in ami.get_tags()} if ami is not None else {}
    for rule in rules:
        if all(tags.get(k) == v for k, v in rule.image_tags.items()):
            return rule
    return None


def grace_over(instance, now):
    """Whether the group's health check grace period (scaled) has passed
    since the instance came into service (AWS starts the grace period when
    the instance enters InService, after its boot)."""
    in_service = in_service_at(instance.id)
    if in_service is None:
        return True
    group = getattr(instance, "autoscaling_group", None)
    grace = getattr(group, "health_check_grace_period", 0) or 0
    return now - in_service >= EMULATOR.aws_seconds(grace)


def _install_target_health():
    """DescribeTargetHealth for instances a group launched: `initial` during
    the group's health check grace period, then `healthy`, or `unhealthy`
    when an `unhealthy` fault names tags of the instance's AMI."""
    from moto.elbv2 import models as elb_models

    cls = elb_models.FakeTargetGroup
    if getattr(cls, "_awsemu_health", False):
        return
    original = cls.health_for

    def health_for(self, target, ec2_backend):
        import time

        status = original(self, target, ec2_backend)
        if getattr(status, "status", None) != "healthy" or EMULATOR is None:
            return status
        instance = ec2_backend.get_instance_by_id(target["Id"])
        if instance is None or instance.id not in LAUNCHED:
            return status
        if not grace_over(instance, time.time()):
            return elb_models.FakeHealthStatus(
                instance.id, status.port, self.health_check_port, "initial",
                "Elb.RegistrationInProgress", "Target registration is in progress")
        if unhealthy_rule(instance) is not None:
            return elb_models.FakeHealthStatus(
                instance.id, status.port, self.health_check_port, "unhealthy",
                "Target.FailedHealthChecks", "Health checks failed")
        return status

    cls.health_for = health_for
    cls._awsemu_health = True


# ------------------------------------------------------------ boot time
#
# AWS reports an instance a group launched as Pending until it has booted,
# then InService. moto makes every instance InService at once, and counts
# only InService instances as the group's capacity.

def in_service_at(instance_id):
    """When an instance a group launched is (or was) InService: its launch
    plus the emulator's boot time (--boot-seconds, scaled); None for an
    instance no group launched."""
    launched = LAUNCHED.get(instance_id)
    if launched is None:
        return None
    boot = EMULATOR.aws_seconds(EMULATOR.boot_seconds) if EMULATOR is not None else 0.0
    return launched + boot


def booting(instance_id, now):
    """Whether the instance is still Pending (booting)."""
    at = in_service_at(instance_id)
    return at is not None and now < at


def pending_states(group, now):
    """The instances of `group` still Pending."""
    return [s for s in group.instance_states if booting(s.instance.id, now)]


def _install_boot_time():
    """LifecycleState (DescribeAutoScalingGroups, DescribeAutoScalingInstances)
    reads Pending while the instance boots. The stored state stays moto's
    (InService, Standby), so moto still counts a booting instance in the
    group's capacity, as AWS does; only what is reported changes."""
    import time

    cls = asg_models.InstanceState
    if getattr(cls, "_awsemu_boot", False):
        return

    def get_state(self):
        stored = self.__dict__.get("_awsemu_lifecycle_state", "InService")
        if stored == "InService" and booting(self.instance.id, time.time()):
            return "Pending"
        return stored

    def set_state(self, value):
        self.__dict__["_awsemu_lifecycle_state"] = value

    cls.lifecycle_state = property(get_state, set_state)
    group_cls = asg_models.FakeAutoScalingGroup

    def active_instances(self):
        return [x for x in self.instance_states
                if x.lifecycle_state in ("InService", "Pending")]

    group_cls.active_instances = active_instances
    cls._awsemu_boot = True


# ------------------------------------------------------------ health replacement

ELB_HEALTH_CAUSE = ("At {now} an instance was taken out of service in response to an ELB "
                    "system health check failure.")


def every_group():
    """Every Auto Scaling group moto holds, in every account and region."""
    for account in list(get_backend("autoscaling").values()):
        for backend in list(account.values()):
            yield from list(backend.autoscaling_groups.values())


def elb_health_checked(group):
    """Whether the group replaces instances its target groups find
    unhealthy: HealthCheckType ELB and at least one target group."""
    return (getattr(group, "health_check_type", "EC2") == "ELB"
            and bool(getattr(group, "target_group_arns", None)))


def failing_elb_health(state, now):
    """Whether an instance of a group fails its ELB health checks as Auto
    Scaling judges them: InService (booted, not Standby), past the group's
    grace period, and `unhealthy` in a target group of the group."""
    instance = state.instance
    if instance.id not in LAUNCHED or state.lifecycle_state != "InService":
        return False
    if not grace_over(instance, now):
        return False
    registered = any(instance.id in tg.targets for tg in _target_groups(state.auto_scaling_group))
    return registered and unhealthy_rule(instance) is not None


def replace_unhealthy(group, state, now):
    """What AWS does to an instance that fails its ELB health checks: a
    scaling activity terminates it (deregistered from its target groups
    first), and the group launches a replacement from its own launch
    template to get back to its desired capacity."""
    when = _stamp(now).strftime("%Y-%m-%dT%H:%M:%SZ")
    _record(group, f"Terminating EC2 instance: {state.instance.id}",
            ELB_HEALTH_CAUSE.format(now=when), "Successful", now=now)
    state.health_status = "Unhealthy"
    terminate_in_group(group, [state])
    group.set_desired_capacity(group.desired_capacity)


# ------------------------------------------------------------ lookups for checks

def find_group(account_id, region, name):
    """The Auto Scaling group of that name, or None."""
    return autoscaling(account_id, region).autoscaling_groups.get(name)


def instance_in_a_group(account_id, region, instance_id):
    """Whether some Auto Scaling group of the account and region has the
    instance."""
    return any(s.instance.id == instance_id
               for g in autoscaling(account_id, region).autoscaling_groups.values()
               for s in g.instance_states)


def template_exists(account_id, region, template_id=None, template_name=None):
    return find_template(ec2(account_id, region), template_id, template_name) is not None


def unsupported_filter(exc, filter_names):
    """The filter name when `exc` is moto's refusal of an EC2 filter it does
    not implement: FilterNotImplementedError, the NotImplementedError of
    its instance filters ("Filter dicts have not been implemented in Moto
    for 'NAME' yet"), or the KeyError some of its filter tables (security
    groups) raise for a name they lack. None for any other crash."""
    import re

    from moto.ec2.exceptions import FilterNotImplementedError

    if isinstance(exc, FilterNotImplementedError):
        m = re.search(r"The filter '(.*)' for ", str(exc))
        return m.group(1) if m else "?"
    if isinstance(exc, NotImplementedError):
        named = [n for n in filter_names if f"'{n}'" in str(exc)]
        return named[0] if named else None
    if isinstance(exc, KeyError) and exc.args and exc.args[0] in filter_names:
        return exc.args[0]
    return None
