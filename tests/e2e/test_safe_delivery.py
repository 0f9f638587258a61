"""A release gated on health and alarms, followed to its end (issue 15):
AWS rolls a bad release back by itself, and Kiln tells the truth about it
(`kiln plan`'s status and release, `kiln apply`'s exit code), never retries
it, and releases the next good commit. The emulator runs AWS's clock 100
times faster, so warmups, grace periods and bake times take AWS's course in
seconds. Judged through boto3."""
import re

import pytest

from kiln_cli import git, seeded_repo
from test_apply import Fleet
from test_group_health import target_group

SCALE = 100  # AWS seconds per emulator second


@pytest.fixture
def gated(awsemu_factory, tmp_path):
    emu = awsemu_factory(bake_seconds=1.0, refresh_batch_seconds=None, time_scale=SCALE)
    return Fleet(emu, seeded_repo(emu, tmp_path / "repo"), tmp_path)


def gate(fleet, tg, rollout_extra=""):
    """The app behind target group tg with ELB health checks, and a rollout
    that AWS rolls back by itself."""
    p = fleet.root / "apps/hello/app.yaml"
    text = p.read_text()
    text = text.replace("  desired: 1\n",
                        f"  desired: 2\n  targetGroups: [{tg}]\n  healthCheckType: ELB\n"
                        "  healthCheckGracePeriodSeconds: 120\n", 1)
    start, end = text.index("rollout:"), text.index("drift:")
    text = (text[:start] + "rollout:\n  minHealthyPercent: 50\n  maxHealthyPercent: 100\n"
            "  warmupSeconds: 60\n  autoRollback: true\n" + rollout_extra + "\n" + text[end:])
    p.write_text(text)
    git(fleet.root, "commit", "-qam", "gated rollout")


def instance_amis(fleet):
    g = fleet.group()
    ids = [i["InstanceId"] for i in g["Instances"]]
    res = fleet.ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["ImageId"] for r in res for i in r["Instances"]}


def target_states(fleet, tg):
    elb = fleet.emu.client("elbv2")
    return {d["Target"]["Id"]: d["TargetHealth"]["State"]
            for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}


def wait_healthy_targets(fleet, tg, n):
    from awsemu.testing import wait_until
    wait_until(lambda: list(target_states(fleet, tg).values()) == ["healthy"] * n,
               timeout=30, interval=0.1, what="every target healthy")


def test_unhealthy_release_is_rolled_back_reported_failed_and_not_retried(gated):
    fleet = gated
    tg = target_group(fleet, "hello-tg")
    gate(fleet, tg)
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    good_amis = instance_amis(fleet)
    assert len(good_amis) == 1
    wait_healthy_targets(fleet, tg, 2)

    # The next commit's image fails its ELB health checks.
    bad = fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="bad release")
    fleet.emu.faults({"kind": "unhealthy", "image_tags": {"kiln:commit": bad}})
    r = fleet.apply()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "failed" in r.stdout, r.stdout

    # AWS put the previous release back: every instance on the good AMI,
    # registered healthy.
    refresh = fleet.asg.describe_instance_refreshes(
        AutoScalingGroupName="hello")["InstanceRefreshes"][0]
    assert refresh["Status"] == "RollbackSuccessful", refresh
    assert instance_amis(fleet) == good_amis
    wait_healthy_targets(fleet, tg, 2)

    rc, doc = fleet.plan()
    app = doc["apps"][0]
    assert rc == 2, doc
    assert app["status"] == "failed", app
    assert app["release"]["state"] == "failed", app
    assert "health" in app["release"]["cause"], app
    assert app["release"]["cause_kind"] == "health", app
    assert re.search(r"AWS rolled back to version \d+$", app["release"]["cause"]), app
    assert app["release"]["failed_at"], app
    assert "health" in app["message"] and "not retried" in app["message"], app

    # Not retried while git stays where it is.
    fleet.emu.reset_requests()
    r = fleet.apply()
    assert r.returncode == 1, r.stdout
    assert "autoscaling:StartInstanceRefresh" not in fleet.emu.counts()

    # The next good commit releases normally.
    fleet.edit('version: "0.2.0"', 'version: "0.3.0"', message="fixed release")
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    new_amis = instance_amis(fleet)
    assert len(new_amis) == 1 and new_amis != good_amis
    rc, doc = fleet.plan()
    assert rc == 0, doc
    assert doc["apps"][0]["release"]["state"] == "healthy"


def set_alarm_when(fleet, status, alarm="hello-5xx"):
    """Waits until the group's refresh is in status (InProgress: waiting at
    a checkpoint), then sets the alarm."""
    from awsemu.testing import wait_until

    def seen():
        rs = fleet.asg.describe_instance_refreshes(
            AutoScalingGroupName="hello")["InstanceRefreshes"]
        if not rs or rs[0]["Status"] != status:
            return False
        return status != "InProgress" or "checkpoint" in (rs[0].get("StatusReason") or "")
    wait_until(seen, timeout=60, interval=0.05, what=f"refresh {status}")
    fleet.emu.client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="5xx over threshold")


