"""The canonical Wattline protocol: ``{prefix}/{device_id}/telemetry|hello|status``.

Telemetry payload: ``{"seq": int, "ts": epoch-ms | RFC 3339, "metrics": {name: number}}``
or a list of such readings (a batch upload). See docs/protocols.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from wattline.model.messages import (
    ConnectionState,
    Hello,
    Interpreted,
    Reading,
    RejectReason,
    StatusReport,
)
from wattline.protocols.errors import ProtocolError
from wattline.protocols.timestamps import parse_timestamp_ms

DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
METRIC_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")
# Beyond this magnitude a float64 no longer represents a physical energy
# reading faithfully; such values are almost always corrupt.
MAX_ABS_VALUE = 1e15
MAX_SEQ = 2**63 - 1
KINDS = ("telemetry", "hello", "status")


@dataclass(frozen=True, slots=True)
class Limits:
    max_readings_per_message: int = 1000
    max_metrics_per_reading: int = 128
    max_future_skew_ms: int = 5 * 60_000


def split_topic(topic: str, prefix: str) -> tuple[str, str]:
    """Return (device_id, kind) for a canonical topic, or raise ProtocolError."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != prefix or parts[2] not in KINDS:
        raise ProtocolError(
            RejectReason.BAD_TOPIC, f"topic {topic[:120]!r} is not {prefix}/<device_id>/<kind>"
        )
    device_id = parts[1]
    if not DEVICE_ID_RE.fullmatch(device_id):
        raise ProtocolError(
            RejectReason.BAD_DEVICE_ID,
            f"device id {device_id[:80]!r} must match [A-Za-z0-9_-]{{1,64}}",
        )
    return device_id, parts[2]


def parse_message(
    device_id: str, kind: str, body: Any, received_ms: int, limits: Limits
) -> Interpreted:
    """Turn a decoded canonical payload into domain objects, validating as it goes."""
    if kind == "telemetry":
        readings = parse_telemetry(device_id, body, received_ms, limits)
        return Interpreted(device_id, readings=readings, kind=kind)
    if kind == "hello":
        return Interpreted(device_id, hello=parse_hello(device_id, body), kind=kind)
    return Interpreted(device_id, status=parse_status(device_id, body, received_ms), kind=kind)


def parse_telemetry(
    device_id: str, body: Any, received_ms: int, limits: Limits
) -> tuple[Reading, ...]:
    items = body if isinstance(body, list) else [body]
    if not items:
        raise ProtocolError(RejectReason.BAD_SHAPE, "telemetry batch is empty")
    if len(items) > limits.max_readings_per_message:
        raise ProtocolError(
            RejectReason.BAD_SHAPE,
            f"telemetry batch has {len(items)} readings; at most "
            f"{limits.max_readings_per_message} are allowed",
        )
    readings = tuple(
        _parse_reading(device_id, item, index, received_ms, limits)
        for index, item in enumerate(items)
    )
    keys = {reading.ts_ms for reading in readings}
    if len(keys) != len(readings):
        raise ProtocolError(RejectReason.BAD_SHAPE, "telemetry batch repeats a timestamp")
    return readings


def _parse_reading(
    device_id: str, item: Any, index: int, received_ms: int, limits: Limits
) -> Reading:
    where = f"reading {index}: " if index else ""
    if not isinstance(item, dict):
        raise ProtocolError(
            RejectReason.BAD_SHAPE, f"{where}a reading must be an object, not {_kind(item)}"
        )
    # The timestamp is the deduplication key, so it is required: a server-side
    # arrival time would turn every redelivery into a new reading.
    if "ts" not in item:
        raise ProtocolError(RejectReason.BAD_TIMESTAMP, f"{where}ts is missing")
    try:
        ts_ms = parse_timestamp_ms(item["ts"])
    except ProtocolError as exc:
        raise ProtocolError(exc.reason, where + exc.detail) from None
    if ts_ms > received_ms + limits.max_future_skew_ms:
        raise ProtocolError(
            RejectReason.FUTURE_TIMESTAMP,
            f"{where}ts is {(ts_ms - received_ms) / 1000:.0f} s in the future "
            f"(allowed skew {limits.max_future_skew_ms / 1000:.0f} s)",
        )
    return Reading(
        device_id=device_id,
        ts_ms=ts_ms,
        metrics=_parse_metrics(item.get("metrics"), where, limits),
        seq=_parse_seq(item.get("seq"), where),
    )


def _parse_metrics(raw: Any, where: str, limits: Limits) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        raise ProtocolError(
            RejectReason.BAD_SHAPE, f"{where}metrics must be a non-empty object of name: number"
        )
    if len(raw) > limits.max_metrics_per_reading:
        raise ProtocolError(
            RejectReason.BAD_SHAPE,
            f"{where}{len(raw)} metrics; at most {limits.max_metrics_per_reading} are allowed",
        )
    metrics: dict[str, float] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not METRIC_NAME_RE.fullmatch(name):
            raise ProtocolError(
                RejectReason.BAD_METRIC_NAME,
                f"{where}metric name {str(name)[:80]!r} must match [A-Za-z][A-Za-z0-9_.]{{0,63}}",
            )
        metrics[name] = _parse_value(name, value, where)
    return metrics


def _parse_value(name: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(
            RejectReason.BAD_VALUE, f"{where}{name} must be a number, not {_kind(value)}"
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or abs(number) > MAX_ABS_VALUE:
        raise ProtocolError(
            RejectReason.BAD_VALUE,
            f"{where}{name} = {str(value)[:40]} is not a finite number within ±{MAX_ABS_VALUE:g}",
        )
    return number


def _parse_seq(raw: Any, where: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_SEQ:
        raise ProtocolError(
            RejectReason.BAD_SEQ, f"{where}seq must be an integer in 0..2^63-1, not {raw!r:.40}"
        )
    return raw


def parse_hello(device_id: str, body: Any) -> Hello:
    if not isinstance(body, dict):
        raise ProtocolError(RejectReason.BAD_SHAPE, f"hello must be an object, not {_kind(body)}")
    capabilities = body.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        raise ProtocolError(RejectReason.BAD_SHAPE, "hello.capabilities must be a list of strings")
    return Hello(
        device_id=device_id,
        device_type=_optional_text(body, "type"),
        firmware_version=_optional_text(body, "firmware"),
        capabilities=tuple(c[:64] for c in capabilities[:64]),
    )


def parse_status(device_id: str, body: Any, received_ms: int) -> StatusReport:
    # A bare string is what many last-will messages carry ("offline").
    state_text = body if isinstance(body, str) else None
    ts_ms = received_ms
    if isinstance(body, dict):
        state_text = body.get("state")
        if "ts" in body:
            ts_ms = min(parse_timestamp_ms(body["ts"]), received_ms)
    try:
        state = ConnectionState(str(state_text))
    except ValueError:
        raise ProtocolError(
            RejectReason.BAD_SHAPE, "status.state must be 'online', 'offline' or 'unknown'"
        ) from None
    return StatusReport(device_id=device_id, state=state, ts_ms=ts_ms)


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise ProtocolError(RejectReason.BAD_SHAPE, f"hello.{key} must be a string of ≤64 chars")
    return value


def _kind(value: Any) -> str:
    return type(value).__name__
