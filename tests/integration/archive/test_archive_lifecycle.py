"""Archive lifecycle on the folder and on S3: expiry by age, compaction of small segments,
and compaction interrupted at every step losing and doubling nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.archive.conftest import (
    HOUR_MS,
    MANUAL,
    T0,
    OpenArchive,
    S3Server,
    record,
)

from wattline.archive.base import ArchiveRecord, RawArchive, SegmentInfo
from wattline.archive.folder import FolderArchive
from wattline.archive.lifecycle import small_groups
from wattline.archive.s3 import S3Archive, S3Location, open_s3_client
from wattline.storage.retention import RetentionPolicy, RetentionScheduler
from wattline.transfer.replay_order import in_time_order

DAY_MS = 24 * HOUR_MS
LATER = T0 + 5 * HOUR_MS  # every hour written below has closed and passed its grace


def fill(archive: RawArchive, batches: int = 12, size: int = 10) -> list[ArchiveRecord]:
    """Small batches over two hours and two categories; on S3 each becomes an object."""
    written = []
    for n in range(batches):
        batch = [record(i) for i in range(n * size, (n + 1) * size)]
        batch.append(record(n, "rejected"))
        archive.append(batch)
        if isinstance(archive, S3Archive):
            archive.flush()
        written += batch
    return written


def read_all(archive: RawArchive) -> list[ArchiveRecord]:
    return list(archive.read())


@pytest.fixture
def s3_archive(s3_server: S3Server, bucket: str, tmp_path: Path) -> Iterator[S3Archive]:
    archive = S3Archive(
        open_s3_client(s3_server.endpoint_url),
        S3Location(bucket, "raw/v1"),
        tmp_path / "archive-spool",
        policy=MANUAL,
        background=False,
    )
    yield archive
    archive.close()


class NoRetention:
    """A store with nothing to remove: these tests are about the archive."""

    def remove_before(self, *_: object, **__: object) -> dict[str, object]:
        return {}


def test_compaction_keeps_every_record_in_order_in_fewer_bytes(
    open_archive: OpenArchive,
) -> None:
    archive = open_archive()
    fill(archive)
    before, segments_before = read_all(archive), archive.segments()

    report = archive.compact(LATER)

    assert read_all(archive) == before
    after = archive.segments()
    assert report.bytes_after < report.bytes_before
    assert sum(s.size_bytes for s in after) < sum(s.size_bytes for s in segments_before)
    if isinstance(archive, S3Archive):
        # 12 objects an hour per category became one per (category, hour)
        assert len(segments_before) == 12 * 2
        assert [(s.category, s.hour_ms) for s in after] == [
            ("rejected", T0),
            ("telemetry", T0),
            ("telemetry", T0 + HOUR_MS),
        ]
    # A second pass has nothing left to do; a new process reads the same.
    assert archive.compact(LATER).segments_before == 0
    archive.close()
    assert read_all(open_archive()) == before


def test_an_hour_still_open_is_not_compacted(open_archive: OpenArchive) -> None:
    archive = open_archive()
    fill(archive)
    # 08:00 closed at 09:00 and its grace ends at 10:00; 09:00 is still in its grace
    report = archive.compact(T0 + 2 * HOUR_MS + 1)
    compacted_hours = report.segments_after
    assert compacted_hours == 2  # telemetry and rejected of 08:00
    assert archive.compact(T0 + 2 * HOUR_MS + 1).segments_before == 0
    assert archive.compact(LATER).segments_after == 1  # telemetry 09:00, now closed


def test_expiry_removes_whole_hours_before_the_cutoff(open_archive: OpenArchive) -> None:
    archive = open_archive()
    written = fill(archive)
    # S3: 12 rejected and 6 telemetry objects of 08:00; the folder: one file each
    assert archive.expire_before(T0 + HOUR_MS) == (18 if isinstance(archive, S3Archive) else 2)
    kept = [r for r in written if r.received_ms >= T0 + HOUR_MS]
    assert sorted(read_all(archive), key=lambda r: r.received_ms) == sorted(
        kept, key=lambda r: r.received_ms
    )
    assert archive.expire_before(T0 + HOUR_MS) == 0


def test_the_retention_job_expires_only_when_a_retention_is_set(
    open_archive: OpenArchive,
) -> None:
    archive = open_archive()
    written = fill(archive)
    now_ms = T0 + 3 * DAY_MS
    forever = RetentionScheduler(NoRetention(), RetentionPolicy(), archive=archive)  # type: ignore[arg-type]
    assert "archive" not in forever.run_once(now_ms)
    assert forever.last_compaction is not None
    assert forever.last_compaction.describe().startswith(
        "24 segments into 3" if isinstance(archive, S3Archive) else "3 segments into 3"
    )
    assert read_all(archive) == sorted(written, key=lambda r: (r.category, r.received_ms))

    two_days = RetentionScheduler(
        NoRetention(),  # type: ignore[arg-type]
        RetentionPolicy(archive_days=2),
        archive=archive,
    )
    removed = two_days.run_once(now_ms)
    assert removed["archive"].describe() == "3 segments"
    assert read_all(archive) == []


def test_an_interrupted_s3_compaction_reads_once_and_is_finished_next_time(
    s3_archive: S3Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = s3_archive
    fill(archive)
    before = read_all(archive)

    # Crash after the merged object is written, before its sources are deleted.
    real_delete = archive._delete
    calls: list[list[str]] = []

    def crash_on_sources(keys: list[str]) -> None:
        calls.append(list(keys))
        if not keys[0].endswith(".compaction.json"):
            raise ConnectionError("killed mid-compaction")
        real_delete(keys)

    monkeypatch.setattr(archive, "_delete", crash_on_sources)
    with pytest.raises(ConnectionError):
        archive.compact(LATER)
    assert len(calls) == 1
    # the merged object and its sources are both in the bucket: read once, not twice
    assert read_all(archive) == before
    monkeypatch.setattr(archive, "_delete", real_delete)

    archive.compact(LATER)
    assert read_all(archive) == before
    assert len(archive.segments()) == 3


def test_a_crash_before_the_merged_object_leaves_the_sources(
    s3_archive: S3Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = s3_archive
    fill(archive)
    before = read_all(archive)
    real_put = archive._put

    def crash_on_result(key: str, body: bytes) -> None:
        if key.endswith(".jsonl.gz"):
            raise ConnectionError("killed before the result was written")
        real_put(key, body)

    monkeypatch.setattr(archive, "_put", crash_on_result)
    with pytest.raises(ConnectionError):
        archive.compact(LATER)
    assert read_all(archive) == before  # only the intent is there: ignored
    monkeypatch.setattr(archive, "_put", real_put)
    archive.compact(LATER)
    assert read_all(archive) == before


def test_a_folder_compaction_killed_before_its_rename_changes_nothing(tmp_path: Path) -> None:
    archive = FolderArchive(tmp_path / "archive")
    fill(archive)
    before = read_all(archive)
    # what a crash between writing the rewrite and renaming it leaves behind
    segment = archive.root / archive.segments()[0].key
    segment.with_name(segment.name + ".compacting").write_bytes(b"\x1f\x8bhalf")
    assert read_all(archive) == before
    archive.compact(LATER)
    assert read_all(archive) == before


def test_a_segment_that_does_not_decode_whole_is_left_alone(tmp_path: Path) -> None:
    # S3 objects are uploaded whole; a torn tail (a crash mid-append) is the folder's.
    archive = FolderArchive(tmp_path / "archive")
    fill(archive)
    torn = archive.root / archive.segments()[-1].key
    with torn.open("ab") as file:
        file.write(b"\x1f\x8b\x08\x00torn")
    data = torn.read_bytes()
    report = archive.compact(LATER)
    assert report.skipped == (archive.segments()[-1].key,)
    assert torn.read_bytes() == data


@pytest.mark.parametrize(
    ("sizes", "target", "groups"),
    [
        ([10, 10, 10], 100, [[0, 1, 2]]),
        ([10, 60, 10, 10], 100, [[2, 3]]),  # a large one breaks the run
        ([40, 40, 40], 100, [[0, 1]]),  # the third would pass the target
        ([10], 100, []),  # one alone is not rewritten
    ],
)
def test_small_groups(sizes: list[int], target: int, groups: list[list[int]]) -> None:
    segments = [SegmentInfo("t", f"t/{i}", T0, size, "s3") for i, size in enumerate(sizes)]
    found = small_groups(segments, target)
    assert [[int(s.key[2:]) for s in group] for group in found] == groups


def test_replay_reads_the_same_stream_across_compacted_segments(
    open_archive: OpenArchive,
) -> None:
    """What `archive replay` feeds ingest, in the order it feeds it, before and after."""
    archive = open_archive()
    fill(archive)
    before = list(in_time_order(archive, None, None, None))
    window = list(in_time_order(archive, None, T0 + 30 * 60_000, T0 + 90 * 60_000))
    archive.compact(LATER)
    assert list(in_time_order(archive, None, None, None)) == before
    assert list(in_time_order(archive, None, T0 + 30 * 60_000, T0 + 90 * 60_000)) == window
    assert [r.received_ms for r in before] == sorted(r.received_ms for r in before)


class UnreachableArchive:
    def expire_before(self, cutoff_ms: int) -> int:
        raise ConnectionError("S3 is down")

    def compact(self, now_ms: int, stop: object = None) -> object:
        raise ConnectionError("S3 is down")


def test_an_unreachable_archive_is_one_warning_and_the_store_still_reports(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = RetentionScheduler(
        NoRetention(),  # type: ignore[arg-type]
        RetentionPolicy(archive_days=1),
        archive=UnreachableArchive(),  # type: ignore[arg-type]
    )
    assert scheduler.run_once(LATER) == {}
    [warning] = [r for r in caplog.records if r.name == "wattline.retention"]
    assert warning.levelname == "WARNING"
    assert "S3 is down" in warning.getMessage()
    assert warning.exc_info is None  # one line, no traceback
