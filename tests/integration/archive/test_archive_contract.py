"""What every raw archive backend promises, run against the folder and S3."""

from __future__ import annotations

from tests.integration.archive.conftest import (
    HOUR_MS,
    T0,
    OpenArchive,
    in_folder_order,
    record,
)

from wattline.archive.base import ArchiveRecord


def batches() -> list[list[ArchiveRecord]]:
    """Three batches over two categories and three hours, one batch spanning an hour change."""
    return [
        [record(i) for i in range(30)],
        [record(i) for i in range(30, 90)] + [record(5, "rejected")],
        [record(i, "telemetry", offset_ms=HOUR_MS) for i in range(60, 80)]
        + [record(6, "rejected")],
    ]


def test_batches_read_back_byte_for_byte_in_order(open_archive: OpenArchive) -> None:
    archive = open_archive()
    appended = [r for batch in batches() for r in batch]
    for batch in batches():
        archive.append(batch)
    expected_telemetry = [r for r in in_folder_order(appended) if r.category == "telemetry"]

    # Before anything was uploaded (S3: all of it still in the spool) ...
    assert list(archive.read("telemetry")) == expected_telemetry
    assert list(archive.read()) == in_folder_order(appended)

    # ... and from a new process after a clean shutdown (S3: all of it in the bucket).
    archive.close()
    reopened = open_archive()
    assert list(reopened.read("telemetry")) == expected_telemetry
    assert list(reopened.read("rejected")) == [record(5, "rejected"), record(6, "rejected")]
    assert list(reopened.read()) == in_folder_order(appended)
    assert [r.payload for r in reopened.read()] == [r.payload for r in in_folder_order(appended)]


def test_segments_hold_batches_never_single_messages(open_archive: OpenArchive) -> None:
    archive = open_archive()
    for batch in batches():
        archive.append(batch)
    archive.close()
    reopened = open_archive()
    segments = reopened.segments()
    # One segment per category and hour touched, however many messages and batches.
    assert [(s.category, s.hour_ms) for s in segments] == [
        ("rejected", T0),
        ("telemetry", T0),
        ("telemetry", T0 + HOUR_MS),
        ("telemetry", T0 + 2 * HOUR_MS),
    ]
    assert all(s.size_bytes > 0 for s in segments)
    assert [s.category for s in reopened.segments("rejected")] == ["rejected"]


def test_since_and_until_select_by_received_time(open_archive: OpenArchive) -> None:
    archive = open_archive()
    for batch in batches():
        archive.append(batch)
    since, until = T0 + 55 * 60_000, T0 + 65 * 60_000
    appended = in_folder_order([r for batch in batches() for r in batch])
    expected = [r for r in appended if since <= r.received_ms < until]
    assert list(archive.read(since_ms=since, until_ms=until)) == expected
    assert len(expected) == 10
    assert list(archive.read(since_ms=T0 + 10 * HOUR_MS)) == []


def test_empty_archive_reads_nothing(open_archive: OpenArchive) -> None:
    archive = open_archive()
    assert list(archive.read()) == []
    assert list(archive.read("telemetry")) == []
    assert archive.segments() == []
