"""Rebuild the store from the raw archive: every archived message through ingest again.

The archive keeps every message byte for byte with the time it was received
(archive/base.py), so running the archived messages through the same
``Committer`` as live data, with their original receive times, gives back what
ingest stored: samples, rollups, latest values, sequence state, quarantine.
Writes are idempotent on (device, seq) and (device, metric, timestamp), so a
message already in the store changes nothing, and a replay can be repeated or
overlap a restored backup. Messages are judged by today's rules and registry,
as a quarantine replay is: a device registered since is accepted now.

The batches are marked archived: nothing is appended to the archive being read.
A batch spans at most ``BATCH_WINDOW_MS`` of receive times, because the store
dates a batch's samples by the newest receive time in it (``samples.received_ms``),
as a live batch (50 ms at most) does: a replayed sample is dated within a second
of when it first arrived, while a quiet fleet still replays in large batches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wattline.archive.base import ArchiveRecord
from wattline.model.messages import InboundMessage, Interpreted
from wattline.protocols.validation import DEVICE_ID_RE
from wattline.transfer.replay_order import AlreadySequenced, SequenceStates

if TYPE_CHECKING:
    from wattline.ingest.committer import Committer

DEFAULT_BATCH = 1000
# --devices is for a few devices' history (a fleet replays whole); a longer list
# belongs in a loop of replays, not one command line.
MAX_DEVICES = 1000
BATCH_WINDOW_MS = 1000


@dataclass(slots=True)
class RebuildSummary:
    messages: int = 0
    samples_inserted: int = 0
    # already stored, the replay overlapping what the store held: samples by
    # device, metric and timestamp; readings by device and seq
    samples_duplicate: int = 0
    readings_duplicate: int = 0
    # quarantined again (or for the first time), by reason
    quarantined: Counter[str] = field(default_factory=Counter)


def replay_archive(  # noqa: PLR0913 - the records, where they go, then options
    records: Iterable[ArchiveRecord],
    committer: Committer,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    *,
    devices: frozenset[str] | None = None,
    states: SequenceStates | None = None,
) -> RebuildSummary:
    """Commit every record as the message it was; ``progress(n)`` after each batch.

    ``devices`` keeps only the messages of those devices, as their protocol adapter
    names them; a message rejected before its device is known is then left out.
    ``states`` (the store's sequence states) leaves out what the store had sequenced
    before the replay began (replay_order.py), so a replay repeated changes nothing.
    """
    summary = RebuildSummary()
    if devices is not None or states is not None:
        already = None if states is None else AlreadySequenced(states)
        records = _selected(records, committer, summary, devices, already)
    for batch in _batches(records, batch_size):
        _commit(batch, committer, summary)
        if progress is not None:
            progress(len(batch))
    return summary


def _selected(
    records: Iterable[ArchiveRecord],
    committer: Committer,
    summary: RebuildSummary,
    devices: frozenset[str] | None,
    already: AlreadySequenced | None,
) -> Iterator[ArchiveRecord]:
    for record in records:
        outcome = committer.decoded(
            InboundMessage(record.topic, record.payload, record.received_ms)
        )
        if not isinstance(outcome, Interpreted):
            if devices is None:
                yield record  # quarantined again, as live
            continue
        if devices is not None and outcome.device_id not in devices:
            continue
        if already is not None and already.covers(outcome, record.received_ms):
            # counted as sequencing would have: its readings were seen already
            summary.messages += 1
            summary.readings_duplicate += len(outcome.readings)
            continue
        yield record


def parse_devices(text: str) -> frozenset[str]:
    """``--devices a,b,c``: device ids as the registry spells them, at most MAX_DEVICES."""
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise ValueError("--devices names no device")
    if len(ids) > MAX_DEVICES:
        raise ValueError(f"--devices names {len(ids)} devices; at most {MAX_DEVICES}")
    for device_id in ids:
        if not DEVICE_ID_RE.fullmatch(device_id):
            raise ValueError(f"--devices: {device_id[:80]!r} is not a device id")
    return frozenset(ids)


def _batches(records: Iterable[ArchiveRecord], size: int) -> Iterator[list[ArchiveRecord]]:
    """Records in archive order, cut at ``size`` or where receive times leave the window
    (the archive reads category by category, so time also steps back between them)."""
    batch: list[ArchiveRecord] = []
    for record in records:
        if batch and (
            len(batch) >= size
            or not 0 <= record.received_ms - batch[0].received_ms <= BATCH_WINDOW_MS
        ):
            yield batch
            batch = []
        batch.append(record)
    if batch:
        yield batch


def _commit(batch: Sequence[ArchiveRecord], committer: Committer, summary: RebuildSummary) -> None:
    messages = [InboundMessage(r.topic, r.payload, r.received_ms) for r in batch]
    # Historical: a device's past must not make it look alive now.
    plan = committer.plan(messages, historical=True)
    plan.archived = True
    result = committer.commit(plan)
    summary.messages += len(batch)
    summary.samples_inserted += result.samples_inserted
    summary.samples_duplicate += result.samples_duplicate
    summary.readings_duplicate += result.readings_seq_duplicate
    summary.quarantined.update(q.reason for q in plan.quarantined)
