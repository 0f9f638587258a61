"""kiln run: the controller on its loop, against tests/awsemu and real git."""
import json
import os
import signal
import subprocess
import time

from kiln_cli import http, json_log, kiln_bin
from test_apply import add_apps, fleet, git  # noqa: F401  (fixture)
from test_history import RELEASE_KEYS

from awsemu.testing import wait_until
from gitserver import GitHTTPServer


class Daemon:
    def __init__(self, fleet, tmp_path, repo=None, *extra):
        self.log_path = tmp_path / "kiln-run.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [kiln_bin(), "run", "--repo", str(repo or fleet.root), "--state-dir",
             str(tmp_path / "state"), "--interval", "1s", "--resync", "1m",
             "--bake-poll", "500ms", "--refresh-poll", "500ms", *extra],
            env=fleet.env, stdout=subprocess.DEVNULL, stderr=self.log)

    def lines(self):
        return json_log(self.log_path)

    def said(self, fragment):
        return any(fragment in l.get("msg", "") for l in self.lines())

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.log.close()
        return code


def test_daemon_releases_each_commit_and_stops_cleanly(fleet, tmp_path):
    # A release, a revert and a drift correction in one run: under the
    # sanitizers (tests/run) the clean exit below is also a leak check.
    d = Daemon(fleet, tmp_path, None, "--resync", "2s")
    try:
        wait_until(lambda: fleet.group() is not None, timeout=60, what="the group")
        wait_until(lambda: d.said("ready"), timeout=10, what="readiness")
        fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
        wait_until(lambda: fleet.group()["LaunchTemplate"]["Version"] == "2",
                   timeout=90, what="the release of 0.2.0")
        assert len(fleet.kiln_images()) == 2
        git(fleet.root, "revert", "--no-edit", "HEAD")
        wait_until(lambda: fleet.group()["LaunchTemplate"]["Version"] == "1",
                   timeout=60, what="the revert")
        fleet.asg.update_auto_scaling_group(AutoScalingGroupName="hello", MaxSize=9)
        wait_until(lambda: fleet.group()["MaxSize"] == 3, timeout=30,
                   what="the drift correction")
        lines = d.lines()
        assert all(set(l) >= {"ts", "level", "msg"} for l in lines), lines[:3]
        assert not any("testing" in json.dumps(l) for l in lines)  # no secrets
    finally:
        started = time.monotonic()
        code = d.stop()
    assert code == 0
    assert time.monotonic() - started < 10
    assert d.said("stopped")


def test_unreachable_remote_keeps_the_last_good_commit(fleet, tmp_path):
    served = tmp_path / "served.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(fleet.root), str(served)], check=True)
    d = Daemon(fleet, tmp_path, f"file://{served}", "--listen", "127.0.0.1:0")
    try:
        port = listening(d)
        wait_until(lambda: fleet.group() is not None, timeout=60, what="the group")
        wait_until(lambda: http(port, "/readyz")[0] == 200, timeout=20, what="ready")
        os.rename(served, tmp_path / "away.git")
        wait_until(lambda: d.said("the last good commit stays"), timeout=20,
                   what="the fetch failure report")
        assert d.proc.poll() is None
        # Readiness and metrics say so too.
        status, body = http(port, "/readyz")
        assert status == 503 and "cannot fetch" in body, body
        assert "kiln_fetch_failing 1" in http(port, "/metrics")[1]
        # Drift is still corrected from the last good commit meanwhile.
        fleet.asg.update_auto_scaling_group(AutoScalingGroupName="hello", MaxSize=7)
        os.rename(tmp_path / "away.git", served)
        wait_until(lambda: d.said("works again"), timeout=30, what="recovery")
        assert http(port, "/readyz")[0] == 200
        assert "kiln_fetch_failing 0" in http(port, "/metrics")[1]
    finally:
        assert d.stop() == 0


