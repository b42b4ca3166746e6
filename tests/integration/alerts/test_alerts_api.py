"""The alert routes: rules validated field by field and versioned, alerts listed,
paged, acknowledged, cleared, commented and summarised, per tenant and role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from tests.integration.alerts.receivers import sqlite_store
from tests.integration.security.tenants import ADMIN_TOKEN, PRINCIPALS, FixedTokens, bearer

from wattline.alerts.evaluator import Evaluator
from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.model.events import Committed
from wattline.model.messages import Reading
from wattline.security.audit import AuditEvent
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore

T0 = 1_764_057_600_000
ADMIN = bearer(ADMIN_TOKEN)
LOW = {
    "name": "Low voltage",
    "kind": "threshold",
    "severity": "critical",
    "metric": "voltage_v",
    "params": {"op": "below", "limit": 10, "hysteresis": 1},
}


class Audit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)


@pytest.fixture
def audit() -> Audit:
    return Audit()


@pytest.fixture
def client(store: SqlStore, audit: Audit) -> Iterator[TestClient]:
    devices = [f"m{i}" for i in range(5)]
    readings = [Reading(d, T0, {"voltage_v": 230.0}, 1) for d in devices]
    store.commit(
        CommitBatch(readings=readings, seen_ms=dict.fromkeys(devices, T0), register=devices)
    )
    with TestClient(create_app(_services(store, audit))) as test_client:
        yield test_client


def _services(store: SqlStore, audit: Audit) -> ApiServices:
    return ApiServices(
        store=store,
        admin_token=ADMIN_TOKEN,
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        authenticator=FixedTokens(PRINCIPALS),
        audit=audit,
        alerts=store.alerts,
        notifications=store.notifications,
        clock_ms=lambda: T0,
    )


def raise_alerts(store: SqlStore, devices: list[str]) -> None:
    evaluator = Evaluator(store.alerts, clock_ms=lambda: T0)
    for i, device in enumerate(devices):
        evaluator.on_committed(
            Committed(readings=[Reading(device, T0 + 1000 * (i + 1), {"voltage_v": 5.0})])
        )
    evaluator.run_once()
    evaluator.stop()


def test_rules_crud_versions_and_audit(client: TestClient, audit: Audit) -> None:
    created = client.post("/api/v1/alert-rules", json=LOW, headers=ADMIN)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["version"], rule["scope"], rule["params"]["duration_s"]) == (1, "tenant", 0.0)
    changed = client.put(
        f"/api/v1/alert-rules/{rule['rule_id']}",
        json={**LOW, "params": {**LOW["params"], "limit": 11}},
        headers=ADMIN,
    )
    assert changed.json()["version"] == 2
    versions = client.get(
        f"/api/v1/alert-rules/{rule['rule_id']}/versions", headers=bearer("viewer-default")
    )
    assert [v["definition"]["params"]["limit"] for v in versions.json()["versions"]] == [10, 11]
    assert client.get("/api/v1/alert-rules", headers=bearer("owner-t2")).json()["rules"] == []
    assert (
        client.get(f"/api/v1/alert-rules/{rule['rule_id']}", headers=bearer("owner-t2")).status_code
        == 404
    )
    assert (
        client.post("/api/v1/alert-rules", json=LOW, headers=bearer("operator-default")).status_code
        == 403
    )
    assert client.delete(f"/api/v1/alert-rules/{rule['rule_id']}", headers=ADMIN).status_code == 204
    assert client.get("/api/v1/alert-rules", headers=ADMIN).json()["rules"] == []
    assert [e.action for e in audit.events] == [
        "alert_rule.create",
        "alert_rule.update",
        "alert_rule.delete",
    ]


BAD_RULES: list[tuple[dict[str, Any], list[str]]] = [
    ({**LOW, "params": {"op": "below"}}, ["body", "threshold", "params", "limit"]),
    ({**LOW, "params": {"op": "under", "limit": 1}}, ["body", "threshold", "params", "op"]),
    (
        {**LOW, "params": {**LOW["params"], "hysteresis": -1}},
        ["body", "threshold", "params", "hysteresis"],
    ),
    ({**LOW, "kind": "telepathy"}, ["body"]),
    ({**LOW, "metric": "bad metric"}, ["body", "threshold", "metric"]),
    ({**LOW, "severity": "apocalyptic"}, ["body", "threshold", "severity"]),
    ({**LOW, "name": ""}, ["body", "threshold", "name"]),
    (
        {"kind": "range", "name": "r", "metric": "v", "params": {"low": 5, "high": 1}},
        ["body", "range", "params"],
    ),
    (
        {"kind": "absence", "name": "a", "params": {"minutes": 0}},
        ["body", "absence", "params", "minutes"],
    ),
    ({**LOW, "scope": "device"}, ["body", "threshold"]),
    (
        {
            "kind": "energy_budget",
            "name": "b",
            "metric": "energy_wh",
            "params": {"limit_kwh": 5, "timezone": "Mars/Base"},
        },
        ["body", "energy_budget", "params", "timezone"],
    ),
]


@pytest.fixture
def one_client(tmp_path: Path) -> Iterator[TestClient]:
    """Validation does not depend on the backend: SQLite alone."""
    with sqlite_store(tmp_path) as opened, TestClient(create_app(_services(opened, Audit()))) as c:
        yield c


def test_a_bad_rule_is_422_naming_the_field(one_client: TestClient) -> None:
    for body, loc in BAD_RULES:
        response = one_client.post("/api/v1/alert-rules", json=body, headers=ADMIN)
        assert response.status_code == 422, response.text
        locs = [error["loc"][: len(loc)] for error in response.json()["detail"]]
        assert loc in locs, locs


@settings(
    max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(
    name_length=st.integers(min_value=0, max_value=260),
    duration_s=st.floats(min_value=-10, max_value=8 * 86_400),
)
def test_limits_at_the_edges(one_client: TestClient, name_length: int, duration_s: float) -> None:
    body = {
        **LOW,
        "name": "n" * name_length,
        "params": {**LOW["params"], "duration_s": duration_s},
    }
    response = one_client.post("/api/v1/alert-rules", json=body, headers=ADMIN)
    valid = 1 <= name_length <= 200 and 0 <= duration_s <= 7 * 86_400
    assert response.status_code == (201 if valid else 422), response.text


def test_a_device_scope_must_be_your_device(client: TestClient) -> None:
    mine = {**LOW, "scope": "device", "scope_value": "m1"}
    assert client.post("/api/v1/alert-rules", json=mine, headers=ADMIN).status_code == 201
    assert (
        client.post("/api/v1/alert-rules", json=mine, headers=bearer("owner-t2")).status_code == 404
    )


def test_alerts_list_page_ack_clear_comment_summary(
    client: TestClient, store: SqlStore, audit: Audit
) -> None:
    assert client.post("/api/v1/alert-rules", json=LOW, headers=ADMIN).status_code == 201
    raise_alerts(store, [f"m{i}" for i in range(5)])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "status": "active"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/alerts", params=params, headers=bearer("viewer-default")).json()
        seen += [a["device_id"] for a in page["alerts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["m4", "m3", "m2", "m1", "m0"]  # newest first, each once
    alert_id = client.get("/api/v1/alerts", params={"device_id": "m2"}, headers=ADMIN).json()[
        "alerts"
    ][0]["alert_id"]
    path = f"/api/v1/alerts/{alert_id}"
    assert client.post(f"{path}/acknowledge", headers=bearer("viewer-default")).status_code == 403
    acked = client.post(f"{path}/acknowledge", headers=bearer("operator-default")).json()
    assert (acked["acknowledged"], acked["acknowledged_by"]) == (True, "u-operator@example.org")
    commented = client.post(
        f"{path}/comments", json={"text": "crew on site"}, headers=bearer("operator-default")
    )
    assert commented.status_code == 201
    assert [c["text"] for c in commented.json()["comments"]] == ["crew on site"]
    summary = client.get("/api/v1/alerts/summary", headers=ADMIN).json()
    assert (
        summary["total_active"],
        summary["active"]["critical"],
        summary["unacknowledged"]["critical"],
    ) == (5, 5, 4)
    cleared = client.post(f"{path}/clear", headers=bearer("operator-default")).json()
    assert (cleared["status"], cleared["cleared_by"]) == ("cleared", "u-operator@example.org")
    assert (
        client.get("/api/v1/alerts", params={"status": "cleared"}, headers=ADMIN).json()["alerts"][
            0
        ]["alert_id"]
        == alert_id
    )
    assert (
        client.get("/api/v1/alerts", params={"acknowledged": "true"}, headers=ADMIN).json()[
            "alerts"
        ][0]["alert_id"]
        == alert_id
    )
    assert (
        client.get(
            "/api/v1/alerts", params={"since": "2030-01-01T00:00:00Z"}, headers=ADMIN
        ).json()["alerts"]
        == []
    )
    assert (
        client.get("/api/v1/alerts", params={"cursor": "nonsense"}, headers=ADMIN).status_code
        == 422
    )
    # another tenant sees none of it
    t2 = bearer("owner-t2")
    assert client.get("/api/v1/alerts", headers=t2).json()["alerts"] == []
    assert client.get(path, headers=t2).status_code == 404
    assert client.post(f"{path}/acknowledge", headers=t2).status_code == 404
    assert [e.action for e in audit.events if e.action.startswith("alert.")] == [
        "alert.acknowledge",
        "alert.clear",
    ]


def test_channels_secrets_and_the_private_allowance(one_client: TestClient) -> None:
    hook = {
        "name": "ops",
        "kind": "webhook",
        "target": "http://127.0.0.1:9/hook",
        "allow_private": True,
    }
    created = one_client.post("/api/v1/alert-channels", json=hook, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["secret"].startswith("whsec_")
    listed = one_client.get("/api/v1/alert-channels", headers=ADMIN).json()["channels"]
    assert [c["secret"] for c in listed] == [None]
    # another tenant's admin may not point webhooks at private networks
    assert (
        one_client.post("/api/v1/alert-channels", json=hook, headers=bearer("owner-t2")).status_code
        == 403
    )
    quiet = {
        "name": "mail",
        "kind": "email",
        "target": "ops@example.org",
        "routing": {"quiet_start": "22:00"},
    }
    assert one_client.post("/api/v1/alert-channels", json=quiet, headers=ADMIN).status_code == 422
    bad_zone = {**quiet, "routing": {"timezone": "Nowhere/Land"}}
    assert (
        one_client.post("/api/v1/alert-channels", json=bad_zone, headers=ADMIN).status_code == 422
    )
    assert one_client.get(
        "/api/v1/alert-channels/deliveries", params={"status": "dead"}, headers=ADMIN
    ).json() == {"deliveries": []}
