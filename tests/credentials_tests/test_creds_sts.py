"""Roles through STS against a real local server that checks SigV4 with
botocore's signer: AssumeRole from profiles (source_profile chains,
credential_source), web identity (unsigned), GetCallerIdentity and
whoami."""

import json

from creds_servers import ACCOUNT, sha256

NOW = 1_700_000_000
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deployer"


def write(probe, config="", credentials=""):
    (probe.home / ".aws" / "config").write_text(config)
    (probe.home / ".aws" / "credentials").write_text(credentials)


def sts_env(sts, **extra):
    env = {"AWS_ENDPOINT_URL_STS": sts.url, "AWS_REGION": "eu-west-1"}
    env.update(extra)
    return env


def test_assume_role_from_source_profile(probe, sts):
    sts.add_key("AKIABASE", "base-secret")
    write(
        probe,
        config=f"""
[profile deploy]
role_arn = {ROLE}
source_profile = base
role_session_name = kiln-test
external_id = ext-123
duration_seconds = 1800
""",
        credentials="""
# the long-term keys
[base]
aws_access_key_id = AKIABASE
aws_secret_access_key = base-secret
""",
    )
    line = probe.get(env=sts_env(sts, AWS_PROFILE="deploy"), now=NOW)
    assert line["status"] == "KILN_OK", line
    assert line["source"] == f"assume-role {ROLE} via profile base"
    assert line["access_key_id"] == "ASIASTS000000001"
    assert line["secret_sha256"] == sha256("sts-secret-1")
    assert line["token_sha256"] == sha256("sts-session-1")
    assert line["account_id"] == ACCOUNT
    assert line["expiration_ms"] == (NOW + 1800) * 1000
    ((action, form, signer),) = sts.calls
    assert action == "AssumeRole"
    assert signer == "AKIABASE"  # the signature checked out
    assert form["RoleArn"] == ROLE
    assert form["RoleSessionName"] == "kiln-test"
    assert form["ExternalId"] == "ext-123"
    assert form["DurationSeconds"] == "1800"
    assert sts.last_region == "eu-west-1"


def test_role_chain_signs_with_temporary_credentials(probe, sts):
    sts.add_key("AKIAROOT", "root-secret")
    write(
        probe,
        config=f"""
[profile top]
role_arn = arn:aws:iam::{ACCOUNT}:role/top
source_profile = middle
[profile middle]
role_arn = arn:aws:iam::{ACCOUNT}:role/middle
source_profile = root
[profile root]
aws_access_key_id = AKIAROOT
aws_secret_access_key = root-secret
""",
    )
    line = probe.get(env=sts_env(sts, AWS_PROFILE="top"), now=NOW)
    assert line["status"] == "KILN_OK", line
    assert line["source"] == (
        f"assume-role arn:aws:iam::{ACCOUNT}:role/top via "
        f"assume-role arn:aws:iam::{ACCOUNT}:role/middle via profile root"
    )
    assert [(a, f["RoleArn"].rsplit("/")[-1], s) for a, f, s in sts.calls] == [
        ("AssumeRole", "middle", "AKIAROOT"),
        # Signed with the first role's keys and its session token.
        ("AssumeRole", "top", "ASIASTS000000001"),
    ]
    assert sts.requests[1].headers["X-Amz-Security-Token"] == "sts-session-1"


def test_self_referencing_source_profile_uses_its_keys(probe, sts):
    sts.add_key("AKIASELF", "self-secret")
    write(
        probe,
        credentials=f"""
[default]
aws_access_key_id = AKIASELF
aws_secret_access_key = self-secret
role_arn = {ROLE}
source_profile = default
""",
    )
    line = probe.get(env=sts_env(sts), now=NOW)
    assert line["status"] == "KILN_OK", line
    assert line["source"] == f"assume-role {ROLE} via profile default"
    assert [s for _, _, s in sts.calls] == ["AKIASELF"]


def test_source_profile_loop_from_real_files(probe, sts):
    write(
        probe,
        config=f"""
[profile a]
role_arn = {ROLE}
source_profile = b
[profile b]
role_arn = {ROLE}
source_profile = a
""",
    )
    line = probe.get(env=sts_env(sts, AWS_PROFILE="a"), now=NOW)
    assert line["status"] == "KILN_EINVAL", line
    assert "source_profile loop: a -> b -> a" in line["message"]
    assert sts.calls == []


def test_credential_source_environment(probe, sts):
    sts.add_key("AKIAENV", "env-secret")
    write(probe, config=f"[default]\nrole_arn = {ROLE}\ncredential_source = Environment\n")
    env = sts_env(sts, AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="env-secret")
    line = probe.get(provider="profile", env=env, now=NOW)
    assert line["status"] == "KILN_OK", line
    assert line["source"] == f"assume-role {ROLE} via env"
    assert [s for _, _, s in sts.calls] == ["AKIAENV"]


