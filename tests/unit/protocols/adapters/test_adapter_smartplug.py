"""The smart-plug format: smartplug/{id}/telemetry and smartplug/{id}/status."""

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


def outcome(topic: str, body: Any = None, *, raw: bytes | None = None) -> Interpreted | Rejection:
    payload = raw if raw is not None else json.dumps(body).encode()
    return interpret(InboundMessage(topic, payload, NOW_MS + 250), CONFIG)


FULL = {"voltage": 230.1, "current": 0.5, "power": 115, "relay_state": True}


@pytest.mark.parametrize(
    ("body", "ts_ms", "metrics"),
    [
        (
            {**FULL, "timestamp": NOW_MS},
            NOW_MS,
            {"voltage_v": 230.1, "current_a": 0.5, "power_w": 115.0, "relay_state": 1.0},
        ),
        ({"power": 3, "timestamp": NOW_MS // 1000}, NOW_MS, {"power_w": 3.0}),
        ({"power": 3, "timestamp": 1_764_057_600.5}, NOW_MS + 500, {"power_w": 3.0}),
        ({"power": 3, "timestamp": "2025-11-25T08:00:00Z"}, NOW_MS, {"power_w": 3.0}),
        ({"power": 3, "timestamp": "2025-11-25T08:00:00"}, NOW_MS, {"power_w": 3.0}),
        ({"relay_state": "OFF", "timestamp": NOW_MS}, NOW_MS, {"relay_state": 0.0}),
        ({"relay_state": "on", "timestamp": NOW_MS}, NOW_MS, {"relay_state": 1.0}),
        ({"relay_state": 0, "timestamp": NOW_MS}, NOW_MS, {"relay_state": 0.0}),
        ({"power": 1, "extra": "ignored", "timestamp": NOW_MS}, NOW_MS, {"power_w": 1.0}),
    ],
)
def test_telemetry_is_mapped(body: dict[str, Any], ts_ms: int, metrics: dict[str, float]) -> None:
    out = outcome("smartplug/plug-1/telemetry", body)
    assert isinstance(out, Interpreted), out
    [reading] = out.readings
    assert (out.device_id, out.kind) == ("plug-1", "telemetry")
    assert (reading.device_id, reading.ts_ms, reading.metrics, reading.seq) == (
        "plug-1",
        ts_ms,
        metrics,
        None,
    )


def test_cbor_telemetry() -> None:
    out = outcome("smartplug/p/telemetry", raw=cbor2.dumps({**FULL, "timestamp": NOW_MS}))
    assert isinstance(out, Interpreted), out
    assert out.readings[0].metrics["relay_state"] == 1.0


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        (b"online", ConnectionState.ONLINE),
        (b" OFFLINE\n", ConnectionState.OFFLINE),
        (b'"offline"', ConnectionState.OFFLINE),
        (b'{"status": "Online"}', ConnectionState.ONLINE),
        (b'{"state": "offline"}', ConnectionState.OFFLINE),
        (cbor2.dumps("offline"), ConnectionState.OFFLINE),
    ],
)
def test_status(raw: bytes, state: ConnectionState) -> None:
    out = outcome("smartplug/p/status", raw=raw)
    assert isinstance(out, Interpreted), out
    assert out.status is not None
    assert (out.kind, out.status.state, out.status.ts_ms) == ("status", state, NOW_MS + 250)


GOOD = {"power": 1, "timestamp": NOW_MS}


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("smartplug/p/control", GOOD, RejectReason.UNKNOWN_TOPIC),
        ("smartplug/p/config", GOOD, RejectReason.UNKNOWN_TOPIC),
        ("smartplug/bad id/telemetry", GOOD, RejectReason.BAD_DEVICE_ID),
        ("smartplug/p/telemetry", [GOOD], RejectReason.BAD_SHAPE),
        ("smartplug/p/telemetry", {"power": 1}, RejectReason.BAD_TIMESTAMP),
        ("smartplug/p/telemetry", {"timestamp": NOW_MS}, RejectReason.BAD_SHAPE),
        ("smartplug/p/telemetry", {**GOOD, "voltage": "230"}, RejectReason.BAD_VALUE),
        ("smartplug/p/telemetry", {**GOOD, "power": None}, RejectReason.BAD_VALUE),
        ("smartplug/p/telemetry", {**GOOD, "current": 1e16}, RejectReason.BAD_VALUE),
        ("smartplug/p/telemetry", {**GOOD, "relay_state": 2}, RejectReason.BAD_VALUE),
        ("smartplug/p/telemetry", {**GOOD, "relay_state": "maybe"}, RejectReason.BAD_VALUE),
        ("smartplug/p/telemetry", {"power": 1, "timestamp": 5}, RejectReason.BAD_TIMESTAMP),
        ("smartplug/p/telemetry", {"power": 1, "timestamp": "soon"}, RejectReason.BAD_TIMESTAMP),
        (
            "smartplug/p/telemetry",
            {"power": 1, "timestamp": NOW_MS + 3_600_000},
            RejectReason.FUTURE_TIMESTAMP,
        ),
        ("smartplug/p/status", {"status": "sleepy"}, RejectReason.BAD_SHAPE),
        ("smartplug/p/status", 1, RejectReason.BAD_SHAPE),
    ],
)
def test_rejections(topic: str, body: Any, reason: RejectReason) -> None:
    out = outcome(topic, body)
    assert isinstance(out, Rejection), out
    assert out.reason is reason
    assert out.detail


def test_undecodable_telemetry() -> None:
    out = outcome("smartplug/p/telemetry", raw=b"power=1")
    assert isinstance(out, Rejection)
    assert out.reason is RejectReason.UNDECODABLE


def test_nan_in_cbor_is_a_bad_value() -> None:
    raw = cbor2.dumps({"power": float("nan"), "timestamp": NOW_MS})
    out = outcome("smartplug/p/telemetry", raw=raw)
    assert isinstance(out, Rejection)
    assert out.reason is RejectReason.BAD_VALUE


def test_subscriptions_follow_the_prefix() -> None:
    adapter = ADAPTERS["smartplug"].with_prefix("site-a/plugs")
    assert adapter.subscriptions() == ["site-a/plugs/+/telemetry", "site-a/plugs/+/status"]


@pytest.mark.parametrize(
    ("body", "metrics"),
    [
        ({"relay_state": False, "power": 0}, {"relay_state": 0.0, "power_w": 0.0}),
        ({"relay_state": "ON", "power": 60.5}, {"relay_state": 1.0, "power_w": 60.5}),
        ({"relay_state": True}, {"relay_state": 1.0}),
    ],
)
def test_a_relay_status_after_a_command_is_a_reading(
    body: dict[str, Any], metrics: dict[str, float]
) -> None:
    out = outcome("smartplug/p/status", body)
    assert isinstance(out, Interpreted), out
    assert out.kind == "telemetry"
    assert [(r.ts_ms, r.metrics) for r in out.readings] == [(NOW_MS + 250, metrics)]


def test_a_relay_status_with_a_bad_relay_value_is_quarantined() -> None:
    out = outcome("smartplug/p/status", {"relay_state": "maybe", "power": 1})
    assert isinstance(out, Rejection)
    assert out.reason is RejectReason.BAD_VALUE
