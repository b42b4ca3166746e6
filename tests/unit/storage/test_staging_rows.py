"""A batch's hellos and readings as staged rows and back (``storage/staging.py``)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.model.messages import Hello, Reading
from wattline.storage.staging import StagedEventError, staged_events, staged_rows

devices = st.sampled_from(["a", "b", "plug-7"])
readings = st.builds(
    Reading,
    device_id=devices,
    ts_ms=st.integers(-(2**62), 2**62),
    metrics=st.dictionaries(
        st.text(min_size=1, max_size=64), st.floats(allow_nan=False), max_size=5
    ),
    seq=st.none() | st.integers(0, 2**63 - 1),
)
hellos = st.builds(
    Hello,
    device_id=devices,
    device_type=st.none() | st.text(max_size=64),
    firmware_version=st.none() | st.text(max_size=64),
    capabilities=st.lists(st.text(max_size=16), max_size=4).map(tuple),
)


@given(st.lists(readings | hellos, max_size=30), st.integers(0, 2**53))
def test_each_device_gets_one_row_holding_its_events_in_arrival_order(
    events: list[Reading | Hello], staged_ms: int
) -> None:
    seen = {"a": 5, "plug-7": 9}
    rows = staged_rows(events, seen, staged_ms)
    assert [row.device_id for row in rows] == list(dict.fromkeys(e.device_id for e in events))
    for row in rows:
        assert row.received_ms == seen.get(row.device_id)
        assert row.staged_ms == staged_ms
        own = [e for e in events if e.device_id == row.device_id]
        assert staged_events(row.device_id, row.events) == own


@given(st.binary(max_size=200))
def test_bytes_not_written_by_staging_are_refused_with_a_clear_error(data: bytes) -> None:
    refusal: StagedEventError | None = None
    try:
        events = staged_events("d1", data)
    except StagedEventError as exc:
        refusal = exc
    if refusal is not None:
        assert "staged row of 'd1' cannot be read" in str(refusal)
    else:  # only a list of well-formed events decodes
        assert all(isinstance(e, Reading | Hello) and e.device_id == "d1" for e in events)


@pytest.mark.parametrize(
    "items",
    [
        [["x", 1, {}, None]],  # an unknown kind
        [["r", "soon", {}, None]],  # a timestamp that is not an integer
        [["r", 1, {"p": "high"}, None]],  # a value that is not a number
        [["h", None, None]],  # a hello missing a field
        {"r": 1},  # not a list
    ],
)
def test_malformed_staged_events_are_refused(items: object) -> None:
    with pytest.raises(StagedEventError):
        staged_events("d1", msgspec.msgpack.encode(items))
