"""Hostile input never crashes an adapter: it is accepted or rejected with a reason."""

from __future__ import annotations

import json
import math
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import InboundMessage, Interpreted, Rejection
from wattline.protocols.adapters import ADAPTERS, build_adapters
from wattline.protocols.timestamps import EARLIEST_MS, LATEST_MS
from wattline.protocols.validation import MAX_ABS_VALUE, METRIC_NAME_RE

NOW_MS = 1_764_057_600_000
# Field names the formats use, so generated documents reach deep into the parsers.
KEYS = [
    "ts",
    "metrics",
    "seq",
    "state",
    "type",
    "firmware",
    "capabilities",
    "command_id",
    "status",
    "detail",
    "job_id",
    "version",
    "progress_pct",
    "voltage",
    "current",
    "power",
    "relay_state",
    "timestamp",
    "data_type",
    "value",
    "Time",
    "ENERGY",
    "Total",
    "Power",
    "Voltage",
    "Current",
    "Factor",
    "ApparentPower",
    "ReactivePower",
    "apower",
    "aenergy",
    "total",
    "output",
]
WORDS = ["online", "offline", "Online", "Offline", "ON", "OFF", "unknown", "power", "energy"]

leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=EARLIEST_MS // 1000, max_value=LATEST_MS)
    | st.floats()
    | st.sampled_from(WORDS)
    | st.text(max_size=8)
)
documents = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=24,
)


def encode(document: Any, as_cbor: bool) -> bytes:
    if as_cbor:
        return cbor2.dumps(document)
    try:
        return json.dumps(document).encode()
    except ValueError:  # NaN is fine in Python's json; huge ints are not printable
        return cbor2.dumps(document)


payloads = (
    st.binary(max_size=200)
    | st.builds(encode, documents, st.booleans())
    | st.sampled_from(WORDS).map(str.encode)
    | st.floats().map(lambda f: repr(f).encode())
    | st.just(cbor2.dumps({"Time": "2025-11-25T08:00:00", "ENERGY": {"Total": 10**5000}}))
)
segment = st.sampled_from(["d", "dev-1", "", "a b", "x" * 65, "LDR", "+", "#", "kü"]) | st.text(
    max_size=10
)


def topics_for(name: str) -> st.SearchStrategy[str]:
    """The adapter's own subscription filters with the wildcards filled in arbitrarily."""

    def fill(topic_filter: str) -> st.SearchStrategy[str]:
        parts = topic_filter.split("/")
        return st.tuples(*(segment if p == "+" else st.just(p) for p in parts)).map("/".join)

    return st.sampled_from(ADAPTERS[name].subscriptions()).flatmap(fill) | st.text(max_size=40)


def check(outcome: Interpreted | Rejection) -> None:
    if isinstance(outcome, Rejection):
        assert outcome.detail
        return
    for reading in outcome.readings:
        assert reading.metrics
        assert EARLIEST_MS <= reading.ts_ms <= NOW_MS + 300_000
        for name, value in reading.metrics.items():
            assert METRIC_NAME_RE.fullmatch(name)
            assert isinstance(value, float)
            assert math.isfinite(value)
            assert abs(value) <= MAX_ABS_VALUE


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_adapter_never_crashes(name: str) -> None:
    config = InterpretConfig(adapters=build_adapters([name]))

    @settings(max_examples=300, deadline=None)
    @given(topic=topics_for(name), payload=payloads)
    def run(topic: str, payload: bytes) -> None:
        check(interpret(InboundMessage(topic, payload, NOW_MS), config))

    run()


ALL = InterpretConfig(adapters=build_adapters(list(ADAPTERS)))


@settings(max_examples=300, deadline=None)
@given(topic=st.text(max_size=60), payload=st.binary(max_size=300))
def test_all_adapters_together_never_crash(topic: str, payload: bytes) -> None:
    check(interpret(InboundMessage(topic, payload, NOW_MS), ALL))
