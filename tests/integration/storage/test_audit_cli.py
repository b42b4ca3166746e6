"""``wattline audit verify`` on SQLite and PostgreSQL: exit 0 when intact, 1 naming the break."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from wattline.cli.main import app
from wattline.security.audit import AuditEvent
from wattline.storage.identity_schema import audit_log
from wattline.storage.sql import SqlStore
from wattline.storage.sql.audit import SqlAuditStore


def _where(store: SqlStore, tmp_path: Path) -> list[str]:
    """Flags naming the store's database: the fixture's SQLite file is tmp_path's."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite":
        assert Path(str(url.database)) == tmp_path / "wattline.db"
        return ["--data-dir", str(tmp_path)]
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return ["--data-dir", str(tmp_path), "--database-url", plain]


def test_verify_names_the_first_broken_entry(store: SqlStore, tmp_path: Path) -> None:
    audit = SqlAuditStore(store.engine)
    entries = [audit.append(AuditEvent("device.create", "ana", f"device:d{n}")) for n in range(4)]
    runner = CliRunner()

    intact = runner.invoke(app, ["audit", "verify", *_where(store, tmp_path)])
    assert intact.exit_code == 0, intact.output
    assert f"4 entries, head 4 {entries[-1].hash}" in intact.output

    with store.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(object="device:other"))
    broken = runner.invoke(app, ["audit", "verify", *_where(store, tmp_path)])
    assert broken.exit_code == 1
    assert "audit log broken at entry 2" in broken.output
