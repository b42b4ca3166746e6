"""Opens the raw archive the settings ask for."""

from __future__ import annotations

from wattline.archive.base import RawArchive
from wattline.archive.folder import FolderArchive
from wattline.config import Settings


def open_archive(settings: Settings) -> RawArchive:
    if settings.archive_url is None:
        return FolderArchive(settings.archive_dir)
    raise ValueError(f"unsupported WATTLINE_ARCHIVE_URL {settings.archive_url!r}")
