"""Request and response bodies of /api/v1/firmware and /api/v1/schedules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from wattline.model.targets import Target

Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# Far above any fleet a campaign or schedule names one by one; a type or tag serves more.
MAX_TARGET_IDS = 10_000


class TargetIn(BaseModel):
    device_type: Tag | None = Field(None, description="every device of this type")
    tag: Tag | None = Field(None, description="every device with this tag")
    device_ids: list[DeviceId] = Field(
        default_factory=list, max_length=MAX_TARGET_IDS, description="these devices"
    )

    def to_target(self) -> Target:
        return Target(self.device_type, self.tag, tuple(dict.fromkeys(self.device_ids)))


def target_out(target: Target) -> TargetIn:
    return TargetIn(
        device_type=target.device_type, tag=target.tag, device_ids=list(target.device_ids)
    )


class ArtifactOut(BaseModel):
    artifact_id: str
    device_type: str
    version: str
    size_bytes: int
    sha256: str
    signature: str = Field(description="Ed25519 over the manifest, base64 (see signing-key)")
    manifest: dict[str, object]
    created_at: str
    created_by: str


class ArtifactList(BaseModel):
    artifacts: list[ArtifactOut]


class SigningKeyOut(BaseModel):
    algorithm: str = "Ed25519"
    public_key_pem: str


class CampaignIn(BaseModel):
    artifact_id: str = Field(min_length=1, max_length=36)
    target: TargetIn
    waves_pct: list[float] = Field(
        default_factory=lambda: [1.0, 10.0, 50.0, 100.0],
        min_length=1,
        max_length=10,
        description="cumulative share of the devices updated after each wave; the last is 100",
    )
    soak_s: float = Field(600, ge=0, le=7 * 86400, description="wait after each wave")
    failure_threshold_pct: float = Field(
        10, ge=0, le=100, description="a wave with a larger failed share pauses the campaign"
    )
    device_timeout_s: float = Field(
        1800, ge=1, le=7 * 86400, description="a device silent this long counts as failed"
    )


class WaveOut(BaseModel):
    wave: int
    cumulative_pct: float
    total: int
    pending: int
    in_flight: int
    succeeded: int
    failed: int
    failure_rate: float


class CampaignOut(BaseModel):
    campaign_id: str
    artifact_id: str
    device_type: str
    version: str
    target: TargetIn
    state: str
    reason: str | None
    wave: int = Field(description="the current wave, from 0")
    waves: list[WaveOut]
    states: dict[str, int] = Field(description="devices per update state")
    soak_s: float
    failure_threshold_pct: float
    device_timeout_s: float
    created_at: str
    created_by: str
    updated_at: str


class CampaignList(BaseModel):
    campaigns: list[CampaignOut]


class DeviceUpdateOut(BaseModel):
    device_id: str
    wave: int
    phase: str
    state: str
    from_version: str | None
    target_version: str
    detail: str | None
    progress_pct: float | None
    sent_at: str | None
    updated_at: str


class DeviceUpdateList(BaseModel):
    devices: list[DeviceUpdateOut]


class ScheduleIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    target: TargetIn
    kind: Literal["cron", "daily", "sun"]
    timezone: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_+/-]+$",
        description="IANA name, e.g. Europe/Berlin",
    )
    cron: str | None = Field(
        None,
        max_length=120,
        pattern=r"^[0-9A-Za-z*/,? #LW-]+$",
        description="minute hour day month weekday",
    )
    daily_time: str | None = Field(None, max_length=5, description="HH:MM, local")
    sun_event: Literal["sunrise", "sunset"] | None = None
    offset_min: int = Field(0, ge=-720, le=720, description="minutes after (before) the event")
    latitude_deg: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    longitude_deg: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    command: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")
    parameters: dict[str, object] = Field(default_factory=dict)
    missed: Literal["skip", "late"] = Field(
        "skip", description="runs missed while Wattline was down: dropped, or the latest once"
    )
    late_window_s: int = Field(0, ge=0, le=7 * 86400)
    enabled: bool = True


class SkippedDeviceOut(BaseModel):
    device_id: str
    reason: str


class ScheduleOut(ScheduleIn):
    schedule_id: str
    next_run: str | None
    last_run: str | None
    upcoming: list[str] = Field(description="the next runs, in the schedule's local time")
    skipped_devices: list[SkippedDeviceOut] = Field(
        default_factory=list,
        description="a sun schedule without coordinates runs at each device's location:"
        " the targeted devices it cannot run at, and why",
    )
    created_at: str
    created_by: str
    updated_at: str


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]
