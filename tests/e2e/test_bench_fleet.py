"""bench/fleet_gen.py builds its fleet in the emulator's state directly,
without Kiln: this checks that it builds what Kiln builds.

The same small fleet (3 apps, 2 past releases, one app mid-release) is made
twice, in two emulators: once by Kiln itself (`kiln apply --wait` of each
commit in turn, with its bakes and instance refreshes; the last commit of
the rolling-out app applied until its refresh waits at its checkpoint),
once by the generator. Then everything an observer reads through the AWS
APIs is compared per app — AMIs and their tags, snapshots, launch
templates, every version with its description and data, groups with their
settings, tags and instances, the instances themselves, instance
refreshes — with ids, times and the values that legitimately differ
(commits, digests, which are made per side) replaced by what they stand
for: release k's commit, digest, AMI. Last, `kiln plan` must judge both
fleets alike.
"""
import json
import re
import subprocess
import sys
import time

import pytest

from kiln_cli import REPO_ROOT, kiln_bin, run_kiln

sys.path.insert(0, str(REPO_ROOT / "bench"))

from fleet_gen import GeneratedFleet  # noqa: E402

N, HISTORY = 3, 2
ROLLING = 1  # the index of the app mid-release


def kiln_built(emu):
    """The fleet as `kiln apply` leaves it."""
    fleet = GeneratedFleet(N, HISTORY, emu=emu, rolling={ROLLING}, build=False)
    env = {**fleet.env, "KILN_AWS_RATE_LIMIT": "off"}
    apply = ["apply", "--repo", fleet.repo, "--wait", "--timeout", "60s", "--interval", "200ms"]
    for commit in fleet.commits[:-1]:
        r = run_kiln(*apply, "--ref", commit, env=env, timeout=90)
        assert r.returncode == 0, r.stdout + r.stderr
    last = fleet.commits[-1]
    rolling = fleet.apps[ROLLING].name
    for app in fleet.apps:
        if app.name != rolling:
            r = run_kiln(*apply, "--ref", last, "--app", app.name, env=env, timeout=90)
            assert r.returncode == 0, r.stdout + r.stderr
    # The rolling-out app's refresh stops at its checkpoint for an hour:
    # apply until it waits there, with the group's bookkeeping written.
    proc = subprocess.Popen([kiln_bin(), *map(str, apply), "--ref", last, "--app", rolling],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        asg = emu.client("autoscaling")
        deadline = time.monotonic() + 60
        while True:
            refreshes = asg.describe_instance_refreshes(
                AutoScalingGroupName=rolling)["InstanceRefreshes"]
            group = asg.describe_auto_scaling_groups(
                AutoScalingGroupNames=[rolling])["AutoScalingGroups"][0]
            tags = {t["Key"]: t["Value"] for t in group["Tags"]}
            if (refreshes and "checkpoint" in (refreshes[0].get("StatusReason") or "")
                    and tags.get("kiln:commit") == last):
                break
            assert time.monotonic() < deadline, refreshes[:1]
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    fleet.digests = [fleet.plan_digests(c) for c in fleet.commits]
    return fleet


class Normalizer:
    """Replaces what differs between two fleets by what it stands for."""

    def __init__(self, fleet, ec2):
        self.exact = {}
        subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets()["Subnets"])
        for k, s in enumerate(subnets):
            self.exact[s] = f"subnet#{k}"
        for s in ec2.describe_subnets()["Subnets"]:
            # Availability zones follow the subnets, whose ids sort
            # differently in each emulator.
            self.exact.setdefault(s["AvailabilityZone"], f"az-of-{self.exact[s['SubnetId']]}")
        for k, c in enumerate(fleet.commits):
            self.exact[c] = f"commit#{k}"
        for app in fleet.apps:
            for k, per_app in enumerate(fleet.digests):
                d = per_app[app.name]
                self.exact[d] = f"digest#{k}"
                self.exact[f"1.{int(d[0:6], 16)}.{int(d[6:12], 16)}"] = f"recipe-version#{k}"
        self.sg = app.sg
        for vpc in ec2.describe_vpcs()["Vpcs"]:
            self.exact[vpc["VpcId"]] = "vpc-default" if vpc.get("IsDefault") else "vpc"

    def ids(self, mapping):
        self.exact.update(mapping)

    def __call__(self, value):
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items() if k != "ResponseMetadata"}
        if isinstance(value, list):
            items = [self(v) for v in value]
            if all(isinstance(v, dict) and "Key" in v for v in items):
                # Tags are a map; AWS gives them in no particular order.
                items.sort(key=lambda t: t["Key"])
            return items
        if hasattr(value, "isoformat"):
            return "<time>"
        if not isinstance(value, str):
            return value
        if value in self.exact:
            return self.exact[value]
        value = re.sub(r"\b[0-9a-f]{64}\b|\b[0-9a-f]{40}\b|\b1\.\d+\.\d+\b|"
                       r"\b(?:ami|snap|lt|sg|subnet|vol|i|eni|vpc)-[0-9a-f]{8,17}\b|"
                       r"\bus-east-1[a-f]\b",
                       lambda m: self.exact.get(m.group(0), m.group(0)), value)
        value = re.sub(r"\b(?:i|eni|eni-attach|vol|r)-[0-9a-f]{8,17}\b", "<id>", value)
        value = re.sub(r"\b(?:ip|ec2)-\d+-\d+-\d+-\d+\b|\b\d+\.\d+\.\d+\.\d+\b", "<ip>", value)
        value = re.sub(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b", "<mac>", value)
        value = re.sub(r"\d{4}-\d\d-\d\dT\d\d[:-]\d\d[:-]\d\d(?:\.\d+)?Z?", "<time>", value)
        value = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                       "<uuid>", value)
        return value


