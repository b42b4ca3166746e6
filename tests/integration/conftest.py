from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store


@pytest.fixture(params=["sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """Every store test runs against each backend; PostgreSQL joins this list."""
    backend = open_sqlite_store(tmp_path / "wattline.db")
    yield backend
    backend.close()
