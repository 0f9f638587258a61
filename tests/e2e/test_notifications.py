"""Notifications (issue 18): kiln.yaml's github and gitlab commit statuses,
a signed webhook and Slack, sent by `kiln run` to a local fake of each
(an HTTP server in the test). Judged by what the fakes received."""
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from awsemu.testing import wait_until
from kiln_cli import git
from test_apply import fleet  # noqa: F401  (fixture)
from test_daemon import Daemon
from test_group_health import target_group
from test_safe_delivery import alarm, gate, gated, set_alarm_when  # noqa: F401

SECRET = b"s3cret-hook-key"
TOKEN = "ghp-not-a-real-token"
HOSTILE = '<script>alert(1)</script><https://evil.example|click>'


class Receiver:
    """GitHub's and GitLab's status APIs, a webhook and a Slack hook, on
    127.0.0.1. The webhook answers 503 to its first `fail_first`
    requests."""

    def __init__(self, fail_first=0):
        self.lock = threading.Lock()
        self.requests = []   # (path, headers, body) of every request
        self.accepted = []   # webhook events accepted (200), by id
        self.bad_signatures = 0
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers), body))
                    code = receiver.answer(self.path, self.headers, body)
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path, headers, body):
        if path.startswith("/gh/"):
            return 201 if headers.get("Authorization") == f"Bearer {TOKEN}" else 401
        if path.startswith("/gl/"):
            return 201 if headers.get("PRIVATE-TOKEN") == TOKEN else 401
        if path == "/hook":
            want = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(headers.get("X-Kiln-Signature-256", ""), want):
                self.bad_signatures += 1
                return 401
            if self.fail_first > 0:
                self.fail_first -= 1
                return 503
            self.accepted.append(json.loads(body)["id"])
            return 200
        return 200

    def bodies(self, prefix):
        with self.lock:
            return [json.loads(b) for p, _, b in self.requests if p.startswith(prefix)]

    def stop(self):
        self.server.shutdown()
        assert self.bad_signatures == 0, "a webhook delivery was not signed right"


def configure(fleet, tmp_path, receiver):
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "hook-secret").write_bytes(SECRET + b"\n")
    (tmp_path / "slack-url").write_text(f"http://127.0.0.1:{receiver.port}/slack\n")
    base = f"http://127.0.0.1:{receiver.port}"
    p = fleet.root / "kiln.yaml"
    p.write_text(p.read_text() + f"""notifications:
  - {{type: github, repository: acme/fleet, tokenFile: {tmp_path}/token, apiUrl: "{base}/gh"}}
  - {{type: gitlab, project: acme/fleet, tokenFile: {tmp_path}/token, apiUrl: "{base}/gl/api/v4"}}
  - {{type: webhook, url: "{base}/hook", secretFile: {tmp_path}/hook-secret}}
  - {{type: slack, urlFile: {tmp_path}/slack-url}}
""")
    git(fleet.root, "commit", "-qam", "notifications")
    fleet.env["KILN_NOTIFY_RETRY_MS"] = "100"


def statuses(receiver, prefix, sha):
    return [(b["state"], b.get("context") or b.get("name"), b["description"])
            for p, _, raw in receiver.requests if p.startswith(prefix) and sha in p
            for b in [json.loads(raw)]]


def test_a_good_release_is_pending_then_success_and_every_event_arrives_once(
        fleet, tmp_path):  # noqa: F811
    receiver = Receiver(fail_first=2)
    configure(fleet, tmp_path, receiver)
    assert fleet.apply().returncode == 0
    d = Daemon(fleet, tmp_path, None, "--resync", "1s")
    try:
        wait_until(lambda: d.said("ready"), timeout=60, what="ready")
        sha = fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="0.2.0")
        wait_until(lambda: ("success", "kiln/hello") in
                   [s[:2] for s in statuses(receiver, "/gh/", sha)], timeout=90,
                   what="GitHub's success status")
        gh = statuses(receiver, "/gh/repos/acme/fleet/statuses/", sha)
        assert [s[0] for s in gh] == ["pending", "success"], gh
        assert gh[0][2].startswith("0.2.0 releasing"), gh
        wait_until(lambda: [s[0] for s in statuses(
            receiver, "/gl/api/v4/projects/acme%2Ffleet/statuses/", sha)]
            == ["pending", "success"], timeout=10, what="GitLab's statuses")
        wait_until(lambda: len(receiver.accepted) >= 2, timeout=20, what="the webhook")
        events = [b["event"] for b in receiver.bodies("/hook")]
        assert "release.started" in events and "release.healthy" in events, events
        # 503 twice, then 200: each event accepted exactly once.
        assert len(receiver.accepted) == len(set(receiver.accepted)), receiver.accepted
        assert len(receiver.bodies("/hook")) >= len(receiver.accepted) + 2
        assert any("release.healthy" in b["text"] for b in receiver.bodies("/slack"))
        assert TOKEN not in json.dumps(d.lines())  # secrets are never logged
    finally:
        assert d.stop() == 0
        receiver.stop()


def test_a_release_rolled_back_by_an_alarm_is_pending_then_failure_with_the_cause(
        gated, tmp_path):  # noqa: F811
    fleet = gated
    receiver = Receiver()
    configure(fleet, tmp_path, receiver)
    alarm(fleet)
    tg = target_group(fleet, "hello-tg")
    gate(fleet, tg, "  alarms: [hello-5xx]\n  bakeTimeSeconds: 900\n")
    assert fleet.apply().returncode == 0
    d = Daemon(fleet, tmp_path, None, "--resync", "1s")
    try:
        wait_until(lambda: d.said("ready"), timeout=60, what="ready")
        sha = fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="alarming")
        set_alarm_when(fleet, "Baking")
        wait_until(lambda: any(s[0] == "failure" for s in statuses(receiver, "/gh/", sha)),
                   timeout=90, what="GitHub's failure status")
        gh = statuses(receiver, "/gh/", sha)
        assert [s[0] for s in gh] == ["pending", "failure"], gh
        assert "hello-5xx" in gh[1][2] and len(gh[1][2]) <= 140, gh
        wait_until(lambda: any(b["event"] == "release.rolled-back"
                               for b in receiver.bodies("/hook")), timeout=10,
                   what="the webhook's rolled-back event")
    finally:
        assert d.stop() == 0
        receiver.stop()


def test_a_hostile_tag_value_is_escaped_in_slack(fleet, tmp_path):  # noqa: F811
    receiver = Receiver()
    configure(fleet, tmp_path, receiver)
    assert fleet.apply().returncode == 0
    d = Daemon(fleet, tmp_path, None, "--resync", "1s")
    try:
        wait_until(lambda: d.said("ready"), timeout=60, what="ready")
        fleet.asg.create_or_update_tags(Tags=[{
            "ResourceId": "hello", "ResourceType": "auto-scaling-group", "Key": "Owner",
            "Value": HOSTILE, "PropagateAtLaunch": False}])
        wait_until(lambda: any("drift.detected" in b["text"]
                               for b in receiver.bodies("/slack")), timeout=60,
                   what="Slack's drift message")
        text = next(b["text"] for b in receiver.bodies("/slack") if "drift.detected" in b["text"])
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, text
        assert "<script>" not in text and "<https://evil" not in text, text
        wait_until(lambda: any(b["event"] == "drift.corrected"
                               for b in receiver.bodies("/hook")), timeout=60,
                   what="the correction")
    finally:
        assert d.stop() == 0
        receiver.stop()
