"""A raw archive in any S3-compatible store (AWS S3, MinIO), through a local spool.

``append`` writes each batch as a gzip member to a segment file in a local spool
and fsyncs it, exactly as FolderArchive does, so it is durable when it returns
and never waits for the network: an S3 outage cannot stall ingest. A background
uploader closes segments by size, by age and at the end of their hour, uploads
each as one object and deletes the local copy only after S3 accepted it.

Object keys and spool paths share one layout, below the prefix and the spool
directory respectively::

    {category}/{YYYY-MM-DD}/{HH}/{segment-id}.jsonl.gz

The content is the FolderArchive format (gzip members of JSON lines). Segment
ids begin with the time the segment was opened, so keys sort in write order,
and carry a per-process writer id, so collectors sharing a bucket never collide.

Which segments are still open lives only in memory: after a crash every file in
the spool counts as closed and is uploaded by the next process. Re-uploading a
segment whose delete did not happen writes the same bytes to the same key.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import orjson

from wattline.archive.base import (
    HOUR_MS,
    ArchiveRecord,
    CompactionReport,
    SegmentInfo,
    hour_overlaps,
    in_range,
)
from wattline.archive.folder import (
    SEGMENT_SUFFIX,
    append_member,
    hour_start_ms,
    partition_key,
    remove_empty_dirs,
    segment_info,
)
from wattline.archive.lifecycle import (
    compactable,
    decode_whole,
    encode_compacted,
    expired,
    small_groups,
)
from wattline.archive.segment_format import decode_segment

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("wattline.archive")

DEFAULT_REGION = "us-east-1"
LOCK_FILE = ".lock"
# Beside a compaction's result while its sources are deleted (S3Archive.compact).
INTENT_SUFFIX = ".compaction.json"


@dataclass(frozen=True, slots=True)
class SegmentPolicy:
    # S3 bills and rate-limits per request, and readers (Athena, DuckDB, Spark)
    # prefer fewer, larger objects; 8 MiB is also boto3's multipart threshold,
    # so one plain PUT carries a segment.
    max_segment_bytes: int = 8 * 1024 * 1024
    # How long a record may wait in the spool before it is visible in S3. The
    # spool is durable, so this bounds staleness in S3, not what a crash loses.
    max_segment_age_s: float = 60.0
    poll_interval_s: float = 1.0
    # Backoff between failed upload rounds, doubling from min to max.
    retry_min_s: float = 1.0
    retry_max_s: float = 60.0
    # Shutdown uploads for at most this long; a backlog left from an outage
    # stays in the spool for the next start instead of holding the process.
    close_budget_s: float = 10.0


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str

    @classmethod
    def from_url(cls, url: str) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"expected s3://bucket[/prefix], got {url!r}")
        return cls(parts.netloc, parts.path.strip("/"))

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def relative(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key


@dataclass(frozen=True, slots=True)
class CompactionIntent:
    """A compaction in progress: ``target`` replaces ``sources`` (keys below the prefix)."""

    key: str
    target: str
    sources: tuple[str, ...]


class SpoolBusyError(RuntimeError):
    """Another process is writing to this spool; two writers would overwrite each other."""


def open_s3_client(endpoint_url: str | None) -> S3Client:
    """A client from boto3's usual credential chain (AWS_* variables, profiles, roles)."""
    # boto3 is a tenth of a second to import: only when an S3 location is configured.
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    session = boto3.session.Session()
    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
        # MinIO and most self-hosted stores serve buckets by path, not by host name.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=session.region_name or DEFAULT_REGION,
        config=config,
    )


@dataclass(slots=True)
class _OpenSegment:
    path: Path
    opened_s: float
    hour_end_ms: int