def test_a_bad_pacing_setting_stops_the_daemon_at_start(fleet, tmp_path):
    r = subprocess.run([kiln_bin(), "run", "--repo", str(fleet.root), "--state-dir",
                        str(tmp_path / "state")],
                       env={**fleet.env, "KILN_AWS_RATE_LIMIT": "50%"},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert 'KILN_AWS_RATE_LIMIT must be "off" or a share' in r.stderr


def test_history_rewrite_is_reported_and_followed(fleet, tmp_path):
    d = Daemon(fleet, tmp_path)
    try:
        wait_until(lambda: fleet.group() is not None, timeout=60, what="the group")
        first = git(fleet.root, "rev-parse", "HEAD")
        fleet.edit("  max: 3", "  max: 4", message="one")
        wait_until(lambda: fleet.group()["MaxSize"] == 4, timeout=30, what="max 4")
        # A fast-forward is no rewrite.
        assert not d.said("history was rewritten")
        git(fleet.root, "reset", "-q", "--hard", first)
        fleet.edit("  max: 3", "  max: 2", message="rewritten")
        wait_until(lambda: fleet.group()["MaxSize"] == 2, timeout=30, what="max 2")
        assert d.said("history was rewritten")
    finally:
        assert d.stop() == 0


# ---- the HTTP server: status API, metrics, webhooks --------------------------

import hashlib  # noqa: E402
import hmac  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402

SECRET = b"s3cret-for-hooks"


def listening(d):
    wait_until(lambda: d.said("listening on"), timeout=10, what="the HTTP server")
    line = [l for l in d.lines() if "listening on" in l.get("msg", "")][0]
    return int(re.search(r"port (\d+)", line["msg"]).group(1))


def test_hook_releases_a_commit_and_the_api_reports_it(fleet, tmp_path):
    secret_file = tmp_path / "hook-secret"
    secret_file.write_bytes(SECRET + b"\n")
    secret_file.chmod(0o600)
    # The desired state is served by git's own smart-HTTP backend, and git
    # is polled only hourly: the hook is what brings the new commit.
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(fleet.root), str(served / "fleet.git")],
                   check=True)
    server = GitHTTPServer(served)
    d = Daemon(fleet, tmp_path, server.url("fleet.git"), "--listen", "127.0.0.1:0",
               "--webhook-secret-file", str(secret_file), "--interval", "1h")
    try:
        port = listening(d)
        assert http(port, "/healthz")[0] == 200
        wait_until(lambda: fleet.group() is not None, timeout=60, what="the group")
        wait_until(lambda: http(port, "/readyz")[0] == 200, timeout=20, what="ready")
        status, body = http(port, "/api/v1/apps")
        assert status == 200 and json.loads(body)["apps"][0]["name"] == "hello"

        fleet.edit("  max: 3", "  max: 5", message="grow")
        git(fleet.root, "push", "-q", str(served / "fleet.git"), "main")
        payload = b'{"ref": "refs/heads/main", "lies": "ignored"}'
        # Unsigned and badly signed hooks: 401, nothing fetched.
        assert http(port, "/hooks/github", payload)[0] == 401
        bad = "sha256=" + "0" * 64
        assert http(port, "/hooks/github", payload, {"X-Hub-Signature-256": bad})[0] == 401
        assert http(port, "/hooks/gitlab", payload, {"X-Gitlab-Token": "wrong"})[0] == 401
        assert not d.said("fetching")
        assert fleet.group()["MaxSize"] == 3

        fleet.emu.reset_requests()
        sig = "sha256=" + hmac.new(SECRET, payload, hashlib.sha256).hexdigest()
        sent = time.time()
        assert http(port, "/hooks/github", payload, {"X-Hub-Signature-256": sig})[0] == 202
        wait_until(lambda: fleet.group()["MaxSize"] == 5, timeout=20, what="max 5")
        writes = [e["t"] for e in fleet.emu.requests()["log"] if e["action"] == "UpdateAutoScalingGroup"]
        print(f"hook to first AWS mutation: {writes[0] - sent:.3f}s")

        metrics = http(port, "/metrics")[1]
        assert "kiln_reconcile_passes_total" in metrics
        cpu = float(re.search(r"^kiln_last_pass_cpu_seconds (\S+)$", metrics, re.M).group(1))
        assert 0 < cpu < 5
        # The loop's lag, from the stretches it was busy in the pass.
        lag = {k: float(re.search(rf"^kiln_last_pass_loop_lag_{k}_seconds (\S+)$", metrics,
                                  re.M).group(1)) for k in ("p99", "max")}
        wall = float(re.search(r"^kiln_last_pass_duration_seconds (\S+)$", metrics, re.M).group(1))
        assert 0 <= lag["p99"] <= lag["max"] <= wall, (lag, wall)
        rss = int(re.search(r"^process_resident_memory_bytes (\d+)$", metrics, re.M).group(1))
        peak = int(re.search(r"^process_max_resident_memory_bytes (\d+)$", metrics, re.M).group(1))
        assert 0 < rss <= peak
        # Kiln's pace for EC2's Describe* bucket (100, 20 per s): 90 % of it.
        assert re.search(r'^kiln_aws_pace_requests_per_second\{region="us-east-1",service="ec2",'
                         r'action="DescribeImages"\} 18$', metrics, re.M)
        assert 'kiln_commit_info{commit="' in metrics
        assert re.search(r'kiln_aws_requests_total\{region="us-east-1",service="ec2",'
                         r'action="DescribeImages",outcome="ok"\} [1-9]', metrics), metrics
        history = json.loads(http(port, "/api/v1/history")[1])
        one = json.loads(http(port, "/api/v1/history?limit=1&app=hello")[1])["releases"]
        assert len(one) == 1 and one[0]["app"] == "hello"
        assert json.loads(http(port, "/api/v1/history?app=nobody")[1])["releases"] == []
        for bad in ("limit=0", "limit=1001", "limit=x", "limit=+5", "limit=%205",
                    "app=%zz", "app=" + "a" * 200):
            assert http(port, "/api/v1/history?" + bad)[0] == 400, bad
        assert history["releases"] and history["releases"][0]["app"] == "hello"
        # ONE HISTORY SCHEMA (issue 12, item 10): the API serves a release in
        # the same form as `kiln history --format json`. Fails until
        # serve_history uses kiln_history_releases_json().
        for rel in history["releases"]:
            assert set(rel) == RELEASE_KEYS, sorted(rel)
        assert http(port, "/api/v1/apps/nope")[0] == 404
        def status():
            return subprocess.run([kiln_bin(), "status", "--server", f"http://127.0.0.1:{port}"],
                                  capture_output=True, text=True, timeout=30)
        # The pass after the step sees the group in sync again.
        wait_until(lambda: status().returncode == 0, timeout=20, what="kiln status in sync")
        st = status()
        assert "hello" in st.stdout and "in-sync" in st.stdout, st.stdout

        # /api/v1/status: the daemon at a glance, a few hundred bytes
        # whatever the number of apps, for scripts to poll.
        def summary():
            code, body = http(port, "/api/v1/status")
            assert code == 200, body
            s = json.loads(body)
            return s if s["last_pass"]["process_cpu_seconds"] is not None else None
        s = wait_until(summary, timeout=20, what="the last pass accounted")
        head = git(fleet.root, "rev-parse", "HEAD")
        assert s["commit"] == head and s["ready"] is True and s["error"] is None, s
        assert s["apps"] == 1 and s["statuses"] == {"in-sync": 1}, s
        assert s["passes"] >= 2 and s["pass_failures"] == 0, s
        assert s["bakes_in_flight"] == 0 and s["refreshes_in_flight"] == 0, s
        assert 0 < s["last_pass"]["cpu_seconds"] <= s["last_pass"]["process_cpu_seconds"] < 5, s
        assert s["last_pass"]["seconds"] > 0, s
    finally:
        assert d.stop() == 0
        server.close()


