"""The auth, users and API key routes over a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.api.test_api import AUTH, services
from tests.integration.security.conftest import (
    BOOTSTRAP,
    KEY,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    T0_S,
    Clock,
)

from wattline.api.app import create_app
from wattline.security import totp
from wattline.security.passwords import FAST_FOR_TESTS
from wattline.security.roles import Role
from wattline.security.service import IdentityService, build_identity
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).timestamp())


@pytest.fixture
def identity(store: SqlStore, clock: Clock) -> IdentityService:
    built = build_identity(store.identity, KEY, clock=clock, argon2=FAST_FOR_TESTS)
    store.identity.ensure_tenant(DEFAULT_TENANT, "Default", int(T0_S * 1000))
    built.members.create_user(BOOTSTRAP, OWNER_EMAIL, OWNER_PASSWORD, Role.OWNER)
    return built


@pytest.fixture
def client(store: SqlStore, identity: IdentityService) -> Iterator[TestClient]:
    app_services = replace(services(store), authenticator=identity.authenticator, identity=identity)
    with TestClient(create_app(app_services)) as test_client:
        yield test_client


def login(client: TestClient, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD) -> dict:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_login_me_and_the_existing_routes(client: TestClient) -> None:
    tokens = login(client)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    me = client.get("/api/v1/auth/me", headers=bearer(tokens)).json()
    assert me["email"] == OWNER_EMAIL
    assert me["tenants"] == [{"tenant_id": DEFAULT_TENANT, "role": "owner"}]
    # a user's token opens the routes the admin token opened
    assert client.get("/api/v1/devices", headers=bearer(tokens)).status_code == 200
    assert client.get("/api/v1/auth/me", headers=AUTH).json()["kind"] == "bootstrap"


def test_wrong_login_is_401_and_throttled_login_is_429(client: TestClient) -> None:
    wrong = {"email": OWNER_EMAIL, "password": "not the password"}
    statuses = [client.post("/api/v1/auth/login", json=wrong).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    throttled = client.post("/api/v1/auth/login", json=wrong)
    assert int(throttled.headers["Retry-After"]) > 0
    assert "too many failed logins" in throttled.json()["detail"]


def test_refresh_reuse_and_logout_over_http(client: TestClient) -> None:
    tokens = login(client)
    fresh = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert fresh.status_code == 200
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401
    assert "used twice" in reused.json()["detail"]
    assert client.get("/api/v1/auth/me", headers=bearer(fresh.json())).status_code == 401

    session = login(client)
    assert client.post("/api/v1/auth/logout", headers=bearer(session)).status_code == 204
    after = client.get("/api/v1/devices", headers=bearer(session))
    assert after.status_code == 401


def test_logout_needs_a_users_token(client: TestClient) -> None:
    response = client.post("/api/v1/auth/logout", headers=AUTH)
    assert response.status_code == 400
    assert "user's access token" in response.json()["detail"]


def test_password_change_over_http(client: TestClient) -> None:
    mine, other = login(client), login(client)
    body = {"current_password": OWNER_PASSWORD, "new_password": "another long passphrase"}
    changed = client.post("/api/v1/auth/password", json=body, headers=bearer(mine))
    assert changed.json() == {"sessions_ended": 1}
    assert client.get("/api/v1/auth/me", headers=bearer(other)).status_code == 401
    short = {"current_password": "another long passphrase", "new_password": "short"}
    refused = client.post("/api/v1/auth/password", json=short, headers=bearer(mine))
    assert refused.status_code == 422
    assert "at least 12" in refused.json()["detail"]


def test_totp_over_http(client: TestClient, clock: Clock) -> None:
    tokens = login(client)
    enrolled = client.post("/api/v1/auth/totp/enroll", headers=bearer(tokens)).json()
    code = totp.code_at(enrolled["secret"], clock())
    confirmed = client.post(
        "/api/v1/auth/totp/confirm", json={"code": code}, headers=bearer(tokens)
    )
    assert len(confirmed.json()["recovery_codes"]) == 10
    needs = client.post(
        "/api/v1/auth/login", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
    )
    assert needs.status_code == 401
    assert "TOTP" in needs.json()["detail"]
    clock.advance(totp.STEP_S)
    body = {
        "email": OWNER_EMAIL,
        "password": OWNER_PASSWORD,
        "code": totp.code_at(enrolled["secret"], clock()),
    }
    assert client.post("/api/v1/auth/login", json=body).status_code == 200
    assert client.post("/api/v1/auth/login", json=body).status_code == 401  # replayed


def test_members_invitations_and_roles(client: TestClient) -> None:
    owner = bearer(login(client))
    made = client.post(
        "/api/v1/users",
        json={"email": "admin@example.org", "password": "admin password", "role": "admin"},
        headers=owner,
    )
    assert made.status_code == 201
    admin = bearer(login(client, "admin@example.org", "admin password"))
    invited = client.post(
        "/api/v1/invitations", json={"email": "v@example.org", "role": "viewer"}, headers=admin
    )
    assert invited.status_code == 201
    accepted = client.post(
        "/api/v1/invitations/accept",
        json={"token": invited.json()["token"], "password": "viewer password"},
    )
    assert accepted.json()["role"] == "viewer"
    viewer = bearer(accepted.json())
    assert client.get("/api/v1/users", headers=viewer).status_code == 403
    listed = client.get("/api/v1/users", headers=admin).json()["members"]
    roles = {m["email"]: m["role"] for m in listed}
    assert roles == {OWNER_EMAIL: "owner", "admin@example.org": "admin", "v@example.org": "viewer"}
    ids = {m["email"]: m["user_id"] for m in listed}
    owner_id, viewer_id = ids[OWNER_EMAIL], ids["v@example.org"]
    making_owner = client.patch(f"/api/v1/users/{viewer_id}", json={"role": "owner"}, headers=admin)
    assert making_owner.status_code == 403
    assert "only an owner" in making_owner.json()["detail"]
    last = client.patch(f"/api/v1/users/{owner_id}", json={"role": "admin"}, headers=owner)
    assert last.status_code == 409
    removed = client.delete(f"/api/v1/users/{viewer_id}", headers=admin)
    assert removed.status_code == 204
    assert client.get("/api/v1/auth/me", headers=viewer).status_code == 401
    assert client.delete("/api/v1/users/nobody", headers=admin).status_code == 404


def test_api_keys_shown_once_work_and_revoke(client: TestClient, clock: Clock) -> None:
    owner = bearer(login(client))
    made = client.post(
        "/api/v1/api-keys", json={"name": "grafana", "role": "viewer"}, headers=owner
    )
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith("wl_")
    listed = client.get("/api/v1/api-keys", headers=owner).json()["keys"]
    assert key not in str(listed)
    assert listed[0]["prefix"] == key[:11]
    machine = {"Authorization": f"Bearer {key}"}
    me = client.get("/api/v1/auth/me", headers=machine).json()
    assert (me["kind"], me["role"], me["display"]) == ("api_key", "viewer", f"grafana ({key[:11]})")
    assert client.get("/api/v1/api-keys", headers=machine).status_code == 403
    revoked = client.delete(f"/api/v1/api-keys/{made.json()['key_id']}", headers=owner)
    assert revoked.status_code == 204
    assert client.get("/api/v1/auth/me", headers=machine).status_code == 401

    soon = datetime.fromtimestamp(clock() + 60, UTC).isoformat()
    short = client.post(
        "/api/v1/api-keys",
        json={"name": "short", "role": "viewer", "expires_at": soon},
        headers=owner,
    ).json()
    short_auth = {"Authorization": f"Bearer {short['key']}"}
    assert client.get("/api/v1/auth/me", headers=short_auth).status_code == 200
    clock.advance(61)
    assert client.get("/api/v1/auth/me", headers=short_auth).status_code == 401
    past = (datetime.fromtimestamp(clock(), UTC) - timedelta(days=1)).isoformat()
    refused = client.post(
        "/api/v1/api-keys", json={"name": "x", "role": "viewer", "expires_at": past}, headers=owner
    )
    assert refused.status_code == 422


def test_routes_without_a_token_are_401_before_the_body_is_read(client: TestClient) -> None:
    for method, path in [
        ("POST", "/api/v1/users"),
        ("POST", "/api/v1/invitations"),
        ("POST", "/api/v1/api-keys"),
        ("POST", "/api/v1/auth/password"),
        ("GET", "/api/v1/auth/me"),
    ]:
        response = client.request(method, path, content=b"not json")
        assert response.status_code == 401, path


def test_switch_tenant(client: TestClient, identity: IdentityService) -> None:
    identity.accounts.store.ensure_tenant("t2", "Second", 0)
    owner = identity.accounts.store.user_by_email(OWNER_EMAIL)
    assert owner is not None
    identity.accounts.store.add_membership(owner.user_id, "t2", Role.VIEWER, 0)
    tokens = login(client)
    switched = client.post(
        "/api/v1/auth/switch-tenant",
        json={"tenant_id": "t2", "refresh_token": tokens["refresh_token"]},
        headers=bearer(tokens),
    )
    assert switched.status_code == 200
    assert (switched.json()["tenant_id"], switched.json()["role"]) == ("t2", "viewer")
    nowhere = client.post(
        "/api/v1/auth/switch-tenant",
        json={"tenant_id": "t3", "refresh_token": switched.json()["refresh_token"]},
        headers=bearer(switched.json()),
    )
    assert nowhere.status_code == 403


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    email=st.one_of(st.text(max_size=400), st.just("a" * 64 + "@" + "b" * 256)),
    password=st.one_of(st.text(max_size=20), st.just("p" * 1025)),
    code=st.one_of(st.none(), st.text(max_size=40)),
)
def test_login_bodies_at_the_edges_answer_4xx(
    client: TestClient, email: str, password: str, code: str | None
) -> None:
    body = {"email": email, "password": password, "code": code}
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code in {401, 422, 429}, response.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/login", {"email": "x" * 321, "password": "p"}),
        ("/api/v1/auth/login", {"email": OWNER_EMAIL, "password": "p" * 1025}),
        ("/api/v1/auth/refresh", {"refresh_token": "r" * 129}),
        ("/api/v1/invitations/accept", {"token": "t", "password": ""}),
    ],
)
def test_oversized_fields_are_422(client: TestClient, path: str, body: dict) -> None:
    assert client.post(path, json=body).status_code == 422
