"""Framing of live messages: one per frame, or JSON arrays that carry exactly the same messages."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from wattline.live.wire import MAX_FRAME_MESSAGES, frames

messages = st.lists(
    st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=8), max_size=3).map(
        json.dumps
    ),
    max_size=MAX_FRAME_MESSAGES * 2 + 3,
)


@given(messages)
def test_arrays_carry_every_message_in_order_and_stay_bounded(texts: list[str]) -> None:
    framed = frames(texts, batched=True)
    decoded = [json.loads(frame) for frame in framed]
    assert all(
        isinstance(frame, list) and 1 <= len(frame) <= MAX_FRAME_MESSAGES for frame in decoded
    )
    assert [m for frame in decoded for m in frame] == [json.loads(text) for text in texts]
    assert len(framed) == -(-len(texts) // MAX_FRAME_MESSAGES)


@given(messages)
def test_unbatched_is_a_frame_per_message(texts: list[str]) -> None:
    assert frames(texts, batched=False) == texts