def raw(port, data, read=True):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        return s.recv(4096).decode(errors="replace") if read else ""


def test_api_drift_lists_the_apps_that_drift_and_only_them(fleet, tmp_path):
    add_apps(fleet, ["world", "third"])
    assert fleet.apply().returncode == 0
    # World's group is changed by hand, and AWS refuses Kiln's correction
    # until the fault is cleared: the drift stays for the API to show.
    fleet.asg.update_auto_scaling_group(AutoScalingGroupName="world", MaxSize=9)
    fleet.emu.faults({"service": "autoscaling", "action": "UpdateAutoScalingGroup",
                      "kind": "error500"})
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0", "--resync", "1s")
    try:
        port = listening(d)

        def drifting():
            status, body = http(port, "/api/v1/drift")
            return json.loads(body)["apps"] if status == 200 else None
        wait_until(lambda: drifting(), timeout=30, what="world's drift in the API")
        apps = drifting()
        assert [a["name"] for a in apps] == ["world"], apps
        fields = {f["field"]: f for f in apps[0]["drift"]}
        assert fields["autoscaling.max"]["actual"] == "9", fields
        assert fields["autoscaling.max"]["desired"] == "3", fields
        assert fields["autoscaling.max"]["cause"] == "out-of-band", fields
        every = json.loads(http(port, "/api/v1/apps")[1])["apps"]
        assert sorted(a["name"] for a in every) == ["hello", "third", "world"]
        assert json.loads(http(port, "/api/v1/drift")[1])["commit"] == \
            git(fleet.root, "rev-parse", "HEAD")

        fleet.emu.clear_faults()
        wait_until(lambda: fleet.group("world")["MaxSize"] == 3, timeout=30,
                   what="the correction")
        wait_until(lambda: drifting() == [], timeout=30, what="no drift in the API")
    finally:
        assert d.stop() == 0


