"""Connections and answers as AWS's front ends give them: keep-alive, idle
connections closed by the load balancer, gateway error pages, cut and slow
bodies, and eventual consistency (lag)."""

import http.client
import time

import botocore.exceptions
import pytest

from awsemu.testing import wait_until
from .helpers import unique

STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"
STS_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sts/aws4_request, "
                     "SignedHeaders=host, Signature=0",
}


def test_two_requests_share_one_connection(awsemu):
    conn = http.client.HTTPConnection("127.0.0.1", awsemu.port, timeout=10)
    try:
        answers = []
        for _ in range(2):
            conn.request("POST", "/", body=STS_BODY, headers=STS_HEADERS)
            if not answers:
                sock = conn.sock
            r = conn.getresponse()
            answers.append((r.status, r.getheader("Connection"), b"<Account>" in r.read()))
            # http.client drops its socket when the server says it will close.
            assert conn.sock is sock
        assert answers == [(200, None, True)] * 2
    finally:
        conn.close()


def test_close_idle_closes_a_pooled_connection_without_an_answer(awsemu):
    sts = awsemu.client("sts")
    sts.get_caller_identity()  # opens the pooled connection
    awsemu.faults({"service": "sts", "action": "*", "kind": "close-idle", "count": 1})
    awsemu.reset_requests()
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        sts.get_caller_identity()
    assert [(e["action"], e["status"], e["fault"]) for e in awsemu.requests()["log"]] == [
        ("GetCallerIdentity", 0, "close-idle")]
    sts.get_caller_identity()  # a new connection

    # A fresh connection is never "idle": the first request on it passes.
    awsemu.faults({"service": "sts", "action": "*", "kind": "close-idle"})
    assert awsemu.client("sts").get_caller_identity()["Account"]
    # An SDK that retries gets through: botocore retries a closed connection.
    retrying = awsemu.client("sts", max_attempts=3)
    retrying.get_caller_identity()
    awsemu.clear_faults()
    awsemu.faults({"service": "sts", "action": "*", "kind": "close-idle", "count": 1})
    assert retrying.get_caller_identity()["ResponseMetadata"]["RetryAttempts"] == 1


@pytest.mark.parametrize("status", [502, 503, 504])
@pytest.mark.parametrize("body", ["html", "empty"])
def test_gateway_errors_are_html_or_empty(awsemu, status, body):
    awsemu.faults({"service": "ec2", "action": "DescribeImages", "kind": "gateway",
                   "status": status, "body": body, "count": 1})
    ec2 = awsemu.client("ec2")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_images(Owners=["self"])
    meta = e.value.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == status
    assert meta["HTTPHeaders"]["content-type"] == "text/html"
    assert (int(meta["HTTPHeaders"]["content-length"]) > 0) == (body == "html")
    assert awsemu.requests()["log"][-1]["fault"] == "gateway"
    # Retryable for an SDK: 502, 503 and 504 are transient.
    awsemu.faults({"service": "ec2", "action": "DescribeImages", "kind": "gateway",
                   "status": status, "body": body, "count": 1})
    r = awsemu.client("ec2", max_attempts=2).describe_images(Owners=["self"])
    assert r["ResponseMetadata"]["RetryAttempts"] == 1


def test_a_handled_gateway_error_hides_a_mutation_that_happened(awsemu):
    ssm = awsemu.client("ssm")
    name = "/kiln/" + unique("p")
    awsemu.faults({"service": "ssm", "action": "PutParameter", "kind": "gateway",
                   "status": 504, "handled": True, "count": 1})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.put_parameter(Name=name, Value="v", Type="String")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 504
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v"


def test_truncated_body(awsemu):
    awsemu.faults({"service": "ec2", "action": "DescribeImages", "kind": "truncate",
                   "count": 1})
    ec2 = awsemu.client("ec2")
    awsemu.reset_requests()
    with pytest.raises(botocore.exceptions.BotoCoreError) as e:
        ec2.describe_images(Owners=["self"])
    assert "IncompleteRead" in repr(e.value) or "closed" in str(e.value).lower(), e.value
    assert [(x["status"], x["fault"]) for x in awsemu.requests()["log"]] == [(200, "truncate")]
    ec2.describe_images(Owners=["self"])  # the connection was replaced


def test_slow_body_trickles(awsemu):
    awsemu.faults({"service": "sts", "action": "*", "kind": "slow-body", "chunk_bytes": 16,
                   "interval_ms": 40, "count": 1})
    # Each piece comes well within the read timeout, the whole takes longer.
    sts = awsemu.client("sts", read_timeout=0.3)
    t = time.monotonic()
    body_len = int(sts.get_caller_identity()["ResponseMetadata"]["HTTPHeaders"][
        "content-length"])
    took = time.monotonic() - t
    assert took >= (body_len // 16) * 0.04 * 0.9 > 0.3, (took, body_len)
    t = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - t < 0.3


def test_lag_hides_a_new_resource_from_reads_for_a_while(awsemu):
    ec2 = awsemu.client("ec2")
    awsemu.faults({"service": "ec2", "action": "CreateLaunchTemplate", "kind": "lag",
                   "lag_ms": 1500, "count": 1})
    name = unique("lag")
    lt = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "InstanceType": "t3.micro"})["LaunchTemplate"]
    created = time.monotonic()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_launch_templates(LaunchTemplateIds=[lt["LaunchTemplateId"]])
    assert e.value.response["Error"]["Code"] == "InvalidLaunchTemplateId.NotFound"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_launch_templates(LaunchTemplateNames=[name])
    assert e.value.response["Error"]["Code"] == "InvalidLaunchTemplateName.NotFoundException"
    listed = [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()[
        "LaunchTemplates"]]
    assert name not in listed
    found = wait_until(lambda: ec2.describe_launch_templates(
        LaunchTemplateIds=[lt["LaunchTemplateId"]])["LaunchTemplates"] if
        _exists(ec2, lt["LaunchTemplateId"]) else None, timeout=10, what="lagged template")
    assert time.monotonic() - created >= 1.0
    assert found[0]["LaunchTemplateName"] == name


def _exists(ec2, lt_id):
    try:
        ec2.describe_launch_templates(LaunchTemplateIds=[lt_id])
        return True
    except botocore.exceptions.ClientError:
        return False


def test_lag_on_ssm_and_image_builder_names(awsemu):
    ssm = awsemu.client("ssm")
    awsemu.faults({"service": "ssm", "action": "PutParameter", "kind": "lag",
                   "lag_ms": 60000, "count": 1})
    name = "/kiln/" + unique("p")
    ssm.put_parameter(Name=name, Value="v", Type="String")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameter(Name=name)
    assert e.value.response["Error"]["Code"] == "ParameterNotFound"
    assert ssm.get_parameters(Names=[name])["InvalidParameters"] == [name]
    # Only what was created lags: an overwrite of another parameter shows.
    other = "/kiln/" + unique("p")
    ssm.put_parameter(Name=other, Value="1", Type="String")
    assert ssm.get_parameter(Name=other)["Parameter"]["Value"] == "1"


def test_new_fault_kinds_are_validated(awsemu):
    import requests

    for bad in ({"kind": "gateway"}, {"kind": "gateway", "status": 500},
                {"kind": "gateway", "status": 502, "body": "xml"},
                {"kind": "lag"}, {"kind": "slow-body", "chunk_bytes": 0},
                {"kind": "unhealthy"}, {"kind": "unhealthy", "image_tags": {"a": 1}}):
        r = requests.post(f"{awsemu.endpoint}/_awsemu/faults", json={"faults": [bad]},
                          timeout=10)
        assert r.status_code == 400, bad
