"""Page cursors: what is issued decodes to the same key; anything else is a ValueError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.api import cursors


@given(key=st.text(min_size=1, max_size=64))
def test_a_string_key_round_trips(key: str) -> None:
    assert cursors.decode_str("devices", cursors.encode("devices", key)) == key


@given(key=st.integers(-(2**63), 2**63 - 1))
def test_an_integer_key_round_trips(key: int) -> None:
    assert cursors.decode_int("raw-desc", cursors.encode("raw-desc", key), "timestamp") == key


@given(boot=st.integers(0, 2**31), seq=st.integers(0, 2**62))
def test_a_pair_round_trips(boot: int, seq: int) -> None:
    assert cursors.decode_pair("gaps", cursors.encode("gaps", boot, seq), "gap") == (boot, seq)


@given(text=st.text(max_size=700))
def test_any_text_decodes_or_raises_value_error(text: str) -> None:
    for decode in (
        lambda: cursors.decode_str("devices", text),
        lambda: cursors.decode_int("quarantine", text, "id"),
        lambda: cursors.decode_pair("gaps", text, "gap"),
    ):
        with contextlib.suppress(ValueError):
            decode()


@pytest.mark.parametrize(
    ("cursor", "message"),
    [
        ("", "not one this API issued"),
        ("!!", "not one this API issued"),
        (cursors.encode("gaps", 1, 2), "belongs to a 'gaps' list, not to this 'quarantine' list"),
        (cursors.encode("quarantine", 1, 2), "holds no valid id"),
        (cursors.encode("quarantine", False), "holds no valid id"),  # noqa: FBT003 - JSON false
        ("x" * 513, "a cursor is at most 512"),
    ],
)
def test_bad_cursors_say_why(cursor: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cursors.decode_int("quarantine", cursor, "id")