def test_hostile_http_requests_get_4xx_and_do_no_harm(fleet, tmp_path):
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0")
    try:
        port = listening(d)
        assert raw(port, b"GARBAGE\r\n\r\n").startswith("HTTP/1.1 400")
        big = b"POST /hooks/generic HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"
        assert raw(port, big).startswith("HTTP/1.1 413")
        long_line = b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n"
        assert raw(port, long_line)[:12] in ("HTTP/1.1 414", "HTTP/1.1 400")
        headers = b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 500 + b"\r\n"
        assert raw(port, headers).startswith("HTTP/1.1 431")
        # No secret configured: every hook is refused.
        assert http(port, "/hooks/generic", b"{}", {"X-Kiln-Signature-256": "sha256=" + "a" * 64})[0] == 401
        assert http(port, "/healthz")[0] == 200
        assert d.proc.poll() is None
    finally:
        assert d.stop() == 0


def test_systemd_readiness_and_watchdog(fleet, tmp_path):
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(60)
    fleet.env = {**fleet.env, "NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "400000"}
    d = Daemon(fleet, tmp_path)
    try:
        seen = set()
        deadline = time.monotonic() + 60
        while not {"READY=1", "WATCHDOG=1"} <= seen and time.monotonic() < deadline:
            seen.add(sock.recv(256).decode())
        assert {"READY=1", "WATCHDOG=1"} <= seen, seen
    finally:
        assert d.stop() == 0
        sock.close()


def test_kill_9_during_bake_and_refresh_then_restart(fleet, tmp_path):
    ib = fleet.emu.client("imagebuilder")

    def builds():
        return [v for img in ib.list_images(owner="Self")["imageVersionList"]
                for v in ib.list_image_build_versions(imageVersionArn=img["arn"])["imageSummaryList"]]

    fleet.emu.reset_requests()
    d = Daemon(fleet, tmp_path)
    wait_until(lambda: "imagebuilder:CreateImage" in fleet.emu.counts(), timeout=60, what="a bake")
    d.stop(signal.SIGKILL)
    d = Daemon(fleet, tmp_path)
    try:
        wait_until(lambda: fleet.group() is not None, timeout=60, what="the group")
        assert len(builds()) == 1
        fleet.emu.reset_requests()
        fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="release 0.2.0")
        wait_until(lambda: "autoscaling:StartInstanceRefresh" in fleet.emu.counts(),
                   timeout=60, what="a refresh")
    finally:
        d.stop(signal.SIGKILL)
    d = Daemon(fleet, tmp_path)
    try:
        wait_until(lambda: fleet.group()["LaunchTemplate"]["Version"] == "2", timeout=60,
                   what="the release of 0.2.0")
        refreshes = fleet.asg.describe_instance_refreshes(AutoScalingGroupName="hello")
        assert len(refreshes["InstanceRefreshes"]) == 1
        assert len(builds()) == 2
        history = subprocess.run([kiln_bin(), "history", "--state-dir", str(tmp_path / "state"),
                                  "--format", "json"], capture_output=True, text=True, timeout=30)
        assert history.returncode == 0, history.stderr
        wait_until(lambda: json.loads(subprocess.run(
            [kiln_bin(), "history", "--state-dir", str(tmp_path / "state"), "--format", "json"],
            capture_output=True, text=True).stdout)["releases"][0]["outcome"] == "succeeded",
            timeout=30, what="the release recorded as succeeded")
    finally:
        assert d.stop() == 0


