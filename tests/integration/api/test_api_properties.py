"""Every query parameter at and around its edges: the answer is never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.api.test_api import AUTH, T0, services

from wattline.api.app import create_app
from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch
from wattline.storage.sqlite import open_sqlite_store

_INT64 = 2**63
_EDGE_INTS = [
    0, 1, -1, T0, -T0, _INT64 - 1, -_INT64, _INT64, 10**16, -(10**16), 10**30,
    253_402_300_800_000, 253_402_300_799_999, -62_135_596_800_000, -62_135_596_800_001,
    9_999_999_999_999_999, -9_999_999_999_999_999,
]  # fmt: skip
_TIMES = [
    "0001-01-01", "0001-01-02", "0001-01-02T00:00:00Z", "0001-01-03T00:00:00+14:00",
    "9999-12-31", "9999-12-30T23:59:59.999Z", "9999-12-31T23:59:59.999999-12:00",
    "2026-03-29T01:30:00", "2026-10-25T01:30:00+01:00", "1970-01-01T00:00:00Z",
    "-62135596800000", "253402300799999", "1e3", "NaN", "inf", "", " ",
]  # fmt: skip
_INTERVALS = [
    "0s", "1s", "1m", "7m", "1h", "25h", "1d", "1w", "1mo", "0mo", "13mo", "9999mo",
    "999999w", "999999d", "999999s", "1000000s", "-1h", "1.5h", "1y",
]  # fmt: skip
_ZONES = [
    "UTC", "Europe/London", "Asia/Kathmandu", "Pacific/Kiritimati", "Etc/GMT+12",
    "America/St_Johns", "Mars/Olympus", "../../etc/passwd", "", "utc", "Europe/London\x00",
]  # fmt: skip
_AGGS = ["avg", "first,last", "sum,count", "median", ",", "avg,avg,avg"]
_METRICS = ["power_w", "energy_wh", "power_w,voltage_v", "nope"]

# Anything a client could put in a query string: no lone surrogates, which no
# client can encode.
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
_NUMBERS = st.one_of(
    st.sampled_from(_EDGE_INTS).map(str),
    st.integers().map(str),
    st.floats().map(str),
)
_ANYTHING = st.one_of(_NUMBERS, _TEXT, st.just("x" * 5_000))


def _edge(values: list[str]) -> st.SearchStrategy[str]:
    """Mostly the parameter's own edge cases, sometimes anything at all."""
    return st.one_of(st.sampled_from(values), st.sampled_from(values), _ANYTHING)


_TIME = st.one_of(_edge(_TIMES), st.sampled_from(_EDGE_INTS).map(str))
_BY_NAME = {
    "start": _TIME,
    "end": _TIME,
    "interval": _edge(_INTERVALS),
    "tz": _edge(_ZONES),
    "agg": _edge(_AGGS),
    "fields": _edge(_METRICS),
    "metric": _edge(_METRICS),
    "devices": _edge(["m1", "m1,m1", "m1,nope", ",", ""]),
    "type": _edge(["meter", ""]),
    "tag": _edge(["rail", ""]),
    "all": _edge(["true", "false", "1"]),
    "source": _edge(["auto", "counter", "power"]),
    "format": _edge(["csv", "parquet"]),
    "reason": _edge(["malformed", "unknown_device"]),
}


def _queries(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {}, optional={name: _BY_NAME.get(name, _NUMBERS | _ANYTHING) for name in names}
    )


ENDPOINTS = {
    "/api/v1/devices/m1/telemetry": [
        "start", "end", "interval", "fields", "agg", "tz", "limit",
    ],
    "/api/v1/telemetry": [
        "start", "end", "interval", "fields", "agg", "tz", "devices", "type", "tag", "all",
    ],
    "/api/v1/devices/m1/energy": [
        "start", "end", "interval", "tz", "source", "metric", "max_gap_s", "wrap_wh",
    ],
    "/api/v1/energy": [
        "start", "end", "interval", "tz", "source", "max_gap_s", "wrap_wh",
        "devices", "type", "tag", "all",
    ],
    "/api/v1/export": ["start", "end", "devices", "format", "tz"],
    "/api/v1/devices/m1/gaps": ["start"],
    "/api/v1/devices/m1/telemetry/window": ["metric", "n"],
    "/api/v1/quarantine": ["limit", "reason"],
}  # fmt: skip


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = open_sqlite_store(tmp_path_factory.mktemp("properties") / "wattline.db")
    readings = [
        Reading("m1", T0 + i * 60_000, {"power_w": float(i), "energy_wh": 10.0 * i}, i)
        for i in range(120)
    ]
    store.commit(CommitBatch(readings=readings, seen_ms={"m1": T0}, register=["m1"]))
    # raise_server_exceptions=False: a bug shows as the 500 a client would get
    with TestClient(create_app(services(store)), raise_server_exceptions=False) as test_client:
        yield test_client
    store.close()


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_no_query_makes_the_server_fail(client: TestClient, path: str) -> None:
    @settings(
        max_examples=100,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    @given(_queries(ENDPOINTS[path]))
    def check(params: dict[str, str]) -> None:
        response = client.get(path, params=params, headers=AUTH)
        assert response.status_code < 500, (params, response.text[:500])

    check()
