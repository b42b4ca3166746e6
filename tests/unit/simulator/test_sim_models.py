import math
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattline.simulator.models import (
    AcMeter,
    DcRailMeter,
    DeviceModel,
    HomeSensorNode,
    SmartPlug,
    SolarInverter,
    clear_sky_irradiance_w_m2,
)
from wattline.simulator.sun import solar_elevation_deg

LAT, LON = 51.5, -0.1
STEPS = 10_000
START = datetime(2024, 6, 21, tzinfo=UTC)

MODEL_FACTORIES: dict[str, Callable[[random.Random], DeviceModel]] = {
    "dc": DcRailMeter,
    "ac": AcMeter,
    "plug": SmartPlug,
    "solar": lambda rng: SolarInverter(rng, latitude_deg=LAT, longitude_deg=LON),
    "sensor": lambda rng: HomeSensorNode(rng, latitude_deg=LAT, longitude_deg=LON),
}
COUNTERS = {
    "dc": ("energy_import_wh", "energy_export_wh"),
    "ac": ("energy_wh",),
    "plug": ("energy_wh",),
    "solar": ("energy_wh",),
    "sensor": (),
}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def run(
    model: DeviceModel, dts: list[float], start: datetime = START
) -> Iterator[tuple[datetime, float, dict[str, float]]]:
    now = start
    for dt_s in dts:
        now += timedelta(seconds=dt_s)
        yield now, dt_s, model.step(now, dt_s)


def random_dts(seed: int, max_dt_s: float, count: int = STEPS) -> list[float]:
    rng = random.Random(seed)
    # Mix zero, tiny and long gaps: all happen with real gateways.
    return [rng.choice((0.0, rng.uniform(0, 1), rng.uniform(0, max_dt_s))) for _ in range(count)]


dt_seeds = st.integers(0, 2**32 - 1)
model_seeds = st.integers(0, 2**32 - 1)
max_dts = st.sampled_from([1.0, 10.0, 60.0, 900.0])
slow = settings(max_examples=10, deadline=None)


@slow
@given(
    kind=st.sampled_from(sorted(MODEL_FACTORIES)),
    seed=model_seeds,
    dt_seed=dt_seeds,
    max_dt=max_dts,
)
def test_counters_never_decrease_and_keys_are_stable(
    kind: str, seed: int, dt_seed: int, max_dt: float
) -> None:
    model = MODEL_FACTORIES[kind](random.Random(seed))
    previous = dict.fromkeys(COUNTERS[kind], 0.0)
    for _, _, reading in run(model, random_dts(dt_seed, max_dt)):
        assert tuple(reading) == model.metric_names
        assert all(math.isfinite(value) for value in reading.values())
        for name in COUNTERS[kind]:
            assert reading[name] >= previous[name]
            previous[name] = reading[name]


@given(
    kind=st.sampled_from(sorted(MODEL_FACTORIES)),
    seed=model_seeds,
    dts=st.lists(st.floats(0, 86_400, allow_nan=False), min_size=1, max_size=50),
)
def test_counters_survive_arbitrary_gaps(kind: str, seed: int, dts: list[float]) -> None:
    model = MODEL_FACTORIES[kind](random.Random(seed))
    previous = dict.fromkeys(COUNTERS[kind], 0.0)
    for _, _, reading in run(model, dts):
        for name in COUNTERS[kind]:
            assert reading[name] >= previous[name]
            previous[name] = reading[name]


@slow
@given(seed=model_seeds, dt_seed=dt_seeds, max_dt=max_dts)
def test_dc_meter_physics(seed: int, dt_seed: int, max_dt: float) -> None:
    model = DcRailMeter(random.Random(seed))
    imported = exported = 0.0
    for _, dt_s, r in run(model, random_dts(dt_seed, max_dt)):
        assert close(r["power_w"], r["voltage_v"] * r["current_a"])
        assert 600.0 < r["voltage_v"] < 900.0
        expected_import = imported + max(r["power_w"], 0.0) * dt_s / 3600
        expected_export = exported + max(-r["power_w"], 0.0) * dt_s / 3600
        assert close(r["energy_import_wh"], expected_import)
        assert close(r["energy_export_wh"], expected_export)
        imported, exported = r["energy_import_wh"], r["energy_export_wh"]


def test_dc_meter_regenerates_and_sags() -> None:
    model = DcRailMeter(random.Random(7), source_resistance_ohm=0.04)
    readings = [r for _, _, r in run(model, [1.0] * 3600)]
    regen = [r for r in readings if r["current_a"] < -100]
    heavy = [r for r in readings if r["current_a"] > 1000]
    assert regen, "braking should feed current back"
    assert heavy, "acceleration should draw heavy current"
    assert readings[-1]["energy_export_wh"] > 0

    # V = V0 - R*I: the line rises while regenerating and sags under traction load.
    def mean_voltage_v(rs: list[dict[str, float]]) -> float:
        return sum(r["voltage_v"] for r in rs) / len(rs)

    assert mean_voltage_v(regen) > 750.0 > mean_voltage_v(heavy)


@slow
@given(seed=model_seeds, dt_seed=dt_seeds, max_dt=max_dts)
def test_ac_meter_physics(seed: int, dt_seed: int, max_dt: float) -> None:
    model = AcMeter(random.Random(seed))
    energy = 0.0
    for _, dt_s, r in run(model, random_dts(dt_seed, max_dt)):
        assert close(r["power_w"], r["voltage_v"] * r["current_a"] * r["power_factor"])
        assert close(r["apparent_power_va"], r["voltage_v"] * r["current_a"])
        assert r["power_w"] <= r["apparent_power_va"]
        assert 0.8 <= r["power_factor"] <= 1.0
        assert 49.8 <= r["frequency_hz"] <= 50.2
        assert 207.0 <= r["voltage_v"] <= 253.0
        assert close(r["energy_wh"], energy + r["power_w"] * dt_s / 3600)
        energy = r["energy_wh"]


