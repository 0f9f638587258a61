"""Fleets of N converged apps in tests/awsemu, for the benchmarks.

A fleet is a git repository of N apps that share one image recipe (so one
bake serves them all, as content addressing promises) with empty groups
(desired 0), applied with `kiln apply --wait` against a fresh emulator.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from awsemu.testing import AwsEmu  # noqa: E402

APP = """apiVersion: kiln.dev/v1
kind: App
name: {name}
version: "1.0.0"
image:
  parent: ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
  components:
    - arn: arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x
launchTemplate:
  instanceType: t3.micro
  securityGroups: [{sg}]
  blockDevices:
    - {{device: /dev/xvda, sizeGiB: 8}}
autoscaling:
  subnets: [{subnets}]
  min: 0
  max: 2
  desired: 0
"""

DEFAULTS = """apiVersion: kiln.dev/v1
kind: Defaults
region: us-east-1
image:
  build: {instanceProfile: kiln-image-builder, instanceTypes: [t3.small]}
"""


def kiln_bin():
    return os.environ.get("KILN_BIN", str(ROOT / "build" / "controller" / "kiln"))


def git(root, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


class Fleet:
    def __init__(self, n, bake_seconds=0.5):
        self.n = n
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix=f"kiln-bench-{n}-"))
        self.emu = AwsEmu(bake_seconds=bake_seconds, refresh_batch_seconds=0.2)
        ec2 = self.emu.client("ec2")
        subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
        sg = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
        self.repo = self.dir / "repo"
        (self.repo / "apps").mkdir(parents=True)
        (self.repo / "kiln.yaml").write_text(DEFAULTS)
        for i in range(n):
            name = f"app-{i:04d}"
            (self.repo / "apps" / name).mkdir()
            (self.repo / "apps" / name / "app.yaml").write_text(
                APP.format(name=name, sg=sg, subnets=", ".join(subnets)))
        git(self.repo, "init", "-q", "-b", "main")
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-qm", f"{n} apps")
        self.env = {**os.environ, **self.emu.env, "KILN_CACHE_DIR": str(self.dir / "cache"),
                    "AWS_EC2_METADATA_DISABLED": "true"}

    def kiln(self, *args, extra_env=None, timeout=1800):
        env = {**self.env, **(extra_env or {})}
        return subprocess.run([kiln_bin(), *map(str, args)], env=env, capture_output=True,
                              text=True, timeout=timeout)

    def converge(self):
        # Setting up 1000 apps is not what is measured: lift Kiln's own
        # request pacing so the setup takes seconds, not AWS's write rate.
        r = self.kiln("apply", "--repo", self.repo, "--wait", "--timeout", "30m",
                      "--interval", "500ms", extra_env={"KILN_AWS_RATE_LIMIT": "off"})
        if r.returncode != 0:
            raise RuntimeError(f"apply of {self.n} apps failed:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")

    def close(self):
        self.emu.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
