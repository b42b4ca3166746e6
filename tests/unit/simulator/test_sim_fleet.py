import math
from datetime import UTC, datetime
from typing import Literal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.simulator import SimulatedDevice, build_fleet
from wattline.simulator.fleet import hello_payload, status_payload, telemetry_payload
from wattline.simulator.models import AcMeter, DcRailMeter, HomeSensorNode, SmartPlug, SolarInverter

DEMO = [
    ("dc-meter-1", "power_meter_dc", DcRailMeter),
    ("dc-meter-2", "power_meter_dc", DcRailMeter),
    ("ac-meter-1", "power_meter_ac", AcMeter),
    ("plug-1", "smart_plug", SmartPlug),
    ("inverter-1", "solar_inverter", SolarInverter),
    ("sensor-1", "home_sensor", HomeSensorNode),
]


def test_demo_fleet() -> None:
    fleet = build_fleet(6, seed=1)
    assert [(d.device_id, d.device_type, type(d.model)) for d in fleet] == DEMO
    assert all(d.firmware for d in fleet)


def test_small_fleet_is_a_prefix() -> None:
    assert [d.device_id for d in build_fleet(3, seed=1)] == [
        "dc-meter-1",
        "dc-meter-2",
        "ac-meter-1",
    ]
    assert build_fleet(0, seed=1) == []


def test_large_fleet_cycles_types() -> None:
    ids = [d.device_id for d in build_fleet(14, seed=1)]
    assert ids[6:] == [
        "dc-meter-3",
        "dc-meter-4",
        "ac-meter-2",
        "plug-2",
        "inverter-2",
        "sensor-2",
        "dc-meter-5",
        "dc-meter-6",
    ]
    assert len(set(ids)) == len(ids)


def test_negative_count_is_rejected() -> None:
    with pytest.raises(ValueError, match="count"):
        build_fleet(-1, seed=1)


def test_device_spec_is_frozen() -> None:
    device = build_fleet(1, seed=1)[0]
    with pytest.raises(AttributeError):
        device.device_id = "other"  # type: ignore[misc]
    assert isinstance(device, SimulatedDevice)
    assert device.capabilities == list(device.model.metric_names)


def _readings(seed: int) -> list[dict[str, float]]:
    now = datetime(2024, 6, 21, 11, tzinfo=UTC)
    return [d.model.step(now, 5.0) for d in build_fleet(12, seed=seed)]


def test_fleet_is_deterministic_per_seed() -> None:
    assert _readings(5) == _readings(5)
    assert _readings(5) != _readings(6)


def test_growing_the_fleet_keeps_existing_devices_readings() -> None:
    now = datetime(2024, 6, 21, 11, tzinfo=UTC)
    small = [d.model.step(now, 5.0) for d in build_fleet(6, seed=3)]
    large = [d.model.step(now, 5.0) for d in build_fleet(12, seed=3)][:6]
    assert small == large


def test_inverter_uses_the_fleet_location() -> None:
    # 12:00 UTC is night on the far side of the globe.
    now = datetime(2024, 6, 21, 12, tzinfo=UTC)
    inverter = build_fleet(5, seed=1, latitude_deg=-33.9, longitude_deg=151.2)[4]
    assert inverter.model.step(now, 5.0)["pv_power_w"] == 0.0


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(
    seq=st.integers(0, 2**53),
    ts_ms=st.integers(0, 2**53),
    metrics=st.dictionaries(st.text(min_size=1), finite | st.integers(-(2**53), 2**53)),
)
def test_telemetry_round_trip(seq: int, ts_ms: int, metrics: dict[str, float]) -> None:
    payload = telemetry_payload(seq, ts_ms, metrics)
    assert orjson.loads(payload) == {"seq": seq, "ts": ts_ms, "metrics": metrics}


def test_telemetry_is_canonical() -> None:
    payload = telemetry_payload(3, 1_700_000_000_000, {"power_w": 1.5, "current_a": 2})
    assert payload == b'{"metrics":{"current_a":2,"power_w":1.5},"seq":3,"ts":1700000000000}'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_telemetry_rejects_non_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="power_w"):
        telemetry_payload(0, 0, {"power_w": bad})


def test_model_readings_serialise() -> None:
    for device in build_fleet(6, seed=0):
        reading = device.model.step(datetime(2024, 6, 21, 12, tzinfo=UTC), 5.0)
        assert orjson.loads(telemetry_payload(0, 1, reading))["metrics"] == reading


@given(
    device_type=st.text(),
    firmware=st.text(),
    capabilities=st.lists(st.text()),
)
def test_hello_round_trip(device_type: str, firmware: str, capabilities: list[str]) -> None:
    payload = hello_payload(device_type, firmware, capabilities)
    assert orjson.loads(payload) == {
        "type": device_type,
        "firmware": firmware,
        "capabilities": capabilities,
    }


@given(
    state=st.sampled_from(["online", "offline"]),
    ts_ms=st.integers(0, 2**53),
    uptime_s=st.floats(0, 1e9),
)
def test_status_round_trip(
    state: Literal["online", "offline"], ts_ms: int, uptime_s: float
) -> None:
    payload = status_payload(state, ts_ms, uptime_s)
    assert orjson.loads(payload) == {"state": state, "ts": ts_ms, "uptime_s": uptime_s}


def test_an_id_prefix_keeps_a_fleet_apart_from_the_demo_fleet() -> None:
    demo = [d.device_id for d in build_fleet(6, seed=1)]
    prefixed = [d.device_id for d in build_fleet(6, seed=1, id_prefix="sim-")]
    assert prefixed == [f"sim-{device_id}" for device_id in demo]
