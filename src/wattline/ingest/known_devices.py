"""The devices the registry is known to hold: one cache shared by every ingest source.

MQTT and HTTP ingest each have a committer; both admit devices through this one
object, so a device deleted through the API is forgotten in one place.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


class KnownDevices:
    """Device ids seen in the registry; grows on look-up and commit, shrinks on delete."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        # The collector thread and API requests use it at the same time.
        self._lock = threading.Lock()

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._ids

    def unknown(self, device_ids: set[str]) -> set[str]:
        """The ids among device_ids not known (yet) to be registered."""
        with self._lock:
            return device_ids - self._ids

    def known(self, device_ids: set[str]) -> set[str]:
        with self._lock:
            return device_ids & self._ids

    def add(self, device_ids: Iterable[str]) -> None:
        with self._lock:
            self._ids.update(device_ids)

    def forget(self, device_id: str) -> None:
        """A deleted device is unknown again: its next message is judged as a stranger's."""
        with self._lock:
            self._ids.discard(device_id)
