"""The four seed systems' devices and apps, pointed at a running ``wattline up`` unchanged.

One Wattline, started as a user would with every adapter on by default, ingesting
from the machine's Mosquitto on 1883 (the seeds' own broker port). Per seed system:
a device test publishes the payloads its document shows (the documented fields and
values; timestamps are now, so retention keeps them) on its documented topics and
reads them back through its seed-shaped API and the primary API; a client test
makes the requests its document shows and reads the response fields it shows.
Device ids are unique per run: the broker is shared.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.e2e.conftest import TOKEN, RunningWattline, forget_session, start_wattline, wait_until

RUN = uuid.uuid4().hex[:6]
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def wattline(
    tmp_path_factory: pytest.TempPathFactory, mosquitto_url: str
) -> Iterator[RunningWattline]:
    env = {
        "WATTLINE_MQTT_URL": mosquitto_url,
        "WATTLINE_TOPIC_PREFIX": "iot",  # the IoT-meter seed's topics, as documented
        "WATTLINE_OPEN_SIGNUP": "true",  # the smart-plug app signs its users up
        "WATTLINE_TOKENLESS_INGEST": "true",  # smart-solar devices without a token
    }
    running = start_wattline(tmp_path_factory.mktemp("compat"), "--auto-register", env=env)
    yield running
    code, stderr = running.stop()
    forget_session(running.mqtt_host, running.mqtt_port, f"wattline-{running.topic_prefix}")
    assert code == 0, stderr
    assert "Traceback" not in stderr


def publish(w: RunningWattline, messages: list[tuple[str, Any]]) -> None:
    """Publish at QoS 1, as the seeds' devices do; a str payload goes as it is."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"seed-{uuid.uuid4().hex}")
    client.connect(w.mqtt_host, w.mqtt_port)
    client.loop_start()
    infos = [
        client.publish(topic, body if isinstance(body, str) else json.dumps(body), qos=1)
        for topic, body in messages
    ]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def iso_now(offset_s: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() + offset_s, UTC).isoformat().replace("+00:00", "Z")


def answers(w: RunningWattline, path: str, **params: Any) -> bool:
    return bool(w.client.get(path, params=params).status_code == 200)


