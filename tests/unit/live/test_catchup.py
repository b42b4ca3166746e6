"""The catch-up's pure parts: merging readings and alert changes, the cursor boundary,
and the live messages a catch-up already covered (hypothesis)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from wattline.live import wire
from wattline.live.catchup import Served, change_event, merged, missed_alerts, wants_alerts
from wattline.live.events import EventKind, LiveEvent
from wattline.live.hub import Outgoing, outgoing
from wattline.live.subscriptions import Subscription
from wattline.model.alerts import Alert, AlertStatus, ChangeKind, Severity

TENANT = "t1"
ALERTS_TOO = Subscription(kinds=frozenset(EventKind))
KINDS = [ChangeKind.REPEATED, ChangeKind.ACKNOWLEDGED, ChangeKind.COMMENTED, ChangeKind.CLEARED]


def alert_at(alert_id: str, ts_ms: int, change: ChangeKind, device: str = "d1") -> Alert:
    return Alert(
        alert_id=alert_id,
        tenant_id=TENANT,
        rule_id="r",
        rule_name="low voltage",
        device_id=device,
        severity=Severity.MAJOR,
        status=AlertStatus.CLEARED if change is ChangeKind.CLEARED else AlertStatus.ACTIVE,
        value=None,
        message="sag",
        first_seen_ms=0,
        last_seen_ms=ts_ms,
        last_change=change.value,
        changed_ms=ts_ms,
    )


@dataclass
class History:
    """Every change of every alert; the store keeps each alert's latest (as SqlAlerts)."""

    changes: list[Alert]
    read_at_ms: int

    def changed_since(
        self,
        *,
        tenant_id: str,
        since_ms: int,
        until_ms: int,
        device_ids: Sequence[str] | None,
        limit: int,
    ) -> list[Alert]:
        latest: dict[str, Alert] = {}
        for change in self.changes:
            if change.changed_ms is not None and change.changed_ms <= self.read_at_ms:
                latest[change.alert_id] = change
        chosen = [
            a
            for a in latest.values()
            if a.tenant_id == tenant_id
            and a.changed_ms is not None
            and since_ms < a.changed_ms <= until_ms
            and (device_ids is None or a.device_id in device_ids)
        ]
        chosen.sort(key=lambda a: (a.changed_ms, a.alert_id))
        return chosen[:limit]


@st.composite
def histories(draw: st.DrawFn) -> list[Alert]:
    """Changes of up to 4 alerts, each alert's changes at increasing times."""
    changes: list[Alert] = []
    for n in range(draw(st.integers(1, 4))):
        times = sorted(draw(st.sets(st.integers(0, 60), min_size=1, max_size=6)))
        kinds = [ChangeKind.RAISED] + [draw(st.sampled_from(KINDS)) for _ in times[1:]]
        changes.extend(alert_at(f"a{n}", ts, kind) for ts, kind in zip(times, kinds, strict=True))
    changes.sort(key=lambda a: (a.changed_ms, a.alert_id))
    return changes


def messages(events: Sequence[LiveEvent]) -> list[Outgoing]:
    return [m for e in events for m in outgoing(e, wire.wattline(e, frozenset()))]


@settings(max_examples=300, deadline=None)
@given(
    histories(),
    st.integers(-1, 61),  # the client's cursor: the last change it saw
    st.integers(0, 61),  # when it subscribed again
    st.integers(0, 30),  # how long the catch-up's read came after
)
def test_a_reconnecting_client_sees_each_alert_once_forward_and_up_to_date(
    changes: list[Alert], cursor: int, subscribed: int, read_after: int
) -> None:
    subscribed = max(subscribed, cursor)  # the cursor is in the past
    read_at = subscribed + read_after
    history = History(changes, read_at)
    caught = missed_alerts(
        history, tenant_id=TENANT, subscription=ALERTS_TOO, since_ms=cursor, now_ms=read_at
    )
    sent = messages(caught.events)
    # at the cursor boundary: nothing at or before the cursor, nothing twice
    assert all(m.ts_ms > cursor for m in sent)
    assert len({m.ref for m in sent}) == len(sent)
    assert [m.ts_ms for m in sent] == sorted(m.ts_ms for m in sent)
    # live: every change from the subscription on (some the catch-up read too)
    live = messages([change_event(a) for a in changes if (a.changed_ms or 0) > subscribed])
    served = Served.of(sent)
    delivered = sent + [m for m in live if not served.covers(m)]
    last: dict[str | None, int] = {}
    for m in delivered:
        assert m.ts_ms > last.get(m.ref, cursor), "an alert stepped back or came twice"
        last[m.ref] = m.ts_ms
    # and the client ends with each alert's latest change after its cursor
    newest: dict[str, int] = {}
    for a in changes:
        if a.changed_ms is not None and a.changed_ms > cursor:
            newest[a.alert_id] = a.changed_ms
    assert last == newest


