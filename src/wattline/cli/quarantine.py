"""``wattline quarantine``: look at rejected messages and replay them once the cause is fixed."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from wattline.cli.options import DatabaseUrl, DataDir, fail, settings_from
from wattline.model.messages import RejectReason
from wattline.model.times import iso_ms
from wattline.runtime.errors import StartupError

app = typer.Typer(
    name="quarantine", help="List and replay quarantined messages.", no_args_is_help=True
)
out = Console(soft_wrap=True, highlight=False, markup=False)

Reason = Annotated[RejectReason | None, typer.Option("--reason", help="only this reason")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=100_000)]


@app.command("list")
def list_(
    reason: Reason = None,
    limit: Limit = 50,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Rejected messages, newest first."""
    from wattline.runtime.backends import open_store

    store = open_store(settings_from(data_dir=data_dir, database_url=database_url))
    try:
        records = store.quarantine(limit, reason.value if reason else None)
    finally:
        store.close()
    # One tab-separated line per entry: readable, and greppable at any terminal width.
    for r in records:
        fields = (str(r.id), iso_ms(r.received_ms), r.reason, r.topic, r.detail)
        out.print("\t".join(f.replace("\t", " ") for f in fields), f"{len(r.payload)} B")


@app.command()
def replay(
    ids: Annotated[list[int] | None, typer.Argument(help="quarantine ids; default: all")] = None,
    reason: Reason = None,
    limit: Limit = 10_000,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run quarantined messages through today's rules and registry again.

    Accepted ones are stored and leave the quarantine; the rest stay with their reason.
    """
    from wattline.runtime.backends import open_archive, open_store
    from wattline.runtime.ingest import build_committer

    settings = settings_from(data_dir=data_dir, database_url=database_url)
    store = open_store(settings)
    try:
        # Replayed messages are in the archive already; nothing is appended to it.
        archive = open_archive(settings, read_only=True)
        committer = build_committer(settings, store, archive)
        records = store.quarantine(limit, reason.value if reason else None, ids or None)
        report = committer.replay(records)
    except StartupError as exc:
        fail(str(exc))
    finally:
        store.close()
    out.print(
        f"replayed {len(records)}: {len(report.accepted)} stored "
        f"({report.result.samples_inserted} samples), {len(report.still_rejected)} still rejected"
    )
    for record_id, why in sorted(report.still_rejected.items()):
        out.print(f"  {record_id}: {why}")
