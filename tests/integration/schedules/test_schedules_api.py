"""/api/v1/schedules and the scheduler over SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from tests.integration.security.tenants import ADMIN_TOKEN, PRINCIPALS, FixedTokens, bearer

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.schedules.scheduler import Scheduler
from wattline.schedules.service import ScheduleService
from wattline.storage.audit_sink import StoreAuditSink
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.audit import SqlAuditStore
from wattline.storage.sql.leases import SqlLeases
from wattline.storage.sql.schedules import SqlSchedules

OPERATOR = bearer("operator-default")
VIEWER = bearer("viewer-default")
OTHER = bearer("owner-t2")
MINUTE_MS = 60_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@dataclass
class Clock:
    now_ms: int = ms("2026-03-28T12:00+01:00")

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class Issued:
    commands: list[dict[str, Any]] = field(default_factory=list)

    def issue(  # noqa: PLR0917 - CommandIssuer's signature
        self,
        tenant_id: str,
        device_id: str,
        name: str,
        parameters: Mapping[str, Any],
        issuer: str,
        expires_at: int,
    ) -> str:
        self.commands.append(
            {
                "tenant": tenant_id,
                "device": device_id,
                "name": name,
                "parameters": dict(parameters),
                "issuer": issuer,
                "expires_at": expires_at,
            }
        )
        return f"cmd-{len(self.commands)}"


@dataclass
class Rig:
    client: TestClient
    store: SqlStore
    clock: Clock
    issued: Issued
    audit_log: SqlAuditStore

    def scheduler(self, holder: str) -> Scheduler:
        return Scheduler(
            SqlSchedules(self.store.engine),
            self.store,
            self.issued,
            self.clock,
            leases=SqlLeases(self.store.engine, self.clock),
            holder=holder,
        )


@pytest.fixture
def rig(store: SqlStore) -> Iterator[Rig]:
    for device_id, tags in (("lamp-1", ["garden"]), ("lamp-2", ["garden"]), ("heater", [])):
        store.register_device(device_id, "smart_plug", 0, tags, tenant_id=DEFAULT_TENANT)
    clock = Clock()
    registry = CollectorRegistry()
    audit_log = SqlAuditStore(store.engine)
    services = ApiServices(
        store=store,
        admin_token=ADMIN_TOKEN,
        registry=registry,
        offline_after_ms=120_000,
        authenticator=FixedTokens(PRINCIPALS),
        audit=StoreAuditSink(audit_log, registry),
        audit_log=audit_log,
        schedules=ScheduleService(SqlSchedules(store.engine), clock, store),
        clock_ms=clock,
    )
    with TestClient(create_app(services)) as client:
        yield Rig(client, store, clock, Issued(), audit_log)


GARDEN_AT_0230 = {
    "name": "garden lights",
    "target": {"tag": "garden"},
    "kind": "daily",
    "timezone": "Europe/Berlin",
    "daily_time": "02:30",
    "command": "relay_on",
    "parameters": {"for_s": 600},
}


def test_crud_with_upcoming_runs_in_local_time(rig: Rig) -> None:
    made = rig.client.post("/api/v1/schedules", json=GARDEN_AT_0230, headers=OPERATOR)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["upcoming"][:3] == [
        "2026-03-29T03:30:00+02:00",  # the spring-forward night: shifted by the gap
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    sid = body["schedule_id"]
    assert (
        rig.client.get(f"/api/v1/schedules/{sid}", headers=OPERATOR).json()["name"]
        == "garden lights"
    )
    assert rig.client.get(f"/api/v1/schedules/{sid}", headers=OTHER).status_code == 404
    assert rig.client.get("/api/v1/schedules", headers=OTHER).json()["schedules"] == []
    assert rig.client.get("/api/v1/schedules", headers=VIEWER).status_code == 403
    changed = rig.client.put(
        f"/api/v1/schedules/{sid}", json={**GARDEN_AT_0230, "daily_time": "21:00"}, headers=OPERATOR
    )
    assert changed.json()["upcoming"][0] == "2026-03-28T21:00:00+01:00"
    assert rig.client.delete(f"/api/v1/schedules/{sid}", headers=OTHER).status_code == 404
    assert rig.client.delete(f"/api/v1/schedules/{sid}", headers=OPERATOR).status_code == 204
    assert rig.client.get(f"/api/v1/schedules/{sid}", headers=OPERATOR).status_code == 404
    actions = [e.action for e in rig.audit_log.audit_page(DEFAULT_TENANT, None, 10)]
    assert actions == ["schedule.delete", "schedule.update", "schedule.create"]


BAD_INPUT: list[tuple[dict[str, Any], list[str]]] = [
    ({"timezone": "Europe/Atlantis"}, ["body", "timezone"]),
    ({"daily_time": "25:00"}, ["body", "daily_time"]),
    ({"kind": "cron", "cron": "0 0 30 2 *"}, ["body", "cron"]),
    # no coordinates, and a named device without a location
    (
        {"kind": "sun", "sun_event": "sunset", "target": {"device_ids": ["heater"]}},
        ["body", "latitude_deg"],
    ),
    ({"kind": "sun", "sun_event": "sunset", "latitude_deg": 52}, ["body", "latitude_deg"]),
    ({"target": {"tag": "garden", "device_type": "smart_plug"}}, ["body", "target"]),
    ({"command": "Relay On"}, ["body", "command"]),
    ({"missed": "late"}, ["body", "late_window_s"]),
    ({"parameters": {"blob": "x" * 5000}}, ["body", "parameters"]),
    ({"kind": "weekly"}, ["body", "kind"]),
    ({"offset_min": 721}, ["body", "offset_min"]),
    ({"latitude_deg": 91}, ["body", "latitude_deg"]),
    ({"name": ""}, ["body", "name"]),
]


def test_bad_input_is_422_naming_the_field(rig: Rig) -> None:
    for change, loc in BAD_INPUT:
        answer = rig.client.post(
            "/api/v1/schedules", json={**GARDEN_AT_0230, **change}, headers=OPERATOR
        )
        assert answer.status_code == 422, (change, answer.text)
        assert answer.json()["detail"][0]["loc"] == loc, change


def test_one_scheduler_runs_the_spring_forward_night_once(rig: Rig) -> None:
    made = rig.client.post("/api/v1/schedules", json=GARDEN_AT_0230, headers=OPERATOR).json()
    leader, other = rig.scheduler("process-a"), rig.scheduler("process-b")
    runs = []
    rig.clock.now_ms = ms("2026-03-29T01:00+01:00")
    for _ in range(4 * 12):  # a tick every 5 minutes, 01:00 CET to 05:00 CEST
        runs += leader.run_once()
        assert other.run_once() == []  # the lease is process-a's
        rig.clock.now_ms += 5 * MINUTE_MS
    assert [r.planned_ms for r in runs] == [ms("2026-03-29T03:30+02:00")]
    assert sorted(c["device"] for c in rig.issued.commands) == ["lamp-1", "lamp-2"]
    assert {c["issuer"] for c in rig.issued.commands} == {f"schedule:{made['schedule_id']}"}
    assert rig.issued.commands[0]["parameters"] == {"for_s": 600}
    after = rig.client.get(f"/api/v1/schedules/{made['schedule_id']}", headers=OPERATOR).json()
    assert after["next_run"] == "2026-03-30T00:30:00.000Z"
    assert after["last_run"] == "2026-03-29T01:30:00.000Z"


def test_missed_runs_after_downtime_follow_the_policy(rig: Rig) -> None:
    late = {**GARDEN_AT_0230, "daily_time": "18:00", "missed": "late", "late_window_s": 3600}
    skip = {**GARDEN_AT_0230, "daily_time": "18:00", "target": {"device_ids": ["heater"]}}
    rig.client.post("/api/v1/schedules", json=late, headers=OPERATOR)
    rig.client.post("/api/v1/schedules", json=skip, headers=OPERATOR)
    rig.clock.now_ms = ms("2026-03-28T18:40+01:00")  # Wattline was down at 18:00
    runs = rig.scheduler("process-a").run_once()
    assert len(runs) == 1
    assert sorted(c["device"] for c in rig.issued.commands) == ["lamp-1", "lamp-2"]
    rig.clock.now_ms = ms("2026-03-29T18:00:20+02:00")
    assert len(rig.scheduler("process-a").run_once()) == 2  # both on time the next day
