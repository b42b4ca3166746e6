"""/energy and /telemetry cut time the same way, for any interval, start and zone.

Issue 9: the two endpoints used two calendars, and for `2d` from 2026-03-05, `2w`
from Monday 2026-03-09 and `5mo` from 2026-03-04 they started buckets on
different days, so kWh per period and a power chart per period disagreed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.api.test_api import AUTH, services

from wattline.api.app import create_app
from wattline.model.calendar import parse_interval
from wattline.model.messages import Reading
from wattline.model.times import iso_ms
from wattline.storage.base import CommitBatch
from wattline.storage.sqlite import open_sqlite_store

FIRST_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STEP_MS = 15 * 60_000
DAYS = 200
LAST_MS = FIRST_MS + DAYS * 86_400_000


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One meter reading power and an energy counter every 15 minutes for 200 days."""
    store = open_sqlite_store(Path(tmp_path_factory.mktemp("calendar")) / "wattline.db")
    readings = [
        Reading("meter", ts, {"power_w": 1000.0, "energy_wh": (ts - FIRST_MS) / 3_600_000 * 1000})
        for ts in range(FIRST_MS, LAST_MS, STEP_MS)
    ]
    for i in range(0, len(readings), 5000):
        chunk = readings[i : i + 5000]
        store.commit(CommitBatch(readings=chunk, seen_ms={"meter": FIRST_MS}, register=["meter"]))
    with TestClient(create_app(services(store))) as client:
        yield client
    store.close()


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    interval=st.sampled_from(["1h", "6h", "1d", "2d", "3d", "1w", "2w", "1mo", "2mo", "5mo"]),
    zone=st.sampled_from(["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"]),
    start_ms=st.integers(FIRST_MS + 62 * 86_400_000, LAST_MS - 40 * 86_400_000),
    buckets=st.integers(1, 4),
)
def test_energy_and_telemetry_start_their_buckets_on_the_same_instants(
    api: TestClient, interval: str, zone: str, start_ms: int, buckets: int
) -> None:
    end_ms = min(start_ms + buckets * parse_interval(interval).shortest_ms, LAST_MS - 1)
    params = {"start": iso_ms(start_ms), "end": iso_ms(end_ms), "interval": interval, "tz": zone}
    energy = api.get("/api/v1/devices/meter/energy", params=params, headers=AUTH)
    power = api.get(
        "/api/v1/devices/meter/telemetry", params={**params, "fields": "power_w"}, headers=AUTH
    )
    assert energy.status_code == power.status_code == 200, (energy.text, power.text)
    energy_starts = [b["start"] for b in energy.json()["buckets"]]
    power_starts = [b["ts"] for b in power.json()["buckets"]]
    # the data covers every bucket, so both list every bucket of the range
    assert power_starts == energy_starts
