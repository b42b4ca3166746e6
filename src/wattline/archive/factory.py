"""Opens the raw archive the settings ask for."""

from __future__ import annotations

from urllib.parse import urlsplit

from wattline.archive.base import RawArchive
from wattline.archive.folder import FolderArchive
from wattline.config import Settings


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
