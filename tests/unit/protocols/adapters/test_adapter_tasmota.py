"""Tasmota: tele/{topic}/SENSOR with ENERGY, and tele/{topic}/LWT."""

from __future__ import annotations

import json
from typing import Any

import cbor2
import pytest

from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import (
    ConnectionState,
    InboundMessage,
    Interpreted,
    Rejection,
    RejectReason,
)
from wattline.protocols.adapters import ADAPTERS, build_adapters

NOW_MS = 1_764_057_600_000  # 2025-11-25T08:00:00Z
CONFIG = InterpretConfig(adapters=build_adapters(list(ADAPTERS)))
ENERGY = {
    "TotalStartTime": "2025-01-01T00:00:00",
    "Total": 12.345,
    "Yesterday": 1.2,
    "Today": 0.4,
    "Period": 3,
    "Power": 230,
    "ApparentPower": 240,
    "ReactivePower": 69,
    "Factor": 0.96,
    "Voltage": 231,
    "Current": 1.039,
}


def outcome(topic: str, body: Any = None, *, raw: bytes | None = None) -> Interpreted | Rejection:
    payload = raw if raw is not None else json.dumps(body).encode()
    return interpret(InboundMessage(topic, payload, NOW_MS + 250), CONFIG)


def test_energy_sensor_is_mapped() -> None:
    out = outcome("tele/tasmota_8C4F2D/SENSOR", {"Time": "2025-11-25T08:00:00", "ENERGY": ENERGY})
    assert isinstance(out, Interpreted), out
    [reading] = out.readings
    assert (out.device_id, reading.ts_ms) == ("tasmota_8C4F2D", NOW_MS)
    assert reading.metrics == {
        "energy_wh": 12345.0,
        "power_w": 230.0,
        "voltage_v": 231.0,
        "current_a": 1.039,
        "power_factor": 0.96,
        "apparent_power_va": 240.0,
        "reactive_power_var": 69.0,
    }


@pytest.mark.parametrize(
    ("total_kwh", "energy_wh"),
    [(1.001, 1001.0), (0.00001, 0.01), (0, 0.0), (98765.43219, 98765432.19)],
)
def test_total_becomes_exact_watt_hours(total_kwh: float, energy_wh: float) -> None:
    body = {"Time": "2025-11-25T08:00:00", "ENERGY": {"Total": total_kwh}}
    out = outcome("tele/t/SENSOR", raw=cbor2.dumps(body))
    assert isinstance(out, Interpreted), out
    assert out.readings[0].metrics == {"energy_wh": energy_wh}


def test_time_with_an_offset_is_honoured() -> None:
    # Devices running `SetOption52 1` add the offset to Time.
    body = {"Time": "2025-11-25T09:00:00+01:00", "ENERGY": {"Power": 5}}
    out = outcome("tele/t/SENSOR", body)
    assert isinstance(out, Interpreted), out
    assert out.readings[0].ts_ms == NOW_MS


@pytest.mark.parametrize(
    ("raw", "state"),
    [(b"Online", ConnectionState.ONLINE), (b"Offline", ConnectionState.OFFLINE)],
)
def test_last_will(raw: bytes, state: ConnectionState) -> None:
    out = outcome("tele/t/LWT", raw=raw)
    assert isinstance(out, Interpreted), out
    assert out.status is not None
    assert (out.device_id, out.status.state, out.status.ts_ms) == ("t", state, NOW_MS + 250)


GOOD_TIME = "2025-11-25T08:00:00"


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("tele/t/STATE", {"Time": GOOD_TIME}, RejectReason.UNKNOWN_TOPIC),
        ("cmnd/t/POWER", "ON", RejectReason.UNKNOWN_TOPIC),
        ("tele/bad+id/SENSOR", {"Time": GOOD_TIME, "ENERGY": ENERGY}, RejectReason.BAD_DEVICE_ID),
        ("tele/t/SENSOR", [ENERGY], RejectReason.BAD_SHAPE),
        (
            "tele/t/SENSOR",
            {"Time": GOOD_TIME, "DS18B20": {"Temperature": 21}},
            RejectReason.BAD_SHAPE,
        ),
        ("tele/t/SENSOR", {"Time": GOOD_TIME, "ENERGY": 5}, RejectReason.BAD_SHAPE),
        ("tele/t/SENSOR", {"Time": GOOD_TIME, "ENERGY": {}}, RejectReason.BAD_SHAPE),
        ("tele/t/SENSOR", {"ENERGY": ENERGY}, RejectReason.BAD_TIMESTAMP),
        (
            "tele/t/SENSOR",
            {"Time": "25.11.2025 08:00", "ENERGY": ENERGY},
            RejectReason.BAD_TIMESTAMP,
        ),
        ("tele/t/SENSOR", {"Time": GOOD_TIME, "ENERGY": {"Power": [5, 0]}}, RejectReason.BAD_VALUE),
        ("tele/t/SENSOR", {"Time": GOOD_TIME, "ENERGY": {"Total": "12"}}, RejectReason.BAD_VALUE),
        ("tele/t/SENSOR", {"Time": GOOD_TIME, "ENERGY": {"Total": 1e13}}, RejectReason.BAD_VALUE),
        # Local time one hour east of UTC, read as UTC, lies in the future.
        (
            "tele/t/SENSOR",
            {"Time": "2025-11-25T09:00:00", "ENERGY": ENERGY},
            RejectReason.FUTURE_TIMESTAMP,
        ),
        ("tele/t/LWT", "Restarting", RejectReason.BAD_SHAPE),
    ],
)
def test_rejections(topic: str, body: Any, reason: RejectReason) -> None:
    out = outcome(topic, body)
    assert isinstance(out, Rejection), out
    assert out.reason is reason
    assert out.detail