@st.composite
def timed_events(draw: st.DrawFn) -> tuple[list[LiveEvent], list[LiveEvent]]:
    readings: list[LiveEvent] = []
    for device in ("d1", "d2"):
        times = sorted(draw(st.sets(st.integers(0, 40), max_size=8)))
        readings.extend(
            LiveEvent(EventKind.READING, TENANT, device, ts, {"metrics": {"p": 1.0}, "seq": i})
            for i, ts in enumerate(times)
        )
    alerts = [
        change_event(alert_at(f"a{i}", ts, ChangeKind.RAISED))
        for i, ts in enumerate(sorted(draw(st.lists(st.integers(0, 40), max_size=5))))
    ]
    return readings, alerts


@given(timed_events())
def test_merged_is_oldest_first_keeping_each_devices_order(
    events: tuple[list[LiveEvent], list[LiveEvent]],
) -> None:
    readings, alerts = events
    out = merged(readings, alerts)
    assert sorted(map(id, out)) == sorted(map(id, [*readings, *alerts]))
    assert [e.ts_ms for e in out] == sorted(e.ts_ms for e in out)
    for device in ("d1", "d2"):
        mine = [
            e.payload["seq"] for e in out if e.kind is EventKind.READING and e.device_id == device
        ]
        assert mine == sorted(mine)
    # at one instant the reading comes before the alert it raised
    for before, after in itertools.pairwise(out):
        if before.ts_ms == after.ts_ms:
            assert not (before.kind is EventKind.ALERT and after.kind is EventKind.READING)


@given(st.sets(st.integers(0, 20), max_size=10), st.sets(st.integers(0, 20), max_size=10))
def test_served_readings_are_skipped_exactly(caught: set[int], live: set[int]) -> None:
    def reading(ts: int) -> LiveEvent:
        return LiveEvent(EventKind.READING, TENANT, "d1", ts, {"metrics": {}, "seq": ts})

    served = Served.of(messages([reading(ts) for ts in caught]))
    passed = [
        m.ts_ms for m in messages([reading(ts) for ts in sorted(live)]) if not served.covers(m)
    ]
    assert passed == sorted(live - caught)


def test_status_messages_are_never_covered_and_an_empty_catch_up_covers_nothing() -> None:
    status = LiveEvent(EventKind.STATUS, TENANT, "d1", 5, {"state": "online"})
    assert not Served.of(messages([status])).covers(messages([status])[0])
    assert not Served()


def test_which_subscriptions_catch_up_alerts() -> None:
    assert not wants_alerts(Subscription())  # readings and statuses only
    assert wants_alerts(ALERTS_TOO)
    assert wants_alerts(Subscription(devices=frozenset({"d1"}), kinds=frozenset(EventKind)))
    # live alert events carry no type or tags, so such subscriptions never match them
    assert not wants_alerts(Subscription(types=frozenset({"meter"}), kinds=frozenset(EventKind)))
    history = History([alert_at("a1", 5, ChangeKind.RAISED)], 10)
    none = missed_alerts(
        history, tenant_id=TENANT, subscription=Subscription(), since_ms=0, now_ms=10
    )
    assert none.events == []
    other = missed_alerts(
        history,
        tenant_id=TENANT,
        subscription=Subscription(devices=frozenset({"d2"}), kinds=frozenset(EventKind)),
        since_ms=0,
        now_ms=10,
    )
    assert other.events == []
