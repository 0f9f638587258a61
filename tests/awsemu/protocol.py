"""What an AWS request is, and how each service words its answers.

One endpoint serves every service, so a request is identified the way AWS's
own front ends and moto do it: the service and region from the SigV4
credential scope, the action from the protocol (query `Action`, JSON
`X-Amz-Target`, or the REST route of the operation in the botocore model).
"""

import datetime
import functools
import io
import json
import os
import re
import urllib.parse
import uuid
from xml.etree import ElementTree as ET

from . import model
from .errors import ApiError

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

# The services whose requests are checked against the contract and whose
# errors are worded by this module. Others pass straight to moto.
KNOWN_SERVICES = ("ec2", "autoscaling", "imagebuilder", "ssm", "sts")

# Each service's real throttling and internal errors: (code, status, message).
THROTTLE_ERRORS = {
    "ec2": ("RequestLimitExceeded", 503, "Request limit exceeded."),
    "autoscaling": ("Throttling", 400, "Rate exceeded"),
    "imagebuilder": ("CallRateLimitExceededException", 429,
                     "You have exceeded the permitted request rate for the specific operation."),
    "ssm": ("ThrottlingException", 400, "Rate exceeded"),
    "sts": ("Throttling", 400, "Rate exceeded"),
}
INTERNAL_ERRORS = {
    "ec2": ("InternalError", 500, "An internal error has occurred"),
    "autoscaling": ("InternalFailure", 500, "An internal error has occurred"),
    "imagebuilder": ("ServiceException", 500, "An internal error has occurred"),
    "ssm": ("InternalServerError", 500, "An internal error has occurred"),
    "sts": ("InternalFailure", 500, "An internal error has occurred"),
}

# The services whose regular-expression constraints are checked (STS: the
# RoleSessionName and ExternalId patterns AWS enforces).
PATTERNS_CHECKED = ("imagebuilder", "sts")

EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"

_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


class AwsRequest:
    """One decoded AWS request. `params` is the operation's input as a
    nested dict (botocore member names), `problems` what breaks the
    contract."""

    def __init__(self):
        self.service = None
        self.region = DEFAULT_REGION
        self.access_key = ""
        self.action = "?"
        self.op = None
        self.protocol = None
        self.method = "GET"
        self.path = "/"
        self.headers = {}
        self.body = b""
        self.query = {}
        self.form = []  # (key, value) pairs of a query-protocol request
        self.params = {}
        self.problems = []
        self.request_id = str(uuid.uuid4())
        self._account_id = None

    @property
    def account_id(self):
        """The caller's account: the one its credentials belong to (an
        access key AssumeRole issued acts in the role's account)."""
        if self._account_id is None:
            self._account_id = account_for(self.access_key)
        return self._account_id


def account_for(access_key):
    """Same precedence as moto: MOTO_ACCOUNT_ID, then the account an IAM
    access key belongs to, then moto's default account."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def read_body(environ):
    """Reads the whole body and puts it back so moto can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = environ["wsgi.input"].read(length)
    elif environ.get("wsgi.input_terminated"):
        body = environ["wsgi.input"].read()  # chunked: werkzeug ends the stream
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def identify(environ):
    """Decodes the request; never raises. Returns None for what is not an
    AWS API request (no SigV4 scope and no query Action)."""
    req = AwsRequest()
    req.method = environ.get("REQUEST_METHOD", "GET")
    req.path = environ.get("PATH_INFO", "/")
    req.headers = {
        k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
    }
    if "CONTENT_TYPE" in environ:
        req.headers["content-type"] = environ["CONTENT_TYPE"]
    req.body = read_body(environ)
    req.query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)

    scope = _CREDENTIAL.search(req.headers.get("authorization", ""))
    if scope is None and "X-Amz-Credential" in req.query:
        scope = _CREDENTIAL.search("Credential=" + req.query["X-Amz-Credential"][0])
    if scope:
        req.access_key, _, req.region, req.service = scope.groups()
    ctype = req.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded") or (
        req.method == "GET" and "Action" in req.query
    ):
        raw = req.body.decode("utf-8", "replace") if req.body else environ.get("QUERY_STRING", "")
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True)
        req.form = [(k, v) for k, v in pairs if not k.startswith("X-Amz-")]
        action = dict(req.form).get("Action")
        if action:
            req.action = action
        if req.service is None and action:
            req.service = "sts"  # the unsigned calls (AssumeRoleWith*) are STS's
    if req.service is None:
        return None
    if req.service not in KNOWN_SERVICES:
        target = req.headers.get("x-amz-target", "")
        if "." in target:
            req.action = target.rsplit(".", 1)[1]
        return req
    svc = model.service_model(req.service)
    req.protocol = svc.protocol
    if req.protocol in ("query", "ec2"):
        _decode_query_request(req)
    elif req.protocol == "json":
        _decode_json_request(req)
    else:
        _decode_rest_request(req, environ)
    return req


