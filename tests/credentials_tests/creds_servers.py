"""Small HTTP servers on 127.0.0.1 that play the AWS credential endpoints.

Each server records every request it gets (method, path, headers, body) so
that tests can assert exactly what Kiln sent, and in what order. They are
strict where AWS is strict (IMDSv2 tokens, SigV4 on STS) so that a client
that cuts corners fails.
"""

import datetime
import hashlib
import http.server
import itertools
import json
import re
import threading
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCOUNT = "123456789012"


def iso(unix_seconds):
    return datetime.datetime.fromtimestamp(unix_seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest() if s else ""


class Request:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers  # case-insensitive (http.client.HTTPMessage)
        self.body = body

    def form(self):
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def __repr__(self):
        return f"{self.method} {self.path}"


class Server:
    """A threaded HTTP server calling self.handle(Request) -> (status,
    headers dict, body str)."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = Request(self.command, self.path, self.headers, body)
                with outer.lock:
                    outer.requests.append(req)
                status, headers, text = outer.handle(req)
                data = text.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _serve

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def seen(self):
        with self.lock:
            return [f"{r.method} {r.path}" for r in self.requests]


class ImdsServer(Server):
    """IMDSv2: every metadata GET needs a token from PUT /latest/api/token.
    A GET without a valid token gets 401, as on an instance with
    HttpTokens=required."""

    CREDS_PATH = "/latest/meta-data/iam/security-credentials/"

    def __init__(self):
        self.token_status = 200  # set to 403/404/405 to refuse tokens
        self.role = "kiln-role"  # None: no instance profile
        self.region = "eu-south-2"
        self.now = 1_700_000_000  # the clock the probe is given
        self.lifetime = 6 * 3600
        self.tokens = set()
        self.counter = itertools.count(1)
        self.issued = []  # (access key id, secret, token) in order
        super().__init__()

    def handle(self, req):
        if req.method == "PUT" and req.path == "/latest/api/token":
            ttl = req.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            if self.token_status != 200:
                return self.token_status, {}, "refused"
            if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return 400, {}, "bad ttl"
            token = f"imds-token-{next(self.counter)}"
            self.tokens.add(token)
            return 200, {"X-aws-ec2-metadata-token-ttl-seconds": ttl}, token
        if req.method != "GET":
            return 405, {}, ""
        if req.headers.get("X-aws-ec2-metadata-token") not in self.tokens:
            return 401, {}, ""
        if req.path == "/latest/meta-data/placement/region":
            return 200, {}, self.region
        if req.path == self.CREDS_PATH:
            if self.role is None:
                return 404, {}, ""
            return 200, {}, self.role + "\n"
        if self.role is not None and req.path == self.CREDS_PATH + self.role:
            n = next(self.counter)
            creds = (f"ASIAIMDS{n:08d}", f"imds-secret-{n}", f"imds-session-{n}")
            self.issued.append(creds)
            doc = {
                "Code": "Success",
                "LastUpdated": iso(self.now),
                "Type": "AWS-HMAC",
                "AccessKeyId": creds[0],
                "SecretAccessKey": creds[1],
                "Token": creds[2],
                "Expiration": iso(self.now + self.lifetime),
            }
            return 200, {"Content-Type": "text/plain"}, json.dumps(doc)
        return 404, {}, ""


class ContainerServer(Server):
    """The ECS/EKS container credentials endpoint."""

    def __init__(self):
        self.expected_auth = None  # None: no Authorization needed
        self.now = 1_700_000_000
        self.lifetime = 6 * 3600
        self.counter = itertools.count(1)
        self.issued = []
        super().__init__()

    def handle(self, req):
        if req.method != "GET" or not req.path.startswith("/creds"):
            return 404, {}, ""
        if self.expected_auth is not None and req.headers.get("Authorization") != self.expected_auth:
            return 401, {}, json.dumps({"code": "Unauthorized", "message": "bad token"})
        n = next(self.counter)
        creds = (f"ASIACONT{n:08d}", f"container-secret-{n}", f"container-session-{n}")
        self.issued.append(creds)
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {
                "AccessKeyId": creds[0],
                "SecretAccessKey": creds[1],
                "Token": creds[2],
                "Expiration": iso(self.now + self.lifetime),
                "AccountId": ACCOUNT,
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/task",
            }
        )


AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$"
)


class StsServer(Server):
    """STS's Query API: AssumeRole and GetCallerIdentity must carry a valid
    SigV4 signature by a key the server knows (checked with botocore's
    signer); AssumeRoleWithWebIdentity must be unsigned and carry the
    expected token."""

    def __init__(self):
        self.keys = {}  # access key id -> (secret, session token or None, arn)
        self.web_identity_token = None
        self.fail_next = []  # (status, code) answered before anything else
        self.now = 1_700_000_000
        self.counter = itertools.count(1)
        self.calls = []  # (action, form, signing key id or None)
        super().__init__()

    def add_key(self, akid, secret, token=None, arn=None):
        self.keys[akid] = (secret, token, arn or f"arn:aws:iam::{ACCOUNT}:user/{akid}")

    def verify(self, req):
        """Returns the signing access key id, or raises ValueError."""
        m = AUTH_RE.match(req.headers.get("Authorization") or "")
        if not m:
            raise ValueError("no or malformed Authorization")
        akid, date, region, service, signed, signature = m.groups()
        if akid not in self.keys:
            raise ValueError(f"unknown key {akid}")
        secret, token, _ = self.keys[akid]
        if service != "sts":
            raise ValueError(f"signed for {service}")
        if token is not None and req.headers.get("X-Amz-Security-Token") != token:
            raise ValueError("missing or wrong X-Amz-Security-Token")
        if token is not None and "x-amz-security-token" not in signed.split(";"):
            raise ValueError("session token not signed")
        amz_date = req.headers.get("X-Amz-Date")
        if not amz_date or amz_date[:8] != date:
            raise ValueError("X-Amz-Date does not match the scope")
        host = req.headers.get("Host")
        areq = AWSRequest(method=req.method, url=f"http://{host}{req.path}", data=req.body)
        for name in signed.split(";"):
            value = req.headers.get(name)
            if value is None:
                raise ValueError(f"signed header {name} missing")
            areq.headers[name] = value
        areq.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(akid, secret, token), service, region)
        canonical = signer.canonical_request(areq)
        expected = signer.signature(signer.string_to_sign(areq, canonical), areq)
        if expected != signature:
            raise ValueError("signature mismatch")
        self.last_region = region
        return akid

    def error(self, status, code, message):
        return status, {"Content-Type": "text/xml"}, (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            "</Error><RequestId>req-error-1</RequestId></ErrorResponse>"
        )

    def issue(self, action, role_arn, session_name, duration):
        n = next(self.counter)
        akid, secret, token = f"ASIASTS{n:09d}", f"sts-secret-{n}", f"sts-session-{n}"
        role_name = role_arn.rsplit("/", 1)[-1]
        account = role_arn.split(":")[4]
        arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"
        self.add_key(akid, secret, token, arn)
        expiration = iso(self.now + duration)
        return 200, {"Content-Type": "text/xml"}, (
            f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<{action}Result><Credentials>"
            f"<AccessKeyId>{akid}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
            f"<SessionToken>{token}</SessionToken><Expiration>{expiration}</Expiration>"
            f"</Credentials><AssumedRoleUser><Arn>{arn}</Arn>"
            f"<AssumedRoleId>AROA:{session_name}</AssumedRoleId></AssumedRoleUser>"
            f"</{action}Result><ResponseMetadata><RequestId>req-{n}</RequestId>"
            f"</ResponseMetadata></{action}Response>"
        )

    def handle(self, req):
        if req.method != "POST" or req.path != "/":
            return 404, {}, ""
        if not (req.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            return 400, {}, "bad content type"
        form = req.form()
        action = form.get("Action")
        if self.fail_next:
            status, code = self.fail_next.pop(0)
            self.calls.append((action, form, "failed"))
            return self.error(status, code, "injected")
        if form.get("Version") != "2011-06-15":
            return self.error(400, "InvalidParameterValue", "bad Version")
        if action == "AssumeRoleWithWebIdentity":
            self.calls.append((action, form, None))
            if req.headers.get("Authorization") is not None:
                return self.error(400, "InvalidParameterValue", "must not be signed")
            if form.get("WebIdentityToken") != self.web_identity_token:
                return self.error(400, "InvalidIdentityToken", "bad token")
            return self.issue(action, form["RoleArn"], form["RoleSessionName"], 3600)
        try:
            akid = self.verify(req)
        except ValueError as e:
            self.calls.append((action, form, None))
            return self.error(403, "SignatureDoesNotMatch", str(e))
        self.calls.append((action, form, akid))
        if action == "AssumeRole":
            if "denied" in form.get("RoleArn", ""):
                return self.error(403, "AccessDenied", f"{akid} may not assume {form['RoleArn']}")
            duration = int(form.get("DurationSeconds", "3600"))
            return self.issue(action, form["RoleArn"], form["RoleSessionName"], duration)
        if action == "GetCallerIdentity":
            arn = self.keys[akid][2]
            account = arn.split(":")[4]
            return 200, {"Content-Type": "text/xml"}, (
                '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                f"<GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AIDAUSERID</UserId>"
                f"<Account>{account}</Account></GetCallerIdentityResult>"
                "<ResponseMetadata><RequestId>req-gci</RequestId></ResponseMetadata>"
                "</GetCallerIdentityResponse>"
            )
        return self.error(400, "InvalidAction", f"unknown action {action}")
