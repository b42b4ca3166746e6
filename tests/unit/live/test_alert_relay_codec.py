"""The alert relay's message: a committed batch's rules-relevant part, round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.live.alert_relay import decode, encode
from wattline.model.events import Committed, QuarantineNotice
from wattline.model.messages import ConnectionState, Hello, Reading, StatusReport

ids = st.text("abc-_0123456789", min_size=1, max_size=12)
times = st.integers(0, 2**53)
values = st.floats(allow_nan=False, allow_infinity=False, width=64)
readings = st.builds(
    Reading,
    ids,
    times,
    st.dictionaries(st.text("abcdefgh_", min_size=1, max_size=10), values, max_size=4),
    st.none() | st.integers(0, 2**63 - 1),
)
statuses = st.builds(StatusReport, ids, st.sampled_from(ConnectionState), times)
notices = st.builds(QuarantineNotice, st.text(max_size=40), st.text(max_size=20), times)


@given(
    rs=st.lists(readings, max_size=5),
    ss=st.lists(statuses, max_size=3),
    qs=st.lists(notices, max_size=3),
    seen=st.dictionaries(ids, times, max_size=3),
)
def test_a_batch_comes_back_as_it_went(
    rs: list[Reading], ss: list[StatusReport], qs: list[QuarantineNotice], seen: dict[str, int]
) -> None:
    batch = Committed(readings=rs, statuses=ss, quarantined=qs, seen_ms=seen or None)
    origin, back = decode(encode("host:1:ab", batch))
    assert origin == "host:1:ab"
    assert (list(back.readings), list(back.statuses), list(back.quarantined)) == (rs, ss, qs)
    assert back.seen_ms == (seen or None)


def test_what_the_rules_do_not_read_stays_behind() -> None:
    batch = Committed(hellos=[Hello("d", "meter", "1.0")], readings=[Reading("d", 1, {"w": 1.0})])
    _, back = decode(encode("o", batch))
    assert (list(back.hellos), len(back.readings)) == ([], 1)


@pytest.mark.parametrize(
    "message", [b"", b"[]", b'{"origin": "o"}', b'{"origin": "o", "readings": [[1]]}']
)
def test_a_malformed_message_is_an_error_not_a_batch(message: bytes) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        decode(message)
