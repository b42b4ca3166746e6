"""The server's start-up objects are frozen out of full garbage collections."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from wattline.runtime.services import freeze_startup_objects


@pytest.fixture
def unfreeze() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfreeze")
def test_objects_made_before_the_freeze_are_not_walked_by_collections() -> None:
    made_at_start_up = [[i] for i in range(1_000)]
    freeze_startup_objects()
    assert gc.get_freeze_count() >= len(made_at_start_up)
    walked = {id(o) for o in gc.get_objects()}  # what a full collection would walk
    assert not any(id(o) in walked for o in made_at_start_up)
