"""The home-sensor format: HyperVolt/sensors/{location}/{sensor_type}."""

from __future__ import annotations

import cbor2
import pytest

from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import InboundMessage, Interpreted, Rejection, RejectReason
from wattline.protocols.adapters import ADAPTERS, build_adapters
from wattline.protocols.adapters.hypervolt import location_device_id
from wattline.protocols.errors import ProtocolError

NOW_MS = 1_764_057_600_000  # 2025-11-25T08:00:00Z
CONFIG = InterpretConfig(adapters=build_adapters(list(ADAPTERS)))


def outcome(topic: str, raw: bytes, received_ms: int = NOW_MS + 250) -> Interpreted | Rejection:
    return interpret(InboundMessage(topic, raw, received_ms), CONFIG)


@pytest.mark.parametrize(
    ("topic", "raw", "device_id", "ts_ms", "metrics"),
    [
        ("HyperVolt/sensors/kitchen/LDR", b"512", "kitchen", NOW_MS, {"light_ldr": 512.0}),
        ("HyperVolt/sensors/kitchen/ldr", b" 512\n", "kitchen", NOW_MS, {"light_ldr": 512.0}),
        ("HyperVolt/sensors/hall/current", b"0.42", "hall", NOW_MS, {"current_a": 0.42}),
        ("HyperVolt/sensors/hall/temperature", b"-3.5", "hall", NOW_MS, {"temperature_c": -3.5}),
        ("HyperVolt/sensors/hall/humidity", b"55", "hall", NOW_MS, {"humidity_pct": 55.0}),
        (
            "HyperVolt/sensors/living room/humidity",
            b'{"value": 48.5, "timestamp": 1764057590}',
            "living_room",
            NOW_MS - 10_000,
            {"humidity_pct": 48.5},
        ),
        (
            "HyperVolt/sensors/attic/temperature",
            b'{"value": 31}',
            "attic",
            NOW_MS,
            {"temperature_c": 31.0},
        ),
        (
            "HyperVolt/sensors/attic/temperature",
            cbor2.dumps({"value": 31.25, "timestamp": "2025-11-25T07:59:00Z"}),
            "attic",
            NOW_MS - 60_000,
            {"temperature_c": 31.25},
        ),
        ("HyperVolt/sensors/attic/LDR", cbor2.dumps(700), "attic", NOW_MS, {"light_ldr": 700.0}),
    ],
)
def test_readings(
    topic: str, raw: bytes, device_id: str, ts_ms: int, metrics: dict[str, float]
) -> None:
    out = outcome(topic, raw)
    assert isinstance(out, Interpreted), out
    [reading] = out.readings
    assert (out.device_id, reading.ts_ms, reading.metrics) == (device_id, ts_ms, metrics)


def test_without_a_timestamp_the_arrival_second_is_the_key() -> None:
    first = outcome("HyperVolt/sensors/hall/LDR", b"5", received_ms=NOW_MS + 10)
    again = outcome("HyperVolt/sensors/hall/LDR", b"5", received_ms=NOW_MS + 990)
    later = outcome("HyperVolt/sensors/hall/LDR", b"5", received_ms=NOW_MS + 1001)
    assert isinstance(first, Interpreted)
    assert isinstance(again, Interpreted)
    assert isinstance(later, Interpreted)
    assert first.readings == again.readings
    assert later.readings[0].ts_ms == NOW_MS + 1000


@pytest.mark.parametrize(
    ("location", "device_id"),
    [("kitchen", "kitchen"), ("living room", "living_room"), ("küche", "k_che"), ("a.b", "a_b")],
)
def test_location_mapping(location: str, device_id: str) -> None:
    assert location_device_id(location) == device_id


@pytest.mark.parametrize("location", ["", "x" * 65])
def test_unusable_locations(location: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        location_device_id(location)
    assert caught.value.reason is RejectReason.BAD_DEVICE_ID


@pytest.mark.parametrize(
    ("topic", "raw", "reason"),
    [
        ("HyperVolt/sensors/hall/pressure", b"1", RejectReason.UNKNOWN_TOPIC),
        ("HyperVolt/sensors/hall", b"1", RejectReason.UNKNOWN_TOPIC),
        ("HyperVolt/sensors/a/b/LDR", b"1", RejectReason.UNKNOWN_TOPIC),
        ("HyperVolt/sensors//LDR", b"1", RejectReason.BAD_DEVICE_ID),
        ("HyperVolt/sensors/hall/LDR", b"{bright", RejectReason.UNDECODABLE),
        ("HyperVolt/sensors/hall/LDR", b"NaN", RejectReason.UNDECODABLE),
        ("HyperVolt/sensors/hall/LDR", b"true", RejectReason.BAD_VALUE),
        ("HyperVolt/sensors/hall/LDR", b'"512"', RejectReason.BAD_VALUE),
        ("HyperVolt/sensors/hall/LDR", b"1e300", RejectReason.BAD_VALUE),
        ("HyperVolt/sensors/hall/LDR", b"[1]", RejectReason.BAD_SHAPE),
        ("HyperVolt/sensors/hall/LDR", b'{"timestamp": 1764057600}', RejectReason.BAD_VALUE),
        ("HyperVolt/sensors/hall/LDR", b'{"value": 1, "timestamp": 1}', RejectReason.BAD_TIMESTAMP),
        (
            "HyperVolt/sensors/hall/LDR",
            b'{"value": 1, "timestamp": 1764061200}',
            RejectReason.FUTURE_TIMESTAMP,
        ),
    ],
)
def test_rejections(topic: str, raw: bytes, reason: RejectReason) -> None:
    out = outcome(topic, raw)
    assert isinstance(out, Rejection), out
    assert out.reason is reason
    assert out.detail
