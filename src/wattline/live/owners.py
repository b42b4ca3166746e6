"""Each device's owner (tenant, type, tags), cached: the feed asks once per device, not per batch.

Entries expire after ``ttl_s``, so a device moved to another tenant (a pairing
claim) or re-registered after a delete is published under its new owner within
that time; ``forget`` drops one at once when this process deletes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from wattline.storage.sql.owners import DeviceOwner

# A claimed or re-registered device's events follow its new owner after at most this.
DEFAULT_TTL_S = 5.0
# Bounds the cache's memory: beyond this many devices it starts over.
MAX_ENTRIES = 200_000


class OwnerLookup(Protocol):
    def owners(self, device_ids: Iterable[str]) -> Mapping[str, DeviceOwner]: ...


class OwnerCache:
    def __init__(
        self,
        lookup: OwnerLookup,
        ttl_s: float = DEFAULT_TTL_S,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._clock_s = clock_s
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, DeviceOwner]] = {}
        self.lookups = 0

    def owners(self, device_ids: Iterable[str]) -> dict[str, DeviceOwner]:
        """The owners of the registered devices among ``device_ids`` (may read the store)."""
        now_s = self._clock_s()
        found: dict[str, DeviceOwner] = {}
        missing: set[str] = set()
        with self._lock:
            for device_id in device_ids:
                entry = self._entries.get(device_id)
                if entry is not None and entry[0] > now_s:
                    found[device_id] = entry[1]
                else:
                    missing.add(device_id)
        if missing:
            self.lookups += 1
            fresh = self._lookup.owners(missing)
            with self._lock:
                if len(self._entries) + len(fresh) > MAX_ENTRIES:
                    self._entries.clear()
                for device_id, owner in fresh.items():
                    self._entries[device_id] = (now_s + self._ttl_s, owner)
            found.update(fresh)
        return found

    def cached(self, device_ids: Iterable[str]) -> dict[str, DeviceOwner] | None:
        """The owners when every one is cached and fresh (no store read); else None."""
        now_s = self._clock_s()
        found: dict[str, DeviceOwner] = {}
        with self._lock:
            for device_id in device_ids:
                entry = self._entries.get(device_id)
                if entry is None or entry[0] <= now_s:
                    return None
                found[device_id] = entry[1]
        return found

    def forget(self, device_id: str) -> None:
        with self._lock:
            self._entries.pop(device_id, None)
