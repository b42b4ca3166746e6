"""Password hashes: argon2id, with the parameters stated and upgraded on login.

Parameters (OWASP Password Storage Cheat Sheet, first argon2id row): 19 MiB of
memory, 2 passes, 1 lane. Measured on the 2-core development machine: a
verification takes about 25 ms (p95 about 32 ms). argon2-cffi's default, RFC
9106's "low memory" choice (64 MiB, 3 passes, 4 lanes), took about 190 ms there:
with two cores, a handful of concurrent logins would then hold the API's
threads for a second, and login would be the cheapest way to deny service.
19 MiB x 2 passes keeps a GPU guessing at a cost OWASP deems adequate while a
burst of logins stays cheap. A stored hash made with other parameters is
rehashed on the next successful login (``needs_rehash``).
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Below 12 characters guessing is cheap whatever the hash; above 1024 the hash
# itself becomes the attacker's tool (argon2 reads the whole input).
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024


class PasswordPolicyError(ValueError):
    """A new password the policy refuses; the message says why."""


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    time_cost: int = 2
    memory_kib: int = 19_456  # 19 MiB
    parallelism: int = 1


# For tests: the weakest parameters argon2 accepts, so a test suite logs in quickly.
FAST_FOR_TESTS = Argon2Parameters(time_cost=1, memory_kib=8, parallelism=1)


def check_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordPolicyError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordPolicyError(f"the password may have at most {MAX_PASSWORD_CHARS} characters")


class Passwords:
    """Hash, verify, and tell when a stored hash should be remade."""

    def __init__(self, parameters: Argon2Parameters | None = None) -> None:
        chosen = parameters or Argon2Parameters()
        self._hasher = PasswordHasher(
            time_cost=chosen.time_cost,
            memory_cost=chosen.memory_kib,
            parallelism=chosen.parallelism,
            type=Type.ID,
        )
        # Verified against when the account does not exist, so an unknown email
        # costs the same time as a wrong password (no account enumeration by timing).
        self._dummy = self._hasher.hash("no account has this password")

    def hash(self, password: str) -> str:
        check_policy(password)
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        if len(password) > MAX_PASSWORD_CHARS:
            return False
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
