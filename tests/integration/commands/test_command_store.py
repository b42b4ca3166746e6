"""Command keys, listing and cancelling on both stores (no broker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.commands.keys import SqlCommandKeys
from wattline.commands.service import CommandService
from wattline.commands.store import SqlCommandStore
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

AUTH = {"Authorization": "Bearer t"}
T0 = 1_795_593_600_000


class Clock:
    def __init__(self) -> None:
        self.now_ms = T0

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: SqlStore, clock: Clock) -> CommandService:
    store.register_device("meter-1", "dc_meter", T0, tenant_id=DEFAULT_TENANT)
    store.register_device("meter-9", "dc_meter", T0, tenant_id="other")
    return CommandService(
        SqlCommandStore(store.engine), SqlCommandKeys(store.engine, clock), store, clock_ms=clock
    )


@pytest.fixture
def api(store: SqlStore, service: CommandService, clock: Clock) -> Iterator[TestClient]:
    services = ApiServices(
        store=store,
        admin_token="t",
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        commands=service,
        clock_ms=clock,
    )
    with TestClient(create_app(services)) as client:
        yield client


def test_rotation_keeps_the_old_key_for_its_grace(service: CommandService, clock: Clock) -> None:
    first = service.keys.public_keys(DEFAULT_TENANT)
    assert len(first) == 1
    new = service.keys.rotate(DEFAULT_TENANT, grace_ms=60_000)
    keys = service.keys.public_keys(DEFAULT_TENANT)
    assert {k.key_id for k in keys} == {new.key_id, first[0].key_id}
    assert (
        service.envelope(service.issue(DEFAULT_TENANT, "meter-1", "ping", {}, "t"))["key_id"]
        == new.key_id
    )
    clock.now_ms += 60_001
    assert [k.key_id for k in service.keys.public_keys(DEFAULT_TENANT)] == [new.key_id]
    # each tenant has keys of its own
    assert service.keys.public_keys("other")[0].key_id not in {new.key_id, first[0].key_id}


def test_list_pages_newest_first_and_cancel(api: TestClient, clock: Clock) -> None:
    ids = []
    for _ in range(3):
        clock.now_ms += 1
        answer = api.post("/api/v1/devices/meter-1/commands", json={"name": "ping"}, headers=AUTH)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["command_id"])
    page = api.get("/api/v1/devices/meter-1/commands?limit=2", headers=AUTH).json()
    assert [c["command_id"] for c in page["commands"]] == ids[:0:-1]
    rest = api.get(
        "/api/v1/devices/meter-1/commands",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=AUTH,
    ).json()
    assert ([c["command_id"] for c in rest["commands"]], rest["next_cursor"]) == ([ids[0]], None)
    cancelled = api.post(f"/api/v1/devices/meter-1/commands/{ids[0]}/cancel", headers=AUTH)
    assert cancelled.json()["state"] == "cancelled"
    assert [s["to_state"] for s in cancelled.json()["history"]] == ["queued", "cancelled"]
    again = api.post(f"/api/v1/devices/meter-1/commands/{ids[0]}/cancel", headers=AUTH)
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"name": "ping", "command": "relay_on"}, 422),
        ({"name": "Bad Name"}, 422),
        ({"command": "relay_dance"}, 422),
        ({"name": "ping", "expires_in_s": 0}, 422),
        ({"name": "ping", "expires_at": "2020-01-01T00:00:00Z"}, 422),
        ({"name": "reboot"}, 201),  # the admin token acts as an owner
    ],
)
def test_issue_refusals(api: TestClient, body: dict[str, object], status: int) -> None:
    answer = api.post("/api/v1/devices/meter-1/commands", json=body, headers=AUTH)
    assert answer.status_code == status, answer.text


def test_another_tenants_device_is_unknown(api: TestClient) -> None:
    answer = api.post("/api/v1/devices/meter-9/commands", json={"name": "ping"}, headers=AUTH)
    assert answer.status_code == 404
