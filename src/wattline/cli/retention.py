"""``wattline retention``: apply the retention policy now, and say what it removed."""

from __future__ import annotations

import threading
from typing import Annotated

import typer
from rich.console import Console

from wattline.cli.options import ArchiveUrl, DatabaseUrl, DataDir, settings_from
from wattline.model.times import iso_ms
from wattline.storage.base import StoreUnavailableError
from wattline.storage.retention import (
    TIER_NAMES,
    Compaction,
    Removed,
    RetentionProgress,
    RetentionScheduler,
)

app = typer.Typer(
    name="retention", help="Remove data older than each tier keeps.", no_args_is_help=True
)
out = Console(soft_wrap=True, highlight=False, markup=False)

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress lines, only the summary")]


class ProgressLines:
    """One plain line per tenth of the devices per tier: readable in a terminal and a log."""

    def __init__(self) -> None:
        self._shown: dict[str, int] = {}

    def __call__(self, at: RetentionProgress) -> None:
        tenth = at.devices_done * 10 // max(at.devices_total, 1)
        if self._shown.get(at.tier, -1) >= tenth:
            return
        self._shown[at.tier] = tenth
        out.print(
            f"{at.tier:>3}: {at.devices_done}/{at.devices_total} devices, {at.rows} rows removed"
        )


@app.command()
def run(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    archive_url: ArchiveUrl = None,
    quiet: Quiet = False,
) -> None:
    """Delete raw samples and rollups older than their tier's retention (WATTLINE_RETENTION_*),
    expire raw archive segments (WATTLINE_ARCHIVE_RETENTION_DAYS; kept forever by default)
    and compact the archive's closed hours (WATTLINE_ARCHIVE_COMPACT).

    Progress goes to stdout as it runs; Ctrl-C stops after the chunk in hand
    and reports what was removed up to then.
    """
    from wattline.runtime.backends import open_archive, open_store, retention_policy

    settings = settings_from(data_dir=data_dir, database_url=database_url, archive_url=archive_url)
    policy = retention_policy(settings)
    try:
        store = open_store(settings)
    except StoreUnavailableError as exc:
        out.print(f"error: database unavailable: {exc}")
        raise typer.Exit(1) from None
    # Read-only: the bucket's segments are expired and compacted; a running
    # collector's S3 spool stays its own.
    archive = open_archive(settings, read_only=True)
    scheduler = RetentionScheduler(
        store,
        policy,
        # the same follow-ups as the scheduled run: closed days packed, the archive kept up
        compaction=Compaction(store, settings.compact_after_days),
        archive=archive,
        compact_archive=settings.archive_compact,
    )
    now_ms = scheduler.now_ms()
    cutoffs = policy.cutoffs_ms(now_ms)
    try:
        removed = _run_stoppable(scheduler, now_ms, None if quiet else ProgressLines())
    except StoreUnavailableError as exc:
        out.print(f"error: database unavailable: {exc}")
        raise typer.Exit(1) from None
    finally:
        archive.close()
        store.close()
    for tier, what in removed.items():
        kept_from = cutoffs.get(tier, policy.archive_cutoff_ms(now_ms))
        out.print(f"{tier:>3}: removed {what.describe()} (kept from {iso_ms(kept_from or 0)})")
    if scheduler.last_compaction is not None:
        out.print(f"archive compacted: {scheduler.last_compaction.describe()}")
    if scheduler.stop_event.is_set():
        skipped = [tier for tier in TIER_NAMES if tier not in removed]
        out.print(f"interrupted: {', '.join(skipped) or 'no tier'} not reached; run again")
        raise typer.Exit(130)


def _run_stoppable(
    scheduler: RetentionScheduler, now_ms: int, progress: ProgressLines | None
) -> dict[str, Removed]:
    """The run in a worker thread, so Ctrl-C here sets the stop event and waits one chunk."""
    result: dict[str, Removed] = {}
    failure: list[BaseException] = []

    def work() -> None:
        try:
            result.update(scheduler.run_once(now_ms, progress))
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=work, name="wattline-retention-cli")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        out.print("stopping after the current chunk...")
        scheduler.stop_event.set()
        worker.join()
    if failure:
        raise failure[0]
    return result
