"""Login throttling per account and per address, in bounded memory.

After ``threshold`` failures within ``window_s`` a key is locked for
``base_lock_s``, doubling with every further failure up to ``max_lock_s``.
Attempts while locked are refused without checking the password and do not
count, so an attacker cannot keep the real owner out beyond the cap. A success
clears the account's record. The table is an LRU of at most ``max_keys``
entries, so a flood of made-up emails or addresses evicts the oldest records
instead of growing memory.

The interface is three methods, so a Redis-backed throttle can replace this one.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class LoginThrottle(Protocol):
    def retry_after_s(self, keys: Sequence[str], now_s: float) -> float:
        """Seconds until any of ``keys`` may try again; 0 when all may now."""
        ...

    def failed(self, keys: Sequence[str], now_s: float) -> None: ...

    def succeeded(self, keys: Sequence[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    # OWASP's authentication cheat sheet: lock after a few failures, for a while.
    threshold: int = 5
    window_s: float = 15 * 60
    base_lock_s: float = 30.0
    max_lock_s: float = 15 * 60


# Several people behind one NAT share an address: it gets more tries than an account.
ACCOUNT_POLICY = ThrottlePolicy()
ADDRESS_POLICY = ThrottlePolicy(threshold=20)


@dataclass(slots=True)
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until_s: float = 0.0


class MemoryThrottle:
    """``keys`` starting with ``addr:`` follow ``address``, all others ``account``."""

    def __init__(
        self,
        account: ThrottlePolicy = ACCOUNT_POLICY,
        address: ThrottlePolicy = ADDRESS_POLICY,
        max_keys: int = 100_000,  # about 20 MB at worst
    ) -> None:
        self._account = account
        self._address = address
        self._max_keys = max_keys
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def _policy(self, key: str) -> ThrottlePolicy:
        return self._address if key.startswith("addr:") else self._account

    def retry_after_s(self, keys: Sequence[str], now_s: float) -> float:
        wait = 0.0
        for key in keys:
            record = self._records.get(key)
            if record is not None:
                wait = max(wait, record.locked_until_s - now_s)
        return wait

    def failed(self, keys: Sequence[str], now_s: float) -> None:
        for key in keys:
            policy = self._policy(key)
            record = self._records.pop(key, None) or _Record()
            self._records[key] = record  # most recently used last
            while record.failures and record.failures[0] <= now_s - policy.window_s:
                record.failures.popleft()
            if len(record.failures) < 4 * policy.threshold:  # enough to reach max_lock_s
                record.failures.append(now_s)
            extra = len(record.failures) - policy.threshold
            if extra >= 0:
                lock_s = min(policy.max_lock_s, policy.base_lock_s * 2.0**extra)
                record.locked_until_s = now_s + lock_s
        while len(self._records) > self._max_keys:
            self._records.popitem(last=False)

    def succeeded(self, keys: Sequence[str]) -> None:
        for key in keys:
            if not key.startswith("addr:"):
                self._records.pop(key, None)

    def __len__(self) -> int:
        return len(self._records)
