"""The WSGI middleware in front of moto.

Every AWS request is counted, meets its faults, is checked against the
service's contract, and is then answered by the emulator's own handlers
(Image Builder, instance refresh, pagination, EC2 client tokens) or
passed to moto.
"""

import json
import socket
import threading
import time
import traceback
import urllib.parse

from . import accounts, activities, checks, fleet, lt_versions, protocol
from .accounting import Accounting
from .copies import Copies
from .errors import ApiError
from .faults import Faults, FaultSpecError
from .health import HealthChecks
from .idempotency import ClientTokens
from .lag import Lag, is_read
from .imagebuilder import ImageBuilder
from .pagination import Pagination
from .refresh import InstanceRefreshes

ADMIN_PREFIX = "/_awsemu/"
TICK_S = 0.05


class DropConnection(ConnectionResetError):
    """Raised after the socket was reset: the server treats a ConnectionError
    from the application as a dropped client and writes nothing."""


class CloseConnection(ConnectionAbortedError):
    """Raised to close the connection without an answer (a FIN, not a
    reset: the request was read completely)."""


class Emulator:
    def __init__(self, moto_app, bake_seconds=5.0, refresh_batch_seconds=None, seed=None,
                 time_scale=1.0, check_instance_profiles=False, boot_seconds=0.0,
                 copy_seconds=5.0):
        self.moto_app = moto_app
        # AWS seconds per emulator second: every AWS duration the emulator
        # waits out (warmup, grace periods, boot) is divided by it.
        self.time_scale = float(time_scale)
        # How long (AWS seconds) an instance a group launches stays Pending.
        self.boot_seconds = float(boot_seconds)
        self.check_instance_profiles = check_instance_profiles
        # moto's backends are not thread-safe, and the background ticker
        # changes them too: one lock serializes every handler and tick.
        self.lock = threading.RLock()
        self.accounting = Accounting()
        self.faults = Faults(seed=seed)
        self.imagebuilder = ImageBuilder(self, bake_seconds)
        self.refreshes = InstanceRefreshes(self, refresh_batch_seconds)
        self.health = HealthChecks(self)
        self.copies = Copies(self, copy_seconds)
        self.pagination = Pagination(self)
        self.client_tokens = ClientTokens()
        self.lag = Lag()
        self._stop = threading.Event()
        from . import motoglue

        motoglue.EMULATOR = self
        self._ticker = threading.Thread(target=self._tick_loop, name="awsemu-ticker",
                                        daemon=True)

    def aws_seconds(self, seconds):
        """Emulator seconds an AWS duration lasts under --time-scale."""
        return float(seconds) / self.time_scale

    # ------------------------------------------------------------ lifecycle

    def start(self):
        self._ticker.start()

    def stop(self):
        self._stop.set()
        self._ticker.join(timeout=5)

    def _tick_loop(self):
        # Bakes and refreshes advance with time, not with requests, so a
        # client that only polls sees the same progress as one that is busy.
        while not self._stop.wait(TICK_S):
            self.tick()

    def tick(self):
        now = time.time()
        with self.lock:
            try:
                self.imagebuilder.tick(now)
                self.refreshes.tick(now)
                self.health.tick(now)
                self.copies.tick(now)
            except Exception:
                # A bug here must not stop time for every later bake and
                # refresh; it is reported and the next tick tries again.
                traceback.print_exc()

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX) or path == ADMIN_PREFIX.rstrip("/"):
            status, headers, body = self._admin(environ, path)
            return _respond(start_response, status, headers, body)

        req = protocol.identify(environ)
        if req is None:
            # Not an AWS API call (moto's own /moto-api, health probes):
            # moto answers, uncounted.
            return self.moto_app(environ, start_response)

        reused = environ.get("awsemu.request_on_connection", 1) > 1
        decision = self.faults.on_request(req.service, req.action, reused=reused,
                                          account=req.account_id, region=req.region)
        if decision.latency_s:
            time.sleep(decision.latency_s)  # the injected latency itself
        if decision.terminal == "reset":
            self._record(req, 0, fault="reset")
            _reset_connection(environ)
            raise DropConnection("awsemu: connection reset by fault")
        if decision.terminal == "close-idle":
            # The load balancer closed this pooled connection while it was
            # idle: the request is read, never handled, never answered, and
            # the connection ends with a plain FIN.
            self._record(req, 0, fault="close-idle")
            raise CloseConnection("awsemu: idle connection closed by fault")
        if decision.terminal in ("throttle", "error500"):
            status, headers, body = protocol.render_error(
                req, protocol.fault_error(req, decision.terminal))
        elif decision.terminal == "gateway":
            status, headers, body = _gateway_error(decision.rule)
        else:
            status, headers, body = self.handle(req, environ)
            if decision.after == "gateway":
                # Handled, then the load balancer answered in its stead
                # (a 504 after the service did the work).
                status, headers, body = _gateway_error(decision.rule)
        self._record(req, status, fault=decision.fault)
        if decision.after == "truncate":
            return _respond_truncated(environ, start_response, status, headers, body)
        if decision.after == "slow-body":
            return _respond_slowly(start_response, status, headers, body, decision.rule)
        return _respond(start_response, status, headers, body)

    def _record(self, req, status, fault=None):
        self.accounting.record(req.service, req.action, status, fault=fault,
                               account=req.account_id, region=req.region)

    def handle(self, req, environ):
        err = checks.check_names(req) or protocol.contract_error(req)
        if err is not None:
            return protocol.render_error(req, err)
        try:
            with self.lock:
                checks.check(req)
                lagged = self.lag.before_read(req)
                if lagged is not None:
                    raise lagged
                status, headers, body = self._dispatch(req, environ)
                if status == 200:
                    if is_read(req.action):
                        body = self.lag.filter(req, body)
                    else:
                        rule = self.faults.take(req.service, req.action, "lag",
                                                req.account_id, req.region)
                        if rule is not None:
                            self.lag.created(req, rule, body)
                return status, headers, body
        except ApiError as e:
            return protocol.render_error(req, e)
        except Exception as e:
            refusal = checks.crash_error(req, e)
            if refusal is not None:
                return protocol.render_error(req, refusal)
            # An emulator or moto bug: answer like AWS's own 500 so the
            # client's error handling is exercised, and leave the traceback.
            traceback.print_exc()
            return protocol.render_error(req, protocol.fault_error(req, "error500"))

    def _dispatch(self, req, environ):
        if req.service == "imagebuilder":
            return self.imagebuilder.handle(req)
        if req.service == "autoscaling" and req.action in self.refreshes.ACTIONS:
            return self.refreshes.handle(req)
        if req.service == "autoscaling" and req.action == "DescribeScalingActivities":
            return activities.handle(req)
        self.pagination.check(req)
        if self.pagination.applies(req):
            return self.pagination.handle(req, environ)
        replayed = self.client_tokens.replay(req)
        if replayed is not None:
            return replayed
        if req.service == "ec2" and req.action == "CopyImage":
            answer = self.copies.handle(req)
        elif req.service == "ec2" and req.action == "DeleteLaunchTemplateVersions":
            answer = lt_versions.handle(req)
        else:
            if req.service == "iam":
                accounts.ensure_org_role(req.account_id)
            elif req.service == "sts" and req.action == "AssumeRole":
                accounts.check_assume_role(req)
            answer = self.call_moto(environ)
        self.client_tokens.remember(req, answer)
        return answer

    def call_moto(self, environ):
        """Runs moto's WSGI app and collects its whole answer."""
        captured = {}

        def start_response(status, headers, exc_info=None):
            captured["status"] = int(status.split()[0])
            captured["headers"] = headers
            return lambda data: None

        chunks = self.moto_app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return captured["status"], list(captured["headers"]), body

    # ----------------------------------------------------------------- admin

    def _admin(self, environ, path):
        method = environ.get("REQUEST_METHOD", "GET")
        route = path[len(ADMIN_PREFIX):].strip("/")
        if route == "faults":
            if method == "POST":
                try:
                    doc = json.loads(protocol.read_body(environ) or b"{}")
                    specs = doc.get("faults")
                    if not isinstance(specs, list):
                        raise FaultSpecError('body must be {"faults": [...]}')
                    self.faults.add(specs)
                except (ValueError, TypeError, AttributeError) as e:
                    return _json(400, {"error": str(e)})
                return _json(200, {"faults": self.faults.describe()})
            if method == "DELETE":
                self.faults.clear()
                return _json(200, {"faults": []})
            if method == "GET":
                return _json(200, {"faults": self.faults.describe()})
        elif route == "requests" and method == "GET":
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            account = (query.get("account") or [None])[0]
            return _json(200, self.accounting.snapshot(account))
        elif route == "requests/reset" and method == "POST":
            self.accounting.reset()
            return _json(200, {})
        elif route == "fleet" and method == "POST":
            try:
                doc = json.loads(protocol.read_body(environ) or b"{}")
            except ValueError as e:
                return _json(400, {"error": f"body is not JSON: {e}"})
            return _json(*fleet.handle(self, doc))
        elif route == "health" and method == "GET":
            return _json(200, {"ok": True})
        return _json(404, {"error": f"no admin route {method} {path}"})


