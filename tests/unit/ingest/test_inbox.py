"""The collector's inbox: FIFO, bounded, and a put or take that waits is woken."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.ingest.inbox import Inbox


@given(
    bound=st.integers(1, 50),
    steps=st.lists(st.tuples(st.booleans(), st.integers(1, 60)), max_size=80),
)
def test_items_come_out_in_order_never_more_than_asked_or_bounded(
    bound: int, steps: list[tuple[bool, int]]
) -> None:
    inbox: Inbox[int] = Inbox(bound)
    model: list[int] = []
    taken_all: list[int] = []
    next_item = 0
    for is_put, count in steps:
        if is_put:
            for _ in range(min(count, bound - len(inbox))):  # never blocks
                inbox.put(next_item)
                model.append(next_item)
                next_item += 1
        else:
            taken = inbox.take(count, 0.0)
            assert taken == model[:count]
            del model[:count]
            taken_all += taken
        assert len(inbox) == len(model) <= bound
    assert taken_all + inbox.take(bound, 0.0) == list(range(next_item))


def test_an_empty_inbox_answers_empty_after_the_timeout() -> None:
    inbox: Inbox[int] = Inbox(4)
    started = time.monotonic()
    assert inbox.take(10, 0.05) == []
    assert 0.04 <= time.monotonic() - started < 2.0
    assert inbox.take(10, 0.0) == []


def test_a_full_inbox_holds_the_putter_back_until_a_take() -> None:
    inbox: Inbox[int] = Inbox(2)
    inbox.put(0)
    inbox.put(1)
    putter = threading.Thread(target=lambda: inbox.put(2))
    putter.start()
    putter.join(0.1)
    assert putter.is_alive()  # blocked: the bound is the back-pressure
    assert inbox.take(1, 0.0) == [0]
    putter.join(5)
    assert not putter.is_alive()
    assert inbox.take(10, 0.0) == [1, 2]


def test_many_producers_lose_and_repeat_nothing() -> None:
    inbox: Inbox[tuple[int, int]] = Inbox(64)
    producers = [
        threading.Thread(target=lambda p=p: [inbox.put((p, i)) for i in range(2_000)])
        for p in range(4)
    ]
    for producer in producers:
        producer.start()
    seen: list[tuple[int, int]] = []
    while len(seen) < 8_000:
        seen += inbox.take(100, 5.0)
    for producer in producers:
        producer.join(5)
    for p in range(4):  # each producer's items in its own order
        assert [i for q, i in seen if q == p] == list(range(2_000))


def test_an_inbox_holds_at_least_one_item() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Inbox(0)


@given(chunks=st.lists(st.lists(st.integers(), max_size=30), max_size=30))
def test_a_frame_put_at_once_keeps_its_order_among_single_puts(chunks: list[list[int]]) -> None:
    inbox: Inbox[int] = Inbox(10_000)
    expected: list[int] = []
    for i, chunk in enumerate(chunks):
        if i % 2:
            for item in chunk:
                inbox.put(item)
        else:
            inbox.put_many(chunk)
        expected += chunk
    assert inbox.take(10_000, 0.0) == expected


def test_a_frame_waits_for_room_then_passes_the_bound_by_at_most_itself() -> None:
    inbox: Inbox[int] = Inbox(3)
    inbox.put_many([0, 1, 2])
    putter = threading.Thread(target=lambda: inbox.put_many([3, 4, 5, 6]))
    putter.start()
    putter.join(0.1)
    assert putter.is_alive()  # full: the frame waits
    assert inbox.take(1, 0.0) == [0]
    putter.join(5)
    assert len(inbox) == 6  # 2 + the whole frame of 4: never split
    assert inbox.take(10, 0.0) == [1, 2, 3, 4, 5, 6]


def _put_one(inbox: Inbox[int]) -> None:
    inbox.put(7)


def _put_frames(inbox: Inbox[int]) -> None:
    inbox.put_many([])  # an empty frame hands over nothing: the taker waits on
    inbox.put_many([7, 8])


@pytest.mark.parametrize(
    ("wake", "expected"), [(_put_one, [7]), (_put_frames, [7, 8])], ids=["put", "frame"]
)
def test_a_waiting_take_is_woken(wake: Callable[[Inbox[int]], None], expected: list[int]) -> None:
    inbox: Inbox[int] = Inbox(8)
    got: list[list[int]] = []
    taker = threading.Thread(target=lambda: got.append(inbox.take(10, 10.0)))
    taker.start()
    time.sleep(0.05)
    wake(inbox)
    taker.join(5)
    assert got == [expected]
