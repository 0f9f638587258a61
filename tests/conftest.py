"""Shared pytest fixtures: the AWS emulator (tests/awsemu).

    def test_something(awsemu):
        ec2 = awsemu.client("ec2")
        ...
        subprocess.run([kiln, "apply", ...], env={**os.environ, **awsemu.env})

`awsemu` is one emulator for the whole session (started once, ~1-2 s),
with faults cleared before and after each test. Tests that need their own
emulator (other --bake-seconds, a clean account) use `awsemu_factory`.
The helpers behind them live in tests/awsemu/testing.py
(`from awsemu.testing import AwsEmu, wait_until`).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from awsemu.testing import AwsEmu, wait_until  # noqa: E402,F401


@pytest.fixture(scope="session")
def awsemu_session():
    emu = AwsEmu()
    yield emu
    emu.stop()


@pytest.fixture
def awsemu(awsemu_session):
    """The session's emulator, with no faults before or after the test."""
    awsemu_session.clear_faults()
    yield awsemu_session
    awsemu_session.clear_faults()


@pytest.fixture
def awsemu_factory():
    """Starts emulators of its own: awsemu_factory(bake_seconds=3). Each is
    stopped when the test ends."""
    started = []

    def start(**kwargs):
        emu = AwsEmu(**kwargs)
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()
