"""Metric names both ways, switches as booleans, and the seeds' cursor and hello names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.api.compat.hypervolt import SENSOR_TYPES
from wattline.api.compat.names import reverse, seed_values
from wattline.api.compat.smartplug import NAMES as PLUG_NAMES
from wattline.api.cursors import MAX_CURSOR_CHARS, decode_reading, encode
from wattline.broker.dynsec import device_topics
from wattline.model.metrics import shown
from wattline.protocols.adapters import ADAPTERS
from wattline.protocols.aliases import METRIC_ALIASES, resolve_metric
from wattline.protocols.canonical_messages import parse_hello


@pytest.mark.parametrize(
    ("name", "known", "expected"),
    [
        ("power", ["power_w", "voltage_v"], "power_w"),
        ("POWER", ["power_w"], "power_w"),
        ("LDR", ["light_ldr"], "light_ldr"),
        ("humidity", ["humidity_pct"], "humidity_pct"),
        ("power_w", ["power_w"], "power_w"),
        # a canonical device that sends "power" itself keeps its own metric
        ("power", ["power", "power_w"], "power"),
        ("power", ["voltage_v"], None),
        ("pwr", ["power_w"], None),
    ],
)
def test_a_name_resolves_to_the_devices_metric(
    name: str, known: list[str], expected: str | None
) -> None:
    assert resolve_metric(name, known) == expected


def test_every_alias_targets_a_unit_suffixed_or_known_metric() -> None:
    assert METRIC_ALIASES["voltage"] == "voltage_v"
    assert METRIC_ALIASES["ldr"] == "light_ldr"
    assert all(key == key.lower() for key in METRIC_ALIASES)


def test_seed_names_are_the_reverse_of_the_adapters() -> None:
    assert PLUG_NAMES == {"voltage_v": "voltage", "current_a": "current", "power_w": "power"}
    assert SENSOR_TYPES["light_ldr"] == "ldr"
    assert reverse({"a": "x", "b": "x"}) == {"x": "a"}
    values = seed_values({"power_w": 60.5, "relay_state": 1.0, "other": 2.0}, PLUG_NAMES)
    assert values == {"power": 60.5, "relay_state": True, "other": 2.0}
    assert values["relay_state"] is True


def test_switches_are_booleans_and_quantities_stay_numbers() -> None:
    assert shown("relay_state", 0.0) is False
    assert shown("relay_state", 1.0) is True
    assert shown("power_w", 1.0) == 1.0
    assert not isinstance(shown("power_w", 1.0), bool)


def test_a_reading_cursor_round_trips() -> None:
    cursor = encode("sensor-readings", 1_764_057_600_000, "living_room", "ldr")
    assert decode_reading("sensor-readings", cursor) == (1_764_057_600_000, "living_room", "ldr")
    with pytest.raises(ValueError, match="'devices' list"):
        decode_reading("sensor-readings", encode("devices", "d"))
    with pytest.raises(ValueError, match="no valid reading"):
        decode_reading("sensor-readings", encode("sensor-readings", 1, "", "ldr"))


@given(st.text(max_size=MAX_CURSOR_CHARS + 10))
def test_any_text_is_a_reading_cursor_or_a_value_error(text: str) -> None:
    try:
        ts_ms, location, sensor = decode_reading("sensor-readings", text)
    except ValueError:
        return
    assert isinstance(ts_ms, int)
    assert location
    assert sensor


def test_a_meter_hello_names_its_type_and_firmware_as_the_seed_does() -> None:
    hello = parse_hello("m-1", {"device_type": "power_meter_dc", "fw_version": "2.0.1"})
    assert (hello.device_type, hello.firmware_version) == ("power_meter_dc", "2.0.1")
    canonical = parse_hello("m-1", {"type": "dc", "firmware": "1", "fw_version": "2"})
    assert (canonical.device_type, canonical.firmware_version) == ("dc", "1")


def test_with_every_adapter_on_a_device_may_publish_only_on_topics_naming_it() -> None:
    filters = [f for adapter in ADAPTERS.values() for f in adapter.subscriptions()]
    topics = device_topics(filters, "plug-7")
    assert len(topics) == len(filters)
    assert all("plug-7" in topic.split("/") for topic in topics)
    assert "smartplug/plug-7/telemetry" in topics
    assert "HyperVolt/sensors/plug-7/+" in topics
