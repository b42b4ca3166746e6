"""Every route declares who may call it, and the app enforces it: generated from the route table.

A route added later without ``require(...)`` (or the explicit ``PUBLIC``) fails
``test_every_route_declares_a_permission``; the 401, 403 and 404 checks run
over whatever routes the app has, so the new route is covered too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from starlette.routing import BaseRoute
from tests.integration.security.tenants import (
    ADMIN_TOKEN,
    BOB_EMAIL,
    PRINCIPALS,
    FixedTokens,
    add_user,
    bearer,
)

from wattline.api.app import create_app
from wattline.api.deps import Public, RequiresRole, declared_permission
from wattline.api.services import ApiServices
from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

T0 = 1_764_057_600_000
DEVICE = "dev-default"  # the default tenant's device every generated request names
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Writes on the caller's own account (log out, change the password, second
# factor, switch tenant): any member may, whatever their role.
SELF_SERVICE = "/api/v1/auth/"
# A valid value for each required query parameter and body of the app's routes:
# a new route that needs one fails below until it is added here.
QUERY_SAMPLES = {
    "samples": "delete",
    "interval": "1h",
    "tag": "kitchen",
    "device_type": "plug",
    "version": "1.0",
    "key": "priority",  # the HyperVolt seed's get_preference action
}
BODY_SAMPLES = {
    # the smart-plug seed's control body (api/compat/smartplug_commands.py)
    ("POST", "/devices/{device_id}/command"): {"command": "relay_on"},
    ("POST", "/api/v1/devices/{device_id}/shares"): {"user": BOB_EMAIL, "role": "viewer"},
    ("POST", "/api/v1/devices/{device_id}/credentials"): {"kind": "http_token"},
    ("POST", "/api/v1/devices/{device_id}/certificates"): {"csr": "not a CSR"},
    ("POST", "/api/v1/pairing/claim"): {"code": "ABCDEFGH"},
    ("PATCH", "/api/v1/devices/{device_id}"): {
        "location": {"latitude_deg": 52.5, "longitude_deg": 13.4}
    },
    ("PUT", "/api/v1/devices/{device_id}/pv-system"): {
        "latitude_deg": 51.5,
        "longitude_deg": -0.1,
        "tilt_deg": 30,
        "azimuth_deg": 180,
        "kwp": 4,
    },
}


def _app_services(store: SqlStore) -> ApiServices:
    return ApiServices(
        store=store,
        admin_token=ADMIN_TOKEN,
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        authenticator=FixedTokens(PRINCIPALS),
        credentials=store,
    )


def _seed(store: SqlStore) -> None:
    readings = [Reading(DEVICE, T0 + i * 10_000, {"power_w": 5.0}, i) for i in range(6)]
    store.commit(CommitBatch(readings=readings, seen_ms={DEVICE: T0}, register=[DEVICE]))
    add_user(store, "u-bob", BOB_EMAIL)


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    """A fresh app on each backend, for the tests that change what is stored."""
    _seed(store)
    with TestClient(create_app(_app_services(store))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def table_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the generated per-route table, whose requests are all refused.

    A refused request changes nothing, so the ~500 cases share one store
    instead of migrating a database each; a guard that let a write through
    fails its own case whatever it changed. The table checks the API's guards
    (backend-independent); the store-level tenant scoping on both backends is
    covered by the tests below that use ``client``.
    """
    store = open_sqlite_store(tmp_path_factory.mktemp("route-table") / "wattline.db")
    _seed(store)
    try:
        with TestClient(create_app(_app_services(store))) as test_client:
            yield test_client
    finally:
        store.close()


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        # FastAPI keeps an included router whole (its routes carry the router's
        # prefix and dependencies); the app includes its routers without adding any.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


def _routes() -> list[APIRoute]:
    app = create_app(_app_services(None))  # type: ignore[arg-type] - the table only
    return list(_api_routes(app.routes))


def _calls(route: APIRoute) -> Iterator[tuple[str, str]]:
    for method in sorted(route.methods):
        yield method, route.path


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: DEVICE if m.group(1) == "device_id" else "u-bob", path)


def _request(client: TestClient, method: str, path: str, route: APIRoute, token: str | None):
    params = {}
    for field in route.dependant.query_params:
        if field.field_info.is_required():
            assert field.alias in QUERY_SAMPLES, f"{method} {path}: add {field.alias} to samples"
            params[field.alias] = QUERY_SAMPLES[field.alias]
    body = BODY_SAMPLES.get((method, path), {}) if route.body_field is not None else None
    headers = bearer(token) if token else {}
    return client.request(method, _url(path), params=params, json=body, headers=headers)


ROUTES = _routes()
DECLARED = [(r, declared_permission(r)) for r in ROUTES]
GUARDED = [(r, p) for r, p in DECLARED if isinstance(p, RequiresRole)]