def test_credential_source_imds(probe, sts, imds):
    imds.now = NOW
    write(probe, config=f"[default]\nrole_arn = {ROLE}\ncredential_source = Ec2InstanceMetadata\n")
    original = imds.handle

    def register(req):
        status, headers, body = original(req)
        if imds.issued and imds.issued[-1][0] not in sts.keys:
            akid, secret, token = imds.issued[-1]
            sts.add_key(akid, secret, token)
        return status, headers, body

    imds.handle = register
    env = sts_env(sts, AWS_EC2_METADATA_DISABLED=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url)
    line = probe.get(env=env, now=NOW)
    assert line["status"] == "KILN_OK", line
    assert line["source"] == f"assume-role {ROLE} via imds kiln-role"
    assert [s for _, _, s in sts.calls] == [imds.issued[0][0]]


def test_access_denied_is_reported(probe, sts):
    sts.add_key("AKIABASE", "base-secret")
    write(
        probe,
        config=f"[default]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/denied\nsource_profile = base\n",
        credentials="[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = base-secret\n",
    )
    line = probe.get(env=sts_env(sts), now=NOW)
    assert line["status"] == "KILN_EAWS", line
    assert "AccessDenied" in line["message"]
    assert "req-error-1" in line["message"]
    assert "role/denied" in line["message"]


def test_wrong_secret_fails_signature_check(probe, sts):
    # Proves the server's signature check can fail: a wrong secret is refused.
    sts.add_key("AKIABASE", "the-real-secret")
    write(
        probe,
        config=f"[default]\nrole_arn = {ROLE}\nsource_profile = base\n",
        credentials="[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = wrong\n",
    )
    line = probe.get(env=sts_env(sts), now=NOW)
    assert line["status"] == "KILN_EAWS", line
    assert "SignatureDoesNotMatch" in line["message"]


def test_assumed_role_refreshes_before_expiry(probe, sts):
    sts.add_key("AKIABASE", "base-secret")
    write(
        probe,
        config=f"[default]\nrole_arn = {ROLE}\nsource_profile = base\n",
        credentials="[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = base-secret\n",
    )
    lines = probe.lines(
        "concurrent", 3,  # one AssumeRole for all three
        "advance", 3600 - 11 * 60,  # 11 min left: cached
        "get",
        "advance", 60,  # 10 min left: refresh
        "get",
        env=sts_env(sts),
        now=NOW,
    )
    ids = [line["access_key_id"] for line in lines]
    assert ids == ["ASIASTS000000001"] * 4 + ["ASIASTS000000002"]
    assert [a for a, _, _ in sts.calls] == ["AssumeRole", "AssumeRole"]


def test_web_identity_from_environment_is_unsigned(probe, sts, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("eyJhbGciOi.jwt.token\n")
    sts.web_identity_token = "eyJhbGciOi.jwt.token"
    env = sts_env(
        sts,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
        AWS_ROLE_ARN=ROLE,
        AWS_ROLE_SESSION_NAME="pod-1",
    )
    line = probe.get(env=env, now=NOW)
    assert line["status"] == "KILN_OK", line
    assert line["source"] == f"web-identity {ROLE}"
    ((action, form, signer),) = sts.calls
    assert action == "AssumeRoleWithWebIdentity"
    assert signer is None
    assert "Authorization" not in sts.requests[0].headers
    assert form["RoleSessionName"] == "pod-1"
    assert form["RoleArn"] == ROLE


def test_web_identity_token_file_is_reread_on_refresh(probe, sts, tmp_path):
    # The probe reads the token at each fetch; a wrong token is refused.
    token_file = tmp_path / "token"
    token_file.write_text("old-token")
    sts.web_identity_token = "new-token"
    env = sts_env(sts, AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file), AWS_ROLE_ARN=ROLE)
    line = probe.get(env=env, now=NOW)
    assert line["status"] == "KILN_EAWS", line
    assert "InvalidIdentityToken" in line["message"]
    token_file.write_text("new-token")
    line = probe.get(env=env, now=NOW)
    assert line["status"] == "KILN_OK", line


