"""A device's location (PATCH /api/v1/devices/{id}) and sun schedules that run at it,
over SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

import json
import math
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.schedules.test_schedules_api import (
    OPERATOR,
    OTHER,
    VIEWER,
    Rig,
    ms,
)
from tests.integration.schedules.test_schedules_api import rig as rig  # noqa: PLC0414 - fixture
from tests.integration.security.tenants import ADMIN_TOKEN, bearer

from wattline.model.solar import sun_times_ms
from wattline.storage.schema import DEFAULT_TENANT

ADMIN = bearer(ADMIN_TOKEN)
BERLIN = {"latitude_deg": 52.52, "longitude_deg": 13.40}
LISBON = {"latitude_deg": 38.72, "longitude_deg": -9.14}
SUNSET_AT_DEVICES = {
    "name": "lights at dusk",
    "target": {"tag": "garden"},
    "kind": "sun",
    "sun_event": "sunset",
    "offset_min": -15,
    "timezone": "Europe/Berlin",
    "command": "relay_on",
}


def _locate(rig: Rig, device_id: str, where: dict[str, float] | None) -> dict[str, object]:
    answer = rig.client.patch(
        f"/api/v1/devices/{device_id}", json={"location": where}, headers=ADMIN
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_location_is_set_shown_cleared_and_tenant_scoped(rig: Rig) -> None:
    assert _locate(rig, "lamp-1", BERLIN)["location"] == BERLIN
    shown = rig.client.get("/api/v1/devices/lamp-1", headers=VIEWER).json()
    assert shown["location"] == BERLIN
    listed = rig.client.get("/api/v1/devices", headers=VIEWER).json()["devices"]
    assert {d["device_id"]: d["location"] for d in listed}["lamp-2"] is None
    # a body without "location" changes nothing
    assert (
        rig.client.patch("/api/v1/devices/lamp-1", json={}, headers=ADMIN).json()["location"]
        == BERLIN
    )
    assert (
        rig.client.patch(
            "/api/v1/devices/lamp-1", json={"location": LISBON}, headers=OPERATOR
        ).status_code
        == 403
    )
    assert (
        rig.client.patch(
            "/api/v1/devices/lamp-1", json={"location": LISBON}, headers=OTHER
        ).status_code
        == 404
    )
    assert (
        rig.client.patch(
            "/api/v1/devices/nowhere", json={"location": LISBON}, headers=ADMIN
        ).status_code
        == 404
    )
    assert _locate(rig, "lamp-1", None)["location"] is None
    device = rig.store.get_device("lamp-1", tenant_id=DEFAULT_TENANT)
    assert device is not None
    assert device.location is None
    actions = [e.action for e in rig.audit_log.audit_page(DEFAULT_TENANT, None, 10)]
    assert actions[:2] == ["device.update", "device.update"]


def _in_range(latitude: float, longitude: float) -> bool:
    return (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and -90 <= latitude <= 90
        and -180 <= longitude <= 180
    )


EDGES = st.sampled_from(
    [-90.0, 90.0, -180.0, 180.0, -90.0000001, 90.0000001, 180.0000001, -180.0000001, 0.0]
)
COORDINATE = st.one_of(EDGES, st.floats(allow_nan=True, allow_infinity=True))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(latitude=COORDINATE, longitude=COORDINATE)
def test_coordinates_are_taken_exactly_when_in_range(
    rig: Rig, latitude: float, longitude: float
) -> None:
    # NaN and infinity travel as the JSON extensions Python writes and reads
    body = {"location": {"latitude_deg": latitude, "longitude_deg": longitude}}
    answer = rig.client.patch(
        "/api/v1/devices/heater",
        content=json.dumps(body),
        headers={**ADMIN, "content-type": "application/json"},
    )
    if _in_range(latitude, longitude):
        assert answer.status_code == 200, answer.text
        assert answer.json()["location"] == {"latitude_deg": latitude, "longitude_deg": longitude}
    else:
        assert answer.status_code == 422, answer.text
        fields = {tuple(e["loc"])[-1] for e in answer.json()["detail"]}
        assert fields <= {"latitude_deg", "longitude_deg"}


def test_a_named_device_without_location_is_refused_at_creation(rig: Rig) -> None:
    for_heater = {**SUNSET_AT_DEVICES, "target": {"device_ids": ["heater"]}}
    refused = rig.client.post("/api/v1/schedules", json=for_heater, headers=OPERATOR)
    assert refused.status_code == 422
    detail = refused.json()["detail"][0]
    assert detail["loc"] == ["body", "latitude_deg"]
    assert "PATCH /api/v1/devices/heater" in detail["msg"]
    _locate(rig, "heater", BERLIN)
    made = rig.client.post("/api/v1/schedules", json=for_heater, headers=OPERATOR)
    assert made.status_code == 201, made.text
    sunset = sun_times_ms(date(2026, 3, 28), **BERLIN)
    assert sunset is not None
    assert made.json()["upcoming"][0].startswith("2026-03-28T18:")
    assert made.json()["next_run"] is not None
    assert (
        abs(ms(made.json()["next_run"].replace("Z", "+00:00")) - (sunset[1] - 15 * 60_000)) < 1000
    )


def test_each_device_runs_at_its_own_sunset_and_the_unlocated_are_skipped(rig: Rig) -> None:
    _locate(rig, "lamp-1", BERLIN)
    rig.store.register_device("lamp-3", "smart_plug", 0, ["garden"], tenant_id=DEFAULT_TENANT)
    _locate(rig, "lamp-3", LISBON)
    made = rig.client.post("/api/v1/schedules", json=SUNSET_AT_DEVICES, headers=OPERATOR)
    assert made.status_code == 201, made.text
    skipped = made.json()["skipped_devices"]
    assert [s["device_id"] for s in skipped] == ["lamp-2"]
    assert "has no location" in skipped[0]["reason"]
    times = {
        device: sun_times_ms(date(2026, 3, 28), **where)
        for device, where in (("lamp-1", BERLIN), ("lamp-3", LISBON))
    }
    due = {device: t[1] - 15 * 60_000 for device, t in times.items() if t is not None}
    scheduler = rig.scheduler("process-a")
    runs = []
    rig.clock.now_ms = ms("2026-03-28T16:00+01:00")
    while rig.clock.now_ms < ms("2026-03-28T21:00+01:00"):  # a tick a minute
        runs += scheduler.run_once()
        rig.clock.now_ms += 60_000
    sent = [(c["device"], c["expires_at"]) for c in rig.issued.commands]
    assert [device for device, _ in sent] == ["lamp-1", "lamp-3"]  # Berlin's sunset first
    for run, device in zip(runs, ("lamp-1", "lamp-3"), strict=True):
        assert abs(run.planned_ms - due[device]) < 1000
        assert ("lamp-2", skipped[0]["reason"]) in run.skipped


def test_no_sunset_within_a_year_is_a_reason(rig: Rig) -> None:
    _locate(rig, "lamp-1", {"latitude_deg": 90.0, "longitude_deg": 0.0})  # the North Pole
    _locate(rig, "lamp-2", BERLIN)
    made = rig.client.post("/api/v1/schedules", json=SUNSET_AT_DEVICES, headers=OPERATOR).json()
    reasons = {s["device_id"]: s["reason"] for s in made["skipped_devices"]}
    assert "does not set" in reasons["lamp-1"]
    assert "lamp-2" not in reasons


def test_a_device_located_after_the_schedule_was_made_runs(rig: Rig) -> None:
    made = rig.client.post("/api/v1/schedules", json=SUNSET_AT_DEVICES, headers=OPERATOR).json()
    assert made["next_run"] is None
    assert made["upcoming"] == []
    assert {s["device_id"] for s in made["skipped_devices"]} == {"lamp-1", "lamp-2"}
    scheduler = rig.scheduler("process-a")
    rig.clock.now_ms = ms("2026-03-28T13:00+01:00")
    assert scheduler.run_once() == []  # nothing due: no reasons logged each look
    _locate(rig, "lamp-1", BERLIN)
    while rig.clock.now_ms < ms("2026-03-28T21:00+01:00"):
        scheduler.run_once()
        rig.clock.now_ms += 60_000
    assert [c["device"] for c in rig.issued.commands] == ["lamp-1"]
