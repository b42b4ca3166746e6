"""The dashboard's editors, checked through the API: alert rules with their 7-day
preview and the API's validation errors beside the field; the tenant switch."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.dashboard.conftest import (
    DEMO_FLEET,
    PASSWORD,
    Account,
    ConsoleErrors,
    Dashboard,
    make_account,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def admin(dashboard: Dashboard) -> Account:
    return make_account(dashboard.wattline, "admin", totp=False)


def _forgive(context: tuple[BrowserContext, ConsoleErrors], *statuses: int) -> None:
    """Chromium logs every refused fetch as a console error: these refusals were the point."""
    _, errors = context
    errors[:] = [e for e in errors if not any(f"status of {s}" in e for s in statuses)]


def _rules(dashboard: Dashboard, name: str) -> list[dict[str, Any]]:
    return [r for r in dashboard.wattline.get("/api/v1/alert-rules")["rules"] if r["name"] == name]


def test_alert_rule_editor_with_preview(
    dashboard: Dashboard,
    admin: Account,
    page: Page,
    context: tuple[BrowserContext, ConsoleErrors],
) -> None:
    name = "Editor: meter voltage"
    sign_in(page, dashboard.url, admin)
    page.get_by_role("link", name="Alerts").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Severity").select_option("major")
    page.get_by_label("Metric").fill("voltage_v")
    page.get_by_label("Scope", exact=True).select_option("device")
    page.get_by_label("Device, type or tag").fill("dc-meter-1")
    page.get_by_label("Above or below").select_option("above")
    # no limit: the API's 422 shows beside the limit field, and nothing is saved
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#r-param-limit-error")).to_have_text("Field required")
    expect(page.get_by_label("Limit", exact=True)).to_have_attribute("aria-invalid", "true")
    assert _rules(dashboard, name) == []
    # a limit every reading is above: the preview opens one alert on the meter
    page.get_by_label("Limit", exact=True).fill("-1000000")
    page.get_by_label("Minimum duration (s)").fill("0")
    page.get_by_role("button", name="Preview last 7 days").click()
    summary = page.locator(".preview-summary")
    expect(summary).to_contain_text("Would have opened 1 alert on 1 of 1 device")
    expect(page.get_by_role("table", name="Alerts per device, most first")).to_contain_text(
        "dc-meter-1"
    )
    expect(page.locator("#r-param-limit-error")).to_be_hidden()
    screenshot(page, "alerts-rule-editor")
    # the same answer from the API, for the same definition
    answer = dashboard.admin(
        "POST",
        "/api/v1/alert-rules/preview",
        json={
            "name": name,
            "kind": "threshold",
            "scope": "device",
            "scope_value": "dc-meter-1",
            "metric": "voltage_v",
            "params": {"op": "above", "limit": -1_000_000},
        },
    )
    assert (answer["alerts_opened"], answer["devices_evaluated"]) == (1, 1)
    assert answer["devices"][0]["readings"] > 0
    # saving creates it as shown
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("table", name="Alert rules")).to_contain_text(name)
    (saved,) = _rules(dashboard, name)
    assert saved["severity"] == "major"
    assert (saved["scope"], saved["scope_value"], saved["metric"]) == (
        "device",
        "dc-meter-1",
        "voltage_v",
    )
    assert saved["params"]["limit"] == -1_000_000
    # editing adds hysteresis and a minimum duration, as a new version
    page.get_by_role("button", name=f"Edit rule {name}").click()
    expect(page.get_by_label("Limit", exact=True)).to_have_value("-1000000")
    page.get_by_label("Limit", exact=True).fill("5000")
    page.get_by_label("Hysteresis").fill("25")
    page.get_by_label("Minimum duration (s)").fill("120")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("table", name="Alert rules")).to_contain_text("limit 5000")
    (edited,) = _rules(dashboard, name)
    assert edited["version"] == 2
    assert edited["params"] == {"op": "above", "limit": 5000, "hysteresis": 25, "duration_s": 120}
    # deleting retires it
    page.get_by_role("button", name=f"Delete rule {name}").click()  # confirmation accepted
    expect(page.get_by_role("button", name=f"Edit rule {name}")).to_have_count(0)
    assert _rules(dashboard, name) == []
    _forgive(context, 422)


def test_a_range_and_a_foreign_device_are_refused_beside_their_fields(
    dashboard: Dashboard,
    admin: Account,
    page: Page,
    context: tuple[BrowserContext, ConsoleErrors],
) -> None:
    sign_in(page, dashboard.url, admin)
    page.goto(f"{dashboard.url}/#/alerts")
    page.get_by_label("Name", exact=True).fill("Editor: bad range")
    page.get_by_label("Kind").select_option("range")
    page.get_by_label("Metric").fill("voltage_v")
    page.get_by_label("Low", exact=True).fill("10")
    page.get_by_label("High", exact=True).fill("5")
    page.get_by_role("button", name="Preview last 7 days").click()
    expect(page.locator(".rule-form p.error[role='alert']")).to_contain_text(
        "low must be below high"
    )
    page.get_by_label("High", exact=True).fill("50")
    page.get_by_label("Scope", exact=True).select_option("device")
    page.get_by_label("Device, type or tag").fill("no-such-device")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#r-scope-value-error")).to_contain_text("no-such-device")
    assert _rules(dashboard, "Editor: bad range") == []
    _forgive(context, 404, 422)


def _join_second_tenant(
    dashboard: Dashboard, account: Account, tenant: str, tmp: Path, devices: int
) -> None:
    """A second tenant (made by the command line, as an operator would) with ``devices``
    devices invites the account."""
    owner = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    password_file = tmp / "password"
    password_file.write_text(PASSWORD)
    made = subprocess.run(
        [sys.executable, "-m", "wattline", "users", "create", "--email", owner, "--role",
         "owner", "--tenant", tenant, "--password-file", str(password_file),
         "--data-dir", str(dashboard.wattline.data_dir)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with httpx.Client(base_url=dashboard.url, timeout=10) as client:
        tokens = client.post("/api/v1/auth/login", json={"email": owner, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        invited = client.post(
            "/api/v1/invitations", json={"email": account.email, "role": "viewer"}, headers=auth
        )
        assert invited.status_code == 201, invited.text
        accepted = client.post(
            "/api/v1/invitations/accept",
            json={"token": invited.json()["token"], "password": account.password},
        )
        assert accepted.status_code == 200, accepted.text
        for i in range(devices):
            made_device = client.post(
                "/api/v1/devices", json={"device_id": f"t2dev-{i:04d}"}, headers=auth
            )
            assert made_device.status_code == 201, made_device.text


def test_tenant_switch_in_the_header_and_a_paged_fleet(
    dashboard: Dashboard, page: Page, tmp_path: Path
) -> None:
    # one tenant: no menu
    sign_in(page, dashboard.url, dashboard.operator)
    expect(page.get_by_label("Tenant")).to_have_count(0)
    account = make_account(dashboard.wattline, "operator", totp=False)
    _join_second_tenant(dashboard, account, "dash-t2", tmp_path, devices=55)
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, dashboard.url, account)
    menu = page.get_by_label("Tenant")
    expect(menu).to_have_value("default")
    # the default tenant's devices: the demo fleet, and those other tests added
    listed = dashboard.wattline.get("/api/v1/devices")["devices"]
    assert len(listed) >= len(DEMO_FLEET)
    expect(page.locator("main table tbody tr")).to_have_count(len(listed))
    menu.select_option("dash-t2")
    expect(page.get_by_text(f"{account.email} · viewer")).to_be_visible()
    devices = page.locator(".stat", has_text="Devices").locator(".stat-value")
    expect(devices).to_have_text("55")
    # its fleet a page at a time, and searched by the API
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(50)
    expect(page.get_by_role("table", name="Devices 1\u201350 of 55")).to_be_visible()
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(5)
    expect(rows.first).to_contain_text("t2dev-0050")
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(50)
    page.get_by_label("Search").fill("DEV-0042")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("t2dev-0042")
    # the session moved on the server: the tab's token is the second tenant's now
    token = page.evaluate("JSON.parse(sessionStorage.getItem('wattline.session')).access_token")
    me = httpx.get(
        f"{dashboard.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert (me["tenant_id"], me["role"]) == ("dash-t2", "viewer")
    # and back
    page.get_by_label("Tenant").select_option("default")
    expect(page.get_by_text(f"{account.email} · operator")).to_be_visible()
    expect(page.locator("main table tbody tr")).to_have_count(len(listed))


def test_tariff_editor(
    dashboard: Dashboard,
    admin: Account,
    page: Page,
    context: tuple[BrowserContext, ConsoleErrors],
) -> None:
    sign_in(page, dashboard.url, admin)
    page.goto(f"{dashboard.url}/#/admin")
    page.locator("#t-id").fill("dash-tou")
    page.locator("#t-name").fill("Evening peak")
    page.locator("#t-tz").fill("Mars/Olympus")
    page.locator("#t-versions-0-pricing").select_option("tou")
    page.locator("#t-versions-0-price_per_kwh").fill("0.20")
    page.locator("#t-versions-0-periods-0-price_per_kwh").fill("0.45")
    page.get_by_role("button", name="Save tariff").click()
    expect(page.locator("#t-tz-error")).to_be_visible()
    assert dashboard.wattline.client.get("/api/v1/tariffs/dash-tou").status_code == 404
    page.locator("#t-tz").fill("Europe/London")
    page.get_by_role("button", name="Save tariff").click()
    expect(page.get_by_role("button", name="Edit tariff Evening peak")).to_be_visible()
    saved = dashboard.wattline.get("/api/v1/tariffs/dash-tou")
    (version,) = saved["versions"]
    assert (saved["tz"], version["pricing"], version["price_per_kwh"]) == (
        "Europe/London",
        "tou",
        0.2,
    )
    assert [(p["start"], p["end"], p["price_per_kwh"]) for p in version["periods"]] == [
        ("16:00", "19:00", 0.45)
    ]
    # edit: the peak price, and a second, flat version from next year
    page.get_by_role("button", name="Edit tariff Evening peak").click()
    expect(page.locator("#t-id")).to_have_value("dash-tou")
    page.locator("#t-versions-0-periods-0-price_per_kwh").fill("0.50")
    page.locator("#t-versions-0-effective_to").fill("2099-01-01")
    page.get_by_role("button", name="Add version").click()
    page.locator("#t-versions-1-effective_from").fill("2099-01-01")
    page.locator("#t-versions-1-price_per_kwh").fill("0.30")
    page.get_by_role("button", name="Save tariff").click()
    expect(page.get_by_role("table", name="Tariffs")).to_contain_text("flat from 2099-01-01")
    versions = dashboard.wattline.get("/api/v1/tariffs/dash-tou")["versions"]
    assert versions[0]["periods"][0]["price_per_kwh"] == 0.5
    assert (versions[1]["pricing"], versions[1]["price_per_kwh"]) == ("flat", 0.3)
    page.get_by_role("button", name="Delete tariff Evening peak").click()
    expect(page.get_by_role("button", name="Edit tariff Evening peak")).to_have_count(0)
    assert dashboard.wattline.client.get("/api/v1/tariffs/dash-tou").status_code == 404
    _forgive(context, 422)


def test_device_sharing(
    dashboard: Dashboard,
    admin: Account,
    page: Page,
    context: tuple[BrowserContext, ConsoleErrors],
) -> None:
    guest = dashboard.viewer.email
    sign_in(page, dashboard.url, admin)
    page.goto(f"{dashboard.url}/#/admin")
    page.get_by_label("Device", exact=True).select_option("plug-1")
    page.get_by_label("Share with (email)").fill("nobody-here@example.com")
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("no user 'nobody-here@example.com'")
    page.get_by_label("Share with (email)").fill(guest)
    page.get_by_label("Role", exact=True).last.select_option("operator")
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("table", name="plug-1 is shared with")).to_contain_text(guest)
    shares = dashboard.wattline.get("/api/v1/devices/plug-1/shares")["shares"]
    assert [(s["email"], s["role"]) for s in shares] == [(guest, "operator")]
    page.get_by_role("button", name=f"Stop sharing with {guest}").click()
    expect(page.get_by_text("plug-1 is not shared with anyone")).to_be_visible()
    assert dashboard.wattline.get("/api/v1/devices/plug-1/shares")["shares"] == []
    _forgive(context, 404)


def test_a_campaign_from_an_uploaded_artifact(
    dashboard: Dashboard,
    admin: Account,
    page: Page,
    context: tuple[BrowserContext, ConsoleErrors],
) -> None:
    device_type = f"dashfw{uuid.uuid4().hex[:6]}"
    dashboard.admin("POST", "/api/v1/devices", json={"device_id": device_type, "type": device_type})
    artifact = dashboard.admin(
        "POST",
        "/api/v1/firmware/artifacts",
        params={"device_type": device_type, "version": "2.0.0"},
        content=b"\x7fELF firmware image " * 64,
        headers={"Content-Type": "application/octet-stream"},
    )
    sign_in(page, dashboard.url, admin)
    page.goto(f"{dashboard.url}/#/firmware")
    page.get_by_label("Artifact").select_option(artifact["artifact_id"])
    expect(page.get_by_label("Device type")).to_have_value(device_type)
    page.get_by_label("Waves, cumulative %").fill("50, 150")
    page.get_by_role("button", name="Start campaign").click()
    expect(page.locator("#c-waves_pct-error")).to_be_visible()
    page.get_by_label("Waves, cumulative %").fill("100")
    page.get_by_label("Soak after each wave (s)").fill("0")
    page.get_by_role("button", name="Start campaign").click()
    expect(page.get_by_role("heading", name=f"{device_type} → 2.0.0")).to_be_visible()
    (campaign,) = [
        c
        for c in dashboard.wattline.get("/api/v1/firmware/campaigns")["campaigns"]
        if c["artifact_id"] == artifact["artifact_id"]
    ]
    assert campaign["target"]["device_type"] == device_type
    assert campaign["soak_s"] == 0
    assert [w["cumulative_pct"] for w in campaign["waves"]] == [100]
    assert campaign["waves"][0]["total"] == 1
    _forgive(context, 422)


def test_a_firmware_upload_with_its_refusals_then_a_campaign_from_it(
    dashboard: Dashboard,
    admin: Account,
    page: Page,
    context: tuple[BrowserContext, ConsoleErrors],
) -> None:
    device_type = f"dashup{uuid.uuid4().hex[:6]}"
    dashboard.admin("POST", "/api/v1/devices", json={"device_id": device_type, "type": device_type})
    image = bytes(range(256)) * 12  # 3,072 bytes
    limit = 65536  # WATTLINE_FIRMWARE_MAX_BYTES in conftest.py

    def ours() -> list[dict[str, Any]]:
        listed = dashboard.wattline.get("/api/v1/firmware/artifacts")["artifacts"]
        return [a for a in listed if a["device_type"] == device_type]

    def upload(version: str, data: bytes) -> None:
        page.get_by_label("For devices of type").fill(device_type)
        page.get_by_label("Version", exact=True).fill(version)
        page.get_by_label("Firmware image").set_input_files(
            {"name": "image.bin", "mimeType": "application/octet-stream", "buffer": data}
        )
        page.get_by_role("button", name="Upload", exact=True).click()

    sign_in(page, dashboard.url, admin)
    page.goto(f"{dashboard.url}/#/firmware")
    # no file: said beside the file field, nothing sent
    page.get_by_label("For devices of type").fill(device_type)
    page.get_by_label("Version", exact=True).fill("1.0.0")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#f-file-error")).to_have_text("choose the firmware image file")
    # a version the API's pattern refuses (the query's 422), beside the version
    upload("1.0 beta", image)
    expect(page.locator("#f-version-error")).to_contain_text("should match pattern")
    expect(page.get_by_label("Version", exact=True)).to_have_attribute("aria-invalid", "true")
    # one byte over the size limit: the service's 422 names the number, beside the file
    upload("1.0.0", b"\0" * (limit + 1))
    expect(page.locator("#f-file-error")).to_have_text(
        f"the image has {limit + 1} bytes; at most {limit}"
    )
    expect(page.locator("#f-version-error")).to_be_hidden()
    screenshot(page, "firmware-upload-refused")
    assert ours() == []
    # accepted: listed with its size and SHA-256, the same as the API's
    upload("1.0.0", image)
    sha = hashlib.sha256(image).hexdigest()
    artifacts = page.get_by_role("table", name="Uploaded firmware")
    expect(artifacts).to_contain_text(sha[:16])
    expect(artifacts).to_contain_text("3.0 KiB (3,072 B)")
    (artifact,) = ours()
    assert (artifact["version"], artifact["size_bytes"], artifact["sha256"]) == ("1.0.0", 3072, sha)
    assert artifact["created_by"] == admin.email
    # and chosen in the campaign form
    expect(page.get_by_label("Artifact")).to_have_value(artifact["artifact_id"])
    expect(page.get_by_label("Device type", exact=True)).to_have_value(device_type)
    screenshot(page, "firmware-upload")
    # the same version again: the API's 409, beside the version
    upload("1.0.0", image)
    expect(page.locator("#f-version-error")).to_have_text(
        f"version 1.0.0 for {device_type} is uploaded already"
    )
    assert len(ours()) == 1
    # a campaign from it
    page.get_by_label("Waves, cumulative %").fill("100")
    page.get_by_label("Soak after each wave (s)").fill("0")
    page.get_by_role("button", name="Start campaign").click()
    expect(page.get_by_role("heading", name=f"{device_type} → 1.0.0")).to_be_visible()
    (campaign,) = [
        c
        for c in dashboard.wattline.get("/api/v1/firmware/campaigns")["campaigns"]
        if c["artifact_id"] == artifact["artifact_id"]
    ]
    assert campaign["waves"][0]["total"] == 1
    _forgive(context, 409, 422)


def _assignments(dashboard: Dashboard, tariff_id: str) -> list[tuple[str, str, str]]:
    listed = dashboard.wattline.get("/api/v1/tariff-assignments")["assignments"]
    return [
        (a["target_kind"], a["target"], a["direction"])
        for a in listed
        if a["tariff_id"] == tariff_id
    ]


def test_tariff_assignment_listed_then_removed(
    dashboard: Dashboard,
    admin: Account,
    page: Page,
    context: tuple[BrowserContext, ConsoleErrors],
) -> None:
    tariff_id = f"dash-assign-{uuid.uuid4().hex[:6]}"
    dashboard.admin(
        "PUT",
        f"/api/v1/tariffs/{tariff_id}",
        json={
            "name": "Assigned flat",
            "tz": "Europe/London",
            "versions": [
                {"effective_from": "2020-01-01", "pricing": "flat", "price_per_kwh": 0.25}
            ],
        },
    )
    try:
        sign_in(page, dashboard.url, admin)
        page.goto(f"{dashboard.url}/#/admin")
        page.get_by_label("Applies to").select_option("device")
        page.locator("#a-tariff_id").select_option(tariff_id)
        # a device the tenant does not have: the API's 404, beside the target
        page.get_by_label("Device id or tag").fill("no-such-device")
        page.get_by_role("button", name="Assign tariff").click()
        expect(page.locator("#a-target-error")).to_have_text(
            "device 'no-such-device' is not registered"
        )
        # a tag with no name: the API's 422, beside the target
        page.get_by_label("Applies to").select_option("tag")
        page.get_by_label("Device id or tag").fill("")
        page.get_by_role("button", name="Assign tariff").click()
        expect(page.locator("#a-target-error")).to_have_text("name the tag")
        assert _assignments(dashboard, tariff_id) == []
        # plug-1, exporting
        page.get_by_label("Applies to").select_option("device")
        page.get_by_label("Device id or tag").fill("plug-1")
        page.locator("#a-tariff_id").select_option(tariff_id)
        page.get_by_label("Direction").select_option("export")
        page.get_by_role("button", name="Assign tariff").click()
        assignments = page.get_by_role("table", name="Tariff assignments")
        expect(assignments).to_contain_text(f"Assigned flat ({tariff_id})")
        expect(page.locator("#a-target-error")).to_be_hidden()
        assert _assignments(dashboard, tariff_id) == [("device", "plug-1", "export")]
        # the tenant as a whole: no target
        page.get_by_label("Applies to").select_option("tenant")
        expect(page.get_by_label("Device id or tag")).to_be_disabled()
        page.locator("#a-tariff_id").select_option(tariff_id)
        page.get_by_label("Direction").select_option("import")
        page.get_by_role("button", name="Assign tariff").click()
        expect(assignments).to_contain_text("the whole tenant")
        assert sorted(_assignments(dashboard, tariff_id)) == [
            ("device", "plug-1", "export"),
            ("tenant", "", "import"),
        ]
        page.get_by_role("heading", name="Tariff assignments").scroll_into_view_if_needed()
        screenshot(page, "admin-tariff-assignments")
        # removed (the confirmation is accepted)
        page.get_by_role("button", name="Remove the tariff of device plug-1").click()
        expect(page.get_by_role("button", name="Remove the tariff of device plug-1")).to_have_count(
            0
        )
        assert _assignments(dashboard, tariff_id) == [("tenant", "", "import")]
        page.get_by_role("button", name="Remove the tariff of the whole tenant").click()
        expect(
            page.get_by_role("button", name="Remove the tariff of the whole tenant")
        ).to_have_count(0)
        assert _assignments(dashboard, tariff_id) == []
    finally:
        dashboard.wattline.client.delete(f"/api/v1/tariffs/{tariff_id}")
    _forgive(context, 404, 422)


def test_a_viewer_sees_neither_the_upload_nor_the_assignment_form(
    dashboard: Dashboard, page: Page, context: tuple[BrowserContext, ConsoleErrors]
) -> None:
    sign_in(page, dashboard.url, dashboard.viewer)
    page.goto(f"{dashboard.url}/#/firmware")
    expect(page.get_by_role("heading", name="Firmware", exact=True)).to_be_visible()
    expect(page.locator("input[type=file]")).to_have_count(0)
    expect(page.get_by_role("button", name="Upload")).to_have_count(0)
    page.goto(f"{dashboard.url}/#/admin")
    expect(page.get_by_role("heading", name="Tariff assignments")).to_be_visible()
    expect(page.get_by_role("button", name="Assign tariff")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove", exact=True)).to_have_count(0)
    # hidden only: the API is what refuses
    statuses = page.evaluate(
        """async () => {
            const token = JSON.parse(sessionStorage.getItem('wattline.session')).access_token;
            const auth = {Authorization: 'Bearer ' + token};
            const upload = await fetch('/api/v1/firmware/artifacts?device_type=x&version=1.0.0', {
                method: 'POST',
                headers: {...auth, 'Content-Type': 'application/octet-stream'},
                body: new Uint8Array([1, 2, 3]),
            });
            const assign = await fetch('/api/v1/tariff-assignments', {
                method: 'PUT',
                headers: {...auth, 'Content-Type': 'application/json'},
                body: JSON.stringify({target_kind: 'tenant', tariff_id: 'any'}),
            });
            return [upload.status, assign.status];
        }"""
    )
    assert statuses == [403, 403]
    _forgive(context, 403)
