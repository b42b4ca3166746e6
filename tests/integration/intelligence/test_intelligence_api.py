"""Findings, forecasts, homes and decisions through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from wattline.analytics.recommendations import StaticSignals
from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.intelligence.advisor import Advisor
from wattline.intelligence.forecaster import Forecaster
from wattline.intelligence.jobs import AnomalyScanner
from wattline.intelligence.models import ModelCache
from wattline.model.findings import AnomalyKind, Finding
from wattline.model.messages import Reading
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.storage.base import CommitBatch
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.intelligence import FindingFilter, SqlIntelligence

H = 3_600_000
DAY = 24 * H
OWNER = {"Authorization": "Bearer t"}
VIEWER = {"Authorization": "Bearer viewer"}
OTHER = {"Authorization": "Bearer other"}
SIGNALS = StaticSignals(prices=[0.10] * 7 + [0.30] * 17, carbon=[150.0] * 12 + [250.0] * 12)


@dataclass(frozen=True)
class _Tokens:
    def authenticate(self, bearer: str, source: str | None) -> Principal | None:
        del source
        return {
            "viewer": Principal(PrincipalKind.USER, "u-1", DEFAULT_TENANT, Role.VIEWER, "v"),
            "other": Principal(PrincipalKind.USER, "u-2", "t2", Role.OWNER, "o"),
        }.get(bearer)


def _finding(device_id: str, kind: AnomalyKind, start_ms: int, score: float = 9.0) -> Finding:
    return Finding(
        device_id, kind, start_ms, start_ms + H, score, 10.0, 0.0, 5.0, "W", "why", "power_w", "v1"
    )


def load(
    store: SqlStore,
    device_id: str,
    days: int,
    *,
    spike_at_ms: int | None = None,
    tenant: str = DEFAULT_TENANT,
) -> int:
    """Readings every 10 minutes up to the current hour: a daily shape; returns that hour."""
    end_ms = time.time_ns() // 1_000_000 // H * H
    store.register_device(device_id, "meter", end_ms, tenant_id=tenant)
    readings = []
    for i, ts in enumerate(range(end_ms - days * DAY, end_ms, 600_000)):
        hour = ts % DAY / H
        value = 500 + 400 * math.sin(math.pi * hour / 24) ** 2 + 20 * math.sin(i)
        if spike_at_ms is not None and ts == spike_at_ms:
            value = 20_000.0
        readings.append(Reading(device_id, ts, {"power_w": value}, i))
    store.commit(CommitBatch(readings=readings, seen_ms={device_id: end_ms}, register=[device_id]))
    return end_ms


@pytest.fixture
def intelligence(store: SqlStore) -> SqlIntelligence:
    return SqlIntelligence(store.engine)


@pytest.fixture
def api(store: SqlStore, intelligence: SqlIntelligence) -> Iterator[TestClient]:
    forecaster = Forecaster(store, ModelCache())
    services = ApiServices(
        store=store,
        admin_token="t",
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        authenticator=_Tokens(),
        intelligence=intelligence,
        anomaly_scanner=AnomalyScanner(store),
        forecaster=forecaster,
        advisor=Advisor(store, intelligence, SIGNALS, forecaster),
    )
    with TestClient(create_app(services)) as client:
        yield client


def test_findings_are_stored_once_per_start_and_scoped_by_tenant(
    intelligence: SqlIntelligence,
) -> None:
    t0 = 1_788_220_800_000
    first = [_finding("a", AnomalyKind.SPIKE, t0), _finding("a", AnomalyKind.STUCK, t0)]
    assert intelligence.record_findings("t1", first, t0) == 2
    # found again with a new score: updated, not repeated
    assert (
        intelligence.record_findings("t1", [_finding("a", AnomalyKind.SPIKE, t0, 12.0)], t0 + H)
        == 0
    )
    assert intelligence.record_findings("t2", [_finding("b", AnomalyKind.SPIKE, t0)], t0) == 1
    page = intelligence.findings_page("t1", FindingFilter(), None, 10)
    assert [(f.finding.kind, f.finding.score, f.found_ms) for f in page] == [
        (AnomalyKind.STUCK, 9.0, t0),
        (AnomalyKind.SPIKE, 12.0, t0 + H),
    ]
    spikes = intelligence.findings_page("t1", FindingFilter(kind=AnomalyKind.SPIKE), None, 10)
    assert [f.finding.device_id for f in spikes] == ["a"]
    assert intelligence.findings_page("t1", FindingFilter(since_ms=t0 + H), None, 10) == []
    assert [f.tenant_id for f in intelligence.findings_page("t2", FindingFilter(), None, 10)] == [
        "t2"
    ]


def test_anomalies_are_listed_in_pages_for_the_tenant_only(
    api: TestClient, store: SqlStore, intelligence: SqlIntelligence
) -> None:
    t0 = 1_788_220_800_000
    store.register_device("mine", "meter", t0, tenant_id=DEFAULT_TENANT)
    store.register_device("theirs", "meter", t0, tenant_id="t2")
    intelligence.record_findings(
        DEFAULT_TENANT, [_finding("mine", AnomalyKind.SPIKE, t0 + i * H) for i in range(3)], t0
    )
    intelligence.record_findings("t2", [_finding("theirs", AnomalyKind.DRIFT, t0)], t0)
    first = api.get("/api/v1/anomalies", params={"limit": 2}, headers=VIEWER).json()
    assert first["count"] == 2
    assert first["findings"][0]["start"] == "2026-09-01T02:00:00.000Z"
    rest = api.get(
        "/api/v1/anomalies", params={"limit": 2, "cursor": first["next_cursor"]}, headers=VIEWER
    ).json()
    assert (rest["count"], rest["next_cursor"]) == (1, None)
    assert (
        api.get("/api/v1/anomalies", params={"device": "theirs"}, headers=VIEWER).status_code == 404
    )
    drift = api.get("/api/v1/anomalies", params={"kind": "drift"}, headers=VIEWER).json()
    assert drift["findings"] == []
    theirs = api.get("/api/v1/anomalies", headers=OTHER).json()["findings"]
    assert [f["device_id"] for f in theirs] == ["theirs"]
    bad = api.get("/api/v1/anomalies", params={"cursor": "nope"}, headers=VIEWER)
    assert bad.status_code == 422
    assert api.get("/api/v1/anomalies", params={"kind": "fire"}, headers=VIEWER).status_code == 422
    assert (
        api.get("/api/v1/anomalies", params={"since": "yesterday"}, headers=VIEWER).status_code
        == 422
    )


def test_a_scan_finds_an_injected_spike_and_stores_it(api: TestClient, store: SqlStore) -> None:
    now_hour = time.time_ns() // 1_000_000 // H * H
    spike_ms = now_hour - 2 * DAY - 5 * H
    load(store, "meter-1", 18, spike_at_ms=spike_ms)
    assert api.post("/api/v1/devices/meter-1/anomalies/scan", headers=VIEWER).status_code == 403
    scan = api.post("/api/v1/devices/meter-1/anomalies/scan", headers=OWNER).json()
    assert [f["kind"] for f in scan["findings"]] == ["spike"]
    assert scan["new"] == 1
    listed = api.get("/api/v1/anomalies", params={"device": "meter-1"}, headers=VIEWER).json()
    assert listed["findings"][0]["observed"] == 20_000.0
    assert "spike" in listed["findings"][0]["explanation"]
    again = api.post("/api/v1/devices/meter-1/anomalies/scan", headers=OWNER).json()
    assert again["new"] == 0


def test_a_device_forecast_with_short_history_is_seasonal_naive(
    api: TestClient, store: SqlStore
) -> None:
    load(store, "meter-2", 10)
    body = api.get("/api/v1/devices/meter-2/forecast", params={"hours": 24}, headers=VIEWER).json()
    assert body["model"]["version"] == "seasonal-naive-1"
    assert body["model"]["seasonal_naive"] is True
    assert body["model"]["short_history"] is True
    assert len(body["hours"]) == 24
    assert all(h["p10_kwh"] <= h["kwh"] <= h["p90_kwh"] for h in body["hours"])
    # roughly the device's mean power, 500-900 W, as kWh per hour
    assert all(0.4 < h["kwh"] < 1.0 for h in body["hours"])
    assert (
        api.get(
            "/api/v1/devices/meter-2/forecast", params={"hours": 25}, headers=VIEWER
        ).status_code
        == 422
    )
    assert (
        api.get(
            "/api/v1/devices/meter-2/forecast", params={"tz": "Mars/Base"}, headers=VIEWER
        ).status_code
        == 422
    )
    assert api.get("/api/v1/devices/meter-2/forecast", headers=OTHER).status_code == 404
    store.register_device("empty", "meter", 0, tenant_id=DEFAULT_TENANT)
    empty = api.get("/api/v1/devices/empty/forecast", headers=VIEWER)
    assert empty.status_code == 422
    assert "no power" in empty.json()["detail"]


def test_homes_decisions_and_their_outcome(
    api: TestClient, store: SqlStore, intelligence: SqlIntelligence
) -> None:
    store.register_device("pv", "solar_inverter", 0, tenant_id=DEFAULT_TENANT)
    store.register_device("plug", "smart_plug", 0, tenant_id=DEFAULT_TENANT)
    store.register_device("theirs", "meter", 0, tenant_id="t2")
    home = {
        "tz": "Europe/London",
        "sources": [{"kind": "grid"}, {"kind": "solar", "device_id": "pv"}],
        "flexible_device_id": "plug",
        "preferences": {"priority": "cost", "quiet_from_h": 22, "quiet_to_h": 6},
    }
    assert api.put("/api/v1/homes/home-1", json=home, headers=VIEWER).status_code == 403
    stolen = api.put(
        "/api/v1/homes/home-1",
        json={"sources": [{"kind": "solar", "device_id": "theirs"}]},
        headers=OWNER,
    )
    assert stolen.status_code == 404
    assert (
        api.put("/api/v1/homes/home-1", json={"tz": "Nowhere/Land"}, headers=OWNER).status_code
        == 422
    )
    created = api.put("/api/v1/homes/home-1", json=home, headers=OWNER).json()
    assert [s["status"] for s in created["sources"]] == ["unknown", "unknown"]
    assert api.get("/api/v1/homes", headers=VIEWER).json()[0]["home_id"] == "home-1"
    assert api.get("/api/v1/homes/home-1", headers=OTHER).status_code == 404
    decision = api.post("/api/v1/homes/home-1/decisions", headers=OWNER).json()
    assert decision["rule_version"] == "rules-1"
    assert decision["source"] == "grid"
    assert decision["inputs"]["prices"][:1] in ([0.1], [0.3])
    assert decision["outcome"] is None
    listed = api.get(
        "/api/v1/decisions", params={"home": "home-1", "measured": False}, headers=VIEWER
    ).json()
    assert [d["id"] for d in listed["decisions"]] == [decision["id"]]
    assert api.get("/api/v1/decisions", headers=OTHER).json()["decisions"] == []
    # once the window has passed, the outcome is measured (the plug used nothing: 0 saved)
    advisor = Advisor(store, intelligence, SIGNALS)
    assert advisor.measure_outcomes(time.time_ns() // 1_000_000 + 2 * DAY) == 1
    measured = api.get("/api/v1/decisions", params={"measured": True}, headers=VIEWER).json()
    outcome = measured["decisions"][0]["outcome"]
    assert (outcome["kwh"], outcome["cost_saved"]) == (0.0, 0.0)
    assert (
        api.get("/api/v1/decisions", params={"source": "battery"}, headers=VIEWER).json()["count"]
        == 0
    )


def test_the_buffer_view_gives_statistics(api: TestClient, store: SqlStore) -> None:
    load(store, "meter-3", 1)
    body = api.get("/api/v1/devices/meter-3/telemetry/buffer", headers=VIEWER).json()
    stats = body["stats"]["power_w"]
    assert (stats["count"], stats["capacity"], stats["fill_pct"]) == (60, 60, 100.0)
    assert stats["span_s"] == 59 * 600
    assert stats["min"] <= stats["mean"] <= stats["max"]
    assert body["readings"] is None
    with_readings = api.get(
        "/api/v1/devices/meter-3/telemetry/buffer", params={"readings": True}, headers=VIEWER
    ).json()
    assert len(with_readings["readings"]["power_w"]) == 60