class S3Archive:
    def __init__(  # noqa: PLR0913 - each is a separate knob tests turn
        self,
        client: S3Client,
        location: S3Location,
        spool_dir: Path,
        *,
        policy: SegmentPolicy | None = None,
        clock: Callable[[], float] = time.time,
        background: bool = True,
        read_only: bool = False,
    ) -> None:
        """read_only opens the archive for reading alongside a running writer:
        no spool lock, no uploads, appends refused."""
        self._client = client
        self._location = location
        self._spool = spool_dir
        self._policy = policy or SegmentPolicy()
        self._clock = clock
        self._read_only = read_only
        self._writer_id = secrets.token_hex(4)
        self._next_seq = 0
        # Guards _open and the spool files' life cycle (create, append, delete).
        self._lock = threading.Lock()
        # One upload pass at a time, so a segment is never uploaded twice at once.
        self._upload_lock = threading.Lock()
        self._open: dict[tuple[str, int], _OpenSegment] = {}
        self._stopping = threading.Event()
        self._lock_fd: int | None = None
        self._thread: threading.Thread | None = None
        if read_only:
            return
        spool_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_spool(spool_dir)
        if background:
            self._thread = threading.Thread(
                target=self._upload_forever, name="wattline-archive-upload", daemon=True
            )
            self._thread.start()

    def append(self, records: Sequence[ArchiveRecord]) -> None:
        if self._read_only:
            raise RuntimeError("this archive was opened read-only")
        groups: dict[tuple[str, int], list[ArchiveRecord]] = defaultdict(list)
        for record in records:
            groups[record.category, hour_start_ms(record.received_ms)].append(record)
        with self._lock:
            for partition, group in groups.items():
                segment = self._open.get(partition) or self._open_segment(*partition)
                size_bytes = append_member(self._spool, segment.path, group)
                if size_bytes >= self._policy.max_segment_bytes:
                    del self._open[partition]

    def read(
        self,
        category: str | None = None,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> Iterator[ArchiveRecord]:
        for segment in self.segments(category):
            if hour_overlaps(segment.hour_ms, since_ms, until_ms):
                data = self._segment_bytes(segment)
                yield from (r for r in decode_segment(data) if in_range(r, since_ms, until_ms))

    def segments(self, category: str | None = None) -> list[SegmentInfo]:
        """Uploaded and spooled segments, merged in key order.

        The spool is listed before the bucket: a segment uploaded and deleted in
        between is then still found in the bucket, never missed.
        """
        local = self._list_spool(category)
        remote = self._list_remote(category)
        # A segment in both places (uploaded, not yet deleted) is described by
        # its local copy, which is cheaper to read.
        found = {segment.key: segment for segment in (*remote, *local)}
        return sorted(found.values(), key=lambda segment: segment.key.split("/"))

    def run_once(self) -> int:
        """Close the segments that are due, upload every closed one; return how many."""
        self._close_due()
        return self._upload_closed()

    def flush(self) -> int:
        """Close every segment and upload it; raises if S3 refuses."""
        with self._lock:
            self._open.clear()
        return self._upload_closed()

    def close(self) -> None:
        """Stop the uploader and upload what is left, within the close budget; what
        cannot be uploaded stays in the spool and the next process uploads it."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        if self._lock_fd is None:
            return
        with self._lock:
            self._open.clear()
        deadline = time.monotonic() + self._policy.close_budget_s
        try:
            self._upload_closed(keep_going=lambda: time.monotonic() < deadline)
        except Exception as exc:
            log.warning("archive upload failed at shutdown: %s", exc)
        if left := len(self._closed_segments()):
            log.warning("archive: %d segments stay in %s until the next start", left, self._spool)
        os.close(self._lock_fd)
        self._lock_fd = None

    def _open_segment(self, category: str, hour_ms: int) -> _OpenSegment:
        now_s = self._clock()
        segment_id = f"{int(now_s * 1000):013d}-{self._writer_id}-{self._next_seq:06d}"
        self._next_seq += 1
        path = self._spool / f"{partition_key(category, hour_ms)}/{segment_id}{SEGMENT_SUFFIX}"
        segment = _OpenSegment(path, now_s, hour_ms + HOUR_MS)
        self._open[category, hour_ms] = segment
        return segment

    def _close_due(self) -> None:
        now_s = self._clock()
        with self._lock:
            for partition, segment in list(self._open.items()):
                aged = now_s - segment.opened_s >= self._policy.max_segment_age_s
                if aged or now_s * 1000 >= segment.hour_end_ms:
                    del self._open[partition]

    def _upload_forever(self) -> None:
        delay_s = self._policy.poll_interval_s
        while not self._stopping.wait(delay_s):
            try:
                self._close_due()
                self._upload_closed(keep_going=lambda: not self._stopping.is_set())
            except Exception as exc:  # the uploader must outlive any failure
                delay_s = min(max(delay_s * 2, self._policy.retry_min_s), self._policy.retry_max_s)
                log.warning("archive upload failed, retrying in %.1f s: %s", delay_s, exc)
            else:
                delay_s = self._policy.poll_interval_s

    def _upload_closed(self, keep_going: Callable[[], bool] = lambda: True) -> int:
        """Upload closed segments in key order; a failure ends the pass (and raises)."""
        uploaded = 0
        with self._upload_lock:
            for path in self._closed_segments():
                if not keep_going():
                    break
                relative = path.relative_to(self._spool).as_posix()
                self._client.put_object(
                    Bucket=self._location.bucket,
                    Key=self._location.key(relative),
                    Body=path.read_bytes(),
                    ContentType="application/gzip",
                )
                with self._lock:
                    path.unlink()
                    remove_empty_dirs(self._spool, path.parent)
                uploaded += 1
        return uploaded

    def _closed_segments(self) -> list[Path]:
        # Scan first, then filter under the lock: a segment created after the
        # scan is not in it, and one still open at the check is left alone.
        found = _spool_files(self._spool, None)
        with self._lock:
            still_open = {segment.path for segment in self._open.values()}
        return [path for path in found if path not in still_open]

    def _list_spool(self, category: str | None) -> list[SegmentInfo]:
        infos = []
        for path in _spool_files(self._spool, category):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue  # uploaded since the scan; the bucket listing has it
            infos.append(segment_info(path.relative_to(self._spool).as_posix(), size, "local"))
        return infos

    def _list_remote(self, category: str | None) -> list[SegmentInfo]:
        infos, intents = self._list_bucket(category)
        # A compaction caught between writing its result and deleting its sources:
        # the result is read, its sources are not, so no record is read twice.
        present = {segment.key for segment in infos}
        hidden: set[str] = set()
        for intent in intents:
            if intent.target in present:
                hidden.update(intent.sources)
        return [segment for segment in infos if segment.key not in hidden]

    def _list_bucket(
        self, category: str | None
    ) -> tuple[list[SegmentInfo], list[CompactionIntent]]:
        prefix = self._location.key(f"{category}/" if category else "")
        paginator = self._client.get_paginator("list_objects_v2")
        infos = []
        intents = []
        for page in paginator.paginate(Bucket=self._location.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = self._location.relative(item["Key"])
                if relative.count("/") != 3:
                    continue
                if relative.endswith(SEGMENT_SUFFIX):
                    infos.append(segment_info(relative, item["Size"], "s3"))
                elif relative.endswith(INTENT_SUFFIX):
                    intents.append(self._read_intent(relative))
        return infos, intents

    def expire_before(self, cutoff_ms: int) -> int:
        """Delete the bucket's segments (and compaction intents) of hours before the
        cutoff. The spool is its writer's: what waits there is uploaded, then expired."""
        infos, intents = self._list_bucket(None)
        keys = [segment.key for segment in infos if expired(segment, cutoff_ms)]
        stale = [i.key for i in intents if expired(segment_info(i.key, 0, "s3"), cutoff_ms)]
        self._delete(keys + stale)
        return len(keys)

    def compact(self, now_ms: int, stop: threading.Event | None = None) -> CompactionReport:
        """Merge runs of small objects of each closed hour into one object each.

        Per run: an intent object naming the result and its sources is written
        first, then the result, then the sources are deleted, then the intent.
        Readers skip the sources of an intent whose result exists, so a run
        interrupted anywhere reads neither twice nor never, and the next
        compaction finishes (or drops) what an interrupted one left.
        """
        infos, intents = self._list_bucket(None)
        present = {segment.key for segment in infos}
        for intent in intents:
            self._finish(intent, present)
        infos, _ = self._list_bucket(None)
        closed = [segment for segment in infos if compactable(segment, now_ms)]
        report = CompactionReport()
        for group in small_groups(closed, self._policy.max_segment_bytes):
            if stop is not None and stop.is_set():
                break
            report += self._merge(group, now_ms)
        return report

    def _merge(self, group: list[SegmentInfo], now_ms: int) -> CompactionReport:
        records = []
        size_before = 0
        for segment in group:
            data = self._segment_bytes(segment)
            decoded = decode_whole(data)
            if decoded is None:
                return CompactionReport(skipped=(segment.key,))
            records.extend(decoded)
            size_before += len(data)
        sources = [segment.key for segment in group]
        # Named after its first source, so it sorts where that one did, and after
        # its sources' names, so two processes merging the same run write the same key.
        digest = hashlib.sha256("\n".join(sources).encode()).hexdigest()[:12]
        stem = sources[0].removesuffix(SEGMENT_SUFFIX)
        intent = CompactionIntent(
            f"{stem}.c{digest}{INTENT_SUFFIX}", f"{stem}.c{digest}{SEGMENT_SUFFIX}", tuple(sources)
        )
        body = encode_compacted(records, now_ms // 1000)
        self._put(intent.key, orjson.dumps({"target": intent.target, "sources": sources}))
        self._put(intent.target, body)
        self._delete(sources)
        self._delete([intent.key])
        return CompactionReport(len(group), 1, size_before, len(body))

    def _finish(self, intent: CompactionIntent, present: set[str]) -> None:
        if intent.target in present:
            self._delete([key for key in intent.sources if key in present])
        self._delete([intent.key])

    def _read_intent(self, relative: str) -> CompactionIntent:
        response = self._client.get_object(
            Bucket=self._location.bucket, Key=self._location.key(relative)
        )
        item = orjson.loads(response["Body"].read())
        return CompactionIntent(relative, str(item["target"]), tuple(item["sources"]))

    def _put(self, relative: str, body: bytes) -> None:
        self._client.put_object(
            Bucket=self._location.bucket, Key=self._location.key(relative), Body=body
        )

    def _delete(self, relatives: Sequence[str]) -> None:
        # DeleteObjects takes at most 1,000 keys per request.
        for start in range(0, len(relatives), 1000):
            chunk = relatives[start : start + 1000]
            self._client.delete_objects(
                Bucket=self._location.bucket,
                Delete={
                    "Objects": [{"Key": self._location.key(key)} for key in chunk],
                    "Quiet": True,
                },
            )

    def _segment_bytes(self, segment: SegmentInfo) -> bytes:
        if segment.location == "local":
            try:
                return (self._spool / segment.key).read_bytes()
            except FileNotFoundError:
                pass  # uploaded and deleted since it was listed
        response = self._client.get_object(
            Bucket=self._location.bucket, Key=self._location.key(segment.key)
        )
        return response["Body"].read()


def _lock_spool(spool_dir: Path) -> int:
    fd = os.open(spool_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SpoolBusyError(
            f"another process is writing to the archive spool {spool_dir}"
        ) from None
    return fd


def _spool_files(spool_dir: Path, category: str | None) -> list[Path]:
    # os.walk, unlike Path.rglob, shrugs off folders the uploader prunes mid-scan.
    base = spool_dir / category if category else spool_dir
    paths = [
        Path(folder, name)
        for folder, _, names in os.walk(base)
        for name in names
        if name.endswith(SEGMENT_SUFFIX)
    ]
    return sorted(paths, key=lambda path: path.relative_to(spool_dir).parts)
