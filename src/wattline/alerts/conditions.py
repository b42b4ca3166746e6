"""What each rule kind says about one device, one observation at a time. Pure.

A condition reads an observation (a reading, a status report, a quarantined
message, or the clock) and the memory it keeps per (rule, device), and answers
with a ``Signal``: the condition holds (BREACH), does not (OK), an instant event
happened (EVENT: a counter reset, a gap), or the observation says nothing about
it (None). ``lifecycle.py`` turns signals into raised and cleared alerts.

Hysteresis lives here: once the alert is active, the condition holds until the
value is past the limit by the hysteresis band, so noise inside the band never
clears and re-raises it.
"""

# Every kind takes the same observation; most read only part of it.
# ruff: noqa: ARG002

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from wattline.model.alerts import Rule, RuleKind
from wattline.model.messages import ConnectionState

MINUTE_MS = 60_000
# A sequence number this far below the last is a restarted device, not a late
# reading: redelivery after a reconnect replays at most a broker queue's worth.
_LATE_SEQS = 1000


class Signal(StrEnum):
    BREACH = "breach"
    OK = "ok"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class RuleState:
    """A (rule, device) pair's memory: persisted, so a restart continues where it stopped."""

    active: bool = False
    # when the condition started holding, while it has not held for the rule's duration
    pending_since_ms: int | None = None
    # the last value of the rule's metric, and when (rate, counters, budget)
    last_value: float | None = None
    last_ts_ms: int | None = None
    # when the device last sent anything (absence)
    last_seen_ms: int | None = None
    # stuck: the value that has not changed, since when
    ref_value: float | None = None
    ref_since_ms: int | None = None
    last_seq: int | None = None
    # event kinds: the last event, so the alert clears after a quiet spell
    last_event_ms: int | None = None
    # quarantine spike: receive times of recent quarantined messages
    events_ms: tuple[int, ...] = ()
    # energy budget: the local day and the energy counted in it
    day: str | None = None
    day_used_wh: float = 0.0
    # what the last signal was about, for the alert's message
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def differs(self, other: RuleState, fields: tuple[str, ...]) -> bool:
        """True when any of ``fields`` differs (stops at the first that does)."""
        return any(getattr(self, name) != getattr(other, name) for name in fields)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleState:
        known = {k: v for k, v in data.items() if k in cls.__slots__}
        if "events_ms" in known:
            known["events_ms"] = tuple(known["events_ms"])
        return cls(**known)


Outcome = tuple[RuleState, Signal | None]
# what threshold, range and rate rules must keep: their last value is only for messages
# (a restart loses one rate sample at most)
_ALERT_STATE: tuple[str, ...] = ("active", "pending_since_ms")


class Condition(Protocol):
    # how long the condition must hold before the alert is raised
    duration_ms: int
    # event kinds: how long without a new event before the alert clears; 0 for the others
    clear_after_ms: int
    # the fields a restart must not lose: a change of any is saved (the rest ride along)
    durable: tuple[str, ...]

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome: ...

    def on_status(self, state: RuleState, online: ConnectionState, ts_ms: int) -> Outcome: ...

    def on_quarantine(self, state: RuleState, ts_ms: int) -> Outcome: ...

    def on_tick(self, state: RuleState, now_ms: int) -> Outcome: ...


def _fmt(value: float) -> str:
    return f"{value:.6g}"


class _Base:
    duration_ms = 0
    clear_after_ms = 0
    # state a restart must not lose; the message (detail) is not worth a write
    durable: tuple[str, ...] = tuple(n for n in RuleState.__slots__ if n != "detail")

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome:
        return state, None

    def on_status(self, state: RuleState, online: ConnectionState, ts_ms: int) -> Outcome:
        return state, None

    def on_quarantine(self, state: RuleState, ts_ms: int) -> Outcome:
        return state, None

    def on_tick(self, state: RuleState, now_ms: int) -> Outcome:
        return state, None


