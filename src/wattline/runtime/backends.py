"""The store, the raw archive and the retention policy the settings ask for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from wattline.archive.base import RawArchive
from wattline.archive.folder import FolderArchive
from wattline.config import Settings
from wattline.storage.opening import open_store_at
from wattline.storage.postgres import redact
from wattline.storage.retention import RetentionPolicy
from wattline.storage.sql import SqlStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def open_store(settings: Settings) -> SqlStore:
    return open_store_at(settings.database_url, settings.database_path, settings.sqlite_synchronous)


def describe_store(settings: Settings) -> str:
    """Where the data goes, for the banner: the SQLite file, or the URL without its password."""
    if settings.database_url is None:
        return str(settings.database_path)
    return redact(settings.database_url)


def open_archive(settings: Settings, *, read_only: bool = False) -> RawArchive:
    """read_only is for tools reading beside a running Wattline: it neither locks
    nor uploads the S3 spool, which belongs to the running process."""
    if settings.archive_url is None:
        return FolderArchive(settings.archive_dir)
    scheme = urlsplit(settings.archive_url).scheme
    if scheme != "s3":
        raise ValueError(
            f"unsupported WATTLINE_ARCHIVE_URL {settings.archive_url!r}: "
            "use s3://bucket/prefix, or leave it unset for a folder in the data dir"
        )
    # Imported here so boto3 loads only for deployments that archive to S3.
    from wattline.archive.s3 import S3Archive, S3Location, open_s3_client  # noqa: PLC0415

    return S3Archive(
        open_s3_client(settings.s3_endpoint_url),
        S3Location.from_url(settings.archive_url),
        settings.archive_spool_dir,
        read_only=read_only,
    )


def s3_client(settings: Settings) -> Callable[[], S3Client]:
    """Makes an S3 client on first use, so boto3 loads only for exports to S3."""

    def make() -> S3Client:
        from wattline.archive.s3 import open_s3_client  # noqa: PLC0415

        return open_s3_client(settings.s3_endpoint_url)

    return make


def retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(
        raw_days=settings.retention_raw_days,
        m1_days=settings.retention_1m_days,
        h1_days=settings.retention_1h_days,
        d1_days=settings.retention_1d_days,
        archive_days=settings.archive_retention_days,
    )
