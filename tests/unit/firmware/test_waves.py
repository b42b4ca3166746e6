"""Campaign progression: wave sizes, failure threshold, soak, rollback. Pure."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.firmware.waves import (
    Step,
    apply_hello,
    apply_status,
    assign_waves,
    campaign_of_job,
    check_waves,
    job_id,
    next_step,
    tally,
    timed_out,
    wave_sizes,
)
from wattline.model.firmware import Campaign, CampaignState, DeviceUpdate, Phase, UpdateState
from wattline.model.messages import OtaState, OtaStatus
from wattline.model.targets import Target

T0 = 1_800_000_000_000

plans = st.lists(st.integers(1, 99), min_size=0, max_size=6, unique=True).map(
    lambda xs: (*sorted(float(x) for x in xs), 100.0)
)


def campaign(**changes: object) -> Campaign:
    base = Campaign(
        campaign_id="c1",
        tenant_id="t",
        artifact_id="a1",
        device_type="smart_plug",
        version="2.0.0",
        target=Target(device_type="smart_plug"),
        waves_pct=(5.0, 50.0, 100.0),
        soak_ms=60_000,
        failure_threshold=0.2,
        device_timeout_ms=600_000,
        state=CampaignState.RUNNING,
        wave=0,
        settled_ms=None,
        checked_from_wave=0,
        reason=None,
        created_ms=T0,
        created_by="admin",
        updated_ms=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def device(i: int, wave: int, state: UpdateState, phase: Phase = Phase.UPDATE) -> DeviceUpdate:
    return DeviceUpdate("c1", f"d{i}", wave, phase, state, "1.0.0", "2.0.0", None, None, T0, T0)


@given(total=st.integers(0, 5000), plan=plans)
def test_wave_sizes_grow_reach_everyone_and_never_start_empty(
    total: int, plan: tuple[float, ...]
) -> None:
    sizes = wave_sizes(total, plan)
    assert len(sizes) == len(plan)
    assert sizes == sorted(sizes)
    assert sizes[-1] == total
    assert sizes[0] == (1 if total else 0) or sizes[0] >= total * plan[0] / 100
    for size, pct in zip(sizes, plan, strict=True):
        assert size >= total * pct / 100 - 1e-6  # never fewer than asked


@given(ids=st.sets(st.text("abcdef0123", min_size=1, max_size=6), max_size=300), plan=plans)
def test_every_device_gets_exactly_one_wave(ids: set[str], plan: tuple[float, ...]) -> None:
    waves = assign_waves(ids, plan, "seed")
    assert set(waves) == ids
    counts = [sum(1 for w in waves.values() if w <= i) for i in range(len(plan))]
    assert counts == wave_sizes(len(ids), plan)


def test_the_standard_plan_over_20_devices() -> None:
    assert wave_sizes(20, (1, 10, 50, 100)) == [1, 2, 10, 20]
    assert wave_sizes(20, (5, 50, 100)) == [1, 10, 20]


@pytest.mark.parametrize(
    ("plan", "problem"),
    [
        ((), "between 1 and 10"),
        ((50, 40, 100), "increase"),
        ((10, 50), "reach 100"),
        ((0, 100), "(0, 100]"),
        ((10, 100), None),
    ],
)
def test_check_waves(plan: tuple[float, ...], problem: str | None) -> None:
    found = check_waves(plan)
    assert (found is None) if problem is None else (found is not None and problem in found)


@given(
    failed=st.integers(0, 20),
    succeeded=st.integers(0, 20),
    in_flight=st.integers(0, 5),
    threshold=st.sampled_from([0.0, 0.1, 0.2, 0.5]),
)
def test_a_wave_over_the_threshold_always_pauses_and_never_advances(
    failed: int, succeeded: int, in_flight: int, threshold: float
) -> None:
    states = (
        [UpdateState.FAILED] * failed
        + [UpdateState.SUCCEEDED] * succeeded
        + [UpdateState.INSTALLING] * in_flight
    )
    updates = [device(i, 1, s) for i, s in enumerate(states)]
    c = campaign(wave=1, failure_threshold=threshold, settled_ms=T0)
    decision = next_step(c, updates, T0 + 10**9)
    total = len(states)
    if total and failed / total > threshold:
        assert decision.step is Step.PAUSE
        assert f"{failed} of {total}" in (decision.reason or "")
    else:
        assert decision.step is not Step.PAUSE
    if in_flight:
        assert decision.step in {Step.PAUSE, Step.WAIT}


def test_a_wave_moves_on_only_after_its_soak() -> None:
    updates = [device(0, 0, UpdateState.SUCCEEDED), device(1, 1, UpdateState.PENDING)]
    c = campaign()
    assert next_step(c, updates, T0).step is Step.SETTLED
    soaking = campaign(settled_ms=T0)
    assert next_step(soaking, updates, T0 + 59_999).step is Step.WAIT
    assert next_step(soaking, updates, T0 + 60_000) == next_step(soaking, updates, T0 + 10**9)
    assert next_step(soaking, updates, T0 + 60_000).step is Step.SEND
    assert next_step(soaking, updates, T0 + 60_000).wave == 1


def test_the_last_wave_completes_after_its_soak() -> None:
    updates = [device(0, 0, UpdateState.SUCCEEDED), device(1, 2, UpdateState.SUCCEEDED)]
    c = campaign(wave=2, settled_ms=T0)
    assert next_step(c, updates, T0 + 60_000).step is Step.COMPLETE


def test_pending_devices_of_the_current_wave_are_sent_first() -> None:
    updates = [device(0, 0, UpdateState.PENDING), device(1, 1, UpdateState.PENDING)]
    decision = next_step(campaign(), updates, T0)
    assert (decision.step, decision.wave) == (Step.SEND, 0)


def test_a_resumed_wave_is_not_checked_again() -> None:
    updates = [device(0, 0, UpdateState.FAILED), device(1, 1, UpdateState.PENDING)]
    assert next_step(campaign(), updates, T0).step is Step.PAUSE
    resumed = campaign(checked_from_wave=1, settled_ms=T0)
    assert next_step(resumed, updates, T0 + 60_000).step is Step.SEND


@pytest.mark.parametrize("state", [CampaignState.PAUSED, CampaignState.ABORTED])
def test_a_stopped_campaign_waits(state: CampaignState) -> None:
    updates = [device(0, 0, UpdateState.PENDING)]
    assert next_step(campaign(state=state), updates, T0).step is Step.WAIT


def test_rollback_sends_then_finishes() -> None:
    rb = campaign(state=CampaignState.ROLLING_BACK)
    pending = [device(0, 0, UpdateState.PENDING, Phase.ROLLBACK)]
    assert next_step(rb, pending, T0).step is Step.SEND
    flying = [device(0, 0, UpdateState.SENT, Phase.ROLLBACK)]
    assert next_step(rb, flying, T0).step is Step.WAIT
    done = [device(0, 0, UpdateState.SUCCEEDED, Phase.ROLLBACK)]
    assert next_step(rb, done, T0).step is Step.ROLLED_BACK


def test_silent_devices_time_out() -> None:
    updates = [device(0, 0, UpdateState.SENT), device(1, 0, UpdateState.SUCCEEDED)]
    assert timed_out(updates, T0 + 599_999, 600_000) == []
    assert timed_out(updates, T0 + 600_000, 600_000) == ["d0"]


def report(state: OtaState, version: str | None = "2.0.0", job: str = "c1") -> OtaStatus:
    return OtaStatus("d0", job, version, state, None, None, T0 + 5)


def test_reports_move_a_device_and_settled_ones_stay() -> None:
    sent = device(0, 0, UpdateState.SENT)
    installing = apply_status(sent, report(OtaState.INSTALLING), Phase.UPDATE)
    assert installing is not None
    assert installing.state is UpdateState.INSTALLING
    done = apply_status(installing, report(OtaState.DONE), Phase.UPDATE)
    assert done is not None
    assert done.state is UpdateState.SUCCEEDED
    assert apply_status(done, report(OtaState.FAILED), Phase.UPDATE) is None
    assert apply_status(sent, report(OtaState.INSTALLING), Phase.ROLLBACK) is None


def test_success_with_another_version_is_a_failure() -> None:
    changed = apply_status(
        device(0, 0, UpdateState.SENT), report(OtaState.SUCCEEDED, "9"), Phase.UPDATE
    )
    assert changed is not None
    assert changed.state is UpdateState.FAILED
    assert "expected 2.0.0" in (changed.detail or "")


def test_job_ids_name_the_campaign_and_the_direction() -> None:
    for phase in Phase:
        assert campaign_of_job(job_id("c1", phase)) == ("c1", phase)


def test_tally_ignores_cancelled_devices() -> None:
    counted = tally([device(0, 0, UpdateState.CANCELLED), device(1, 0, UpdateState.FAILED)])
    assert (counted.total, counted.failed, counted.failure_rate) == (1, 1, 1.0)


@pytest.mark.parametrize(
    ("state", "version", "expected"),
    [
        (UpdateState.SENT, "2.0.0", UpdateState.SUCCEEDED),  # the report was lost
        (UpdateState.REBOOTED, "2.0.0", UpdateState.SUCCEEDED),
        (UpdateState.REBOOTED, "1.0.0", UpdateState.FAILED),  # the bootloader fell back
        (UpdateState.DOWNLOADING, "1.0.0", None),  # an unrelated reboot before installing
        (UpdateState.SUCCEEDED, "1.0.0", None),  # settled stays settled
        (UpdateState.PENDING, "2.0.0", None),  # never sent: not this campaign's doing
    ],
)
def test_a_hello_settles_an_update_by_its_version(
    state: UpdateState, version: str, expected: UpdateState | None
) -> None:
    after = apply_hello(device(1, 0, state), version, T0 + 5)
    assert (after.state if after else None) is expected
    if after is not None:
        assert after.updated_ms == T0 + 5
        assert version in (after.detail or "")