def _decode_query_request(req):
    req.op = model.operation(req.service, req.action)
    if req.op is None:
        return
    pairs = [(k, v) for k, v in req.form if k not in ("Action", "Version")]
    req.params, req.problems = model.decode_query(req.op, pairs, ec2=req.protocol == "ec2")


def _decode_json_request(req):
    target = req.headers.get("x-amz-target", "")
    req.action = target.rsplit(".", 1)[-1] if target else "?"
    req.op = model.operation(req.service, req.action)
    if req.op is None:
        return
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        req.problems = [model.Problem("type", [], "<body>", "JSON document")]
        return
    req.params, req.problems = model.decode_json(req.op, body)


@functools.lru_cache(maxsize=None)
def _rest_routes(service):
    """(method, compiled path regex, operation name) for every operation."""
    routes = []
    svc = model.service_model(service)
    for name in svc.operation_names:
        http = svc.operation_model(name).http
        uri = http["requestUri"].split("?")[0]
        rx = ""
        for part in re.split(r"(\{[^}]+\})", uri):
            if part.startswith("{"):
                label = part[1:-1]
                greedy = label.endswith("+")
                label = label.rstrip("+")
                rx += f"(?P<{label}>{'.+' if greedy else '[^/]+'})"
            else:
                rx += re.escape(part)
        routes.append((http["method"], re.compile(rx + "/?$"), name))
    # Literal routes before templated ones, so /tags/{arn} never shadows a
    # literal path.
    routes.sort(key=lambda r: r[1].pattern.count("(?P<"))
    return routes


def _decode_rest_request(req, environ):
    raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or req.path
    raw_path = raw_path.split("?")[0]
    for method, rx, name in _rest_routes(req.service):
        m = rx.match(raw_path)
        if m and method == req.method:
            req.action = name
            req.op = model.operation(req.service, name)
            uri_params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
            break
    else:
        return
    body = None
    if req.body:
        try:
            body = json.loads(req.body)
        except ValueError:
            req.problems = [model.Problem("type", [], "<body>", "JSON document")]
            return
    req.params, req.problems = model.decode_rest_json(
        req.op, uri_params, req.query, req.headers, body)


# --------------------------------------------------------------- contract


def contract_error(req):
    """The error AWS would answer a request that breaks the contract with,
    or None. Unknown actions are reported here too."""
    if req.service not in KNOWN_SERVICES:
        return None
    if req.op is None:
        return _unknown_action(req)
    problems = list(req.problems)
    problems += model.validate(req.op.input_shape, req.params,
                               check_patterns=req.service in PATTERNS_CHECKED)
    problems = _once_per_member(problems)
    if not problems:
        return None
    if req.protocol == "ec2":
        return _ec2_validation_error(problems[0])
    if req.protocol == "query":
        return ApiError("ValidationError", model.coral_message(problems))
    if req.protocol == "json":
        if any(p.kind == "type" for p in problems):
            return ApiError("SerializationException", model.coral_message(problems))
        return ApiError("ValidationException", model.coral_message(problems))
    if any(p.kind in ("missing", "unknown") for p in problems):
        return ApiError("InvalidRequestException", model.coral_message(problems))
    return ApiError("InvalidParameterValueException", model.coral_message(problems))


def _once_per_member(problems):
    """A member of the wrong type is decoded as absent, so a required one
    would also be reported missing; AWS reports it once, as a type error."""
    mistyped = {tuple(p.path) for p in problems
                if p.kind == "type" and isinstance(p.path, list)}
    return [p for p in problems
            if not (p.kind == "missing" and isinstance(p.path, list)
                    and tuple(p.path) in mistyped)]


def _unknown_action(req):
    if req.protocol == "ec2":
        return ApiError("InvalidAction",
                        f"The action {req.action} is not valid for this web service.")
    if req.protocol == "query":
        version = model.service_model(req.service).api_version
        return ApiError("InvalidAction",
                        f"Could not find operation {req.action} for version {version}")
    if req.protocol == "json":
        return ApiError("UnknownOperationException", "")
    return ApiError("UnknownOperationException",
                    f"No operation matches {req.method} {req.path}", status=404)


def _ec2_validation_error(p):
    name = p.path if isinstance(p.path, str) else ".".join(p.path)
    if p.kind == "missing":
        return ApiError("MissingParameter", f"The request must contain the parameter {name}")
    if p.kind == "unknown":
        return ApiError("UnknownParameter", f"The parameter {name} is not recognized")
    if p.kind == "type":
        return ApiError("InvalidParameterValue",
                        f"Invalid value '{p.value}' for {name}: not a valid {p.constraint}")
    return ApiError("InvalidParameterValue",
                    f"Value ( {p.value} ) for parameter {name} is invalid. {p.constraint}")


