"""kiln validate on the seed repository and on hand-made broken variants.

Each variant copies seed-repo, breaks one thing, and expects exit 1 with an
error naming the right file and line and saying why.
"""
import json
import os
import re
import shutil

import pytest

from kiln_cli import SEED_REPO, run_kiln, without_environments

APP = "apps/hello/app.yaml"
COMP = "apps/hello/components/app.yaml"
UD = "apps/hello/userdata.sh"


def replace(path, old, new):
    def mutate(root):
        p = root / path
        text = p.read_text()
        assert old in text, f"{old!r} not in {path}"
        p.write_text(text.replace(old, new, 1))
    return mutate


def write(path, content):
    def mutate(root):
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    return mutate


def symlink(path, target):
    def mutate(root):
        p = root / path
        p.unlink()
        os.symlink(target, p)
    return mutate


def oversized_component(root):
    p = root / COMP
    p.write_text(p.read_text() + "# padding\n" * 2000)


def alias_bomb(root):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (root / APP).write_text("\n".join(lines) + "\n")


def copy_app(name):
    def mutate(root):
        shutil.copytree(root / "apps/hello", root / f"apps/{name}")
    return mutate


# (id, mutation, file, line, message fragment)
VARIANTS = [
    ("unknown-top-key", replace(APP, "drift: correct", "drfit: correct"), APP, 59, "did you mean 'drift'"),
    ("unknown-lt-key", replace(APP, "  instanceType: t3.micro", "  instancetype: t3.micro"), APP, 21, "did you mean 'instanceType'"),
    ("unknown-nested-key", replace(APP, "type: gp3,", "kind: gp3,"), APP, 26, "unknown key 'kind'"),
    ("wrong-api-version", replace(APP, "apiVersion: kiln.dev/v1", "apiVersion: kiln.dev/v2"), APP, 5, "not supported"),
    ("wrong-kind", replace(APP, "kind: App", "kind: Defaults"), APP, 6, "expected 'App'"),
    ("missing-version", replace(APP, 'version: "0.1.0"\n', ""), APP, 5, "version: required key is missing"),
    ("version-float", replace(APP, 'version: "0.1.0"', "version: 1.10"), APP, 8, "got the number 1.10"),
    ("version-bad-chars", replace(APP, 'version: "0.1.0"', 'version: "0.1 beta"'), APP, 8, "invalid version"),
    ("duplicate-key", replace(APP, "  min: 0", "  min: 0\n  min: 1"), APP, 33, "duplicate key 'min'"),
    ("min-gt-max", replace(APP, "  min: 0", "  min: 5"), APP, 32, "greater than max"),
    ("desired-gt-max", replace(APP, "  desired: 1", "  desired: 4"), APP, 34, "greater than max"),
    ("desired-lt-min", replace(APP, "  min: 0", "  min: 2"), APP, 34, "less than min"),
    ("negative-min", replace(APP, "  min: 0", "  min: -1"), APP, 32, "out of range"),
    ("integer-overflow", replace(APP, "  max: 3", "  max: 92233720368547758070"), APP, 33, "out of range"),
    ("int32-overflow", replace(APP, "  max: 3", "  max: 4294967296"), APP, 33, "out of range"),
    ("quoted-integer", replace(APP, "  max: 3", '  max: "3"'), APP, 33, "expected an integer"),
    ("octal-looking", replace(APP, "  max: 3", "  max: 010"), APP, 33, "leading zero"),
    ("min-healthy-range", replace(APP, "minHealthyPercent: 100", "minHealthyPercent: 101"), APP, 45, "out of range"),
    ("max-healthy-range", replace(APP, "maxHealthyPercent: 200", "maxHealthyPercent: 99"), APP, 46, "out of range"),
    ("healthy-spread", replace(APP, "minHealthyPercent: 100", "minHealthyPercent: 90"), APP, 46, "must not exceed 100"),
    ("negative-warmup", replace(APP, "warmupSeconds: 120", "warmupSeconds: -5"), APP, 47, "out of range"),
    ("bool-yes", replace(APP, "skipMatching: true", "skipMatching: yes"), APP, 48, "write true or false"),
    ("bad-drift", replace(APP, "drift: correct", "drift: fix"), APP, 59, "'correct' or 'report'"),
    ("bad-region", replace(APP, "name: hello", "name: hello\nregion: mars-1"), APP, 8, "invalid region"),
    ("bad-ami", replace(APP, "parent: ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", "parent: ami-12345"), APP, 12, "invalid AMI id"),
    ("bad-ssm", replace(APP, "ssm:/aws/service/", "ssm:/aws//service/"), APP, 12, "invalid SSM parameter"),
    ("bad-parent", replace(APP, "parent: ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", "parent: ubuntu-latest"), APP, 12, "must be ssm:<parameter>"),
    ("bad-component-arn", replace(APP, "arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x", "arn:aws:s3:::bucket/key"), APP, 18, "invalid component ARN"),
    ("component-arn-region", replace(APP, "imagebuilder:us-east-1:aws", "imagebuilder:eu-west-1:aws"), APP, 18, "region eu-west-1 but the image is baked in us-east-1"),
    ("component-arn-version", replace(APP, "update-linux/x.x.x", "update-linux/latest"), APP, 18, "semantic version"),
    ("file-and-arn", replace(APP, "    - file: components/app.yaml", "    - file: components/app.yaml\n      arn: arn:aws:imagebuilder:us-east-1:aws:component/x/1.0.0"), APP, 14, "both 'file' and 'arn'"),
    ("unknown-expansion", replace(APP, "hello-${version}.jar", "hello-${commit}.jar"), APP, 16, "unknown expansion"),
    ("expansion-elsewhere", replace(APP, "    Application: hello", "    Application: hello-${version}"), APP, 28, "not expanded here"),
    ("bad-subnet", replace(APP, "subnet-0f1e2d3c4b5a69788", "subnet-xyz"), APP, 31, "invalid subnet id"),
    ("duplicate-subnet", replace(APP, "subnet-0f1e2d3c4b5a69788", "subnet-0a1b2c3d4e5f60718"), APP, 31, "listed twice"),
    ("bad-sg", replace(APP, "[sg-0a1b2c3d4e5f60718]", "[sg-1]"), APP, 23, "invalid security group id"),
    ("bad-instance-type", replace(APP, "instanceType: t3.micro", "instanceType: t3micro"), APP, 21, "invalid instance type"),
    ("bad-lt-name", replace(APP, "  instanceType: t3.micro", "  name: \"x\"\n  instanceType: t3.micro"), APP, 21, "invalid launch template name"),
    ("bad-asg-name", replace(APP, "  subnets: [", "  name: \"a:b\"\n  subnets: ["), APP, 31, "invalid group name"),
    ("aws-tag", replace(APP, "    Application: hello", "    aws:cloudformation: hello"), APP, 28, "AWS reserves"),
    ("kiln-tag", replace(APP, "    Application: hello", "    kiln:app: hello"), APP, 28, "Kiln reserves"),
    ("too-many-tags", replace(APP, "    Application: hello", "\n".join(f"    T{i}: v" for i in range(48))), APP, 28, "at most 47"),
    ("numeric-tag-value", replace(APP, "    Application: hello", "    Application: 42"), APP, 28, "quote it"),
    ("bad-volume-type", replace(APP, "type: gp3", "type: gp9"), APP, 26, "unknown volume type"),
    ("volume-too-big", replace(APP, "sizeGiB: 8", "sizeGiB: 20000"), APP, 26, "out of range"),
    ("bad-device", replace(APP, "device: /dev/xvda", "device: xvda"), APP, 26, "invalid device name"),
    ("imds-optional-typo", replace(APP, "  tags:\n    Application", "  metadata: {httpTokens: maybe}\n  tags:\n    Application"), APP, 27, "must be 'required'"),
    ("missing-component-file", replace(APP, "file: components/app.yaml", "file: components/nope.yaml"), APP, 14, "does not exist"),
    ("dotdot-path", replace(APP, "file: components/app.yaml", "file: ../../kiln.yaml"), APP, 14, "may not contain '..'"),
    ("absolute-path", replace(APP, "file: components/app.yaml", "file: /etc/passwd"), APP, 14, "not absolute"),
    ("symlink-escape", symlink(UD, "/etc/hostname"), APP, 22, "leads outside the repository"),
    ("userdata-dir", replace(APP, "userData: userdata.sh", "userData: components"), APP, 22, "not a regular file"),
    ("userdata-too-big", write(UD, "#" * (16 * 1024 + 1)), APP, 22, "larger than 16384 bytes"),
    ("component-too-big", oversized_component, APP, 14, "larger than 16000 bytes"),
    ("component-no-phases", write(COMP, "name: x\nschemaVersion: 1.0\n"), COMP, 1, "no 'phases'"),
    ("component-bad-yaml", write(COMP, "name: x\nphases: [\n"), COMP, 3, "YAML syntax error"),
    ("tabs", replace(APP, "  min: 0", "\tmin: 0"), APP, 32, "tab character"),
    ("nul-byte", write(APP, b"apiVersion: kiln.dev/v1\nkind: App\x00\n"), APP, 2, "NUL byte"),
    ("latin1", write(APP, b"apiVersion: kiln.dev/v1\nname: caf\xe9\n"), APP, 2, "not valid UTF-8"),
    ("two-documents", write(APP, "apiVersion: kiln.dev/v1\n---\nkind: App\n"), APP, 2, "more than one YAML document"),
    ("alias-bomb", alias_bomb, APP, 1, "anchors and aliases"),
    ("yaml-syntax", replace(APP, "  max: 3", "  max: [3"), APP, 34, "YAML syntax error"),
    ("not-a-mapping", write(APP, "- a\n- b\n"), APP, 1, "expected a mapping"),
    ("empty-file", write(APP, ""), APP, 1, "file is empty"),
    ("oversized-app", write(APP, "# x\n" * 20000), APP, 0, "larger than 65536 bytes"),
    ("missing-app-yaml", write("apps/empty/README", "x"), "apps/empty/app.yaml", 0, "has no app.yaml"),
    ("duplicate-app-name", copy_app("hello2"), "apps/hello2/app.yaml", 0, "app name 'hello' is also used"),
    ("defaults-bad-region", replace("kiln.yaml", "region: us-east-1", "region: us_east_1"), "kiln.yaml", 5, "invalid region"),
    ("defaults-unknown-key", replace("kiln.yaml", "tags:", "tgas:"), "kiln.yaml", 6, "did you mean 'tags'"),
    ("missing-instance-profile", replace("kiln.yaml", "    instanceProfile: kiln-image-builder\n", ""), APP, 12, "instanceProfile: required"),
]


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(SEED_REPO, root, symlinks=True)
    app = root / "apps/hello/app.yaml"
    app.write_text(without_environments(app.read_text()))
    return root


