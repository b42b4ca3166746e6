"""The commit process's channel: every object arrives once, whole and in order, however
the bytes are split on the way, and the end of the other side is an EOFError."""

from __future__ import annotations

import pickle
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattline.runtime.pickle_channel import _HEADER, PickleChannel

objects = st.recursive(
    st.none() | st.integers() | st.text(max_size=20) | st.binary(max_size=3000),
    lambda children: st.lists(children, max_size=5) | st.tuples(children, children),
    max_leaves=20,
)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


@settings(max_examples=50)
@given(sent=st.lists(objects, max_size=8), chunk=st.integers(1, 4096))
def test_objects_arrive_in_order_however_the_bytes_are_split(
    sent: list[object], chunk: int
) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        # The other end's bytes, written in pieces of `chunk` from a thread (a socket
        # pair's buffer is smaller than some of these streams).
        stream = b"".join(_frame(obj) for obj in sent)

        def write() -> None:
            for start in range(0, len(stream), chunk):
                theirs.sendall(stream[start : start + chunk])

        writer = threading.Thread(target=write)
        writer.start()
        channel = PickleChannel(ours)
        assert [channel.recv() for _ in sent] == sent
        writer.join()


def test_a_message_larger_than_one_receive_arrives_whole(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    big = bytes(range(256)) * 5000  # 1.28 MB, several receives
    writer = threading.Thread(target=PickleChannel(theirs).send, args=([big, "after"],))
    writer.start()
    assert PickleChannel(ours).recv() == [big, "after"]
    writer.join()


def test_the_other_side_closing_is_an_eof_and_a_send_to_it_fails(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    channel = PickleChannel(ours)
    PickleChannel(theirs).send("last")
    theirs.close()
    assert channel.poll(1.0)
    assert channel.recv() == "last"
    with pytest.raises(EOFError):
        channel.recv()
    with pytest.raises(BrokenPipeError):
        channel.send("more")


def test_poll_waits_at_most_its_timeout(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, _ = pair
    assert not PickleChannel(ours).poll(0.01)


def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data
