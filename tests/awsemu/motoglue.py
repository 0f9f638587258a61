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


def iam(account_id):
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["aws"]


def find_role(account_id, arn):
    """The IAM role of that exact ARN in the account, or None."""
    return next((r for r in iam(account_id).roles.values() if r.arn == arn), None)


def ensure_role(account_id, name, trust_policy, description):
    backend = iam(account_id)
    if any(r.name == name for r in backend.roles.values()):
        return
    backend.create_role(role_name=name, assume_role_policy_document=trust_policy, path="/",
                        permissions_boundary=None, description=description, tags=[],
                        max_session_duration="3600")


def caller_arn(account_id, access_key, region):
    """The caller's ARN as GetCallerIdentity reports it."""
    from moto.sts.models import sts_backends

    return sts_backends[account_id]["aws"].get_caller_identity(access_key, region)[1]


def is_role_session(account_id, access_key):
    """Whether the access key is one AssumeRole issued."""
    from moto.sts.models import sts_backends

    return sts_backends[account_id]["aws"].get_assumed_role_from_access_key(
        access_key) is not None


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
    _install_shared_images()
    _install_snapshot_permissions()
    _install_tag_lookup()
    _install_literal_filters()
    _install_tag_filters()
    _install_image_id_lookup()
    _install_instance_lookup()
    _install_volume_lookup()
    _install_free_addresses()
    _install_instance_type_check()
    _install_group_names_lookup()
    _install_page_windows()


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
    if image_id and image_id not in ec2_backend.amis and not any(
            a.id == image_id for a in shared_images(ec2_backend)):
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
    ec2_backend = instance.ec2_backend
    rules = [r for r in EMULATOR.faults.active("unhealthy")
             if r.in_scope(ec2_backend.account_id, ec2_backend.region_name)]
    if not rules:
        return None
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


def image_exists(account_id, region, image_id):
    """Whether the account's EC2 of the region has the AMI (its own or
    moto's catalogue; not one shared with it)."""
    return image_id in ec2(account_id, region).amis


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


# ------------------------------------------------------------ AMIs across accounts
#
# moto keeps each account's AMIs in that account's backend and answers
# DescribeImages from it alone, so an AMI shared with another account (its
# LaunchPermission names that account, or it is public) is invisible there,
# and its CopyImage looks for the source in the caller's own account only.

def ec2_regions(account_id):
    """The regions moto's EC2 knows (AWS's, from botocore)."""
    return get_backend("ec2")[account_id].regions


def _created_ec2(account_id, region):
    """The account's EC2 backend of the region if it exists (never creates
    one)."""
    regions = dict.get(get_backend("ec2"), account_id)
    return dict.get(regions, region) if regions is not None else None


def shared_images(viewer):
    """The AMIs of other accounts in the viewer backend's region that the
    viewer's account may use: public, or with a LaunchPermission naming the
    account. moto's catalogue AMIs (in every backend, owned by AWS's
    accounts) are the viewer's own copies and not listed here."""
    me = viewer.account_id
    out = []
    for account_id in list(get_backend("ec2").keys()):
        if account_id == me:
            continue
        other = _created_ec2(account_id, viewer.region_name)
        if other is None:
            continue
        for ami in list(other.amis.values()):
            if ami.owner_id == account_id and launchable_by(ami, me):
                out.append(ami)
    return out


def launchable_by(ami, account_id):
    return ami.is_public or {"UserId": account_id} in ami.launch_permissions


def viewed_by(ami, viewer):
    """The AMI as the viewer's account sees it: its own tags on it (AWS does
    not show the owner's tags to other accounts), the owner's attributes."""
    import copy

    view = copy.copy(ami)
    view.ec2_backend = viewer
    return view


def visible_images(viewer, ami_ids=None, filters=None, exec_users=None, owners=None):
    """DescribeImages as AWS answers it: moto's answer from the viewer's
    own backend plus the AMIs other accounts shared with the viewer."""
    from moto.ec2.exceptions import InvalidAMIIdError
    from moto.ec2.utils import generic_filter

    not_found = None
    try:
        own = viewer.describe_images(ami_ids=ami_ids, filters=filters, exec_users=exec_users,
                                     owners=owners)
    except InvalidAMIIdError as e:
        own, not_found = [], e
    foreign = shared_images(viewer)
    if ami_ids:
        foreign = [a for a in foreign if a.id in ami_ids]
        if not_found is not None and not foreign:
            raise not_found
    else:
        me = viewer.account_id
        if exec_users:
            # AWS: images with explicit launch permissions for those
            # accounts, public ones for `all` (moto adds every public one).
            users = {me if u == "self" else u for u in exec_users}

            def executable(a):
                return (a.is_public and "all" in users) or any(
                    lp.get("UserId") in users for lp in a.launch_permissions)

            own = [a for a in own if executable(a)]
            foreign = [a for a in foreign if executable(a)]
        if owners:
            wanted = {me if o == "self" else o for o in owners}
            foreign = [a for a in foreign if a.owner_id in wanted or a.owner_alias in wanted]
    foreign = [viewed_by(a, viewer) for a in foreign]
    if filters and not ami_ids and foreign:
        foreign = generic_filter(filters, foreign)
    return list(own) + foreign


