"""Auto Scaling instance refresh, which moto does not implement.

Instances are really replaced in moto's group: each batch launches
instances from the desired launch-template version and terminates the
ones they replace, so DescribeAutoScalingGroups and DescribeInstances show
the refresh as it goes. One batch lasts the instances' boot plus their
warmup (or --refresh-batch-seconds); its size follows the health
percentages as AWS computes them, Pending instances counting as unhealthy.
"""

import base64
import datetime
import json
import math
import time
import uuid

from . import motoglue, protocol
from .errors import ApiError

ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")
FAULT_REASON = ("Instance refresh failed: replacement instances did not pass their "
                "health checks (refresh-fail fault injected by awsemu).")


CHECKPOINT_DELAY_DEFAULT = 3600   # AWS seconds, when CheckpointPercentages has no delay
PROTECTED_WAIT_S = 3600           # AWS waits one hour for protection or standby to end
MAX_ALARMS = 10


LAUNCH_REASON = ("Instance refresh failed: new instances could not be launched. "
                 "For more information, see the scaling activities. ")


HELD_WAIT = {
    "protected": ("Waiting for instances with scale-in protection to be unprotected or "
                  "removed from the group. For example: %s is protected from scale in."),
    "standby": ("Waiting for instances in Standby to return to service or be removed "
                "from the group. For example: %s is in Standby."),
}
HELD_FAILED = {
    "protected": ("Instance refresh failed: instances with scale-in protection were not "
                  "unprotected within one hour. For example: %s is protected from scale in."),
    "standby": ("Instance refresh failed: instances in Standby did not return to service "
                "within one hour. For example: %s is in Standby."),
}


HEALTH_REASON = ("Instance refresh failed: replacement instances did not pass their "
                 "ELB health checks. For example: %s is unhealthy.")


def _elb_health(group):
    return (getattr(group, "health_check_type", "EC2") == "ELB"
            and bool(getattr(group, "target_group_arns", None)))


def alarm_reason(names):
    return ("Instance refresh failed because the following CloudWatch alarms went into "
            "ALARM state: " + ", ".join(names) + ".")


class LaunchFailed(Exception):
    """A replacement could not be launched (its scaling activity failed)."""


def _utc(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc)


def batch_size(capacity, min_healthy, max_healthy, pending=0):
    """How many instances one batch replaces. AWS may take instances out of
    service down to MinHealthyPercentage and launch extra ones up to
    MaxHealthyPercentage; it always replaces at least one. An instance
    still Pending (booting) is not healthy: it uses up room, and when none
    is left the refresh waits for it (0) instead of replacing one."""
    can_stop = capacity - pending - math.ceil(capacity * min_healthy / 100)
    can_add = math.floor(capacity * max_healthy / 100) - capacity
    if pending and can_stop + can_add <= 0:
        return 0
    return max(1, can_stop + can_add)


