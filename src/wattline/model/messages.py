"""What a device said, once decoded: readings, boot announcements, status reports.

Frozen ``msgspec.Struct`` classes rather than frozen dataclasses (ADR 0031): every
message builds several of these on the collector's hot path, and a frozen
dataclass's ``__init__`` (an ``object.__setattr__`` per field) took about 650 ns
against a Struct's 90 (``timeit``); the collector's front half went from 10.7 to
5.3 µs per message (``benchmarks/plan_batch.py``). They compare, hash, pickle and
print as the dataclasses did.
"""

from __future__ import annotations

from enum import StrEnum

from msgspec import Struct


class InboundMessage(Struct, frozen=True):
    """One message as it arrived, before any interpretation.

    The raw bytes are kept untouched so that a rejected message can be
    quarantined and replayed byte for byte.
    """

    topic: str
    payload: bytes
    received_ms: int
    content_type: str | None = None


class Reading(Struct, frozen=True):
    """Values a device measured at one instant."""

    device_id: str
    ts_ms: int
    metrics: dict[str, float]
    seq: int | None = None


class Hello(Struct, frozen=True):
    """A device announcing itself after boot."""

    device_id: str
    device_type: str | None
    firmware_version: str | None
    capabilities: tuple[str, ...] = ()


class ConnectionState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


class StatusReport(Struct, frozen=True):
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


class CommandAck(Struct, frozen=True):
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


class OtaStatus(Struct, frozen=True):
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


class Rejection(Struct, frozen=True):
    reason: RejectReason
    detail: str


# The kind of an Interpreted message that the platform itself sent to a device.
DOWNLINK = "downlink"


class Interpreted(Struct, frozen=True):
    """The outcome of decoding and validating one accepted message."""

    device_id: str
    readings: tuple[Reading, ...] = ()
    hello: Hello | None = None
    status: StatusReport | None = None
    kind: str = "telemetry"
    command_ack: CommandAck | None = None
    ota_status: OtaStatus | None = None