def find_source_image(account_id, region, image_id):
    """(AMI, owner's backend) of an AMI the account can see in the region
    (its own, moto's catalogue, or shared with it), or (None, None)."""
    own = ec2(account_id, region)
    ami = own.amis.get(image_id)
    if ami is not None:
        return ami, own
    for ami in shared_images(own):
        if ami.id == image_id:
            return ami, ami.ec2_backend
    return None, None


def snapshot_readable_by(snapshot, account_id):
    """Whether the account may create volumes from the snapshot (read its
    data): its owner, or CreateVolumePermission names it or `all`."""
    return (snapshot.owner_id == account_id
            or account_id in snapshot.create_volume_permission_userids
            or "all" in snapshot.create_volume_permission_groups)


def own_tags(account_id, region, resource_id):
    """{key: value} of the tags the account put on a resource (its tag
    store of that region)."""
    backend = _created_ec2(account_id, region)
    if backend is None:
        return {}
    return {t["key"]: t["value"]
            for t in backend.describe_tags(filters={"resource-id": [resource_id]})}


def image_named(backend, name):
    """An AMI of the backend's account with that name that has not failed,
    or None."""
    return next((a for a in backend.amis.values()
                 if a.owner_id == backend.account_id and a.name == name
                 and a.state != "failed"), None)


def new_copy(dest, source, source_region, name, description, encrypted, kms_key_id):
    """Registers the copy of `source` in backend `dest`: a new AMI owned by
    dest's account with a new snapshot of its own, `pending`."""
    from moto.ec2.models.amis import Ami
    from moto.ec2.utils import random_ami_id

    ami_id = random_ami_id()
    source_snapshot = source.ebs_snapshot
    ami = Ami(dest, ami_id, source_ami=source, name=name, description=description,
              region_name=f"{dest.region_name}a",
              snapshot_description=(
                  f"Copied for DestinationAmi {ami_id} from SourceAmi {source.id} for "
                  f"SourceSnapshot {source_snapshot.id}. Task created on "
                  f"{int(source_snapshot.start_time.timestamp() * 1000)}."))
    for attr in ("root_device_name", "root_device_type", "boot_mode", "sriov", "hypervisor",
                 "image_type"):
        setattr(ami, attr, getattr(source, attr))
    ami.image_location = f"{dest.account_id}/{name}"
    ami.state = "pending"
    ami.source_image_id = source.id
    ami.source_image_region = source_region
    snapshot = ami.ebs_snapshot
    snapshot.status = "pending"
    if encrypted or source_snapshot.encrypted:
        if not kms_key_id and not dest.default_kms_key_id:
            dest._create_default_encryption_key()
        snapshot.encrypted = True
        snapshot.kms_key_id = kms_key_id or dest.default_kms_key_id
    dest.amis[ami_id] = ami
    return ami


