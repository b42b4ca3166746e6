from __future__ import annotations

import threading
import time

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
