"""How a campaign moves: waves, failure rates, soak, pause. Pure functions of stored state.

A campaign sends its version to one wave of devices at a time. A wave is done
when each of its devices has succeeded or failed (a silent device fails after
the campaign's device timeout); the campaign then waits the soak time and sends
the next wave. Whenever the failed share of the current wave exceeds the
threshold, the campaign pauses itself: no further wave is sent until an
operator resumes (accepting that wave's failures) or rolls back.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from wattline.model.firmware import (
    IN_FLIGHT,
    Campaign,
    CampaignState,
    DeviceUpdate,
    Phase,
    UpdateState,
)
from wattline.model.messages import OtaState, OtaStatus

# More waves than this is a schedule, not a rollout.
MAX_WAVES = 10


def check_waves(waves_pct: Sequence[float]) -> str | None:
    """Why ``waves_pct`` is not a rollout plan (a message for a 422), or None when it is."""
    if not 1 <= len(waves_pct) <= MAX_WAVES:
        return f"give between 1 and {MAX_WAVES} waves"
    if any(not (0 < pct <= 100) for pct in waves_pct):
        return "each wave is a cumulative percentage in (0, 100]"
    if any(b <= a for a, b in itertools.pairwise(waves_pct)):
        return "waves must increase strictly (they are cumulative)"
    if waves_pct[-1] != 100:
        return "the last wave must reach 100"
    return None


def wave_sizes(total: int, waves_pct: Sequence[float]) -> list[int]:
    """How many devices have been sent the update once each wave is out (cumulative).

    Rounded up, so a 1 % first wave of 20 devices is one device, never none; the
    last wave is everything.
    """
    sizes: list[int] = []
    reached = 0
    for index, pct in enumerate(waves_pct):
        count = min(total, math.ceil(total * pct / 100 - 1e-9))
        if index == len(waves_pct) - 1:
            count = total
        reached = max(reached, count, min(total, 1))
        sizes.append(reached)
    return sizes


def assign_waves(
    device_ids: Iterable[str], waves_pct: Sequence[float], seed: str
) -> dict[str, int]:
    """Each device's wave: a shuffle fixed by ``seed`` (the campaign id), cut at wave_sizes.

    Hashing rather than taking ids in order keeps the first wave from being
    always the same, oldest devices of every fleet.
    """
    order = sorted(set(device_ids), key=lambda d: hashlib.sha256(f"{seed}/{d}".encode()).digest())
    waves: dict[str, int] = {}
    start = 0
    for wave, end in enumerate(wave_sizes(len(order), waves_pct)):
        for device_id in order[start:end]:
            waves[device_id] = wave
        start = end
    return waves


@dataclass(frozen=True, slots=True)
class WaveTally:
    total: int = 0
    pending: int = 0
    in_flight: int = 0
    succeeded: int = 0
    failed: int = 0

    @property
    def failure_rate(self) -> float:
        return self.failed / self.total if self.total else 0.0


def tally(updates: Iterable[DeviceUpdate]) -> WaveTally:
    counts = {"pending": 0, "in_flight": 0, "succeeded": 0, "failed": 0}
    total = 0
    for update in updates:
        if update.state is UpdateState.CANCELLED:
            continue
        total += 1
        if update.state is UpdateState.PENDING:
            counts["pending"] += 1
        elif update.state in IN_FLIGHT:
            counts["in_flight"] += 1
        elif update.state is UpdateState.SUCCEEDED:
            counts["succeeded"] += 1
        else:
            counts["failed"] += 1
    return WaveTally(total=total, **counts)


class Step(StrEnum):
    WAIT = "wait"
    PAUSE = "pause"
    SEND = "send"  # send the pending devices of ``wave`` (making it the current wave)
    SETTLED = "settled"  # the current wave's last device settled: start its soak now
    COMPLETE = "complete"
    ROLLED_BACK = "rolled_back"


@dataclass(frozen=True, slots=True)
class Decision:
    step: Step
    wave: int | None = None
    reason: str | None = None


def next_step(campaign: Campaign, updates: Sequence[DeviceUpdate], now_ms: int) -> Decision:
    """What a campaign does next, given its devices' states (timeouts already applied)."""
    if campaign.state is CampaignState.ROLLING_BACK:
        return _rollback_step(campaign, updates)
    if campaign.state is not CampaignState.RUNNING:
        return Decision(Step.WAIT)
    return _running_step(campaign, updates, now_ms)


