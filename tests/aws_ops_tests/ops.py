"""Runs kiln-aws-ops (the typed AWS operations through Kiln's client)
against the emulator and returns its JSON answer."""

import json
import os
import subprocess
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("KILN_BUILD_DIR", os.path.join(ROOT, "build"))
DRIVER = os.path.join(BUILD, "tests", "aws_ops_tests", "kiln-aws-ops")
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def run(emu, op, req=None, env=None, expect_ok=True, timeout=60, unset=(),
        capture=None):
    """One operation; returns the driver's JSON. expect_ok True: the call
    must succeed, False: it must fail, None: either."""
    full = {**os.environ, **emu.env, **(env or {})}
    for name in unset:
        full.pop(name, None)
    p = subprocess.run([DRIVER, op], input=json.dumps(req or {}), env=full,
                       capture_output=True, text=True, timeout=timeout)
    if capture is not None:
        capture.append(p)
    assert p.returncode in (0, 1), f"{op}: exit {p.returncode}\n{p.stderr}"
    out = json.loads(p.stdout)
    if expect_ok is None:
        return out
    if expect_ok:
        assert out["ok"], f"{op}: {out.get('message')}\n{p.stderr}"
        assert p.returncode == 0
    else:
        assert not out["ok"] and p.returncode == 1, out
    return out


def result(emu, op, req=None, **kw):
    return run(emu, op, req, **kw)["result"]


def tags(boto_tags):
    """boto3's [{"Key", "Value"}] as a dict."""
    return {t["Key"]: t["Value"] for t in boto_tags or []}


def public_ami(emu):
    return emu.client("ssm").get_parameters(Names=[AL2023])["Parameters"][0]["Value"]
