"""Security headers, CORS only when configured, and the API's rate limits end to end."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from wattline.api.app import create_app
from wattline.api.headers import API_CSP
from wattline.api.ratelimit import ApiRateLimits, MemoryRateLimiter
from wattline.api.services import ApiServices
from wattline.storage.sql import SqlStore

AUTH = {"Authorization": "Bearer t"}


def _client(store: SqlStore, **extra: object) -> TestClient:
    services = ApiServices(store, "t", CollectorRegistry(), 120_000, **extra)  # type: ignore[arg-type]
    return TestClient(create_app(services))


def test_api_answers_carry_the_headers_and_are_never_cached(store: SqlStore) -> None:
    with _client(store) as api:
        for response in (api.get("/api/v1/devices", headers=AUTH), api.get("/api/v1/devices")):
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["X-Frame-Options"] == "DENY"
            assert response.headers["Referrer-Policy"] == "no-referrer"
            assert response.headers["Content-Security-Policy"] == API_CSP
            assert response.headers["Cache-Control"] == "no-store"
        assert "Cache-Control" not in api.get("/openapi.json").headers


def test_the_docs_policy_allows_exactly_their_inline_script(store: SqlStore) -> None:
    with _client(store) as api:
        page = api.get("/docs")
        policy = page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        hashes = re.findall(r"'sha256-[^']+'", policy)
        assert len(hashes) == len(re.findall(r"<script>", page.text)) == 1
        assert page.headers["X-Frame-Options"] == "DENY"


def test_cors_is_off_unless_origins_are_configured(store: SqlStore) -> None:
    preflight = {
        "Origin": "https://dash.example.org",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization",
    }
    with _client(store) as api:
        response = api.options("/api/v1/devices", headers=preflight)
        assert "Access-Control-Allow-Origin" not in response.headers
    with _client(store, cors_origins=("https://dash.example.org",)) as api:
        allowed = api.options("/api/v1/devices", headers=preflight)
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://dash.example.org"
        other = api.options(
            "/api/v1/devices", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "Access-Control-Allow-Origin" not in other.headers
        simple = api.get("/api/v1/devices", headers={**AUTH, "Origin": "https://dash.example.org"})
        assert simple.headers["Access-Control-Allow-Origin"] == "https://dash.example.org"


def _frozen_limits(address_burst: int, principal_burst: int) -> ApiRateLimits:
    """Limits on a clock that never moves: a bucket, once empty, stays empty."""
    return ApiRateLimits(
        by_address=MemoryRateLimiter(1.0, address_burst, clock_s=lambda: 0.0),
        by_principal=MemoryRateLimiter(1.0, principal_burst, clock_s=lambda: 0.0),
    )


def test_unauthenticated_floods_are_limited_by_address(store: SqlStore) -> None:
    with _client(store, api_limits=_frozen_limits(3, 100)) as api:
        assert [api.get("/api/v1/devices").status_code for _ in range(3)] == [401] * 3
        refused = api.get("/api/v1/devices", headers=AUTH)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["X-Content-Type-Options"] == "nosniff"
        assert api.get("/health").status_code == 200  # outside /api/v1: not limited


def test_each_principal_has_its_own_limit(store: SqlStore) -> None:
    with _client(store, api_limits=_frozen_limits(100, 2)) as api:
        statuses = [api.get("/api/v1/devices", headers=AUTH).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = api.post("/api/v1/devices", json={"device_id": "x"}, headers=AUTH)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert "user or API key" in refused.json()["detail"]
