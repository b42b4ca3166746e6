"""``wattline audit verify``: walk the audit log's hash chain and name the first broken entry."""

from __future__ import annotations

import typer
from rich.console import Console

from wattline.cli.options import DatabaseUrl, DataDir, fail, settings_from

app = typer.Typer(name="audit", help="Check the audit log.", no_args_is_help=True)
out = Console(soft_wrap=True, highlight=False, markup=False)


@app.command()
def verify(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Check every entry's hash and its link to the one before; exit 1 at the first broken one.

    Removing the newest entries leaves an intact, shorter chain: compare the head
    printed here with one kept elsewhere (a ticket, a log shipped off the host).
    """
    from wattline.runtime.backends import open_store
    from wattline.storage.sql.audit import SqlAuditStore

    store = open_store(settings_from(data_dir=data_dir, database_url=database_url))
    try:
        report = SqlAuditStore(store.engine).verify()
    finally:
        store.close()
    if report.broken_seq is not None:
        fail(f"audit log broken at entry {report.broken_seq}: {report.reason}", code=1)
    out.print(
        f"audit log intact: {report.entries} entries, head {report.head_seq} {report.head_hash}"
    )
