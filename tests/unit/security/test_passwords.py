"""Password hashes: argon2id, the length policy, rehash on new parameters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattline.security.passwords import (
    FAST_FOR_TESTS,
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    Argon2Parameters,
    PasswordPolicyError,
    Passwords,
)

PASSWORDS = Passwords(FAST_FOR_TESTS)


def test_hash_is_argon2id_and_verifies() -> None:
    stored = PASSWORDS.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert PASSWORDS.verify(stored, "correct horse battery")
    assert not PASSWORDS.verify(stored, "correct horse batterY")
    assert not PASSWORDS.verify(None, "correct horse battery")
    assert not PASSWORDS.verify("not a hash", "correct horse battery")


def test_the_default_parameters_are_stated() -> None:
    assert Argon2Parameters() == Argon2Parameters(time_cost=2, memory_kib=19_456, parallelism=1)


def test_a_hash_with_other_parameters_needs_a_rehash() -> None:
    old = PASSWORDS.hash("correct horse battery")
    stronger = Passwords(Argon2Parameters(time_cost=2, memory_kib=16, parallelism=1))
    assert stronger.verify(old, "correct horse battery")
    assert stronger.needs_rehash(old)
    assert not PASSWORDS.needs_rehash(old)


@pytest.mark.parametrize("length", [0, MIN_PASSWORD_CHARS - 1, MAX_PASSWORD_CHARS + 1])
def test_lengths_outside_the_policy_are_refused(length: int) -> None:
    with pytest.raises(PasswordPolicyError):
        PASSWORDS.hash("x" * length)
    assert not PASSWORDS.verify(PASSWORDS.hash("y" * 12), "x" * length)


@settings(max_examples=25, deadline=None)
@given(
    st.text(min_size=MIN_PASSWORD_CHARS, max_size=MAX_PASSWORD_CHARS).filter(
        lambda t: "\0" not in t
    )
)
def test_any_password_in_the_policy_round_trips(password: str) -> None:
    assert PASSWORDS.verify(PASSWORDS.hash(password), password)
