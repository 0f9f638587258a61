"""manifests/app.schema.json and kiln validate must agree.

Every seed-repo spec file validates against the JSON Schema with a standard
validator and with kiln validate; and broken variants that JSON Schema can
express are rejected by both, so the two cannot drift apart.
"""
import json
import shutil

import jsonschema
import pytest
import yaml

from kiln_cli import REPO_ROOT, SEED_REPO, run_kiln
from test_validate import VARIANTS

SCHEMA = json.loads((REPO_ROOT / "manifests" / "app.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

# Variants whose problem JSON Schema can express (the rest need files,
# cross-field arithmetic or YAML-level checks only kiln validate makes, such
# as YAML 1.1 booleans like `yes`, which a YAML loader hands over as true).
SCHEMA_EXPRESSIBLE = {
    "unknown-top-key", "unknown-lt-key", "unknown-nested-key", "wrong-api-version",
    "wrong-kind", "missing-version", "version-float", "version-bad-chars",
    "negative-min", "integer-overflow", "int32-overflow", "quoted-integer",
    "min-healthy-range", "max-healthy-range", "negative-warmup",
    "bad-drift", "bad-region", "bad-ami", "bad-parent", "bad-component-arn",
    "component-arn-version", "file-and-arn", "unknown-expansion",
    "expansion-elsewhere", "bad-subnet", "duplicate-subnet", "bad-sg",
    "bad-instance-type", "bad-lt-name", "bad-asg-name", "aws-tag", "kiln-tag",
    "too-many-tags", "numeric-tag-value", "bad-volume-type", "bad-device",
    "imds-optional-typo", "dotdot-path", "absolute-path",
    "defaults-bad-region", "defaults-unknown-key",
}


def spec_files(root):
    files = [root / "kiln.yaml"] if (root / "kiln.yaml").exists() else []
    return files + sorted(root.glob("apps/*/app.yaml"))


def schema_errors(path):
    return list(VALIDATOR.iter_errors(yaml.safe_load(path.read_text())))


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_seed_repo_files_declare_and_pass_the_schema():
    files = spec_files(SEED_REPO)
    assert len(files) >= 2
    for f in files:
        first = f.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), f
        assert schema_errors(f) == [], f
    assert run_kiln("validate", SEED_REPO).returncode == 0


def test_every_expressible_variant_is_known():
    ids = {v[0] for v in VARIANTS}
    assert SCHEMA_EXPRESSIBLE <= ids


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v[0] in SCHEMA_EXPRESSIBLE],
                         ids=lambda v: v[0])
def test_schema_and_kiln_both_reject(tmp_path, variant):
    name, mutate, file, _line, _needle = variant
    root = tmp_path / "repo"
    shutil.copytree(SEED_REPO, root, symlinks=True)
    mutate(root)
    assert run_kiln("validate", root).returncode == 1
    assert schema_errors(root / file), f"{name}: the schema accepts what kiln rejects"
