"""Fault injection: each kind has its effect, and clearing restores service."""

import time

import botocore.exceptions
import pytest
import requests

from awsemu.testing import wait_until

# One cheap call per service, and the throttling error AWS answers it with.
CALLS = {
    "ec2": (lambda c: c.describe_images(Owners=["self"]), "DescribeImages",
            "RequestLimitExceeded", 503, "InternalError"),
    "autoscaling": (lambda c: c.describe_auto_scaling_groups(), "DescribeAutoScalingGroups",
                    "Throttling", 400, "InternalFailure"),
    "imagebuilder": (lambda c: c.list_components(), "ListComponents",
                     "CallRateLimitExceededException", 429, "ServiceException"),
    "ssm": (lambda c: c.get_parameters(Names=["/kiln/none"]), "GetParameters",
            "ThrottlingException", 400, "InternalServerError"),
    "sts": (lambda c: c.get_caller_identity(), "GetCallerIdentity", "Throttling", 400,
            "InternalFailure"),
}


def call(emu, service):
    return CALLS[service][0](emu.client(service))


def failure(emu, service):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(emu, service)
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"][
        "HTTPStatusCode"]


@pytest.mark.parametrize("service", sorted(CALLS))
def test_throttle_answers_with_the_services_throttling_error(awsemu, service):
    _, action, code, status, _ = CALLS[service]
    awsemu.faults({"service": service, "action": action, "kind": "throttle", "rate": 1.0})
    assert failure(awsemu, service) == (code, status)
    assert failure(awsemu, service) == (code, status)
    awsemu.clear_faults()
    call(awsemu, service)


@pytest.mark.parametrize("service", sorted(CALLS))
def test_error500_answers_with_the_services_internal_error(awsemu, service):
    awsemu.faults({"service": service, "action": "*", "kind": "error500"})
    assert failure(awsemu, service) == (CALLS[service][4], 500)
    awsemu.clear_faults()
    call(awsemu, service)


def test_sdk_retries_a_throttled_call_until_the_fault_is_used_up(awsemu):
    awsemu.faults({"service": "ec2", "action": "DescribeImages", "kind": "throttle",
                   "count": 2})
    awsemu.reset_requests()
    resp = awsemu.client("ec2", max_attempts=5).describe_images(Owners=["self"])
    assert resp["ResponseMetadata"]["RetryAttempts"] == 2
    assert [(e["status"], e["fault"]) for e in awsemu.requests()["log"]] == [
        (503, "throttle"), (503, "throttle"), (200, None)]


def test_faults_match_service_and_action(awsemu):
    awsemu.faults({"service": "ec2", "action": "DescribeImages", "kind": "throttle"})
    ec2 = awsemu.client("ec2")
    ec2.describe_instances()  # another action of the same service
    call(awsemu, "ssm")       # another service
    assert failure(awsemu, "ec2")[0] == "RequestLimitExceeded"


def test_count_limits_how_often_a_fault_applies(awsemu):
    awsemu.faults({"service": "ssm", "action": "*", "kind": "throttle", "count": 3})
    for _ in range(3):
        assert failure(awsemu, "ssm")[0] == "ThrottlingException"
    for _ in range(5):
        call(awsemu, "ssm")


def test_rate_is_a_probability(awsemu):
    # One client, never retrying (AwsEmu.client's default): every call is
    # one request and one roll of the dice.
    sts = awsemu.client("sts", max_attempts=1)
    awsemu.faults({"service": "sts", "action": "*", "kind": "throttle", "rate": 0.0})
    for _ in range(20):
        sts.get_caller_identity()
    awsemu.clear_faults()
    awsemu.faults({"service": "sts", "action": "*", "kind": "throttle", "rate": 0.5})
    failed = 0
    for _ in range(100):
        try:
            sts.get_caller_identity()
        except botocore.exceptions.ClientError:
            failed += 1
    # Binomial(100, 0.5): outside 20..80 has probability below 1e-9.
    assert 20 <= failed <= 80
    assert len([e for e in awsemu.requests()["log"][-100:] if e["fault"] == "throttle"]) \
        == failed


def test_latency_delays_the_answer(awsemu):
    awsemu.faults({"service": "ssm", "action": "GetParameters", "kind": "latency",
                   "latency_ms": 1000})
    t = time.monotonic()
    call(awsemu, "ssm")
    assert time.monotonic() - t >= 1.0
    awsemu.clear_faults()
    t = time.monotonic()
    call(awsemu, "ssm")
    assert time.monotonic() - t < 0.9


def test_reset_drops_the_connection_without_an_answer(awsemu):
    awsemu.faults({"service": "ec2", "action": "*", "kind": "reset", "count": 1})
    awsemu.reset_requests()
    with pytest.raises((botocore.exceptions.ConnectionError,
                        botocore.exceptions.HTTPClientError)):
        call(awsemu, "ec2")
    assert awsemu.requests()["log"][-1]["status"] == 0
    call(awsemu, "ec2")  # the count was 1: service is back
    # With retries the SDK gets through a single reset.
    awsemu.faults({"service": "ec2", "action": "*", "kind": "reset", "count": 1})
    awsemu.client("ec2", max_attempts=3).describe_images(Owners=["self"])


def test_token_bucket_throttles_when_empty(awsemu):
    awsemu.faults({"service": "ec2", "action": "*", "kind": "bucket", "burst": 5,
                   "refill_per_s": 0})
    ec2 = awsemu.client("ec2")
    for _ in range(5):
        ec2.describe_images(Owners=["self"])
    assert failure(awsemu, "ec2")[0] == "RequestLimitExceeded"
    # Each action has its own bucket, as in EC2.
    for _ in range(5):
        ec2.describe_instances()
    with pytest.raises(botocore.exceptions.ClientError):
        ec2.describe_instances()
    awsemu.clear_faults()
    ec2.describe_images(Owners=["self"])


def test_token_bucket_refills(awsemu):
    awsemu.faults({"service": "autoscaling", "action": "DescribeAutoScalingGroups",
                   "kind": "bucket", "burst": 2, "refill_per_s": 10})
    asg = awsemu.client("autoscaling")
    results = []

    def attempt():
        try:
            asg.describe_auto_scaling_groups()
            results.append("ok")
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "Throttling"
            results.append("throttled")
        return results

    # Drain the bucket, then the refill lets a call through again.
    wait_until(lambda: "throttled" in attempt(), timeout=10, interval=0, what="empty bucket")
    wait_until(lambda: attempt()[-1] == "ok", timeout=10, interval=0.02, what="refill")


def test_fault_specs_are_validated(awsemu):
    for bad in ({"kind": "explode"}, {"kind": "throttle", "rate": 2},
                {"kind": "latency"}, {"kind": "bucket", "burst": 5},
                {"kind": "throttle", "colour": "red"}):
        r = requests.post(f"{awsemu.endpoint}/_awsemu/faults", json={"faults": [bad]},
                          timeout=10)
        assert r.status_code == 400, bad
    r = requests.post(f"{awsemu.endpoint}/_awsemu/faults", json={"nope": []}, timeout=10)
    assert r.status_code == 400
    assert requests.get(f"{awsemu.endpoint}/_awsemu/faults", timeout=10).json() == {
        "faults": []}
