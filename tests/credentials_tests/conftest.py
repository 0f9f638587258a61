"""Fixtures for the credential provider tests: small real HTTP servers on
127.0.0.1 playing IMDSv2, the container credentials endpoint and STS, and
a runner for build/tests/credentials_tests/kiln-creds-probe with a clean
environment (no AWS_* variable leaks in from the machine running the
tests, HOME is a temporary directory).
"""

import json
import os
import pathlib
import subprocess

import pytest

from creds_servers import ContainerServer, ImdsServer, StsServer

REPO = pathlib.Path(__file__).resolve().parents[2]


def build_dir():
    if os.environ.get("KILN_BUILD_DIR"):
        return pathlib.Path(os.environ["KILN_BUILD_DIR"])
    if os.environ.get("KILN_BIN"):
        # KILN_BIN is BUILD/controller/kiln.
        return pathlib.Path(os.environ["KILN_BIN"]).resolve().parents[1]
    return REPO / "build"


class Probe:
    def __init__(self, home):
        self.path = build_dir() / "tests" / "credentials_tests" / "kiln-creds-probe"
        if not self.path.exists():
            pytest.fail(f"{self.path} is missing: run scripts/build build first")
        self.home = home

    def env(self, extra):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home)}
        # Tests must never reach a real metadata service.
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)  # None unsets a default
            else:
                env[k] = str(v)
        return env

    def run(self, *steps, env=None, provider=None, now=None, check=True, retry_base_ms=1):
        argv = [str(self.path), "--retry-base-ms", str(retry_base_ms)]
        if provider:
            argv += ["--provider", provider]
        if now is not None:
            argv += ["--now", str(now)]
        argv += [str(s) for s in steps]
        proc = subprocess.run(
            argv, env=self.env(env or {}), capture_output=True, text=True, timeout=60
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{argv} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def lines(self, *steps, **kwargs):
        out = self.run(*steps, **kwargs).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def get(self, **kwargs):
        (line,) = self.lines("get", **kwargs)
        return line


@pytest.fixture
def probe(tmp_path):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    return Probe(home)


@pytest.fixture
def imds():
    server = ImdsServer()
    yield server
    server.stop()


@pytest.fixture
def container():
    server = ContainerServer()
    yield server
    server.stop()


@pytest.fixture
def sts():
    server = StsServer()
    yield server
    server.stop()