class Refresh:
    def __init__(self, group, now, preferences, desired, strategy, target, original,
                 will_fail):
        self.id = str(uuid.uuid4())
        self.group_name = group.name
        self.account_id = group.account_id
        self.region = group.region
        self.status = "Pending"
        self.status_reason = None
        self.start_time = now
        self.end_time = None
        self.preferences = preferences
        self.desired = desired
        self.strategy = strategy
        self.target = target        # (template, version number) to refresh to
        self.original = original    # (template, version number) before it
        self.will_fail = will_fail
        self.skip_matching = bool(preferences.get("SkipMatching"))
        # Without SkipMatching every instance present at the start is
        # replaced, even one already on the desired configuration.
        self.to_replace = {s.instance.id for s in group.instance_states}
        self.total = None
        self.replaced = 0
        self.batches = 0
        self.next_at = now
        self.rollback = None  # dict once a rollback started
        self.checkpoints = list(preferences.get("CheckpointPercentages") or [])
        self.checkpoint_delay = preferences.get("CheckpointDelay", CHECKPOINT_DELAY_DEFAULT)
        self.checkpoints_reached = 0   # how many checkpoints were passed
        self.waiting = None            # "checkpoint", "protected", or None
        self.wait_started = None
        self.last_new = []             # instances the last batch launched
        self.alarms = list((preferences.get("AlarmSpecification") or {}).get("Alarms") or [])

    def active(self):
        return self.status in ACTIVE

    def describe(self, group):
        done = self.total or 0
        remaining = max(0, done - self.replaced)
        if self.total is None:
            pct = 0
        else:
            pct = 100 if not done else min(100, int(self.replaced * 100 / done))
        if self.status in ("Successful", "Baking"):
            pct, remaining = 100, 0
        if self.rollback is not None and done:
            # AWS: PercentageComplete goes back down to zero during a rollback.
            undone = self.rollback["replaced"]
            pct = max(0, min(100, int(max(0, self.replaced - undone) * 100 / done)))
            if self.status == "RollbackSuccessful":
                pct = 0
        out = {
            "InstanceRefreshId": self.id,
            "AutoScalingGroupName": self.group_name,
            "Status": self.status,
            "StatusReason": self.status_reason,
            "StartTime": _utc(self.start_time),
            "EndTime": _utc(self.end_time) if self.end_time else None,
            "PercentageComplete": pct,
            "InstancesToUpdate": remaining if self.total is not None else (
                len(group.instance_states) if group else 0),
            "ProgressDetails": {"LivePoolProgress": {"PercentageComplete": pct,
                                                     "InstancesToUpdate": remaining}},
            "Preferences": self.preferences,
            "DesiredConfiguration": self.desired,
            "Strategy": self.strategy,
        }
        if self.rollback:
            rb = self.rollback
            rb_total = rb["total"] or 0
            rb_pct = 100 if not rb_total else min(100, int(rb["replaced"] * 100 / rb_total))
            rb_left = max(0, rb_total - rb["replaced"])
            if self.status == "RollbackSuccessful":
                rb_pct, rb_left = 100, 0
            out["RollbackDetails"] = {
                "RollbackReason": rb["reason"],
                "RollbackStartTime": _utc(rb["start"]),
                "PercentageCompleteOnRollback": rb_pct,
                "InstancesToUpdateOnRollback": rb_left,
                "ProgressDetailsOnRollback": {"LivePoolProgress": {
                    "PercentageComplete": rb_pct, "InstancesToUpdate": rb_left}},
            }
        return out


