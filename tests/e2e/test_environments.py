"""Environments of one app (issue 16): staging and prod as two deployment
targets with their own template and group, one bake per image digest, and
prod's promotion gated on what staging proved. Both in Kiln's own account
and region here (the emulator's); judged through boto3."""
import re

from kiln_cli import git, run_kiln
from test_apply import APP, fleet  # noqa: F401  (fixture)

ENVIRONMENTS = """
environments:
  staging: {}
  prod:
    promote: {from: staging, soakSeconds: SOAK}
    autoscaling: {min: 1, max: 4, desired: 2}
"""


def with_environments(fleet, soak=1, prod_version=None):
    p = fleet.root / APP
    extra = ENVIRONMENTS.replace("SOAK", str(soak))
    if prod_version is not None:
        extra = extra.replace("  prod:\n", f'  prod:\n    version: "{prod_version}"\n')
    p.write_text(p.read_text() + extra)
    git(fleet.root, "commit", "-qam", "staging and prod")


def set_prod(fleet, version, soak):
    """Pins prod to version with a soak of soak seconds."""
    p = fleet.root / APP
    text = re.sub(r'(?m)^  prod:\n(    version: "[^"]*"\n)?',
                  f'  prod:\n    version: "{version}"\n', p.read_text())
    text = re.sub(r"(?m)^(    promote: .*)soakSeconds: \d+", rf"\1soakSeconds: {soak}", text)
    p.write_text(text)
    git(fleet.root, "commit", "-qam", f"prod at {version}, soak {soak}s")


def app_of(doc, name):
    return next(a for a in doc["apps"] if a["name"] == name)


def template_version(fleet, group):
    return fleet.group(group)["LaunchTemplate"]["Version"]


def group_ami(fleet, group):
    """The AMI of the launch template version the group is on."""
    lt = fleet.group(group)["LaunchTemplate"]
    v = fleet.ec2.describe_launch_template_versions(
        LaunchTemplateId=lt["LaunchTemplateId"], Versions=[lt["Version"]])
    return v["LaunchTemplateVersions"][0]["LaunchTemplateData"]["ImageId"]


def test_staging_then_prod_share_one_bake_and_prod_waits_for_the_soak(fleet):
    with_environments(fleet, soak=1)
    rc, doc = fleet.plan()
    assert [a["name"] for a in doc["apps"]] == ["hello/prod", "hello/staging"], doc
    prod = app_of(doc, "hello/prod")
    assert prod["app"] == "hello" and prod["environment"] == "prod", prod
    # Prod's digest is staging's: it waits until staging has proved it.
    assert prod["status"] == "waiting", prod
    assert "staging has not run 0.1.0 yet" in prod["message"], prod
    assert prod["actions"] == [], prod

    fleet.emu.reset_requests()
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "promotion waits: staging" in r.stdout, r.stdout
    staging, prod = fleet.group("hello-staging"), fleet.group("hello-prod")
    assert staging and prod and len(prod["Instances"]) == 2
    # One bake for the digest, wherever it runs.
    assert fleet.emu.counts().get("imagebuilder:CreateImage") == 1
    images = fleet.kiln_images()
    assert len(images) == 1
    tags = {t["Key"]: t["Value"] for t in images[0]["Tags"]}
    assert tags["kiln:app"] == "hello"
    rc, doc = fleet.plan()
    assert rc == 0 and {a["status"] for a in doc["apps"]} == {"in-sync"}, doc


def test_a_pinned_prod_stays_then_follows_once_staging_proved_the_version(fleet):
    with_environments(fleet, soak=1, prod_version="0.1.0")
    assert fleet.apply().returncode == 0
    prod_before = template_version(fleet, "hello-prod")

    # The app moves on; prod is pinned: staging releases, prod stays.
    fleet.edit('name: hello\nversion: "0.1.0"', 'name: hello\nversion: "0.2.0"', message="0.2.0")
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    assert template_version(fleet, "hello-prod") == prod_before
    assert template_version(fleet, "hello-staging") != prod_before

    # Prod's pin bumped before the soak is over: prod waits, with why, and
    # nothing changes in prod.
    set_prod(fleet, "0.2.0", soak=3600)
    fleet.emu.reset_requests()
    r = fleet.kiln("apply", "--repo", fleet.root, "--env", "prod")
    assert r.returncode == 0, r.stdout + r.stderr
    rc, doc = fleet.plan()
    prod = app_of(doc, "hello/prod")
    assert rc == 2 and prod["status"] == "waiting", prod
    assert re.search(r"staging has run 0\.2\.0 healthy for \d+s of 1h", prod["message"]), prod
    assert template_version(fleet, "hello-prod") == prod_before
    mutations = [k for k in fleet.emu.counts()
                 if not re.match(r"\w+:(Describe|Get|List)", k)]
    assert mutations == [], mutations

    # Once the soak has passed (here: made shorter), prod rolls out the very
    # image staging runs, with no bake.
    set_prod(fleet, "0.2.0", soak=1)
    r = fleet.apply("--env", "prod")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "imagebuilder:CreateImage" not in fleet.emu.counts()
    staging_ami = group_ami(fleet, "hello-staging")
    assert group_ami(fleet, "hello-prod") == staging_ami


