"""The one-pass telemetry decoder agrees with the general path on every payload.

``canonical_fast.fast_telemetry`` may decline a message (None); what it accepts
must be exactly what ``canonical_messages.parse_message`` makes of the same
bytes, and through the adapter every payload must come out the same, accepted
or rejected with the same reason and detail, as without the fast path.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattline.model.messages import Interpreted, Reading
from wattline.protocols import canonical_messages
from wattline.protocols.adapters.base import Payload
from wattline.protocols.adapters.canonical import CanonicalAdapter
from wattline.protocols.canonical_fast import fast_telemetry
from wattline.protocols.codec import decode_payload, names_cbor
from wattline.protocols.errors import ProtocolError
from wattline.protocols.timestamps import EARLIEST_MS, LATEST_MS
from wattline.protocols.validation import MAX_ABS_VALUE, MAX_SEQ, Limits

NOW_MS = 1_764_028_800_000
LIMITS = Limits(max_metrics_per_reading=4)
ADAPTER = CanonicalAdapter("iot")

names = st.one_of(
    st.sampled_from(["power_w", "voltage_v", "energy.total", "relay", "a"]),
    st.text(max_size=70),
)
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([MAX_ABS_VALUE, -MAX_ABS_VALUE, MAX_ABS_VALUE * 1.0000001, 0.0, -0.0]),
)
# NaN and the infinities print as bare words, which neither decoder takes as JSON
values = st.one_of(
    numbers,
    st.sampled_from([float("nan"), float("inf")]),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.lists(numbers),
)
timestamps = st.one_of(
    st.integers(min_value=EARLIEST_MS - 2, max_value=EARLIEST_MS + 2),
    st.integers(min_value=LATEST_MS - 2, max_value=LATEST_MS + 2),
    st.integers(min_value=NOW_MS - 10**9, max_value=NOW_MS + 10**6),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["2025-11-25T00:00:00Z", "2025-11-25T00:00:00.123+01:00", "yesterday"]),
    st.booleans(),
)
seqs = st.one_of(
    st.integers(min_value=-2, max_value=5),
    st.sampled_from([MAX_SEQ, MAX_SEQ + 1, 2**64, True, 1.0, "3"]),
    st.none(),
)


good_names = st.sampled_from(["power_w", "voltage_v", "energy.total", "relay", "a"])
good_values = st.one_of(
    st.floats(min_value=-MAX_ABS_VALUE, max_value=MAX_ABS_VALUE),
    st.integers(min_value=-(10**12), max_value=10**12),
)


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """A valid message, then, more often than not, one part of it made odd."""
    body: dict[str, Any] = {
        "ts": draw(st.integers(min_value=NOW_MS - 10**9, max_value=NOW_MS)),
        "metrics": draw(st.dictionaries(good_names, good_values, min_size=1, max_size=4)),
    }
    if draw(st.booleans()):
        body["seq"] = draw(st.integers(min_value=0, max_value=MAX_SEQ))
    odd = draw(st.sampled_from(["none", "ts", "metrics", "name", "value", "seq", "extra", "drop"]))
    if odd == "ts":
        body["ts"] = draw(timestamps)
    elif odd == "metrics":
        body["metrics"] = draw(st.one_of(values, st.dictionaries(names, values, max_size=6)))
    elif odd == "name":
        body["metrics"][draw(names)] = draw(good_values)
    elif odd == "value":
        body["metrics"][draw(good_names)] = draw(values)
    elif odd == "seq":
        body["seq"] = draw(seqs)
    elif odd == "extra":
        body[draw(st.sampled_from(["note", "extra", "ts2"]))] = draw(values)
    elif odd == "drop":
        del body[draw(st.sampled_from(["ts", "metrics"]))]
    document: Any = [body] if draw(st.integers(0, 19)) == 0 else body
    return json.dumps(document).encode()


def general(raw: bytes, content_type: str | None = None) -> Any:
    """What the canonical protocol made of the payload before the fast path."""
    try:
        body = decode_payload(raw, content_type)
        return canonical_messages.parse_message("d1", "telemetry", body, NOW_MS, LIMITS)
    except ProtocolError as exc:
        return exc.as_rejection()


def adapted(raw: bytes, content_type: str | None = None) -> Any:
    try:
        return ADAPTER.parse("iot/d1/telemetry", Payload(raw, content_type), NOW_MS, LIMITS)
    except ProtocolError as exc:
        return exc.as_rejection()


@settings(max_examples=600)
@given(payloads())
def test_what_the_fast_path_accepts_the_general_path_reads_the_same(raw: bytes) -> None:
    fast = fast_telemetry("d1", raw, NOW_MS, LIMITS)
    if fast is not None:
        expected = general(raw)
        assert isinstance(expected, Interpreted)
        assert fast == expected.readings


@settings(max_examples=600)
@given(payloads(), st.sampled_from([None, "application/json", "text/plain"]))
def test_every_payload_comes_out_as_without_the_fast_path(
    raw: bytes, content_type: str | None
) -> None:
    assert adapted(raw, content_type) == general(raw, content_type)


@given(st.binary(max_size=80))
def test_arbitrary_bytes_come_out_as_without_the_fast_path(raw: bytes) -> None:
    assert adapted(raw) == general(raw)


def test_the_common_message_takes_the_fast_path() -> None:
    raw = orjson.dumps({"seq": 7, "ts": NOW_MS - 1000, "metrics": {"power_w": 5, "relay": 1.5}})
    assert fast_telemetry("d1", raw, NOW_MS, LIMITS) == (
        Reading(device_id="d1", ts_ms=NOW_MS - 1000, metrics={"power_w": 5.0, "relay": 1.5}, seq=7),
    )


@pytest.mark.parametrize(
    "body",
    [
        {"ts": NOW_MS, "metrics": {"power_w": 1.0}, "note": "x"},  # another field
        {"ts": "2025-11-25T00:00:00Z", "metrics": {"power_w": 1.0}},  # an RFC 3339 time
        {"ts": NOW_MS + 10**7, "metrics": {"power_w": 1.0}},  # in the future
        {"ts": NOW_MS, "metrics": {}},
        {"ts": NOW_MS, "metrics": {"1bad": 1.0}},
        {"ts": NOW_MS, "metrics": {"power_w": MAX_ABS_VALUE * 2}},
        {"ts": NOW_MS, "metrics": {"power_w": True}},
        {"ts": NOW_MS, "metrics": {"power_w": 1.0}, "seq": -1},
        [{"ts": NOW_MS, "metrics": {"power_w": 1.0}}],  # a batch
    ],
)
def test_anything_else_is_declined(body: Any) -> None:
    assert fast_telemetry("d1", orjson.dumps(body), NOW_MS, LIMITS) is None


def test_cbor_is_never_read_as_json() -> None:
    assert names_cbor("application/cbor")
    assert not names_cbor(None)
    assert not names_cbor("application/json; charset=utf-8")


@pytest.mark.parametrize(
    "raw",
    [
        # a key twice: both decoders keep the last
        b'{"ts":%d,"metrics":{"power_w":1,"power_w":2}}' % (NOW_MS - 5),
        b'{"ts":%d,"ts":%d,"metrics":{"power_w":1}}' % (NOW_MS - 5, NOW_MS - 9),
        b'{"seq":1,"seq":2,"ts":%d,"metrics":{"power_w":1}}' % (NOW_MS - 5),
        # white space around the document, as JSON allows
        b' \t\r\n{"ts":%d,"metrics":{"power_w":1}}\n ' % (NOW_MS - 5),
        # a lone surrogate escape in a name, and a name that is not text at all
        b'{"ts":%d,"metrics":{"\\ud800":1}}' % (NOW_MS - 5),
        b'{"ts":%d,"metrics":{"power_w":1}' % (NOW_MS - 5),
    ],
)
def test_what_json_leaves_open_is_read_as_the_general_path_reads_it(raw: bytes) -> None:
    assert adapted(raw) == general(raw)
