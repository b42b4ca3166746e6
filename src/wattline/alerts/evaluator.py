"""The alert evaluator: committed batches and the clock through every enabled rule.

Ingest hands each ``Committed`` to ``on_committed`` on its committing thread;
that only puts the event on a bounded queue (a full queue drops the batch and
counts it, never stalls ingest). The evaluator's own thread takes events off
the queue, runs them through the rules that apply to each device, and writes
raised and cleared alerts. Absence, pending durations and quiet event alerts
are checked on a timer.

One evaluator leads across every process sharing the database (the "alerts"
lease): the others keep their lease attempts going and drop their events.
State per (rule, device) is saved with every raise and clear in the same
transaction, at once when a pending spell starts, and otherwise every
``persist_interval_s``: a restart neither re-fires an open alert nor forgets
a pending duration.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from wattline.alerts import lifecycle
from wattline.alerts.conditions import (
    Condition,
    Outcome,
    Range,
    Rate,
    RuleState,
    Signal,
    Threshold,
    condition_of,
)
from wattline.alerts.lifecycle import Transition
from wattline.model.alerts import AlertChange, ChangeKind, Rule, RuleKind
from wattline.model.events import Committed
from wattline.model.messages import Reading
from wattline.storage.base import StoreUnavailableError
from wattline.storage.sql.alerts import SavedState, SqlAlerts
from wattline.storage.sql.leases import SqlLeases, holder_name

log = logging.getLogger("wattline.alerts")

LEASE_NAME = "alerts"
# Kinds that read no metric: they see every reading (absence, offline, gaps) or none.
_METRICLESS = frozenset(
    {RuleKind.ABSENCE, RuleKind.OFFLINE, RuleKind.SEQ_GAP, RuleKind.QUARANTINE_SPIKE}
)

OnAlertChanged = Callable[[AlertChange], None]
# The state of a (rule, device) pair that has nothing to remember; shared, as it is frozen.
_RESTING = RuleState()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    condition: Condition


_BANDED = frozenset({RuleKind.THRESHOLD, RuleKind.RANGE})


def _stirred(state: RuleState) -> bool:
    return state.active or state.pending_since_ms is not None


@dataclass(frozen=True, slots=True)
class _DeviceRules:
    """A device's rules, threshold and range ones grouped by metric with the band
    [low, high] inside which each of them, at rest, stays at rest: a reading in the
    band skips the whole group (100 tenant-wide thresholds cost one comparison)."""

    banded: dict[str, tuple[Sequence[_Compiled], float, float]]
    # rate rules with their condition, evaluated through the evaluator's samples
    rates: Sequence[tuple[_Compiled, Rate]]
    others: Sequence[_Compiled]

    @classmethod
    def of(cls, rules: Sequence[_Compiled]) -> _DeviceRules:
        groups: dict[str, list[_Compiled]] = {}
        rates: list[tuple[_Compiled, Rate]] = []
        others: list[_Compiled] = []
        for compiled in rules:
            if compiled.rule.kind in _BANDED and compiled.rule.metric:
                groups.setdefault(compiled.rule.metric, []).append(compiled)
            elif isinstance(compiled.condition, Rate) and compiled.rule.metric:
                rates.append((compiled, compiled.condition))
            else:
                others.append(compiled)
        banded: dict[str, tuple[Sequence[_Compiled], float, float]] = {}
        for metric, group in groups.items():
            low, high = -math.inf, math.inf
            for compiled in group:
                condition = compiled.condition
                if isinstance(condition, Threshold):
                    if condition.below:
                        low = max(low, condition.limit)
                    else:
                        high = min(high, condition.limit)
                elif isinstance(condition, Range):
                    low, high = max(low, condition.low), min(high, condition.high)
            banded[metric] = (group, low, high)
        return cls(banded, rates, others)


@dataclass(frozen=True, slots=True)
class _Scope:
    tenant_id: str
    device_type: str | None
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EvaluatorTiming:
    # how often the clock is checked (absence, durations) and the lease renewed
    tick_s: float = 5.0
    # a lease this long survives a few missed renewals
    lease_ttl_s: float = 20.0
    # unhurried state (last values, counters) is saved this often
    persist_interval_s: float = 2.0
    # device registry facts (tenant, type, tags) are re-read this often
    scope_ttl_s: float = 30.0
    # batches waiting for the evaluator; beyond, batches are dropped and counted
    queue_batches: int = 10_000
    # a changed rule is seen within this long: rules change rarely, batches arrive often
    rules_ttl_s: float = 1.0


class Evaluator:
    def __init__(
        self,
        store: SqlAlerts,
        *,
        on_change: OnAlertChanged | None = None,
        leases: SqlLeases | None = None,
        clock_ms: Callable[[], int] = _now_ms,
        timing: EvaluatorTiming | None = None,
    ) -> None:
        self._store = store
        self._on_change = on_change
        self._leases = leases
        self._clock_ms = clock_ms
        self._timing = timing or EvaluatorTiming()
        self._holder = holder_name()
        self._queue: queue.Queue[Committed] = queue.Queue(self._timing.queue_batches)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.leading = False
        self.dropped_batches = 0
        self.evaluated_readings = 0
        self.evaluated_batches = 0
        # seconds spent in handle(): the cost of the rules, for /metrics
        self.evaluation_seconds = 0.0
        self._stamp: tuple[int, int] | None = None
        self._stamp_read_s = 0.0
        self._by_tenant: dict[str, list[_Compiled]] = {}
        self._rules_by_id: dict[str, _Compiled] = {}
        self._scopes: dict[str, _Scope] = {}
        self._scopes_read_ms = 0
        self._per_device: dict[str, list[_Compiled]] = {}
        self._per_device_split: dict[str, _DeviceRules] = {}
        # (device, metric) where a threshold or range rule is active or pending
        self._unsettled: set[tuple[str, str]] = set()
        self._states: dict[tuple[str, str], RuleState] = {}
        # rate rules' last sample per (rule, device) as a mutable [value, ts_ms]: a
        # reading at rest moves it in place instead of making a new RuleState (the
        # frozen dataclass's replace and comparison cost about 10 µs per rule per
        # reading); the sample is not durable (a restart loses one rate sample at most)
        self._samples: dict[tuple[str, str], list[float]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._persisted_ms = 0

    # -- the ingest side: never blocks, never raises ------------------------------

    def on_committed(self, event: Committed) -> None:
        if not (event.readings or event.statuses or event.quarantined):
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped_batches += 1

    # -- the thread -----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wattline-alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self.leading:
            self._flush(self._clock_ms(), force=True)
            if self._leases is not None:
                self._leases.release(LEASE_NAME, self._holder)
            self.leading = False

    def _run(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self._timing.tick_s
                    self._lead()
                    if self.leading:
                        self.tick(self._clock_ms())
                try:
                    event = self._queue.get(timeout=min(0.2, self._timing.tick_s))
                except queue.Empty:
                    continue
                if self.leading:
                    self.handle(event)
            except StoreUnavailableError as exc:
                # an outage is expected and retried: one line, not a traceback each pass
                log.warning("alert evaluation: store unavailable, will retry: %s", exc)
            except Exception:
                log.exception("alert evaluation failed; continuing")
                self._stop.wait(1.0)

    def _lead(self) -> None:
        if self._leases is None:
            leading = True
        else:
            ttl_ms = int(self._timing.lease_ttl_s * 1000)
            leading = self._leases.try_acquire(LEASE_NAME, self._holder, ttl_ms)
        if leading and not self.leading:
            log.info("leading the alert evaluation")
            self._load()
        elif not leading and self.leading:
            log.info("another process leads the alert evaluation now")
        self.leading = leading

    def run_once(self) -> None:
        """Take the lease if free, evaluate every queued batch, then tick (tests, benchmarks)."""
        self._lead()
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                break
            if self.leading:
                self.handle(event)
        if self.leading:
            self.tick(self._clock_ms())

    # -- evaluation -----------------------------------------------------------------

    def _load(self) -> None:
        """Rules and saved state afresh: at start and on taking over the lead."""
        self._stamp = None
        self._refresh_rules()
        self._states = {}
        self._samples = {}
        self._unsettled = set()
        for saved in self._store.load_states():
            state = RuleState.from_json(saved.state)
            self._states[saved.rule_id, saved.device_id] = state
            if state.last_value is not None and state.last_ts_ms is not None:
                self._samples[saved.rule_id, saved.device_id] = [state.last_value, state.last_ts_ms]
            compiled = self._rules_by_id.get(saved.rule_id)
            if compiled is not None and compiled.rule.kind in _BANDED and _stirred(state):
                self._unsettled.add((saved.device_id, compiled.rule.metric or ""))
        self._dirty.clear()

    def _refresh_rules(self) -> None:
        # monotonic, not the injected clock: tests hold that still
        now_s = time.monotonic()
        if self._stamp is not None and now_s - self._stamp_read_s < self._timing.rules_ttl_s:
            return
        self._stamp_read_s = now_s
        stamp = self._store.rules_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        by_tenant: dict[str, list[_Compiled]] = {}
        for rule in self._store.enabled_rules():
            try:
                compiled = _Compiled(rule, condition_of(rule))
            except (ValueError, KeyError) as exc:
                log.warning("rule %s is not evaluated: %s", rule.rule_id, exc)
                continue
            by_tenant.setdefault(rule.tenant_id, []).append(compiled)
        self._by_tenant = by_tenant
        self._rules_by_id = {c.rule.rule_id: c for rules in by_tenant.values() for c in rules}
        self._samples = {k: v for k, v in self._samples.items() if k[0] in self._rules_by_id}
        self._per_device.clear()
        self._per_device_split.clear()

    def _scope_of(self, device_ids: Iterable[str], now_ms: int) -> None:
        if now_ms - self._scopes_read_ms > self._timing.scope_ttl_s * 1000:
            self._scopes.clear()
            self._per_device.clear()
            self._per_device_split.clear()
            self._scopes_read_ms = now_ms
        unknown = [d for d in device_ids if d not in self._scopes]
        if unknown:
            for device_id, (tenant, kind, tags) in self._store.device_scopes(unknown).items():
                self._scopes[device_id] = _Scope(tenant, kind, tags)

    def _rules_for(self, device_id: str) -> list[_Compiled]:
        found = self._per_device.get(device_id)
        if found is None:
            scope = self._scopes.get(device_id)
            found = (
                [
                    c
                    for c in self._by_tenant.get(scope.tenant_id, ())
                    if c.rule.applies_to(device_id, scope.device_type, scope.tags)
                ]
                if scope is not None
                else []
            )
            self._per_device[device_id] = found
        return found

    def handle(self, event: Committed) -> None:
        """One committed batch through the rules (the caller leads)."""
        started = time.perf_counter()
        try:
            self._handle(event)
        finally:
            self.evaluated_batches += 1
            self.evaluation_seconds += time.perf_counter() - started

    def _handle(self, event: Committed) -> None:
        now_ms = self._clock_ms()
        self._refresh_rules()
        if not self._by_tenant:
            return
        devices = {r.device_id for r in event.readings}
        devices |= {s.device_id for s in event.statuses}
        quarantined = [(_device_of(q.topic), q.received_ms) for q in event.quarantined]
        devices |= {device for device, _ in quarantined if device}
        self._scope_of(devices, now_ms)
        self._readings(event)
        for status in event.statuses:
            for compiled in self._rules_for(status.device_id):
                state = self._states.get((compiled.rule.rule_id, status.device_id), RuleState())
                outcome = compiled.condition.on_status(state, status.state, status.ts_ms)
                self._step(compiled, status.device_id, state, outcome, status.ts_ms, None)
        for device_id, received_ms in quarantined:
            for compiled in self._rules_for(device_id or ""):
                state = self._states.get((compiled.rule.rule_id, device_id or ""), RuleState())
                outcome = compiled.condition.on_quarantine(state, received_ms)
                self._step(compiled, device_id or "", state, outcome, received_ms, None)
        self._flush(now_ms)

    def _split_for(self, device_id: str) -> _DeviceRules:
        found = self._per_device_split.get(device_id)
        if found is None:
            found = _DeviceRules.of(self._rules_for(device_id))
            self._per_device_split[device_id] = found
        return found

    def _readings(self, event: Committed) -> None:
        seen = event.seen_ms or {}
        for reading in event.readings:
            self.evaluated_readings += 1
            rules = self._split_for(reading.device_id)
            if rules.banded:
                self._banded(rules, reading)
            for compiled, rate in rules.rates:
                value = reading.metrics.get(rate.metric)
                if value is not None:
                    self._rate(compiled, rate, reading, value)
            for compiled in rules.others:
                rule = compiled.rule
                value = None
                if rule.metric is not None and rule.kind not in _METRICLESS:
                    value = reading.metrics.get(rule.metric)
                    if value is None:
                        continue
                ts_ms = reading.ts_ms
                if rule.kind is RuleKind.ABSENCE:
                    ts_ms = seen.get(reading.device_id, reading.ts_ms)
                self._reading(compiled, reading, value, ts_ms)

    def _banded(self, rules: _DeviceRules, reading: Reading) -> None:
        for metric, (group, low, high) in rules.banded.items():
            value = reading.metrics.get(metric)
            if value is None:
                continue
            if low <= value <= high and (reading.device_id, metric) not in self._unsettled:
                continue  # inside every resting rule's limits: none of them can stir
            for compiled in group:
                self._reading(compiled, reading, value, reading.ts_ms)

    def _reading(
        self, compiled: _Compiled, reading: Reading, value: float | None, ts_ms: int
    ) -> None:
        state = self._states.get((compiled.rule.rule_id, reading.device_id), _RESTING)
        outcome = compiled.condition.on_reading(state, ts_ms, value, reading.seq)
        if outcome[0] is state and outcome[1] is not Signal.BREACH and state is _RESTING:
            return  # the steady state: nothing happened, nothing to remember
        self._step(compiled, reading.device_id, state, outcome, ts_ms, value)

    def _rate(self, compiled: _Compiled, rate: Rate, reading: Reading, value: float) -> None:
        """A rate rule's reading: at rest and staying so, only the sample moves (in
        place); otherwise the pure condition decides, given the sample."""
        key = (compiled.rule.rule_id, reading.device_id)
        ts_ms = reading.ts_ms
        sample = self._samples.get(key)
        if sample is None:
            self._samples[key] = [value, ts_ms]  # a first reading: no rate yet
            return
        last_value, last_ts_ms = sample[0], int(sample[1])
        if ts_ms <= last_ts_ms:
            return  # older than the last: no rate to speak of
        sample[0], sample[1] = value, ts_ms
        state = self._states.get(key, _RESTING)
        per_min = rate.per_min(last_value, last_ts_ms, value, ts_ms)
        if not _stirred(state) and not rate.exceeds(per_min, active=False):
            return  # the steady state: nothing else to remember
        with_sample = replace(state, last_value=last_value, last_ts_ms=last_ts_ms)
        outcome = rate.on_reading(with_sample, ts_ms, value, reading.seq)
        self._step(compiled, reading.device_id, state, outcome, ts_ms, value)

    @property
    def states_held(self) -> int:
        """(rule, device) pairs with a state in memory: pairs at rest need none."""
        return len(self._states)

    def tick(self, now_ms: int) -> None:
        """The clock's part: absence, pending durations that ran out, quiet event alerts."""
        self._refresh_rules()
        for key in list(self._states):
            compiled = self._rules_by_id.get(key[0])
            if compiled is not None:
                state = self._states[key]
                step = lifecycle.tick(compiled.condition, state, now_ms)
                self._commit_step(
                    compiled, device_id=key[1], before=state, step=step, ts_ms=now_ms, value=None
                )
        # absence also watches devices that never sent anything since the rule began
        for tenant_id, compiled_rules in self._by_tenant.items():
            absence = [c for c in compiled_rules if c.rule.kind is RuleKind.ABSENCE]
            if not absence:
                continue
            devices = self._store.tenant_devices(tenant_id)
            self._scope_of(devices, now_ms)
            for device_id in devices:
                for compiled in self._rules_for(device_id):
                    if compiled.rule.kind is RuleKind.ABSENCE and (
                        (compiled.rule.rule_id, device_id) not in self._states
                    ):
                        step = lifecycle.tick(compiled.condition, RuleState(), now_ms)
                        self._commit_step(
                            compiled,
                            device_id=device_id,
                            before=RuleState(),
                            step=step,
                            ts_ms=now_ms,
                            value=None,
                        )
        self._flush(now_ms)

    def _step(  # noqa: PLR0913, PLR0917 - one step's facts
        self,
        compiled: _Compiled,
        device_id: str,
        before: RuleState,
        outcome: Outcome,
        ts_ms: int,
        value: float | None,
    ) -> None:
        step = lifecycle.apply(compiled.condition, outcome, ts_ms)
        self._commit_step(
            compiled, device_id=device_id, before=before, step=step, ts_ms=ts_ms, value=value
        )

    def _commit_step(  # noqa: PLR0913 - one step's facts
        self,
        compiled: _Compiled,
        *,
        device_id: str,
        before: RuleState,
        step: lifecycle.Step,
        ts_ms: int,
        value: float | None,
    ) -> None:
        state, transition = step
        rule = compiled.rule
        key = (rule.rule_id, device_id)
        if state is before or (state == before and key in self._states):
            return
        self._states[key] = state
        if rule.kind in _BANDED and _stirred(state) != _stirred(before):
            self._settle(device_id, rule.metric or "")
        if transition is None:
            if state.differs(before, compiled.condition.durable):
                self._dirty.add(key)
            if state.pending_since_ms != before.pending_since_ms:
                self._save([key], ts_ms)  # a pending duration must survive a restart
            return
        self._dirty.discard(key)
        saved = [self._saved(key)]
        value = value if value is not None else state.last_value
        if transition is Transition.CLEAR:
            cleared = self._store.clear_open(rule.rule_id, device_id, now_ms=ts_ms, states=saved)
            if cleared is not None:
                self._tell(AlertChange.of(ChangeKind.CLEARED, cleared, ts_ms))
            return
        message = f"{rule.name}: {state.detail}" if state.detail else rule.name
        if transition is Transition.RAISE:
            alert, opened = self._store.raise_alert(
                rule, device_id, value=value, message=message, now_ms=ts_ms, states=saved
            )
        else:
            alert = self._store.repeat_alert(
                rule, device_id, value=value, message=message, now_ms=ts_ms, states=saved
            )
            opened = False
        kind = ChangeKind.RAISED if opened else ChangeKind.REPEATED
        self._tell(AlertChange.of(kind, alert, ts_ms))

    def _settle(self, device_id: str, metric: str) -> None:
        group = self._split_for(device_id).banded.get(metric, ((), 0.0, 0.0))[0]
        if any(_stirred(self._states.get((c.rule.rule_id, device_id), _RESTING)) for c in group):
            self._unsettled.add((device_id, metric))
        else:
            self._unsettled.discard((device_id, metric))

    def _tell(self, change: AlertChange) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(change)
        except Exception:
            log.exception("an alert listener failed")

    def _saved(self, key: tuple[str, str]) -> SavedState:
        rule_id, device_id = key
        compiled = self._rules_by_id.get(rule_id)
        tenant = compiled.rule.tenant_id if compiled else ""
        version = compiled.rule.version if compiled else 0
        return SavedState(rule_id, device_id, tenant, version, self._states[key].to_json())

    def _save(self, keys: Iterable[tuple[str, str]], now_ms: int) -> None:
        saved = [self._saved(k) for k in keys if k in self._states]
        self._store.save_states([s for s in saved if s.tenant_id], now_ms)

    def _flush(self, now_ms: int, *, force: bool = False) -> None:
        if not self._dirty:
            return
        if not force and now_ms - self._persisted_ms < self._timing.persist_interval_s * 1000:
            return
        keys, self._dirty = self._dirty, set()
        self._save(keys, now_ms)
        self._persisted_ms = now_ms


def _device_of(topic: str) -> str | None:
    """The device a quarantined message came from: the topic's second level
    (``iot/{id}/telemetry``, ``smartplug/{id}/...``, ``devices/{id}/...``)."""
    parts = topic.split("/")
    return parts[1] if len(parts) >= 3 and parts[1] else None


def fan_out_changes(*listeners: OnAlertChanged | None) -> OnAlertChanged | None:
    """One alert listener that tells each of ``listeners`` in turn."""
    present = [listener for listener in listeners if listener is not None]
    if not present:
        return None

    def tell_all(change: AlertChange) -> None:
        for listener in present:
            try:
                listener(change)
            except Exception:
                log.exception("an alert listener failed")

    return tell_all
