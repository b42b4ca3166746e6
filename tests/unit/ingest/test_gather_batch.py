from __future__ import annotations

import threading
import time

import pytest

from wattline.ingest.collector import BatchPolicy, gather_batch
from wattline.ingest.inbox import Inbox


def filled(count: int) -> Inbox[int]:
    items: Inbox[int] = Inbox(max(count, 1))
    for i in range(count):
        items.put(i)
    return items


def test_empty_queue_gives_an_empty_batch() -> None:
    assert gather_batch(filled(0), BatchPolicy(), first_wait_s=0.01) == []


def test_batch_is_capped_at_max_messages_in_order() -> None:
    items = filled(25)
    policy = BatchPolicy(max_messages=10)
    assert gather_batch(items, policy, 0.01) == list(range(10))
    assert gather_batch(items, policy, 0.01) == list(range(10, 20))
    assert gather_batch(items, policy, 0.01) == list(range(20, 25))


def test_a_pause_in_the_stream_flushes_without_waiting_out_max_wait() -> None:
    policy = BatchPolicy(max_wait_s=5.0, idle_gap_s=0.01)
    started = time.monotonic()
    assert gather_batch(filled(3), policy, 0.01) == [0, 1, 2]
    assert time.monotonic() - started < 1.0


def test_a_steady_trickle_is_cut_at_max_wait() -> None:
    items: Inbox[int] = Inbox(10_000)
    stop = threading.Event()

    def trickle() -> None:
        i = 0
        while not stop.is_set():
            items.put(i)
            i += 1
            time.sleep(0.001)

    producer = threading.Thread(target=trickle)
    producer.start()
    try:
        started = time.monotonic()
        batch = gather_batch(items, BatchPolicy(max_wait_s=0.1, idle_gap_s=0.05), 1.0)
        took_s = time.monotonic() - started
    finally:
        stop.set()
        producer.join()
    assert batch == list(range(len(batch)))
    # The stream never pauses for idle_gap_s, so only max_wait_s ends the batch; the
    # bound is loose because a loaded machine may run the producer slowly.
    assert len(batch) >= 2
    assert took_s < 1.0


def recording_waits(items: Inbox[int]) -> list[float]:
    """Make ``items.take`` answer at once, recording how long it was asked to wait."""
    waited: list[float] = []
    real_take = items.take

    def take(max_items: int, timeout_s: float) -> list[int]:
        waited.append(timeout_s)
        return real_take(max_items, 0.0)

    items.take = take  # type: ignore[method-assign]
    return waited


def test_what_waited_while_the_planner_was_busy_is_not_kept_gathering() -> None:
    # Items that arrived max_wait_s ago or more (the planner was busy with the batch
    # before) are taken at once, not held for another max_wait_s or idle_gap_s.
    now = [100.0]
    items: Inbox[int] = Inbox(10, monotonic=lambda: now[0])
    items.put(0)
    items.put(1)
    now[0] += 0.5
    waited = recording_waits(items)
    policy = BatchPolicy(max_wait_s=0.2, idle_gap_s=10.0)
    assert gather_batch(items, policy, 0.01, monotonic=lambda: now[0]) == [0, 1]
    assert waited == [0.0]  # one look at what else is there, no wait


def test_a_fresh_arrival_is_gathered_until_its_own_deadline() -> None:
    now = [100.0]
    items: Inbox[int] = Inbox(10, monotonic=lambda: now[0])
    items.put(0)
    now[0] += 0.05
    waited = recording_waits(items)
    policy = BatchPolicy(max_wait_s=0.2, idle_gap_s=10.0)
    assert gather_batch(items, policy, 0.01, monotonic=lambda: now[0]) == [0]
    # It waited for more only what remained of max_wait_s since the item arrived.
    assert waited == [0.0, pytest.approx(0.15)]


def test_the_arrival_date_is_the_oldest_waiting_items() -> None:
    now = [0.0]
    items: Inbox[int] = Inbox(10, monotonic=lambda: now[0])
    items.put_many([0, 1])
    now[0] = 1.0
    items.put(2)  # the inbox was not empty: the date stays the first item's
    assert items.take_dated(10, 0.0) == ([0, 1, 2], 0.0)
    now[0] = 2.0
    items.put(3)
    assert items.take_dated(10, 0.0) == ([3], 2.0)
