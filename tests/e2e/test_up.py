"""End to end: devices publish over MQTT, readings come back through the API."""

from __future__ import annotations

import json
import random
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import (
    EMBEDDED_BROKERS,
    TOKEN,
    RunningWattline,
    forget_session,
    start_wattline,
    wait_until,
)

pytestmark = pytest.mark.e2e

READINGS_PER_CLIENT = 250


def readings(seed: int, count: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    start_ms = int(time.time() * 1000) - count * 1000
    return [
        {
            "seq": i,
            "ts": start_ms + i * 1000,
            "metrics": {"voltage_v": rng.uniform(220, 240), "current_a": rng.uniform(0, 16)},
        }
        for i in range(count)
    ]


def publish_with_mosquitto_pub(
    w: RunningWattline, device: str, rows: list[dict[str, object]]
) -> None:
    lines = "".join(json.dumps(row) + "\n" for row in rows)
    subprocess.run(
        [
            "mosquitto_pub",
            "-h",
            w.mqtt_host,
            "-p",
            str(w.mqtt_port),
            "-q",
            "1",
            "-t",
            f"{w.topic_prefix}/{device}/telemetry",
            "-l",
        ],
        input=lines.encode(),
        check=True,
        timeout=60,
    )


def publish_with_paho(w: RunningWattline, device: str, rows: list[dict[str, object]]) -> None:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{w.topic_prefix}-{device}"
    )
    client.connect(w.mqtt_host, w.mqtt_port)
    client.loop_start()
    infos = [
        client.publish(f"{w.topic_prefix}/{device}/telemetry", json.dumps(row), qos=1)
        for row in rows
    ]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def stored_points(w: RunningWattline, device: str) -> list[dict[str, object]]:
    if w.client.get(f"/api/v1/devices/{device}").status_code == 404:
        return []
    points: list[dict[str, object]] = w.get(
        f"/api/v1/devices/{device}/telemetry", start=0, limit=100_000
    )["points"]
    return points


def assert_exactly_stored(w: RunningWattline, device: str, sent: list[dict[str, object]]) -> None:
    wait_until(lambda: len(stored_points(w, device)) >= len(sent), 30, f"{device}'s readings")
    # No wait for stragglers: samples are keyed by (device, metric, ts), so a
    # duplicate could never add a point; the checks below are on what is there.
    points = stored_points(w, device)
    assert len(points) == len(sent)
    assert [p["seq"] for p in points] == [row["seq"] for row in sent]
    assert [p["values"] for p in points] == [row["metrics"] for row in sent]


def run_both_publishers(w: RunningWattline) -> None:
    by_cli, by_paho = readings(1, READINGS_PER_CLIENT), readings(2, READINGS_PER_CLIENT)
    publish_with_mosquitto_pub(w, "meter-cli", by_cli)
    publish_with_paho(w, "meter-paho", by_paho)
    assert_exactly_stored(w, "meter-cli", by_cli)
    assert_exactly_stored(w, "meter-paho", by_paho)


def test_readings_round_trip_through_the_embedded_broker(
    wattline_embedded: RunningWattline,
) -> None:
    run_both_publishers(wattline_embedded)
    code, stderr = wattline_embedded.stop()
    assert code == 0
    assert "Traceback" not in stderr


def test_readings_round_trip_through_an_external_mosquitto(
    tmp_path: Path, mosquitto_url: str
) -> None:
    w = start_wattline(tmp_path, "--auto-register", env={"WATTLINE_MQTT_URL": mosquitto_url})
    try:
        run_both_publishers(w)
    finally:
        code, stderr = w.stop()
        forget_session(w.mqtt_host, w.mqtt_port, f"wattline-{w.topic_prefix}")
    assert code == 0, stderr
    assert "Traceback" not in stderr


