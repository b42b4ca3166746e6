"""Device timestamps: RFC 3339 strings or integer epoch milliseconds.

The canonical protocol is strict (milliseconds, an explicit offset). Adapters
speak formats Wattline does not control, so `parse_device_timestamp_ms` also
takes epoch seconds and offset-less ISO 8601 (read as UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wattline.model.messages import RejectReason
from wattline.protocols.errors import ProtocolError, preview

# Plausibility window for device clocks. A value below the floor is almost
# always epoch *seconds* sent where milliseconds were expected.
EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
LATEST_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z


def parse_timestamp_ms(value: Any) -> int:
    """Parse a device timestamp into epoch milliseconds (UTC)."""
    if isinstance(value, bool):
        raise ProtocolError(RejectReason.BAD_TIMESTAMP, "ts must be a number or a string")
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):  # noqa: PLR0124 - NaN check
            raise ProtocolError(RejectReason.BAD_TIMESTAMP, "ts is not finite")
        ts_ms = int(value)
        _check_range(ts_ms, value)
        return ts_ms
    if isinstance(value, str):
        return _parse_rfc3339(value)
    raise ProtocolError(
        RejectReason.BAD_TIMESTAMP,
        f"ts must be epoch milliseconds or an RFC 3339 string, not {type(value).__name__}",
    )


def parse_device_timestamp_ms(value: Any) -> int:
    """Epoch seconds or milliseconds (told apart by size), or ISO 8601; no offset means UTC."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return parse_timestamp_ms(value)  # raises with the same message as the canonical protocol
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ProtocolError(
                RejectReason.BAD_TIMESTAMP, f"ts {value[:40]!r} is not an ISO 8601 timestamp"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return _in_range(int(parsed.timestamp() * 1000), value)
    if value != value or value in (float("inf"), float("-inf")):  # noqa: PLR0124 - NaN check
        raise ProtocolError(RejectReason.BAD_TIMESTAMP, "ts is not finite")
    # Inside 2000..2100 the two readings cannot be confused: every plausible
    # time in seconds is below EARLIEST_MS, every one in milliseconds above it.
    ts_ms = round(value * 1000) if value < EARLIEST_MS else int(value)
    return _in_range(ts_ms, value)


def arrival_second_ms(received_ms: int) -> int:
    """The arrival time truncated to the second, for formats that carry no time at all.

    A redelivery within the same second then maps onto the same key and is stored
    once; one arriving in another second is stored again.
    """
    return received_ms - received_ms % 1000


def _in_range(ts_ms: int, original: object) -> int:
    if not EARLIEST_MS <= ts_ms < LATEST_MS:
        raise ProtocolError(
            RejectReason.BAD_TIMESTAMP,
            f"ts {preview(original)!r} is not between 2000 and 2100 "
            "as epoch seconds, milliseconds or ISO 8601",
        )
    return ts_ms


def _parse_rfc3339(text: str) -> int:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ProtocolError(
            RejectReason.BAD_TIMESTAMP, f"ts {text[:40]!r} is not an RFC 3339 timestamp"
        ) from None
    if parsed.tzinfo is None:
        raise ProtocolError(
            RejectReason.BAD_TIMESTAMP, f"ts {text[:40]!r} has no UTC offset (add Z or +00:00)"
        )
    ts_ms = int(parsed.timestamp() * 1000)
    _check_range(ts_ms, text)
    return ts_ms


def _check_range(ts_ms: int, original: object) -> None:
    if ts_ms < EARLIEST_MS:
        hint = " (epoch seconds? ts is in milliseconds)" if ts_ms > EARLIEST_MS // 1000 else ""
        raise ProtocolError(
            RejectReason.BAD_TIMESTAMP,
            f"ts {preview(original, quoted=True)} is before the year 2000{hint}",
        )
    if ts_ms >= LATEST_MS:
        raise ProtocolError(
            RejectReason.BAD_TIMESTAMP,
            f"ts {preview(original, quoted=True)} is after the year 2100",
        )