def _rollback_step(campaign: Campaign, updates: Sequence[DeviceUpdate]) -> Decision:
    back = [u for u in updates if u.phase is Phase.ROLLBACK]
    if any(u.state is UpdateState.PENDING for u in back):
        return Decision(Step.SEND, campaign.wave)
    if any(u.state in IN_FLIGHT for u in back):
        return Decision(Step.WAIT)
    return Decision(Step.ROLLED_BACK)


def _running_step(campaign: Campaign, updates: Sequence[DeviceUpdate], now_ms: int) -> Decision:
    wave = campaign.wave
    current = tally(u for u in updates if u.wave == wave)
    if wave >= campaign.checked_from_wave and current.failure_rate > campaign.failure_threshold:
        return Decision(
            Step.PAUSE,
            wave,
            f"wave {wave + 1}: {current.failed} of {current.total} devices failed"
            f" ({current.failure_rate:.0%}, more than {campaign.failure_threshold:.0%})",
        )
    if current.pending:
        return Decision(Step.SEND, wave)
    if current.in_flight:
        return Decision(Step.WAIT)
    return _after_wave(campaign, now_ms)


def _after_wave(campaign: Campaign, now_ms: int) -> Decision:
    """The current wave has settled: start its soak, wait it out, then go on."""
    wave = campaign.wave
    if campaign.settled_ms is None:
        return Decision(Step.SETTLED, wave)
    if now_ms < campaign.settled_ms + campaign.soak_ms:
        return Decision(Step.WAIT)
    if wave + 1 < len(campaign.waves_pct):
        return Decision(Step.SEND, wave + 1)
    return Decision(Step.COMPLETE)


def timed_out(updates: Iterable[DeviceUpdate], now_ms: int, timeout_ms: int) -> list[str]:
    """Devices in flight that have said nothing for ``timeout_ms`` since their last step."""
    return [
        u.device_id for u in updates if u.state in IN_FLIGHT and u.updated_ms + timeout_ms <= now_ms
    ]


def job_id(campaign_id: str, phase: Phase) -> str:
    """The job id a device echoes in its OTA status: which campaign, and which direction."""
    return campaign_id if phase is Phase.UPDATE else f"{campaign_id}/rollback"


def campaign_of_job(job: str) -> tuple[str, Phase]:
    if job.endswith("/rollback"):
        return job.removesuffix("/rollback"), Phase.ROLLBACK
    return job, Phase.UPDATE


_REPORTED = {
    OtaState.DOWNLOADING: UpdateState.DOWNLOADING,
    OtaState.VERIFYING: UpdateState.VERIFYING,
    OtaState.INSTALLING: UpdateState.INSTALLING,
    OtaState.REBOOTED: UpdateState.REBOOTED,
    OtaState.SUCCEEDED: UpdateState.SUCCEEDED,
    OtaState.DONE: UpdateState.SUCCEEDED,
    OtaState.FAILED: UpdateState.FAILED,
}


def apply_status(update: DeviceUpdate, status: OtaStatus, phase: Phase) -> DeviceUpdate | None:
    """The device's update after its report, or None when the report changes nothing
    (another phase's, or late: a settled update stays settled)."""
    if phase is not update.phase or update.state not in IN_FLIGHT:
        return None
    state = _REPORTED[status.state]
    detail = status.detail
    if state is UpdateState.SUCCEEDED and status.version not in {None, update.target_version}:
        state = UpdateState.FAILED
        detail = f"reported version {status.version}, expected {update.target_version}"
    if state is UpdateState.FAILED and not detail:
        detail = "the device reported a failure without a reason"
    return DeviceUpdate(
        campaign_id=update.campaign_id,
        device_id=update.device_id,
        wave=update.wave,
        phase=update.phase,
        state=state,
        from_version=update.from_version,
        target_version=update.target_version,
        detail=detail,
        progress_pct=status.progress_pct,
        sent_ms=update.sent_ms,
        updated_ms=max(status.ts_ms, update.updated_ms),
    )


def apply_hello(update: DeviceUpdate, version: str, ts_ms: int) -> DeviceUpdate | None:
    """The device's update after it announced ``version`` in its hello, or None.

    A device that boots into the version it was sent has succeeded, whatever OTA
    status report was lost on the way (the hello is sent after every boot). One
    that comes back from its reboot on another version (its bootloader fell
    back) has failed. Before the reboot a hello with the old version says nothing.
    """
    if update.state not in IN_FLIGHT:
        return None
    if version == update.target_version:
        state, detail = UpdateState.SUCCEEDED, f"hello reports version {version}"
    elif update.state is UpdateState.REBOOTED:
        state = UpdateState.FAILED
        detail = f"rebooted into version {version}, expected {update.target_version}"
    else:
        return None
    return replace(update, state=state, detail=detail, updated_ms=max(ts_ms, update.updated_ms))
