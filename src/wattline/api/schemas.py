"""Response and request bodies. Kept apart from the storage tables on purpose."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)

from wattline.api.credential_schemas import IssuedCredentialOut


class LatestValueOut(BaseModel):
    value: float | bool = Field(description="a switch (relay_state) as true/false")
    ts: str


class LocationIn(BaseModel):
    """Where a device is (WGS 84 degrees): sunrise/sunset schedules run by it."""

    latitude_deg: float = Field(ge=-90, le=90, allow_inf_nan=False, description="north positive")
    longitude_deg: float = Field(ge=-180, le=180, allow_inf_nan=False, description="east positive")


class DevicePatch(BaseModel):
    """The fields of a device an admin may change; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    location: LocationIn | None = Field(
        default=None, description="null clears it; sun schedules then need their own coordinates"
    )


class DeviceOut(BaseModel):
    device_id: str
    type: str | None
    firmware_version: str | None
    capabilities: list[str]
    status: str = Field(
        description="online, offline or unknown (silence beyond the timeout reads offline)"
    )
    reported_state: str = Field(description="the state the device last reported itself")
    last_seen: str | None
    registered_at: str
    tags: list[str]
    latest: dict[str, LatestValueOut]
    location: LocationIn | None = Field(
        default=None, description="set with PATCH /api/v1/devices/{device_id}"
    )


class ProvisionedDeviceOut(DeviceOut):
    credentials: list[IssuedCredentialOut] = Field(
        default_factory=list,
        description="the credentials asked for, each with its secret: shown this once",
    )


NEXT_CURSOR = "pass as `cursor` for the next page; null on the last page"


class DeviceList(BaseModel):
    devices: list[DeviceOut]
    count: int = Field(description="devices on this page")
    next_cursor: str | None = Field(default=None, description=NEXT_CURSOR)


class RequestBody(BaseModel):
    """Every JSON request body. Python's JSON parser reads ``NaN`` and ``Infinity``;
    refusing them here answers a 422 naming the field instead of storing them."""

    model_config = ConfigDict(allow_inf_nan=False)


Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class DeviceCreate(RequestBody):
    device_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    type: str | None = Field(default=None, max_length=64)
    tags: list[Tag] | None = Field(
        default=None, max_length=32, description="labels for fleet queries (?tag=); replaces"
    )
    credentials: list[Literal["mqtt_password", "http_token"]] | None = Field(
        default=None,
        max_length=2,
        description="issue these credentials too; their secrets are in the answer, once",
    )


class PointOut(BaseModel):
    ts: str
    seq: int | None
    values: dict[str, float | bool] = Field(description="a switch (relay_state) as true/false")


class StatsOut(BaseModel):
    """The aggregates asked for with ``agg``; the others are left out of the JSON."""

    avg: float | None = None
    # a switch's (relay_state) single values are true/false; its avg is the share on
    min: float | bool | None = None
    max: float | bool | None = None
    count: int | None = None
    sum: float | None = None
    first: float | bool | None = None
    last: float | bool | None = None

    @model_serializer(mode="wrap")
    def _asked_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {name: value for name, value in data.items() if value is not None}


class BucketOut(BaseModel):
    ts: str
    values: dict[str, StatsOut]


class ColumnsOut(BaseModel):
    """Buckets column-wise (``layout=columns``): index i of every array is one bucket."""

    ts_ms: list[int] = Field(description="bucket starts, epoch milliseconds")
    values: dict[str, dict[str, list[float | bool | None]]] = Field(
        description="per metric, per aggregate: one entry per bucket; count 0 and null"
        " elsewhere where the metric has no data in a bucket"
    )


class TelemetryOut(BaseModel):
    device_id: str
    start: str
    end: str
    interval: str | None = Field(description="bucket width; null for raw points")
    fields: list[str] | None
    points: list[PointOut] | None = None
    buckets: list[BucketOut] | None = None
    columns: ColumnsOut | None = Field(default=None, description="with layout=columns")
    truncated: bool = Field(
        default=False, description="true when `limit` cut the raw points short: see next_cursor"
    )
    next_cursor: str | None = Field(
        default=None, description="raw points only: " + NEXT_CURSOR + " (same order)"
    )
    source: str = Field(
        default="raw", description="what answered: raw samples, or the 1m, 1h or 1d rollup tier"
    )
    tz: str | None = Field(default=None, description="time zone of day, week and month buckets")
    agg: list[str] | None = Field(default=None, description="aggregates per bucket and metric")


