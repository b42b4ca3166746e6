"""Firmware artifacts, update campaigns and each device's part in one. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wattline.model.targets import Target


@dataclass(frozen=True, slots=True)
class Artifact:
    """One uploaded firmware image and Wattline's signature over its manifest."""

    artifact_id: str
    tenant_id: str
    device_type: str
    version: str
    size_bytes: int
    sha256: str
    # Ed25519 over manifest_bytes(), base64
    signature: str
    created_ms: int
    created_by: str


class CampaignState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # by an operator, or by itself when a wave failed too often
    ABORTED = "aborted"  # nothing more is sent; devices already updated stay updated
    COMPLETED = "completed"
    ROLLING_BACK = "rolling_back"  # the previous version is being sent back
    ROLLED_BACK = "rolled_back"


# States in which the campaign has nothing left to do.
FINISHED_CAMPAIGN = frozenset(
    {CampaignState.ABORTED, CampaignState.COMPLETED, CampaignState.ROLLED_BACK}
)


class UpdateState(StrEnum):
    """One device's progress, from the OTA status it reports (plus our own steps)."""

    PENDING = "pending"  # in a later wave
    SENT = "sent"  # instruction published, no report yet
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    INSTALLING = "installing"
    REBOOTED = "rebooted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # with a reason: the device's, or "no report within ..."
    CANCELLED = "cancelled"  # never sent: the campaign was aborted first


IN_FLIGHT = frozenset(
    {
        UpdateState.SENT,
        UpdateState.DOWNLOADING,
        UpdateState.VERIFYING,
        UpdateState.INSTALLING,
        UpdateState.REBOOTED,
    }
)
SETTLED = frozenset({UpdateState.SUCCEEDED, UpdateState.FAILED, UpdateState.CANCELLED})


class Phase(StrEnum):
    """What a device is being sent: the campaign's version, or its old one back."""

    UPDATE = "update"
    ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    tenant_id: str
    artifact_id: str
    device_type: str
    version: str
    target: Target
    # cumulative share of the targeted devices updated once each wave is done, e.g. (1, 10, 50, 100)
    waves_pct: tuple[float, ...]
    soak_ms: int
    # a wave whose failed share exceeds this pauses the campaign
    failure_threshold: float
    # a device silent this long after its instruction counts as failed
    device_timeout_ms: int
    state: CampaignState
    # index of the wave being sent or soaked
    wave: int
    # when the current wave's last device settled; None while devices are in flight
    settled_ms: int | None
    # waves below this index are not checked again (failures accepted by a resume)
    checked_from_wave: int
    reason: str | None
    created_ms: int
    created_by: str
    updated_ms: int


@dataclass(frozen=True, slots=True)
class DeviceUpdate:
    campaign_id: str
    device_id: str
    wave: int
    phase: Phase
    state: UpdateState
    # the firmware the device ran before (what a rollback sends back)
    from_version: str | None
    target_version: str
    detail: str | None
    progress_pct: float | None
    sent_ms: int | None
    updated_ms: int
