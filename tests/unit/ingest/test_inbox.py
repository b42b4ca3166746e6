"""The collector's inbox: bounded, first in first out, no item lost between threads."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattline.ingest.inbox import Inbox


def test_items_come_out_in_order_and_take_never_waits() -> None:
    inbox: Inbox[int] = Inbox(10)
    for i in range(5):
        inbox.put(i)
    assert inbox.qsize() == 5
    assert inbox.take(3) == [0, 1, 2]
    assert inbox.take(10) == [3, 4]
    assert inbox.take(10) == []
    assert inbox.qsize() == 0


def test_wait_returns_false_after_its_timeout_when_nothing_comes() -> None:
    inbox: Inbox[int] = Inbox(1)
    started = time.monotonic()
    assert inbox.wait(0.05) is False
    assert time.monotonic() - started >= 0.04


def test_wait_wakes_for_an_item_put_by_another_thread() -> None:
    inbox: Inbox[int] = Inbox(1)
    threading.Timer(0.05, inbox.put, args=(7,)).start()
    assert inbox.wait(5.0) is True
    assert inbox.take(1) == [7]


def test_a_full_inbox_holds_its_producer_until_items_are_taken() -> None:
    inbox: Inbox[int] = Inbox(2)
    inbox.put(0)
    inbox.put(1)
    third_put = threading.Event()

    def produce() -> None:
        inbox.put(2)
        third_put.set()

    producer = threading.Thread(target=produce)
    producer.start()
    assert not third_put.wait(0.2)  # full: the producer waits
    assert inbox.qsize() == 2
    assert inbox.take(1) == [0]
    assert third_put.wait(5.0)
    producer.join()
    assert inbox.take(5) == [1, 2]


@pytest.mark.parametrize("max_items", [0, -1])
def test_an_inbox_holds_at_least_one_item(max_items: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Inbox[int](max_items)


@settings(max_examples=20, deadline=None)
@given(
    producers=st.integers(1, 4),
    per_producer=st.integers(0, 300),
    max_items=st.integers(1, 50),
    most=st.integers(1, 64),
)
def test_every_item_of_every_producer_arrives_once_in_its_order(
    producers: int, per_producer: int, max_items: int, most: int
) -> None:
    """Producers outpace a consumer taking small batches: nothing is lost or doubled,
    each producer's items keep their order, and the inbox never holds more than
    ``max_items``."""
    inbox: Inbox[tuple[int, int]] = Inbox(max_items)
    threads = [
        threading.Thread(target=lambda p=p: [inbox.put((p, i)) for i in range(per_producer)])
        for p in range(producers)
    ]
    for thread in threads:
        thread.start()
    received: list[tuple[int, int]] = []
    deadline = time.monotonic() + 30
    while len(received) < producers * per_producer and time.monotonic() < deadline:
        assert inbox.qsize() <= max_items
        if inbox.wait(0.5):
            received += inbox.take(most)
    for thread in threads:
        thread.join()
    assert len(received) == producers * per_producer
    for p in range(producers):
        assert [i for q, i in received if q == p] == list(range(per_producer))
