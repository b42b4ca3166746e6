"""`wattline restore` (SQLite) and the pg_dump / pg_restore path (PostgreSQL) of
docs/operations.md: what comes back has the counts and sums that went in."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.conftest import unavailable
from tests.integration.conftest import POSTGRES_ADMIN_URL
from tests.integration.fingerprint import fingerprint
from typer.testing import CliRunner

from wattline.cli.main import app
from wattline.model.messages import Reading
from wattline.storage.backup import database_in_use
from wattline.storage.base import CommitBatch
from wattline.storage.postgres import open_postgres_store, psycopg_url
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

T0 = 1_764_000_000_000
DEVICES = ["b1", "b2", "b3"]


def fill(store: SqlStore, rounds: range) -> None:
    for n in rounds:
        readings = [
            Reading(d, T0 + n * 60_000, {"power_w": n * 1.5 + i, "energy_wh": n * 10.0}, seq=n)
            for i, d in enumerate(DEVICES)
        ]
        store.commit(
            CommitBatch(
                readings=readings,
                seen_ms=dict.fromkeys(DEVICES, T0 + n * 60_000),
                register=DEVICES if n == 0 else [],
            )
        )


def counts_and_sums(store: SqlStore) -> dict[str, object]:
    printed = fingerprint(store, DEVICES, T0, T0 + 86_400_000)
    return {d: (p.totals, p.tiers, p.latest, p.sequence) for d, p in printed.items()}


# A process with the database open, as a running Wattline has it.
HOLD_OPEN = (
    "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]);"
    " db.execute('SELECT count(*) FROM devices').fetchall();"
    " print('open', flush=True); sys.stdin.read()"
)


def restore(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["restore", *args])
    return result.exit_code, result.output


def test_a_backup_restores_with_its_counts_and_sums(tmp_path: Path) -> None:
    live = tmp_path / "live"
    store = open_sqlite_store(live / "wattline.db")
    fill(store, range(120))
    expected = counts_and_sums(store)
    store.close()
    runner = CliRunner()
    taken = runner.invoke(app, ["backup", str(tmp_path / "b.db"), "--data-dir", str(live)])
    assert taken.exit_code == 0, taken.output

    # into a new data directory: no --force needed
    code, output = restore(str(tmp_path / "b.db"), "--data-dir", str(tmp_path / "new"))
    assert code == 0, output
    restored = open_sqlite_store(tmp_path / "new" / "wattline.db")
    try:
        assert counts_and_sums(restored) == expected
    finally:
        restored.close()


def test_an_existing_database_is_replaced_only_with_force_and_kept_aside(
    tmp_path: Path,
) -> None:
    store = open_sqlite_store(tmp_path / "wattline.db")
    fill(store, range(10))
    store.close()
    runner = CliRunner()
    assert runner.invoke(app, ["backup", str(tmp_path / "b.db"), "--data-dir", str(tmp_path)])
    store = open_sqlite_store(tmp_path / "wattline.db")
    fill(store, range(10, 20))  # newer than the backup
    newer = counts_and_sums(store)
    store.close()

    code, output = restore(str(tmp_path / "b.db"), "--data-dir", str(tmp_path))
    assert code == 1
    assert "exists: pass --force" in output
    code, output = restore(str(tmp_path / "b.db"), "--data-dir", str(tmp_path), "--force")
    assert code == 0, output
    [aside] = tmp_path.glob("wattline.db.before-restore-*")
    assert f"kept the replaced wattline.db as {aside}" in " ".join(output.split())

    restored = open_sqlite_store(tmp_path / "wattline.db")
    old = open_sqlite_store(aside)
    try:
        assert counts_and_sums(old) == newer  # nothing of the replaced database is lost
        totals = counts_and_sums(restored)["b1"]
        assert totals[0]["power_w"][0] == 10  # type: ignore[index]
    finally:
        restored.close()
        old.close()


def test_a_database_in_use_is_never_replaced(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "wattline.db")
    fill(store, range(3))
    store.close()
    CliRunner().invoke(app, ["backup", str(tmp_path / "b.db"), "--data-dir", str(tmp_path)])
    # Another process holds the database open, as a running Wattline does.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLD_OPEN,
            str(tmp_path / "wattline.db"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"open\n"
        assert database_in_use(tmp_path / "wattline.db")
        code, output = restore(str(tmp_path / "b.db"), "--data-dir", str(tmp_path), "--force")
        assert code == 1
        assert "in use by another process" in output
    finally:
        holder.communicate(b"")
    assert not database_in_use(tmp_path / "wattline.db")
    assert list(tmp_path.glob("*.before-restore-*")) == []


def test_restore_refuses_what_is_not_a_wattline_backup(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    code, output = restore(str(tmp_path / "junk.db"), "--data-dir", str(tmp_path / "d"))
    assert code == 1
    assert "is not a SQLite database" in output
    code, output = restore(str(tmp_path / "none.db"), "--data-dir", str(tmp_path / "d"))
    assert code == 1
    assert "no backup at" in output
    code, output = restore(str(tmp_path / "junk.db"), "--database-url", "postgresql://u@h/db")
    assert code == 2
    assert "pg_restore" in output


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    """A source and an empty target database on the test server, dropped at the end."""
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        unavailable("no pg_dump/pg_restore (scripts/install-test-deps.sh installs them)")
    admin = create_engine(psycopg_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    names = [f"wattline_dump_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f"CREATE DATABASE {name}"))
    base = make_url(POSTGRES_ADMIN_URL)
    yield tuple(base.set(database=n).render_as_string(hide_password=False) for n in names)  # type: ignore[misc]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_pg_dump_and_pg_restore_bring_back_counts_and_sums(
    two_databases: tuple[str, str], tmp_path: Path
) -> None:
    source_url, target_url = two_databases
    store = open_postgres_store(source_url)
    fill(store, range(90))
    expected = counts_and_sums(store)
    store.close()
    dump = tmp_path / "wattline.dump"
    # The commands of docs/operations.md, "Backup and restore".
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", source_url], check=True, timeout=120
    )
    subprocess.run(
        ["pg_restore", f"--dbname={target_url}", "--no-owner", "--jobs=2", str(dump)],
        check=True,
        timeout=120,
    )
    restored = open_postgres_store(target_url)  # migrations find it up to date
    try:
        assert counts_and_sums(restored) == expected
    finally:
        restored.close()
