"""Which channel hears of which alert change, and when. Pure.

- severity: a channel takes alerts at least as urgent as its ``min_severity``;
- rules: a channel may take only some rules' alerts;
- quiet hours in the recipient's time zone hold back everything but critical;
  an alert still open afterwards goes out at its next repeat;
- repeat interval: an open, unacknowledged alert is sent again after it;
- retries back off exponentially, up to a last attempt, then the delivery is dead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from wattline.model.alerts import Alert, AlertChange, ChangeKind, Severity
from wattline.model.notifications import Routing

_SENT_CHANGES = frozenset({ChangeKind.RAISED, ChangeKind.CLEARED})


def parse_clock(text: str) -> clock_time:
    """ "22:00" -> 22:00; ValueError for anything else."""
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{text!r} is not a time of day like '22:00'")
    return clock_time(int(hours), int(minutes))


def in_quiet_hours(routing: Routing, now_ms: int) -> bool:
    if routing.quiet_start is None or routing.quiet_end is None:
        return False
    local = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(ZoneInfo(routing.timezone))
    now, start, end = local.time(), parse_clock(routing.quiet_start), parse_clock(routing.quiet_end)
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # across midnight


def matches(routing: Routing, rule_id: str, severity: Severity) -> bool:
    if severity.rank > routing.min_severity.rank:
        return False
    return not routing.rule_ids or rule_id in routing.rule_ids


def wants(routing: Routing, change: AlertChange, now_ms: int) -> bool:
    """Should this change go to the channel now?"""
    if change.change not in _SENT_CHANGES:
        return False
    if change.change is ChangeKind.CLEARED and not routing.send_cleared:
        return False
    if not matches(routing, change.rule_id, change.severity):
        return False
    return change.severity is Severity.CRITICAL or not in_quiet_hours(routing, now_ms)


def repeat_due(routing: Routing, alert: Alert, last_notified_ms: int | None, now_ms: int) -> bool:
    """Should the open alert be sent again? Never once acknowledged."""
    if routing.repeat_interval_s <= 0 or not alert.open or alert.acknowledged:
        return False
    if not matches(routing, alert.rule_id, alert.severity):
        return False
    if alert.severity is not Severity.CRITICAL and in_quiet_hours(routing, now_ms):
        return False
    since = last_notified_ms if last_notified_ms is not None else alert.first_seen_ms
    return now_ms - since >= routing.repeat_interval_s * 1000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    # 5 s, 10 s, 20 s, ... capped at an hour; the 8th failure makes the delivery dead
    first_delay_s: float = 5.0
    factor: float = 2.0
    max_delay_s: float = 3600.0
    max_attempts: int = 8

    def delay_ms(self, attempts_made: int) -> int | None:
        """The wait before the next attempt after ``attempts_made`` failures; None: give up."""
        if attempts_made >= self.max_attempts:
            return None
        delay = self.first_delay_s * self.factor ** (attempts_made - 1)
        return int(min(delay, self.max_delay_s) * 1000)
