"""The status page of `kiln run --listen` (issue 18), in a real browser:
headless Chromium from Debian's packages, driven by Selenium. The page
lists the apps, follows a release to `healthy` without a reload, shows an
out-of-band change as drift, and shows hostile values from AWS as text.
A screenshot is kept in $KILN_TEST_ARTIFACTS (default build/test-artifacts).
"""
import os
import pathlib
import shutil
import urllib.error
import urllib.request

import pytest

from awsemu.testing import wait_until
from kiln_cli import REPO_ROOT, seeded_repo
from test_apply import Fleet
from test_daemon import Daemon, listening

selenium = pytest.importorskip("selenium", reason="scripts/bootstrap installs selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

HOSTILE = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">'
ARTIFACTS = pathlib.Path(os.environ.get("KILN_TEST_ARTIFACTS",
                                        REPO_ROOT / "build" / "test-artifacts"))


@pytest.fixture
def fleet(awsemu_factory, tmp_path):
    # Refresh batches of 4 s and two instances: a release is seen mid-way.
    emu = awsemu_factory(bake_seconds=1.0, refresh_batch_seconds=4.0)
    f = Fleet(emu, seeded_repo(emu, tmp_path / "repo"), tmp_path)
    f.edit("  desired: 1", "  desired: 2", message="two instances")
    return f


@pytest.fixture
def browser():
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.fail("chromium and chromium-driver are missing: run scripts/bootstrap")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1200,900"):
        opts.add_argument(arg)
    b = webdriver.Chrome(service=Service(driver), options=opts)
    b.set_page_load_timeout(30)
    yield b
    b.quit()


def text_of(browser, css):
    """The text of what css selects, read in one step (the page re-renders
    its rows as it polls, so elements found earlier go stale)."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".map(e => e.innerText).join('\\n')", css)


def test_the_page_lists_the_apps_and_follows_a_release_without_a_reload(fleet, tmp_path,
                                                                         browser):
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0", "--resync", "1s")
    try:
        port = listening(d)
        wait_until(lambda: fleet.group() is not None and d.said("ready"), timeout=60,
                   what="the first release")
        browser.get(f"http://127.0.0.1:{port}/")
        wait_until(lambda: "hello" in text_of(browser, "#apps tbody"), timeout=20,
                   what="the app listed")
        wait_until(lambda: "in-sync" in text_of(browser, "#apps tbody"), timeout=60,
                   what="in sync")
        browser.execute_script("window.__loaded = 1")  # gone if the page reloads

        fleet.edit('version: "0.1.0"', 'version: "0.2.0"', message="0.2.0")
        wait_until(lambda: "%" in text_of(browser, "#apps td.release"), timeout=60,
                   what="the release's percentage")
        wait_until(lambda: "in-sync" in text_of(browser, "#apps tbody")
                   and "0.2.0" in text_of(browser, "#apps tbody"), timeout=90,
                   what="healthy")
        assert "healthy" in text_of(browser, "#apps td.release")
        assert browser.execute_script("return window.__loaded") == 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "status-page.png"))
    finally:
        assert d.stop() == 0


def test_drift_and_hostile_values_are_shown_as_text(fleet, tmp_path, browser):
    # Converged, then report-only, then changed by hand: the drift stays.
    assert fleet.apply().returncode == 0
    fleet.edit("drift: correct", "drift: report", message="report drift")
    fleet.asg.update_auto_scaling_group(AutoScalingGroupName="hello", MaxSize=7)
    fleet.asg.create_or_update_tags(Tags=[{
        "ResourceId": "hello", "ResourceType": "auto-scaling-group", "Key": "Owner",
        "Value": HOSTILE, "PropagateAtLaunch": False}])
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0", "--resync", "1s")
    try:
        port = listening(d)
        browser.get(f"http://127.0.0.1:{port}/")
        wait_until(lambda: "drifted" in text_of(browser, "#apps tbody"), timeout=60,
                   what="the fleet page's drift")
        browser.get(f"http://127.0.0.1:{port}/app/hello")
        wait_until(lambda: "autoscaling.max" in text_of(browser, "#drift tbody")
                   and "autoscaling.tags" in text_of(browser, "#drift tbody"),
                   timeout=60, what="the drift")
        rows = text_of(browser, "#drift tbody")
        assert "out-of-band" in rows
        assert "<script>window.__pwned=1</script>" in rows, rows
        assert "onerror" in rows
        assert browser.execute_script("return window.__pwned") is None
        assert browser.find_elements(By.CSS_SELECTOR, "#drift img") == []
        assert browser.find_elements(By.CSS_SELECTOR, "#drift script") == []
        assert "Releases" in browser.find_element(By.TAG_NAME, "body").text
        # The drift as history recorded it, hostile value and all, as text.
        wait_until(lambda: "autoscaling.max" in text_of(browser, "#drift-history tbody"),
                   timeout=30, what="the drift history")
        assert browser.execute_script("return window.__pwned") is None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "status-page-app.png"))
    finally:
        assert d.stop() == 0


def test_the_page_is_served_from_the_binary_with_strict_headers(fleet, tmp_path):
    d = Daemon(fleet, tmp_path, None, "--listen", "127.0.0.1:0")
    try:
        port = listening(d)
        for path, ctype in (("/", "text/html"), ("/app/hello", "text/html"),
                            ("/ui/kiln.js", "text/javascript"), ("/ui/kiln.css", "text/css")):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
                assert r.headers["Content-Type"].startswith(ctype), (path, r.headers)
                csp = r.headers["Content-Security-Policy"]
                assert "default-src 'none'" in csp and "script-src 'self'" in csp
                assert "unsafe-inline" not in csp
                assert r.headers["X-Content-Type-Options"] == "nosniff"
                assert r.headers["Cache-Control"] == "no-cache" and r.headers["ETag"]
                body = r.read().decode()
                assert "http://" not in body and "https://" not in body  # no external asset
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                         headers={"If-None-Match": r.headers["ETag"]})
            try:
                urllib.request.urlopen(req)
                raise AssertionError("expected 304")
            except urllib.error.HTTPError as e:
                assert e.code == 304
        for bad in ("/ui/../metrics", "/ui/nope.js", "/ui/index.html"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{bad}")
                raise AssertionError(bad)
            except urllib.error.HTTPError as e:
                assert e.code in (400, 404), (bad, e.code)
    finally:
        assert d.stop() == 0
