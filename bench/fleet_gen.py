"""A realistic fleet of N apps for Kiln's benchmarks (issue 19), built in a
running tests/awsemu as Kiln itself would have left it.

bench/fleet.py's fleet flatters Kiln: every app bakes the same image, the
groups are empty, nothing has a past and nothing else lives in the
account. This one is what a team running Kiln for a while has:

- a git repository of N apps (kiln.yaml Defaults with tags, and
  apps/<name>/app.yaml), each at its own version, so each has its own
  image digest; their image parents spread over five SSM parameters
  (ssm:/kiln-bench/parent-0 … -4, made in the emulator's SSM, each naming
  another AMI of moto's catalogue); every app holds the same shared
  component document, the same host-setup component and the same
  user data (a copy per app, as the spec wants files in the app's
  directory; git stores them once);
- H+1 commits: each one moves every app to a new version; the first is
  H releases old, the last is the current release;
- per app and release, what Kiln leaves: the AMI Image Builder baked
  (named and tagged as the emulator's Image Builder does, with its EBS
  snapshot) tagged by Kiln (kiln:app, kiln:commit, kiln:digest and
  kiln.yaml's tags), and a launch template version described
  `kiln commit=<40 hex> digest=<64 hex>` (H+1 versions, the last the
  default, the template tagged kiln:version and kiln:commit);
- per app an Auto Scaling group of 1–2 InService instances on the current
  version, tagged as Kiln tags it, with the Successful instance refreshes
  of its past releases;
- 5 % of the apps (one in twenty) mid-release: their current commit also
  adds a checkpoint at 50 % with a one-hour delay to their rollout, and the
  refresh Kiln started is waiting at that checkpoint (one instance on the
  new version, one on the old) for the rest of the hour;
- optionally (--foreign) in the same account and region, 500 launch
  templates and 2,000 AMIs (with snapshots) that are not Kiln's: other
  names, no kiln: tags.

Each app's digest is Kiln's own: `kiln plan --format json` of each commit
against the emulator before anything is built (or, with
made_up_past_digests, only for the current commit, the past ones being
made-up 64-hex strings: faster at large N and H, and nothing reads a past
digest except against its own AMI and template version, which agree).
A larger fleet's digests are planned in shards of 5,000 apps
(repositories of some of its apps; a digest depends on the app's own
inputs): the plans' memory stays small.

The state is built by the emulator itself (POST /_awsemu/fleet,
tests/awsemu/fleet.py): through boto3 at ~10 ms a request, 10,000 apps
would take hours. tests/e2e/test_bench_fleet.py checks, at a small N, that
what it builds looks to an observer like what `kiln apply` builds.

Not made: Image Builder's own resources (components, recipes,
infrastructure configurations, images) behind the AMIs, the instances the
past refreshes terminated, and their scaling activities.

    python3 bench/fleet_gen.py N H [--foreign] [--made-up-past-digests] [--serve]
"""
import argparse
import base64
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from awsemu.testing import AwsEmu  # noqa: E402

PARENTS = 5
PARENT_PARAMETER = "/kiln-bench/parent-{}"
ROLLING_EVERY = 20                     # one app in twenty is mid-release
CHECKPOINT_DELAY_S = 3600
RELEASE_INTERVAL_S = 86400             # a release a day, going back H days
INSTANCE_TYPES = ("t3.micro", "t3.small", "m6i.large", "c6i.large")
TEAMS = ("checkout", "search", "payments", "identity", "catalog", "shipping", "ads",
         "reviews")
# kiln.yaml's tags, in the order Kiln applies them (by key).
DEFAULT_TAGS = {"CostCenter": "1234", "Owner": "platform"}
FOREIGN_TEMPLATES = 500
FOREIGN_IMAGES = 2000
# The most apps Kiln reads from one repository (KILN_SPEC_MAX_APPS).
PLAN_MAX_APPS = 5000
# Releases per POST: each request holds the emulator's lock while it builds.
RELEASES_PER_CHUNK = 4000

DEFAULTS = """apiVersion: kiln.dev/v1
kind: Defaults
region: us-east-1
tags:
  Owner: platform
  CostCenter: "1234"
image:
  build: {instanceProfile: kiln-image-builder, instanceTypes: [t3.small]}
"""