def test_seed_repo_is_valid():
    r = run_kiln("validate", SEED_REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "valid (1 app, 2 deployment targets)" in r.stdout


def test_there_are_at_least_40_variants():
    assert len(VARIANTS) >= 40
    assert len({v[0] for v in VARIANTS}) == len(VARIANTS)


@pytest.mark.parametrize("name,mutate,file,line,needle", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_broken_variant(repo, name, mutate, file, line, needle):
    mutate(repo)
    r = run_kiln("validate", repo)
    assert r.returncode == 1, r.stdout + r.stderr
    if line:
        pattern = re.compile(rf"^{re.escape(file)}:{line}:\d+: error: .*{re.escape(needle)}", re.M)
    else:
        pattern = re.compile(rf"^{re.escape(file)}(:\d+:\d+)?: error: .*{re.escape(needle)}", re.M)
    assert pattern.search(r.stdout), f"wanted {file}:{line}: ...{needle}... in:\n{r.stdout}"


def test_every_error_of_a_file_is_reported(repo):
    replace(APP, "  min: 0", "  min: 5")(repo)
    replace(APP, "instanceType: t3.micro", "instanceType: micro")(repo)
    replace(APP, "drift: correct", "drift: never")(repo)
    r = run_kiln("validate", repo)
    assert r.returncode == 1
    errors = [l for l in r.stdout.splitlines() if ": error: " in l]
    assert len(errors) >= 3, r.stdout


def test_json_format(repo):
    replace(APP, "  min: 0", "  min: 5")(repo)
    r = run_kiln("validate", "--format", "json", repo)
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["valid"] is False
    assert doc["apps"] == [{"name": "hello", "file": APP, "valid": False}]
    err = doc["errors"][0]
    assert err["file"] == APP and err["line"] == 32 and err["app"] == "hello"
    assert "greater than max" in err["message"]


def test_one_invalid_app_does_not_hide_the_valid_one(repo):
    copy_app("world")(repo)
    replace("apps/world/app.yaml", "name: hello", "name: world")(repo)
    replace("apps/world/app.yaml", "  min: 0", "  min: 9")(repo)
    r = run_kiln("validate", "--format", "json", repo)
    assert r.returncode == 1
    apps = {a["name"]: a["valid"] for a in json.loads(r.stdout)["apps"]}
    assert apps == {"hello": True, "world": False}


def test_usage_errors_and_help():
    r = run_kiln("validate", "--help")
    assert r.returncode == 0 and "Usage: kiln validate" in r.stdout
    r = run_kiln("validate", "--format", "yaml", SEED_REPO)
    assert r.returncode == 64 and "--format" in r.stderr
    r = run_kiln("validate", "/nonexistent/dir")
    assert r.returncode == 1 and "not a readable directory" in r.stderr
    r = run_kiln("--help")
    assert r.returncode == 0 and "validate" in r.stdout
    r = run_kiln("frobnicate")
    assert r.returncode == 64
