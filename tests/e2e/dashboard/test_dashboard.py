"""The dashboard as people use it: sign in, the fleet, a live chart, a relay, an alert,
and a viewer who may look but not act."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
import pytest
from playwright.sync_api import BrowserContext, Page, WebSocketRoute, expect

from tests.e2e.conftest import wait_until
from tests.e2e.dashboard.conftest import DEMO_FLEET, ConsoleErrors, Dashboard, sign_in

pytestmark = pytest.mark.e2e


def test_sign_in_with_totp_then_sign_out(dashboard: Dashboard, page: Page) -> None:
    account = dashboard.totp_user
    page.goto(dashboard.url + "/")
    expect(page.get_by_role("heading", name="Sign in to Wattline")).to_be_visible()
    sign_in(page, dashboard.url, account)
    expect(page.get_by_text(f"{account.email} · operator")).to_be_visible()
    token = page.evaluate("JSON.parse(sessionStorage.getItem('wattline.session')).access_token")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Wattline")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('wattline.session')") is None
    # signing out ended the session on the server, not only in the tab
    after = dashboard.wattline.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert after.status_code == 401


def test_fleet_lists_the_demo_fleet_with_filters(dashboard: Dashboard, page: Page) -> None:
    sign_in(page, dashboard.url, dashboard.operator)
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(len(DEMO_FLEET))
    for device_id in DEMO_FLEET:
        expect(page.get_by_role("link", name=device_id, exact=True)).to_be_visible()
    expect(page.locator(".stat", has_text="Devices").locator(".stat-value")).to_have_text("6")
    page.get_by_label("Type").select_option("smart_plug")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("plug-1")
    page.get_by_label("Type").select_option("")
    page.get_by_label("Search").fill("meter")
    expect(rows).to_have_count(3)


def _publish(dashboard: Dashboard, device_id: str, seq: int, power_w: float) -> None:
    w = dashboard.wattline
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(w.mqtt_host, w.mqtt_port)
    client.loop_start()
    try:
        body = {"seq": seq, "ts": int(time.time() * 1000), "metrics": {"power_w": power_w}}
        info = client.publish(f"{w.topic_prefix}/{device_id}/telemetry", json.dumps(body), qos=1)
        info.wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_device_chart_draws_a_live_point_within_2_s(dashboard: Dashboard, page: Page) -> None:
    device_id = "dash-live-1"  # not the simulator's: its readings are this test's alone
    _publish(dashboard, device_id, 1, 10.0)
    wait_until(
        lambda: dashboard.wattline.client.get(f"/api/v1/devices/{device_id}").status_code == 200,
        10,
        "the device registered on first contact (demo mode)",
    )
    sign_in(page, dashboard.url, dashboard.operator)
    page.goto(f"{dashboard.url}/#/device/{device_id}")
    chart = page.locator("#chart[data-ready='1']")
    expect(chart).to_have_attribute("data-points", "1")
    expect(page.locator("#chart canvas")).to_be_visible()
    published = time.monotonic()
    _publish(dashboard, device_id, 2, 4321.0)
    page.wait_for_function(
        "() => document.querySelector('#chart').dataset.lastLive === '4321'", timeout=2_000
    )
    assert time.monotonic() - published < 2.0
    expect(page.locator(".stat[data-metric='power_w'] .stat-value")).to_have_text("4321 W")


def test_a_reading_committed_while_the_live_stream_opens_is_drawn(
    dashboard: Dashboard, page: Page
) -> None:
    """The page's subscription is held back until a reading committed after the page
    fetched the device: it asks for what came after what it shows, and draws it."""
    device_id = "dash-live-2"
    _publish(dashboard, device_id, 1, 10.0)
    wait_until(
        lambda: dashboard.wattline.client.get(f"/api/v1/devices/{device_id}").status_code == 200,
        10,
        "the device registered on first contact (demo mode)",
    )
    held: list[tuple[WebSocketRoute, str | bytes]] = []
    released = False

    def hold(route: WebSocketRoute) -> None:
        server = route.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if released:
                server.send(message)
            else:
                held.append((server, message))

        route.on_message(from_page)

    page.route_web_socket("**/api/v1/ws*", hold)
    sign_in(page, dashboard.url, dashboard.operator)
    page.goto(f"{dashboard.url}/#/device/{device_id}")
    expect(page.locator("#chart[data-ready='1']")).to_have_attribute("data-points", "1")
    # the route's callbacks run while Playwright is waiting, not during time.sleep
    deadline = time.monotonic() + 10
    while not any(b'"devices"' in _bytes(m) for _, m in held):
        assert time.monotonic() < deadline, "the page never subscribed"
        page.wait_for_timeout(100)
    _publish(dashboard, device_id, 2, 4321.0)
    wait_until(
        lambda: (
            dashboard.wattline.get(f"/api/v1/devices/{device_id}")["latest"]["power_w"]["value"]
            == 4321.0
        ),
        10,
        "the second reading committed",
    )
    released = True
    for server, message in held:
        server.send(message)
    page.wait_for_function(
        "() => document.querySelector('#chart').dataset.lastLive === '4321'", timeout=5_000
    )


def _bytes(message: str | bytes) -> bytes:
    return message.encode() if isinstance(message, str) else message


def _relay(dashboard: Dashboard, name: str) -> None:
    command = dashboard.admin(
        "POST", "/api/v1/devices/plug-1/commands", params={"wait": 10}, json={"name": name}
    )
    assert command["state"] == "succeeded", command


def test_toggling_the_plug_switches_its_relay_and_power_drops(
    dashboard: Dashboard, page: Page
) -> None:
    _relay(dashboard, "relay_on")
    wait_until(
        lambda: dashboard.wattline.get("/api/v1/devices/plug-1")["latest"]["power_w"]["value"] > 0,
        10,
        "the plug drawing power",
    )
    sign_in(page, dashboard.url, dashboard.operator)
    page.goto(f"{dashboard.url}/#/device/plug-1")
    expect(page.locator("#chart[data-ready='1']")).to_be_attached()
    expect(page.locator(".stat[data-metric='relay_state'] .stat-value")).to_have_text("on")
    page.get_by_role("button", name="Toggle relay").click()  # the confirmation is accepted
    expect(page.locator(".result")).to_contain_text("relay_toggle: succeeded", timeout=15_000)
    expect(page.locator(".result")).to_contain_text("relay off")
    # the next readings, live: relay off and no power drawn, on the chart too
    expect(page.locator(".stat[data-metric='relay_state'] .stat-value")).to_have_text("off")
    expect(page.locator(".stat[data-metric='power_w'] .stat-value")).to_have_text("0.00 W")
    page.wait_for_function("() => document.querySelector('#chart').dataset.lastLive === '0'")
    expect(page.get_by_role("table", name="Newest first")).to_contain_text("relay_toggle")


def test_acknowledging_an_alert(dashboard: Dashboard, page: Page) -> None:
    rule = dashboard.admin(
        "POST",
        "/api/v1/alert-rules",
        json={
            "name": "Meter is measuring",
            "kind": "threshold",
            "severity": "major",
            "scope": "device",
            "scope_value": "dc-meter-1",
            "metric": "voltage_v",
            "params": {"op": "above", "limit": -1_000_000},
        },
    )

    def active() -> list[dict[str, object]]:
        body = dashboard.wattline.get("/api/v1/alerts", rule_id=rule["rule_id"], status="active")
        return list(body["alerts"])

    wait_until(lambda: bool(active()), 15, "the rule's alert")
    sign_in(page, dashboard.url, dashboard.operator)
    page.get_by_role("link", name="Alerts").click()
    page.get_by_role("button", name="Acknowledge Meter is measuring on dc-meter-1").click()
    expect(page.get_by_text(f"acknowledged by {dashboard.operator.email}")).to_be_visible()
    assert active()[0]["acknowledged_by"] == dashboard.operator.email
    page.get_by_label("Comment on Meter is measuring for dc-meter-1").fill("on it")
    page.get_by_role("button", name="Comment").first.click()
    wait_until(
        lambda: any(
            c["text"] == "on it"
            for c in dashboard.wattline.get(f"/api/v1/alerts/{active()[0]['alert_id']}")["comments"]
            or []
        ),
        5,
        "the comment stored",
    )


def test_a_viewer_sees_no_command_buttons_and_a_forged_command_is_refused(
    dashboard: Dashboard, page: Page, context: tuple[BrowserContext, ConsoleErrors]
) -> None:
    sign_in(page, dashboard.url, dashboard.viewer)
    page.goto(f"{dashboard.url}/#/device/plug-1")
    expect(page.locator("#chart[data-ready='1']")).to_be_attached()
    expect(page.get_by_role("heading", name="Latest values")).to_be_visible()
    expect(page.get_by_role("button", name="Toggle relay")).to_have_count(0)
    expect(page.get_by_role("heading", name="Commands")).to_have_count(0)
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    # the buttons are only hidden; the API is what refuses
    status = page.evaluate(
        """async () => {
            const token = JSON.parse(sessionStorage.getItem('wattline.session')).access_token;
            const r = await fetch('/api/v1/devices/plug-1/commands', {
                method: 'POST',
                headers: {Authorization: 'Bearer ' + token, 'Content-Type': 'application/json'},
                body: JSON.stringify({name: 'relay_toggle'}),
            });
            return r.status;
        }"""
    )
    assert status == 403
    # Chromium logs every refused fetch as a console error: this one was the point
    _, errors = context
    errors[:] = [e for e in errors if "status of 403" not in e]
