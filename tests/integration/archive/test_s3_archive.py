"""The S3 archive against moto's S3 server over HTTP: layout, segment closing,
outages and crashes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.archive.conftest import MANUAL, T0, S3Server, in_folder_order, record

from wattline.archive.base import ArchiveRecord
from wattline.archive.folder import FolderArchive
from wattline.archive.s3 import (
    S3Archive,
    S3Location,
    SegmentPolicy,
    SpoolBusyError,
    open_s3_client,
)
from wattline.config import Settings
from wattline.runtime.backends import open_archive

PREFIX = "raw/v1"
KEY = re.compile(
    r"raw/v1/(telemetry|rejected)/2025-11-25/(08|09)/\d{13}-[0-9a-f]{8}-\d{6}\.jsonl\.gz"
)


def batches() -> list[list[ArchiveRecord]]:
    return [
        [record(i) for i in range(30)],
        [record(i) for i in range(30, 90)] + [record(5, "rejected")],
    ]


def bucket_objects(server: S3Server, bucket: str) -> dict[str, bytes]:
    client = open_s3_client(server.endpoint_url)
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listing
    }


def spooled(spool: Path) -> list[Path]:
    # os.walk, not rglob: the uploader prunes emptied folders while this scans.
    return sorted(
        Path(folder, name)
        for folder, _, names in os.walk(spool)
        for name in names
        if name.endswith(".jsonl.gz")
    )


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def make_archive(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> Iterator[Callable[..., S3Archive]]:
    opened: list[S3Archive] = []

    def make(**options: object) -> S3Archive:
        options = {"policy": MANUAL, "background": False} | options
        archive = S3Archive(
            open_s3_client(s3_server.endpoint_url),
            S3Location(bucket, PREFIX),
            tmp_path / "spool",
            **options,  # type: ignore[arg-type]
        )
        opened.append(archive)
        return archive

    yield make
    for archive in opened:
        archive.close()


def test_each_segment_is_one_object_holding_the_folder_format(
    make_archive: Callable[..., S3Archive], s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    archive = make_archive()
    folder = FolderArchive(tmp_path / "folder")
    for batch in batches():
        archive.append(batch)
        folder.append(batch)
    assert archive.flush() == 3

    objects = bucket_objects(s3_server, bucket)
    assert len(objects) == 3  # 91 messages, 2 batches, 3 (category, hour) partitions
    assert all(KEY.fullmatch(key) for key in objects)
    # Byte for byte what the folder archive writes for the same batches.
    by_partition = {"/".join(key.split("/")[2:5]): data for key, data in objects.items()}
    assert by_partition == {
        p.relative_to(folder.root).as_posix().removesuffix(".jsonl.gz"): p.read_bytes()
        for p in folder.root.rglob("*.jsonl.gz")
    }
    assert spooled(tmp_path / "spool") == []


def test_segments_close_by_size(make_archive: Callable[..., S3Archive]) -> None:
    archive = make_archive(policy=SegmentPolicy(max_segment_bytes=1, poll_interval_s=3600))
    appended = [[record(i) for i in range(n, n + 10)] for n in range(0, 50, 10)]
    for batch in appended:
        archive.append(batch)
    archive.flush()
    segments = archive.segments("telemetry")
    assert len(segments) == 5
    assert all(s.location == "s3" for s in segments)
    assert list(archive.read()) == [r for batch in appended for r in batch]


def test_segments_close_by_age_and_at_the_end_of_their_hour(
    make_archive: Callable[..., S3Archive],
) -> None:
    now_s = [T0 / 1000 + 600]
    archive = make_archive(clock=lambda: now_s[0])
    archive.append([record(10), record(11)])
    now_s[0] += 59
    archive.append([record(12)])
    assert archive.run_once() == 0  # 59 s old: still open
    now_s[0] += 1
    assert archive.run_once() == 1  # 60 s old: closed and uploaded

    now_s[0] = T0 / 1000 + 3599
    archive.append([record(59)])
    assert archive.run_once() == 0
    now_s[0] += 1  # the hour is over: closed however young
    assert archive.run_once() == 1
    keys = [s.key for s in archive.segments()]
    # Segment ids start with the opening time, so keys sort in write order.
    assert [key.split("/")[-1][:13] for key in keys] == [
        str(T0 + 600_000),
        str(T0 + 3_599_000),
    ]
    assert list(archive.read()) == [record(10), record(11), record(12), record(59)]


def test_an_s3_outage_delays_uploads_but_never_appends_or_data(
    tmp_path: Path,
) -> None:
    server = S3Server()
    server.start()
    try:
        bucket = server.new_bucket()
        spool = tmp_path / "spool"
        quick = SegmentPolicy(
            max_segment_age_s=0.1, poll_interval_s=0.05, retry_min_s=0.05, retry_max_s=0.3
        )
        # Segments age by this clock, so the test closes them by moving it, not by waiting.
        now_s = [time.time()]
        archive = S3Archive(
            open_s3_client(server.endpoint_url),
            S3Location(bucket, PREFIX),
            spool,
            policy=quick,
            clock=lambda: now_s[0],
        )
        appended = [record(i) for i in range(10)]
        archive.append(appended)
        now_s[0] += 1
        wait_until(lambda: not spooled(spool), 10, "the first upload")

        server.stop()
        for closed, n in enumerate(range(10, 60, 10), start=1):
            batch = [record(i) for i in range(n, n + 10)] + [record(n, "rejected")]
            # returns with S3 down: an append writes to the spool, never to the network
            archive.append(batch)
            appended += batch
            now_s[0] += 1
            wait_until(
                lambda closed=closed: len(archive._closed_segments()) >= 2 * closed,
                10,
                f"outage segment {closed} to close in the spool",
            )
        assert len(spooled(spool)) >= 5

        server.start()
        wait_until(lambda: not spooled(spool), 30, "the spool to drain after the outage")
        archive.close()
        reader = S3Archive(
            open_s3_client(server.endpoint_url),
            S3Location(bucket, PREFIX),
            tmp_path / "reader-spool",
            read_only=True,
        )
        assert list(reader.read()) == in_folder_order(appended)
    finally:
        server.stop()


CRASHING_WRITER = """
import sys, time
from pathlib import Path
from tests.integration.archive.conftest import MANUAL, record
from wattline.archive.s3 import S3Archive, S3Location, open_s3_client

