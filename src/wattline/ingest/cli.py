"""``wattline quarantine``: look at rejected messages and replay them once the cause is fixed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from prometheus_client import CollectorRegistry
from rich.console import Console

from wattline.archive.factory import open_archive
from wattline.config import Settings
from wattline.model.messages import RejectReason
from wattline.model.times import iso_ms
from wattline.observability.metrics import IngestMetrics
from wattline.runtime import build_committer
from wattline.storage.factory import open_store

app = typer.Typer(
    name="quarantine", help="List and replay quarantined messages.", no_args_is_help=True
)
out = Console(soft_wrap=True, highlight=False, markup=False)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", envvar="WATTLINE_DATA_DIR", help="where data lives")
]
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", envvar="WATTLINE_DATABASE_URL")]
Reason = Annotated[RejectReason | None, typer.Option("--reason", help="only this reason")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=100_000)]


def _settings(data_dir: Path | None, database_url: str | None) -> Settings:
    given: dict[str, object] = {"data_dir": data_dir, "database_url": database_url}
    return Settings.model_validate({k: v for k, v in given.items() if v is not None})


@app.command("list")
def list_(
    reason: Reason = None,
    limit: Limit = 50,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Rejected messages, newest first."""
    store = open_store(_settings(data_dir, database_url))
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
    settings = _settings(data_dir, database_url)
    store = open_store(settings)
    try:
        # Replayed messages are in the archive already; nothing is appended to it.
        archive = open_archive(settings, read_only=True)
        committer = build_committer(settings, store, archive, IngestMetrics(CollectorRegistry()))
        records = store.quarantine(limit, reason.value if reason else None, ids or None)
        report = committer.replay(records)
    finally:
        store.close()
    out.print(
        f"replayed {len(records)}: {len(report.accepted)} stored "
        f"({report.result.samples_inserted} samples), {len(report.still_rejected)} still rejected"
    )
    for record_id, why in sorted(report.still_rejected.items()):
        out.print(f"  {record_id}: {why}")
