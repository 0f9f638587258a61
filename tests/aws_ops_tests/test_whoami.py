"""kiln whoami against the emulator's STS."""

import json
import os
import subprocess

from .ops import ROOT

KILN = os.environ.get("KILN_BIN", os.path.join(ROOT, "build", "controller", "kiln"))
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


def whoami(emu, *args, env=None, unset=()):
    full = {**os.environ, **emu.env, "AWS_SECRET_ACCESS_KEY": SECRET, **(env or {})}
    for name in unset:
        full.pop(name, None)
    p = subprocess.run([KILN, "whoami", *args], env=full, capture_output=True, text=True,
                       timeout=60)
    assert SECRET not in p.stdout + p.stderr
    return p


def test_whoami_text(awsemu):
    p = whoami(awsemu)
    assert p.returncode == 0, p.stderr
    ident = awsemu.client("sts").get_caller_identity()
    assert f"account:      {ident['Account']}" in p.stdout
    assert f"arn:          {ident['Arn']}" in p.stdout
    assert "credentials:  env" in p.stdout
    assert "region:       us-east-1 (from AWS_REGION)" in p.stdout
    for service in ("ec2", "autoscaling", "imagebuilder", "ssm", "sts"):
        assert f"{service} " in p.stdout
    assert p.stdout.count(awsemu.endpoint) == 5


def test_whoami_json_and_service_endpoint_override(awsemu):
    p = whoami(awsemu, "--format", "json",
               env={"AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:9/ssm"})
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    ident = awsemu.client("sts").get_caller_identity()
    assert (doc["account"], doc["arn"]) == (ident["Account"], ident["Arn"])
    assert doc["credentials"] == "env" and doc["region"] == "us-east-1"
    assert doc["error"] is None
    assert doc["endpoints"]["ec2"]["url"] == awsemu.endpoint
    assert doc["endpoints"]["ssm"] == {"url": "http://127.0.0.1:9/ssm", "signing_name": "ssm",
                                       "signing_region": "us-east-1",
                                       "source": "AWS_ENDPOINT_URL_SSM"}
    assert "testing" not in doc["access_key"] or "…" in doc["access_key"]


def test_whoami_fails_clearly_without_credentials(awsemu, tmp_path):
    p = whoami(awsemu, env={"HOME": str(tmp_path),
                            "AWS_CONFIG_FILE": str(tmp_path / "c"),
                            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "c")},
               unset=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"))
    assert p.returncode == 1
    assert "kiln whoami:" in p.stderr and "credentials" in p.stderr.lower()


def test_whoami_reports_sts_refusal(awsemu):
    awsemu.faults({"service": "sts", "action": "GetCallerIdentity", "kind": "throttle"})
    p = whoami(awsemu, "--format", "json", env={"AWS_MAX_ATTEMPTS": "1"})
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["account"] is None and "Throttling" in doc["error"]


def test_whoami_usage(awsemu):
    p = whoami(awsemu, "--help")
    assert p.returncode == 0 and p.stdout.startswith("Usage: kiln whoami")
    assert whoami(awsemu, "--format", "yaml").returncode == 64
    assert whoami(awsemu, "extra").returncode == 64


def test_whoami_with_shared_files_switched_off_by_dev_null(awsemu, tmp_path):
    """AWS_CONFIG_FILE=/dev/null and AWS_SHARED_CREDENTIALS_FILE=/dev/null, as
    botocore and the AWS CLI read them: empty files; credentials and region
    come from the environment."""
    env = {"HOME": str(tmp_path), "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    p = whoami(awsemu, env=env, unset=("AWS_PROFILE",))
    assert p.returncode == 0, p.stderr
    assert "/dev/null" not in p.stderr
    ident = awsemu.client("sts").get_caller_identity()
    assert f"account:      {ident['Account']}" in p.stdout
    assert "credentials:  env" in p.stdout
    # A FIFO (a secret handed over by a secrets manager) is read too.
    fifo = tmp_path / "config"
    os.mkfifo(fifo)
    full = {**os.environ, **awsemu.env, "AWS_SECRET_ACCESS_KEY": SECRET, **env,
            "AWS_CONFIG_FILE": str(fifo)}
    full.pop("AWS_REGION", None)
    full.pop("AWS_DEFAULT_REGION", None)
    proc = subprocess.Popen([KILN, "whoami"], env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    with open(fifo, "w") as f:
        f.write("[default]\nregion = eu-west-3\n")
    out, err = proc.communicate(timeout=60)
    assert "region:       eu-west-3" in out, err
