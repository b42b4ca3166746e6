"""API keys for machines: ``wl_`` + 256 random bits, shown once, stored as SHA-256.

The prefix makes a leaked key recognisable in logs and to secret scanners; the
first characters (``wl_AbCd1234``) are kept in the clear so a list can show
which key is which.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace

from wattline.security.accounts import Accounts
from wattline.security.errors import InvalidRequestError, NotAllowedError, NotFoundError
from wattline.security.identity_store import ApiKey
from wattline.security.principal import Principal
from wattline.security.roles import Role
from wattline.security.tokens import new_secret, secret_hash

KEY_PREFIX = "wl_"
# Shown in lists and logs: the prefix and 8 characters (48 bits): enough to tell
# keys apart, far too little to guess the other 200-odd bits from.
SHOWN_CHARS = len(KEY_PREFIX) + 8
MAX_KEY_CHARS = 128


def new_key() -> str:
    return new_secret(KEY_PREFIX)


def shown_prefix(key: str) -> str:
    return key[:SHOWN_CHARS]


def key_hash(key: str) -> str:
    return secret_hash(key)


def looks_like_key(bearer: str) -> bool:
    return bearer.startswith(KEY_PREFIX) and len(bearer) <= MAX_KEY_CHARS


# A verified key is trusted this long without asking the store again: the hot
# path of every machine request is then a hash and a dict lookup. A key revoked
# through this process is dropped at once; through another, within this time.
CACHE_TTL_S = 30.0
CACHE_MAX_KEYS = 10_000
# last_used_ms is written at most this often per key, not on every request.
TOUCH_EVERY_MS = 60_000
MAX_KEY_NAME_CHARS = 200


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: ApiKey
    secret: str  # shown once


class ApiKeys:
    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts
        self._store = accounts.store
        self._lock = threading.Lock()
        # key hash -> (record, when it was read from the store, seconds)
        self._cache: OrderedDict[str, tuple[ApiKey, float]] = OrderedDict()

    def create(
        self, actor: Principal, name: str, role: Role, expires_ms: int | None = None
    ) -> NewApiKey:
        if not actor.role.allows(role):
            raise NotAllowedError(f"you may not grant {role.value}, above your own role")
        now_ms = self._accounts.now_ms()
        if expires_ms is not None and expires_ms <= now_ms:
            raise InvalidRequestError("the expiry must be in the future")
        secret = new_key()
        key = ApiKey(
            key_id=str(uuid.uuid4()),
            tenant_id=actor.tenant_id,
            name=name[:MAX_KEY_NAME_CHARS],
            prefix=shown_prefix(secret),
            role=role,
            created_by=actor.subject,
            created_ms=now_ms,
            expires_ms=expires_ms,
        )
        self._store.add_api_key(key, key_hash(secret))
        self._accounts.record(
            "api_key.create",
            actor.display,
            f"api_key:{key.prefix}",
            tenant_id=actor.tenant_id,
            role=role,
            name=key.name,
        )
        return NewApiKey(key, secret)

    def tenant_keys(self, tenant_id: str) -> list[ApiKey]:
        return self._store.api_keys(tenant_id)

    def revoke(self, actor: Principal, key_id: str) -> None:
        if not self._store.revoke_api_key(actor.tenant_id, key_id, self._accounts.now_ms()):
            raise NotFoundError(f"no active API key {key_id!r} in this tenant")
        with self._lock:
            for cached_hash, (key, _) in list(self._cache.items()):
                if key.key_id == key_id:
                    del self._cache[cached_hash]
        self._accounts.record(
            "api_key.revoke", actor.display, f"api_key:{key_id}", tenant_id=actor.tenant_id
        )

    def verify(self, secret: str) -> ApiKey | None:
        """The live key behind ``secret``; None for unknown, revoked or expired keys."""
        hashed = key_hash(secret)
        now_s = self._accounts.clock()
        now_ms = int(now_s * 1000)
        with self._lock:
            cached = self._cache.get(hashed)
        if cached is None or now_s - cached[1] >= CACHE_TTL_S:
            key = self._store.api_key_by_hash(hashed)
            if key is None:
                return None
            cached = (key, now_s)
        key = cached[0]
        if key.revoked_ms is not None or (key.expires_ms is not None and key.expires_ms <= now_ms):
            with self._lock:
                self._cache.pop(hashed, None)
            return None
        if key.last_used_ms is None or now_ms - key.last_used_ms >= TOUCH_EVERY_MS:
            self._store.touch_api_key(key.key_id, now_ms)
            key = replace(key, last_used_ms=now_ms)
            cached = (key, cached[1])
        with self._lock:
            self._cache[hashed] = cached
            self._cache.move_to_end(hashed)
            while len(self._cache) > CACHE_MAX_KEYS:
                self._cache.popitem(last=False)
        return key
