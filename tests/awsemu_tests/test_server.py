"""The emulator process: start-up time, one endpoint, loopback only, clean
stop on SIGTERM."""

import os
import subprocess
import sys

from awsemu.testing import RUN, AwsEmu


def listening_addresses(port):
    """Local addresses with a listening TCP socket on `port` (from /proc)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                addr, hexport = fields[1].rsplit(":", 1)
                if int(hexport, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                    found.append(addr)
    return found


def test_starts_fast_serves_every_service_and_stops_on_sigterm():
    emu = AwsEmu()
    try:
        # Measured from process start to the ready line: interpreter, moto
        # import and backend warm-up included.
        assert emu.startup_s < 5.0, emu.startup_s
        assert listening_addresses(emu.port) == ["0100007F"]  # 127.0.0.1 only
        # One endpoint, every service, routed by the credential scope.
        assert emu.client("sts").get_caller_identity()["Account"] == "123456789012"
        emu.client("ec2").describe_instances()
        emu.client("autoscaling").describe_auto_scaling_groups()
        emu.client("ssm").get_parameters(Names=["/x"])
        emu.client("imagebuilder").list_images()
        assert set(emu.counts()) == {"sts:GetCallerIdentity", "ec2:DescribeInstances",
                                     "autoscaling:DescribeAutoScalingGroups",
                                     "ssm:GetParameters", "imagebuilder:ListImages"}
    finally:
        rc = emu.stop()
    assert rc == 0
    assert emu.stopped_line == "awsemu stopped"
    assert listening_addresses(emu.port) == []


def test_env_is_enough_for_a_subprocess(awsemu):
    code = ("import boto3; print(boto3.client('sts').get_caller_identity()['Account'])")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    out = subprocess.run([sys.executable, "-c", code], env={**env, **awsemu.env},
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "123456789012"


def test_rejects_bad_arguments():
    out = subprocess.run([sys.executable, RUN], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--port" in out.stderr
