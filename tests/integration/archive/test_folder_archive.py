from __future__ import annotations

import os
from pathlib import Path
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from wattline.archive.base import ArchiveRecord
from wattline.archive.folder import FolderArchive, write_durably

HOUR_MS = 3_600_000
T0 = 1_764_057_600_000


def record(i: int, category: str = "telemetry") -> ArchiveRecord:
    return ArchiveRecord(
        T0 + i * 60_000, f"iot/d{i}/telemetry", bytes([i % 256]) * 3, "accepted", category
    )


def test_batches_append_to_hourly_segments_and_read_back_byte_for_byte(tmp_path: Path) -> None:
    archive = FolderArchive(tmp_path)
    first = [record(i) for i in range(30)]
    second = [record(i) for i in range(30, 90)] + [record(5, "rejected")]
    archive.append(first)
    archive.append(second)
    segments = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.gz"))
    assert segments == [
        "rejected/2025-11-25/08.jsonl.gz",
        "telemetry/2025-11-25/08.jsonl.gz",
        "telemetry/2025-11-25/09.jsonl.gz",
    ]
    assert list(archive.read("telemetry")) == first + second[:-1]
    assert list(archive.read("rejected")) == [record(5, "rejected")]


def test_a_torn_final_member_loses_only_itself(tmp_path: Path) -> None:
    archive = FolderArchive(tmp_path)
    archive.append([record(1)])
    archive.append([record(2)])
    [segment] = tmp_path.rglob("*.gz")
    segment.write_bytes(segment.read_bytes()[:-5])
    assert list(archive.read()) == [record(1)]


def open_descriptors() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_the_running_hour_s_files_stay_open_and_close_with_the_archive(tmp_path: Path) -> None:
    now = [T0 + 30 * 60_000]  # 08:30, within record(0..59)'s hour
    archive = FolderArchive(tmp_path, clock_ms=lambda: now[0])
    before = open_descriptors()
    archive.append([record(1), record(2, "rejected")])
    archive.append([record(3)])
    assert open_descriptors() == before + 2  # the hour's telemetry and rejected files
    assert list(archive.read("telemetry")) == [record(1), record(3)]
    archive.close()
    assert open_descriptors() == before


def test_a_file_is_closed_once_its_hour_ends_so_compaction_never_swaps_an_open_one(
    tmp_path: Path,
) -> None:
    now = [T0 + 30 * 60_000]
    archive = FolderArchive(tmp_path, clock_ms=lambda: now[0])
    before = open_descriptors()
    archive.append([record(1)])
    # Two hours on (compaction's grace past the hour), 08:00's segment is rewritten...
    now[0] = T0 + 2 * HOUR_MS + 1
    archive.append([record(121)])  # 10:01: the 08:00 file is closed, 10:00's opened
    assert open_descriptors() == before + 1
    report = archive.compact(now[0])
    assert report.segments_before == 1
    # ...and a late record of 08:00 is appended to the new file, by its name.
    archive.append([record(4)])
    assert list(archive.read("telemetry", until_ms=T0 + HOUR_MS)) == [record(1), record(4)]
    archive.close()


@given(chunk=st.integers(1, 64), size=st.integers(0, 600))
def test_a_short_write_is_continued_until_every_byte_is_written(chunk: int, size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    real_write = os.write
    read_end, write_end = os.pipe()
    try:
        with patch("os.write", lambda fd, view: real_write(fd, bytes(view[:chunk]))):
            write_durably(write_end, data)
        os.close(write_end)
        write_end = -1
        with os.fdopen(read_end, "rb") as pipe:
            read_end = -1
            assert pipe.read() == data
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)