def test_a_failed_staging_release_blocks_its_promotion(fleet):
    with_environments(fleet, soak=1, prod_version="0.1.0")
    assert fleet.apply().returncode == 0
    prod_ami = group_ami(fleet, "hello-prod")
    fleet.emu.faults({"service": "autoscaling", "action": "StartInstanceRefresh",
                      "kind": "refresh-fail", "count": 1})
    fleet.edit('name: hello\nversion: "0.1.0"', 'name: hello\nversion: "0.2.0"', message="0.2.0")
    set_prod(fleet, "0.2.0", soak=1)
    r = fleet.apply()
    assert r.returncode == 1, r.stdout + r.stderr
    rc, doc = fleet.plan()
    staging, prod = app_of(doc, "hello/staging"), app_of(doc, "hello/prod")
    assert staging["status"] == "failed", staging
    assert prod["status"] == "waiting", prod
    assert "staging's release of 0.2.0 failed" in prod["message"], prod
    assert group_ami(fleet, "hello-prod") == prod_ami


def test_a_version_staging_proved_and_moved_on_from_is_promoted_by_history(fleet):
    """Staging ran 0.2.0 healthy for the soak, then moved on to 0.3.0: AWS
    no longer shows 0.2.0 anywhere, Kiln's history does. A version staging
    never ran stays blocked, with why."""
    from awsemu.testing import wait_until
    with_environments(fleet, soak=2, prod_version="0.1.0")
    assert fleet.apply().returncode == 0
    fleet.edit('name: hello\nversion: "0.1.0"', 'name: hello\nversion: "0.2.0"', message="0.2.0")
    set_prod(fleet, "0.2.0", soak=2)
    assert fleet.apply("--env", "staging").returncode == 0
    ami_020 = group_ami(fleet, "hello-staging")
    wait_until(lambda: app_of(fleet.plan()[1], "hello/prod")["status"] != "waiting",
               timeout=30, what="staging healthy on 0.2.0 for the soak")
    # Staging moves on before prod is applied.
    fleet.edit('name: hello\nversion: "0.2.0"', 'name: hello\nversion: "0.3.0"', message="0.3.0")
    assert fleet.apply("--env", "staging").returncode == 0
    assert group_ami(fleet, "hello-staging") != ami_020

    rc, doc = fleet.plan()
    prod = app_of(doc, "hello/prod")
    assert prod["status"] == "pending", prod  # open: history proved 0.2.0
    fleet.emu.reset_requests()
    assert fleet.apply("--env", "prod").returncode == 0
    assert "imagebuilder:CreateImage" not in fleet.emu.counts()
    assert group_ami(fleet, "hello-prod") == ami_020

    set_prod(fleet, "0.9.0", soak=2)
    rc, doc = fleet.plan()
    prod = app_of(doc, "hello/prod")
    assert prod["status"] == "waiting", prod
    assert "staging has never run 0.9.0" in prod["message"], prod


def test_environments_are_validated_with_file_and_line(fleet):
    p = fleet.root / APP
    p.write_text(p.read_text() + """
environments:
  staging: {promote: {from: prod}}
  prod: {promote: {from: staging}, autoscalng: {}}
  Bad: {}
  qa: {promote: {from: nowhere}, account: {roleArn: "arn:aws:iam::1:role/x"}}
""")
    r = run_kiln("validate", fleet.root)
    assert r.returncode == 1, r.stdout
    out = r.stdout
    assert "environments.staging.promote.from: 'prod' leads back to staging" in out, out
    assert "environments.prod: unknown key 'autoscalng'; did you mean 'autoscaling'?" in out
    assert "environments: 'Bad' must be 1-32 lowercase letters" in out
    assert "environments.qa.promote.from: 'nowhere' is not an environment" in out
    assert "environments.qa.account.roleArn: 'arn:aws:iam::1:role/x' must be an IAM role" in out
    assert all(re.match(r"apps/hello/app\.yaml:\d+:\d+: error: ", line)
               for line in out.splitlines()[:-1]), out


def test_the_daemon_serves_each_environment(fleet, tmp_path):
    import json

    from awsemu.testing import wait_until
    from kiln_cli import http
    from test_daemon import Daemon, listening
    with_environments(fleet, soak=3600)
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0")
    try:
        port = listening(d)

        def status_of(name):
            code, body = http(port, f"/api/v1/apps/{name}")
            return json.loads(body) if code == 200 else None
        wait_until(lambda: (status_of("hello/staging") or {}).get("status") == "in-sync",
                   timeout=90, interval=0.2, what="staging released")
        prod = status_of("hello/prod")
        assert prod["environment"] == "prod" and prod["app"] == "hello", prod
        assert prod["status"] == "waiting", prod
        assert re.search(r"staging has run 0\.1\.0 healthy for \d+s of 1h", prod["message"]), prod
        metrics = http(port, "/metrics")[1]
        assert 'kiln_release_state{app="hello/staging",state="healthy"} 1' in metrics, metrics
        assert fleet.group("hello-prod") is None  # nothing before the soak
    finally:
        assert d.stop() == 0
