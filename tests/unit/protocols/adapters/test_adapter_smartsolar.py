"""The smart-solar format: devices/{id}/telemetry with data_type/value items."""

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
TOPIC = "devices/inverter-7/telemetry"


def outcome(body: Any, *, raw: bytes | None = None) -> Interpreted | Rejection:
    payload = raw if raw is not None else json.dumps(body).encode()
    return interpret(InboundMessage(TOPIC, payload, NOW_MS + 250), CONFIG)


def item(data_type: str, value: Any, ts: Any = NOW_MS) -> dict[str, Any]:
    return {"data_type": data_type, "value": value, "timestamp": ts}


@pytest.mark.parametrize(
    ("data_type", "metric"),
    [
        ("power", "power_w"),
        ("energy", "energy_wh"),
        ("voltage", "voltage_v"),
        ("current", "current_a"),
        ("frequency", "frequency_hz"),
        ("temperature", "temperature_c"),
        ("irradiance", "irradiance_w_m2"),
        ("Power", "power_w"),
        ("battery_soc_pct", "battery_soc_pct"),
    ],
)
def test_data_type_names_the_metric(data_type: str, metric: str) -> None:
    out = outcome(item(data_type, 42.5))
    assert isinstance(out, Interpreted), out
    [reading] = out.readings
    assert (out.device_id, reading.ts_ms, reading.metrics) == ("inverter-7", NOW_MS, {metric: 42.5})


def test_a_list_groups_items_by_timestamp() -> None:
    body = [
        item("power", 5120, "2025-11-25T08:00:10Z"),
        item("power", 5000, NOW_MS // 1000),
        item("energy", 123_000, NOW_MS),
    ]
    out = outcome(None, raw=cbor2.dumps(body))
    assert isinstance(out, Interpreted), out
    assert [(r.ts_ms, r.metrics) for r in out.readings] == [
        (NOW_MS, {"power_w": 5000.0, "energy_wh": 123_000.0}),
        (NOW_MS + 10_000, {"power_w": 5120.0}),
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], RejectReason.BAD_SHAPE),
        ([item("power", 1)] * 1001, RejectReason.BAD_SHAPE),
        ([item("power", 1), item("power", 2)], RejectReason.BAD_SHAPE),
        ("power", RejectReason.BAD_SHAPE),
        ({"value": 1, "timestamp": NOW_MS}, RejectReason.BAD_SHAPE),
        (item(7, 1), RejectReason.BAD_SHAPE),  # type: ignore[arg-type]
        (item("1st_string", 1), RejectReason.BAD_METRIC_NAME),
        (item("dc power", 1), RejectReason.BAD_METRIC_NAME),
        ({"data_type": "power", "timestamp": NOW_MS}, RejectReason.BAD_VALUE),
        (item("power", "5120"), RejectReason.BAD_VALUE),
        (item("power", value=True), RejectReason.BAD_VALUE),
        (item("power", -1e16), RejectReason.BAD_VALUE),
        ({"data_type": "power", "value": 1}, RejectReason.BAD_TIMESTAMP),
        (item("power", 1, "yesterday"), RejectReason.BAD_TIMESTAMP),
        (item("power", 1, NOW_MS + 3_600_000), RejectReason.FUTURE_TIMESTAMP),
    ],
)
def test_rejections(body: Any, reason: RejectReason) -> None:
    out = outcome(body)
    assert isinstance(out, Rejection), out
    assert out.reason is reason
    assert out.detail


def test_the_detail_names_the_item() -> None:
    out = outcome([item("power", 1), item("power", "x", NOW_MS - 1000)])
    assert isinstance(out, Rejection)
    assert out.detail.startswith("item 1: ")
