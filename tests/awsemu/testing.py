"""Helpers for driving tests/awsemu from Python tests: start it as a
subprocess on a free port, make boto3 clients for it, drive its admin API
(faults, request accounting), wait for conditions with a deadline, act in
other accounts (account_session, make_deploy_role).
"""

import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "run")
START_TIMEOUT_S = 30
REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"  # the account of the plain "testing" keys
ORG_ROLE = "OrganizationAccountAccessRole"


def wait_until(predicate, timeout=15.0, interval=0.02, what="condition"):
    """Polls predicate() until it returns something truthy and returns that;
    fails with the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


class AwsEmu:
    """A running emulator: its endpoint, a client factory, and its admin
    API (faults, request accounting)."""

    def __init__(self, bake_seconds=1.0, refresh_batch_seconds=0.5, extra_args=(),
                 time_scale=None, boot_seconds=None, copy_seconds=None):
        """refresh_batch_seconds=None: refreshes follow AWS's timing (warmup,
        health), scaled by time_scale (AWS seconds per emulator second).
        boot_seconds: AWS seconds an instance a group launches stays Pending
        (scaled too; the emulator's default is 0). copy_seconds: emulator
        seconds a CopyImage stays pending (default: 5 AWS seconds, scaled)."""
        self.bake_seconds = bake_seconds
        self.copy_seconds = copy_seconds
        self.refresh_batch_seconds = refresh_batch_seconds
        self.time_scale = time_scale
        self.boot_seconds = boot_seconds
        self._stderr = tempfile.TemporaryFile()
        started = time.monotonic()
        args = ["--port", "0"]
        if bake_seconds is not None:
            args += ["--bake-seconds", str(bake_seconds)]
        if refresh_batch_seconds is not None:
            args += ["--refresh-batch-seconds", str(refresh_batch_seconds)]
        if time_scale is not None:
            args += ["--time-scale", str(time_scale)]
        if boot_seconds is not None:
            args += ["--boot-seconds", str(boot_seconds)]
        if copy_seconds is not None:
            args += ["--copy-seconds", str(copy_seconds)]
        self.proc = subprocess.Popen(
            [sys.executable, RUN, *args, *extra_args],
            stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        line = self._read_line(START_TIMEOUT_S)
        m = re.search(r"awsemu ready on http://127\.0\.0\.1:(\d+)", line or "")
        if not m:
            self.stop()
            raise RuntimeError(f"awsemu did not start: {line!r}\n{self.stderr()}")
        self.startup_s = time.monotonic() - started
        self.port = int(m.group(1))
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.stopped_line = None

    def _pump(self):
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _read_line(self, timeout):
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def stderr(self):
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    @property
    def env(self):
        """Environment for a subprocess (the kiln binary) to use the emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service, max_attempts=1, region=REGION, **config):
        """A boto3 client for `service`. max_attempts counts every attempt,
        so the default 1 means no retries: every call is exactly one request
        (counts are exact, faults are visible). Extra keyword arguments go to
        botocore's Config (e.g. parameter_validation=False)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=region,
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": max_attempts, "mode": "standard"},
                          **config))

    # ---- admin API
    def _admin(self, method, path, body=None):
        import requests

        r = requests.request(method, f"{self.endpoint}/_awsemu/{path}", json=body, timeout=10)
        if r.status_code != 200:
            raise RuntimeError(f"awsemu admin {method} {path}: {r.status_code} {r.text}")
        return r.json()

    def faults(self, *specs):
        """Adds fault rules, e.g. faults({"service": "ec2", "action": "*",
        "kind": "throttle", "rate": 1.0, "count": 2})."""
        return self._admin("POST", "faults", {"faults": list(specs)})["faults"]

    def clear_faults(self):
        self._admin("DELETE", "faults")

    def requests(self, account=None):
        """{"counts": {"ec2:DescribeImages": n, ...}, "log": [...]}: every
        request, or only those of one account (the caller's, as its
        credentials say)."""
        return self._admin("GET", "requests" + (f"?account={account}" if account else ""))

    def counts(self, account=None):
        return self.requests(account)["counts"]

    def reset_requests(self):
        self._admin("POST", "requests/reset")

    def build_fleet(self, doc, timeout=600):
        """POST /_awsemu/fleet (tests/awsemu/fleet.py): builds the apps and
        foreign resources `doc` describes in the emulator's state; returns
        the counts of what was made."""
        import requests

        r = requests.post(f"{self.endpoint}/_awsemu/fleet", json=doc, timeout=timeout)
        if r.status_code != 200:
            raise RuntimeError(f"awsemu fleet: {r.status_code} {r.text}")
        return r.json()

    def stop(self, timeout=10):
        """SIGTERM, then wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        line = self._read_line(2)
        while line is not None and self.stopped_line is None:
            if "stopped" in line:
                self.stopped_line = line
            line = self._read_line(2)
        return self.proc.returncode


# ---------------------------------------------------------------- accounts

def account_session(endpoint, account_id, region=REGION, session_name="awsemu-test"):
    """A boto3 Session acting in `account_id`: the credentials of its
    OrganizationAccountAccessRole, assumed with the default account's keys
    (every account has that role in the emulator). Its clients still need
    endpoint_url=endpoint."""
    import boto3

    sts = boto3.client("sts", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{ORG_ROLE}",
                            RoleSessionName=session_name)["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=region)


def make_deploy_role(endpoint, account_id, name, external_id=None,
                     trusted_account=DEFAULT_ACCOUNT):
    """Creates role `name` in `account_id` (through its
    OrganizationAccountAccessRole) that `trusted_account` may assume, with
    ExternalId `external_id` when it is not None (a StringEquals condition
    on sts:ExternalId, as AWS recommends for third parties). Returns its
    ARN."""
    statement = {"Effect": "Allow",
                 "Principal": {"AWS": f"arn:aws:iam::{trusted_account}:root"},
                 "Action": "sts:AssumeRole"}
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    iam = account_session(endpoint, account_id).client("iam", endpoint_url=endpoint)
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [statement]}))["Role"]
    return role["Arn"]
