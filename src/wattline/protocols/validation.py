"""Validation rules every protocol shares: device ids, metric names, values, limits.

The canonical protocol and every adapter go through these helpers, so a value
that the canonical protocol rejects is rejected the same way, with the same
reason, whichever wire format carried it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeGuard

from wattline.model.messages import RejectReason
from wattline.protocols.errors import ProtocolError, preview

DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
METRIC_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")
# Beyond this magnitude a float64 no longer represents a physical energy
# reading faithfully; such values are almost always corrupt.
MAX_ABS_VALUE = 1e15
# Sequence state stores the next expected number, seq + 1, in a signed 64-bit
# column (SQLite INTEGER, PostgreSQL BIGINT); 2^63-1 itself would overflow it.
MAX_SEQ = 2**63 - 2


@dataclass(frozen=True, slots=True)
class Limits:
    max_readings_per_message: int = 1000
    max_metrics_per_reading: int = 128
    max_future_skew_ms: int = 5 * 60_000


def check_device_id(device_id: str) -> str:
    if not DEVICE_ID_RE.fullmatch(device_id):
        raise ProtocolError(
            RejectReason.BAD_DEVICE_ID,
            f"device id {device_id[:80]!r} must match [A-Za-z0-9_-]{{1,64}}",
        )
    return device_id


# Names that passed the rule. A fleet uses a few dozen names millions of times,
# and the set look-up costs a tenth of the regular expression; the bound keeps
# a stream of random names from growing it.
_GOOD_METRIC_NAMES: set[str] = set()
_GOOD_METRIC_NAMES_MAX = 10_000


def check_metric_name(name: Any, where: str = "") -> str:
    if not is_metric_name(name):
        raise ProtocolError(
            RejectReason.BAD_METRIC_NAME,
            f"{where}metric name {preview(name, 80)!r} must match [A-Za-z][A-Za-z0-9_.]{{0,63}}",
        )
    return name


def are_metric_names(names: Collection[Any]) -> bool:
    """``is_metric_name`` of each; in one set operation when all are known names."""
    return _GOOD_METRIC_NAMES.issuperset(names) or all(is_metric_name(n) for n in names)


def is_metric_name(name: Any) -> TypeGuard[str]:
    """Whether ``name`` follows the metric name rule (remembered once it did)."""
    if type(name) is str and name in _GOOD_METRIC_NAMES:
        return True
    if not isinstance(name, str) or not METRIC_NAME_RE.fullmatch(name):
        return False
    if len(_GOOD_METRIC_NAMES) < _GOOD_METRIC_NAMES_MAX:
        _GOOD_METRIC_NAMES.add(name)
    return True


def check_not_future(ts_ms: int, received_ms: int, limits: Limits, where: str = "") -> int:
    if ts_ms > received_ms + limits.max_future_skew_ms:
        raise ProtocolError(
            RejectReason.FUTURE_TIMESTAMP,
            f"{where}ts is {(ts_ms - received_ms) / 1000:.0f} s in the future "
            f"(allowed skew {limits.max_future_skew_ms / 1000:.0f} s)",
        )
    return ts_ms


def parse_metrics(raw: Any, where: str, limits: Limits) -> dict[str, float]:
    """A ``{name: number}`` object, every name and value checked."""
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
        check_metric_name(name, where)
        metrics[name] = parse_value(name, value, where)
    return metrics


def parse_value(name: str, value: Any, where: str = "") -> float:
    """A finite number within ±MAX_ABS_VALUE; booleans and strings are not numbers."""
    # The usual case first; NaN and infinities fail the comparison and go the long way.
    if type(value) is float and -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(
            RejectReason.BAD_VALUE, f"{where}{name} must be a number, not {kind_name(value)}"
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or abs(number) > MAX_ABS_VALUE:
        raise ProtocolError(
            RejectReason.BAD_VALUE,
            f"{where}{name} = {preview(value)} is not a finite number within ±{MAX_ABS_VALUE:g}",
        )
    return number


# Words that plugs and relays use for a switched state. Adapters accept them
# because the formats they speak send them; the canonical protocol does not.
_ON_WORDS = frozenset(("on", "true", "1"))
_OFF_WORDS = frozenset(("off", "false", "0"))


def parse_switch(name: str, value: Any, where: str = "") -> float:
    """A relay state as 1.0 (on) or 0.0 (off): a boolean, 0/1, or ON/OFF in any case."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int) and value in (0, 1):
        return float(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _ON_WORDS:
            return 1.0
        if word in _OFF_WORDS:
            return 0.0
    raise ProtocolError(
        RejectReason.BAD_VALUE,
        f"{where}{name} must be true/false, 0/1 or ON/OFF, not {preview(value)!r}",
    )


def parse_seq(raw: Any, where: str = "") -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_SEQ:
        raise ProtocolError(
            RejectReason.BAD_SEQ,
            f"{where}seq must be an integer in 0..2^63-2, not {preview(raw, quoted=True)}",
        )
    return raw


def kind_name(value: Any) -> str:
    return type(value).__name__