def view(fleet, emu):
    """What an observer reads of each app, normalized."""
    ec2, asg = emu.client("ec2"), emu.client("autoscaling")
    norm = Normalizer(fleet, ec2)
    out = {}
    for app in fleet.apps:
        name = app.name
        versions = ec2.describe_launch_template_versions(LaunchTemplateName=name)[
            "LaunchTemplateVersions"]
        template = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"][0]
        images = ec2.describe_images(Owners=["self"], Filters=[
            {"Name": "tag:kiln:app", "Values": [name]}])["Images"]
        # Release k's AMI is the one its version launches.
        amis = {v["LaunchTemplateData"]["ImageId"]: v["VersionNumber"] - 1 for v in versions}
        assert sorted(amis) == sorted(i["ImageId"] for i in images), name
        norm.ids({ami: f"ami#{k}" for ami, k in amis.items()})
        norm.ids({i["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]: f"snap#{amis[i['ImageId']]}"
                  for i in images})
        norm.ids({template["LaunchTemplateId"]: "lt", norm.sg: "sg"})
        snapshots = ec2.describe_snapshots(SnapshotIds=[
            i["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] for i in images])["Snapshots"]
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"][0]
        ids = [i["InstanceId"] for i in group["Instances"]]
        reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        instances = [i for r in reservations for i in r["Instances"]]
        refreshes = asg.describe_instance_refreshes(AutoScalingGroupName=name)[
            "InstanceRefreshes"]
        for i in group["Instances"] + instances:
            i.pop("AvailabilityZone", None)  # moto places instances at random
            i.get("Placement", {}).pop("AvailabilityZone", None)
        out[name] = norm({
            "images": sorted(images, key=lambda i: amis[i["ImageId"]]),
            "snapshots": snapshots,
            "template": template,
            "versions": sorted(versions, key=lambda v: v["VersionNumber"]),
            "group": group,
            "instances": instances,
            "refreshes": refreshes,
        })
        out[name]["snapshots"].sort(key=lambda s: s["SnapshotId"])
        out[name]["instances"].sort(key=lambda i: json.dumps(i, sort_keys=True))
        out[name]["group"]["Instances"].sort(key=lambda i: json.dumps(i, sort_keys=True))
        # Which zone comes first follows moto's order of the (random) subnet ids.
        out[name]["group"]["AvailabilityZones"].sort()
    return out


def plan_view(fleet):
    r = run_kiln("plan", "--repo", fleet.repo, "--format", "json",
                 env={**fleet.env, "KILN_AWS_RATE_LIMIT": "off"})
    assert r.returncode in (0, 2), r.stdout + r.stderr
    ec2 = fleet.emu.client("ec2")
    norm = Normalizer(fleet, ec2)
    return {a["name"]: {"status": a["status"],
                        "drift": norm(a["drift"]),
                        "actions": [x["type"] for x in a["actions"]],
                        "release": a["release"] and a["release"]["state"]}
            for a in json.loads(r.stdout)["apps"]}


@pytest.fixture
def fleets(awsemu_factory):
    by_kiln = kiln_built(awsemu_factory(bake_seconds=0.5, refresh_batch_seconds=0.2))
    generated = GeneratedFleet(N, HISTORY, emu=awsemu_factory(bake_seconds=0.5,
                                                            refresh_batch_seconds=0.2),
                               rolling={ROLLING})
    yield by_kiln, generated
    by_kiln.close()
    generated.close()


def differences(want, got, path=""):
    """Where two views differ: ["path: kiln made X, the generator Y"]."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = []
        for k in sorted(set(want) | set(got)):
            out += differences(want.get(k, "(missing)"), got.get(k, "(missing)"), f"{path}.{k}")
        return out
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [d for i, (w, g) in enumerate(zip(want, got))
                for d in differences(w, g, f"{path}[{i}]")]
    return [] if want == got else [f"{path}: kiln made {want!r}, the generator {got!r}"]


def test_the_generator_builds_what_kiln_builds(fleets):
    by_kiln, generated = fleets
    want, got = view(by_kiln, by_kiln.emu), view(generated, generated.emu)
    found = differences(want, got)
    assert not found, "\n".join(found)
    assert plan_view(generated) == plan_view(by_kiln)
    rolling = generated.apps[ROLLING].name
    assert plan_view(generated)[rolling]["status"] == "rolling-out"
