"""Kiln's SigV4 signer against an independent oracle: botocore's SigV4Auth.

Requests are generated (seeded, so failures reproduce) across the four
protocols Kiln speaks -- EC2 query, Auto Scaling query, JSON 1.1 and
REST-JSON -- with odd paths, query strings, UTF-8, repeated and padded
headers, empty and binary bodies, with and without session tokens. Each one
is signed by botocore and by Kiln (tests/aws_tests/kiln_sigv4_oracle.c) and
the canonical request, string to sign, signature and Authorization header
must be byte-identical.
"""

import datetime
import json
import os
import pathlib
import random
import subprocess
from urllib.parse import quote, urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import sigv4_gen

REPO = pathlib.Path(__file__).resolve().parents[2]
COUNT = 400


def build_dir():
    if os.environ.get("KILN_BUILD_DIR"):
        return pathlib.Path(os.environ["KILN_BUILD_DIR"])
    if os.environ.get("KILN_BIN"):
        # KILN_BIN is BUILD/controller/kiln.
        return pathlib.Path(os.environ["KILN_BIN"]).resolve().parents[1]
    return REPO / "build"


def oracle_binary():
    path = build_dir() / "tests" / "aws_tests" / "kiln-sigv4-oracle"
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/build build first")
    return path


def botocore_sign(r):
    req = AWSRequest(method=r["method"], url=r["url"], data=r["body"])
    for name, value in r["headers"]:
        # HTTPHeaders appends on assignment: repeated names stay repeated.
        req.headers[name] = value
    creds = Credentials(r["access_key"], r["secret_key"], r["token"] or None)
    auth = SigV4Auth(creds, r["service"], r["region"])
    when = datetime.datetime.fromtimestamp(r["time"], datetime.timezone.utc)
    # The stages of SigV4Auth.add_auth, with the time passed in.
    req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    auth._modify_request_before_signing(req)
    cr = auth.canonical_request(req)
    sts = auth.string_to_sign(req, cr)
    sig = auth.signature(sts, req)
    auth._inject_signature_to_request(req, sig)
    return {
        "canonical_request": cr,
        "string_to_sign": sts,
        "signature": sig,
        "authorization": req.headers["Authorization"],
        "amz_date": req.headers["X-Amz-Date"],
    }


def kiln_sign(requests):
    lines = []
    for r in requests:
        lines.append(
            json.dumps(
                {
                    "method": r["method"],
                    "host": r["host"],
                    "path": r["path"],
                    "query": r["query"],
                    "headers": r["headers"],
                    "body_hex": r["body"].hex(),
                    "access_key": r["access_key"],
                    "secret_key": r["secret_key"],
                    "token": r["token"],
                    "region": r["region"],
                    "service": r["service"],
                    "time": r["time"],
                },
                ensure_ascii=False,
            )
        )
    out = subprocess.run(
        [str(oracle_binary())],
        input=("\n".join(lines) + "\n").encode("utf-8"),
        capture_output=True,
        check=True,
        timeout=60,
    )
    results = [json.loads(l) for l in out.stdout.decode("utf-8").splitlines()]
    assert len(results) == len(requests)
    return results


@pytest.fixture(scope="module")
def generated():
    requests = sigv4_gen.generate(random.Random(20240607), COUNT)
    return requests, kiln_sign(requests)


def test_generator_covers_the_issue(generated):
    requests, _ = generated
    assert len(requests) >= 300
    protocols = {p: 0 for p in sigv4_gen.PROTOCOLS}
    for r in requests:
        protocols[r["protocol"]] += 1
    assert min(protocols.values()) >= 60, protocols
    def count(pred):
        return sum(1 for r in requests if pred(r))
    assert count(lambda r: r["token"]) >= 100
    assert count(lambda r: not r["token"]) >= 100
    assert count(lambda r: not r["body"]) >= 30
    assert count(lambda r: sigv4_gen.is_binary(r["body"])) >= 30
    assert count(lambda r: r["query"]) >= 50
    assert count(lambda r: any(ord(c) > 127 for c in r["raw_text"])) >= 100
    assert count(lambda r: sigv4_gen.has_repeated_header(r)) >= 50
    assert count(lambda r: sigv4_gen.has_padded_header(r)) >= 50
    assert count(lambda r: sigv4_gen.has_odd_path(r)) >= 40


def test_kiln_matches_botocore(generated):
    requests, results = generated
    mismatches = []
    for i, (r, got) in enumerate(zip(requests, results)):
        want = botocore_sign(r)
        if got != want:
            mismatches.append((i, r, want, got))
    if mismatches:
        i, r, want, got = mismatches[0]
        pytest.fail(
            f"{len(mismatches)} of {len(requests)} differ; first #{i}:\n"
            f"request: {r!r}\nbotocore: {json.dumps(want, indent=1)}\n"
            f"kiln: {json.dumps(got, indent=1)}"
        )


def test_signatures_depend_on_every_input(generated):
    # Guards the comparison itself: a change to any signed input must
    # change Kiln's signature.
    requests, results = generated
    base = dict(requests[0])
    variants = [
        dict(base, time=base["time"] + 1),
        dict(base, region="eu-west-3"),
        dict(base, body=base["body"] + b"x"),
        dict(base, headers=base["headers"] + [["X-Extra", "1"]]),
        dict(base, token="other-token"),
        dict(base, secret_key=base["secret_key"] + "x"),
    ]
    sigs = {r["signature"] for r in kiln_sign([base] + variants)}
    assert len(sigs) == len(variants) + 1