class Threshold(_Base):
    durable = _ALERT_STATE

    def __init__(
        self, metric: str, op: str, limit: float, hysteresis: float, duration_s: float
    ) -> None:
        self.metric, self.below, self.limit, self.hysteresis = (
            metric,
            op == "below",
            limit,
            hysteresis,
        )
        self.duration_ms = int(duration_s * 1000)

    def breaching(self, value: float, active: bool) -> bool:
        if self.below:
            return value < self.limit + (self.hysteresis if active else 0.0)
        return value > self.limit - (self.hysteresis if active else 0.0)

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome:
        if value is None:
            return state, None
        breaching = self.breaching(value, state.active)
        if not breaching and not state.active and state.pending_since_ms is None:
            return state, Signal.OK  # the steady state: nothing to remember
        word = "below" if self.below else "above"
        detail = f"{self.metric} {_fmt(value)} {word} {_fmt(self.limit)}"
        signal = Signal.BREACH if breaching else Signal.OK
        return replace(state, last_value=value, last_ts_ms=ts_ms, detail=detail), signal


class Range(_Base):
    durable = _ALERT_STATE

    def __init__(
        self, metric: str, low: float, high: float, hysteresis: float, duration_s: float
    ) -> None:
        self.metric, self.low, self.high, self.hysteresis = metric, low, high, hysteresis
        self.duration_ms = int(duration_s * 1000)

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome:
        if value is None:
            return state, None
        band = self.hysteresis if state.active else 0.0
        outside = value < self.low + band or value > self.high - band
        if not outside and not state.active and state.pending_since_ms is None:
            return state, Signal.OK
        detail = f"{self.metric} {_fmt(value)} outside [{_fmt(self.low)}, {_fmt(self.high)}]"
        signal = Signal.BREACH if outside else Signal.OK
        return replace(state, last_value=value, last_ts_ms=ts_ms, detail=detail), signal


class Rate(_Base):
    durable = _ALERT_STATE

    def __init__(
        self, metric: str, max_per_min: float, hysteresis: float, duration_s: float
    ) -> None:
        self.metric, self.max_per_min, self.hysteresis = metric, max_per_min, hysteresis
        self.duration_ms = int(duration_s * 1000)

    @staticmethod
    def per_min(last_value: float, last_ts_ms: int, value: float, ts_ms: int) -> float:
        """The change per minute from one sample to a newer one (``ts_ms > last_ts_ms``)."""
        return abs(value - last_value) * MINUTE_MS / (ts_ms - last_ts_ms)

    def exceeds(self, per_min: float, active: bool) -> bool:
        return per_min > self.max_per_min - (self.hysteresis if active else 0.0)

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome:
        if value is None:
            return state, None
        after = replace(state, last_value=value, last_ts_ms=ts_ms)
        if state.last_value is None or state.last_ts_ms is None or ts_ms <= state.last_ts_ms:
            # a first reading, or one older than the last: no rate to speak of
            return (after if state.last_ts_ms is None or ts_ms > state.last_ts_ms else state), None
        per_min = self.per_min(state.last_value, state.last_ts_ms, value, ts_ms)
        if not self.exceeds(per_min, state.active):
            return after, Signal.OK
        detail = f"{self.metric} changing {_fmt(per_min)}/min (limit {_fmt(self.max_per_min)})"
        return replace(after, detail=detail), Signal.BREACH


class Stuck(_Base):
    def __init__(self, metric: str, minutes: float, tolerance: float) -> None:
        self.metric, self.tolerance = metric, tolerance
        self.stuck_ms = int(minutes * MINUTE_MS)

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome:
        if value is None:
            return state, None
        if (
            state.ref_value is None
            or state.ref_since_ms is None
            or abs(value - state.ref_value) > self.tolerance
        ):
            return replace(state, ref_value=value, ref_since_ms=ts_ms), Signal.OK
        minutes = (ts_ms - state.ref_since_ms) / MINUTE_MS
        detail = f"{self.metric} stuck at {_fmt(value)} for {minutes:.0f} min"
        held = ts_ms - state.ref_since_ms >= self.stuck_ms
        return replace(state, detail=detail), Signal.BREACH if held else Signal.OK


class Absence(_Base):
    """No telemetry for N minutes; any reading clears it. The clock starts, for a
    device never seen, at the first tick (the rule's start)."""

    def __init__(self, minutes: float) -> None:
        self.absent_ms = int(minutes * MINUTE_MS)

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome:
        seen = max(ts_ms, state.last_seen_ms or ts_ms)
        return replace(state, last_seen_ms=seen), Signal.OK

    def on_tick(self, state: RuleState, now_ms: int) -> Outcome:
        if state.last_seen_ms is None:
            return replace(state, last_seen_ms=now_ms), None
        quiet_ms = now_ms - state.last_seen_ms
        if quiet_ms < self.absent_ms:
            return state, None
        detail = f"no telemetry for {quiet_ms / MINUTE_MS:.0f} min"
        return replace(state, detail=detail), Signal.BREACH