def _install_shared_images():
    """DescribeImages answers with visible_images (above)."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.amis import AmisResponse

    if getattr(AmisResponse, "_awsemu_shared", False):
        return

    def describe_images(self):
        self.error_on_dryrun()
        images = visible_images(self.ec2_backend, ami_ids=self._get_param("ImageIds", []),
                                filters=self._filters_from_querystring(),
                                exec_users=self._get_param("ExecutableUsers", []),
                                owners=self._get_param("Owners", []))
        return ActionResult({"Images": images})

    AmisResponse.describe_images = describe_images
    AmisResponse._awsemu_shared = True


def _install_snapshot_permissions():
    """ModifySnapshotAttribute reads CreateVolumePermission.Add.N /
    .Remove.N (UserId, Group), the form the API reference documents and
    SDKs send for `CreateVolumePermission={"Add": [...]}`; moto reads only
    the flat OperationType + UserIds / GroupNames form and ignored the
    other, granting nothing."""
    from moto.core.responses import EmptyResult
    from moto.ec2.responses.elastic_block_store import ElasticBlockStore

    if getattr(ElasticBlockStore, "_awsemu_permissions", False):
        return

    def modify_snapshot_attribute(self):
        snapshot_id = self._get_param("SnapshotId")
        self.error_on_dryrun()
        changes = {"add": ([], []), "remove": ([], [])}
        structured = self._get_param("CreateVolumePermission", {}) or {}
        for op, key in (("add", "Add"), ("remove", "Remove")):
            for entry in structured.get(key) or []:
                if entry.get("UserId"):
                    changes[op][0].append(entry["UserId"])
                if entry.get("Group"):
                    changes[op][1].append(entry["Group"])
        op = self._get_param("OperationType")
        if op in changes:
            changes[op][0].extend(self._get_param("UserIds", []) or [])
            changes[op][1].extend(self._get_param("GroupNames", []) or [])
        users, groups = changes["add"]
        if users or groups:
            self.ec2_backend.add_create_volume_permission(snapshot_id, user_ids=users,
                                                          groups=groups)
        users, groups = changes["remove"]
        if users or groups:
            self.ec2_backend.remove_create_volume_permission(snapshot_id, user_ids=users,
                                                             groups=groups)
        return EmptyResult()

    ElasticBlockStore.modify_snapshot_attribute = modify_snapshot_attribute
    ElasticBlockStore._awsemu_permissions = True


# ------------------------------------------------------------ speed
#
# A benchmark fleet holds tens of thousands of AMIs, templates and groups.
# moto's answers cost the same as AWS's in what they return, but a few of
# its lookups scan the whole region once per item, which makes a listing
# quadratic. These keep moto's answers and make the lookups direct.

_FNMATCH_SPECIAL = ("*", "?", "[")


def _literal(value):
    return isinstance(value, str) and not any(c in value for c in _FNMATCH_SPECIAL)


def _install_tag_lookup():
    """moto reads a resource's tags (every item of DescribeImages, every
    template, every tag filter) through describe_tags with a resource-id
    filter, which walks the region's whole tag store. With one resource id
    that is not a pattern, only that resource is read; the answer is the
    same."""
    from types import SimpleNamespace

    from moto.ec2.models.tags import TagBackend
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    if getattr(TagBackend, "_awsemu_direct", False):
        return
    original = TagBackend.describe_tags

    def describe_tags(self, filters=None):
        ids = (filters or {}).get("resource-id")
        if not isinstance(ids, list) or len(ids) != 1 or not _literal(ids[0]):
            return original(self, filters)
        rid = ids[0]
        # dict.get: the store is a defaultdict, and a lookup must not add
        # an empty entry for every resource ever asked about.
        tags = self.tags.get(rid) or {}
        if len(filters) == 1:
            # A resource's own tags (every get_tags): what moto's walk
            # gives, without compiling a pattern per resource.
            kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(rid), "")
            return [{"resource_id": rid, "key": k, "value": v, "resource_type": kind}
                    for k, v in tags.items()]
        return original(SimpleNamespace(tags={rid: tags} if tags else {},
                                        VALID_TAG_FILTERS=self.VALID_TAG_FILTERS), filters)

    TagBackend.describe_tags = describe_tags
    TagBackend._awsemu_direct = True


def _install_literal_filters():
    """EC2 filters: moto matches every value of a filter against every item
    with fnmatch, so a filter of 200 values over 20,000 AMIs costs four
    million matches. Values without wildcards are compared as a set (a
    list of strings, as tag-key gives, against one value: membership);
    other items (booleans, dates, numbers) go the way moto goes."""
    from moto.ec2 import utils as ec2_utils

    if getattr(ec2_utils, "_awsemu_literal_filters", False):
        return
    matching = ec2_utils.is_filter_matching

    def generic_filter(filters, objects):
        if not filters:
            return objects
        for name, values in filters.items():
            if isinstance(values, list) and values and all(_literal(v) for v in values):
                wanted = set(values)

                def keep(obj, name=name, values=values, wanted=wanted):
                    value = obj.get_filter_value(name)
                    if isinstance(value, str):
                        return value in wanted
                    if (len(values) == 1 and isinstance(value, list)
                            and all(isinstance(v, str) for v in value)):
                        # A list (tag-key, tag-value): one of its items.
                        return values[0] in value
                    return matching(obj, name, values)
            else:
                def keep(obj, name=name, values=values):
                    return matching(obj, name, values)
            objects = [obj for obj in objects if keep(obj)]
        return objects

    # Every EC2 model module imported moto's generic_filter by name.
    import sys

    moto_generic_filter = ec2_utils.generic_filter
    for module in list(sys.modules.values()):
        if (getattr(module, "__name__", "").startswith("moto.ec2")
                and getattr(module, "generic_filter", None) is moto_generic_filter):
            module.generic_filter = generic_filter
    ec2_utils._awsemu_literal_filters = True


def _install_tag_filters():
    """A tag filter (tag:KEY, tag-key, tag-value) reads the resource's tags
    as a list of records built from the tag store, for every item it
    filters; the same values read from the store directly."""
    from moto.ec2.models.core import TaggedEC2Resource

    if getattr(TaggedEC2Resource, "_awsemu_direct", False):
        return
    original = TaggedEC2Resource.get_filter_value

    def get_filter_value(self, filter_name, method_name=None):
        if filter_name.startswith("tag:") or filter_name in ("tag-key", "tag-value"):
            rid = getattr(self, "id", None)
            tags = (self.ec2_backend.tags.get(rid) if rid else None) or {}
            if filter_name.startswith("tag:"):
                return tags.get(filter_name[4:])
            return list(tags.keys() if filter_name == "tag-key" else tags.values())
        return original(self, filter_name, method_name)

    TaggedEC2Resource.get_filter_value = get_filter_value
    TaggedEC2Resource._awsemu_direct = True


def _install_image_id_lookup():
    """Every instance moto launches looks its AMI up with an image-id
    filter, a match against every AMI of the region: launching a fleet's
    instances cost instances × AMIs. One id that is not a pattern is looked
    up directly; the answer is the same."""
    from moto.ec2.models.amis import AmiBackend

    if getattr(AmiBackend, "_awsemu_direct", False):
        return
    original = AmiBackend.describe_images

    def describe_images(self, ami_ids=None, filters=None, exec_users=None, owners=None):
        wanted = (filters or {}).get("image-id")
        if isinstance(wanted, list) and len(wanted) == 1:
            wanted = wanted[0]
        if (not ami_ids and not exec_users and not owners and filters
                and len(filters) == 1 and _literal(wanted)):
            ami = self.amis.get(wanted)
            return [ami] if ami is not None else []
        return original(self, ami_ids=ami_ids, filters=filters, exec_users=exec_users,
                        owners=owners)

    AmiBackend.describe_images = describe_images
    AmiBackend._awsemu_direct = True


def _install_instance_lookup():
    """moto finds instances by id (for each volume it attaches at launch,
    for each instance a call names) by walking every instance of the
    region. Reservations and their instances are never removed (terminated
    ones stay), so an index of id -> instance stays true once made; it
    learns the reservations added since it last looked (the newest first)
    when an id is new. An id it does not know goes moto's way, with moto's
    answer or error."""
    from moto.ec2.models.instances import InstanceBackend

    if getattr(InstanceBackend, "_awsemu_index", False):
        return
    get_instance = InstanceBackend.get_instance
    get_instance_by_id = InstanceBackend.get_instance_by_id
    get_multi = InstanceBackend.get_multi_instances_by_id

    def indexed(self, instance_id):
        index = self.__dict__.setdefault("_awsemu_instances", {})
        found = index.get(instance_id)
        if found is not None:
            return found
        seen = self.__dict__.get("_awsemu_reservations_seen", 0)
        total = len(self.reservations)
        # The last reservation seen may have grown since: walk it again.
        for n, reservation in enumerate(reversed(self.reservations.values())):
            if n > total - seen:
                break
            for instance in reservation.instances:
                index[instance.id] = instance
        self._awsemu_reservations_seen = total
        return index.get(instance_id)

    def fast_get_instance(self, instance_id):
        return indexed(self, instance_id) or get_instance(self, instance_id)

    def fast_get_instance_by_id(self, instance_id):
        return indexed(self, instance_id) or get_instance_by_id(self, instance_id)

    def fast_get_multi(self, instance_ids, filters=None):
        found = [indexed(self, i) for i in instance_ids]
        if any(f is None for f in found):
            return get_multi(self, instance_ids, filters)
        return [i for i in found if i.applies(filters)]

    InstanceBackend.get_instance = fast_get_instance
    InstanceBackend.get_instance_by_id = fast_get_instance_by_id
    InstanceBackend.get_multi_instances_by_id = fast_get_multi
    InstanceBackend._awsemu_index = True


def _install_volume_lookup():
    """Each instance moto launches tags its volumes after finding each one
    by id among all the region's volumes. One id is looked up directly (an
    unknown one goes moto's way, for moto's error)."""
    from moto.ec2.models.elastic_block_store import EBSBackend

    if getattr(EBSBackend, "_awsemu_direct", False):
        return
    original = EBSBackend.describe_volumes

    def describe_volumes(self, volume_ids=None, filters=None):
        if volume_ids and len(volume_ids) == 1 and not filters:
            volume = self.volumes.get(volume_ids[0])
            if volume is not None:
                return [volume]
        return original(self, volume_ids=volume_ids, filters=filters)

    EBSBackend.describe_volumes = describe_volumes
    EBSBackend._awsemu_direct = True


def _install_free_addresses():
    """A subnet's free addresses (which the emulator checks before every
    launch): moto copies and filters the region's network interfaces to
    find the subnet's; the same count, read straight from them."""
    from moto.ec2.models.subnets import Subnet

    if getattr(Subnet, "_awsemu_direct", False):
        return

    def available_ip_address_count(self):
        taken = 0
        for eni in self.ec2_backend.enis.values():
            if eni.subnet.id == self.id and eni.private_ip_addresses:
                taken += len(eni.private_ip_addresses)
        return self._available_ip_addresses - taken

    Subnet.available_ip_address_count = property(available_ip_address_count)
    Subnet._awsemu_direct = True