endpoint, bucket, spool = sys.argv[1:4]
archive = S3Archive(
    open_s3_client(endpoint), S3Location(bucket, "raw/v1"), Path(spool),
    policy=MANUAL, background=False,
)
archive.append([record(i) for i in range(30)])
archive.append([record(i) for i in range(30, 90)] + [record(5, "rejected")])
print("appended", flush=True)
time.sleep(60)
"""


def test_a_spool_left_by_a_crashed_process_is_uploaded_by_the_next(
    make_archive: Callable[..., S3Archive], s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    writer = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, s3_server.endpoint_url, bucket, str(spool)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[3],
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"appended\n"
        # A second writer on a live spool would overwrite its segments: refused.
        with pytest.raises(SpoolBusyError):
            make_archive()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert writer.stdout is not None
        writer.stdout.close()

    # The crash also tore the last member of the 08:00 telemetry segment.
    torn = next(
        p for p in spooled(spool) if "/telemetry/" in p.as_posix() and "/08/" in p.as_posix()
    )
    torn.write_bytes(torn.read_bytes()[:-5])

    archive = make_archive()
    assert archive.run_once() == 3
    assert spooled(spool) == []
    assert len(bucket_objects(s3_server, bucket)) == 3
    # Batch 2's part of that segment (records 30-59) was never acknowledged.
    survivors = [record(i) for i in (*range(30), *range(60, 90))]
    assert list(archive.read("telemetry")) == survivors
    assert list(archive.read("rejected")) == [record(5, "rejected")]


def test_read_only_reads_the_spool_but_leaves_it_to_its_writer(
    make_archive: Callable[..., S3Archive], s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    writer = make_archive()
    writer.append([record(1), record(2)])
    writer.flush()
    writer.append([record(3)])

    reader = make_archive(read_only=True)
    assert [s.location for s in reader.segments()] == ["s3", "local"]
    assert list(reader.read()) == [record(1), record(2), record(3)]
    with pytest.raises(RuntimeError, match="read-only"):
        reader.append([record(4)])
    reader.close()
    assert len(spooled(tmp_path / "spool")) == 1
    assert len(bucket_objects(s3_server, bucket)) == 1


def test_the_factory_opens_s3_for_s3_urls_and_refuses_other_schemes(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        archive_url=f"s3://{bucket}/site-a/raw/",
        s3_endpoint_url=s3_server.endpoint_url,
    )
    archive = open_archive(settings)
    assert isinstance(archive, S3Archive)
    archive.append([record(1)])
    archive.close()
    [key] = bucket_objects(s3_server, bucket)
    assert key.startswith("site-a/raw/telemetry/2025-11-25/08/")
    assert list((tmp_path / "archive-spool").rglob("*.gz")) == []

    assert isinstance(open_archive(Settings(data_dir=tmp_path)), FolderArchive)
    with pytest.raises(ValueError, match="use s3://bucket/prefix"):
        open_archive(Settings(data_dir=tmp_path, archive_url="ftp://host/archive"))


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://b", "b", ""),
        ("s3://b/", "b", ""),
        ("s3://b/raw", "b", "raw"),
        ("s3://b/site-a/raw/", "b", "site-a/raw"),
    ],
)
def test_s3_urls(url: str, bucket: str, prefix: str) -> None:
    assert S3Location.from_url(url) == S3Location(bucket, prefix)


@pytest.mark.parametrize("url", ["s3:///raw", "http://b/raw", "b/raw"])
def test_bad_s3_urls(url: str) -> None:
    with pytest.raises(ValueError, match="s3://bucket"):
        S3Location.from_url(url)
