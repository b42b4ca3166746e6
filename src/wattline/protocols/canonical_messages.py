"""The canonical Wattline protocol: ``{prefix}/{device_id}/telemetry|hello|status``,
``.../command/ack`` and ``.../ota/status``.

Telemetry payload: ``{"seq": int, "ts": epoch-ms | RFC 3339, "metrics": {name: number}}``
or a list of such readings (a batch upload). See docs/protocols.md.

The messages' shapes and rules live here; ``adapters/canonical.py`` routes
topics to them as one protocol adapter among the others.
"""

from __future__ import annotations

from typing import Any, TypeVar

from wattline.model.messages import (
    CommandAck,
    CommandResult,
    ConnectionState,
    Hello,
    Interpreted,
    OtaState,
    OtaStatus,
    Reading,
    RejectReason,
    StatusReport,
)
from wattline.protocols.errors import ProtocolError
from wattline.protocols.timestamps import parse_timestamp_ms
from wattline.protocols.topics import levels_under
from wattline.protocols.validation import (
    Limits,
    check_not_future,
    kind_name,
    parse_metrics,
    parse_seq,
    parse_value,
)

__all__ = [  # Limits is re-exported: callers have always imported it from here
    "DOWNLINKS",
    "KINDS",
    "Limits",
    "match_topic",
    "parse_command_ack",
    "parse_hello",
    "parse_message",
    "parse_ota_status",
    "parse_status",
    "parse_telemetry",
]

# Topic levels after {prefix}/{device_id}/ -> the kind of message. `command`
# itself flows platform -> device and is never ingested.
KINDS: dict[tuple[str, ...], str] = {
    ("telemetry",): "telemetry",
    ("hello",): "hello",
    ("status",): "status",
    ("command", "ack"): "command_ack",
    ("ota", "status"): "ota_status",
}
# Topics under the same prefix that ingest leaves alone: the platform -> device
# command and configuration, and the device's configuration report, which the
# command dispatcher reads itself. The collector subscribes to the whole prefix
# (to quarantine what no rule claims), so it also hears these: they are
# recorded in the raw archive and otherwise left alone.
DOWNLINKS: frozenset[tuple[str, ...]] = frozenset(
    {("command",), ("config",), ("config", "reported"), ("ota",)}
)
# Free text a device sends back (ack details, OTA errors) is kept, but bounded.
MAX_DETAIL_CHARS = 256
_Choice = TypeVar("_Choice", CommandResult, OtaState)


def match_topic(topic: str, prefix: str) -> tuple[str, str] | None:
    """(device_id, kind) for a canonical topic, or None; the device id is not yet checked."""
    levels = levels_under(topic, prefix)
    if levels is None or len(levels) < 2:
        return None
    kind = KINDS.get(tuple(levels[1:]))
    return None if kind is None else (levels[0], kind)


def parse_message(
    device_id: str, kind: str, body: Any, received_ms: int, limits: Limits
) -> Interpreted:
    """Turn a decoded canonical payload into domain objects, validating as it goes."""
    if kind == "telemetry":
        readings = parse_telemetry(device_id, body, received_ms, limits)
        return Interpreted(device_id, readings=readings, kind=kind)
    if kind == "hello":
        return Interpreted(device_id, hello=parse_hello(device_id, body), kind=kind)
    if kind == "command_ack":
        ack = parse_command_ack(device_id, body, received_ms)
        return Interpreted(device_id, command_ack=ack, kind=kind)
    if kind == "ota_status":
        ota = parse_ota_status(device_id, body, received_ms)
        return Interpreted(device_id, ota_status=ota, kind=kind)
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
            RejectReason.BAD_SHAPE, f"{where}a reading must be an object, not {kind_name(item)}"
        )
    # The timestamp is the deduplication key, so it is required: a server-side
    # arrival time would turn every redelivery into a new reading.
    if "ts" not in item:
        raise ProtocolError(RejectReason.BAD_TIMESTAMP, f"{where}ts is missing")
    try:
        ts_ms = parse_timestamp_ms(item["ts"])
    except ProtocolError as exc:
        raise ProtocolError(exc.reason, where + exc.detail) from None
    check_not_future(ts_ms, received_ms, limits, where)
    return Reading(
        device_id=device_id,
        ts_ms=ts_ms,
        metrics=parse_metrics(item.get("metrics"), where, limits),
        seq=parse_seq(item.get("seq"), where),
    )


