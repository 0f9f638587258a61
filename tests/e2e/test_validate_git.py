"""kiln validate --ref: the spec is read from a commit's tree, not from disk."""
import json
import os
import shutil
import subprocess

import pytest

from kiln_cli import SEED_REPO, git, run_kiln

APP = "apps/hello/app.yaml"


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(SEED_REPO, root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "seed")
    return root


def test_reads_the_commit_not_the_working_tree(repo):
    head = git(repo, "rev-parse", "HEAD")
    (repo / APP).write_text("garbage: [\n")
    r = run_kiln("validate", "--ref", "main", "--format", "json", repo)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["commit"] == head and doc["valid"] is True
    assert run_kiln("validate", repo).returncode == 1


def test_older_commit_and_bare_clone(repo, tmp_path):
    first = git(repo, "rev-parse", "HEAD")
    text = (repo / APP).read_text().replace("  min: 0", "  min: 9")
    (repo / APP).write_text(text)
    git(repo, "commit", "-qam", "break it")
    r = run_kiln("validate", "--ref", "HEAD", repo)
    assert r.returncode == 1 and f"{APP}:32:" in r.stdout
    assert run_kiln("validate", "--ref", first, repo).returncode == 0
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    assert run_kiln("validate", "--ref", "main", bare).returncode == 1
    assert run_kiln("validate", "--ref", first, bare).returncode == 0


def test_symlinks_in_the_commit(repo):
    # A link that stays inside the repository is followed.
    os.rename(repo / "apps/hello/userdata.sh", repo / "apps/hello/boot.sh")
    os.symlink("boot.sh", repo / "apps/hello/userdata.sh")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "link inside")
    assert run_kiln("validate", "--ref", "HEAD", repo).returncode == 0
    # One that climbs out of the repository is refused, whatever is there.
    for target in ("../../../outside.sh", "/etc/hostname"):
        os.remove(repo / "apps/hello/userdata.sh")
        os.symlink(target, repo / "apps/hello/userdata.sh")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"link to {target}")
        r = run_kiln("validate", "--ref", "HEAD", repo)
        assert r.returncode == 1
        assert f"{APP}:22:" in r.stdout and "leads outside the repository" in r.stdout


def test_symlink_loop_is_refused(repo):
    os.remove(repo / "apps/hello/userdata.sh")
    os.symlink("b.sh", repo / "apps/hello/userdata.sh")
    os.symlink("userdata.sh", repo / "apps/hello/b.sh")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "loop")
    r = run_kiln("validate", "--ref", "HEAD", repo)
    assert r.returncode == 1 and "leads outside the repository" in r.stdout


def test_unknown_ref_and_not_a_repository(repo, tmp_path):
    r = run_kiln("validate", "--ref", "no-such-branch", repo)
    assert r.returncode == 1 and "cannot resolve ref 'no-such-branch'" in r.stderr
    r = run_kiln("validate", "--ref", "main", tmp_path)
    assert r.returncode == 1 and "cannot open git repository" in r.stderr


# ---- remote sources: mirrored into the cache, default branch, force-push ----

from gitserver import GitHTTPServer  # noqa: E402


def cache_env(tmp_path):
    return dict(os.environ, KILN_CACHE_DIR=str(tmp_path / "cache"))


