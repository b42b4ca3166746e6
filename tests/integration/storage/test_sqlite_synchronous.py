"""WATTLINE_SQLITE_SYNCHRONOUS: FULL by default, NORMAL only when asked, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import text

from wattline.config import Settings
from wattline.runtime.backends import open_store
from wattline.storage.sqlite import open_sqlite_store

FULL, NORMAL = 2, 1  # what PRAGMA synchronous answers


def synchronous_of(path: Path, **settings: str) -> int:
    store = open_store(Settings(data_dir=path, **settings))  # type: ignore[arg-type]
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(text("PRAGMA synchronous")).scalar_one())
    finally:
        store.close()


def test_every_commit_is_fsynced_unless_asked_otherwise(tmp_path: Path) -> None:
    assert synchronous_of(tmp_path / "a") == FULL
    assert synchronous_of(tmp_path / "b", sqlite_synchronous="normal") == NORMAL
    # the setting is per process: the same file opened again without it is FULL again
    assert synchronous_of(tmp_path / "b") == FULL


@given(st.text(max_size=12).filter(lambda v: v not in {"full", "normal"}))
def test_only_full_and_normal_are_accepted(value: str) -> None:
    with pytest.raises(ValidationError):
        Settings(sqlite_synchronous=value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="synchronous"):
        open_sqlite_store(Path("/nonexistent/never-created.db"), synchronous=value)
