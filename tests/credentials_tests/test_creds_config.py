"""Configuration resolution from real files and a real environment: the
chain's order, profiles, region, retry settings and endpoints."""

import pytest


def write(probe, config="", credentials=""):
    (probe.home / ".aws" / "config").write_text(config)
    (probe.home / ".aws" / "credentials").write_text(credentials)


def config(probe, env):
    (doc,) = probe.lines("config", env=env)
    return doc


def test_env_beats_profile_beats_nothing(probe):
    write(probe, credentials="[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = p\n")
    env_keys = {"AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "e"}
    assert probe.get(env=env_keys)["source"] == "env"
    assert probe.get()["source"] == "profile default"
    write(probe)
    assert probe.get()["status"] == "KILN_ECREDENTIALS"


def test_explicit_files_and_profile(probe, tmp_path):
    cfg = tmp_path / "cfg"
    creds = tmp_path / "creds"
    cfg.write_text(
        "; comment\n[profile ops]  # trailing comment\nregion = ap-northeast-1\n"
        "s3 =\n  region = nested-is-ignored\nmax_attempts = 6\nretry_mode = adaptive\n"
    )
    creds.write_text("[ops]\r\naws_access_key_id = AKIAOPS\r\naws_secret_access_key = x\r\n")
    env = {"AWS_CONFIG_FILE": str(cfg), "AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_PROFILE": "ops"}
    line = probe.get(env=env)
    assert line["status"] == "KILN_OK", line
    assert line["access_key_id"] == "AKIAOPS"
    assert line["source"] == "profile ops"
    doc = config(probe, env)
    assert doc["region"] == "ap-northeast-1"
    assert doc["max_attempts"] == 6
    assert doc["retry_mode"] == "adaptive"


def test_malformed_file_names_the_line(probe):
    write(probe, config="[default]\nregion = us-east-1\nthis line is wrong\n")
    line = probe.get()
    assert line["status"] == "KILN_EPARSE"
    assert "/.aws/config:3: malformed line" in line["message"]


def test_oversized_file_is_refused(probe):
    write(probe, config="#" * (1024 * 1024 + 1))
    assert probe.get()["status"] == "KILN_ETOOBIG"


def test_endpoint_precedence(probe):
    write(
        probe,
        config="""
[default]
region = us-west-2
endpoint_url = http://127.0.0.1:4000
services = local
ca_bundle = /profile/ca.pem
[services local]
ssm =
  endpoint_url = http://127.0.0.1:4001
auto_scaling =
  endpoint_url = http://127.0.0.1:4002
""",
    )
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "AWS_ENDPOINT_URL_AUTO_SCALING": "http://127.0.0.1:5001/",
        "AWS_CA_BUNDLE": "/env/ca.pem",
    }
    eps = config(probe, env)["endpoints"]
    assert eps["autoscaling"]["url"] == "http://127.0.0.1:5001"
    assert eps["autoscaling"]["source"] == "AWS_ENDPOINT_URL_AUTO_SCALING"
    assert eps["ssm"]["url"] == "http://127.0.0.1:5000"  # the global env var wins
    assert eps["ec2"]["source"] == "AWS_ENDPOINT_URL"
    assert config(probe, env)["ca_bundle"] == "/env/ca.pem"

    eps = config(probe, {})["endpoints"]
    assert eps["ssm"]["url"] == "http://127.0.0.1:4001"
    assert eps["ssm"]["source"] == "services section"
    assert eps["autoscaling"]["url"] == "http://127.0.0.1:4002"
    assert eps["ec2"]["url"] == "http://127.0.0.1:4000"
    assert eps["ec2"]["source"] == "profile endpoint_url"
    assert config(probe, {})["ca_bundle"] == "/profile/ca.pem"

    eps = config(probe, {**env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"})["endpoints"]
    assert eps["ssm"]["url"] == "https://ssm.us-west-2.amazonaws.com"


@pytest.mark.parametrize(
    "region,suffix",
    [("us-east-1", "amazonaws.com"), ("cn-north-1", "amazonaws.com.cn"), ("us-gov-west-1", "amazonaws.com")],
)
def test_partition_dns_suffix(probe, region, suffix):
    eps = config(probe, {"AWS_REGION": region})["endpoints"]
    for prefix in ["ec2", "autoscaling", "imagebuilder", "ssm", "sts"]:
        assert eps[prefix]["url"] == f"https://{prefix}.{region}.{suffix}"
        assert eps[prefix]["signing_name"] == prefix


def test_region_order(probe):
    write(probe, config="[default]\nregion = eu-central-1\n")
    assert config(probe, {})["region"] == "eu-central-1"
    assert config(probe, {"AWS_DEFAULT_REGION": "eu-north-1"})["region"] == "eu-north-1"
    both = {"AWS_DEFAULT_REGION": "eu-north-1", "AWS_REGION": "sa-east-1"}
    assert config(probe, both)["region"] == "sa-east-1"


def test_bad_settings_are_errors(probe):
    line = probe.get(env={"AWS_MAX_ATTEMPTS": "0"})
    assert line["status"] == "KILN_EINVAL"
    assert "AWS_MAX_ATTEMPTS" in line["message"]
    line = probe.get(env={"AWS_RETRY_MODE": "yolo"})
    assert line["status"] == "KILN_EINVAL"
