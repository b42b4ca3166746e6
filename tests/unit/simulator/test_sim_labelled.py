"""The labelled data set: reproducible, with each fault where its label says."""

from __future__ import annotations

from wattline.model.findings import AnomalyKind
from wattline.simulator.labelled import DAY_MS, Profile, Span, simulate

START_MS = 1_788_220_800_000
SPAN = Span(START_MS, 9, 7)


def test_the_same_seed_gives_the_same_data() -> None:
    first = simulate("d", Profile.APPLIANCE, AnomalyKind.SPIKE, SPAN, seed=3)
    again = simulate("d", Profile.APPLIANCE, AnomalyKind.SPIKE, SPAN, seed=3)
    assert first == again
    assert len(first.points) == 9 * 1440


def test_a_spike_is_far_above_the_rest_inside_its_label() -> None:
    device = simulate("d", Profile.HOUSEHOLD, AnomalyKind.SPIKE, SPAN, seed=1)
    assert len(device.faults) == 2
    for fault in device.faults:
        assert fault.start_ms >= START_MS + 7 * DAY_MS
        inside = [v for t, v in device.points if fault.start_ms <= t < fault.end_ms]
        assert min(inside) > 4 * sorted(v for _, v in device.points)[len(device.points) // 2]


def test_night_use_adds_load_in_idle_night_hours() -> None:
    clean = simulate("n", Profile.APPLIANCE, None, SPAN, seed=1)
    faulty = simulate("n", Profile.APPLIANCE, AnomalyKind.NIGHT_USE, SPAN, seed=1)
    (fault,) = faulty.faults
    assert 0 <= (fault.start_ms % DAY_MS) // 3_600_000 <= 2
    added = [
        f - c
        for (t, c), (_, f) in zip(clean.points, faulty.points, strict=True)
        if fault.start_ms <= t < fault.end_ms
    ]
    assert min(added) >= 100
    assert clean.faults == ()
