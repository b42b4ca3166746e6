"""Query parameters: times and intervals. Pure; raises ValueError with a precise message."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_INTERVAL_RE = re.compile(r"(\d{1,6})(s|m|h|d|w)")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
MIN_INTERVAL_MS = 1_000


def parse_interval_ms(text: str) -> int:
    """``15m`` -> 900000. Units: s, m, h, d, w."""
    match = _INTERVAL_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(
            f"interval {text!r} must be a whole number followed by s, m, h, d or w (e.g. 15m)"
        )
    interval_ms = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if interval_ms < MIN_INTERVAL_MS:
        raise ValueError(f"interval {text!r} must be at least 1s")
    return interval_ms


def parse_time_ms(text: str, name: str) -> int:
    """An RFC 3339 / ISO 8601 timestamp (UTC if no offset) or integer epoch milliseconds."""
    stripped = text.strip()
    if re.fullmatch(r"-?\d{1,16}", stripped):
        return int(stripped)
    try:
        parsed = datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(
            f"{name}={text!r} is neither an ISO 8601 timestamp nor epoch milliseconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def iso_ms(ts_ms: int) -> str:
    """Epoch milliseconds -> ``2026-11-25T08:00:00.000Z``."""
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


def parse_fields(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None
    return [name.strip() for name in text.split(",") if name.strip()]
