"""Inputs at and beyond the edges get a precise 4xx from every router, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from tests.integration.api.test_api import AUTH, T0, services

from wattline.api.app import create_app
from wattline.archive.folder import FolderArchive
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.model.messages import InboundMessage, Reading
from wattline.observability.metrics import IngestMetrics
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore

JSON = {**AUTH, "Content-Type": "application/json"}
TELEMETRY = "/api/v1/devices/m1/telemetry"
RANGE = "0001-01-02T00:00:00.000Z .. 9999-12-31T00:00:00.000Z"


@pytest.fixture
def api(store: SqlStore, tmp_path: Path) -> Iterator[TestClient]:
    reading = Reading("m1", T0, {"power_w": 1.0, "energy_wh": 5.0}, 1)
    store.commit(CommitBatch(readings=[reading], seen_ms={"m1": T0}, register=["m1"]))
    committer = Committer(
        store,
        FolderArchive(tmp_path),
        InterpretConfig(),
        IngestMetrics(CollectorRegistry()),
        auto_register=False,
    )
    payload = json.dumps({"seq": 1, "ts": T0, "metrics": {"power_w": 42.0}}).encode()
    committer.commit(committer.plan([InboundMessage("iot/late-1/telemetry", payload, T0)]))
    app_services = replace(services(store), replay=committer.replay)
    # raise_server_exceptions=False: a bug shows as the 500 a client would get
    with TestClient(create_app(app_services), raise_server_exceptions=False) as client:
        yield client


OUT_OF_RANGE = f"must be within {RANGE}"
BUCKETS_LEAVE = f"the buckets around this range would leave {RANGE}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/api/v1/devices/m1/telemetry?end=253402300800000", OUT_OF_RANGE),
        ("/api/v1/devices/m1/telemetry?start=-9999999999999999", OUT_OF_RANGE),
        ("/api/v1/devices/m1/telemetry?interval=999999w", BUCKETS_LEAVE),
        (
            f"{TELEMETRY}?interval=1d&start=0001-01-01&end=0001-01-10&tz=Europe/London",
            OUT_OF_RANGE,
        ),
        (
            f"{TELEMETRY}?interval=1d&start=0001-01-02&end=0001-01-10&tz=Europe/London",
            BUCKETS_LEAVE,
        ),
        ("/api/v1/devices/m1/telemetry?interval=1w&start=9999-12-01&end=9999-12-31", BUCKETS_LEAVE),
        (
            "/api/v1/devices/m1/telemetry?interval=1mo&start=9999-01-01&end=9999-12-30",
            BUCKETS_LEAVE,
        ),
        ("/api/v1/telemetry?devices=m1&interval=999999d", BUCKETS_LEAVE),
        ("/api/v1/telemetry?devices=m1&interval=1h&end=253402300800000", OUT_OF_RANGE),
        ("/api/v1/export?end=253402300800000", OUT_OF_RANGE),
        ("/api/v1/export?start=0001-01-01", OUT_OF_RANGE),
        ("/api/v1/devices/m1/energy?end=253402300800000", OUT_OF_RANGE),
        (
            "/api/v1/devices/m1/energy?start=0001-01-02&end=0001-01-10&tz=Europe/London",
            BUCKETS_LEAVE,
        ),
        ("/api/v1/devices/m1/energy?start=9999-12-01&end=9999-12-30&interval=1w", BUCKETS_LEAVE),
        ("/api/v1/energy?devices=m1&start=-9999999999999999", OUT_OF_RANGE),
        ("/api/v1/energy?devices=m1&interval=9999mo&start=0500-01-01", BUCKETS_LEAVE),
    ],
)
def test_times_beyond_the_accepted_range_are_a_422(api: TestClient, url: str, message: str) -> None:
    response = api.get(url, headers=AUTH)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/devices/m1/energy?max_gap_s=inf", "max_gap_s"),
        ("/api/v1/devices/m1/energy?max_gap_s=1e300", "max_gap_s"),
        ("/api/v1/energy?devices=m1&wrap_wh=nan", "wrap_wh"),
        ("/api/v1/devices/m1/telemetry/window?n=99999999999999999999", "n"),
        ("/api/v1/quarantine?limit=-99999999999999999999", "limit"),
    ],
)
def test_non_finite_and_huge_numbers_in_queries_are_a_422(
    api: TestClient, url: str, field: str
) -> None:
    response = api.get(url, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_the_edges_of_the_range_are_answered(api: TestClient) -> None:
    first = api.get(
        "/api/v1/devices/m1/telemetry",
        params={"start": "0001-01-02", "end": "0001-01-03"},
        headers=AUTH,
    )
    assert first.status_code == 200
    assert first.json()["start"] == "0001-01-02T00:00:00.000Z"
    last = api.get(
        "/api/v1/devices/m1/telemetry",
        params={"start": "9999-12-01", "end": "9999-12-20", "interval": "1d"},
        headers=AUTH,
    )
    assert last.status_code == 200, last.text
    assert last.json()["end"] == "9999-12-20T00:00:00.000Z"


@pytest.mark.parametrize(
    ("url", "body", "loc"),
    [
        ("/api/v1/devices", '{"device_id": "x", "type": NaN}', ["body", "type"]),
        ("/api/v1/devices", '{"device_id": "x", "tags": [Infinity]}', ["body", "tags", 0]),
        ("/api/v1/quarantine/replay", '{"ids": [NaN]}', ["body", "ids", 0]),
        ("/api/v1/quarantine/replay", '{"ids": [1], "limit": -Infinity}', ["body", "limit"]),
        ("/api/v1/quarantine/replay", '{"ids": [99999999999999999999999]}', ["body", "ids", 0]),
    ],
)
def test_non_finite_and_huge_numbers_in_bodies_are_a_422_naming_the_field(
    api: TestClient, url: str, body: str, loc: list[object]
) -> None:
    response = api.post(url, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [loc]
