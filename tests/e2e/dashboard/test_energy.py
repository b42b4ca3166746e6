"""The energy page's solar section and home scope, and anomaly findings marked on a device's
chart, each against what the API answers for data seeded through the API."""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.dashboard.conftest import Account, Dashboard, make_account, screenshot, sign_in

pytestmark = pytest.mark.e2e

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
PV = {"latitude_deg": 51.5, "longitude_deg": -0.1, "tilt_deg": 30, "azimuth_deg": 180, "kwp": 4}


@pytest.fixture(scope="module")
def admin(dashboard: Dashboard) -> Account:
    return make_account(dashboard.wattline, "admin", totp=False)


def fmt(value: float, digits: int) -> str:
    """dom.js's fmtNumber: fewer digits from 100, whole and grouped from 10,000."""
    if abs(value) >= 10_000:
        return f"{round(value):,}"
    return f"{value:.{0 if abs(value) >= 100 else digits}f}"


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _meter(dashboard: Dashboard, days: int, spike_at_ms: int | None = None) -> str:
    """A registered meter with power every 10 minutes for `days` days up to the current
    hour (a daily shape, as tests/integration/intelligence seeds), posted over HTTP."""
    device_id = f"meter-{uuid.uuid4().hex[:6]}"
    dashboard.admin("POST", "/api/v1/devices", json={"device_id": device_id, "type": "meter"})
    end_ms = time.time_ns() // 1_000_000 // HOUR_MS * HOUR_MS
    items: list[dict[str, Any]] = []
    for i, ts in enumerate(range(end_ms - days * DAY_MS, end_ms, 600_000)):
        hour = ts % DAY_MS / HOUR_MS
        value = 500 + 400 * math.sin(math.pi * hour / 24) ** 2 + 20 * math.sin(i)
        if ts == spike_at_ms:
            value = 20_000.0
        items.append(
            {"device_id": device_id, "data_type": "power", "value": value, "timestamp": _iso(ts)}
        )
    # 600 items a post: a device's message stays under the 64 KiB payload limit
    for chunk in range(0, len(items), 600):
        sent = dashboard.admin("POST", "/api/v1/telemetry", json=items[chunk : chunk + 600])
        assert sent["rejected"] == [], sent
    return device_id


def test_the_solar_section_shows_the_apis_days(
    dashboard: Dashboard, admin: Account, page: Page
) -> None:
    dashboard.admin("PUT", "/api/v1/devices/inverter-1/pv-system", json=PV)
    sign_in(page, dashboard.url, admin)
    page.goto(f"{dashboard.url}/#/energy")
    solar = page.locator("#solar")
    days_table = solar.get_by_role("table", name="Measured against expected per day")
    expect(days_table).to_be_visible()
    expect(page.locator("#e-forecast")).to_have_value("inverter-1")
    tz = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    # the last 7 whole local days, as the page asked for them
    edges = {"start": solar.get_attribute("data-start"), "end": solar.get_attribute("data-end")}
    body = dashboard.admin("GET", "/api/v1/devices/inverter-1/solar", params={"tz": tz, **edges})
    assert len(body["days"]) == 7
    rows = days_table.locator("tbody tr")
    expect(rows).to_have_count(len(body["days"]))
    # whole past days: measured and expected (pvlib's clear sky) as the API has them
    for column, key in ((1, "actual_kwh"), (2, "expected_kwh")):
        shown = [rows.nth(i).locator("td").nth(column).inner_text() for i in range(rows.count())]
        assert shown == [fmt(d[key], 3) for d in body["days"]], key
    expect(solar.locator("canvas").first).to_be_visible()  # the uPlot bars
    screenshot(page, "energy-solar")


def test_a_seeded_finding_is_marked_on_the_device_chart(
    dashboard: Dashboard, admin: Account, page: Page
) -> None:
    spike_ms = time.time_ns() // 1_000_000 // HOUR_MS * HOUR_MS - 2 * DAY_MS - 5 * HOUR_MS
    # 18 days, as tests/integration/intelligence: the detectors' reference needs weeks
    device_id = _meter(dashboard, 18, spike_at_ms=spike_ms)
    scan = dashboard.admin("POST", f"/api/v1/devices/{device_id}/anomalies/scan")
    spikes = [f for f in scan["findings"] if f["kind"] == "spike"]
    assert spikes, scan
    listed = dashboard.admin("GET", "/api/v1/anomalies", params={"device": device_id})
    sign_in(page, dashboard.url, admin)
    page.goto(f"{dashboard.url}/#/device/{device_id}/7d")
    expect(page.locator("#chart[data-ready='1']")).to_be_visible()
    # a week at 10 minutes, asked for column-wise (layout=columns): every bucket with data drawn
    points = int(page.locator("#chart").get_attribute("data-points") or 0)
    assert 7 * 144 - 8 <= points <= 7 * 144 + 1, points  # the data ends at the current hour
    marks = page.locator("#chart .anomaly-mark")
    expect(marks).to_have_count(listed["count"])
    spike = next(f for f in listed["findings"] if f["kind"] == "spike")
    mark = page.locator(f"#chart .anomaly-mark[data-finding='{spike['id']}']")
    expect(mark).to_be_visible()
    assert spike["explanation"] in (mark.locator("span").get_attribute("title") or "")
    expect(page.locator(f".anomaly-list li[data-finding='{spike['id']}']")).to_contain_text(
        spike["explanation"]
    )
    # the mark sits where the spike is: its left edge near the spike's x on the plot
    left = float(mark.evaluate("(el) => parseFloat(el.style.left)"))
    width = page.evaluate("() => document.querySelector('#chart .u-over').clientWidth")
    start_ms = datetime.fromisoformat(spike["start"]).timestamp() * 1000
    share = (start_ms - (time.time() * 1000 - 7 * DAY_MS)) / (7 * DAY_MS)
    assert abs(left / width - share) < 0.05
    screenshot(page, "device-anomaly")