class Offline(_Base):
    """The device reported offline (a status message or its MQTT last will)."""

    def __init__(self, duration_s: float) -> None:
        self.duration_ms = int(duration_s * 1000)

    def on_status(self, state: RuleState, online: ConnectionState, ts_ms: int) -> Outcome:
        if online is ConnectionState.OFFLINE:
            return replace(state, detail="device reported offline"), Signal.BREACH
        if online is ConnectionState.ONLINE:
            return state, Signal.OK
        return state, None

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome:
        return state, Signal.OK


class _EventKind(_Base):
    def __init__(self, clear_after_s: float) -> None:
        self.clear_after_ms = int(clear_after_s * 1000)


class SeqGap(_EventKind):
    def __init__(self, min_missing: int, clear_after_s: float) -> None:
        super().__init__(clear_after_s)
        self.min_missing = min_missing

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome:
        if seq is None:
            return state, None
        last = state.last_seq
        if last is None or seq < last - _LATE_SEQS:
            return replace(state, last_seq=seq), None  # the first, or the device restarted
        if seq <= last:
            return state, None  # a duplicate or a late (redelivered) reading
        missing = seq - last - 1
        after = replace(state, last_seq=seq)
        if missing < self.min_missing:
            return after, None
        return replace(
            after, detail=f"{missing} readings lost (seq {last + 1}..{seq - 1})"
        ), Signal.EVENT


class CounterReset(_EventKind):
    def __init__(self, metric: str, tolerance: float, clear_after_s: float) -> None:
        super().__init__(clear_after_s)
        self.metric, self.tolerance = metric, tolerance

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome:
        if value is None or (state.last_ts_ms is not None and ts_ms <= state.last_ts_ms):
            return state, None
        previous = state.last_value
        after = replace(state, last_value=value, last_ts_ms=ts_ms)
        if previous is None or value >= previous - self.tolerance:
            return after, None
        detail = f"{self.metric} went back from {_fmt(previous)} to {_fmt(value)}"
        return replace(after, detail=detail), Signal.EVENT


class EnergyJump(_EventKind):
    def __init__(self, metric: str, max_power_w: float, clear_after_s: float) -> None:
        super().__init__(clear_after_s)
        self.metric, self.max_power_w = metric, max_power_w

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome:
        if value is None or (state.last_ts_ms is not None and ts_ms <= state.last_ts_ms):
            return state, None
        previous, previous_ms = state.last_value, state.last_ts_ms
        after = replace(state, last_value=value, last_ts_ms=ts_ms)
        if previous is None or previous_ms is None or value <= previous:
            return after, None
        implied_w = (value - previous) * 3_600_000 / (ts_ms - previous_ms)
        if implied_w <= self.max_power_w:
            return after, None
        detail = (
            f"{self.metric} rose {_fmt(value - previous)} Wh in "
            f"{(ts_ms - previous_ms) / 1000:.0f} s ({_fmt(implied_w)} W, "
            f"limit {_fmt(self.max_power_w)} W)"
        )
        return replace(after, detail=detail), Signal.EVENT


class QuarantineSpike(_Base):
    def __init__(self, count: int, window_s: float) -> None:
        self.count, self.window_ms = count, int(window_s * 1000)

    def _judge(self, state: RuleState, now_ms: int) -> Outcome:
        recent = tuple(t for t in state.events_ms if t > now_ms - self.window_ms)
        detail = f"{len(recent)} messages quarantined in {self.window_ms // 1000} s"
        signal = Signal.BREACH if len(recent) >= self.count else Signal.OK
        return replace(state, events_ms=recent, detail=detail), signal

    def on_quarantine(self, state: RuleState, ts_ms: int) -> Outcome:
        # keep no more than needed to decide: the newest `count` times
        kept = (*state.events_ms, ts_ms)[-self.count :]
        return self._judge(replace(state, events_ms=kept), ts_ms)

    def on_tick(self, state: RuleState, now_ms: int) -> Outcome:
        if not state.events_ms and not state.active:
            return state, None
        return self._judge(state, now_ms)