def _install_instance_type_check():
    """Every launch matches its instance type against each of the region's
    instance type offerings (moto only warns when none matches, unless
    MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION is set), through a general
    filter function: the same test, made directly."""
    from moto.ec2.models.instance_types import InstanceTypeOfferingBackend

    cls = InstanceTypeOfferingBackend
    if getattr(cls, "_awsemu_direct", False):
        return
    original = cls.matches_filters

    def matches_filters(self, offering, filters, location_type):
        if isinstance(filters, dict) and len(filters) == 1 and "instance-type" in filters:
            return offering.get("InstanceType") in filters["instance-type"]
        return original(self, offering, filters, location_type)

    cls.matches_filters = matches_filters
    cls._awsemu_direct = True


def _install_group_names_lookup():
    """DescribeAutoScalingGroups with names: moto tests each group against
    the list of names (100 a call), a scan of groups times names. A set
    makes it one scan, in moto's order."""
    cls = asg_models.AutoScalingBackend
    if getattr(cls, "_awsemu_names", False):
        return
    original = cls.describe_auto_scaling_groups

    def describe_auto_scaling_groups(self, names, filters=None):
        if not names or len(names) == 1:
            return original(self, names, filters=filters)
        wanted = set(names)
        return [g for g in original(self, [], filters=filters) if g.name in wanted]

    cls.describe_auto_scaling_groups = describe_auto_scaling_groups
    cls._awsemu_names = True


