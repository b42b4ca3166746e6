"""Alert changes in a reconnecting client's catch-up, on SQLite and PostgreSQL.

The store's side (``SqlAlerts.changed_since``: by the latest change, after the
cursor, tenant-scoped, bounded) and the whole path over a real WebSocket: a
client that was away while an alert was acknowledged and cleared sees it on
reconnecting, and then the next live change exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.integration.live.conftest import T0, two_tenants
from tests.integration.live.server import LiveServer
from tests.integration.live.test_websocket import open_socket, receive, sse_events, subscribe

from wattline.live.catchup import missed_alerts
from wattline.live.events import EventKind
from wattline.live.subscriptions import Subscription
from wattline.model.alerts import AlertChange, AlertComment, ChangeKind, Severity
from wattline.storage.sql import SqlStore

OPERATOR = "operator-default"


@dataclass(frozen=True)
class Origin:
    rule_id: str
    tenant_id: str = "default"
    name: str = "low voltage"
    severity: Severity = Severity.MAJOR


def raise_at(store: SqlStore, rule: Origin, device: str, ts_ms: int) -> str:
    alert, opened = store.alerts.raise_alert(rule, device, value=9.5, message="sag", now_ms=ts_ms)
    assert opened
    return alert.alert_id


def changed(store: SqlStore, since_ms: int, **options: Any) -> list[tuple[str, str | None]]:
    values: dict[str, Any] = {
        "tenant_id": "default",
        "since_ms": since_ms,
        "until_ms": T0 + 3_600_000,
        "device_ids": None,
        "limit": 100,
    }
    values.update(options)
    return [(a.alert_id, a.last_change) for a in store.alerts.changed_since(**values)]


def test_changes_after_the_cursor_oldest_first_of_the_tenant_only(store: SqlStore) -> None:
    a1 = raise_at(store, Origin("r1"), "dev-a", T0 + 1000)
    a2 = raise_at(store, Origin("r2"), "dev-a2", T0 + 2000)
    raise_at(store, Origin("r9", tenant_id="t2"), "dev-b", T0 + 2500)  # another tenant's
    store.alerts.acknowledge(a1, tenant_id="default", by="op", now_ms=T0 + 3000)
    assert changed(store, T0) == [(a2, "raised"), (a1, "acknowledged")]
    # the cursor is the last change the client saw: that instant is not sent again
    assert changed(store, T0 + 2000) == [(a1, "acknowledged")]
    assert changed(store, T0 + 3000) == []
    assert store.alerts.add_comment(AlertComment(a2, "op", "on it", T0 + 4000), tenant_id="default")
    store.alerts.clear_by_hand(a1, tenant_id="default", by="op", now_ms=T0 + 5000)
    assert changed(store, T0 + 3000) == [(a2, "commented"), (a1, "cleared")]
    assert changed(store, T0, device_ids=["dev-a"]) == [(a1, "cleared")]
    assert changed(store, T0, device_ids=[]) == []
    assert changed(store, T0, until_ms=T0 + 4000) == [(a2, "commented")]
    assert changed(store, T0, limit=1) == [(a2, "commented")]
    assert [a for a, _ in changed(store, T0, tenant_id="t2")] != []
    assert changed(store, T0, tenant_id="t3") == []
    # the evaluator's own changes are kept too: a repeat, then its clear
    raise_at(store, Origin("r3"), "dev-a", T0 + 6000)
    store.alerts.repeat_alert(Origin("r3"), "dev-a", value=9.0, message="sag", now_ms=T0 + 7000)
    cleared = store.alerts.clear_open("r3", "dev-a", now_ms=T0 + 8000)
    assert cleared is not None
    assert (cleared.last_change, cleared.changed_ms) == ("cleared", T0 + 8000)
    assert changed(store, T0 + 6000) == [(cleared.alert_id, "cleared")]


def test_a_capped_catch_up_says_the_alert_list_needs_reloading(store: SqlStore) -> None:
    for i in range(5):
        raise_at(store, Origin(f"r{i}"), "dev-a", T0 + 1000 + i)
    everything = Subscription(kinds=frozenset(EventKind))
    cut = missed_alerts(
        store.alerts,
        tenant_id="default",
        subscription=everything,
        since_ms=T0,
        now_ms=T0 + 10_000,
        limit=3,
    )
    assert [e.ts_ms for e in cut.events] == [T0 + 1000, T0 + 1001, T0 + 1002]
    assert cut.alerts_truncated
    whole = missed_alerts(
        store.alerts,
        tenant_id="default",
        subscription=everything,
        since_ms=T0,
        now_ms=T0 + 10_000,
        limit=5,
    )
    assert len(whole.events) == 5
    assert not whole.alerts_truncated


@pytest.fixture
def live_alerts(store: SqlStore) -> Iterator[LiveServer]:
    server = LiveServer(two_tenants(store), alerts=True).start()
    yield server
    server.stop()


def post(live: LiveServer, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(
        live.http_url + path,
        json=body,
        headers={"Authorization": f"Bearer {OPERATOR}"},
        timeout=10,
    )
    assert response.status_code in {200, 201}, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_client_that_missed_an_ack_and_a_clear_sees_them_on_reconnecting(
    live_alerts: LiveServer,
) -> None:
    live = live_alerts
    store = live.store
    assert live.feed is not None
    alert, _ = store.alerts.raise_alert(
        Origin("r1"), "dev-a", value=9.5, message="sag", now_ms=T0 + 1000
    )
    with open_socket(live) as ws:
        subscribe(ws, alerts=True)
        live.feed.on_alert_change(AlertChange.of(ChangeKind.RAISED, alert, T0 + 1000))
        raised = receive(ws)
        assert (raised["type"], raised["alert"]["change"]) == ("alert", "raised")
        cursor = raised["ts_ms"]
    # away: the alert is acknowledged and cleared; another tenant's alert is raised
    post(live, f"/api/v1/alerts/{alert.alert_id}/acknowledge")
    post(live, f"/api/v1/alerts/{alert.alert_id}/clear")
    store.alerts.raise_alert(
        Origin("r9", tenant_id="t2"), "dev-b", value=1.0, message="x", now_ms=T0 + 2000
    )
    with open_socket(live) as ws:
        subscribe(ws, alerts=True, since=cursor)
        missed = receive(ws)
        assert missed["type"] == "alert"
        assert missed["alert"]["alert_id"] == alert.alert_id
        assert missed["alert"]["change"] == "cleared"
        assert missed["alert"]["status"] == "cleared"
        assert missed["alert"]["acknowledged"] is True
        assert receive(ws) == {
            "type": "caught_up",
            "id": "default",
            "readings": 0,
            "truncated": False,
            "alerts": 1,
            "alerts_truncated": False,
        }
        # the next change arrives live, once
        post(live, f"/api/v1/alerts/{alert.alert_id}/comments", {"text": "replaced the fuse"})
        comment = receive(ws)
        assert (comment["type"], comment["alert"]["change"]) == ("alert", "commented")
        assert comment["ts_ms"] > missed["ts_ms"]
        # a client resuming from the last change it saw gets nothing twice
    with open_socket(live) as ws:
        subscribe(ws, alerts=True, since=comment["ts_ms"])
        assert receive(ws)["type"] == "caught_up"


def test_a_subscription_without_alerts_catches_up_no_alert(live_alerts: LiveServer) -> None:
    raise_at(live_alerts.store, Origin("r1"), "dev-a", T0 + 1000)
    with open_socket(live_alerts) as ws:
        subscribe(ws, devices=["dev-a"], since=T0)
        summary = receive(ws)
        assert (summary["type"], summary["alerts"]) == ("caught_up", 0)


def test_server_sent_events_catch_up_alert_changes_too(live_alerts: LiveServer) -> None:
    alert_id = raise_at(live_alerts.store, Origin("r1"), "dev-a", T0 + 1000)
    live_alerts.store.alerts.acknowledge(alert_id, tenant_id="default", by="op", now_ms=T0 + 2000)
    url = live_alerts.http_url + "/api/v1/stream"
    headers = {"Authorization": "Bearer viewer-default"}
    params = {"alerts": "true", "since": str(T0 + 1000)}
    with httpx.stream("GET", url, params=params, headers=headers, timeout=5) as response:
        assert response.status_code == 200
        first = next(sse_events(response.iter_lines()))
        assert (first["event"], first["id"]) == ("alert", str(T0 + 2000))
        assert json.loads(first["data"])["alert"]["change"] == "acknowledged"


def test_a_per_device_since_catches_up_alerts_from_its_earliest_instant(
    live_alerts: LiveServer,
) -> None:
    early = raise_at(live_alerts.store, Origin("r1"), "dev-a", T0 + 1000)
    late = raise_at(live_alerts.store, Origin("r2"), "dev-a", T0 + 5000)
    with open_socket(live_alerts) as ws:
        # dev-a resumes after 4 s, dev-a2 after 0.5 s: alert changes are the
        # tenant's, so both alerts (changed after 0.5 s) come back
        subscribe(ws, alerts=True, since={"dev-a": T0 + 4000, "dev-a2": T0 + 500})
        messages = [receive(ws) for _ in range(3)]
        alerts = [m["alert"]["alert_id"] for m in messages if m["type"] == "alert"]
        assert alerts == [early, late]
        assert messages[-1]["type"] == "caught_up"
        assert messages[-1]["alerts"] == 2
