"""What a look at AWS costs: observe asks by what the desired state names, so
its requests follow the apps observed, not the account around them.

Judged by the emulator's request accounting (what reached "AWS"), on fleets
made by Kiln itself.
"""
import json
import re

from kiln_cli import git, http
from test_apply import APP, add_apps, fleet  # noqa: F401  (fixture)
from test_daemon import Daemon, listening

from awsemu.testing import wait_until


def plan_counts(fleet, *extra):
    fleet.emu.reset_requests()
    r = fleet.kiln("plan", "--repo", fleet.root, *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    return fleet.emu.counts()


def foreign_resources(fleet, n):
    """Launch templates and AMIs of another team: no kiln: tags."""
    ec2 = fleet.ec2
    parent = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    for i in range(n):
        ec2.create_launch_template(
            LaunchTemplateName=f"other-team-{i}",
            LaunchTemplateData={"ImageId": parent, "InstanceType": "t3.small"})
        ec2.register_image(
            Name=f"other-team-{i}", RootDeviceName="/dev/xvda",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}])


def test_a_pass_costs_the_same_with_a_past_and_a_crowded_account(fleet):
    add_apps(fleet, ["web", "api"])
    assert fleet.apply().returncode == 0
    before = plan_counts(fleet)
    # Each app gets two releases more: older AMIs, snapshots and template
    # versions, as Kiln leaves them.
    for release in ("0.2", "0.3"):
        for name, version in (("hello", "0.1.0"), ("web", "0.1.1"), ("api", "0.1.2")):
            p = fleet.root / "apps" / name / "app.yaml"
            text = p.read_text()
            current = re.search(r'version: "([^"]+)"', text).group(1)
            p.write_text(text.replace(f'version: "{current}"',
                                      f'version: "{release}.{version[-1]}"', 1))
        git(fleet.root, "commit", "-qam", f"release {release}")
        r = fleet.apply()
        assert r.returncode == 0, r.stdout + r.stderr
    assert len(fleet.kiln_images()) == 9
    foreign_resources(fleet, 5)
    after = plan_counts(fleet)
    assert after == before, (before, after)
    # Templates and AMIs by name and digest, one call each; the three
    # default versions, new to this process, in one listing or one each.
    assert after["ec2:DescribeImages"] == 1 and after["ec2:DescribeLaunchTemplates"] == 1
    assert after["autoscaling:DescribeAutoScalingGroups"] == 1


def test_plan_of_one_app_looks_at_that_app_alone(fleet):
    add_apps(fleet, ["web", "api", "worker"])
    assert fleet.apply().returncode == 0
    counts = plan_counts(fleet, "--app", "web")
    assert counts == {
        "ssm:GetParameters": 1,
        "ec2:DescribeImages": 1,
        "ec2:DescribeLaunchTemplates": 1,
        "ec2:DescribeLaunchTemplateVersions": 1,
        "autoscaling:DescribeAutoScalingGroups": 1,
    }, counts
    names = [e for e in fleet.emu.requests()["log"]
             if e["action"] == "DescribeAutoScalingGroups"]
    assert names, "the group was described"


def metric(port, name):
    _, body = http(port, "/metrics")
    m = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", body, re.M)
    return float(m.group(1)) if m else None


def wait_passes(port, n, timeout=60):
    start = metric(port, "kiln_reconcile_passes_total") or 0
    wait_until(lambda: (metric(port, "kiln_reconcile_passes_total") or 0) >= start + n,
               timeout=timeout, interval=0.1, what=f"{n} passes")


PAUSED = 6  # more than a pass asks again (KILN_REFRESH_SEEN_RECHECKS)
RECHECKS = 4


def test_daemon_reads_a_default_version_once_and_asks_paused_refreshes_in_turn(
        fleet, tmp_path):
    text = (fleet.root / APP).read_text().replace("desired: 1", "desired: 2")
    (fleet.root / APP).write_text(text)
    git(fleet.root, "commit", "-qam", "two instances")
    names = ["hello"] + [f"app{i}" for i in range(1, PAUSED)]
    add_apps(fleet, names[1:])
    assert fleet.apply().returncode == 0
    # The next release of every app pauses at its 50 % checkpoint for an hour.
    for name in names:
        f = fleet.root / "apps" / name / "app.yaml"
        text = re.sub(r'version: "0\.1\.(\d+)"', r'version: "0.2.\1"', f.read_text())
        text = text.replace("  # checkpoints: [50]", "  checkpoints: [50]")
        text = text.replace("  # checkpointDelaySeconds: 300", "  checkpointDelaySeconds: 3600")
        f.write_text(text)
    git(fleet.root, "commit", "-qam", "release 0.2, pausing halfway")
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0", "--resync", "1s",
               "--refresh-poll", "1h")
    try:
        port = listening(d)

        def paused(group):
            refs = fleet.asg.describe_instance_refreshes(
                AutoScalingGroupName=group)["InstanceRefreshes"]
            return refs and refs[0]["Status"] == "InProgress" and \
                refs[0].get("PercentageComplete", 0) >= 50
        wait_until(lambda: all(paused(n) for n in names), timeout=90,
                   what="every refresh paused at its checkpoint")
        # Once the daemon has seen them paused, a pass asks again only a few,
        # in turn, and reads no template version.
        wait_passes(port, 2)
        fleet.emu.reset_requests()
        wait_passes(port, 6)
        counts = fleet.emu.counts()
        passes = counts.get("autoscaling:DescribeAutoScalingGroups", 0)
        asked = counts.get("autoscaling:DescribeInstanceRefreshes", 0)
        assert passes >= 6, counts
        assert 0 < asked <= RECHECKS * (passes + 1) < PAUSED * passes, counts
        assert "ec2:DescribeLaunchTemplateVersions" not in counts, counts
        assert counts.get("autoscaling:DescribeScalingActivities", 0) <= asked, counts
        # The status still says where each release stands.
        _, body = http(port, "/api/v1/apps")
        assert len(re.findall(r'"percent": ?50\b', body)) == PAUSED, body
        # What a group does not show is still seen within a few passes: a
        # refresh cancelled by hand fails the release (its instances stay).
        fleet.asg.cancel_instance_refresh(AutoScalingGroupName=names[-1])

        def status_of(name):
            code, body = http(port, f"/api/v1/apps/{name}")
            return json.loads(body)["status"] if code == 200 else None
        wait_until(lambda: status_of(names[-1]) == "failed", timeout=30, interval=0.2,
                   what="the cancelled refresh seen")
        assert status_of(names[0]) == "rolling-out"
    finally:
        assert d.stop() == 0