def parse_hello(device_id: str, body: Any) -> Hello:
    if not isinstance(body, dict):
        raise ProtocolError(
            RejectReason.BAD_SHAPE, f"hello must be an object, not {kind_name(body)}"
        )
    capabilities = body.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(
        isinstance(c, str) and storable_text(c) for c in capabilities
    ):
        raise ProtocolError(
            RejectReason.BAD_SHAPE, "hello.capabilities must be a list of printable strings"
        )
    # The IoT-meter seed's devices name them device_type and fw_version.
    type_key = "type" if "type" in body else "device_type"
    firmware_key = "firmware" if "firmware" in body else "fw_version"
    return Hello(
        device_id=device_id,
        device_type=_optional_text(body, type_key, "hello"),
        firmware_version=_optional_text(body, firmware_key, "hello"),
        capabilities=tuple(c[:64] for c in capabilities[:64]),
    )


def parse_status(device_id: str, body: Any, received_ms: int) -> StatusReport:
    # A bare string is what many last-will messages carry ("offline").
    state_text = body if isinstance(body, str) else None
    ts_ms = received_ms
    if isinstance(body, dict):
        state_text = body.get("state")
        ts_ms = _optional_ts(body, received_ms)
    try:
        state = ConnectionState(str(state_text))
    except ValueError:
        raise ProtocolError(
            RejectReason.BAD_SHAPE, "status.state must be 'online', 'offline' or 'unknown'"
        ) from None
    return StatusReport(device_id=device_id, state=state, ts_ms=ts_ms)


def parse_command_ack(device_id: str, body: Any, received_ms: int) -> CommandAck:
    """``{"command_id", "status", "detail"?, "ts"?}`` on ``{prefix}/{id}/command/ack``."""
    if not isinstance(body, dict):
        raise ProtocolError(
            RejectReason.BAD_SHAPE, f"command ack must be an object, not {kind_name(body)}"
        )
    command_id = _optional_text(body, "command_id", "command ack", max_chars=128)
    if not command_id:
        raise ProtocolError(RejectReason.BAD_SHAPE, "command ack needs a command_id")
    return CommandAck(
        device_id=device_id,
        command_id=command_id,
        status=_choice(CommandResult, body.get("status"), "command ack status"),
        detail=_optional_text(body, "detail", "command ack", max_chars=MAX_DETAIL_CHARS),
        ts_ms=_optional_ts(body, received_ms),
    )


def parse_ota_status(device_id: str, body: Any, received_ms: int) -> OtaStatus:
    """``{"job_id"?, "version"?, "state", "progress_pct"?, "detail"?, "ts"?}``."""
    if not isinstance(body, dict):
        raise ProtocolError(
            RejectReason.BAD_SHAPE, f"OTA status must be an object, not {kind_name(body)}"
        )
    job_id = _optional_text(body, "job_id", "OTA status", max_chars=128)
    version = _optional_text(body, "version", "OTA status")
    if job_id is None and version is None:
        raise ProtocolError(RejectReason.BAD_SHAPE, "OTA status needs a job_id or a version")
    progress_pct = None
    if body.get("progress_pct") is not None:
        progress_pct = parse_value("progress_pct", body["progress_pct"])
        if not 0 <= progress_pct <= 100:
            raise ProtocolError(
                RejectReason.BAD_VALUE, f"progress_pct {progress_pct:g} is not within 0..100"
            )
    return OtaStatus(
        device_id=device_id,
        job_id=job_id,
        version=version,
        state=_choice(OtaState, body.get("state"), "OTA status state"),
        progress_pct=progress_pct,
        detail=_optional_text(body, "detail", "OTA status", max_chars=MAX_DETAIL_CHARS),
        ts_ms=_optional_ts(body, received_ms),
    )


def _choice(enum: type[_Choice], value: Any, what: str) -> _Choice:
    members = {member.value: member for member in enum}
    if isinstance(value, str) and value in members:
        return members[value]
    allowed = ", ".join(repr(name) for name in members)
    raise ProtocolError(RejectReason.BAD_SHAPE, f"{what} must be one of {allowed}")


def _optional_ts(body: dict[str, Any], received_ms: int) -> int:
    # Optional on reports that are not stored as samples; a device clock ahead
    # of ours is clamped rather than rejected, since the report is still true.
    if "ts" not in body:
        return received_ms
    return min(parse_timestamp_ms(body["ts"]), received_ms)


def _optional_text(body: dict[str, Any], key: str, what: str, max_chars: int = 64) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_chars or not storable_text(value):
        raise ProtocolError(
            RejectReason.BAD_SHAPE,
            f"{what}.{key} must be printable text of ≤{max_chars} chars",
        )
    return value


def storable_text(text: str) -> bool:
    """Printable and encodable as UTF-8: PostgreSQL refuses NUL, and no driver sends
    a lone surrogate (which JSON's \\ud800 escapes decode to)."""
    if not text.isprintable():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
