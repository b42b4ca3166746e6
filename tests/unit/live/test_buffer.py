"""The bounded per-client buffer: never more than its capacity, FIFO, closed on overflow."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.live.buffer import BoundedBuffer, BufferClosedError

# offer n items, or take what is there
operations = st.lists(st.one_of(st.integers(1, 20), st.just("take")), max_size=40)


@given(st.integers(1, 16), operations)
def test_never_holds_more_than_its_capacity_and_keeps_order(
    capacity: int, ops: list[int | str]
) -> None:
    buffer: BoundedBuffer[int] = BoundedBuffer(capacity)
    model: list[int] = []
    taken: list[int] = []
    counter = 0
    for op in ops:
        if op == "take":
            got = buffer.take_nowait()
            taken.extend(got)
            assert got == model
            model = []
            continue
        assert isinstance(op, int)
        for _ in range(op):
            counter += 1
            accepted = buffer.offer(counter)
            if buffer.closed:
                assert not accepted
                model = []
            else:
                assert accepted
                model.append(counter)
            assert len(buffer) <= capacity
    # what was taken came out in the order offered
    assert taken == sorted(taken)
    # overflow happens exactly when more than `capacity` were waiting at once
    assert buffer.overflowed == buffer.closed


def test_overflow_closes_and_wakes_a_waiting_taker() -> None:
    async def scenario() -> None:
        buffer: BoundedBuffer[str] = BoundedBuffer(2)
        waiting = asyncio.create_task(buffer.take())
        await asyncio.sleep(0)
        assert buffer.offer("a")
        assert await waiting == ["a"]
        waiting = asyncio.create_task(buffer.take())
        await asyncio.sleep(0)  # the taker now waits on an empty buffer
        assert buffer.offer("b")
        assert buffer.offer("c")
        assert not buffer.offer("d")  # full before the taker ran: overflow
        assert buffer.overflowed
        assert len(buffer) == 0  # what was buffered is released
        with pytest.raises(BufferClosedError):
            await waiting

    asyncio.run(scenario())


def test_a_closed_buffer_refuses_without_overflowing() -> None:
    buffer: BoundedBuffer[int] = BoundedBuffer(1)
    buffer.close()
    assert not buffer.offer(1)
    assert not buffer.overflowed
    with pytest.raises(ValueError, match="at least 1"):
        BoundedBuffer(0)


@given(st.integers(1, 16), st.integers(0, 64), st.integers(0, 96))
def test_headroom_holds_capacity_plus_extra_during_a_catch_up_and_no_more(
    capacity: int, extra: int, queued: int
) -> None:
    buffer: BoundedBuffer[int] = BoundedBuffer(capacity)
    with buffer.headroom(extra):
        accepted = [buffer.offer(i) for i in range(queued)]
    bound = capacity + extra
    assert accepted == [i < bound for i in range(queued)]
    if queued > bound:  # beyond the headroom: cut off as before
        assert buffer.overflowed
        assert buffer.closed
        return
    assert not buffer.closed
    assert buffer.take_nowait() == list(range(queued))  # in order, nothing lost
    # the headroom is over: the plain bound again
    assert [buffer.offer(i) for i in range(capacity + 1)] == [True] * capacity + [False]


def test_headroom_ends_at_the_first_take_after_the_catch_up() -> None:
    buffer: BoundedBuffer[int] = BoundedBuffer(2)
    with buffer.headroom(3):
        for i in range(4):
            assert buffer.offer(i)
    assert buffer.offer(4)  # after the block, room until the client takes what queued
    assert buffer.take_nowait() == [0, 1, 2, 3, 4]
    assert buffer.offer(5)
    assert buffer.offer(6)
    assert not buffer.offer(7)  # back to its bound of 2
    assert buffer.overflowed


def test_negative_headroom_is_refused() -> None:
    buffer: BoundedBuffer[int] = BoundedBuffer(2)
    with pytest.raises(ValueError, match="negative"), buffer.headroom(-1):
        pass