def test_hostile_message_is_quarantined_and_the_rest_flows(
    wattline_embedded: RunningWattline,
) -> None:
    w = wattline_embedded
    good = readings(3, 3)
    publish_with_paho(w, "meter-q", good[:1])
    subprocess.run(
        [
            "mosquitto_pub",
            "-h",
            w.mqtt_host,
            "-p",
            str(w.mqtt_port),
            "-q",
            "1",
            "-t",
            f"{w.topic_prefix}/meter-q/telemetry",
            "-m",
            '{"ts": 1, "metrics": {"p": 1}}',
        ],
        check=True,
        timeout=30,
    )
    publish_with_paho(w, "meter-q", good[1:])
    assert_exactly_stored(w, "meter-q", good)
    [item] = w.get("/api/v1/quarantine")["items"]
    assert item["reason"] == "bad_timestamp"
    assert item["payload_preview"] == '{"ts": 1, "metrics": {"p": 1}}'


@pytest.mark.parametrize("broker", EMBEDDED_BROKERS)
def test_demo_fleet_is_visible_within_twenty_seconds_and_ctrl_c_loses_nothing(
    tmp_path: Path, broker: str
) -> None:
    started = time.monotonic()
    w = start_wattline(tmp_path, "--demo", "--sim-interval-s", "0.5", "--broker", broker)

    def fleet_reporting() -> bool:
        devices = w.get("/api/v1/devices")["devices"]
        return len(devices) == 6 and all(d["latest"] for d in devices)

    # Counted from the launch. The target is 10 s; start-up needs ~2.2 s of CPU
    # (docs/benchmarks.md, startup). On this 2-core machine shared with other test runs
    # that took 2.6-7.9 s at load 4-7, but at load 9 two of three runs missed 10 s (one
    # was not healthy until 17.5 s; 2026-12-02), so the test allows 20 s.
    wait_until(fleet_reporting, 20 - (time.monotonic() - started), "the demo fleet's data")
    devices = {d["device_id"]: d for d in w.get("/api/v1/devices")["devices"]}
    assert set(devices) == {
        "dc-meter-1",
        "dc-meter-2",
        "ac-meter-1",
        "plug-1",
        "inverter-1",
        "sensor-1",
    }
    assert devices["dc-meter-1"]["type"] == "power_meter_dc"
    assert devices["dc-meter-1"]["status"] == "online"
    # Some traffic in flight before Ctrl-C: every device past its first readings.
    wait_until(
        lambda: all(len(stored_points(w, device)) >= 3 for device in devices),
        20,
        "three readings from every demo device",
    )

    client = w.client
    client_token = client.headers["Authorization"]
    code, stderr = w.stop()
    assert code == 0
    assert "Traceback" not in stderr
    assert "Wattline stopped." in stderr
    published = int(re.search(r"published (\d+) telemetry messages", stderr).group(1))  # type: ignore[union-attr]

    # Restart on the same data and count what was stored: every published reading, once.
    again = start_wattline(
        tmp_path, "--broker", broker, env={"WATTLINE_ADMIN_TOKEN": client_token.split()[1]}
    )
    try:
        stored = sum(len(stored_points(again, device)) for device in devices)
        after = {d["device_id"]: d for d in again.get("/api/v1/devices")["devices"]}
    finally:
        again.stop()
    assert stored == published
    assert {d["reported_state"] for d in after.values()} == {"offline"}


@pytest.mark.parametrize(
    ("flag", "env"), [("--http-port", "WATTLINE_HTTP_PORT"), ("--mqtt-port", "WATTLINE_MQTT_PORT")]
)
def test_a_taken_port_gives_a_one_line_error(tmp_path: Path, flag: str, env: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = free_port()
        ports = (
            {"--http-port": port, "--mqtt-port": other}
            if flag == "--http-port"
            else {"--http-port": other, "--mqtt-port": port}
        )
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "wattline",
                "up",
                "--data-dir",
                str(tmp_path),
                "--http-port",
                str(ports["--http-port"]),
                "--mqtt-port",
                str(ports["--mqtt-port"]),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port}" in lines[0]
    assert flag in lines[0]
    assert env in lines[0]
    assert f"make run {env}=" in lines[0]


def test_token_is_generated_into_the_data_dir(tmp_path: Path) -> None:
    w = start_wattline(tmp_path, env={"WATTLINE_ADMIN_TOKEN": ""})
    try:
        token = (tmp_path / "data" / "admin-token").read_text().strip()
        assert len(token) >= 32
        assert token != TOKEN
        assert w.client.get("/api/v1/devices").status_code == 401
        ok = w.client.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
    finally:
        w.stop()