def test_web_identity_from_profile(probe, sts, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("profile-token")
    sts.web_identity_token = "profile-token"
    write(
        probe,
        config=f"[profile ci]\nrole_arn = {ROLE}\nweb_identity_token_file = {token_file}\n",
    )
    line = probe.get(env=sts_env(sts, AWS_PROFILE="ci"), now=NOW)
    assert line["status"] == "KILN_OK", line
    assert line["source"] == f"web-identity {ROLE}"


def test_profile_comes_before_web_identity_env(probe, sts, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("t")
    write(probe, credentials="[default]\naws_access_key_id = AKIAPROF\naws_secret_access_key = s\n")
    env = sts_env(sts, AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file), AWS_ROLE_ARN=ROLE)
    line = probe.get(env=env, now=NOW)
    assert line["source"] == "profile default"
    assert sts.calls == []


def test_whoami_text_and_json(probe, sts):
    sts.add_key("AKIAWHO", "who-secret", arn=f"arn:aws:iam::{ACCOUNT}:user/alice")
    env = sts_env(
        sts,
        AWS_ACCESS_KEY_ID="AKIAWHO",
        AWS_SECRET_ACCESS_KEY="who-secret",
        AWS_ENDPOINT_URL_EC2="http://127.0.0.1:1/",
    )
    text = probe.run("whoami", env=env, now=NOW).stdout
    assert "credentials:  env" in text
    assert f"account:      {ACCOUNT}" in text
    assert f"arn:aws:iam::{ACCOUNT}:user/alice" in text
    assert "region:       eu-west-1 (from AWS_REGION)" in text
    assert "http://127.0.0.1:1 (signing ec2/eu-west-1, AWS_ENDPOINT_URL_EC2)" in text
    assert "https://ssm.eu-west-1.amazonaws.com (signing ssm/eu-west-1, default)" in text
    assert "who-secret" not in text and "AKIAWHO" not in text

    (doc,) = [json.loads(x) for x in probe.run("whoami-json", env=env, now=NOW).stdout.splitlines()]
    assert doc["account"] == ACCOUNT
    assert doc["credentials"] == "env"
    assert doc["endpoints"]["sts"]["url"] == sts.url
    assert doc["endpoints"]["autoscaling"]["url"] == "https://autoscaling.eu-west-1.amazonaws.com"
    assert doc["endpoints"]["imagebuilder"]["signing_name"] == "imagebuilder"
    assert doc["error"] is None
    assert [a for a, _, _ in sts.calls] == ["GetCallerIdentity", "GetCallerIdentity"]
    assert all(s == "AKIAWHO" for _, _, s in sts.calls)


def test_whoami_of_an_assumed_role(probe, sts):
    sts.add_key("AKIABASE", "base-secret")
    write(
        probe,
        config=f"[default]\nrole_arn = {ROLE}\nsource_profile = base\nrole_session_name = me\n",
        credentials="[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = base-secret\n",
    )
    (doc,) = [json.loads(x) for x in probe.run("whoami-json", env=sts_env(sts), now=NOW).stdout.splitlines()]
    assert doc["credentials"] == f"assume-role {ROLE} via profile base"
    assert doc["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/me"
    assert doc["access_key"].startswith("ASIA")
    assert [(a, s) for a, _, s in sts.calls] == [
        ("AssumeRole", "AKIABASE"),
        ("GetCallerIdentity", "ASIASTS000000001"),
    ]


def test_whoami_reports_missing_credentials(probe):
    (doc,) = [json.loads(x) for x in probe.run("whoami-json", env={"AWS_REGION": "us-east-1"}).stdout.splitlines()]
    assert doc["credentials"] is None
    assert "no AWS credentials found" in doc["error"]
    assert doc["endpoints"]["ec2"]["url"] == "https://ec2.us-east-1.amazonaws.com"


def base_profile(probe, sts):
    sts.add_key("AKIABASE", "base-secret")
    write(
        probe,
        config=f"[default]\nrole_arn = {ROLE}\nsource_profile = base\n",
        credentials="[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = base-secret\n",
    )


def test_transient_sts_errors_are_retried_with_a_fresh_signature(probe, sts):
    base_profile(probe, sts)
    sts.fail_next = [(503, "ServiceUnavailable"), (400, "Throttling")]
    line = probe.get(env=sts_env(sts), now=NOW)
    assert line["status"] == "KILN_OK", line
    assert [s for _, _, s in sts.calls] == ["failed", "failed", "AKIABASE"]
    # Every attempt was signed (the last one was verified by the server).
    assert all("Authorization" in r.headers for r in sts.requests)


def test_retries_stop_at_max_attempts(probe, sts):
    base_profile(probe, sts)
    sts.fail_next = [(503, "ServiceUnavailable")] * 3
    line = probe.get(env=sts_env(sts, AWS_MAX_ATTEMPTS="2"), now=NOW)
    assert line["status"] == "KILN_EAWS", line
    assert "ServiceUnavailable" in line["message"]
    assert len(sts.calls) == 2


def test_client_errors_are_not_retried(probe, sts):
    base_profile(probe, sts)
    sts.fail_next = [(400, "ValidationError")]
    line = probe.get(env=sts_env(sts), now=NOW)
    assert line["status"] == "KILN_EAWS", line
    assert len(sts.calls) == 1
