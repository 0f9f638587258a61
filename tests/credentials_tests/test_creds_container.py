"""Container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI) against a
real local server."""

import pytest

from creds_servers import ACCOUNT, sha256

NOW = 1_700_000_000


def test_full_uri_with_token(probe, container):
    container.expected_auth = "Bearer abc"
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": container.url + "/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer abc",
    }
    line = probe.get(provider="container", env=env, now=NOW)
    assert line["status"] == "KILN_OK", line
    akid, secret, token = container.issued[0]
    assert line["access_key_id"] == akid
    assert line["secret_sha256"] == sha256(secret)
    assert line["token_sha256"] == sha256(token)
    assert line["account_id"] == ACCOUNT
    assert line["source"] == "container"
    assert line["expiration_ms"] == (NOW + 6 * 3600) * 1000
    assert container.seen() == ["GET /creds"]
    assert container.requests[0].headers["Authorization"] == "Bearer abc"


def test_token_file_wins_over_token(probe, container, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    container.expected_auth = "from-file"
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": container.url + "/creds/v1",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "from-env",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
    }
    line = probe.get(env=env, now=NOW)
    assert line["status"] == "KILN_OK", line
    assert line["source"] == "container"


def test_wrong_token_is_an_error(probe, container):
    container.expected_auth = "right"
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": container.url + "/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong",
    }
    line = probe.get(env=env, now=NOW)
    assert line["status"] == "KILN_EHTTP", line
    assert "HTTP 401" in line["message"]


def test_missing_token_file_is_an_error(probe, container, tmp_path):
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": container.url + "/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(tmp_path / "absent"),
    }
    line = probe.get(env=env, now=NOW)
    assert line["status"] == "KILN_ECREDENTIALS", line
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" in line["message"]
    assert container.seen() == []


@pytest.mark.parametrize(
    "uri",
    ["http://example.com/creds", "http://10.1.2.3/creds", "http://169.254.169.254/x"],
)
def test_full_uri_host_restriction(probe, uri):
    line = probe.get(env={"AWS_CONTAINER_CREDENTIALS_FULL_URI": uri}, now=NOW)
    assert line["status"] == "KILN_EINVAL", line
    assert "is not allowed" in line["message"]


def test_localhost_is_allowed(probe, container):
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://localhost:{container.port}/creds"}
    line = probe.get(env=env, now=NOW)
    assert line["status"] == "KILN_OK", line


def test_container_comes_before_imds(probe, container, imds):
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": container.url + "/creds",
        "AWS_EC2_METADATA_DISABLED": None,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
    }
    line = probe.get(env=env, now=NOW)
    assert line["source"] == "container"
    assert imds.seen() == []


def test_refresh_with_injected_clock(probe, container):
    container.lifetime = 3600
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": container.url + "/creds"}
    lines = probe.lines(
        "get",
        "advance", 3600 - 601,  # 10 min 1 s left: cached
        "get",
        "advance", 1,  # 10 min left: refresh
        "get",
        env=env,
        now=NOW,
    )
    ids = [line["access_key_id"] for line in lines]
    assert ids == [container.issued[0][0]] * 2 + [container.issued[1][0]]
    assert container.seen() == ["GET /creds", "GET /creds"]
