"""Emulators the emulator's own tests share, so each configuration starts
once per session (a start costs about 1.5 s)."""

import pytest

from awsemu.testing import AwsEmu

# AWS seconds per emulator second for the modules that wait AWS durations.
SCALE = 200


@pytest.fixture(scope="session")
def aws_scaled():
    """AWS's refresh timing (no --refresh-batch-seconds) at --time-scale
    200: a warmup of 100 lasts 0.5 s."""
    e = AwsEmu(refresh_batch_seconds=None, time_scale=SCALE)
    yield e
    e.stop()


@pytest.fixture
def emu(aws_scaled):
    """The shared scaled emulator, with no faults before or after the test."""
    aws_scaled.clear_faults()
    yield aws_scaled
    aws_scaled.clear_faults()
