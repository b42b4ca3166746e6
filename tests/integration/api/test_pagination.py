"""Every list endpoint pages by cursor, on both stores: every item once, filters kept."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from wattline.api.app import create_app
from wattline.api.cursors import MAX_PAGE, encode
from wattline.api.services import ApiServices
from wattline.model.messages import Reading
from wattline.model.sequence import SeqGap
from wattline.model.times import iso_ms
from wattline.storage import schema
from wattline.storage.base import CommitBatch, QuarantineEntry
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = 1_764_057_600_000
FLEET = 2_000
OFFLINE_AFTER_MS = 120_000


def _client(store: SqlStore) -> TestClient:
    return TestClient(
        create_app(
            ApiServices(
                store=store,
                admin_token=TOKEN,
                registry=CollectorRegistry(),
                offline_after_ms=OFFLINE_AFTER_MS,
            )
        )
    )


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    with _client(store) as test_client:
        yield test_client


def _register_fleet(store: SqlStore) -> None:
    """FLEET devices in one bulk insert: types by thirds, a tag on every seventh,
    and every fifth seen just now (so online)."""
    now_ms = time.time_ns() // 1_000_000
    rows = [
        {
            "device_id": f"dev-{i:05d}",
            "device_type": ("meter", "plug", "inverter")[i % 3],
            "registered_ms": T0,
            "last_seen_ms": now_ms if i % 5 == 0 else None,
            "state": "unknown",
            "capabilities": "[]",
            "tags": json.dumps(["roof_a"] if i % 7 == 0 else []),
        }
        for i in range(FLEET)
    ]
    with store.engine.begin() as conn:
        conn.execute(schema.devices.insert(), rows)


def _walk(client: TestClient, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, following next_cursor to the last page."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query, headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body[key])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("next_cursor never ended")


def test_devices_page_through_every_device_once_in_id_order(
    client: TestClient, store: SqlStore
) -> None:
    _register_fleet(store)
    first = client.get("/api/v1/devices", headers=AUTH).json()
    assert first["count"] == 100  # the default page, not all 2,000
    assert first["next_cursor"] is not None
    ids = [d["device_id"] for d in _walk(client, "/api/v1/devices", "devices", limit=333)]
    assert ids == [f"dev-{i:05d}" for i in range(FLEET)]


def test_device_filters_combine_with_the_cursor(client: TestClient, store: SqlStore) -> None:
    _register_fleet(store)
    for params, want in [
        ({"type": "plug"}, [i for i in range(FLEET) if i % 3 == 1]),
        ({"tag": "roof_a"}, [i for i in range(FLEET) if i % 7 == 0]),
        ({"tag": "roof"}, []),  # a tag is matched whole, not as a prefix
        ({"tag": "roofXa"}, []),  # "_" is no wildcard
        ({"status": "online"}, [i for i in range(FLEET) if i % 5 == 0]),
        ({"status": "unknown"}, [i for i in range(FLEET) if i % 5 != 0]),
        ({"status": "offline"}, []),
        ({"type": "meter", "tag": "roof_a"}, [i for i in range(FLEET) if i % 21 == 0]),
    ]:
        got = _walk(client, "/api/v1/devices", "devices", limit=50, **params)
        assert [d["device_id"] for d in got] == [f"dev-{i:05d}" for i in want], params
        if "status" in params:
            assert {d["status"] for d in got} <= {params["status"]}


def test_device_status_filter_agrees_with_the_reported_status(
    client: TestClient, store: SqlStore
) -> None:
    now_ms = time.time_ns() // 1_000_000
    long_ago = now_ms - 10 * OFFLINE_AFTER_MS
    cases = {  # (state, last_seen_ms): one device for each branch of connection_status
        "on-recent": ("online", now_ms),
        "on-silent": ("online", long_ago),
        "on-never": ("online", None),
        "off-recent": ("offline", now_ms),
        "unk-recent": ("unknown", now_ms),
        "unk-silent": ("unknown", long_ago),
        "unk-never": ("unknown", None),
    }
    with store.engine.begin() as conn:
        conn.execute(
            schema.devices.insert(),
            [
                {"device_id": d, "registered_ms": T0, "state": state, "last_seen_ms": seen}
                for d, (state, seen) in cases.items()
            ],
        )
    everyone = _walk(client, "/api/v1/devices", "devices", limit=2)
    reported = {d["device_id"]: d["status"] for d in everyone}
    for status in ("online", "offline", "unknown"):
        got = _walk(client, "/api/v1/devices", "devices", limit=2, status=status)
        assert [d["device_id"] for d in got] == sorted(
            d for d, s in reported.items() if s == status
        ), status


def test_the_device_summary_counts_what_the_pages_list(client: TestClient, store: SqlStore) -> None:
    _register_fleet(store)
    store.commit(CommitBatch(readings=[Reading("dev-00000", T0, {"power_w": 1.0}, 1)]))
    summary = client.get("/api/v1/device-summary", headers=AUTH).json()
    for status in ("online", "offline", "unknown"):
        listed = _walk(client, "/api/v1/devices", "devices", limit=MAX_PAGE, status=status)
        assert summary["by_status"][status] == len(listed), status
    assert summary["total"] == FLEET
    assert summary["without_readings"] == FLEET - 1
    assert (summary["types"], summary["tags"]) == (["inverter", "meter", "plug"], ["roof_a"])
    # another tenant's summary is empty
    other = store.device_summary(tenant_id="t2", now_ms=T0, offline_after_ms=OFFLINE_AFTER_MS)
    assert (other.total, other.types, other.tags) == (0, [], [])


def test_device_search_matches_id_type_or_tag_in_any_case(
    client: TestClient, store: SqlStore
) -> None:
    _register_fleet(store)
    for search, want in [
        ("dev-0001", [i for i in range(FLEET) if f"{i:05d}".startswith("0001")]),
        ("PLUG", [i for i in range(FLEET) if i % 3 == 1]),
        ("roof_a", [i for i in range(FLEET) if i % 7 == 0]),
        ("OOF", [i for i in range(FLEET) if i % 7 == 0]),
        ("roofXa", []),  # "_" is no wildcard
        ("1999", [1999]),
    ]:
        got = _walk(client, "/api/v1/devices", "devices", limit=100, search=search)
        assert [d["device_id"] for d in got] == [f"dev-{i:05d}" for i in want], search
    both = _walk(client, "/api/v1/devices", "devices", limit=100, search="roof", type="meter")
    assert [d["device_id"] for d in both] == [f"dev-{i:05d}" for i in range(0, FLEET, 21)]


@settings(
    max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(search=st.text(alphabet='ab_%:.-"\\, *', min_size=0, max_size=66))
def test_device_search_limits_at_the_edges(client: TestClient, search: str) -> None:
    response = client.get("/api/v1/devices", params={"search": search}, headers=AUTH)
    valid = 1 <= len(search) <= 64 and all(c.isalnum() or c in "_.:-" for c in search)
    assert response.status_code == (200 if valid else 422), (search, response.text)


def test_quarantine_pages_newest_first_with_the_reason_filter(
    client: TestClient, store: SqlStore
) -> None:
    entries = [
        QuarantineEntry(
            T0 + i, f"iot/q{i}/telemetry", ("bad_value", "unknown_device")[i % 2], "", b"x"
        )
        for i in range(250)
    ]
    store.commit(CommitBatch(quarantined=entries))
    every = _walk(client, "/api/v1/quarantine", "items", limit=40)
    assert [q["topic"] for q in every] == [f"iot/q{i}/telemetry" for i in reversed(range(250))]
    assert len({q["id"] for q in every}) == 250
    bad = _walk(client, "/api/v1/quarantine", "items", limit=7, reason="bad_value")
    assert [q["topic"] for q in bad] == [f"iot/q{i}/telemetry" for i in reversed(range(0, 250, 2))]


def test_gaps_page_in_boot_and_sequence_order(client: TestClient, store: SqlStore) -> None:
    store.commit(CommitBatch(readings=[Reading("g1", T0, {"power_w": 1.0}, 0)], register=["g1"]))
    gaps = [
        SeqGap(boot=b, first_seq=s, last_seq=s + 1, detected_ms=T0)
        for b in (1, 0)
        for s in range(0, 300, 3)
    ]
    with store.engine.begin() as conn:
        conn.execute(
            schema.seq_state.update()
            .where(schema.seq_state.c.device_id == "g1")
            .values(
                gaps=json.dumps([[g.boot, g.first_seq, g.last_seq, g.detected_ms] for g in gaps])
            )
        )
    first = client.get("/api/v1/devices/g1/gaps", params={"limit": 30}, headers=AUTH).json()
    assert first["missing"] == 2 * len(gaps)  # every gap, not only this page's
    got = _walk(client, "/api/v1/devices/g1/gaps", "gaps", limit=30)
    assert [(g["boot"], g["first_seq"]) for g in got] == sorted((g.boot, g.first_seq) for g in gaps)


# -- raw telemetry -------------------------------------------------------------------------

_raw_example = itertools.count()


def _commit_points(store: SqlStore, device: str, times_ms: list[int]) -> None:
    readings = [
        Reading(
            device,
            ts,
            {"power_w": float(ts - T0), "voltage_v": 230.0} if ts % 2 else {"power_w": 1.0},
            None,
        )
        for ts in times_ms
    ]
    store.commit(CommitBatch(readings=readings, seen_ms={device: T0}, register=[device]))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    times=st.sets(st.integers(0, 5_000), max_size=120),
    limit=st.integers(1, 40),
    order=st.sampled_from(["asc", "desc"]),
    window=st.tuples(st.integers(0, 5_000), st.integers(0, 5_001)),
    fields=st.sampled_from([None, "power_w", "voltage_v"]),
)
def test_raw_pages_return_every_point_exactly_once(  # noqa: PLR0917 - hypothesis' draws
    store: SqlStore,
    times: set[int],
    limit: int,
    order: str,
    window: tuple[int, int],
    fields: str | None,
) -> None:
    device = f"raw-{next(_raw_example)}"
    _commit_points(store, device, sorted(T0 + t for t in times))
    start_ms, end_ms = T0 + min(window), T0 + max(window) + 1
    params: dict[str, Any] = {"start": start_ms, "end": end_ms, "limit": limit, "order": order}
    if fields:
        params["fields"] = fields
    with _client(store) as client:
        if fields == "voltage_v" and times and not any(t % 2 for t in times):
            # Issue 14: a field the device never sent is a 400 naming its metrics,
            # not an empty page (a device with nothing stored has none to check).
            refused = client.get(f"/api/v1/devices/{device}/telemetry", params=params, headers=AUTH)
            assert refused.status_code == 400
            assert refused.json()["detail"].endswith("its metrics: power_w")
            return
        points = _walk(client, f"/api/v1/devices/{device}/telemetry", "points", **params)
    want = sorted(
        (T0 + t for t in times if start_ms <= T0 + t < end_ms and (fields != "voltage_v" or t % 2)),
        reverse=order == "desc",
    )
    got = [p["ts"] for p in points]
    assert len(got) == len(want)
    assert len(set(got)) == len(got)
    assert got == [iso_ms(ts) for ts in want]


def test_raw_newest_first_and_truncated_pages(client: TestClient, store: SqlStore) -> None:
    _commit_points(store, "r1", [T0 + i * 1000 for i in range(10)])
    params = {"start": T0, "end": T0 + 10_000, "limit": 4, "order": "desc"}
    page = client.get("/api/v1/devices/r1/telemetry", params=params, headers=AUTH).json()
    assert [p["ts"][17:19] for p in page["points"]] == ["09", "08", "07", "06"]
    assert page["truncated"] is True
    assert page["next_cursor"] is not None
    last = client.get(
        "/api/v1/devices/r1/telemetry", params={**params, "limit": 10}, headers=AUTH
    ).json()
    assert (last["truncated"], last["next_cursor"]) == (False, None)


# -- malformed cursors ---------------------------------------------------------------------

LISTS = [
    "/api/v1/devices",
    "/api/v1/quarantine",
    "/api/v1/devices/c1/gaps",
    "/api/v1/devices/c1/telemetry",
]


@pytest.mark.parametrize(
    ("path", "cursor", "message"),
    [
        ("/api/v1/devices", "%%%", "cursor: cursor is not one this API issued"),
        ("/api/v1/devices", "bm90IGpzb24", "cursor: cursor is not one this API issued"),
        ("/api/v1/devices", encode("quarantine", 5), "belongs to a 'quarantine' list"),
        ("/api/v1/devices", encode("devices", 5), "holds no valid key for the 'devices' list"),
        ("/api/v1/devices", "A" * 600, "a cursor is at most 512"),
        ("/api/v1/quarantine", encode("quarantine", "5"), "holds no valid quarantine id"),
        ("/api/v1/quarantine", encode("quarantine", True), "holds no valid quarantine id"),  # noqa: FBT003
        ("/api/v1/quarantine", encode("quarantine", 2**70), "holds no valid quarantine id"),
        ("/api/v1/devices/c1/gaps", encode("gaps", 1), "holds no valid (boot, first_seq)"),
        ("/api/v1/devices/c1/telemetry", encode("raw-desc", T0), "belongs to a 'raw-desc' list"),
        ("/api/v1/devices/c1/telemetry", encode("raw-asc", 1.5), "holds no valid timestamp"),
    ],
)
def test_a_malformed_cursor_is_a_precise_422(
    client: TestClient, store: SqlStore, path: str, cursor: str, message: str
) -> None:
    store.register_device("c1", None, T0, tenant_id=DEFAULT_TENANT)
    response = client.get(path, params={"cursor": cursor}, headers=AUTH)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_cursor_with_an_interval_is_refused(client: TestClient, store: SqlStore) -> None:
    store.register_device("c1", None, T0, tenant_id=DEFAULT_TENANT)
    response = client.get(
        "/api/v1/devices/c1/telemetry",
        params={"interval": "1m", "cursor": encode("raw-asc", T0)},
        headers=AUTH,
    )
    assert response.status_code == 422
    assert "cursor and order apply to raw points" in response.json()["detail"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(LISTS),
    cursor=st.one_of(
        st.text(max_size=80),
        st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode()),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
            lambda inner: st.lists(inner, max_size=3),
            max_leaves=6,
        ).map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode()),
    ),
)
def test_garbage_cursors_never_cause_a_5xx(store: SqlStore, path: str, cursor: str) -> None:
    store.register_device("c1", None, T0, tenant_id=DEFAULT_TENANT)
    with _client(store) as client:
        response = client.get(path, params={"cursor": cursor, "limit": MAX_PAGE}, headers=AUTH)
    assert response.status_code in {200, 422}, response.text
