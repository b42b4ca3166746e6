"""Every page, as an admin sees it: real data, no console error, no serious or critical
accessibility violation (axe-core), and pictures at desktop and phone width when asked
(``make screenshots``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.dashboard.conftest import (
    DESKTOP,
    Account,
    ConsoleErrors,
    Dashboard,
    make_account,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# (route, heading, a locator that shows the page's data arrived)
PAGES = [
    ("fleet", "Fleet", "main table tbody tr"),
    ("device/plug-1", "plug-1", "#chart[data-ready='1']"),
    ("alerts", "Alerts", "main .stats .stat"),
    ("energy", "Energy", "main table"),
    ("home", "Home", "[data-sensor='sensor-1']"),
    ("firmware", "Firmware", "main section h2"),
    ("quarantine", "Quarantine", "main section table, main section p.muted"),
    ("admin", "Admin", "text=Members of this tenant"),
]


def _serious(page: Page) -> list[dict[str, Any]]:
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.fixture(scope="module")
def admin(dashboard: Dashboard) -> Account:
    """An admin account, so the admin page (and every button) is on show."""
    return make_account(dashboard.wattline, "admin", totp=False)


def test_every_page_shows_its_data_accessibly(
    dashboard: Dashboard, browser: Browser, admin: Account
) -> None:
    # axe-core is injected as a script: CSP would refuse it, so this context bypasses
    # it (the other tests keep the policy and fail on any violation it logs).
    ctx = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    errors = ConsoleErrors()
    ctx.on("page", errors.watch)
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        page.goto(dashboard.url + "/")
        expect(page.get_by_role("heading", name="Sign in to Wattline")).to_be_visible()
        page.add_script_tag(path=str(AXE))
        found = {"login": _serious(page)}
        screenshot(page, "login")
        sign_in(page, dashboard.url, admin)
        for route, heading, ready in PAGES:
            page.goto(f"{dashboard.url}/#/{route}")
            expect(page.get_by_role("heading", name=heading, exact=True, level=1)).to_be_visible()
            expect(page.locator(ready).first).to_be_visible()
            page.wait_for_load_state("networkidle")
            page.add_script_tag(path=str(AXE))
            found[route] = _serious(page)
            screenshot(page, route.replace("/", "-"))
        assert {route: v for route, v in found.items() if v} == {}
        assert list(errors) == []
    finally:
        ctx.close()
