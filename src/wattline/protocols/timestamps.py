"""Device timestamps: RFC 3339 strings or integer epoch milliseconds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wattline.model.messages import RejectReason
from wattline.protocols.errors import ProtocolError

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
            RejectReason.BAD_TIMESTAMP, f"ts {original!r} is before the year 2000{hint}"
        )
    if ts_ms >= LATEST_MS:
        raise ProtocolError(RejectReason.BAD_TIMESTAMP, f"ts {original!r} is after the year 2100")
