"""TOTP steps and recovery codes."""

from __future__ import annotations

import pytest

from wattline.security import totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_764_057_615.0


@pytest.mark.parametrize("offset_steps", [-1, 0, 1])
def test_a_code_of_the_window_matches_its_step(offset_steps: int) -> None:
    code = totp.code_at(SECRET, NOW + offset_steps * totp.STEP_S)
    assert totp.matching_step(SECRET, code, NOW, None) == totp.current_step(NOW) + offset_steps


@pytest.mark.parametrize("offset_steps", [-3, -2, 2, 3])
def test_a_code_outside_the_window_is_refused(offset_steps: int) -> None:
    code = totp.code_at(SECRET, NOW + offset_steps * totp.STEP_S)
    assert totp.matching_step(SECRET, code, NOW, None) is None


def test_a_code_of_a_step_already_used_is_refused() -> None:
    code = totp.code_at(SECRET, NOW)
    step = totp.current_step(NOW)
    assert totp.matching_step(SECRET, code, NOW, step) is None
    assert totp.matching_step(SECRET, code, NOW, step - 1) == step


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_refused(code: str) -> None:
    assert totp.matching_step(SECRET, code, NOW, None) is None


def test_ten_distinct_recovery_codes_compared_as_typed() -> None:
    codes = totp.new_recovery_codes()
    assert len(set(codes)) == 10
    assert totp.recovery_hash(codes[0].upper().replace("-", " ")) == totp.recovery_hash(codes[0])


def test_provisioning_uri_names_the_account() -> None:
    assert totp.provisioning_uri(SECRET, "ana@example.org").startswith("otpauth://totp/Wattline:")
