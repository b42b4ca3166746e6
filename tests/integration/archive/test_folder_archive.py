from __future__ import annotations

from pathlib import Path

from wattline.archive.base import ArchiveRecord
from wattline.archive.folder import FolderArchive

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