APP = """apiVersion: kiln.dev/v1
kind: App
name: {name}
version: "{version}"
image:
  parent: ssm:{parent}
  components:
    - file: components/app.yaml
      parameters:
        ArtifactUrl: "https://artifacts.example.com/{name}/{name}-${{version}}.jar"
        Version: "${{version}}"
    - file: components/setup.yaml
    - arn: arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x
launchTemplate:
  instanceType: {instance_type}
  userData: userdata.sh
  securityGroups: [{sg}]
  instanceProfile: {name}-app
  blockDevices:
    - {{device: /dev/xvda, sizeGiB: 8, type: gp3, encrypted: true}}
  tags:
    Application: {name}
    Team: {team}
autoscaling:
  subnets: [{subnets}]
  min: 0
  max: 3
  desired: {desired}
rollout:
  minHealthyPercent: 100
  maxHealthyPercent: 200
  warmupSeconds: 120
  skipMatching: true
  autoRollback: true
{checkpoints}"""

CHECKPOINTS = """  checkpoints: [50]
  checkpointDelaySeconds: {delay}
"""

SETUP_COMPONENT = """name: host-setup
description: Host setup every team's image shares.
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Motd
        action: ExecuteBash
        inputs:
          commands:
            - echo "built by kiln" > /etc/motd
      - name: Chrony
        action: ExecuteBash
        inputs:
          commands:
            - dnf install -y chrony
            - systemctl enable chronyd
"""

USER_DATA = """#!/bin/bash
# Everything is baked into the AMI; boot only starts the service.
set -euo pipefail
systemctl start app.service
"""


def kiln_bin():
    return os.environ.get("KILN_BIN", str(ROOT / "build" / "controller" / "kiln"))


def git(root, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


class App:
    """One app of the fleet: its place (index) decides its settings."""

    def __init__(self, i, subnets, sg, rolling):
        self.i = i
        self.name = f"app-{i:05d}"
        self.parent = i % PARENTS
        self.instance_type = INSTANCE_TYPES[i % len(INSTANCE_TYPES)]
        self.team = TEAMS[i % len(TEAMS)]
        self.rolling = rolling
        # A checkpoint at 50 % needs two instances to stop half-way.
        self.desired = 2 if rolling or i % 3 == 0 else 1
        # Groups start in different subnets: moto puts a group's instances
        # in its first subnet, and a /20 holds 4,091.
        start = i % len(subnets)
        self.subnets = [subnets[start], subnets[(start + 1) % len(subnets)]]
        self.sg = sg

    def version(self, release):
        return f"2.{release}.{self.i}"

    def checkpointed(self, release, last):
        """Whether its rollout has the checkpoint at `release`: the
        rolling-out apps add it with their current release."""
        return self.rolling and release == last

    def yaml(self, release, last, checkpoint_delay):
        return APP.format(
            name=self.name, version=self.version(release),
            parent=PARENT_PARAMETER.format(self.parent), instance_type=self.instance_type,
            sg=self.sg, team=self.team, subnets=", ".join(self.subnets), desired=self.desired,
            checkpoints=(CHECKPOINTS.format(delay=checkpoint_delay)
                         if self.checkpointed(release, last) else ""))

    def tags(self):
        return dict(DEFAULT_TAGS)

    def launch_template_data(self):
        """LaunchTemplateData as Kiln sends it (reconcilers/lt_data.c,
        to_aws_data in execute.c), without the image: instance tags are
        the template's tags, kiln.yaml's where the template has none, and
        kiln:app, sorted by key."""
        instance_tags = {**DEFAULT_TAGS, "Application": self.name, "Team": self.team,
                         "kiln:app": self.name}
        return {
            "InstanceType": self.instance_type,
            "UserData": base64.b64encode(USER_DATA.encode()).decode(),
            "SecurityGroupIds": [self.sg],
            "IamInstanceProfile": {"Name": f"{self.name}-app"},
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
                "Encrypted": True, "DeleteOnTermination": True, "VolumeSize": 8,
                "VolumeType": "gp3"}}],
            "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                                "HttpEndpoint": "enabled"},
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [
                {"Key": k, "Value": instance_tags[k]} for k in sorted(instance_tags)]}],
        }

    def refresh_preferences(self, release, last, checkpoint_delay):
        """StartInstanceRefresh's Preferences as Kiln sends them for this
        release (refresh_preferences in execute.c: 100 closes the
        checkpoints)."""
        prefs = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200,
                 "InstanceWarmup": 120, "SkipMatching": True, "AutoRollback": True}
        if self.checkpointed(release, last):
            prefs["CheckpointPercentages"] = [50, 100]
            prefs["CheckpointDelay"] = checkpoint_delay
        return prefs


