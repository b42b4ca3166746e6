"""A long-running process's garbage collector, once its start-up is done: the
start-up objects frozen out of full collections, young objects collected less often."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from wattline.runtime.garbage import YOUNG_THRESHOLD, settle_after_startup


@pytest.fixture
def restore_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restore_collector")
def test_objects_made_before_the_freeze_are_not_walked_by_collections() -> None:
    made_at_start_up = [[i] for i in range(1_000)]
    settle_after_startup()
    assert gc.get_freeze_count() >= len(made_at_start_up)
    walked = {id(o) for o in gc.get_objects()}  # what a full collection would walk
    assert not any(id(o) in walked for o in made_at_start_up)


@pytest.mark.usefixtures("restore_collector")
def test_25000_new_objects_trigger_no_pass() -> None:
    settle_after_startup()
    passes: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.callbacks.append(count)
    try:
        kept = [[i] for i in range(YOUNG_THRESHOLD // 2)]  # tracked, and alive
    finally:
        gc.callbacks.remove(count)
    assert len(kept) == YOUNG_THRESHOLD // 2
    assert passes == []  # 25,000 net allocations: no pass (at 700, 35 of them)


@pytest.mark.usefixtures("restore_collector")
def test_cycles_are_still_collected() -> None:
    settle_after_startup()

    class Node:
        def __init__(self) -> None:
            self.me = self

    first = Node()
    gone = weakref.ref(first)
    del first  # now garbage that only the collector can free
    for _ in range(YOUNG_THRESHOLD + 1_000):  # more cycles: enough for a young pass
        Node()
    assert gone() is None
