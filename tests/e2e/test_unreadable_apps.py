"""Errors that say what is wrong: spec files behind symbolic links,
submodules where apps should be, apps whose app.yaml cannot be read (still
listed, as errors), and secrets in a --repo URL's query string."""
import json
import os
import shutil
import subprocess

import pytest

from kiln_cli import SEED_REPO, git, http, run_kiln, without_environments
from test_apply import fleet  # noqa: F401  (fixture)
from test_daemon import Daemon, listening

from awsemu.testing import wait_until

APP = "apps/hello/app.yaml"
LINK = "is a symbolic link that leads outside the repository or in a loop: such links are not followed"


@pytest.fixture
def work(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(SEED_REPO, root)
    (root / APP).write_text(without_environments((root / APP).read_text()))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "seed")
    return root


def link_app_yaml(root, target):
    os.remove(root / APP)
    os.symlink(target, root / APP)


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../outside.yaml", "app.yaml"])
@pytest.mark.parametrize("source", ["directory", "commit"])
def test_a_linked_app_yaml_says_links_are_not_followed(work, target, source):
    (work.parent / "outside.yaml").write_text("apiVersion: kiln.dev/v1\n")
    link_app_yaml(work, target)
    if source == "commit":
        git(work, "add", "-A")
        git(work, "commit", "-qm", f"link to {target}")
        r = run_kiln("validate", "--ref", "HEAD", work)
    else:
        r = run_kiln("validate", work)
    assert r.returncode == 1
    assert f"{APP}: error: app.yaml {LINK}" in r.stdout, r.stdout
    assert "permission denied" not in r.stdout
    # The same words as for any other file the spec names.
    ud = work / "apps/hello/userdata.sh"
    os.remove(ud)
    os.symlink("/etc/passwd", ud)
    shutil.copy(SEED_REPO / APP, work / "app.tmp")
    os.remove(work / APP)
    os.rename(work / "app.tmp", work / APP)
    r = run_kiln("validate", work)
    assert r.returncode == 1 and f"user data file 'userdata.sh' {LINK}" in r.stdout, r.stdout


def gitlink(root, path):
    """Records a submodule (a commit of another repository) at path."""
    sha = git(root, "rev-parse", "HEAD")
    git(root, "update-index", "--add", "--cacheinfo", f"160000,{sha},{path}")
    git(root, "commit", "-qm", f"submodule at {path}")


def test_a_submodule_app_yaml_is_not_a_regular_file(work):
    git(work, "rm", "-q", "--cached", APP)
    gitlink(work, APP)
    r = run_kiln("validate", "--ref", "HEAD", work)
    assert r.returncode == 1
    assert f"{APP}: error: app.yaml is not a regular file (a directory, git submodule or device)" in r.stdout, r.stdout
    assert "invalid argument" not in r.stdout


def test_a_submodule_app_directory_is_an_error(work):
    gitlink(work, "apps/vendored")
    r = run_kiln("validate", "--ref", "HEAD", "--format", "json", work)
    assert r.returncode == 1, r.stdout
    doc = json.loads(r.stdout)
    assert any(e["file"] == "apps/vendored" and "apps/vendored is a git submodule" in e["message"]
               for e in doc["errors"]), doc


def test_a_linked_app_directory_is_an_error(work):
    os.symlink("hello", work / "apps/alias")
    r = run_kiln("validate", work)
    assert r.returncode == 1
    assert "apps/alias is not a directory (a symbolic link or special file)" in r.stdout, r.stdout


def test_an_app_whose_app_yaml_cannot_be_read_is_listed_as_an_error(fleet, tmp_path):  # noqa: F811
    (fleet.root / "apps/broken").mkdir()
    os.symlink("/etc/passwd", fleet.root / "apps/broken/app.yaml")
    git(fleet.root, "add", "-A")
    git(fleet.root, "commit", "-qm", "a broken app")
    rc, doc = fleet.plan()
    assert {a["name"]: a["status"] for a in doc["apps"]}.get("broken") == "error", doc
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0")
    try:
        port = listening(d)
        wait_until(lambda: http(port, "/readyz")[0] == 200, timeout=60, what="ready")
        apps = {a["name"]: a for a in json.loads(http(port, "/api/v1/apps")[1])["apps"]}
        assert apps["broken"]["status"] == "error", apps
        assert apps["hello"]["status"] != "error", apps
        assert d.said(f"apps/broken/app.yaml:0:0: app.yaml {LINK}")
    finally:
        assert d.stop() == 0


def test_a_token_in_the_url_query_is_not_logged(fleet, tmp_path):  # noqa: F811
    secret = "SECRET-t0ken-in-query"
    url = f"http://user:pw-{secret}@127.0.0.1:9/fleet.git?access_token={secret}&x=1"
    d = Daemon(fleet, tmp_path, url)
    try:
        wait_until(lambda: d.said("no desired state yet"), timeout=30, what="the fetch failure")
    finally:
        d.stop()
    text = d.log_path.read_text()
    assert secret not in text
    assert "http://127.0.0.1:9/fleet.git?access_token=REDACTED&x=REDACTED" in text, text[-2000:]
    r = run_kiln("validate", "--repo", url, env={**os.environ, "KILN_CACHE_DIR": str(tmp_path / "c")})
    assert r.returncode == 1 and secret not in r.stdout + r.stderr
    assert "access_token=REDACTED" in r.stderr