def alarm(fleet, name="hello-5xx"):
    fleet.emu.client("cloudwatch").put_metric_alarm(
        AlarmName=name, MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold")


@pytest.mark.parametrize("when", ["Baking", "InProgress"])
def test_alarm_during_bake_or_checkpoint_rolls_the_release_back(gated, when):
    import subprocess
    import threading
    fleet = gated
    alarm(fleet)
    tg = target_group(fleet, "hello-tg")
    gate(fleet, tg, "  alarms: [hello-5xx]\n  checkpoints: [50]\n"
         "  checkpointDelaySeconds: 600\n  bakeTimeSeconds: 900\n")
    assert fleet.apply().returncode == 0
    good_amis = instance_amis(fleet)

    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release that alarms")
    setter = threading.Thread(target=set_alarm_when, args=(fleet, when))
    setter.start()
    try:
        r = fleet.apply()
    except subprocess.TimeoutExpired:  # pragma: no cover
        raise
    finally:
        setter.join()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "hello-5xx" in r.stdout, r.stdout
    refresh = fleet.asg.describe_instance_refreshes(
        AutoScalingGroupName="hello")["InstanceRefreshes"][0]
    assert refresh["Status"] == "RollbackSuccessful", refresh
    assert instance_amis(fleet) == good_amis
    rc, doc = fleet.plan()
    assert rc == 2 and doc["apps"][0]["status"] == "failed", doc
    release = doc["apps"][0]["release"]
    # The alarm by name, when AWS acted on it, and what AWS did.
    assert re.fullmatch(r"alarm hello-5xx in ALARM at \d\d:\d\d:\d\d UTC; "
                        r"AWS rolled back to version \d+", release["cause"]), release
    assert release["cause_kind"] == "alarm", release


def test_alarm_that_stays_ok_lets_the_release_bake_then_become_healthy(gated):
    fleet = gated
    alarm(fleet)
    tg = target_group(fleet, "hello-tg")
    gate(fleet, tg, "  alarms: [hello-5xx]\n  checkpoints: [50]\n"
         "  checkpointDelaySeconds: 300\n  bakeTimeSeconds: 600\n")
    assert fleet.apply().returncode == 0
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="good release")
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    # apply --wait followed the release through its checkpoint (until when)
    # and its bake (how far along), from AWS's refresh and activities.
    assert re.search(r"rolling-out: rolling out 50% — waiting at checkpoint 50% "
                     r"until \d\d:\d\d:\d\d UTC", r.stdout), r.stdout
    assert re.search(r"baking: baking \d+[sm] of 10m, alarms OK", r.stdout), r.stdout
    refresh = fleet.asg.describe_instance_refreshes(
        AutoScalingGroupName="hello")["InstanceRefreshes"][0]
    assert refresh["Status"] == "Successful", refresh
    rc, doc = fleet.plan()
    assert rc == 0 and doc["apps"][0]["release"]["state"] == "healthy", doc


