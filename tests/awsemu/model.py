"""Requests checked against the botocore service models.

botocore ships the API contract AWS publishes for every service. Each
request is decoded into the operation's input structure by walking that
contract, which finds members the contract does not know, then validated:
required members, lengths, ranges and enums. Problems are returned, not
raised, so that each protocol can word the error the way its service does.
"""

import functools
import re

import botocore.session


class Problem:
    """One way a request breaks its contract. `kind` is "missing",
    "unknown", "type" or "constraint"; `path` names the member (the wire
    name for "unknown")."""

    def __init__(self, kind, path, value=None, constraint=None):
        self.kind = kind
        self.path = path
        self.value = value
        self.constraint = constraint

    def __repr__(self):
        return f"Problem({self.kind}, {self.path}, {self.value!r}, {self.constraint})"


@functools.lru_cache(maxsize=None)
def service_model(service):
    return _session().get_service_model(service)


@functools.lru_cache(maxsize=1)
def _session():
    return botocore.session.get_session()


def operation(service, action):
    """The botocore OperationModel, or None when the service has no such
    operation."""
    model = service_model(service)
    if action not in model.operation_names:
        return None
    return model.operation_model(action)


# ---------------------------------------------------------------- decoding


def _convert_scalar(shape, text, path, problems):
    t = shape.type_name
    try:
        if t in ("integer", "long"):
            return int(text)
        if t in ("float", "double"):
            return float(text)
        if t == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
    except ValueError:
        problems.append(Problem("type", path, text, t))
        return None
    return text


def _query_member_name(name, member, ec2):
    ser = member.serialization
    if ec2:
        if "queryName" in ser:
            return ser["queryName"]
        if "name" in ser:
            return ser["name"][0].upper() + ser["name"][1:]
        return name
    return ser.get("name", name)


def _trie(pairs):
    """Turns flat keys ("A.member.1.B") into a nested dict of segments; a
    leaf's value sits under the key None."""
    root = {}
    for key, value in pairs:
        node = root
        for seg in key.split("."):
            node = node.setdefault(seg, {})
        node[None] = value
    return root


def _indexed(node, wire, problems, path):
    items = []
    for seg, child in node.items():
        if seg is None:
            continue
        if not seg.isdigit() or int(seg) < 1:
            problems.append(Problem("unknown", f"{wire}.{seg}"))
            continue
        items.append((int(seg), child))
    return [child for _, child in sorted(items, key=lambda x: x[0])]


def _decode_query_node(shape, node, wire, path, ec2, problems):
    t = shape.type_name
    if t == "structure":
        out = {}
        by_wire = {_query_member_name(n, m, ec2): n for n, m in shape.members.items()}
        for seg, child in node.items():
            if seg is None:
                continue
            name = by_wire.get(seg)
            if name is None:
                problems.append(Problem("unknown", f"{wire}.{seg}" if wire else seg))
                continue
            out[name] = _decode_query_node(
                shape.members[name], child, f"{wire}.{seg}" if wire else seg,
                path + [name], ec2, problems)
        return out
    if t == "list":
        if ec2 or shape.serialization.get("flattened"):
            elements = _indexed(node, wire, problems, path)
        else:
            list_name = shape.member.serialization.get("name", "member")
            inner = {}
            for seg, child in node.items():
                if seg is None:
                    continue  # "Names=" is how an empty list is sent
                if seg != list_name:
                    problems.append(Problem("unknown", f"{wire}.{seg}"))
                    continue
                inner = child
            elements = _indexed(inner, f"{wire}.{list_name}", problems, path)
            wire = f"{wire}.{list_name}"
        return [
            _decode_query_node(shape.member, c, wire, path, ec2, problems) for c in elements
        ]
    if t == "map":
        entries = node if shape.serialization.get("flattened") else node.get("entry", {})
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out = {}
        for entry in _indexed(entries, wire, problems, path):
            k = entry.get(key_name, {}).get(None)
            v = entry.get(value_name, {})
            if k is None:
                problems.append(Problem("missing", path + ["key"]))
                continue
            out[k] = _decode_query_node(shape.value, v, wire, path, ec2, problems)
        return out
    if any(seg is not None for seg in node):
        problems.append(Problem("unknown", wire + "." + next(s for s in node if s)))
    return _convert_scalar(shape, node.get(None, ""), path, problems)


def decode_query(op, pairs, ec2=False):
    """Decodes query-protocol parameters (Action and Version already
    removed) into the operation's input structure."""
    problems = []
    shape = op.input_shape
    if shape is None:
        return {}, [Problem("unknown", k) for k, _ in pairs]
    params = _decode_query_node(shape, _trie(pairs), "", [], ec2, problems)
    return params, problems


def _decode_json_value(shape, value, path, problems):
    t = shape.type_name
    if value is None:
        return None
    if t == "structure":
        if not isinstance(value, dict):
            problems.append(Problem("type", path, value, t))
            return None
        out = {}
        for k, v in value.items():
            if k not in shape.members:
                problems.append(Problem("unknown", ".".join(path + [k])))
                continue
            out[k] = _decode_json_value(shape.members[k], v, path + [k], problems)
        return out
    if t == "list":
        if not isinstance(value, list):
            problems.append(Problem("type", path, value, t))
            return None
        return [_decode_json_value(shape.member, v, path, problems) for v in value]
    if t == "map":
        if not isinstance(value, dict):
            problems.append(Problem("type", path, value, t))
            return None
        return {k: _decode_json_value(shape.value, v, path, problems) for k, v in value.items()}
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "long": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "double": isinstance(value, (int, float)) and not isinstance(value, bool),
        "timestamp": isinstance(value, (int, float, str)),
        "blob": isinstance(value, str),
    }.get(t, True)
    if not ok:
        problems.append(Problem("type", path, value, t))
        return None
    return value