# ------------------------------------------------------------ pages
#
# pagination.py cuts pages of DescribeImages, DescribeLaunchTemplates and
# DescribeLaunchTemplateVersions before moto renders them: rendering is
# most of moto's cost (about a millisecond an AMI), and a whole answer
# rendered for every page made a listing cost the square of its length.

class PageWindow:
    """The page a request wants of a list member (`key`) of moto's result:
    items [offset, offset + size) (size None: all). `kept`: the items a
    chain's first page found, or None to search. After the call, `found`
    holds the items the page was cut from (None if the handler did not
    run)."""

    def __init__(self, key, offset, size, kept=None):
        self.key, self.offset, self.size, self.kept = key, offset, size, kept
        self.found = None


_WINDOW = {"current": None}


class page_window:
    """While in effect (under the emulator's lock), the windowed handlers
    answer with the window's page."""

    def __init__(self, window):
        self.window = window

    def __enter__(self):
        _WINDOW["current"] = self.window
        return self.window

    def __exit__(self, *exc):
        _WINDOW["current"] = None


def _install_page_windows():
    from moto.core.responses import ActionResult
    from moto.ec2.responses.amis import AmisResponse
    from moto.ec2.responses.launch_templates import LaunchTemplates

    def windowed(cls, name, key):
        handler = getattr(cls, name)
        if getattr(handler, "_awsemu_windowed", False):
            return

        def answer(self):
            window = _WINDOW["current"]
            if window is None or window.key != key:
                return handler(self)
            if window.kept is not None:
                found, rest = window.kept, {}
            else:
                result = handler(self)
                found = list(result._result.get(key) or [])
                rest = {k: v for k, v in result._result.items() if k != key}
            window.found = found
            end = None if window.size is None else window.offset + window.size
            return ActionResult({**rest, key: found[window.offset:end]})

        answer._awsemu_windowed = True
        setattr(cls, name, answer)

    windowed(AmisResponse, "describe_images", "Images")
    windowed(LaunchTemplates, "describe_launch_templates", "LaunchTemplates")
    windowed(LaunchTemplates, "describe_launch_template_versions", "LaunchTemplateVersions")
