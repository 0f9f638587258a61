"""Environments across regions and accounts (issue 16): staging in Kiln's
own account in us-east-1, prod in eu-west-1, in Kiln's account or in
another one reached through an STS role. One bake per digest; prod gets a
copy of staging's AMI (shared with its account first), owned by prod's
account; promotion is gated on what staging proved. Judged through boto3
in each account and region."""
import json
import re

import pytest

from awsemu.testing import account_session, make_deploy_role, wait_until
from kiln_cli import git
from test_apply import APP, Fleet
from kiln_cli import seeded_repo

PROD_ACCOUNT = "210987654321"
PROD_REGION = "eu-west-1"


@pytest.fixture
def fleet(awsemu_factory, tmp_path):
    emu = awsemu_factory(bake_seconds=1.0, refresh_batch_seconds=0.3, copy_seconds=1.0)
    return Fleet(emu, seeded_repo(emu, tmp_path / "repo"), tmp_path)


def prod_session(fleet, account=PROD_ACCOUNT):
    if account is None:
        import boto3
        return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                             region_name=PROD_REGION)
    return account_session(fleet.emu.endpoint, account, PROD_REGION)


def prod_client(fleet, service, account=PROD_ACCOUNT):
    return prod_session(fleet, account).client(service, endpoint_url=fleet.emu.endpoint)


def network(ec2):
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    sg = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    return subnets, sg


def with_prod(fleet, *, account=PROD_ACCOUNT, role=None, external_id="kiln", soak=1,
              prod_version=None):
    """staging (Kiln's account, us-east-1) and prod (eu-west-1, in account
    through role, or Kiln's own when account is None)."""
    subnets, sg = network(prod_client(fleet, "ec2", account))
    acct = ""
    if account is not None:
        acct = f'    account: {{roleArn: "{role}", externalId: "{external_id}"}}\n'
    pin = f'    version: "{prod_version}"\n' if prod_version else ""
    p = fleet.root / APP
    p.write_text(p.read_text() + f"""
environments:
  staging: {{}}
  prod:
    region: {PROD_REGION}
{acct}{pin}    promote: {{from: staging, soakSeconds: {soak}}}
    launchTemplate: {{securityGroups: [{sg}]}}
    autoscaling: {{subnets: [{", ".join(subnets)}], min: 1, max: 3, desired: 2}}
""")
    git(fleet.root, "commit", "-qam", "staging and prod")


def app_of(doc, name):
    return next(a for a in doc["apps"] if a["name"] == name)


def group(asg, name):
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return g[0] if g else None


def instance_amis(ec2, g):
    ids = [i["InstanceId"] for i in g["Instances"]]
    res = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["ImageId"] for r in res for i in r["Instances"]}


def digest_of(ec2, ami):
    im = ec2.describe_images(ImageIds=[ami])["Images"][0]
    return im, {t["Key"]: t["Value"] for t in im.get("Tags", [])}


def converge(fleet, *extra, rc=0):
    r = fleet.apply(*extra)
    assert r.returncode == rc, r.stdout + r.stderr
    return r