class InstanceRefreshes:
    ACTIONS = ("StartInstanceRefresh", "DescribeInstanceRefreshes", "CancelInstanceRefresh",
               "RollbackInstanceRefresh")

    def __init__(self, emulator, batch_seconds):
        self.emulator = emulator
        self.batch_seconds = batch_seconds
        self.refreshes = []  # every refresh ever started, oldest first
        # The ones that may still change, which the ticker walks: a fleet
        # holds thousands of finished refreshes that never change again.
        self.live = []

    # -------------------------------------------------------------- requests

    def handle(self, req):
        now = time.time()
        result = getattr(self, "_" + req.action)(req, req.params, now)
        return protocol.render_query_result(req, result)

    def _group(self, req, name):
        backend = motoglue.autoscaling(req.account_id, req.region)
        group = backend.autoscaling_groups.get(name)
        if group is None:
            raise ApiError("ValidationError",
                           f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")
        return group

    def _active_for(self, req, name):
        for r in self.refreshes:
            if (r.group_name == name and r.account_id == req.account_id
                    and r.region == req.region and r.active()):
                return r
        return None

    def _StartInstanceRefresh(self, req, p, now):
        group = self._group(req, p["AutoScalingGroupName"])
        if self._active_for(req, group.name):
            raise ApiError("InstanceRefreshInProgress",
                           "An Instance Refresh is already in progress and blocks the "
                           "execution of this Instance Refresh.")
        strategy = p.get("Strategy", "Rolling")
        if strategy != "Rolling":
            raise ApiError("ValidationError",
                           f"awsemu supports only the Rolling strategy, not {strategy}")
        prefs = self._preferences(p.get("Preferences") or {})
        ec2 = motoglue.ec2(req.account_id, req.region)
        original = self._group_config(group)
        desired = p.get("DesiredConfiguration")
        if desired:
            if "MixedInstancesPolicy" in desired:
                raise ApiError("ValidationError",
                               "awsemu supports a DesiredConfiguration with a LaunchTemplate only")
            target = self._resolve(ec2, desired.get("LaunchTemplate") or {})
        else:
            if original is None:
                raise ApiError("ValidationError",
                               "The Auto Scaling group has no launch template to refresh to.")
            target = original
        if prefs.get("AutoRollback"):
            self._check_reversible(group, desired, "AutoRollback")
        will_fail = self.emulator.faults.take("autoscaling", "StartInstanceRefresh",
                                              "refresh-fail", req.account_id,
                                              req.region) is not None
        r = Refresh(group, now, prefs, desired, strategy, target, original, will_fail)
        self.add(r)
        return {"InstanceRefreshId": r.id}

    def add(self, r):
        """Records a refresh (the newest), and follows it while active."""
        self.refreshes.append(r)
        if r.active():
            self.live.append(r)

    def _preferences(self, prefs):
        out = dict(prefs)
        min_h = out.setdefault("MinHealthyPercentage", 90)
        if "MaxHealthyPercentage" in prefs:
            if "MinHealthyPercentage" not in prefs:
                raise ApiError("ValidationError",
                               "You must specify MinHealthyPercentage when you specify "
                               "MaxHealthyPercentage.")
            if prefs["MaxHealthyPercentage"] - min_h > 100:
                raise ApiError("ValidationError",
                               "The difference between MaxHealthyPercentage and "
                               "MinHealthyPercentage cannot be greater than 100.")
            if min_h == 100 and prefs["MaxHealthyPercentage"] == 100:
                raise ApiError("ValidationError",
                               "MinHealthyPercentage and MaxHealthyPercentage cannot both be 100.")
        checkpoints = prefs.get("CheckpointPercentages")
        if "CheckpointDelay" in prefs and not checkpoints:
            raise ApiError("ValidationError",
                           "CheckpointDelay can only be specified together with "
                           "CheckpointPercentages.")
        if checkpoints:
            if any(b <= a for a, b in zip(checkpoints, checkpoints[1:])):
                raise ApiError("ValidationError",
                               "CheckpointPercentages must be unique and in ascending order.")
            out.setdefault("CheckpointDelay", CHECKPOINT_DELAY_DEFAULT)
        alarms = (prefs.get("AlarmSpecification") or {}).get("Alarms")
        if alarms is not None and len(alarms) > MAX_ALARMS:
            raise ApiError("ValidationError",
                           f"AlarmSpecification can contain at most {MAX_ALARMS} alarms.")
        if alarms is not None and len(set(alarms)) != len(alarms):
            raise ApiError("ValidationError", "AlarmSpecification contains duplicate alarms.")
        out.setdefault("SkipMatching", False)
        out.setdefault("AutoRollback", False)
        # AWS's defaults for both are Wait (RefreshPreferences).
        out.setdefault("ScaleInProtectedInstances", "Wait")
        out.setdefault("StandbyInstances", "Wait")
        return out

    def _group_config(self, group):
        template = getattr(group, "ec2_launch_template", None)
        if template is None:
            return None
        version = template.get_version(getattr(group, "launch_template_version", "$Default"))
        return template, str(version.number)

    def _resolve(self, ec2, spec):
        if bool(spec.get("LaunchTemplateId")) == bool(spec.get("LaunchTemplateName")):
            raise ApiError("ValidationError",
                           "Valid requests must contain either launchTemplateId or "
                           "LaunchTemplateName")
        template = motoglue.find_template(ec2, spec.get("LaunchTemplateId"),
                                          spec.get("LaunchTemplateName"))
        if template is None:
            which = spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName")
            raise ApiError("ValidationError", f"The launch template {which} does not exist.")
        version = spec.get("Version", "$Default")
        try:
            number = template.get_version(version).number
        except Exception:
            raise ApiError("ValidationError",
                           f"The specified version {version} for launch template "
                           f"{template.id} does not exist.")
        return template, str(number)

    def _check_reversible(self, group, desired, what):
        if not desired:
            raise ApiError("ValidationError" if what == "AutoRollback"
                           else "IrreversibleInstanceRefresh",
                           f"{what} is not supported for an instance refresh without a "
                           "desired configuration.")
        version = str(getattr(group, "launch_template_version", "") or "")
        if getattr(group, "ec2_launch_template", None) is None or version.startswith("$"):
            raise ApiError("ValidationError" if what == "AutoRollback"
                           else "IrreversibleInstanceRefresh",
                           f"{what} is not supported when the Auto Scaling group uses the "
                           "launch template's $Latest or $Default version.")
        try:
            data = group.ec2_launch_template.get_version(version).data or {}
        except Exception:
            data = {}
        if str(data.get("ImageId", "")).startswith("resolve:ssm:"):
            raise ApiError("ValidationError" if what == "AutoRollback"
                           else "IrreversibleInstanceRefresh",
                           f"{what} is not supported when the Auto Scaling group's launch "
                           "template uses a Systems Manager parameter instead of an AMI ID "
                           "for the ImageId property.")

    def _DescribeInstanceRefreshes(self, req, p, now):
        name = p["AutoScalingGroupName"]
        backend = motoglue.autoscaling(req.account_id, req.region)
        group = backend.autoscaling_groups.get(name)
        found = [r for r in reversed(self.refreshes)
                 if r.group_name == name and r.account_id == req.account_id
                 and r.region == req.region]
        ids = p.get("InstanceRefreshIds")
        if ids:
            found = [r for r in found if r.id in ids]
        max_records = p.get("MaxRecords") or 50  # 1-100, checked in checks.py
        start = 0
        if p.get("NextToken"):
            start = _decode_token(p["NextToken"], name)
        page = found[start:start + max_records]
        result = {"InstanceRefreshes": [r.describe(group) for r in page]}
        if start + max_records < len(found):
            result["NextToken"] = _encode_token(start + max_records, name)
        return result

    def _CancelInstanceRefresh(self, req, p, now):
        self._group(req, p["AutoScalingGroupName"])
        r = self._active_for(req, p["AutoScalingGroupName"])
        if r is None or r.status not in ("Pending", "InProgress", "Baking",
                                         "RollbackInProgress"):
            raise ApiError("ActiveInstanceRefreshNotFound",
                           "No in progress or pending Instance Refresh found for Auto Scaling "
                           f"group {p['AutoScalingGroupName']}")
        # Replacements already made stay (forward or back); the one in
        # flight finishes first. A rollback can be cancelled too.
        r.status = "Cancelling"
        r.status_reason = None
        r.waiting = None
        r.next_at = min(r.next_at, now + self._wait(r))
        return {"InstanceRefreshId": r.id}

    def _RollbackInstanceRefresh(self, req, p, now):
        group = self._group(req, p["AutoScalingGroupName"])
        r = self._active_for(req, group.name)
        if r is None or r.status not in ("Pending", "InProgress", "Baking"):
            raise ApiError("ActiveInstanceRefreshNotFound",
                           "No in progress or pending Instance Refresh found for Auto Scaling "
                           f"group {group.name}")
        self._check_reversible(group, r.desired, "Rollback")
        self._start_rollback(r, group, now, "Rollback requested by RollbackInstanceRefresh.")
        return {"InstanceRefreshId": r.id}

    # ------------------------------------------------------------------ time

    def _wait(self, r):
        """Emulator seconds between two batches: --refresh-batch-seconds if
        given, else the instance warmup (InstanceWarmup, or the group's
        health check grace period when not set), under --time-scale."""
        if self.batch_seconds is not None:
            return self.batch_seconds
        warmup = r.preferences.get("InstanceWarmup")
        if warmup is None:
            backend = motoglue.autoscaling(r.account_id, r.region)
            group = backend.autoscaling_groups.get(r.group_name)
            warmup = getattr(group, "health_check_grace_period", 0) or 0 if group else 0
        return self.emulator.aws_seconds(warmup)

    def tick(self, now):
        self.live = [r for r in self.live if r.active()]
        for r in self.live:
            # Alarms are watched continuously while the refresh replaces
            # instances, waits at a checkpoint or bakes, not only between
            # batches.
            if r.alarms and r.status in ("InProgress", "Baking"):
                firing = self._alarms_in_alarm(r)
                if firing:
                    group = motoglue.autoscaling(r.account_id, r.region) \
                        .autoscaling_groups.get(r.group_name)
                    if group is not None:
                        self._fail(r, group, now, alarm_reason(firing))
                        continue
            if now >= r.next_at:
                self._step(r, now)
                if r.active() and r.next_at <= now:
                    r.next_at = now + self._wait(r)

    def _alarms_in_alarm(self, r):
        cloudwatch = motoglue.cloudwatch(r.account_id, r.region)
        return [name for name in r.alarms
                if getattr(cloudwatch.alarms.get(name), "state_value", None) == "ALARM"]

    def _step(self, r, now):
        backend = motoglue.autoscaling(r.account_id, r.region)
        group = backend.autoscaling_groups.get(r.group_name)
        if group is None:
            self._finish(r, now, "Failed", "The Auto Scaling group was deleted.")
            return
        if r.status == "Cancelling":
            self._finish(r, now, "Cancelled", None)
            return
        if r.status == "Pending":
            # The first batch completes one batch period after this.
            r.status = "InProgress"
            r.total = len(self._eligible(r, self._outdated(r, group, r.target)))
            if r.total == 0 and not r.will_fail:
                self._step_forward(r, group, now)
            return
        if r.status == "Baking":
            self._succeed(r, group, now)
        elif r.status == "InProgress":
            self._step_forward(r, group, now)
        elif r.status == "RollbackInProgress":
            self._step_rollback(r, group, now)

    def _outdated(self, r, group, config):
        template, version = config
        if r.rollback is None and not r.skip_matching:
            return [s for s in group.instance_states if s.instance.id in r.to_replace]
        return [s for s in group.instance_states
                if motoglue.instance_template(s) != (template.id, version)]

    def _replace(self, r, group, stale, config, now, limit=None):
        """Replaces the next batch of `stale`; returns how many (0 when
        Pending instances leave no room: r.next_at is then when the first
        of them is InService). The batch lasts the boot time plus the
        warmup: AWS starts the warmup once a replacement is InService."""
        capacity = group.desired_capacity or len(group.instance_states)
        prefs = r.preferences
        pending = motoglue.pending_states(group, now)
        n = min(len(stale), batch_size(capacity, prefs["MinHealthyPercentage"],
                                       prefs.get("MaxHealthyPercentage", 100), len(pending)))
        if n == 0:
            r.next_at = min(motoglue.in_service_at(s.instance.id) for s in pending)
            return 0
        if limit is not None:
            n = max(1, min(n, limit))
        victims = stale[:n]
        template, version = config
        motoglue.LAUNCH_CAUSE["text"] = (
            f"At {_utc(now).strftime('%Y-%m-%dT%H:%M:%SZ')} an instance was launched "
            "in response to an instance refresh.")
        try:
            new = motoglue.launch_into_group(group, template, version, n)
        finally:
            motoglue.LAUNCH_CAUSE["text"] = None
        if len(new) < n:
            # The launch failed as a scaling activity: nothing is replaced.
            acts = motoglue.activities_of(group.account_id, group.region, group.name)
            message = acts[-1].get("StatusMessage", "") if acts else ""
            raise LaunchFailed(message)
        motoglue.terminate_in_group(group, victims)
        r.last_new = [x.instance.id for x in new]
        r.next_at = now + self.emulator.aws_seconds(self.emulator.boot_seconds) + self._wait(r)
        return n

    def _held(self, r, state):
        """Why an outdated instance cannot be replaced now ("protected",
        "standby"), or None. Refresh/Terminate replace it; Ignore leaves it
        out altogether (see _eligible)."""
        if (getattr(state, "protected_from_scale_in", False)
                and r.preferences["ScaleInProtectedInstances"] == "Wait"):
            return "protected"
        if (str(getattr(state, "lifecycle_state", "")).startswith("Standby")
                and r.preferences["StandbyInstances"] == "Wait"):
            return "standby"
        return None

    def _eligible(self, r, stale):
        out = []
        for s in stale:
            if (getattr(s, "protected_from_scale_in", False)
                    and r.preferences["ScaleInProtectedInstances"] == "Ignore"):
                continue
            if (str(getattr(s, "lifecycle_state", "")).startswith("Standby")
                    and r.preferences["StandbyInstances"] == "Ignore"):
                continue
            out.append(s)
        return out

    def _checkpoint_due(self, r):
        """The next checkpoint percentage not yet reached, or None."""
        if r.checkpoints_reached < len(r.checkpoints):
            return r.checkpoints[r.checkpoints_reached]
        return None

    def _percent(self, r):
        return 100 if not r.total else r.replaced * 100 / r.total

    def _step_forward(self, r, group, now):
        if r.waiting == "checkpoint":
            # The checkpoint delay is over.
            r.waiting = None
            r.status_reason = None
        if r.last_new and _elb_health(group):
            # The last batch's replacements have warmed up: with ELB health
            # checks, one that failed them fails the refresh.
            bad = [x.instance.id for x in group.instance_states
                   if x.instance.id in r.last_new and motoglue.unhealthy_rule(x.instance)]
            r.last_new = []
            if bad:
                self._fail(r, group, now, HEALTH_REASON % bad[0])
                return
        stale = self._eligible(r, self._outdated(r, group, r.target))
        if r.will_fail and (r.batches >= 1 or not stale):
            self._fail(r, group, now)
            return
        # A checkpoint is reached once the replacements of the batch that
        # crossed it have warmed up, i.e. at this step.
        cp = self._checkpoint_due(r)
        if cp is not None and r.batches and self._percent(r) >= cp and cp < 100:
            while (self._checkpoint_due(r) is not None
                   and self._percent(r) >= self._checkpoint_due(r)):
                r.checkpoints_reached += 1
            if stale:
                r.waiting = "checkpoint"
                r.status_reason = (
                    f"Waiting for checkpoint delay to expire. Checkpoint "
                    f"{r.checkpoints_reached} of {len(r.checkpoints)} "
                    f"({r.checkpoints[r.checkpoints_reached - 1]}%) reached at "
                    f"{_utc(now).strftime('%Y-%m-%dT%H:%M:%SZ')}; the refresh continues "
                    f"after {r.checkpoint_delay} seconds.")
                r.next_at = now + self.emulator.aws_seconds(r.checkpoint_delay)
                return
        if r.checkpoints and self._checkpoint_due(r) is None and r.checkpoints[-1] < 100:
            # AWS replaces only up to the last checkpoint.
            stale = []
        ready = [s for s in stale if self._held(r, s) is None]
        if stale and not ready:
            held = stale[0]
            why = self._held(r, held)
            if r.waiting != why:
                r.waiting, r.wait_started = why, now
            if now - r.wait_started >= self.emulator.aws_seconds(PROTECTED_WAIT_S):
                self._fail(r, group, now, HELD_FAILED[why] % held.instance.id)
                return
            r.status_reason = HELD_WAIT[why] % held.instance.id
            r.next_at = now + min(1.0, self._wait(r) or 1.0)
            return
        if r.waiting in ("protected", "standby"):
            r.waiting = None
            r.status_reason = None
        if ready:
            limit = None
            cp = self._checkpoint_due(r)
            if cp is not None and r.total:
                limit = math.ceil(r.total * cp / 100) - r.replaced
            try:
                done = self._replace(r, group, ready, r.target, now, limit)
            except LaunchFailed as e:
                self._fail(r, group, now, LAUNCH_REASON + str(e))
                return
            if done == 0:
                return  # Pending instances first: no room to replace one
            r.replaced += done
            r.batches += 1
            stale = self._eligible(r, self._outdated(r, group, r.target))
            if r.checkpoints and r.checkpoints[-1] < 100:
                last = r.checkpoints[-1]
                if self._percent(r) >= last:
                    stale = []
                    r.checkpoints_reached = len(r.checkpoints)
        if not stale and r.last_new and _elb_health(group):
            return  # the last batch's health is judged after its warmup
        if not stale and not r.will_fail:
            bake = r.preferences.get("BakeTime") or 0
            if bake > 0:
                r.status = "Baking"
                r.status_reason = (f"Waiting for the bake time of {bake} seconds to pass "
                                   "before the instance refresh is complete.")
                r.next_at = now + self.emulator.aws_seconds(bake)
            else:
                self._succeed(r, group, now)

    def _succeed(self, r, group, now):
        if r.desired:
            motoglue.set_group_template(group, r.target[0],
                                        r.desired["LaunchTemplate"].get("Version",
                                                                        r.target[1]))
        self._finish(r, now, "Successful", None)

    def _fail(self, r, group, now, reason=FAULT_REASON):
        if r.preferences.get("AutoRollback") and r.desired:
            r.status_reason = reason
            self._start_rollback(r, group, now, reason)
        else:
            self._finish(r, now, "Failed", reason)

    def _start_rollback(self, r, group, now, reason):
        r.status = "RollbackInProgress"
        r.status_reason = reason
        r.waiting = None
        r.rollback = {"reason": reason, "start": now, "replaced": 0, "total": None}
        r.rollback["total"] = len(self._outdated(r, group, r.original))
        r.next_at = now + self._wait(r)

    def _step_rollback(self, r, group, now):
        stale = self._outdated(r, group, r.original)
        if stale:
            try:
                done = self._replace(r, group, stale, r.original, now)
            except LaunchFailed as e:
                self._finish(r, now, "RollbackFailed", LAUNCH_REASON + str(e))
                return
            if done == 0:
                return  # Pending instances first: no room to replace one
            r.rollback["replaced"] += done
            stale = self._outdated(r, group, r.original)
        if not stale:
            self._finish(r, now, "RollbackSuccessful", r.status_reason)

    def _finish(self, r, now, status, reason):
        r.status = status
        r.status_reason = reason
        r.end_time = now


def _encode_token(offset, name):
    return base64.urlsafe_b64encode(json.dumps([offset, name]).encode()).decode()


def _decode_token(token, name):
    try:
        offset, owner = json.loads(base64.urlsafe_b64decode(token.encode()))
        if owner == name and isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, TypeError):
        pass
    raise ApiError("InvalidNextToken", "The token provided is not valid.")