def decode_json(op, body):
    """Decodes a JSON-protocol body (already parsed) into the input."""
    problems = []
    shape = op.input_shape
    if shape is None:
        return {}, []
    return _decode_json_value(shape, body, [], problems) or {}, problems


def decode_rest_json(op, uri_params, query, headers, body):
    """Decodes a REST-JSON request: members bound to the URI, the query
    string and headers, the rest from the JSON body."""
    problems = []
    shape = op.input_shape
    if shape is None:
        return {}, []
    out = {}
    body_members = {}
    bound_query = set()
    for name, member in shape.members.items():
        loc = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if loc == "uri":
            if wire in uri_params:
                out[name] = uri_params[wire]
        elif loc == "querystring":
            bound_query.add(wire)
            if wire in query:
                values = query[wire]
                if member.type_name == "list":
                    out[name] = list(values)
                else:
                    out[name] = _convert_scalar(member, values[0], [name], problems)
        elif loc == "header":
            if wire in headers:
                out[name] = _convert_scalar(member, headers[wire], [name], problems)
        else:
            body_members[name] = member
    for key in query:
        if key not in bound_query:
            problems.append(Problem("unknown", key))
    if body is not None:
        if not isinstance(body, dict):
            problems.append(Problem("type", [], body, "structure"))
        else:
            for k, v in body.items():
                if k not in body_members:
                    problems.append(Problem("unknown", k))
                    continue
                out[k] = _decode_json_value(body_members[k], v, [k], problems)
    return out, problems


# -------------------------------------------------------------- validation


def validate(shape, value, check_patterns=False, path=None):
    """Checks a decoded input against the contract's constraints."""
    problems = []
    _validate(shape, value, path or [], check_patterns, problems)
    return problems


def _validate(shape, value, path, check_patterns, problems):
    if shape is None:
        return
    t = shape.type_name
    meta = shape.metadata
    if t == "structure":
        if value is None:
            return
        for req in shape.required_members:
            if value.get(req) is None:
                problems.append(Problem("missing", path + [req]))
        for name, v in value.items():
            if v is not None and name in shape.members:
                _validate(shape.members[name], v, path + [name], check_patterns, problems)
        return
    if t in ("list", "map"):
        _bounds(problems, path, value, len(value), meta, "length")
        if t == "list":
            for v in value:
                if v is not None:
                    _validate(shape.member, v, path, check_patterns, problems)
        else:
            for v in value.values():
                if v is not None:
                    _validate(shape.value, v, path, check_patterns, problems)
    elif t == "string":
        _bounds(problems, path, value, len(value), meta, "length")
        if "enum" in meta and value not in meta["enum"]:
            allowed = ", ".join(meta["enum"])
            problems.append(Problem("constraint", path, value,
                                    f"Member must satisfy enum value set: [{allowed}]"))
        if check_patterns and "pattern" in meta and not _pattern_ok(meta["pattern"], value):
            problems.append(Problem("constraint", path, value, "Member must satisfy regular "
                                    f"expression pattern: {meta['pattern']}"))
    elif t in ("integer", "long", "float", "double"):
        _bounds(problems, path, value, value, meta, "value")


def _bounds(problems, path, value, measure, meta, what):
    """min/max of the contract: a length for strings, lists and maps, a
    value for numbers."""
    if "min" in meta and measure < meta["min"]:
        problems.append(Problem("constraint", path, value,
                                f"Member must have {what} greater than or equal to {meta['min']}"))
    if "max" in meta and measure > meta["max"]:
        problems.append(Problem("constraint", path, value,
                                f"Member must have {what} less than or equal to {meta['max']}"))


@functools.lru_cache(maxsize=None)
def _compiled(pattern):
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _pattern_ok(pattern, value):
    rx = _compiled(pattern)
    # AWS matches the whole value (Java's matches()); a pattern Python cannot
    # compile is not held against the request.
    return rx is None or rx.fullmatch(value) is not None


def coral_path(path):
    """AWS's validation messages name members lowerCamelCase, dotted."""
    return ".".join(p[:1].lower() + p[1:] for p in path)


def coral_message(problems):
    """The "N validation errors detected: ..." message AWS's JSON and query
    services (and Image Builder) answer with."""
    parts = []
    for p in problems:
        where = coral_path(p.path) if isinstance(p.path, list) else p.path
        if p.kind == "missing":
            parts.append(f"Value null at '{where}' failed to satisfy constraint: "
                         "Member must not be null")
        elif p.kind == "constraint":
            parts.append(f"Value '{_show(p.value)}' at '{where}' failed to satisfy "
                         f"constraint: {p.constraint}")
        elif p.kind == "type":
            parts.append(f"Value '{_show(p.value)}' at '{where}' is not a valid {p.constraint}")
        else:
            parts.append(f"Parameter '{where}' is not recognized")
    n = len(parts)
    noun = "error" if n == 1 else "errors"
    return f"{n} validation {noun} detected: " + "; ".join(parts)


def _show(value):
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)
