"""Identify: which devices may send, and which to register on first contact.

``Admission`` is the registry cache of ingest. It remembers the devices the
registry holds (asking the store only about devices it has not seen), and
with auto-registration (demo mode) admits every device, naming the new ones so
that the commit registers them in its transaction. Build one per process and
share it between MQTT and HTTP ingest; a deleted device is forgotten once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class DeviceLookup(Protocol):
    def existing_devices(self, device_ids: Iterable[str]) -> set[str]: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    # devices whose messages are accepted
    admitted: frozenset[str]
    # admitted devices the registry does not hold yet: the commit registers them
    unregistered: frozenset[str]


class Admission:
    def __init__(self, registry: DeviceLookup, *, auto_register: bool) -> None:
        self._registry = registry
        self.auto_register = auto_register
        self._known: set[str] = set()
        # The collector, HTTP requests and replays judge and commit concurrently.
        self._lock = threading.Lock()

    def judge(self, device_ids: set[str]) -> Verdict:
        """Admit the devices; may ask the registry (and fail with StoreUnavailableError)."""
        with self._lock:
            unknown = device_ids - self._known
        if unknown:
            found = self._registry.existing_devices(unknown)
            with self._lock:
                self._known |= found
            unknown -= found
        if self.auto_register:
            return Verdict(admitted=frozenset(device_ids), unregistered=frozenset(unknown))
        return Verdict(admitted=frozenset(device_ids - unknown), unregistered=frozenset())

    def registered(self, device_ids: Iterable[str]) -> None:
        """Devices a commit registered: known from now on."""
        with self._lock:
            self._known.update(device_ids)

    def forget(self, device_id: str) -> None:
        """A deleted device is unknown again: its next message is judged as a stranger's."""
        with self._lock:
            self._known.discard(device_id)
