"""autoscaling.targetGroups, healthCheckType and
healthCheckGracePeriodSeconds: set from git on the group, a change made by
hand reported as out-of-band drift and corrected (kept with drift: report).
Judged through boto3 against the emulator's (moto's) ELBv2 and Auto
Scaling."""
from kiln_cli import git
from test_apply import fleet  # noqa: F401  (fixture)


def target_group(fleet, name):
    ec2 = fleet.emu.client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    elb = fleet.emu.client("elbv2")
    return elb.create_target_group(Name=name, Protocol="HTTP", Port=8080,
                                   VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]


def with_health(fleet, arn, extra=""):
    p = fleet.root / "apps/hello/app.yaml"
    text = p.read_text()
    text = text.replace("  desired: 1\n",
                        f"  desired: 1\n  targetGroups: [{arn}]\n  healthCheckType: ELB\n"
                        "  healthCheckGracePeriodSeconds: 120\n", 1)
    p.write_text(text + extra)
    git(fleet.root, "commit", "-qam", "health checks")


def health(fleet):
    g = fleet.group()
    return sorted(g.get("TargetGroupARNs", [])), g["HealthCheckType"], g["HealthCheckGracePeriod"]


def drift_of(fleet):
    rc, doc = fleet.plan()
    return rc, {d["field"]: d["cause"] for d in doc["apps"][0]["drift"]}


def change_by_hand(fleet, a, b):
    fleet.asg.detach_load_balancer_target_groups(AutoScalingGroupName="hello",
                                                 TargetGroupARNs=[a])
    fleet.asg.attach_load_balancer_target_groups(AutoScalingGroupName="hello",
                                                 TargetGroupARNs=[b])
    fleet.asg.update_auto_scaling_group(AutoScalingGroupName="hello", HealthCheckType="EC2",
                                        HealthCheckGracePeriod=0)


def test_health_checks_set_from_git_and_corrected(fleet):
    a, b = target_group(fleet, "hello-a"), target_group(fleet, "hello-b")
    with_health(fleet, a)
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    assert health(fleet) == ([a], "ELB", 120)
    assert drift_of(fleet) == (0, {})

    change_by_hand(fleet, a, b)
    rc, drift = drift_of(fleet)
    assert rc == 2
    assert drift == {"autoscaling.targetGroups": "out-of-band",
                     "autoscaling.healthCheckType": "out-of-band",
                     "autoscaling.healthCheckGracePeriodSeconds": "out-of-band"}, drift
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    assert health(fleet) == ([a], "ELB", 120)

    # A change in git is git's: the new target group replaces the old one.
    fleet.edit(f"targetGroups: [{a}]", f"targetGroups: [{b}]", message="swap")
    assert drift_of(fleet)[1] == {"autoscaling.targetGroups": "commit"}
    assert fleet.apply().returncode == 0
    assert health(fleet) == ([b], "ELB", 120)


def test_health_checks_kept_with_drift_report(fleet):
    a, b = target_group(fleet, "hello-a"), target_group(fleet, "hello-b")
    with_health(fleet, a)
    assert fleet.apply().returncode == 0
    fleet.edit("drift: correct", "drift: report", message="report only")
    assert fleet.apply().returncode == 0
    change_by_hand(fleet, a, b)
    r = fleet.apply()
    assert r.returncode == 0, r.stdout + r.stderr
    assert health(fleet) == ([b], "EC2", 0)
    assert "autoscaling.targetGroups" in drift_of(fleet)[1]


def test_target_groups_left_alone_when_omitted(fleet):
    assert fleet.apply().returncode == 0
    a = target_group(fleet, "someone-elses")
    fleet.asg.attach_load_balancer_target_groups(AutoScalingGroupName="hello",
                                                 TargetGroupARNs=[a])
    assert drift_of(fleet) == (0, {})
    assert fleet.apply().returncode == 0
    assert health(fleet)[0] == [a]
