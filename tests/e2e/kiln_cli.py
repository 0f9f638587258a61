"""Helpers for end-to-end tests that drive the real kiln binary."""
import os
import pathlib
import subprocess

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