class EnergyBudget(_Base):
    """Energy counted from a cumulative counter (Wh) per local day, against a kWh limit.

    Only increases count, so a counter reset costs nothing; a new local day starts at 0.
    """

    def __init__(self, metric: str, limit_kwh: float, zone: ZoneInfo) -> None:
        self.metric, self.limit_kwh, self.zone = metric, limit_kwh, zone

    def _day(self, ts_ms: int) -> str:
        return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(self.zone).date().isoformat()

    def on_reading(
        self, state: RuleState, ts_ms: int, value: float | None, seq: int | None
    ) -> Outcome:
        if value is None or (state.last_ts_ms is not None and ts_ms <= state.last_ts_ms):
            return state, None
        day = self._day(ts_ms)
        used = state.day_used_wh if day == state.day else 0.0
        if state.last_value is not None and value > state.last_value:
            used += value - state.last_value
        kwh = used / 1000
        detail = f"{kwh:.3f} kWh on {day} (budget {_fmt(self.limit_kwh)} kWh)"
        after = replace(
            state, last_value=value, last_ts_ms=ts_ms, day=day, day_used_wh=used, detail=detail
        )
        return after, Signal.BREACH if kwh > self.limit_kwh else Signal.OK

    def on_tick(self, state: RuleState, now_ms: int) -> Outcome:
        if state.active and state.day is not None and self._day(now_ms) != state.day:
            return replace(state, day=self._day(now_ms), day_used_wh=0.0), Signal.OK
        return state, None


def _f(params: Mapping[str, Any], name: str, default: float | None = None) -> float:
    value = params.get(name, default)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"params.{name} must be a number")
    if not math.isfinite(value):
        raise ValueError(f"params.{name} must be finite")
    return float(value)


def condition_of(rule: Rule) -> Condition:  # noqa: C901, PLR0911, PLR0912 - a case per kind
    """The rule's condition; ValueError naming the parameter when the rule is malformed."""
    p, metric = rule.params, rule.metric or ""
    if rule.kind in _NEEDS_METRIC and not metric:
        raise ValueError(f"a {rule.kind.value} rule needs a metric")
    clear_after_s = _f(p, "clear_after_s", 3600.0)
    match rule.kind:
        case RuleKind.THRESHOLD:
            op = p.get("op")
            if op not in {"above", "below"}:
                raise ValueError("params.op must be 'above' or 'below'")
            return Threshold(
                metric, op, _f(p, "limit"), _f(p, "hysteresis", 0.0), _f(p, "duration_s", 0.0)
            )
        case RuleKind.RANGE:
            return Range(
                metric,
                _f(p, "low"),
                _f(p, "high"),
                _f(p, "hysteresis", 0.0),
                _f(p, "duration_s", 0.0),
            )
        case RuleKind.RATE:
            return Rate(
                metric, _f(p, "max_per_min"), _f(p, "hysteresis", 0.0), _f(p, "duration_s", 0.0)
            )
        case RuleKind.STUCK:
            return Stuck(metric, _f(p, "minutes"), _f(p, "tolerance", 0.0))
        case RuleKind.ABSENCE:
            return Absence(_f(p, "minutes"))
        case RuleKind.OFFLINE:
            return Offline(_f(p, "duration_s", 0.0))
        case RuleKind.SEQ_GAP:
            return SeqGap(int(_f(p, "min_missing", 1.0)), clear_after_s)
        case RuleKind.COUNTER_RESET:
            return CounterReset(metric, _f(p, "tolerance", 0.0), clear_after_s)
        case RuleKind.ENERGY_JUMP:
            return EnergyJump(metric, _f(p, "max_power_w"), clear_after_s)
        case RuleKind.QUARANTINE_SPIKE:
            return QuarantineSpike(int(_f(p, "count")), _f(p, "window_s"))
        case RuleKind.ENERGY_BUDGET:
            return EnergyBudget(metric, _f(p, "limit_kwh"), ZoneInfo(str(p.get("timezone", "UTC"))))


_NEEDS_METRIC = frozenset(
    {
        RuleKind.THRESHOLD,
        RuleKind.RANGE,
        RuleKind.RATE,
        RuleKind.STUCK,
        RuleKind.COUNTER_RESET,
        RuleKind.ENERGY_JUMP,
        RuleKind.ENERGY_BUDGET,
    }
)