def get(client: httpx.Client, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    return response.json()


# -- smart plug (seeds/003) -------------------------------------------------------------

PLUG = f"smartplug_{RUN}"
# The document's telemetry: voltage, current, power and the relay as a boolean.
PLUG_READINGS = [
    {"voltage": 120.2, "current": 0.503, "power": 60.5, "relay_state": True},
    {"voltage": 120.1, "current": 0.501, "power": 60.2, "relay_state": True},
]


@pytest.fixture(scope="module")
def plug(wattline: RunningWattline) -> str:
    messages = [
        (f"smartplug/{PLUG}/telemetry", {**row, "timestamp": iso_now(i - 60)})
        for i, row in enumerate(PLUG_READINGS)
    ]
    publish(wattline, [(f"smartplug/{PLUG}/status", "online"), *messages])
    wait_until(
        lambda: (
            answers(wattline, f"/devices/{PLUG}/telemetry/latest")
            and wattline.get(f"/devices/{PLUG}/telemetry/latest")["power"] == 60.2
        ),
        30,
        "the plug's readings",
    )
    return PLUG


def test_smart_plug_device_readings_read_back_in_both_shapes(
    wattline: RunningWattline, plug: str
) -> None:
    latest = wattline.get(f"/devices/{plug}/telemetry/latest")
    assert latest["device_id"] == plug
    assert {k: latest[k] for k in ("voltage", "current", "power", "relay_state")} == PLUG_READINGS[
        1
    ]
    assert latest["relay_state"] is True
    # The primary API: Wattline's names, the relay a boolean, the device's names as aliases.
    primary = wattline.get(f"/api/v1/devices/{plug}/telemetry/latest")["values"]
    assert primary["power_w"]["value"] == 60.2
    assert primary["relay_state"]["value"] is True
    points = wattline.get(f"/api/v1/devices/{plug}/telemetry", fields="power,relay_state")
    assert [p["values"] for p in points["points"]] == [
        {"power_w": 60.5, "relay_state": True},
        {"power_w": 60.2, "relay_state": True},
    ]
    unknown = wattline.client.get(f"/api/v1/devices/{plug}/telemetry", params={"fields": "pwr"})
    assert unknown.status_code == 400
    assert "power_w" in unknown.json()["detail"]
    assert "relay_state" in unknown.json()["detail"]


@pytest.fixture
def anonymous(wattline: RunningWattline) -> Iterator[httpx.Client]:
    """A client with no token: an app before login, or a seed device."""
    with httpx.Client(base_url=wattline.api_url, timeout=10) as client:
        yield client


def test_smart_plug_app_signs_up_pairs_and_reads(
    wattline: RunningWattline, plug: str, anonymous: httpx.Client
) -> None:
    app = anonymous
    email = f"user-{RUN}@example.com"
    registered = app.post(
        "/auth/register",
        json={"email": email, "password": "secure_password", "full_name": "John Doe"},
    )
    assert registered.status_code == 201, registered.text
    assert {k: registered.json()[k] for k in ("email", "full_name")} == {
        "email": email,
        "full_name": "John Doe",
    }
    assert registered.json()["id"]
    assert registered.json()["created_at"]
    login = app.post("/auth/login", json={"email": email, "password": "secure_password"})
    assert login.status_code == 200, login.text
    assert login.json()["token_type"] == "bearer"
    assert login.json()["expires_in"] > 0
    refreshed = app.post("/auth/refresh", json={"refresh_token": login.json()["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    user = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert get(app, "/devices", user) == {"devices": [], "total": 0, "next_cursor": None}

    # The device shows a pairing code (it asks with its token; a platform admin here).
    code = wattline.client.post("/api/v1/pairing/codes", json={"device_id": plug})
    assert code.status_code == 201, code.text
    paired = app.post(
        "/devices",
        json={"device_id": plug, "name": "Living Room Lamp", "pairing_code": code.json()["code"]},
        headers=user,
    )
    assert paired.status_code == 201, paired.text
    assert paired.json()["id"] == plug
    assert paired.json()["name"] == "Living Room Lamp"
    assert paired.json()["status"] == "online"

    listed = get(app, "/devices", user)
    assert listed["total"] == 1
    assert [(d["id"], d["name"]) for d in listed["devices"]] == [(plug, "Living Room Lamp")]
    assert set(listed["devices"][0]) >= {"status", "last_seen", "firmware_version", "created_at"}
    detail = get(app, f"/devices/{plug}", user)
    assert detail["relay_state"] is True
    assert detail["current_power"] == 60.2
    assert detail["total_energy_kwh"] is not None
    history = get(app, f"/devices/{plug}/telemetry", user, interval="1h", fields="power")
    assert history["interval"] == "1h"
    assert history["total_points"] == len(history["data"]) >= 1
    assert set(history["data"][-1]) == {"timestamp", "power_avg", "power_min", "power_max"}
    assert history["data"][-1]["power_max"] == 60.5
    # Another household sees nothing of it.
    assert app.get(f"/devices/{plug}", headers=ADMIN).status_code == 404
    health = app.get("/compat/smartplug/health").json()
    assert health["status"] == "healthy"
    assert set(health) == {"status", "timestamp", "services"}
    assert health["services"]["database"] == "healthy"


# -- HyperVolt (seeds/004) --------------------------------------------------------------

LOCATION = f"living_room_{RUN}"
SENSORS = {"ldr": 512.0, "current": 1.25, "temperature": 22.5, "humidity": 48.0}


def test_hyper_volt_sensor_readings_read_back_in_both_shapes(wattline: RunningWattline) -> None:
    messages: list[tuple[str, Any]] = [
        (f"HyperVolt/sensors/{LOCATION}/{sensor}", {"value": value, "timestamp": iso_now(-30)})
        for sensor, value in SENSORS.items()
    ]
    messages.append((f"HyperVolt/sensors/{LOCATION}/ldr", {"value": 530.0, "timestamp": iso_now()}))
    publish(wattline, messages)
    wait_until(
        lambda: (
            answers(wattline, "/api/sensor-readings/latest/", location=LOCATION)
            and len(wattline.get("/api/sensor-readings/", location=LOCATION)["results"]) == 5
        ),
        30,
        "the sensors' readings",
    )
    latest = wattline.get("/api/sensor-readings/latest/", location=LOCATION)
    assert {r["sensor_type"]: r["value"] for r in latest} == {**SENSORS, "ldr": 530.0}
    assert {r["location"] for r in latest} == {LOCATION}
    recent = wattline.get("/api/sensor-readings/recent/", location=LOCATION, minutes=5)
    newest = next(r for r in latest if r["sensor_type"] == "ldr")
    assert recent["results"][0] == newest  # newest first: the second ldr reading
    assert len(recent["results"]) == len(SENSORS) + 1
    # Paged, newest first, every reading once.
    first = wattline.get("/api/sensor-readings/", location=LOCATION, limit=2)
    assert first["next"] is not None
    second = wattline.client.get(first["next"]).json()
    rest = wattline.get("/api/sensor-readings/", location=LOCATION, limit=10)["results"]
    assert first["results"] + second["results"] == rest[:4]
    buffer = wattline.get("/api/sensor-readings/buffer/", location=LOCATION)
    ldr = next(s for s in buffer["sensors"] if s["sensor_type"] == "ldr")
    assert [r["value"] for r in ldr["readings"]] == [512.0, 530.0]
    # The primary API answers the device's own names too: LDR is light_ldr.
    window = wattline.get(f"/api/v1/devices/{LOCATION}/telemetry/window", metric="LDR")
    assert [p["value"] for p in window["metrics"]["light_ldr"]] == [512.0, 530.0]


HOME = f"home_{RUN}"
FLEX_PLUG = f"smartplug_flex_{RUN}"
SWITCHED_PLUG = f"smartplug_cmd_{RUN}"


def test_hyper_volt_ai_client_reads_context_and_audits_decisions(
    wattline: RunningWattline,
) -> None:
    """Module 3 of the seed: the context from grid-data and energy-sources, the user's
    preferences, the decisions with their reasoning; the plug switched through the
    smart-plug seed's command path and by an allowed automation."""
    off = {"voltage": 120.0, "current": 0.0, "power": 0.0, "relay_state": False}
    publish(
        wattline,
        [
            message
            for p in (FLEX_PLUG, SWITCHED_PLUG)
            for message in (
                (f"smartplug/{p}/status", "online"),
                (f"smartplug/{p}/telemetry", {**off, "timestamp": iso_now(-5)}),
            )
        ],
    )
    for plug_id in (FLEX_PLUG, SWITCHED_PLUG):
        wait_until(lambda p=plug_id: answers(wattline, f"/api/v1/devices/{p}"), 30, "the plugs")
    settings = {"currency": "GBP", "carbon_zone": "GB", "latitude_deg": 51.5}
    settings["longitude_deg"] = -0.12
    assert wattline.client.put("/api/v1/energy/settings", json=settings).status_code == 200
    home = {"sources": [{"kind": "grid"}], "flexible_device_id": FLEX_PLUG}
    home["preferences"] = {"priority": "comfort"}
    assert wattline.client.put(f"/api/v1/homes/{HOME}", json=home).status_code == 200

    context = wattline.get("/api/grid-data/latest/")
    carbon = next(r for r in context if r["data_type"] == "carbon_intensity")
    assert (carbon["zone"], carbon["unit"]) == ("GB", "gCO2eq/kWh")
    assert carbon["value"] > 0
    assert {r["metadata"]["series"] for r in context if r["data_type"] == "weather"} >= {"ghi_w_m2"}
    page = wattline.get("/api/grid-data/", data_type="carbon_intensity", hours=24)
    assert page["count"] == 25
    assert page["next"] is None
    sources = wattline.get("/api/energy-sources/", home=HOME)
    assert [(s["source_type"], s["is_available"]) for s in sources["results"]] == [("grid", True)]

    allowed = wattline.client.patch(
        "/api/preferences/automation/", params={"home": HOME}, json={"preference_value": True}
    )
    assert allowed.status_code == 200, allowed.text
    assert wattline.get(f"/api/v1/homes/{HOME}")["preferences"]["automation"] is True
    decided = wattline.client.post(f"/api/v1/homes/{HOME}/decisions")
    assert decided.status_code == 200, decided.text
    decisions = wattline.get("/api/ai-decisions/", home=HOME)
    assert decisions["count"] == 1
    (row,) = decisions["results"]
    assert row["id"] == decided.json()["id"]
    assert row["reasoning"] == decided.json()["explanation"]
    assert row["decision_type"] == "load_shift"  # comfort: the plug runs now
    assert row["applied"] is True
    (on_id, _) = row["decision"]["automation"]["command_ids"]
    command = wattline.get(f"/api/v1/devices/{FLEX_PLUG}/commands/{on_id}")
    assert (command["name"], command["issuer"]) == ("relay_on", f"decision:{row['id']}")

    # the smart-plug app switches a plug with the seed's body, through the same service
    switched = wattline.client.post(
        f"/devices/{SWITCHED_PLUG}/command", json={"command": "relay_on"}
    )
    assert switched.status_code == 200, switched.text
    body = switched.json()
    assert (body["device_id"], body["command"]) == (SWITCHED_PLUG, "relay_on")
    assert body["status"] in {"queued", "sent"}
    assert body["timestamp"]
    primary = wattline.get(f"/api/v1/devices/{SWITCHED_PLUG}/commands/{body['command_id']}")
    assert primary["name"] == "relay_on"
    bad = wattline.client.post(f"/devices/{SWITCHED_PLUG}/command", json={"command": "explode"})
    assert bad.status_code == 422


# -- smart solar (seeds/000) ------------------------------------------------------------

INVERTER = f"inverter_{RUN}"
HTTP_INVERTER = f"inverter_http_{RUN}"


def test_smart_solar_device_over_mqtt_and_tokenless_http(
    wattline: RunningWattline, anonymous: httpx.Client
) -> None:
    # devices/{device_id}/telemetry with data_type and value, as the document's handler reads.
    publish(
        wattline,
        [
            (
                f"devices/{INVERTER}/telemetry",
                {"data_type": "voltage", "value": 9.5, "timestamp": iso_now(-10)},
            ),
            (
                f"devices/{INVERTER}/telemetry",
                [
                    {"data_type": "power", "value": 5120.0, "timestamp": iso_now()},
                    {"data_type": "voltage", "value": 48.2, "timestamp": iso_now()},
                ],
            ),
        ],
    )
    wait_until(
        lambda: (
            answers(wattline, f"/api/v1/devices/{INVERTER}/telemetry/latest")
            and len(wattline.get(f"/api/v1/devices/{INVERTER}/telemetry/latest")["values"]) == 2
        ),
        30,
        "the inverter's readings",
    )
    points = wattline.get(f"/api/v1/devices/{INVERTER}/telemetry", fields="voltage")["points"]
    assert [p["values"] for p in points] == [{"voltage_v": 9.5}, {"voltage_v": 48.2}]

    # The seed's HTTP ingest, as its devices post it: no token at all.
    item = {"device_id": HTTP_INVERTER, "data_type": "power", "value": 4210.5}
    body = [{**item, "timestamp": iso_now()}]
    kept = anonymous.post("/compat/smartsolar/telemetry", json=body)
    assert kept.status_code == 202, kept.text
    assert kept.json()["rejected"][0]["reason"] == "unknown_device"
    assert anonymous.post("/api/v1/telemetry", json=body).status_code == 401
    # An admin claims it: the quarantined message, replayed, becomes the device's reading.
    quarantined = wattline.get("/api/v1/quarantine", reason="unknown_device")["items"]
    mine = [q["id"] for q in quarantined if HTTP_INVERTER in q["topic"]]
    assert len(mine) == 1
    replayed = wattline.client.post("/api/v1/quarantine/replay", json={"ids": mine})
    assert replayed.status_code == 200, replayed.text
    latest = wattline.get(f"/api/v1/devices/{HTTP_INVERTER}/telemetry/latest")["values"]
    assert latest["power_w"]["value"] == 4210.5


def test_smart_solar_client_health_and_pages(
    wattline: RunningWattline, anonymous: httpx.Client
) -> None:
    health = anonymous.get("/compat/smartsolar/health")
    assert (health.status_code, health.json()) == (200, {"status": "healthy"})
    summary = wattline.get("/compat/smartsolar/system-health")
    assert summary["overall_health"] == "healthy"
    assert summary["total_devices"] >= summary["active_devices"] >= 1
    # Cursor pagination, 100 a page, a stable order: every device once.
    ids = [f"page_{RUN}_{i:03d}" for i in range(101)]
    for device_id in ids:
        assert wattline.client.post("/api/v1/devices", json={"device_id": device_id}).is_success
    seen: list[str] = []
    cursor = None
    while True:
        page = wattline.get("/api/v1/devices", **({"cursor": cursor} if cursor else {}))
        assert page["count"] <= 100
        seen += [d["device_id"] for d in page["devices"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert set(ids) <= set(seen)
    assert len(seen) == len(set(seen))


# -- IoT meter (seeds/001, 002) ---------------------------------------------------------

METER = f"meter_dc_{RUN}"


def test_meter_device_reads_back_with_its_names_and_raw_archive(
    wattline: RunningWattline,
) -> None:
    telemetry = {"seq": 1, "ts": iso_now(), "metrics": {"voltage_v": 750.2, "current_a": 312.5}}
    publish(
        wattline,
        [
            (f"iot/{METER}/hello", {"device_type": "power_meter_dc", "fw_version": "2.0.1"}),
            (f"iot/{METER}/status", {"state": "online"}),
            (f"iot/{METER}/telemetry", telemetry),
        ],
    )
    wait_until(
        lambda: (
            answers(wattline, f"/compat/meter/devices/{METER}")
            and wattline.get(f"/compat/meter/devices/{METER}")["latest"]
            and wattline.get(f"/compat/meter/devices/{METER}")["fw_version"] == "2.0.1"
        ),
        30,
        "the meter's hello and telemetry",
    )
    meter = wattline.get(f"/compat/meter/devices/{METER}")
    assert meter["device_type"] == "power_meter_dc"
    assert meter["connection_status"] == "online"
    assert meter["latest"] == {"voltage_v": 750.2, "current_a": 312.5}
    listed = wattline.get("/compat/meter/devices", device_type="power_meter_dc")["devices"]
    assert METER in [d["device_id"] for d in listed]
    primary = wattline.get(f"/api/v1/devices/{METER}")
    assert (primary["type"], primary["firmware_version"]) == ("power_meter_dc", "2.0.1")

    def archived() -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = wattline.get(
            f"/compat/meter/devices/{METER}/raw", category="telemetry"
        )["objects"]
        return objects

    wait_until(lambda: len(archived()) == 1, 30, "the meter's raw archive")
    [raw] = archived()
    assert raw["key"].startswith(f"{METER}/telemetry/")
    assert json.loads(raw["payload"]) == telemetry