def _json(status, doc):
    return status, [("Content-Type", "application/json")], json.dumps(doc).encode()


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}


def _gateway_error(rule):
    """A load balancer's own error page, as AWS's front ends send one when
    the service behind them fails: HTML (or nothing), no AWS error code."""
    status = rule.status
    if rule.body == "empty":
        return status, [("Content-Type", "text/html")], b""
    title = f"{status} {_REASONS[status]}"
    body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n").encode()
    return status, [("Content-Type", "text/html")], body


def _respond_truncated(environ, start_response, status, headers, body):
    """Announces the whole body, sends half of it, then closes the
    connection: the client sees its answer cut short."""
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    environ["awsemu.close_after"] = True
    start_response(f"{status} {_REASONS.get(status, 'Status')}", headers)
    return [body[:len(body) // 2]]


def _respond_slowly(start_response, status, headers, body, rule):
    """Sends the body `chunk_bytes` at a time, `interval_ms` apart."""
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {_REASONS.get(status, 'Status')}", headers)

    def trickle():
        step = rule.chunk_bytes
        for i in range(0, len(body), step):
            if i:
                time.sleep(rule.interval_ms / 1000.0)
            yield body[i:i + step]

    return trickle()


def _respond(start_response, status, headers, body):
    headers = [(k, v) for k, v in headers if k.lower() not in ("content-length",)]
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {_REASONS.get(status, 'Status')}", headers)
    return [body]


def _reset_connection(environ):
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        # Linger 0 makes the close send RST: the client sees its connection
        # reset with no response at all, as when a load balancer drops it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
