"""Image Builder component documents (AWSTOE's YAML schema).

A component's `data` is parsed and checked the way Image Builder does at
CreateComponent: it must be YAML, a mapping, schemaVersion 1.0, phases
named build/validate/test with uniquely named steps whose actions AWSTOE
knows. What the document declares as parameters is returned, so recipes
can be checked against it.
"""

import re

import yaml

ACTIONS = frozenset("""
AppendFile Assert CopyFile CopyFolder CreateFile CreateFolder CreateSymlink
DeleteFile DeleteFolder ExecuteBash ExecuteBinary ExecuteDocument
ExecutePowerShell InstallMSI ListFiles MoveFile MoveFolder ReadFile Reboot
S3Download S3Upload SetFileEncoding SetFileOwner SetFilePermissions
SetFolderOwner SetFolderPermissions SetRegistry UninstallMSI UpdateOS
WebDownload
""".split())
PHASES = ("build", "validate", "test")
TOP_KEYS = {"name", "description", "schemaVersion", "parameters", "constants", "phases"}
STEP_KEYS = {"name", "action", "inputs", "timeoutSeconds", "onFailure", "maxAttempts",
             "if", "loop"}
PARAM_TYPES = ("string", "integer", "boolean", "stringList")
STEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class DocumentError(ValueError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML with duplicate keys is ambiguous; AWSTOE rejects it."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise DocumentError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_mapping)


def parse(data):
    """Returns {parameter name: declaration}; raises DocumentError."""
    try:
        doc = yaml.load(data, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        raise DocumentError(f"Failed to parse the document as YAML: {e}".replace("\n", " "))
    if not isinstance(doc, dict):
        raise DocumentError("The document must be a YAML mapping.")
    unknown = set(doc) - TOP_KEYS
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise DocumentError(f"Unknown top-level properties: {names}.")
    if str(doc.get("schemaVersion")) != "1.0":
        raise DocumentError("schemaVersion must be 1.0.")
    params = _parameters(doc.get("parameters"))
    phases = doc.get("phases")
    if not isinstance(phases, list) or not phases:
        raise DocumentError("phases must be a non-empty list.")
    seen = set()
    for i, phase in enumerate(phases):
        _phase(phase, i, seen)
    return params


def _parameters(params):
    if params is None:
        return {}
    if not isinstance(params, list):
        raise DocumentError("parameters must be a list.")
    out = {}
    for p in params:
        if not isinstance(p, dict) or len(p) != 1:
            raise DocumentError("each parameter must be a mapping of one name to its properties.")
        (name, decl), = p.items()
        if not isinstance(decl, dict) or decl.get("type") not in PARAM_TYPES:
            raise DocumentError(
                f"parameter {name!r} needs a type, one of {', '.join(PARAM_TYPES)}.")
        out[str(name)] = decl
    return out


def _phase(phase, i, seen):
    if not isinstance(phase, dict):
        raise DocumentError(f"phases[{i}] must be a mapping.")
    name = phase.get("name")
    if name not in PHASES:
        raise DocumentError(f"phases[{i}].name must be one of {', '.join(PHASES)}, not {name!r}.")
    if name in seen:
        raise DocumentError(f"phase {name!r} appears more than once.")
    seen.add(name)
    steps = phase.get("steps")
    if not isinstance(steps, list) or not steps:
        raise DocumentError(f"phase {name!r} must have a non-empty list of steps.")
    step_names = set()
    for j, step in enumerate(steps):
        where = f"phase {name!r} step {j + 1}"
        if not isinstance(step, dict):
            raise DocumentError(f"{where} must be a mapping.")
        unknown = set(step) - STEP_KEYS
        if unknown:
            names = ", ".join(sorted(map(str, unknown)))
            raise DocumentError(f"{where} has unknown properties: {names}.")
        sname = step.get("name")
        if not isinstance(sname, str) or not STEP_NAME.match(sname):
            raise DocumentError(f"{where} needs a name of letters, digits, '-' and '_'.")
        if sname in step_names:
            raise DocumentError(f"step name {sname!r} appears more than once in phase {name!r}.")
        step_names.add(sname)
        if step.get("action") not in ACTIONS:
            raise DocumentError(f"step {sname!r} has an unknown action {step.get('action')!r}.")
        if step.get("onFailure", "Abort") not in ("Abort", "Continue", "Ignore"):
            raise DocumentError(f"step {sname!r}: onFailure must be Abort, Continue or Ignore.")
