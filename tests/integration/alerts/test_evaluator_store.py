"""The evaluator over a real store (SQLite and PostgreSQL): one alert per (rule, device),
state across restarts, leadership, scopes and tenants."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.integration.alerts.receivers import sqlite_store

from wattline.alerts import lifecycle
from wattline.alerts.conditions import RuleState, condition_of
from wattline.alerts.evaluator import Evaluator, EvaluatorTiming
from wattline.model.alerts import (
    AlertChange,
    AlertStatus,
    ChangeKind,
    Rule,
    RuleKind,
    ScopeKind,
    Severity,
)
from wattline.model.events import Committed, QuarantineNotice
from wattline.model.messages import ConnectionState, Hello, Reading, StatusReport
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore
from wattline.storage.sql.alerts import AlertFilter
from wattline.storage.sql.leases import SqlLeases

T0 = 1_764_057_600_000


class Clock:
    def __init__(self) -> None:
        self.now_ms = T0

    def __call__(self) -> int:
        return self.now_ms


def register(store: SqlStore, device: str, device_type: str = "ac_meter") -> None:
    store.commit(
        CommitBatch(
            readings=[],
            hellos=[Hello(device, device_type, "1.0", ())],
            seen_ms={device: T0},
            register=[device],
        )
    )


def add_rule(
    store: SqlStore, rule_id: str, kind: RuleKind, params: Mapping[str, Any], **extra: Any
) -> Rule:
    values: dict[str, Any] = {
        "rule_id": rule_id,
        "tenant_id": "default",
        "name": rule_id,
        "kind": kind,
        "severity": Severity.CRITICAL,
        "scope": ScopeKind.TENANT,
        "scope_value": None,
        "metric": "voltage_v",
        "params": params,
        "created_ms": T0,
        "updated_ms": T0,
    }
    values.update(extra)
    return store.alerts.save_rule(Rule(**values), saved_by="test")


def volts(device: str, ts_ms: int, value: float, seq: int | None = None) -> Committed:
    return Committed(
        readings=[Reading(device, ts_ms, {"voltage_v": value}, seq)], seen_ms={device: ts_ms}
    )


def evaluator(store: SqlStore, clock: Clock, changes: list[AlertChange]) -> Evaluator:
    return Evaluator(
        store.alerts,
        on_change=changes.append,
        leases=SqlLeases(store.engine, clock),
        timing=EvaluatorTiming(rules_ttl_s=0),
        clock_ms=clock,
    )


def feed(ev: Evaluator, *events: Committed) -> None:
    for event in events:
        ev.on_committed(event)
    ev.run_once()


LOW = {"op": "below", "limit": 10.0, "hysteresis": 1.0}


def test_one_alert_per_rule_and_device_raised_once_and_cleared(store: SqlStore) -> None:
    register(store, "m1")
    register(store, "m2")
    add_rule(store, "low", RuleKind.THRESHOLD, LOW)
    clock, changes = Clock(), []
    ev = evaluator(store, clock, changes)
    feed(ev, volts("m1", T0, 230.0), volts("m1", T0 + 1000, 8.0), volts("m1", T0 + 2000, 7.5))
    feed(ev, volts("m2", T0 + 2500, 9.0), volts("m1", T0 + 3000, 10.5))
    assert [(c.change, c.device_id) for c in changes] == [
        (ChangeKind.RAISED, "m1"),
        (ChangeKind.RAISED, "m2"),
    ]
    assert changes[0].value == 8.0
    feed(ev, volts("m1", T0 + 4000, 11.0))
    assert (changes[-1].change, changes[-1].device_id) == (ChangeKind.CLEARED, "m1")
    stored = store.alerts.alert_page(tenant_id="default", where=AlertFilter(), after=None, limit=10)
    assert sorted((a.device_id, a.status) for a in stored) == [
        ("m1", AlertStatus.CLEARED),
        ("m2", AlertStatus.ACTIVE),
    ]
    # a new breach after the clear is a new alert; the cleared one stays as history
    feed(ev, volts("m1", T0 + 5000, 5.0))
    assert changes[-1].change is ChangeKind.RAISED
    assert changes[-1].alert_id != changes[0].alert_id
    assert store.alerts.summary(tenant_id="default")["active"]["critical"] == 2
    ev.stop()


def test_a_restart_neither_re_fires_nor_forgets_a_pending_duration(store: SqlStore) -> None:
    register(store, "m1")
    register(store, "m2")
    add_rule(store, "low", RuleKind.THRESHOLD, {**LOW, "duration_s": 60})
    clock, changes = Clock(), []
    first = evaluator(store, clock, changes)
    feed(first, volts("m1", T0, 5.0))
    feed(first, volts("m1", T0 + 60_000, 5.0), volts("m2", T0 + 60_000, 5.0))
    assert [c.device_id for c in changes] == ["m1"]
    first.stop()  # releases the lease

    second = evaluator(store, clock, changes)
    clock.now_ms = T0 + 100_000
    # m1's alert is open: not raised again; m2's minute started before the restart
    feed(second, volts("m1", T0 + 100_000, 4.0))
    assert [c.device_id for c in changes] == ["m1"]
    feed(second, volts("m2", T0 + 120_000, 5.0))
    assert [c.device_id for c in changes] == ["m1", "m2"]
    second.stop()


def test_only_the_lease_holder_evaluates(store: SqlStore) -> None:
    register(store, "m1")
    add_rule(store, "low", RuleKind.THRESHOLD, LOW)
    clock, changes_a, changes_b = Clock(), [], []
    a, b = evaluator(store, clock, changes_a), evaluator(store, clock, changes_b)
    feed(a, volts("m1", T0, 5.0))
    feed(b, volts("m1", T0, 5.0))
    assert (len(changes_a), len(changes_b), a.leading, b.leading) == (1, 0, True, False)
    a.stop()
    feed(b, volts("m1", T0 + 1000, 12.0))
    assert b.leading
    assert [c.change for c in changes_b] == [ChangeKind.CLEARED]
    b.stop()


def test_absence_on_the_clock_and_offline_by_last_will(store: SqlStore) -> None:
    register(store, "m1")
    add_rule(store, "quiet", RuleKind.ABSENCE, {"minutes": 5}, metric=None)
    add_rule(store, "offline", RuleKind.OFFLINE, {}, metric=None, severity=Severity.MAJOR)
    clock, changes = Clock(), []
    ev = evaluator(store, clock, changes)
    feed(ev, volts("m1", T0, 230.0))
    clock.now_ms = T0 + 4 * 60_000
    ev.run_once()
    assert changes == []
    clock.now_ms = T0 + 5 * 60_000
    ev.run_once()
    assert [(c.rule_id, c.change) for c in changes] == [("quiet", ChangeKind.RAISED)]
    feed(ev, Committed(statuses=[StatusReport("m1", ConnectionState.OFFLINE, clock.now_ms)]))
    assert [(c.rule_id, c.change) for c in changes][-1] == ("offline", ChangeKind.RAISED)
    clock.now_ms += 1000
    feed(ev, volts("m1", clock.now_ms, 230.0))
    assert {(c.rule_id, c.change) for c in changes[-2:]} == {
        ("quiet", ChangeKind.CLEARED),
        ("offline", ChangeKind.CLEARED),
    }
    ev.stop()


def test_scopes_and_tenants(store: SqlStore) -> None:
    register(store, "m1", "ac_meter")
    register(store, "p1", "smart_plug")
    add_rule(
        store, "plugs", RuleKind.THRESHOLD, LOW, scope=ScopeKind.TYPE, scope_value="smart_plug"
    )
    add_rule(store, "other", RuleKind.THRESHOLD, LOW, tenant_id="t2")
    clock, changes = Clock(), []
    ev = evaluator(store, clock, changes)
    feed(ev, volts("m1", T0, 1.0), volts("p1", T0, 1.0))
    assert [(c.rule_id, c.device_id) for c in changes] == [("plugs", "p1")]
    assert store.alerts.alert_page(tenant_id="t2", where=AlertFilter(), after=None, limit=10) == []
    ev.stop()


def test_quarantine_spike_per_device(store: SqlStore) -> None:
    register(store, "m1")
    add_rule(store, "spike", RuleKind.QUARANTINE_SPIKE, {"count": 3, "window_s": 60}, metric=None)
    clock, changes = Clock(), []
    ev = evaluator(store, clock, changes)
    notices = [QuarantineNotice("iot/m1/telemetry", "bad_shape", T0 + i) for i in range(3)]
    feed(ev, Committed(quarantined=notices))
    assert [(c.rule_id, c.device_id, c.change) for c in changes] == [
        ("spike", "m1", ChangeKind.RAISED)
    ]
    ev.stop()


def test_edited_rules_are_versioned_and_retired_rules_stop(store: SqlStore) -> None:
    register(store, "m1")
    rule = add_rule(store, "low", RuleKind.THRESHOLD, LOW)
    edited = store.alerts.save_rule(
        Rule(**{**_fields(rule), "params": {**LOW, "limit": 20.0}, "updated_ms": T0 + 1}),
        saved_by="ana",
    )
    assert edited.version == 2
    versions = store.alerts.rule_versions("low", tenant_id="default")
    assert [(v["version"], v["definition"]["params"]["limit"]) for v in versions] == [
        (1, 10.0),
        (2, 20.0),
    ]
    assert store.alerts.rule_versions("low", tenant_id="t2") == []
    clock, changes = Clock(), []
    ev = evaluator(store, clock, changes)
    feed(ev, volts("m1", T0, 15.0))
    assert len(changes) == 1
    assert store.alerts.delete_rule("low", tenant_id="default", now_ms=T0 + 2)
    feed(ev, volts("m1", T0 + 1000, 30.0), volts("m1", T0 + 2000, 1.0))
    assert len(changes) == 1
    ev.stop()


def _fields(rule: Rule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in rule.__slots__}  # type: ignore[attr-defined]


@settings(max_examples=15, deadline=None)
@given(values=st.lists(st.sampled_from([0.0, 5.0, 9.0, 10.0, 11.0, 15.0, 25.0, 31.0]), max_size=40))
def test_grouped_thresholds_decide_as_each_rule_alone(
    tmp_path_factory: pytest.TempPathFactory, values: list[float]
) -> None:
    """Readings inside every resting rule's band skip the group: the same transitions
    as evaluating each rule on its own (the pure conditions)."""
    rules = {
        "below10": (RuleKind.THRESHOLD, {"op": "below", "limit": 10.0, "hysteresis": 2.0}),
        "below5": (RuleKind.THRESHOLD, {"op": "below", "limit": 5.0}),
        "above30": (RuleKind.THRESHOLD, {"op": "above", "limit": 30.0, "duration_s": 2}),
        "range": (RuleKind.RANGE, {"low": 8.0, "high": 20.0, "hysteresis": 1.0}),
    }
    with sqlite_store(tmp_path_factory.mktemp("band")) as store:
        register(store, "m1")
        compiled = {
            name: add_rule(store, name, kind, params) for name, (kind, params) in rules.items()
        }
        clock, changes = Clock(), []
        ev = evaluator(store, clock, changes)
        feed(ev, *[volts("m1", T0 + i * 1000, v) for i, v in enumerate(values)])
        ev.stop()
    expected = []
    for name, rule in compiled.items():
        condition, state = condition_of(rule), RuleState()
        for i, v in enumerate(values):
            state, transition = lifecycle.apply(
                condition, condition.on_reading(state, T0 + i * 1000, v, None), T0 + i * 1000
            )
            if transition is not None:
                expected.append((T0 + i * 1000, name, transition.value))
    got = [
        (c.ts_ms, c.rule_id, {"raised": "raise", "cleared": "clear"}[c.change.value])
        for c in changes
    ]
    assert sorted(got) == sorted(expected)


RATES = {
    "fast": {"max_per_min": 300.0, "hysteresis": 60.0},
    "held": {"max_per_min": 300.0, "duration_s": 2},
}


@settings(max_examples=15, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(-2, 3), st.sampled_from([0.0, 1.0, 4.0, 9.0, 20.0, 60.0])),
        max_size=40,
    )
)
def test_rate_rules_decide_as_the_pure_condition(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[int, float]]
) -> None:
    """The evaluator keeps rate samples apart from the rule state: the same transitions
    as the pure condition, late and repeated timestamps included."""
    readings, ts_ms = [], T0
    for dt_s, value in steps:
        ts_ms += dt_s * 1000
        readings.append((ts_ms, value))
    with sqlite_store(tmp_path_factory.mktemp("rate")) as store:
        register(store, "m1")
        made = {name: add_rule(store, name, RuleKind.RATE, p) for name, p in RATES.items()}
        clock, changes = Clock(), []
        ev = evaluator(store, clock, changes)
        feed(ev, *[volts("m1", t, v) for t, v in readings])
        ev.stop()
    expected = []
    for name, rule in made.items():
        condition, state = condition_of(rule), RuleState()
        for t, v in readings:
            state, transition = lifecycle.apply(
                condition, condition.on_reading(state, t, v, None), t
            )
            if transition is not None:
                expected.append((t, name, transition.value))
    got = [
        (c.ts_ms, c.rule_id, {"raised": "raise", "cleared": "clear"}[c.change.value])
        for c in changes
    ]
    assert sorted(got) == sorted(expected)


def test_rate_rules_at_rest_hold_no_state(store: SqlStore) -> None:
    """Readings that change slowly move each rule's sample and create no rule state
    (that allocation was most of a rate rule's cost); a jump still raises each rule."""
    register(store, "m1")
    for i in range(5):
        add_rule(store, f"rate{i}", RuleKind.RATE, {"max_per_min": 600.0})
    clock, changes = Clock(), []
    ev = evaluator(store, clock, changes)
    feed(ev, *[volts("m1", T0 + i * 1000, 230.0 + i % 2) for i in range(100)])
    assert (changes, ev.states_held) == ([], 0)
    feed(ev, volts("m1", T0 + 100_000, 100.0))
    assert sorted(c.rule_id for c in changes if c.change is ChangeKind.RAISED) == [
        f"rate{i}" for i in range(5)
    ]
    assert ev.states_held == 5
    assert "changing 7860/min" in changes[0].message
    ev.stop()
