"""One ``wattline up --demo`` for this folder's tests, and Debian's Chromium driven by Playwright.

Starting Wattline takes seconds (40 on a loaded machine) and Chromium about one, so
the folder's modules share both (each test makes its own accounts, rules and devices);
each test gets a fresh browser context (its own sessionStorage, so its own sign-in).
A page that logs a console error or throws fails its test: the dashboard promises
none (docs/dashboard.md).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.conftest import unavailable
from tests.e2e.conftest import RunningWattline, start_wattline, wait_until

CHROMIUM = Path("/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "dashboard-test-Pw-7c2f9a1e"
DEMO_FLEET = ("dc-meter-1", "dc-meter-2", "ac-meter-1", "plug-1", "inverter-1", "sensor-1")


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    totp_secret: str | None

    def code(self) -> str | None:
        """A code the server has not seen yet: each TOTP step is accepted once, and
        enrolment spent the current one, so the next step's code (within the window)."""
        if self.totp_secret is None:
            return None
        return pyotp.TOTP(self.totp_secret).at(time.time() + 30)


@dataclass
class Dashboard:
    wattline: RunningWattline
    totp_user: Account  # an operator with TOTP on: each code works once, so one sign-in
    operator: Account
    viewer: Account

    @property
    def url(self) -> str:
        return self.wattline.api_url

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.wattline.client.request(method, path, **kwargs)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None


def make_account(running: RunningWattline, role: str, totp: bool) -> Account:
    email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
    created = running.client.post(
        "/api/v1/users", json={"email": email, "password": PASSWORD, "role": role}
    )
    assert created.status_code == 201, created.text
    if not totp:
        return Account(email, PASSWORD, None)
    with httpx.Client(base_url=running.api_url, timeout=10) as client:
        tokens = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        secret = client.post("/api/v1/auth/totp/enroll", headers=auth).json()["secret"]
        confirmed = client.post(
            "/api/v1/auth/totp/confirm", headers=auth, json={"code": pyotp.TOTP(secret).now()}
        )
        assert confirmed.status_code == 200, confirmed.text
    return Account(email, PASSWORD, secret)


@pytest.fixture(scope="package")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    running = start_wattline(
        tmp_path_factory.mktemp("dashboard"),
        "--demo",
        env={
            "WATTLINE_SIM_INTERVAL_S": "1",
            # The relay's safety minimums (10 s on, 10 s off) would make the relay test
            # wait; its refusals are the API's, tested in tests/unit/commands/test_relay.py.
            "WATTLINE_RELAY_MIN_ON_S": "0",
            "WATTLINE_RELAY_MIN_OFF_S": "0",
            # a firmware size limit a browser test can go over without megabytes
            # (test_editors.py's upload; its other images are a few KiB)
            "WATTLINE_FIRMWARE_MAX_BYTES": "65536",
        },
        # a module's one start; on a machine shared with other test runs it has taken 40 s
        healthy_within_s=90,
    )
    try:
        wait_until(
            lambda: sum(bool(d["latest"]) for d in running.get("/api/v1/devices")["devices"]) >= 6,
            30,
            "the demo fleet's first readings",
        )
        yield Dashboard(
            running,
            make_account(running, "operator", totp=True),
            make_account(running, "operator", totp=False),
            make_account(running, "viewer", totp=False),
        )
    finally:
        code, stderr = running.stop()
        assert code == 0, stderr


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        unavailable("Debian's chromium is not installed (scripts/install-test-deps.sh)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


class ConsoleErrors(list[str]):
    """Console errors and uncaught exceptions of every page of a context."""

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.append(f"uncaught: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.append(f"{message.text} ({message.location.get('url', '')})")


@pytest.fixture
def context(browser: Browser) -> Iterator[tuple[BrowserContext, ConsoleErrors]]:
    ctx = browser.new_context(viewport=DESKTOP)
    errors = ConsoleErrors()
    ctx.on("page", errors.watch)
    ctx.set_default_timeout(10_000)
    try:
        yield ctx, errors
    finally:
        ctx.close()


@pytest.fixture
def page(context: tuple[BrowserContext, ConsoleErrors]) -> Iterator[Page]:
    ctx, errors = context
    new_page = ctx.new_page()
    new_page.on("dialog", lambda dialog: dialog.accept())  # confirmations say yes
    yield new_page
    assert list(errors) == [], "the dashboard logged errors"


def sign_in(page: Page, base_url: str, account: Account) -> None:
    page.goto(f"{base_url}/#/login")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    code = account.code()
    if code is not None:
        page.get_by_label("Authenticator code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Fleet").wait_for()


def screenshot(page: Page, name: str) -> None:
    """Desktop and phone pictures of this page, when WATTLINE_SCREENSHOTS names a folder
    (``make screenshots`` writes docs/screenshots/); else none, so a test run leaves the
    work tree as it found it."""
    folder = os.environ.get("WATTLINE_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=f"{folder}/{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)  # the chart resizes on the resize event
    page.screenshot(path=f"{folder}/{name}-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)