def test_the_home_scope_sums_the_homes_devices(
    dashboard: Dashboard, admin: Account, page: Page
) -> None:
    grid, load = _meter(dashboard, 3), _meter(dashboard, 2)
    home_id = f"home-{uuid.uuid4().hex[:6]}"
    dashboard.admin(
        "PUT",
        f"/api/v1/homes/{home_id}",
        json={"sources": [{"kind": "grid", "device_id": grid}], "load_device_id": load},
    )
    sign_in(page, dashboard.url, admin)
    page.goto(f"{dashboard.url}/#/energy")
    page.locator("#e-scope").select_option(f"home:{home_id}")
    per_device = page.get_by_role("table", name="Per device")
    expect(per_device.locator("tbody tr")).to_have_count(2)
    tz = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    start = (datetime.now(UTC) - timedelta(days=14)).isoformat()
    body = dashboard.admin(
        "GET",
        "/api/v1/energy",
        params={"devices": f"{grid},{load}", "interval": "1d", "tz": tz, "start": start},
    )
    assert body["total_kwh"] > 10
    total = page.locator("main section").first.locator("p strong").first
    expect(total).to_have_text(f"{fmt(body['total_kwh'], 2)} kWh")
    shown = {
        row.locator("td").nth(0).inner_text(): row.locator("td").nth(2).inner_text()
        for row in per_device.locator("tbody tr").all()
    }
    assert shown == {d["device_id"]: fmt(d["total_kwh"], 3) for d in body["devices"]}


def test_export_shows_in_the_cost_table_for_a_device_that_exports(
    dashboard: Dashboard, admin: Account, page: Page
) -> None:
    suffix = uuid.uuid4().hex[:6]
    device_id, tag, tariff_id = f"pv-{suffix}", f"roof-{suffix}", f"flat-{suffix}"
    dashboard.admin(
        "POST", "/api/v1/devices", json={"device_id": device_id, "type": "meter", "tags": [tag]}
    )
    # import and export counters, hourly over the last two days: 0.2 kWh in, 0.5 kWh out
    end_ms = time.time_ns() // 1_000_000 // HOUR_MS * HOUR_MS
    items: list[dict[str, Any]] = []
    for i, ts in enumerate(range(end_ms - 2 * DAY_MS, end_ms + 1, HOUR_MS)):
        for data_type, wh in (("energy", 200.0), ("energy_export_wh", 500.0)):
            items.append(
                {
                    "device_id": device_id,
                    "data_type": data_type,
                    "value": i * wh,
                    "timestamp": _iso(ts),
                }
            )
    assert dashboard.admin("POST", "/api/v1/telemetry", json=items)["rejected"] == []
    dashboard.admin(
        "PUT",
        f"/api/v1/tariffs/{tariff_id}",
        json={
            "name": "Flat",
            "tz": "UTC",
            "versions": [
                {"effective_from": "2020-01-01", "pricing": "flat", "price_per_kwh": 0.25}
            ],
        },
    )
    dashboard.admin(
        "PUT",
        "/api/v1/tariff-assignments",
        json={"target_kind": "device", "target": device_id, "tariff_id": tariff_id},
    )
    sign_in(page, dashboard.url, admin)
    page.goto(f"{dashboard.url}/#/energy")
    page.locator("#e-scope").select_option(f"tag:{tag}")
    tz = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    start = (datetime.now(UTC) - timedelta(days=14)).isoformat()
    cost = dashboard.admin(
        "GET",
        "/api/v1/energy/cost",
        params={"tag": tag, "interval": "1d", "tz": tz, "start": start},
    )
    assert cost["export_kwh"] > 20
    expect(page.get_by_text(f"{fmt(cost['export_kwh'], 3)} kWh exported")).to_be_visible()
    rows = page.get_by_role("table", name="Cost per period").locator("tbody tr")
    priced = [b for b in cost["buckets"] if b["import_kwh"] or b["export_kwh"] or b["cost"]]
    expect(rows).to_have_count(len(priced))
    shown = [rows.nth(i).locator("td").nth(2).inner_text() for i in range(len(priced))]
    assert shown == [fmt(b["export_kwh"], 3) for b in priced]
    screenshot(page, "energy-export")
