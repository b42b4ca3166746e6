"""``wattline retention``: apply the retention policy now, and say what it removed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wattline.config import Settings
from wattline.model.times import iso_ms
from wattline.storage.base import StoreUnavailableError
from wattline.storage.factory import open_store
from wattline.storage.retention import RetentionScheduler, retention_policy

app = typer.Typer(
    name="retention", help="Remove data older than each tier keeps.", no_args_is_help=True
)
out = Console(soft_wrap=True, highlight=False, markup=False)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", envvar="WATTLINE_DATA_DIR", help="where data lives")
]
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", envvar="WATTLINE_DATABASE_URL")]


@app.command()
def run(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Delete raw samples and rollups older than their tier's retention (WATTLINE_RETENTION_*)."""
    given: dict[str, object] = {"data_dir": data_dir, "database_url": database_url}
    settings = Settings.model_validate({k: v for k, v in given.items() if v is not None})
    policy = retention_policy(settings)
    try:
        store = open_store(settings)
    except StoreUnavailableError as exc:
        out.print(f"error: database unavailable: {exc}")
        raise typer.Exit(1) from None
    try:
        scheduler = RetentionScheduler(store, policy)
        now_ms = scheduler.now_ms()
        cutoffs = policy.cutoffs_ms(now_ms)
        removed = scheduler.run_once(now_ms)
    except StoreUnavailableError as exc:
        out.print(f"error: database unavailable: {exc}")
        raise typer.Exit(1) from None
    finally:
        store.close()
    for tier, what in removed.items():
        out.print(f"{tier:>3}: removed {what.describe()} (kept from {iso_ms(cutoffs[tier])})")