@slow
@given(seed=model_seeds, dt_seed=dt_seeds, max_dt=max_dts)
def test_smart_plug_physics(seed: int, dt_seed: int, max_dt: float) -> None:
    model = SmartPlug(random.Random(seed))
    states = set()
    for _, _, r in run(model, random_dts(dt_seed, max_dt)):
        assert close(r["power_w"], r["voltage_v"] * r["current_a"] * model.power_factor)
        assert r["relay_state"] in {0.0, 1.0}
        states.add(r["relay_state"])
        if r["relay_state"] == 0.0:
            assert r["power_w"] == 0.0
            assert r["current_a"] == 0.0
        else:
            assert r["power_w"] > 0.0


def test_smart_plug_duty_cycle_toggles_over_a_day() -> None:
    # Fixed seed and a simulated day (mean on 10 min, off 20 min): toggling is certain
    # here, unlike in the property test above, whose random runs may be short.
    model = SmartPlug(random.Random(7))
    start = datetime(2026, 6, 21, tzinfo=UTC)
    states = {
        model.step(start + timedelta(seconds=10 * i), 10.0)["relay_state"] for i in range(8640)
    }
    assert states == {0.0, 1.0}


def test_smart_plug_relay_command() -> None:
    model = SmartPlug(random.Random(3), mean_on_s=1e9, mean_off_s=1e9)
    model.set_relay(False)
    first = model.step(START, 1.0)
    assert first["relay_state"] == 0.0
    assert first["power_w"] == 0.0
    model.set_relay(True)
    second = model.step(START, 1.0)
    assert second["relay_state"] == 1.0
    assert second["power_w"] > 0.0
    assert second["energy_wh"] > first["energy_wh"]


@slow
@given(seed=model_seeds, dt_seed=dt_seeds, max_dt=max_dts)
def test_solar_inverter_physics(seed: int, dt_seed: int, max_dt: float) -> None:
    model = SolarInverter(random.Random(seed), latitude_deg=LAT, longitude_deg=LON)
    for now, _, r in run(model, random_dts(dt_seed, max_dt)):
        if solar_elevation_deg(now, LAT, LON) < 0:
            assert r["pv_power_w"] == 0.0
            assert r["ac_power_w"] == 0.0
            assert r["irradiance_w_m2"] == 0.0
        assert 0.0 <= r["pv_power_w"] <= 5000.0
        assert close(r["ac_power_w"], r["pv_power_w"] * model.efficiency)
        if r["dc_voltage_v"] > 0:
            assert close(r["dc_current_a"], r["pv_power_w"] / r["dc_voltage_v"])
        else:
            assert r["dc_current_a"] == 0.0


def test_solar_follows_the_day() -> None:
    model = SolarInverter(random.Random(1), latitude_deg=LAT, longitude_deg=LON)
    hourly = {now.hour: r for now, _, r in run(model, [3600.0] * 24)}
    assert hourly[0]["pv_power_w"] == 0.0
    assert hourly[12]["pv_power_w"] > 500.0
    assert hourly[12]["pv_power_w"] > hourly[6]["pv_power_w"]
    assert hourly[23]["energy_wh"] > 0.0


def test_clear_sky_irradiance() -> None:
    assert clear_sky_irradiance_w_m2(-5.0) == 0.0
    assert clear_sky_irradiance_w_m2(0.0) == 0.0
    assert 900.0 < clear_sky_irradiance_w_m2(62.0) < 1000.0


@slow
@given(seed=model_seeds, dt_seed=dt_seeds, max_dt=max_dts)
def test_home_sensor_ranges(seed: int, dt_seed: int, max_dt: float) -> None:
    model = HomeSensorNode(random.Random(seed), latitude_deg=LAT, longitude_deg=LON)
    for now, _, r in run(model, random_dts(dt_seed, max_dt)):
        assert 0.0 <= r["light_ldr"] <= 1023.0
        assert r["light_ldr"] == int(r["light_ldr"])
        assert 10.0 < r["temperature_c"] < 30.0
        assert 0.0 <= r["humidity_pct"] <= 100.0
        assert r["current_a"] > 0.0
        if solar_elevation_deg(now, LAT, LON) > 30:
            # Even under the thickest cloud a window LDR reads well above lamp light.
            assert r["light_ldr"] > 130.0


@pytest.mark.parametrize("kind", sorted(MODEL_FACTORIES))
def test_same_seed_same_readings(kind: str) -> None:
    dts = random_dts(99, 60.0, count=500)
    daytime = START.replace(hour=10)  # so the sun-driven models have something to vary

    def readings(seed: int) -> list[dict[str, float]]:
        model = MODEL_FACTORIES[kind](random.Random(seed))
        return [r for _, _, r in run(model, dts, daytime)]

    first, second, other = readings(42), readings(42), readings(43)
    assert first == second
    assert first != other


@pytest.mark.parametrize("kind", sorted(MODEL_FACTORIES))
@pytest.mark.parametrize("dt_s", [-1.0, math.nan, math.inf])
def test_bad_dt_is_rejected(kind: str, dt_s: float) -> None:
    model = MODEL_FACTORIES[kind](random.Random(0))
    with pytest.raises(ValueError, match="dt_s"):
        model.step(START, dt_s)
