"""The collector's inbox: a bounded FIFO from the source's thread to the planner.

``queue.Queue`` costs two condition variables' work on every ``put`` and every
``get``; with a message per item, its put and gets were 13 % of a PostgreSQL
collector's time holding the GIL at 14,000 messages/s (py-spy ``--gil``,
docs/benchmarks.md). Here a put appends under one lock and wakes the planner
only when it waits, and ``take`` hands over everything waiting, up to a
batch, under one lock: the planner pays per batch, not per message. A source
that receives in batches (the MQTT 5 receiver's frames) puts them the same way.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """Bounded in items: ``put`` blocks while ``max_items`` are waiting, which holds
    the source's thread back, and with it the broker (the back-pressure).

    ``monotonic`` dates arrivals for ``take_dated``; it is read only when an item
    arrives in an empty inbox."""

    def __init__(self, max_items: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        if max_items < 1:
            raise ValueError("an inbox holds at least one item")
        self._max_items = max_items
        self._monotonic = monotonic
        self._items: deque[T] = deque()
        # When the oldest waiting item arrived (at most: after a partial take, the
        # rest arrived later than this).
        self._oldest_since = 0.0
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        # Waiters on each condition: a put or take notifies only when someone waits.
        self._takers = 0
        self._putters = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        with self._lock:
            self._wait_for_room()
            if not self._items:
                self._oldest_since = self._monotonic()
            self._items.append(item)
            if self._takers:
                self._not_empty.notify()

    def put_many(self, items: Sequence[T]) -> None:
        """All of ``items``, in order, once fewer than ``max_items`` are waiting: the
        bound is passed by at most one call's items."""
        if not items:
            return
        with self._lock:
            self._wait_for_room()
            if not self._items:
                self._oldest_since = self._monotonic()
            self._items.extend(items)
            if self._takers:
                self._not_empty.notify()

    def _wait_for_room(self) -> None:
        while len(self._items) >= self._max_items:
            self._putters += 1
            try:
                self._not_full.wait()
            finally:
                self._putters -= 1

    def take(self, max_items: int, timeout_s: float) -> list[T]:
        """Up to ``max_items`` of the oldest items, waiting up to ``timeout_s`` for the
        first; an empty list when none came in time."""
        return self.take_dated(max_items, timeout_s)[0]

    def take_dated(self, max_items: int, timeout_s: float) -> tuple[list[T], float]:
        """``take``, and when the first item taken arrived (``monotonic``'s time; after
        an earlier partial take, an earlier time); meaningless when none is taken."""
        with self._lock:
            if not self._items and timeout_s > 0:
                deadline = time.monotonic() + timeout_s
                self._takers += 1
                try:
                    while not self._items:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        self._not_empty.wait(remaining)
                finally:
                    self._takers -= 1
            items = self._items
            if len(items) <= max_items:
                taken = list(items)
                items.clear()
            else:
                taken = [items.popleft() for _ in range(max_items)]
            if taken and self._putters:
                self._not_full.notify_all()
            return taken, self._oldest_since