# -------------------------------------------------------------- rendering


def _xml(root):
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def render_error(req, err):
    """(status, headers, body) of an AWS error in the service's protocol."""
    service = req.service if req is not None else None
    protocol = req.protocol if req is not None else None
    rid = req.request_id if req is not None else str(uuid.uuid4())
    headers = [("x-amzn-RequestId", rid)]
    if protocol == "ec2":
        root = ET.Element("Response")
        e = ET.SubElement(ET.SubElement(root, "Errors"), "Error")
        ET.SubElement(e, "Code").text = err.code
        ET.SubElement(e, "Message").text = err.message
        ET.SubElement(root, "RequestID").text = rid
        return err.status, headers + [("Content-Type", "text/xml")], _xml(root)
    if protocol == "query":
        ns = model.service_model(service).metadata.get("xmlNamespace", "")
        root = ET.Element("ErrorResponse", {"xmlns": ns})
        e = ET.SubElement(root, "Error")
        ET.SubElement(e, "Type").text = "Sender" if err.status < 500 else "Receiver"
        ET.SubElement(e, "Code").text = err.code
        ET.SubElement(e, "Message").text = err.message
        ET.SubElement(root, "RequestId").text = rid
        return err.status, headers + [("Content-Type", "text/xml")], _xml(root)
    if protocol == "json":
        body = json.dumps({"__type": err.code, "message": err.message}).encode()
        return err.status, headers + [("Content-Type", "application/x-amz-json-1.1"),
                                      ("x-amzn-ErrorType", err.code)], body
    body = json.dumps({"message": err.message}).encode()
    return err.status, headers + [("Content-Type", "application/json"),
                                  ("x-amzn-ErrorType", err.code)], body


def fault_error(req, kind):
    table = THROTTLE_ERRORS if kind == "throttle" else INTERNAL_ERRORS
    default = ("ThrottlingException", 400, "Rate exceeded") if kind == "throttle" else (
        "InternalFailure", 500, "An internal error has occurred")
    code, status, message = table.get(req.service, default)
    return ApiError(code, message, status)


def render_json(req, result, status=200):
    body = json.dumps(result, default=_json_default).encode()
    return status, [("Content-Type", "application/json"),
                    ("x-amzn-RequestId", req.request_id)], body


def _json_default(v):
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    raise TypeError(type(v))


def render_query_result(req, result):
    """Serializes `result` (botocore member names) as the query-protocol XML
    of req's operation, driven by the output shape."""
    svc = model.service_model(req.service)
    ns = svc.metadata.get("xmlNamespace", "")
    root = ET.Element(f"{req.action}Response", {"xmlns": ns})
    shape = req.op.output_shape
    if shape is not None:
        wrapper = ET.SubElement(root, shape.serialization.get("resultWrapper",
                                                              f"{req.action}Result"))
        _xml_members(wrapper, shape, result)
    meta = ET.SubElement(root, "ResponseMetadata")
    ET.SubElement(meta, "RequestId").text = req.request_id
    return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", req.request_id)], _xml(root)


def render_ec2_result(req, result):
    """Serializes `result` (botocore member names, scalars only) as the EC2
    protocol's XML answer of req's operation: no result wrapper, members
    named by their locationName, the request id first."""
    root = ET.Element(f"{req.action}Response", {"xmlns": EC2_XMLNS})
    ET.SubElement(root, "requestId").text = req.request_id
    shape = req.op.output_shape
    for name, member in (shape.members.items() if shape is not None else []):
        if result.get(name) is not None:
            tag = member.serialization.get("name") or name[:1].lower() + name[1:]
            _xml_value(root, tag, member, result[name])
    return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", req.request_id)], _xml(root)


def _xml_members(parent, shape, value):
    for name, member in shape.members.items():
        v = value.get(name)
        if v is not None:
            _xml_value(parent, member.serialization.get("name", name), member, v)


def _xml_value(parent, tag, shape, value):
    el = ET.SubElement(parent, tag)
    t = shape.type_name
    if t == "structure":
        _xml_members(el, shape, value)
    elif t == "list":
        item = shape.member.serialization.get("name", "member")
        for v in value:
            _xml_value(el, item, shape.member, v)
    elif t == "map":
        for k, v in value.items():
            entry = ET.SubElement(el, "entry")
            ET.SubElement(entry, "key").text = str(k)
            _xml_value(entry, "value", shape.value, v)
    elif t == "boolean":
        el.text = "true" if value else "false"
    elif t == "timestamp":
        el.text = iso8601(value)
    else:
        el.text = str(value)


def iso8601(value):
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    return str(value)
