"""POST /_awsemu/fleet (tests/awsemu/fleet.py), and what reads of a large
fleet rely on: filters of many values, pages cut from one search.

tests/e2e/test_bench_fleet.py checks that a fleet built this way is what
Kiln builds; these check the route itself and the emulator's answers over
such a fleet."""

import time

import pytest
import requests

from awsemu.testing import AwsEmu
from .helpers import public_amis

APPS = 12


def digest(app, release):
    return f"{app:032x}{release:032x}"


def commit(release):
    return f"{release:040x}"


def app_doc(i, subnets, sg, parent, releases=2, rolling=False):
    name = f"fleet-{i:03d}"
    prefs = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200,
             "InstanceWarmup": 120, "SkipMatching": True, "AutoRollback": True}
    rolling_prefs = dict(prefs, CheckpointPercentages=[50, 100], CheckpointDelay=3600)
    now = time.time()
    return {
        "name": name, "parent": parent, "tags": {"Owner": "platform"},
        "launch_template": name,
        "data": {"InstanceType": "t3.micro", "SecurityGroupIds": [sg],
                 "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
                 "TagSpecifications": [{"ResourceType": "instance", "Tags": [
                     {"Key": "kiln:app", "Value": name}]}]},
        "group": {"name": name, "min": 0, "max": 3, "desired": 2 if rolling else 1,
                  "subnets": subnets},
        "releases": [{"commit": commit(k), "digest": digest(i, k),
                      "time": now - 60 * (releases - k),
                      "preferences": None if k == 0 else
                      (rolling_prefs if rolling and k == releases - 1 else prefs)}
                     for k in range(releases)],
        "rolling_out": rolling,
    }


@pytest.fixture(scope="module")
def fleet_emu():
    """An emulator of the module's own: the fleet stays in it."""
    emu = AwsEmu(refresh_batch_seconds=0.2)
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def fleet(fleet_emu):
    emu = fleet_emu
    ec2 = emu.client("ec2")
    subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets()["Subnets"])[:2]
    sg = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    parent = public_amis(emu, 1)[0]
    doc = {"apps": [app_doc(i, subnets, sg, parent, rolling=(i == 3))
                    for i in range(APPS)],
           "foreign": {"images": [{"name": f"golden-{i}", "parent": parent,
                                   "tags": {"team": "web"}} for i in range(5)],
                       "launch_templates": [{"name": f"web-{i}", "versions": 2,
                                             "data": {"ImageId": parent,
                                                      "InstanceType": "t3.micro"}}
                                            for i in range(3)]}}
    counts = emu.build_fleet(doc)
    return emu, doc, counts, parent


def test_the_route_counts_what_it_made(fleet):
    emu, _, counts, _ = fleet
    assert {k: v for k, v in counts.items() if k != "seconds"} == {
        "apps": APPS, "images": 2 * APPS + 5, "launch_templates": APPS + 3,
        "versions": 2 * APPS + 6, "instances": APPS + 1, "refreshes": APPS}


def test_each_app_is_on_its_last_release_and_one_is_rolling_out(fleet):
    emu, doc, _, _ = fleet
    ec2, asg = emu.client("ec2"), emu.client("autoscaling")
    for app in doc["apps"]:
        name = app["name"]
        template = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"][0]
        tags = {t["Key"]: t["Value"] for t in template["Tags"]}
        assert (template["DefaultVersionNumber"], tags["kiln:version"], tags["kiln:commit"]) == (
            2, "2", commit(1))
        versions = ec2.describe_launch_template_versions(LaunchTemplateName=name)[
            "LaunchTemplateVersions"]
        assert sorted(v["VersionDescription"] for v in versions) == [
            f"kiln commit={commit(k)} digest={app['releases'][k]['digest']}" for k in range(2)]
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"][0]
        on = sorted(i["LaunchTemplate"]["Version"] for i in group["Instances"])
        refreshes = asg.describe_instance_refreshes(AutoScalingGroupName=name)[
            "InstanceRefreshes"]
        if app["rolling_out"]:
            assert (group["LaunchTemplate"]["Version"], on) == ("1", ["1", "2"])
            assert refreshes[0]["Status"] == "InProgress"
            assert refreshes[0]["StatusReason"].startswith(
                "Waiting for checkpoint delay to expire")
        else:
            assert (group["LaunchTemplate"]["Version"], on) == ("2", ["2"])
            assert [r["Status"] for r in refreshes] == ["Successful"]


