"""Shelly relays: Gen1 shellies/{id}/relay/0/power|energy and Gen2 {id}/status/switch:0."""

from __future__ import annotations

import json
from typing import Any

import cbor2
import pytest

from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import InboundMessage, Interpreted, Rejection, RejectReason
from wattline.protocols.adapters import ADAPTERS, build_adapters

NOW_MS = 1_764_057_600_000  # 2025-11-25T08:00:00Z
CONFIG = InterpretConfig(adapters=build_adapters(list(ADAPTERS)))
SWITCH = {
    "id": 0,
    "source": "timer",
    "output": True,
    "apower": 8.9,
    "voltage": 237.5,
    "current": 0.068,
    "aenergy": {"total": 6.532, "by_minute": [45.1, 47.2, 47.1], "minute_ts": 1764057540},
    "temperature": {"tC": 53.3, "tF": 127.9},
}


def outcome(
    topic: str, raw: bytes, received_ms: int = NOW_MS + 250, config: InterpretConfig = CONFIG
) -> Interpreted | Rejection:
    return interpret(InboundMessage(topic, raw, received_ms), config)


@pytest.mark.parametrize(
    ("topic", "raw", "metrics"),
    [
        ("shellies/shellyplug-s-7C87CE/relay/0/power", b"12.5", {"power_w": 12.5}),
        ("shellies/shellyplug-s-7C87CE/relay/0/power", b"0", {"power_w": 0.0}),
        ("shellies/shellyplug-s-7C87CE/relay/0/energy", b"1200", {"energy_wh": 20.0}),
        ("shellies/shellyplug-s-7C87CE/relay/0/energy", cbor2.dumps(90), {"energy_wh": 1.5}),
    ],
)
def test_gen1(topic: str, raw: bytes, metrics: dict[str, float]) -> None:
    out = outcome(topic, raw)
    assert isinstance(out, Interpreted), out
    [reading] = out.readings
    assert (out.device_id, reading.ts_ms, reading.metrics) == (
        "shellyplug-s-7C87CE",
        NOW_MS,
        metrics,
    )


def test_gen1_redelivery_within_the_second_has_the_same_key() -> None:
    topic = "shellies/s1/relay/0/power"
    first = outcome(topic, b"5", received_ms=NOW_MS)
    again = outcome(topic, b"5", received_ms=NOW_MS + 999)
    later = outcome(topic, b"5", received_ms=NOW_MS + 1000)
    assert isinstance(first, Interpreted)
    assert isinstance(again, Interpreted)
    assert isinstance(later, Interpreted)
    assert first.readings == again.readings
    assert later.readings[0].ts_ms == NOW_MS + 1000


def test_gen2_switch_status() -> None:
    out = outcome("shellyplus1pm-a8032ab12345/status/switch:0", json.dumps(SWITCH).encode())
    assert isinstance(out, Interpreted), out
    [reading] = out.readings
    assert (out.device_id, reading.ts_ms) == ("shellyplus1pm-a8032ab12345", NOW_MS)
    assert reading.metrics == {
        "power_w": 8.9,
        "voltage_v": 237.5,
        "current_a": 0.068,
        "energy_wh": 6.532,
        "relay_state": 1.0,
    }


def test_gen2_without_metering_reports_the_relay() -> None:
    out = outcome("plus1/status/switch:0", cbor2.dumps({"id": 0, "output": False}))
    assert isinstance(out, Interpreted), out
    assert out.readings[0].metrics == {"relay_state": 0.0}


def test_gen2_under_a_parent_prefix() -> None:
    config = InterpretConfig(adapters=build_adapters(["shelly_gen2"], {"shelly_gen2": "home"}))
    assert config.adapters[0].subscriptions() == ["home/+/status/switch:0"]
    raw = json.dumps(SWITCH).encode()
    accepted = outcome("home/plug/status/switch:0", raw, config=config)
    assert isinstance(accepted, Interpreted), accepted
    assert accepted.device_id == "plug"
    rejected = outcome("plug/status/switch:0", raw, config=config)
    assert isinstance(rejected, Rejection)
    assert rejected.reason is RejectReason.UNKNOWN_TOPIC


def _switch(**changes: Any) -> bytes:
    return json.dumps({**SWITCH, **changes}).encode()


@pytest.mark.parametrize(
    ("topic", "raw", "reason"),
    [
        ("shellies/s1/relay/1/power", b"1", RejectReason.UNKNOWN_TOPIC),
        ("shellies/s1/relay/0/voltage", b"1", RejectReason.UNKNOWN_TOPIC),
        ("shellies/s1/relay/0", b"on", RejectReason.UNKNOWN_TOPIC),
        ("shellies/s 1/relay/0/power", b"1", RejectReason.BAD_DEVICE_ID),
        ("shellies/s1/relay/0/power", b"on", RejectReason.UNDECODABLE),
        ("shellies/s1/relay/0/power", b'"12"', RejectReason.BAD_VALUE),
        ("shellies/s1/relay/0/power", b"1e300", RejectReason.BAD_VALUE),
        ("shellies/s1/relay/0/energy", b"1e17", RejectReason.BAD_VALUE),
        ("shellies/s1/relay/0/energy", b"{}", RejectReason.BAD_VALUE),
        ("s1/status/switch:1", _switch(), RejectReason.UNKNOWN_TOPIC),
        ("s 1/status/switch:0", _switch(), RejectReason.BAD_DEVICE_ID),
        ("s1/status/switch:0", b"[]", RejectReason.BAD_SHAPE),
        ("s1/status/switch:0", b'{"id": 0}', RejectReason.BAD_SHAPE),
        ("s1/status/switch:0", _switch(aenergy=6.5), RejectReason.BAD_SHAPE),
        ("s1/status/switch:0", _switch(apower="8.9"), RejectReason.BAD_VALUE),
        ("s1/status/switch:0", _switch(output="maybe"), RejectReason.BAD_VALUE),
        ("s1/status/switch:0", _switch(aenergy={"total": None}), RejectReason.BAD_VALUE),
    ],
)
def test_rejections(topic: str, raw: bytes, reason: RejectReason) -> None:
    out = outcome(topic, raw)
    assert isinstance(out, Rejection), out
    assert out.reason is reason
    assert out.detail
