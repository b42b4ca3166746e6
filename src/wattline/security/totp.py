"""TOTP second factor (RFC 6238) and recovery codes. Pure: the store keeps the state.

A code is accepted for its own 30 s step and one step either side (clock drift
between phone and server), and only for a step later than the last one
accepted, so an observed code cannot be replayed within its window.
"""

from __future__ import annotations

import hmac
import secrets

import pyotp

from wattline.security.tokens import secret_hash

STEP_S = 30
# One step either side: RFC 6238 section 5.2 recommends at most one step of drift.
WINDOW_STEPS = 1
ISSUER_NAME = "Wattline"
RECOVERY_CODE_COUNT = 10
# 10 characters of base32: 50 bits, out of reach of guessing behind the login throttle.
_RECOVERY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, account: str) -> str:
    """The otpauth:// URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER_NAME)


def current_step(now_s: float) -> int:
    return int(now_s) // STEP_S


def matching_step(secret: str, code: str, now_s: float, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to, if it is valid now and newer than ``last_step``."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = current_step(now_s)
    for step in range(now_step - WINDOW_STEPS, now_step + WINDOW_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_S), code):
            return step
    return None


def code_at(secret: str, now_s: float) -> str:
    """The code an authenticator app shows at ``now_s`` (tests, the CLI)."""
    return pyotp.TOTP(secret).at(int(now_s))


def new_recovery_codes() -> list[str]:
    """Ten single-use codes, shown once: ``abcde-fghij``."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def recovery_hash(code: str) -> str:
    """Codes are compared without case, spaces or the dash, as people type them."""
    return secret_hash(code.strip().lower().replace("-", "").replace(" ", ""))