@pytest.mark.parametrize("when", ["Baking", "checkpoint"])
def test_sigkill_during_the_bake_or_at_a_checkpoint_then_apply_follows_it(gated, when):
    import os
    import signal
    import subprocess
    from awsemu.testing import wait_until
    fleet = gated
    alarm(fleet)
    tg = target_group(fleet, "hello-tg")
    gate(fleet, tg, "  alarms: [hello-5xx]\n  checkpoints: [50]\n"
         "  checkpointDelaySeconds: 600\n  bakeTimeSeconds: 900\n")
    assert fleet.apply().returncode == 0
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release to bake")

    proc = subprocess.Popen(
        [os.environ.get("KILN_BIN", "build/controller/kiln"), "apply", "--repo",
         str(fleet.root), "--wait", "--timeout", "90s", "--interval", "500ms"],
        env=fleet.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def there():
        rs = fleet.asg.describe_instance_refreshes(
            AutoScalingGroupName="hello")["InstanceRefreshes"]
        if not rs:
            return False
        if when == "Baking":
            return rs[0]["Status"] == "Baking"
        return "checkpoint" in (rs[0].get("StatusReason") or "")
    try:
        wait_until(there, timeout=60, interval=0.05, what=f"refresh at {when}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    # The restarted Kiln derives the release from AWS alone, and no second
    # refresh follows.
    rc, doc = fleet.plan()
    app = doc["apps"][0]
    release = app["release"]
    if when == "Baking":
        assert rc == 2 and app["status"] == "baking", app
        assert release["state"] == "baking", app
        # Counted from the last launch's warmup (60 s) on AWS's timestamps;
        # the emulator shortens AWS's waits, not its clock.
        assert 0 <= release["bake_remaining_s"] <= 60 + 900, app
        assert re.fullmatch(r"baking \d+[sm] of 15m, alarms OK", release["summary"]), app
    else:
        assert rc == 2 and app["status"] == "rolling-out", app
        assert release["checkpoint"] == 50 and release["percent"] == 50, app
        assert release["checkpoint_until"], app
        assert re.fullmatch(r"rolling out 50% — waiting at checkpoint 50% until "
                            r"\d\d:\d\d:\d\d UTC", release["summary"]), app
    fleet.emu.reset_requests()
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "baking: baking" in r.stdout, r.stdout
    assert "autoscaling:StartInstanceRefresh" not in fleet.emu.counts()
    rs = fleet.asg.describe_instance_refreshes(AutoScalingGroupName="hello")["InstanceRefreshes"]
    assert rs[0]["Status"] == "Successful" and len(rs) == 1, rs
    rc, doc = fleet.plan()
    assert rc == 0 and doc["apps"][0]["release"]["state"] == "healthy", doc


def test_daemon_reports_a_failed_release_in_api_metrics_and_logs(gated, tmp_path):
    """kiln run says the same as kiln plan: the API's release, /metrics'
    state and failure counter (counted once however many passes see it),
    and an error line in the JSON log."""
    import json

    from awsemu.testing import wait_until
    from kiln_cli import http
    from test_daemon import Daemon, listening
    fleet = gated
    tg = target_group(fleet, "hello-tg")
    gate(fleet, tg)
    assert fleet.apply().returncode == 0
    bad = fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="bad release")
    fleet.emu.faults({"kind": "unhealthy", "image_tags": {"kiln:commit": bad}})
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0", "--resync", "1s")
    try:
        port = listening(d)

        def release():
            status, body = http(port, "/api/v1/apps/hello")
            return json.loads(body).get("release") if status == 200 else None
        wait_until(lambda: (release() or {}).get("state") == "failed", timeout=90,
                   interval=0.2, what="the release reported failed")
        r = release()
        assert r["cause_kind"] == "health" and "AWS rolled back" in r["cause"], r
        assert r["summary"].startswith("failed: replacement instances failed"), r
        passes = d.lines()
        wait_until(lambda: len(d.lines()) > len(passes) + 2, timeout=30,
                   what="more passes over the failed release")
        metrics = http(port, "/metrics")[1]
        assert 'kiln_release_state{app="hello",state="failed"} 1' in metrics, metrics
        assert 'kiln_release_failures_total{app="hello",cause="health"} 1\n' in metrics, metrics
        assert any(l["level"] == "error" and "failed" in l["msg"] and l.get("app") == "hello"
                   for l in d.lines()), d.lines()[-5:]
    finally:
        assert d.stop() == 0


def test_refresh_waiting_on_protected_instances_is_reported_with_aws_reason(gated):
    """A release whose refresh waits on scale-in protected instances (AWS's
    default Wait) is rolling-out, saying what AWS waits for; once the
    protection is lifted it finishes."""
    import os
    import subprocess
    from awsemu.testing import wait_until
    fleet = gated
    tg = target_group(fleet, "hello-tg")
    gate(fleet, tg)
    assert fleet.apply().returncode == 0
    ids = [i["InstanceId"] for i in fleet.group()["Instances"]]
    fleet.asg.set_instance_protection(AutoScalingGroupName="hello", InstanceIds=ids,
                                      ProtectedFromScaleIn=True)
    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release")
    proc = subprocess.Popen(
        [os.environ.get("KILN_BIN", "build/controller/kiln"), "apply", "--repo",
         str(fleet.root), "--wait", "--timeout", "90s", "--interval", "500ms"],
        env=fleet.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def waiting():
            rs = fleet.asg.describe_instance_refreshes(
                AutoScalingGroupName="hello")["InstanceRefreshes"]
            return rs and "scale-in protection" in (rs[0].get("StatusReason") or "")
        wait_until(waiting, timeout=60, interval=0.1,
                   what="the refresh waiting on protection")
        rc, doc = fleet.plan()
        app = doc["apps"][0]
        assert rc == 2 and app["status"] == "rolling-out", app
        assert "scale-in protection" in app["release"]["status_reason"], app
        assert app["release"]["summary"].startswith(
            "rolling out 0% — AWS: Waiting for instances with scale-in protection"), app
        text = fleet.kiln("plan", "--repo", fleet.root).stdout
        assert "release of version 2: rolling out 0% — AWS: Waiting for instances" in text, text
    finally:
        fleet.asg.set_instance_protection(AutoScalingGroupName="hello", InstanceIds=ids,
                                          ProtectedFromScaleIn=False)
        out, _ = proc.communicate(timeout=120)
    # apply --wait followed it, said what AWS waited for, and converged.
    assert proc.returncode == 0, out
    assert "rolling-out: rolling out 0% — AWS: Waiting for instances with scale-in" in out, out
    rc, doc = fleet.plan()
    assert rc == 0 and doc["apps"][0]["release"]["state"] == "healthy", doc