def test_a_description_the_emulator_cannot_build_is_refused(fleet):
    emu, doc, _, parent = fleet
    bad_parent = dict(doc["apps"][0], name="fleet-new", launch_template="fleet-new",
                      group=dict(doc["apps"][0]["group"], name="fleet-new"),
                      parent="ami-00000000000000000")
    taken = doc["apps"][0]
    for app in (bad_parent, taken):
        r = requests.post(f"{emu.endpoint}/_awsemu/fleet", json={"apps": [app]}, timeout=30)
        assert r.status_code == 400, r.text
    r = requests.post(f"{emu.endpoint}/_awsemu/fleet", data=b"not json", timeout=30)
    assert r.status_code == 400


def test_filters_of_many_values_match_exactly(fleet):
    emu, doc, _, _ = fleet
    ec2 = emu.client("ec2")
    wanted = [digest(i, 1) for i in range(0, APPS, 3)]
    values = wanted + [f"e{n:063x}" for n in range(150)]
    found = ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "tag:kiln:digest", "Values": values}])["Images"]
    assert sorted(next(t["Value"] for t in i["Tags"] if t["Key"] == "kiln:digest")
                  for i in found) == sorted(wanted)
    names = [a["name"] for a in doc["apps"][:5]]
    found = ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "tag:kiln:app", "Values": names + [f"nobody-{n}" for n in range(100)]}])["Images"]
    assert len(found) == 10
    # A pattern still matches as moto matches it.
    found = ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "tag:kiln:app", "Values": ["fleet-00*", "nobody"]}])["Images"]
    assert len(found) == 20
    templates = ec2.describe_launch_templates(Filters=[
        {"Name": "launch-template-name", "Values": names + ["web-1", "nobody"]}])[
        "LaunchTemplates"]
    assert sorted(t["LaunchTemplateName"] for t in templates) == sorted(names + ["web-1"])
    found = ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "tag-key", "Values": ["team"]}])["Images"]
    assert sorted(i["Name"] for i in found) == [f"golden-{i}" for i in range(5)]


def test_pages_of_a_large_answer_cover_it_once(fleet):
    emu, doc, _, _ = fleet
    ec2 = emu.client("ec2")

    def pages(call, key, **kwargs):
        out, token, n = [], None, 0
        while True:
            r = call(**kwargs, **({"NextToken": token} if token else {}))
            out += r[key]
            n += 1
            token = r.get("NextToken")
            if not token:
                return out, n

    whole = ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "tag-key", "Values": ["kiln:digest"]}])["Images"]
    paged, n = pages(ec2.describe_images, "Images", Owners=["self"], MaxResults=5,
                     Filters=[{"Name": "tag-key", "Values": ["kiln:digest"]}])
    assert n == 5 and len(whole) == 2 * APPS
    assert [i["ImageId"] for i in paged] == [i["ImageId"] for i in whole]
    defaults, n = pages(ec2.describe_launch_template_versions, "LaunchTemplateVersions",
                        Versions=["$Default"], MaxResults=4)
    assert n == 4 and len(defaults) == APPS + 3
    assert len({v["LaunchTemplateId"] for v in defaults}) == APPS + 3
    templates, _ = pages(ec2.describe_launch_templates, "LaunchTemplates", MaxResults=7)
    assert len({t["LaunchTemplateName"] for t in templates}) == APPS + 3
