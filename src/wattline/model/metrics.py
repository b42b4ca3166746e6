"""What a metric's values mean: which metrics are switches (on/off), not quantities.

Every value is stored as a float: a switch as 1.0 (on) or 0.0 (off), so that
rollups stay plain arithmetic (a bucket's average of ``relay_state`` is the
share of readings it was on). Answers show a switch's single values (a raw
point, the latest value, a bucket's min, max, first and last) as ``true`` or
``false``, as the devices and the smart-plug seed's apps do.
"""

from __future__ import annotations

# The switch metrics adapters produce (protocols.validation.parse_switch).
BOOLEAN_METRICS = frozenset({"relay_state"})
# A bucket's statistics that are one of its values, so a switch's are shown as booleans;
# avg, sum and count are counts and shares, and stay numbers.
VALUE_STATISTICS = frozenset({"min", "max", "first", "last"})


def is_boolean(metric: str) -> bool:
    return metric in BOOLEAN_METRICS


def shown(metric: str, value: float) -> float | bool:
    """A stored value as answers show it: a switch as a boolean, anything else unchanged."""
    if metric in BOOLEAN_METRICS:
        return value != 0.0
    return value
