"""Many apps whose recipes use the same component documents (a file must
live in its app's directory, so each app holds a copy), each at its own app
version: every app bakes exactly once and every group ends on its own AMI.

Image Builder answers a client token reused with a different request with
IdempotentParameterMismatchException. When tokens were derived from the
component document alone, the first app's CreateComponent took the token and
every other app sharing the file failed forever (its request names another
component and carries other tags).
"""
import json
import os
import shutil

import pytest

from kiln_cli import SEED_REPO, git, run_kiln

APPS = [f"shop{i}" for i in range(6)]

SETUP_DOC = """\
name: setup
description: Shared host setup, used by every app.
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Motd
        action: ExecuteBash
        inputs:
          commands:
            - echo "built by kiln" > /etc/motd
"""


def app_yaml(name, version, subnets, sg):
    return f"""\
apiVersion: kiln.dev/v1
kind: App
name: {name}
version: "{version}"
image:
  parent: ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
  components:
    - file: components/app.yaml
      parameters:
        ArtifactUrl: "https://artifacts.example.com/{name}/{name}-${{version}}.jar"
        Version: "${{version}}"
    - file: components/setup.yaml
launchTemplate:
  instanceType: t3.micro
  securityGroups: [{sg}]
autoscaling:
  subnets: [{", ".join(subnets)}]
  min: 0
  max: 2
  desired: 1
"""


@pytest.fixture
def repo(awsemu_factory, tmp_path):
    emu = awsemu_factory(bake_seconds=0.5, refresh_batch_seconds=0.2)
    ec2 = emu.client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    sg = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(SEED_REPO / "kiln.yaml", root / "kiln.yaml")
    for i, name in enumerate(APPS):
        (root / "apps" / name / "components").mkdir(parents=True)
        (root / "apps" / name / "app.yaml").write_text(
            app_yaml(name, f"1.{i}.0", subnets, sg))
        shutil.copy(SEED_REPO / "apps/hello/components/app.yaml",
                    root / "apps" / name / "components/app.yaml")
        (root / "apps" / name / "components/setup.yaml").write_text(SETUP_DOC)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "six apps, two component documents in common")
    env = {**os.environ, **emu.env, "KILN_CACHE_DIR": str(tmp_path / "cache"),
           "KILN_STATE_DIR": str(tmp_path / "state"), "KILN_AWS_RATE_LIMIT": "off"}
    return emu, root, env


def test_apps_sharing_component_files_each_bake_once(repo):
    emu, root, env = repo
    plan = run_kiln("plan", "--repo", root, "--format", "json", env=env)
    digests = {a["name"]: a["digest"] for a in json.loads(plan.stdout)["apps"]}
    assert sorted(digests) == APPS and len(set(digests.values())) == len(APPS), plan.stdout

    emu.reset_requests()
    r = run_kiln("apply", "--repo", root, "--wait", "--timeout", "150s",
                 "--interval", "500ms", env=env, timeout=200)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "IdempotentParameterMismatch" not in r.stdout + r.stderr

    # Every app baked exactly once: one CreateImage each, one AMI per digest.
    counts = emu.counts()
    assert counts.get("imagebuilder:CreateImage") == len(APPS), counts
    # One component per app and shared file, each made once.
    assert counts.get("imagebuilder:CreateComponent") == 2 * len(APPS), counts
    ec2 = emu.client("ec2")
    images = ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "tag-key", "Values": ["kiln:digest"]}])["Images"]
    by_app = {}
    for image in images:
        tags = {t["Key"]: t["Value"] for t in image["Tags"]}
        assert tags["kiln:digest"] == digests[tags["kiln:app"]]
        by_app.setdefault(tags["kiln:app"], []).append(image["ImageId"])
    assert {app: len(amis) for app, amis in by_app.items()} == {app: 1 for app in APPS}

    # Every group ends on its own AMI, through its own launch template.
    asg = emu.client("autoscaling")
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=APPS)["AutoScalingGroups"]
    assert sorted(g["AutoScalingGroupName"] for g in groups) == APPS
    for g in groups:
        name = g["AutoScalingGroupName"]
        version = ec2.describe_launch_template_versions(
            LaunchTemplateName=name, Versions=[g["LaunchTemplate"]["Version"]]
        )["LaunchTemplateVersions"][0]
        assert version["LaunchTemplateData"]["ImageId"] == by_app[name][0]
        ids = [i["InstanceId"] for i in g["Instances"]]
        assert len(ids) == 1
        on = {i["ImageId"] for res in ec2.describe_instances(InstanceIds=ids)["Reservations"]
              for i in res["Instances"]}
        assert on == {by_app[name][0]}

    plan = run_kiln("plan", "--repo", root, "--format", "json", env=env)
    assert plan.returncode == 0, plan.stdout
