"""kiln run fetches every --interval for as long as it runs: nothing a fetch
allocates may outlive it. Run against the sanitizer build (tests/run sets
KILN_BIN to it), LeakSanitizer's report at exit must not grow with the
number of fetches."""
import os
import pathlib
import re
import shutil
import signal
import subprocess

import pytest

from kiln_cli import REPO_ROOT, SEED_REPO, git, http, json_log, kiln_bin
from test_validate import APP

from awsemu.testing import wait_until

SUPPRESSIONS = REPO_ROOT / "tests" / "lsan.supp"


def metric(port, name):
    for line in http(port, "/metrics")[1].splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def listen_port(log_path):
    def port():
        for line in json_log(log_path):
            m = re.search(r"listening on \S+ \(port (\d+)\)", line.get("msg", ""))
            if m:
                return int(m.group(1))
        return None
    return wait_until(port, timeout=30, what="the HTTP server")


def sanitized(path):
    return b"__asan_init" in pathlib.Path(path).read_bytes()


@pytest.fixture
def remote(tmp_path):
    """A file:// remote whose one app is invalid, so that the daemon never
    talks to AWS: each fetch still reads and parses the commit."""
    root = tmp_path / "work"
    shutil.copytree(SEED_REPO, root)
    p = root / APP
    p.write_text(p.read_text().replace("kind: App", "kind: NotAnApp", 1))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "seed")
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(root), str(bare)], check=True)
    return f"file://{bare}"


def leaked_after(remote, tmp_path, fetches):
    """Runs kiln run until it has fetched `fetches` times, stops it, and
    returns the bytes LeakSanitizer reports at exit (0 when none)."""
    run_dir = tmp_path / f"run-{fetches}"
    run_dir.mkdir()
    env = {
        **os.environ,
        "HOME": str(run_dir),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        # Only the repository's own suppressions, whatever the caller set.
        "LSAN_OPTIONS": f"suppressions={SUPPRESSIONS}:print_suppressions=0",
        "ASAN_OPTIONS": "detect_leaks=1:fast_unwind_on_malloc=0",
    }
    log_path = run_dir / "kiln-run.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [kiln_bin(), "run", "--repo", remote, "--state-dir", str(run_dir / "state"),
             "--interval", "1ms", "--listen", "127.0.0.1:0"],
            env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        port = listen_port(log_path)
        wait_until(lambda: (metric(port, "kiln_fetches_total") or 0) >= fetches,
                   timeout=300, interval=0.05, what=f"{fetches} fetches")
        assert metric(port, "kiln_fetch_failing") == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    report = log_path.read_text(errors="replace")
    m = re.search(r"SUMMARY: AddressSanitizer: (\d+) byte\(s\) leaked", report)
    leaked = int(m.group(1)) if m else 0
    assert (code == 0) == (leaked == 0), report[-4000:]
    return leaked, report


def test_fetches_leak_nothing(remote, tmp_path):
    if not sanitized(kiln_bin()):
        pytest.skip("KILN_BIN is not the sanitizer build (tests/run uses it)")
    few, _ = leaked_after(remote, tmp_path, 20)
    many, report = leaked_after(remote, tmp_path, 200)
    # 180 more fetches: any per-fetch leak shows as growth, one of a few
    # hundred bytes as tens of KiB.
    assert many <= few, (
        f"LeakSanitizer: {few} bytes leaked after 20 fetches, {many} after 200 "
        f"({(many - few) / 180:.0f} bytes a fetch)\n" + report[-6000:])
