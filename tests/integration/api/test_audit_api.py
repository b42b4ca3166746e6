"""GET /api/v1/audit and the changes routes record, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.ingest.replay import ReplayReport
from wattline.security.audit import AuditEntry, AuditEvent, ChainReport
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.storage.audit_sink import StoreAuditSink
from wattline.storage.base import CommitResult, QuarantineRecord
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.audit import SqlAuditStore

TOKEN = "t"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
VIEWER = {"Authorization": "Bearer viewer"}


class _Viewers:
    """An authenticator knowing one viewer of the default tenant."""

    def authenticate(self, bearer: str, source: str | None) -> Principal | None:
        del source
        if bearer != "viewer":
            return None
        return Principal(PrincipalKind.USER, "u-1", DEFAULT_TENANT, Role.VIEWER, "vic@example.org")


def _services(
    store: SqlStore, audit_log: SqlAuditStore, registry: CollectorRegistry
) -> ApiServices:
    return ApiServices(
        store=store,
        admin_token=TOKEN,
        registry=registry,
        offline_after_ms=120_000,
        audit=StoreAuditSink(audit_log, registry),
        audit_log=audit_log,
        authenticator=_Viewers(),
    )


@pytest.fixture
def audit_log(store: SqlStore) -> SqlAuditStore:
    return SqlAuditStore(store.engine)


@pytest.fixture
def api(store: SqlStore, audit_log: SqlAuditStore) -> Iterator[TestClient]:
    with TestClient(create_app(_services(store, audit_log, CollectorRegistry()))) as client:
        yield client


def test_device_changes_are_recorded_and_listed_newest_first(
    api: TestClient, audit_log: SqlAuditStore
) -> None:
    assert api.post("/api/v1/devices", json={"device_id": "p1"}, headers=AUTH).status_code == 201
    again = api.post("/api/v1/devices", json={"device_id": "p1", "tags": ["rail"]}, headers=AUTH)
    assert again.status_code == 200
    deleted = api.delete("/api/v1/devices/p1", params={"samples": "delete"}, headers=AUTH)
    assert deleted.status_code == 200

    page = api.get("/api/v1/audit", headers=AUTH).json()
    assert [e["action"] for e in page["entries"]] == [
        "device.delete",
        "device.update",
        "device.create",
    ]
    update = page["entries"][1]
    assert update["object"] == "device:p1"
    assert update["summary"] == {"type": None, "tags": ["rail"]}
    assert (update["actor"], update["source"]) == ("admin token", "testclient")
    assert audit_log.verify().intact


def test_pages_filter_by_action_and_follow_cursors(
    api: TestClient, audit_log: SqlAuditStore
) -> None:
    for n in range(5):
        api.post("/api/v1/devices", json={"device_id": f"d{n}"}, headers=AUTH)
    first = api.get("/api/v1/audit", params={"limit": 3}, headers=AUTH).json()
    assert [e["object"] for e in first["entries"]] == ["device:d4", "device:d3", "device:d2"]
    second = api.get(
        "/api/v1/audit", params={"limit": 3, "cursor": first["next_cursor"]}, headers=AUTH
    ).json()
    assert [e["object"] for e in second["entries"]] == ["device:d1", "device:d0"]
    assert second["next_cursor"] is None
    none = api.get("/api/v1/audit", params={"action": "device.delete"}, headers=AUTH).json()
    assert none == {"entries": [], "count": 0, "next_cursor": None}
    bad = api.get("/api/v1/audit", params={"cursor": "bm9wZQ"}, headers=AUTH)
    assert bad.status_code == 422


def test_only_the_callers_tenant_is_shown(api: TestClient, audit_log: SqlAuditStore) -> None:
    audit_log.append(AuditEvent("device.create", "eve", "device:x", tenant_id="other-tenant"))
    api.post("/api/v1/devices", json={"device_id": "mine"}, headers=AUTH)
    objects = [e["object"] for e in api.get("/api/v1/audit", headers=AUTH).json()["entries"]]
    assert objects == ["device:mine"]


def test_admins_only(api: TestClient) -> None:
    assert api.get("/api/v1/audit").status_code == 401
    assert api.get("/api/v1/audit", headers=VIEWER).status_code == 403


def test_without_an_audit_log_the_list_is_not_offered(store: SqlStore) -> None:
    services = ApiServices(store, TOKEN, CollectorRegistry(), 120_000)
    with TestClient(create_app(services)) as client:
        assert client.get("/api/v1/audit", headers=AUTH).status_code == 501
        # and changes still go through, unrecorded
        assert client.post("/api/v1/devices", json={"device_id": "a"}, headers=AUTH).is_success


class _BrokenAuditLog:
    def append(self, event: AuditEvent) -> AuditEntry:
        raise RuntimeError(f"database gone while recording {event.action}")

    def audit_page(
        self, tenant_id: str, before_seq: int | None, limit: int, action: str | None = None
    ) -> list[AuditEntry]:
        raise NotImplementedError

    def verify(self) -> ChainReport:
        raise NotImplementedError


def test_a_failed_entry_never_fails_the_change(store: SqlStore) -> None:
    registry = CollectorRegistry()
    sink = StoreAuditSink(_BrokenAuditLog(), registry)
    services = ApiServices(store, TOKEN, registry, 120_000, audit=sink)
    with TestClient(create_app(services)) as client:
        created = client.post("/api/v1/devices", json={"device_id": "a"}, headers=AUTH)
    assert created.status_code == 201
    assert registry.get_sample_value("wattline_audit_failures_total") == 1.0


def test_a_quarantine_replay_is_recorded(store: SqlStore, audit_log: SqlAuditStore) -> None:
    def replay(records: Sequence[QuarantineRecord]) -> ReplayReport:
        return ReplayReport([r.id for r in records], {}, CommitResult(0, 0))

    registry = CollectorRegistry()
    services = replace(_services(store, audit_log, registry), replay=replay)
    with TestClient(create_app(services)) as client:
        replayed = client.post("/api/v1/quarantine/replay", json={"all": True}, headers=AUTH)
        assert replayed.status_code == 200, replayed.text
        [entry] = client.get("/api/v1/audit", headers=AUTH).json()["entries"]
    assert (entry["action"], entry["object"]) == ("quarantine.replay", "quarantine")
    assert entry["summary"] == {"replayed": 0, "accepted": 0}
