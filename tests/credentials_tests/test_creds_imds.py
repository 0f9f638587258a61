"""EC2 instance metadata credentials: IMDSv2 only, against a real local
server that refuses token-less requests."""

import pytest

from creds_servers import ImdsServer, sha256

NOW = 1_700_000_000
CREDS = ImdsServer.CREDS_PATH


def imds_env(server, **extra):
    env = {
        "AWS_EC2_METADATA_DISABLED": None,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.url + "/",
    }
    env.update(extra)
    return env


def test_token_put_then_get_with_token(probe, imds):
    line = probe.get(provider="imds", env=imds_env(imds), now=NOW)
    assert line["status"] == "KILN_OK", line
    akid, secret, token = imds.issued[0]
    assert line["access_key_id"] == akid
    assert line["secret_sha256"] == sha256(secret)
    assert line["token_sha256"] == sha256(token)
    assert line["source"] == "imds kiln-role"
    assert line["expiration_ms"] == (NOW + 6 * 3600) * 1000
    assert imds.seen() == [
        "PUT /latest/api/token",
        f"GET {CREDS}",
        f"GET {CREDS}kiln-role",
    ]
    put = imds.requests[0]
    assert put.headers["X-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    for get in imds.requests[1:]:
        assert get.headers["X-aws-ec2-metadata-token"] == "imds-token-1"
    # The describe line is redacted.
    assert secret not in line["describe"] and akid not in line["describe"]
    assert line["describe"].startswith("ASIA")


@pytest.mark.parametrize("status", [403, 404, 405, 500])
def test_no_imdsv1_fallback_when_token_put_fails(probe, imds, status):
    imds.token_status = status
    line = probe.get(provider="imds", env=imds_env(imds), now=NOW)
    assert line["status"] == "KILN_ECREDENTIALS", line
    assert "never falls back to IMDSv1" in line["message"]
    assert f"HTTP {status}" in line["message"]
    # Only the token request was sent: no GET without a token.
    assert imds.seen() == ["PUT /latest/api/token"]


def test_no_imdsv1_fallback_through_the_default_chain(probe, imds):
    imds.token_status = 403
    line = probe.get(env=imds_env(imds), now=NOW)
    assert line["status"] == "KILN_ECREDENTIALS", line
    assert imds.seen() == ["PUT /latest/api/token"]


def test_disabled_sends_nothing(probe, imds):
    line = probe.get(env=imds_env(imds, AWS_EC2_METADATA_DISABLED="true"), now=NOW)
    assert line["status"] == "KILN_ECREDENTIALS", line
    assert "imds: not configured" in line["message"]
    assert imds.seen() == []


def test_unreachable_metadata_service_is_not_configured(probe):
    env = {
        "AWS_EC2_METADATA_DISABLED": None,
        # A port nobody listens on: connection refused at once.
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9",
    }
    line = probe.get(env=env, now=NOW)
    assert line["status"] == "KILN_ECREDENTIALS", line
    assert "no AWS credentials found" in line["message"]


def test_no_instance_profile(probe, imds):
    imds.role = None
    line = probe.get(env=imds_env(imds), now=NOW)
    assert line["status"] == "KILN_ECREDENTIALS", line
    assert "no IAM instance profile is attached" in line["message"]


def test_concurrent_requests_share_one_fetch(probe, imds):
    lines = probe.lines("concurrent", 5, env=imds_env(imds), now=NOW)
    assert len(lines) == 5
    assert {line["access_key_id"] for line in lines} == {imds.issued[0][0]}
    assert imds.seen() == [
        "PUT /latest/api/token",
        f"GET {CREDS}",
        f"GET {CREDS}kiln-role",
    ]


def test_refresh_before_expiry_reuses_the_token(probe, imds):
    imds.now = NOW
    lines = probe.lines(
        "get",
        "advance", 5 * 3600,  # 1 h left: cached
        "get",
        "advance", 55 * 60,  # 5 min left: refreshed, token still valid
        "get",
        env=imds_env(imds),
        now=NOW,
    )
    assert [line["status"] for line in lines] == ["KILN_OK"] * 3
    first, second = imds.issued[0][0], imds.issued[1][0]
    assert [line["access_key_id"] for line in lines] == [first, first, second]
    assert imds.seen() == [
        "PUT /latest/api/token",
        f"GET {CREDS}",
        f"GET {CREDS}kiln-role",
        f"GET {CREDS}",
        f"GET {CREDS}kiln-role",
    ]


def test_expired_token_is_replaced(probe, imds):
    imds.lifetime = 12 * 3600
    lines = probe.lines(
        "get",
        "advance", 11 * 3600 + 55 * 60,  # creds need a refresh, token expired
        "get",
        env=imds_env(imds),
        now=NOW,
    )
    assert [line["status"] for line in lines] == ["KILN_OK"] * 2
    assert imds.seen().count("PUT /latest/api/token") == 2


def test_rejected_token_gets_a_new_one_once(probe, imds):
    probe_env = imds_env(imds)
    first = probe.lines("get", env=probe_env, now=NOW)
    assert first[0]["status"] == "KILN_OK"
    # The metadata service forgets its tokens (e.g. after a restart): a 401
    # makes the client fetch a new token and try again, once.
    imds.requests.clear()
    orig = imds.handle
    state = {"forgot": False}

    def forgetful(req):
        if not state["forgot"] and req.method == "GET":
            state["forgot"] = True
            imds.tokens.clear()
        return orig(req)

    imds.handle = forgetful
    lines = probe.lines(
        "get", "advance", 6 * 3600 - 5 * 60, "get", env=probe_env, now=NOW
    )
    assert [line["status"] for line in lines] == ["KILN_OK"] * 2
    assert imds.seen() == [
        "PUT /latest/api/token",
        f"GET {CREDS}",  # 401: tokens forgotten
        "PUT /latest/api/token",
        f"GET {CREDS}",
        f"GET {CREDS}kiln-role",
        f"GET {CREDS}",  # the refresh, with the new token
        f"GET {CREDS}kiln-role",
    ]


def test_region_from_instance_metadata(probe, imds):
    (line,) = probe.lines("imds-region", env=imds_env(imds))
    assert line == {"status": "KILN_OK", "region": "eu-south-2", "message": ""}
    assert imds.seen() == ["PUT /latest/api/token", "GET /latest/meta-data/placement/region"]
    assert imds.requests[1].headers["X-aws-ec2-metadata-token"] == "imds-token-1"


def test_region_never_uses_imdsv1(probe, imds):
    imds.token_status = 403
    (line,) = probe.lines("imds-region", env=imds_env(imds))
    assert line["status"] == "KILN_ECREDENTIALS"
    assert line["region"] is None
    assert imds.seen() == ["PUT /latest/api/token"]


def test_region_with_imds_disabled(probe, imds):
    (line,) = probe.lines("imds-region", env=imds_env(imds, AWS_EC2_METADATA_DISABLED="true"))
    assert line["status"] == "KILN_ENOENT"
    assert imds.seen() == []
