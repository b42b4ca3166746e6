"""What a device said, once decoded: readings, boot announcements, status reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message as it arrived, before any interpretation.

    The raw bytes are kept untouched so that a rejected message can be
    quarantined and replayed byte for byte.
    """

    topic: str
    payload: bytes
    received_ms: int
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """Values a device measured at one instant."""

    device_id: str
    ts_ms: int
    metrics: dict[str, float]
    seq: int | None = None

    def __reduce__(self) -> tuple[type[Reading], tuple[str, int, dict[str, float], int | None]]:
        # Batches cross to the commit process pickled; the dataclass default
        # (fields() per object) took most of the hand-over's time.
        return (Reading, (self.device_id, self.ts_ms, self.metrics, self.seq))


@dataclass(frozen=True, slots=True)
class Hello:
    """A device announcing itself after boot."""

    device_id: str
    device_type: str | None
    firmware_version: str | None
    capabilities: tuple[str, ...] = ()


class ConnectionState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A heartbeat or a last-will message."""

    device_id: str
    state: ConnectionState
    ts_ms: int


class CommandResult(StrEnum):
    """What a device says about a command it received."""

    ACCEPTED = "accepted"  # verified and started; a final ack follows
    REJECTED = "rejected"  # not executed: bad signature, expired, unknown action
    DONE = "done"
    FAILED = "failed"  # executed and did not succeed


@dataclass(frozen=True, slots=True)
class CommandAck:
    """A device's answer to a command envelope it received."""

    device_id: str
    command_id: str
    status: CommandResult
    detail: str | None
    ts_ms: int


class OtaState(StrEnum):
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    INSTALLING = "installing"
    REBOOTED = "rebooted"  # booted into the new image, self-test running
    SUCCEEDED = "succeeded"
    DONE = "done"  # the same as succeeded, for devices that say so
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OtaStatus:
    """Progress of a firmware update on one device."""

    device_id: str
    job_id: str | None
    version: str | None
    state: OtaState
    progress_pct: float | None
    detail: str | None
    ts_ms: int


class RejectReason(StrEnum):
    """Why a message was quarantined. Stable strings: clients filter on them."""

    TOO_LARGE = "too_large"
    UNDECODABLE = "undecodable"
    BAD_TOPIC = "bad_topic"
    BAD_DEVICE_ID = "bad_device_id"
    BAD_SHAPE = "bad_shape"
    BAD_METRIC_NAME = "bad_metric_name"
    BAD_VALUE = "bad_value"
    BAD_TIMESTAMP = "bad_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    BAD_SEQ = "bad_seq"
    UNKNOWN_DEVICE = "unknown_device"
    # on a subscribed topic that no protocol adapter claims
    UNKNOWN_TOPIC = "unknown_topic"
    # an adapter raised something other than a protocol error: a bug of ours,
    # kept with the message so that it can be replayed once fixed
    ADAPTER_FAILED = "adapter_failed"
    # valid by every rule, yet the database refused it (found by splitting its batch)
    STORE_REJECTED = "store_rejected"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectReason
    detail: str


# The kind of an Interpreted message that the platform itself sent to a device.
DOWNLINK = "downlink"


@dataclass(frozen=True, slots=True)
class Interpreted:
    """The outcome of decoding and validating one accepted message."""

    device_id: str
    readings: tuple[Reading, ...] = ()
    hello: Hello | None = None
    status: StatusReport | None = None
    kind: str = field(default="telemetry")
    command_ack: CommandAck | None = None
    ota_status: OtaStatus | None = None
