"""Every JSON Kiln writes is valid UTF-8, even when a repository names an
app directory with bytes that are not text; validation refuses such names."""
import json
import os
import shutil
import subprocess

from kiln_cli import SEED_REPO, git, http, json_log, kiln_bin, run_kiln
from test_apply import fleet  # noqa: F401  (fixture)
from test_daemon import Daemon, listening

from awsemu.testing import wait_until

BAD = b"h\xff\xfe"
SHOWN = "h\\xff\\xfe"


def strict_json(data):
    """Parses bytes as JSON the strict way: UTF-8 first, then JSON."""
    return json.loads(data.decode("utf-8", errors="strict"))


def add_bad_app(root):
    bad = os.path.join(os.fsencode(root), b"apps", BAD)
    shutil.copytree(os.fsencode(root / "apps/hello"), bad)


def test_validate_refuses_a_name_that_is_not_utf8(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(SEED_REPO, root)
    add_bad_app(root)
    r = run_kiln("validate", root)
    assert r.returncode == 1
    assert f"apps/{SHOWN}: error: app directory name is not valid UTF-8" in r.stdout, r.stdout
    out = subprocess.run([kiln_bin(), "validate", "--format", "json", str(root)],
                         capture_output=True).stdout
    doc = strict_json(out)
    assert any(e["app"] == SHOWN for e in doc["errors"]), doc


def test_plan_api_and_logs_stay_valid_json(fleet, tmp_path):  # noqa: F811
    add_bad_app(fleet.root)
    git(fleet.root, "add", "-A")
    git(fleet.root, "commit", "-qm", "an app named with bytes")
    r = subprocess.run([kiln_bin(), "plan", "--repo", str(fleet.root), "--format", "json"],
                       capture_output=True, env=fleet.env, timeout=60)
    doc = strict_json(r.stdout)
    assert {a["name"]: a["status"] for a in doc["apps"]}[SHOWN] == "error", doc
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0")
    try:
        port = listening(d)
        wait_until(lambda: http(port, "/readyz")[0] == 200, timeout=60, what="ready")
        status, body = http(port, "/api/v1/apps")  # decodes UTF-8 strictly
        apps = {a["name"]: a["status"] for a in json.loads(body)["apps"]}
        assert apps[SHOWN] == "error" and apps["hello"] != "error", apps
    finally:
        assert d.stop() == 0
    raw = d.log_path.read_bytes()
    for line in raw.splitlines():
        strict_json(line)
    assert any(SHOWN in l.get("msg", "") for l in json_log(d.log_path))