def test_every_route_declares_a_permission() -> None:
    undeclared = [f"{sorted(r.methods)} {r.path}" for r, p in DECLARED if p is None]
    assert undeclared == [], "routes without require(role) or PUBLIC"
    public = sorted(r.path for r, p in DECLARED if isinstance(p, Public))
    # under /api/v1, only what a caller without credentials needs: a session, or the
    # CA's certificate a device fetches before it has any
    assert [p for p in public if p.startswith("/api/v1")] == [
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/ca.crt",
        # the signed link in a device's OTA instruction is its credential
        "/api/v1/firmware/download/{artifact_id}",
        "/api/v1/invitations/accept",
    ]
    assert [p for p in public if not p.startswith("/api/v1")] == [
        # the dashboard's page: it holds nothing, and signs in through /api/v1/auth/login
        "/",
        # the smart-plug seed's accounts and health (api/compat/smartplug.py)
        "/auth/login",
        "/auth/refresh",
        "/auth/register",
        "/compat/smartplug/health",
        # the smart-solar seed's health, and its devices' token-less ingest (quarantined)
        "/compat/smartsolar/health",
        "/compat/smartsolar/telemetry",
        "/docs",
        "/health",
        "/livez",
        "/metrics",
        "/readyz",
        "/redoc",
    ]


def test_the_declared_roles() -> None:
    declared = {
        (m, p): (perm.role.value, perm.platform) for r, perm in GUARDED for m, p in _calls(r)
    }
    assert declared[("GET", "/api/v1/devices")] == ("viewer", False)
    assert declared[("GET", "/api/v1/device-summary")] == ("viewer", False)
    assert declared[("POST", "/api/v1/devices")] == ("admin", False)
    assert declared[("DELETE", "/api/v1/devices/{device_id}")] == ("admin", False)
    assert declared[("PATCH", "/api/v1/devices/{device_id}")] == ("admin", False)
    assert declared[("GET", "/api/v1/quarantine")] == ("admin", True)
    assert declared[("POST", "/api/v1/quarantine/replay")] == ("admin", True)
    assert declared[("POST", "/api/v1/telemetry")] == ("admin", True)
    assert declared[("GET", "/api/v1/export")] == ("viewer", False)
    # a rule's preview reads what creating it would act on: the role of creating rules
    assert declared[("POST", "/api/v1/alert-rules/preview")] == ("admin", False)
    assert declared[("POST", "/api/v1/alert-rules")] == ("admin", False)
    reads = {k: v for k, v in declared.items() if k[0] == "GET" and v[0] == "viewer"}
    assert len(reads) >= 10
    assert all(
        role != "viewer"
        for (method, path), (role, _) in declared.items()
        if method in WRITES and not path.startswith(SELF_SERVICE)
    )


@pytest.mark.parametrize("route", [r for r, _ in GUARDED], ids=lambda r: r.path)
def test_no_token_is_401(table_client: TestClient, route: APIRoute) -> None:
    for method, path in _calls(route):
        response = _request(table_client, method, path, route, None)
        assert response.status_code == 401, (method, path, response.text)
        wrong = _request(table_client, method, path, route, "not-a-token")
        assert wrong.status_code == 401, (method, path)


def test_public_routes_need_no_token(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    "route",
    [r for r, _ in GUARDED if r.methods & WRITES and not r.path.startswith(SELF_SERVICE)],
    ids=lambda r: r.path,
)
def test_a_viewer_is_403_on_every_write(table_client: TestClient, route: APIRoute) -> None:
    for method, path in _calls(route):
        response = _request(table_client, method, path, route, "viewer-default")
        assert response.status_code == 403, (method, path, response.text)
        assert "role" in response.json()["detail"]


@pytest.mark.parametrize(
    "route", [r for r, _ in GUARDED if "{device_id}" in r.path], ids=lambda r: r.path
)
@pytest.mark.parametrize("token", ["owner-t2", "key-t2"])
def test_another_tenants_device_is_404(
    table_client: TestClient, route: APIRoute, token: str
) -> None:
    for method, path in _calls(route):
        response = _request(table_client, method, path, route, token)
        assert response.status_code == 404, (method, path, response.text)
        assert "t2" not in response.text
    # and it is still there for its own tenant
    assert (
        table_client.get(f"/api/v1/devices/{DEVICE}", headers=bearer(ADMIN_TOKEN)).status_code
        == 200
    )


