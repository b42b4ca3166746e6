"""The subscribe message's `since`: one instant, or one per device within its bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from wattline.api.live_requests import Subscribe
from wattline.live.catchup import MAX_DEVICES

instants = st.one_of(st.integers(0, 2**40), st.just("2026-12-02T08:00:00Z"))


@given(st.integers(1, MAX_DEVICES), instants)
def test_since_per_device_accepts_one_to_max_devices(count: int, instant: int | str) -> None:
    since = {f"d{i}": instant for i in range(count)}
    assert Subscribe.model_validate({"type": "subscribe", "since": since}).since == since


@given(st.sampled_from([0, MAX_DEVICES + 1, MAX_DEVICES + 50]))
def test_since_per_device_refuses_none_or_more_than_max_devices(count: int) -> None:
    with pytest.raises(ValidationError):
        Subscribe.model_validate({"type": "subscribe", "since": {f"d{i}": 0 for i in range(count)}})


@pytest.mark.parametrize("device", ["", "x" * 129])
def test_since_per_device_refuses_a_bad_device_id(device: str) -> None:
    with pytest.raises(ValidationError):
        Subscribe.model_validate({"type": "subscribe", "since": {device: 0}})


def test_since_stays_one_instant_too() -> None:
    assert Subscribe.model_validate({"type": "subscribe", "since": 5}).since == 5
    assert Subscribe.model_validate({"type": "subscribe", "since": "5"}).since == "5"