def test_prod_in_another_account_and_region_runs_its_own_copy_of_the_one_bake(fleet):
    role = make_deploy_role(fleet.emu.endpoint, PROD_ACCOUNT, "kiln-deploy", "kiln")
    with_prod(fleet, role=role, soak=1)
    fleet.emu.reset_requests()
    # The first apply bakes, releases staging and (staging healthy for 1 s)
    # promotes: a second apply takes prod once the soak is over.
    converge(fleet)
    wait_until(lambda: app_of(fleet.plan()[1], "hello/prod")["status"] != "waiting",
               timeout=30, what="staging's soak")
    converge(fleet)
    counts = fleet.emu.counts()
    assert counts.get("imagebuilder:CreateImage") == 1, counts
    assert counts.get("ec2:CopyImage") == 1, counts

    staging = group(fleet.asg, "hello-staging")
    (staging_ami,) = instance_amis(fleet.ec2, staging)
    _, staging_tags = digest_of(fleet.ec2, staging_ami)

    pec2, pasg = prod_client(fleet, "ec2"), prod_client(fleet, "autoscaling")
    prod = group(pasg, "hello-prod")
    assert prod is not None and len(prod["Instances"]) == 2, prod
    (prod_ami,) = instance_amis(pec2, prod)
    assert prod_ami != staging_ami
    image, tags = digest_of(pec2, prod_ami)
    assert image["OwnerId"] == PROD_ACCOUNT and image["State"] == "available", image
    assert tags["kiln:digest"] == staging_tags["kiln:digest"], (tags, staging_tags)
    assert tags["kiln:app"] == "hello"
    # Nothing of prod landed in Kiln's own account.
    assert group(fleet.asg, "hello-prod") is None
    assert group(prod_client(fleet, "autoscaling", account=None), "hello-prod") is None

    rc, doc = fleet.plan()
    assert rc == 0 and {a["status"] for a in doc["apps"]} == {"in-sync"}, doc

    r = fleet.kiln("whoami", "--repo", fleet.root, "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    who = {t["name"]: t for t in json.loads(r.stdout)["targets"]}
    assert who["hello/prod"]["account"] == PROD_ACCOUNT, who
    assert who["hello/prod"]["region"] == PROD_REGION
    assert "kiln-hello-prod" in who["hello/prod"]["arn"], who
    assert who["hello/staging"]["account"] == "123456789012", who
    for text in (r.stdout, r.stderr):
        assert "testing" not in text.replace('"testing"', "")  # no secret key


def test_prod_pinned_waits_for_the_soak_then_promotes_with_no_bake_and_one_copy(fleet):
    role = make_deploy_role(fleet.emu.endpoint, PROD_ACCOUNT, "kiln-deploy", "kiln")
    with_prod(fleet, role=role, soak=1, prod_version="0.1.0")
    converge(fleet)
    wait_until(lambda: app_of(fleet.plan()[1], "hello/prod")["status"] != "waiting",
               timeout=30, what="staging's soak")
    converge(fleet)
    pec2, pasg = prod_client(fleet, "ec2"), prod_client(fleet, "autoscaling")
    before = instance_amis(pec2, group(pasg, "hello-prod"))

    # The app's version moves; prod stays pinned: only staging releases.
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="0.2.0")
    converge(fleet)
    assert instance_amis(pec2, group(pasg, "hello-prod")) == before

    # Promote before the soak is over (a long one): prod waits, untouched.
    text = (fleet.root / APP).read_text()
    text = text.replace('    version: "0.1.0"\n', '    version: "0.2.0"\n')
    text = re.sub(r"soakSeconds: \d+", "soakSeconds: 3", text)
    (fleet.root / APP).write_text(text)
    git(fleet.root, "commit", "-qam", "promote 0.2.0")
    fleet.emu.reset_requests()
    rc, doc = fleet.plan()
    prod = app_of(doc, "hello/prod")
    assert prod["status"] == "waiting", prod
    assert re.search(r"staging has run 0\.2\.0 healthy for \d+s of 3s", prod["message"]), prod
    counts = fleet.emu.counts()
    assert not any(k.split(":")[1].startswith(("Create", "Copy", "Start", "Update", "Modify"))
                   for k in counts), counts

    # Once the soak has passed: prod rolls out, no bake, one copy.
    wait_until(lambda: app_of(fleet.plan()[1], "hello/prod")["status"] != "waiting",
               timeout=30, what="the soak")
    fleet.emu.reset_requests()
    converge(fleet)
    counts = fleet.emu.counts()
    assert "imagebuilder:CreateImage" not in counts, counts
    assert counts.get("ec2:CopyImage") == 1, counts
    after = instance_amis(pec2, group(pasg, "hello-prod"))
    assert after != before and len(after) == 1
    _, tags = digest_of(pec2, next(iter(after)))
    staging_ami = next(iter(instance_amis(fleet.ec2, group(fleet.asg, "hello-staging"))))
    assert tags["kiln:digest"] == digest_of(fleet.ec2, staging_ami)[1]["kiln:digest"]