def test_hook_over_ssh_with_known_hosts(fleet, tmp_path):
    from sshserver import SSHServer
    bare = tmp_path / "fleet.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(fleet.root), str(bare)], check=True)
    server = SSHServer(tmp_path / "ssh")
    secret_file = tmp_path / "hook-secret"
    secret_file.write_bytes(SECRET)
    secret_file.chmod(0o600)
    fleet.env = {**fleet.env, **server.env()}
    d = Daemon(fleet, tmp_path, server.url(str(bare)), "--listen", "127.0.0.1:0",
               "--webhook-secret-file", str(secret_file), "--interval", "1h")
    try:
        port = listening(d)
        wait_until(lambda: fleet.group() is not None, timeout=60, what="the group")
        fleet.edit("  max: 3", "  max: 6", message="grow over ssh")
        git(fleet.root, "push", "-q", str(bare), "main")
        body = b"{}"
        sig = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        assert http(port, "/hooks/generic", body, {"X-Kiln-Signature-256": sig})[0] == 202
        wait_until(lambda: fleet.group()["MaxSize"] == 6, timeout=30, what="max 6")
    finally:
        assert d.stop() == 0
        server.close()


def test_ssh_remote_with_a_wrong_host_key_is_refused(fleet, tmp_path):
    from sshserver import SSHServer
    bare = tmp_path / "fleet.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(fleet.root), str(bare)], check=True)
    server = SSHServer(tmp_path / "ssh")
    fleet.env = {**fleet.env, **server.env(server.wrong_hosts)}
    d = Daemon(fleet, tmp_path, server.url(str(bare)))
    try:
        wait_until(lambda: d.said("does not match known_hosts"), timeout=20,
                   what="the host key refusal")
        assert fleet.group() is None
    finally:
        assert d.stop() == 0
        server.close()


def test_sigterm_with_a_bake_in_flight_exits_0_within_10_s(fleet, tmp_path):
    fleet.emu.reset_requests()
    d = Daemon(fleet, tmp_path)
    wait_until(lambda: "imagebuilder:CreateImage" in fleet.emu.counts(), timeout=60,
               what="a bake in flight")
    started = time.monotonic()
    assert d.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
