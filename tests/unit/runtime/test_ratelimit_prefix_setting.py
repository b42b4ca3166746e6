"""WATTLINE_REDIS_RATELIMIT_PREFIX: read from the environment and held to its bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from wattline.config import Settings


def test_the_default_keeps_the_keys_of_earlier_releases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATTLINE_REDIS_RATELIMIT_PREFIX", raising=False)
    assert Settings().redis_ratelimit_prefix == "wattline:ratelimit:"


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTLINE_REDIS_RATELIMIT_PREFIX", "depot-7:ratelimit:")
    assert Settings().redis_ratelimit_prefix == "depot-7:ratelimit:"


@given(st.text(min_size=1, max_size=200))
def test_any_prefix_of_one_to_200_characters_is_taken(prefix: str) -> None:
    assert Settings(redis_ratelimit_prefix=prefix).redis_ratelimit_prefix == prefix


@pytest.mark.parametrize("length", [0, 201])
def test_an_empty_or_overlong_prefix_is_refused(length: int) -> None:
    with pytest.raises(ValidationError, match="redis_ratelimit_prefix"):
        Settings(redis_ratelimit_prefix="x" * length)