def test_prod_in_another_region_of_kilns_account_gets_a_copy(fleet):
    with_prod(fleet, account=None, soak=0)
    converge(fleet)
    converge(fleet)
    ec2, asg = prod_client(fleet, "ec2", None), prod_client(fleet, "autoscaling", None)
    (ami,) = instance_amis(ec2, group(asg, "hello-prod"))
    image, tags = digest_of(ec2, ami)
    assert image["OwnerId"] == "123456789012"
    assert fleet.emu.counts().get("imagebuilder:CreateImage") == 1
    (staging_ami,) = instance_amis(fleet.ec2, group(fleet.asg, "hello-staging"))
    assert ami != staging_ami and tags["kiln:digest"] == digest_of(fleet.ec2, staging_ami)[1]["kiln:digest"]


def test_a_role_that_cannot_be_assumed_is_that_environments_error_only(fleet):
    make_deploy_role(fleet.emu.endpoint, PROD_ACCOUNT, "kiln-deploy", "kiln")
    role = f"arn:aws:iam::{PROD_ACCOUNT}:role/kiln-deploy"
    with_prod(fleet, role=role, external_id="wrong", soak=0)
    r = converge(fleet, rc=1)
    rc, doc = fleet.plan()
    prod = app_of(doc, "hello/prod")
    assert prod["status"] == "error", prod
    assert "not authorized to perform: sts:AssumeRole" in prod["message"], prod
    assert app_of(doc, "hello/staging")["status"] == "in-sync", doc
    assert group(prod_client(fleet, "autoscaling"), "hello-prod") is None
    assert "testing" not in r.stdout + r.stderr


def test_a_failed_copy_is_retried_as_a_new_copy(fleet):
    with_prod(fleet, account=None, soak=0)
    fleet.emu.faults({"service": "ec2", "action": "CopyImage", "kind": "copy-fail", "count": 1})
    converge(fleet)
    converge(fleet)
    ec2 = prod_client(fleet, "ec2", None)
    states = sorted(i["State"] for i in ec2.describe_images(
        Owners=["self"], Filters=[{"Name": "tag-key", "Values": ["kiln:digest"]}])["Images"])
    assert states == ["available", "failed"], states
    assert group(prod_client(fleet, "autoscaling", None), "hello-prod") is not None


def test_a_failed_staging_release_blocks_prods_promotion(fleet):
    with_prod(fleet, account=None, soak=0, prod_version="0.1.0")
    converge(fleet)
    converge(fleet)
    # 0.2.0 everywhere, and staging's refresh of it fails by an alarm.
    cw = fleet.emu.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="hello-5xx", MetricName="5xx", Namespace="ELB",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanThreshold")
    text = (fleet.root / APP).read_text()
    text = text.replace('version: "0.1.0"', 'version: "0.2.0"')
    text = text.replace("  # alarms: [hello-5xx]", "  alarms: [hello-5xx]")
    text = text.replace("  # bakeTimeSeconds: 600", "  bakeTimeSeconds: 600")
    (fleet.root / APP).write_text(text)
    git(fleet.root, "commit", "-qam", "0.2.0 everywhere")
    cw.set_alarm_state(AlarmName="hello-5xx", StateValue="ALARM", StateReason="5xx")
    fleet.apply("--timeout", "20s")
    rc, doc = fleet.plan()
    prod = app_of(doc, "hello/prod")
    assert prod["status"] == "waiting", prod
    assert "staging's release of 0.2.0 failed" in prod["message"], prod
    ec2, asg = prod_client(fleet, "ec2", None), prod_client(fleet, "autoscaling", None)
    (ami,) = instance_amis(ec2, group(asg, "hello-prod"))
    assert digest_of(ec2, ami)[1]["kiln:app"] == "hello"