def test_another_tenants_collections_are_empty(client: TestClient) -> None:
    t2 = bearer("owner-t2")
    listing = client.get("/api/v1/devices", headers=t2).json()
    assert (listing["count"], listing["devices"]) == (0, [])
    for path in ("/api/v1/telemetry", "/api/v1/energy"):
        fleet = client.get(path, params={"all": "true", "interval": "1h"}, headers=t2)
        assert fleet.status_code == 200, fleet.text
        assert fleet.json()["devices"] == []
        tagged = client.get(path, params={"type": "smart_plug", "interval": "1h"}, headers=t2)
        assert tagged.json()["devices"] == []
        named = client.get(path, params={"devices": DEVICE, "interval": "1h"}, headers=t2)
        assert named.status_code == 404
    export = client.get("/api/v1/export", params={"start": T0, "end": T0 + 60_000}, headers=t2)
    assert export.status_code == 200
    assert export.text.count("\n") <= 1  # the header at most
    assert client.get("/api/v1/shared-devices", headers=t2).json() == []
    # the default tenant still sees its own
    own = client.get("/api/v1/devices", headers=bearer(ADMIN_TOKEN)).json()
    assert [d["device_id"] for d in own["devices"]] == [DEVICE]


def test_a_taken_device_id_is_409_without_details(client: TestClient) -> None:
    t2 = bearer("owner-t2")
    taken = client.post("/api/v1/devices", json={"device_id": DEVICE}, headers=t2)
    assert taken.status_code == 409
    assert taken.json()["detail"] == "device id is taken"
    mine = client.post("/api/v1/devices", json={"device_id": "dev-t2"}, headers=t2)
    assert mine.status_code == 201
    assert client.get("/api/v1/devices/dev-t2", headers=t2).status_code == 200
    admin = bearer(ADMIN_TOKEN)
    assert client.get("/api/v1/devices/dev-t2", headers=admin).status_code == 404
    assert client.delete("/api/v1/devices/dev-t2?samples=delete", headers=admin).status_code == 404
    again = client.post("/api/v1/devices", json={"device_id": "dev-t2"}, headers=admin)
    assert again.status_code == 409


def test_platform_routes_are_the_default_tenants(client: TestClient) -> None:
    response = client.get("/api/v1/quarantine", headers=bearer("key-t2"))
    assert response.status_code == 403
    assert "'default' tenant" in response.json()["detail"]
    assert client.get("/api/v1/quarantine", headers=bearer(ADMIN_TOKEN)).status_code == 200


def test_sharing_grants_and_revocation_removes_access(client: TestClient) -> None:
    admin, bob, key = bearer(ADMIN_TOKEN), bearer("owner-t2"), bearer("key-t2")
    device = f"/api/v1/devices/{DEVICE}"
    assert client.get(device, headers=bob).status_code == 404

    # only the device's tenant's admins share it
    body = {"user": BOB_EMAIL, "role": "viewer"}
    assert client.post(f"{device}/shares", json=body, headers=bob).status_code == 404
    operator = bearer("operator-default")
    assert client.post(f"{device}/shares", json=body, headers=operator).status_code == 403
    unknown = client.post(f"{device}/shares", json={**body, "user": "x@y"}, headers=admin)
    assert unknown.status_code == 404
    shared = client.post(f"{device}/shares", json=body, headers=admin)
    assert shared.status_code == 201, shared.text
    assert shared.json()["user_id"] == "u-bob"

    assert client.get(device, headers=bob).status_code == 200
    latest = client.get(f"{device}/telemetry/latest", headers=bob)
    assert latest.status_code == 200
    assert latest.json()["values"]["power_w"]["value"] == 5.0
    fleet = client.get(
        "/api/v1/telemetry", params={"devices": DEVICE, "interval": "1h"}, headers=bob
    )
    assert fleet.status_code == 200
    listed = client.get("/api/v1/shared-devices", headers=bob).json()
    assert [(s["device"]["device_id"], s["role"]) for s in listed] == [(DEVICE, "viewer")]
    # a share is a person's: t2's API key still does not see the device
    assert client.get(device, headers=key).status_code == 404
    # nor does it bring the device into t2's own list, or let t2 change it
    assert client.get("/api/v1/devices", headers=bob).json()["count"] == 0
    assert client.delete(f"{device}?samples=delete", headers=bob).status_code == 404
    shares = client.get(f"{device}/shares", headers=admin).json()["shares"]
    assert [(s["email"], s["role"]) for s in shares] == [(BOB_EMAIL, "viewer")]

    assert client.delete(f"{device}/shares/u-bob", headers=bob).status_code == 404
    assert client.delete(f"{device}/shares/u-bob", headers=admin).status_code == 204
    assert client.get(device, headers=bob).status_code == 404
    assert client.get(f"{device}/telemetry/latest", headers=bob).status_code == 404
    assert client.get("/api/v1/shared-devices", headers=bob).json() == []
    assert client.delete(f"{device}/shares/u-bob", headers=admin).status_code == 404
