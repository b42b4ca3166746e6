"""Liveness and readiness, split as an orchestrator expects them."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient
from tests.integration.api.test_api import services

from wattline.api.app import create_app
from wattline.ingest.collector import CollectorStatus
from wattline.storage.sql import SqlStore


def status(*, running: bool, connected: bool) -> CollectorStatus:
    return CollectorStatus(
        running=running, connected=connected, queued=0, last_commit_ms=None, store_healthy=True
    )


def test_livez_answers_whatever_the_dependencies(store: SqlStore) -> None:
    app_services = replace(
        services(store), collector_status=lambda: status(running=False, connected=False)
    )
    with TestClient(create_app(app_services)) as client:
        assert client.get("/livez").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 503


def test_readyz_needs_the_broker_connection_where_the_process_ingests(store: SqlStore) -> None:
    connected = replace(
        services(store), collector_status=lambda: status(running=True, connected=True)
    )
    with TestClient(create_app(connected)) as client:
        assert client.get("/readyz").status_code == 200
    disconnected = replace(
        services(store), collector_status=lambda: status(running=True, connected=False)
    )
    with TestClient(create_app(disconnected)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["components"]["mqtt"]["status"] == "disconnected"
    # an API process without a collector is ready when its database is
    with TestClient(create_app(services(store))) as client:
        assert client.get("/readyz").status_code == 200
