"""Helpers for end-to-end tests that drive the real kiln binary."""
import json
import os
import pathlib
import shutil
import subprocess
import urllib.error
import urllib.request

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED_REPO = REPO_ROOT / "seed-repo"


def kiln_bin():
    path = os.environ.get("KILN_BIN", str(REPO_ROOT / "build" / "controller" / "kiln"))
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"kiln binary not found at {path}; run scripts/build or set KILN_BIN")
    return path


def run_kiln(*args, env=None, timeout=60, cwd=None):
    """Runs kiln with args; returns the CompletedProcess (text mode)."""
    return subprocess.run(
        [kiln_bin(), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd,
    )


def git(root, *args):
    """Runs git in root as a fixed author; returns its stripped stdout."""
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return subprocess.run(["git", "-C", str(root), *args], check=True,
                          capture_output=True, text=True, env=env).stdout.strip()


def without_environments(text):
    """seed-repo's hello as one target (no environments): the shape most
    tests use."""
    cut = text.find("\n# Environments:")
    return text if cut < 0 else text[:cut + 1]


def seeded_repo(emu, root, environments=False):
    """A git repository at root made from seed-repo, its app pointed at the
    subnets and security group of the emulator's default VPC; hello without
    its environments unless asked."""
    ec2 = emu.client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    sg = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    shutil.copytree(SEED_REPO, root)
    p = root / "apps/hello/app.yaml"
    text = p.read_text()
    text = text.replace("subnet-0a1b2c3d4e5f60718, subnet-0f1e2d3c4b5a69788", ", ".join(subnets))
    text = text.replace("sg-0a1b2c3d4e5f60718", sg)
    if not environments:
        text = without_environments(text)
    p.write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "seed")
    return root


def http(port, path, body=None, headers=None):
    """A request to the daemon's HTTP server on 127.0.0.1:port (POST when
    there is a body): (status, body text), error statuses included."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                 headers=headers or {}, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def json_log(path):
    """The lines of a JSON-lines log (kiln run's stderr) as dicts; a line
    that is not JSON becomes {"msg": line, "level": "raw"}."""
    out = []
    for line in pathlib.Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            out.append({"msg": line, "level": "raw"})
    return out
