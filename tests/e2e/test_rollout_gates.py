"""Safe delivery from git: rollout.alarms, checkpoints,
checkpointDelaySeconds and bakeTimeSeconds reach StartInstanceRefresh as
AWS's AlarmSpecification, CheckpointPercentages, CheckpointDelay and
BakeTime (judged through boto3's DescribeInstanceRefreshes)."""
from kiln_cli import run_kiln
from test_apply import fleet  # noqa: F401  (fixture)

GATES = """rollout:
  minHealthyPercent: 100
  maxHealthyPercent: 200
  warmupSeconds: 0
  autoRollback: true
  alarms: [hello-5xx, hello-p99]
  checkpoints: [10, 50]
  checkpointDelaySeconds: 1
  bakeTimeSeconds: 2
"""


def latest_refresh(fleet):
    return fleet.asg.describe_instance_refreshes(
        AutoScalingGroupName="hello")["InstanceRefreshes"][0]


def test_release_asks_aws_for_alarms_checkpoints_and_bake_time(fleet):
    cw = fleet.emu.client("cloudwatch")
    for name in ("hello-5xx", "hello-p99"):
        cw.put_metric_alarm(AlarmName=name, MetricName="HTTPCode_Target_5XX_Count",
                            Namespace="AWS/ApplicationELB", Statistic="Sum", Period=60,
                            EvaluationPeriods=1, Threshold=1,
                            ComparisonOperator="GreaterThanOrEqualToThreshold")
    app = fleet.root / "apps/hello/app.yaml"
    text = app.read_text()
    start = text.index("rollout:")
    end = text.index("drift:")
    app.write_text(text[:start] + GATES + "\n" + text[end:])
    from kiln_cli import git
    git(fleet.root, "commit", "-qam", "gates")
    assert fleet.apply().returncode == 0

    fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    prefs = latest_refresh(fleet)["Preferences"]
    assert prefs["AlarmSpecification"]["Alarms"] == ["hello-5xx", "hello-p99"]
    # AWS replaces only up to the last checkpoint: Kiln closes the list with
    # 100 so that the release reaches the whole group.
    assert prefs["CheckpointPercentages"] == [10, 50, 100]
    assert prefs["CheckpointDelay"] == 1
    assert prefs["BakeTime"] == 2
    assert prefs["AutoRollback"] is True
    # The release, as kiln plan derives it from the group's refresh.
    rc, doc = fleet.plan()
    release = doc["apps"][0]["release"]
    assert rc == 0, doc
    assert release["state"] == "healthy", release
    assert release["launch_template_version"] == int(fleet.group()["LaunchTemplate"]["Version"])
    # A group in sync costs no refresh lookup, so no refresh is named.
    assert release["refresh_id"] is None
    assert release["percent"] == 100 and release["cause"] is None


def test_rollout_gates_are_validated_with_file_and_line(fleet):
    app = fleet.root / "apps/hello/app.yaml"
    text = app.read_text()
    start = text.index("rollout:")
    end = text.index("drift:")
    app.write_text(text[:start] + "rollout:\n  checkpoints: [50, 10]\n"
                   "  bakeTimeSeconds: 999999\n\n" + text[end:])
    r = run_kiln("validate", fleet.root)
    assert r.returncode == 1
    out = r.stdout + r.stderr
    assert "apps/hello/app.yaml:" in out
    assert "rollout.checkpoints[1]: 10 must be greater than the checkpoint before it" in out
    assert "rollout.bakeTimeSeconds: 999999 is out of range (0 to 172800)" in out


def test_alarms_without_auto_rollback_are_valid_but_warned_about(fleet):
    """AWS takes alarms without AutoRollback (an alarm then only stops the
    refresh), so Kiln does too, and says so with the file and line."""
    import json
    app = fleet.root / "apps/hello/app.yaml"
    text = app.read_text()
    start, end = text.index("rollout:"), text.index("drift:")
    app.write_text(text[:start] + "rollout:\n  autoRollback: false\n"
                   "  alarms: [hello-5xx]\n\n" + text[end:])
    r = run_kiln("validate", fleet.root)
    assert r.returncode == 0, r.stdout + r.stderr
    line = text[:start].count("\n") + 2
    assert (f"apps/hello/app.yaml:{line}:17: warning: rollout: alarms without "
            "autoRollback: true") in r.stdout, r.stdout
    assert ": valid (1 app)" in r.stdout, r.stdout
    doc = json.loads(run_kiln("validate", "--format", "json", fleet.root).stdout)
    assert doc["valid"] and doc["errors"] == [], doc
    assert [(w["line"], w["app"]) for w in doc["warnings"]] == [(line, "hello")], doc