class DeviceSeriesOut(BaseModel):
    device_id: str
    buckets: list[BucketOut] | None = None
    columns: ColumnsOut | None = Field(default=None, description="with layout=columns")


class FleetTelemetryOut(BaseModel):
    start: str
    end: str
    interval: str
    tz: str | None
    agg: list[str]
    fields: list[str] | None
    source: str = Field(description="what answered: raw samples, or the 1m, 1h or 1d rollup tier")
    devices: list[DeviceSeriesOut]


class LatestOut(BaseModel):
    device_id: str
    values: dict[str, LatestValueOut]


class QuarantineOut(BaseModel):
    id: int
    received_at: str
    topic: str
    reason: str
    detail: str
    payload_size: int
    occurrences: int = Field(description="times this topic and payload were received")
    last_received_at: str
    payload_preview: str = Field(
        description="the first 256 bytes, decoded as UTF-8 with replacement"
    )


class QuarantineList(BaseModel):
    items: list[QuarantineOut]
    next_cursor: str | None = Field(default=None, description=NEXT_CURSOR)


class ComponentHealth(BaseModel):
    status: str
    detail: str | None = None


class HealthOut(BaseModel):
    status: str
    components: dict[str, ComponentHealth]


class GapOut(BaseModel):
    boot: int = Field(description="the device's boot counter (incremented by each hello)")
    first_seq: int
    last_seq: int
    missing: int
    detected_at: str


class SequenceOut(BaseModel):
    device_id: str
    boot: int
    next_seq: int | None = Field(description="the sequence number expected next")
    resets: int = Field(description="counter restarts detected without a hello")
    duplicates: int = Field(description="readings dropped as already seen by (device, seq)")
    duplicate_samples: int = Field(
        0,
        description="samples dropped because the same value was already stored for that "
        "metric and time (readings without seq, redeliveries from an earlier boot)",
    )
    corrected_samples: int = Field(
        0, description="stored samples whose value a later arrival for the same time replaced"
    )
    missing: int = Field(description="sequence numbers in open gaps (all pages)")
    gaps: list[GapOut] = Field(description="open gaps, oldest first, a page at a time")
    next_cursor: str | None = Field(default=None, description=NEXT_CURSOR)


class ReplayRequest(RequestBody):
    """Which quarantined messages to replay: exactly one of ids, reason or all."""

    # bounded to the 64-bit id column: a larger id raised OverflowError in SQLite's driver
    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(
        default=None, max_length=10_000, description="these messages (limit does not apply)"
    )
    reason: str | None = Field(default=None, description="the newest `limit` with this reason")
    all: bool = Field(default=False, description="the newest `limit` of any reason")
    limit: int = Field(default=1000, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_selector(self) -> ReplayRequest:
        # `{}` used to replay the whole quarantine: everything is now asked for explicitly
        given = [self.ids is not None, self.reason is not None, self.all]
        if given.count(True) != 1:
            msg = "give exactly one of ids, reason or all: true"
            raise ValueError(msg)
        return self


class ReplayOut(BaseModel):
    accepted: list[int] = Field(description="quarantine ids stored now and removed from quarantine")
    still_rejected: dict[int, str] = Field(description="id -> the reason it is still rejected")
    not_found: list[int] = Field(
        default_factory=list, description="requested ids that are not in the quarantine"
    )
    samples_stored: int


class HttpRejectionOut(BaseModel):
    device_id: str | None
    reason: str
    detail: str


class HttpIngestOut(BaseModel):
    accepted: int = Field(description="per-device groups stored")
    samples_stored: int
    rejected: list[HttpRejectionOut] = Field(description="quarantined, with the reason")


class DeviceDeletedOut(BaseModel):
    device_id: str
    samples: str = Field(description="what the request asked for: delete or archive")
    archived_to: str | None = Field(description="folder of the Parquet files, when archived")
    removed: dict[str, int] = Field(description="rows removed per table")