def test_file_url_follows_default_branch_and_force_push(repo, tmp_path):
    env = cache_env(tmp_path)
    url = f"file://{repo}"
    first = git(repo, "rev-parse", "HEAD")
    r = run_kiln("validate", "--repo", url, "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["commit"] == first
    # A new commit on the default branch is picked up on the next fetch.
    text = (repo / APP).read_text().replace("  max: 3", "  max: 4")
    (repo / APP).write_text(text)
    git(repo, "commit", "-qam", "bigger")
    second = git(repo, "rev-parse", "HEAD")
    r = run_kiln("validate", "--repo", url, "--format", "json", env=env)
    assert json.loads(r.stdout)["commit"] == second
    # History rewritten (force-push): the new tip is the desired state.
    git(repo, "reset", "-q", "--hard", first)
    (repo / APP).write_text((repo / APP).read_text().replace("  min: 0", "  min: 9"))
    git(repo, "commit", "-qam", "rewritten")
    rewritten = git(repo, "rev-parse", "HEAD")
    r = run_kiln("validate", "--repo", url, "--format", "json", env=env)
    assert r.returncode == 1
    assert json.loads(r.stdout)["commit"] == rewritten


def test_smart_http_with_git_http_backend(repo, tmp_path):
    env = cache_env(tmp_path)
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(served / "app.git")], check=True)
    server = GitHTTPServer(served)
    try:
        r = run_kiln("validate", "--repo", server.url("app.git"), env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert server.requests >= 2
        r = run_kiln("validate", "--repo", server.url("app.git"), "--ref", "no-such", env=env)
        assert r.returncode == 1 and "cannot resolve no-such" in r.stderr
    finally:
        server.close()


def test_unreachable_remote_names_it_without_credentials(tmp_path):
    env = cache_env(tmp_path)
    r = run_kiln("validate", "--repo", "http://user:s3cr3t@127.0.0.1:9/x.git", env=env)
    assert r.returncode == 1
    assert "cannot fetch http://127.0.0.1:9/x.git" in r.stderr
    assert "s3cr3t" not in r.stderr + r.stdout


def test_https_token_from_a_file_or_the_environment(repo, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(served / "app.git")], check=True)
    token = "tok-" + "9" * 20
    server = GitHTTPServer(served, token=token)
    try:
        env = cache_env(tmp_path)
        r = run_kiln("validate", "--repo", server.url("app.git"), env=env)
        assert r.returncode == 1 and "cannot fetch" in r.stderr
        env_token = {**env, "KILN_GIT_TOKEN": token}
        r = run_kiln("validate", "--repo", server.url("app.git"), env=env_token)
        assert r.returncode == 0, r.stderr
        token_file = tmp_path / "token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        env_file = {**cache_env(tmp_path / "other"), "KILN_GIT_TOKEN_FILE": str(token_file)}
        r = run_kiln("validate", "--repo", server.url("app.git"), env=env_file)
        assert r.returncode == 0, r.stderr
        wrong = {**cache_env(tmp_path / "third"), "KILN_GIT_TOKEN": "wrong"}
        r = run_kiln("validate", "--repo", server.url("app.git"), env=wrong)
        assert r.returncode == 1
        assert token not in r.stdout + r.stderr
    finally:
        server.close()


from sshserver import SSHServer  # noqa: E402


def test_ssh_with_a_key_and_known_hosts(repo, tmp_path):
    bare = tmp_path / "app.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    server = SSHServer(tmp_path / "ssh")
    try:
        env = {**cache_env(tmp_path), **server.env()}
        r = run_kiln("validate", "--repo", server.url(str(bare)), env=env)
        assert r.returncode == 0, r.stderr
        # A wrong host key, or none at all, is refused before any git talk.
        wrong = {**cache_env(tmp_path / "w"), **server.env(server.wrong_hosts)}
        r = run_kiln("validate", "--repo", server.url(str(bare)), env=wrong)
        assert r.returncode == 1 and "does not match known_hosts" in r.stderr
        empty = tmp_path / "empty_hosts"
        empty.write_text("")
        unknown = {**cache_env(tmp_path / "u"), **server.env(empty)}
        r = run_kiln("validate", "--repo", server.url(str(bare)), env=unknown)
        assert r.returncode == 1 and "not in known_hosts" in r.stderr
        # Hashed known_hosts entries (ssh-keygen -H) are understood.
        hashed = tmp_path / "hashed_hosts"
        hashed.write_text(server.known_hosts.read_text())
        subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(hashed)], check=True,
                       capture_output=True)
        r = run_kiln("validate", "--repo", server.url(str(bare)),
                     env={**cache_env(tmp_path / "h"), **server.env(hashed)})
        assert r.returncode == 0, r.stderr
    finally:
        server.close()