class Stream:
    """A git fast-import stream: blobs (each content once) and commits on
    main, each on the one before."""

    def __init__(self):
        self.parts, self.marks = [], {}

    def blob(self, data):
        mark = self.marks.get(data)
        if mark is None:
            mark = self.marks[data] = len(self.marks) + 1
            self.parts += [b"blob\nmark :%d\ndata %d\n" % (mark, len(data)), data, b"\n"]
        return mark

    def commit(self, message, when, files):
        who = b"bench <bench@example.com> %d +0000" % int(when)
        message = message.encode()
        self.parts += [b"commit refs/heads/main\nauthor %s\ncommitter %s\ndata %d\n"
                       % (who, who, len(message)), message, b"\n"]
        # Without `from`, a commit follows the branch's last one.
        self.parts += [b"M 100644 :%d %s\n" % (mark, path.encode()) for path, mark in files]
        self.parts.append(b"\n")

    def bytes(self):
        return b"".join(self.parts)


def made_up_digest(name, release):
    return hashlib.sha256(f"kiln-bench {name} {release}".encode()).hexdigest()


class GeneratedFleet:
    """A fleet of n apps with `history` past releases each, in a running
    emulator (its own, unless `emu` is given). Same interface as
    bench/fleet.py's Fleet (n, dir, emu, repo, env, kiln, close), plus what
    was built and how long it took (`timings`, `counts`)."""

    def __init__(self, n, history, emu=None, foreign=False, rolling_every=ROLLING_EVERY,
                 made_up_past_digests=False, checkpoint_delay=CHECKPOINT_DELAY_S,
                 release_interval=RELEASE_INTERVAL_S, rolling=None, build=True):
        """rolling: the indexes of the apps mid-release (default: one in
        `rolling_every`, none when there is no past release to come from).
        build=False: only the SSM parameters and the repository, for Kiln
        itself to apply (tests/e2e/test_bench_fleet.py)."""
        self.n, self.history = n, history
        self.timings, self.counts = {}, {}
        started = time.monotonic()
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix=f"kiln-fleet-{n}-{history}-"))
        self.own_emu = emu is None
        self.emu = emu or AwsEmu(bake_seconds=0.5, refresh_batch_seconds=0.2)
        self.env = {**os.environ, **self.emu.env, "KILN_CACHE_DIR": str(self.dir / "cache"),
                    "AWS_EC2_METADATA_DISABLED": "true"}
        self.checkpoint_delay = checkpoint_delay
        ec2 = self.emu.client("ec2")
        subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets()["Subnets"])
        sg = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
        if rolling is None:
            rolling = {i for i in range(n)
                       if history > 0 and i % rolling_every == rolling_every // 2}
        self.apps = [App(i, subnets, sg, i in rolling) for i in range(n)]
        self.parents = self._parents()
        self.timings["emulator_s"] = time.monotonic() - started

        t = time.monotonic()
        now = time.time()
        self.release_times = [now - (history - k) * release_interval - 60
                              for k in range(history + 1)]
        self.repo = self.dir / "repo"
        self.commits = self._write_repo()
        self.timings["git_s"] = time.monotonic() - t
        if not build:
            return

        t = time.monotonic()
        self.digests = self._digests(made_up_past_digests)
        self.timings["plan_s"] = time.monotonic() - t

        t, cpu = time.monotonic(), self.emulator_cpu_s()
        self.counts = self._build(foreign)
        self.timings["build_s"] = time.monotonic() - t
        # The machine may be busy: the emulator's own CPU time says what
        # the build cost.
        self.timings["build_emulator_cpu_s"] = self.emulator_cpu_s() - cpu
        self.timings["total_s"] = time.monotonic() - started

    def converge(self):
        """Nothing to do: the fleet is built converged (bench/fleet.py's
        Fleet has to apply it)."""

    @property
    def rolling(self):
        return [a.name for a in self.apps if a.rolling]

    # ---- the emulator's SSM parameters

    def _parents(self):
        """Five SSM parameters, each naming another AMI of moto's
        catalogue (Amazon's, x86_64, EBS-backed)."""
        ssm = self.emu.client("ssm")
        images = self.emu.client("ec2").describe_images(Owners=["amazon"], Filters=[
            {"Name": "architecture", "Values": ["x86_64"]},
            {"Name": "root-device-type", "Values": ["ebs"]}])["Images"]
        ids = sorted(i["ImageId"] for i in images)[:PARENTS]
        if len(ids) < PARENTS:
            raise RuntimeError(f"moto's catalogue has {len(ids)} such AMIs, not {PARENTS}")
        for k, ami in enumerate(ids):
            ssm.put_parameter(Name=PARENT_PARAMETER.format(k), Value=ami, Type="String",
                              DataType="aws:ec2:image", Overwrite=True)
        return ids

    # ---- git

    def _write_repo(self, root=None, apps=None):
        """The repository's commits, made by git fast-import (writing and
        committing 40,000 files through a work tree takes minutes); it has
        no work tree: Kiln reads commits only. Returns the commits, oldest
        first. root and apps: another repository of some of the apps."""
        root = root or self.repo
        apps = self.apps if apps is None else apps
        stream = Stream()
        shared = {"components/app.yaml": stream.blob(
                      (ROOT / "seed-repo/apps/hello/components/app.yaml").read_bytes()),
                  "components/setup.yaml": stream.blob(SETUP_COMPONENT.encode()),
                  "userdata.sh": stream.blob(USER_DATA.encode())}
        defaults = stream.blob(DEFAULTS.encode())
        for k in range(self.history + 1):
            files = [("apps/%s/app.yaml" % a.name,
                      stream.blob(a.yaml(k, self.history, self.checkpoint_delay).encode()))
                     for a in apps]
            if k == 0:
                files.append(("kiln.yaml", defaults))
                files += [(f"apps/{a.name}/{path}", mark) for a in apps
                          for path, mark in shared.items()]
            stream.commit(f"release {k}: every app to 2.{k}.x", self.release_times[k], files)
        root.mkdir(parents=True)
        git(root, "init", "-q", "-b", "main")
        subprocess.run(["git", "-C", str(root), "fast-import", "--quiet"],
                       input=stream.bytes(), check=True, capture_output=True)
        return git(root, "rev-list", "--reverse", "main").split()

    # ---- digests, from Kiln

    def kiln(self, *args, extra_env=None, timeout=1800):
        env = {**self.env, **(extra_env or {})}
        return subprocess.run([kiln_bin(), *map(str, args)], env=env, capture_output=True,
                              text=True, timeout=timeout)

    def plan_digests(self, commit, repo=None):
        """{app: digest} as `kiln plan` computes them at `commit`."""
        r = self.kiln("plan", "--repo", repo or self.repo, "--ref", commit, "--format", "json",
                      extra_env={"KILN_AWS_RATE_LIMIT": "off"})
        if r.returncode not in (0, 2):
            raise RuntimeError(f"kiln plan at {commit} failed ({r.returncode}):\n"
                               f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        doc = json.loads(r.stdout)
        out = {a["name"]: a.get("digest") for a in doc["apps"]}
        missing = [name for name, d in out.items() if not d]
        if missing:
            raise RuntimeError(f"kiln plan gave no digest for {missing[:5]}")
        return out

    def _digests(self, made_up_past):
        """Per release (oldest first), {app: digest}. Kiln reads at most
        KILN_SPEC_MAX_APPS apps from a repository: a larger fleet is planned
        in shards, repositories of some of its apps each (an app's digest
        depends on its own inputs only)."""
        shards = [(self.repo, self.commits)]
        if self.n > PLAN_MAX_APPS:
            shards = []
            for first in range(0, self.n, PLAN_MAX_APPS):
                root = self.dir / f"plan-shard-{first}"
                apps = self.apps[first:first + PLAN_MAX_APPS]
                shards.append((root, self._write_repo(root, apps)))
        out = []
        for k in range(self.history + 1):
            if made_up_past and k < self.history:
                out.append({a.name: made_up_digest(a.name, k) for a in self.apps})
                continue
            digests = {}
            for root, commits in shards:
                digests.update(self.plan_digests(commits[k], root))
            out.append(digests)
        return out

    # ---- the emulator's state

    def describe(self, a):
        """The app as POST /_awsemu/fleet takes it."""
        last = self.history
        releases = []
        for k, commit in enumerate(self.commits):
            releases.append({
                "commit": commit, "digest": self.digests[k][a.name],
                "time": self.release_times[k],
                # The first release created the group; each later one
                # refreshed it (it always has instances).
                "preferences": (a.refresh_preferences(k, last, self.checkpoint_delay)
                                if k > 0 else None)})
        return {"name": a.name, "parent": self.parents[a.parent], "tags": a.tags(),
                "launch_template": a.name, "data": a.launch_template_data(),
                "group": {"name": a.name, "min": 0, "max": 3, "desired": a.desired,
                          "subnets": a.subnets},
                "releases": releases, "rolling_out": a.rolling}

    def _build(self, foreign):
        counts = {}
        per_chunk = max(1, RELEASES_PER_CHUNK // (self.history + 1))
        for first in range(0, self.n, per_chunk):
            chunk = self.apps[first:first + per_chunk]
            _add(counts, self.emu.build_fleet({"apps": [self.describe(a) for a in chunk]}))
        if foreign:
            _add(counts, self.emu.build_fleet({"foreign": self._foreign()}))
        counts.pop("seconds", None)
        return counts

    def _foreign(self):
        """Resources of other teams and tools: their own names and tags."""
        images, templates = [], []
        for i in range(FOREIGN_IMAGES):
            team = TEAMS[i % len(TEAMS)]
            images.append({"name": f"{team}-golden-al2023-{i:04d}",
                           "description": f"{team} golden image",
                           "parent": self.parents[i % PARENTS],
                           "tags": {"Name": f"{team}-golden-{i:04d}", "team": team,
                                    "os": "al2023"},
                           "time": time.time() - (i % 400) * 86400})
        for i in range(FOREIGN_TEMPLATES):
            team = TEAMS[i % len(TEAMS)]
            templates.append({"name": f"{team}-worker-{i:03d}",
                              "data": {"ImageId": self.parents[i % PARENTS],
                                       "InstanceType": INSTANCE_TYPES[i % len(INSTANCE_TYPES)]},
                              "tags": {"Name": f"{team}-worker-{i:03d}", "team": team},
                              "versions": 1 + i % 3})
        return {"images": images, "launch_templates": templates}

    def emulator_cpu_s(self):
        """CPU seconds (user + system) the emulator process has used."""
        stat = pathlib.Path(f"/proc/{self.emu.proc.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def emulator_rss_mib(self):
        """(current, peak) resident memory of the emulator process, MiB."""
        status = pathlib.Path(f"/proc/{self.emu.proc.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)

    def close(self):
        if self.own_emu:
            self.emu.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _add(total, counts):
    for k, v in counts.items():
        total[k] = total.get(k, 0) + v


def main(argv=None):
    p = argparse.ArgumentParser(description="Builds a realistic fleet in a fresh tests/awsemu.")
    p.add_argument("n", type=int, help="apps")
    p.add_argument("history", type=int, help="past releases per app")
    p.add_argument("--foreign", action="store_true",
                   help=f"add {FOREIGN_TEMPLATES} launch templates and {FOREIGN_IMAGES} AMIs "
                        "that are not Kiln's")
    p.add_argument("--made-up-past-digests", action="store_true",
                   help="plan only the current commit; past digests are made up")
    p.add_argument("--serve", action="store_true",
                   help="keep the emulator running (print its environment) until Ctrl-C")
    args = p.parse_args(argv)
    fleet = GeneratedFleet(args.n, args.history, foreign=args.foreign,
                           made_up_past_digests=args.made_up_past_digests)
    try:
        rss, peak = fleet.emulator_rss_mib()
        print(json.dumps({"n": args.n, "history": args.history, "foreign": args.foreign,
                          "rolling": len(fleet.rolling),
                          "timings": {k: round(v, 2) for k, v in fleet.timings.items()},
                          "counts": fleet.counts, "emulator_rss_mib": round(rss, 1),
                          "emulator_peak_rss_mib": round(peak, 1)}), flush=True)
        if args.serve:
            print(f"repo: {fleet.repo}")
            for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                      "AWS_REGION", "KILN_CACHE_DIR"):
                print(f"export {k}={fleet.env[k]}")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        fleet.close()


if __name__ == "__main__":
    main()
