"""Pairing codes: a device shows a short code, a user claims the device with it. Pure.

The smart-plug seed's flow: the device (or its provisioning tool) asks for a
code and shows it; a user of a tenant types it within its validity window and
the device moves into that tenant. A code is 8 characters of an alphabet
without look-alikes (no 0/O, 1/I/L), about 40 bits: with failed claims limited
to 5 per principal every 10 minutes, guessing one of the codes alive at a time
takes longer than the universe has. Wattline keeps only the code's SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
# Long enough to walk from the plug to the phone, short enough that a code
# photographed off a shop shelf is useless by the time anyone tries it.
CODE_VALIDITY_MS = 10 * 60 * 1000
# Failed claims per principal before 429, and the window they are counted in.
MAX_FAILED_CLAIMS = 5
FAILED_CLAIMS_WINDOW_S = 10 * 60.0


class PairingClaim(StrEnum):
    """What a claim did: only CLAIMED moved the device."""

    CLAIMED = "claimed"
    UNKNOWN = "unknown"  # no such code, used already, or expired: all look the same
    OWNED = "owned"  # the device belongs to a tenant already


@dataclass(frozen=True, slots=True)
class PairingCode:
    code: str
    code_hash: str
    device_id: str
    created_ms: int
    expires_ms: int


def new_code(device_id: str, now_ms: int, validity_ms: int = CODE_VALIDITY_MS) -> PairingCode:
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return PairingCode(code, hash_code(code), device_id, now_ms, now_ms + validity_ms)


def normalise(typed: str) -> str:
    """What a person typed, as shown: case, spaces and dashes do not matter."""
    return typed.upper().replace("-", "").replace(" ", "")


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def well_formed(typed: str) -> bool:
    code = normalise(typed)
    return len(code) == CODE_LENGTH and all(char in ALPHABET for char in code)
