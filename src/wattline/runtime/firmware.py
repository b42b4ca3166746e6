"""Firmware updates and schedules, built from the settings: the services the API
uses, the campaign runner ``up`` runs, and the scheduler (once commands exist).

Files in ``DATA_DIR/firmware``: ``signing.key`` (Ed25519, 0600), ``download-links.key``
(the download links' HMAC key, 0600) and, without an S3 archive, ``images/``.
With ``WATTLINE_ARCHIVE_URL=s3://bucket/prefix`` images go to
``s3://bucket/prefix/firmware/...``, private: devices fetch them through Wattline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from wattline.api.services import wall_clock_ms
from wattline.archive.blobs import BlobStore, FolderBlobs, S3Blobs
from wattline.archive.s3 import S3Location, open_s3_client
from wattline.config import Settings
from wattline.firmware.download_links import DownloadLinks
from wattline.firmware.mqtt_publisher import MqttOtaPublisher
from wattline.firmware.runner import CampaignRunner
from wattline.firmware.service import FirmwareService
from wattline.firmware.signing import FirmwareSigner
from wattline.ingest.sources.base import MqttEndpoint
from wattline.schedules.ports import CommandIssuer
from wattline.schedules.scheduler import Scheduler
from wattline.schedules.service import ScheduleService
from wattline.storage.sql import SqlStore
from wattline.storage.sql.firmware import SqlFirmware
from wattline.storage.sql.leases import SqlLeases, holder_name
from wattline.storage.sql.schedules import SqlSchedules

FIRMWARE_DIR = "firmware"
LINK_KEY_FILE = "download-links.key"


def _directory(settings: Settings) -> Path:
    return settings.data_dir / FIRMWARE_DIR


def link_secret(directory: Path) -> bytes:
    """The download links' key, made (0600) on first use and kept: links survive restarts."""
    path = directory / LINK_KEY_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(32))
    return path.read_bytes()


def blob_store(settings: Settings) -> BlobStore:
    if settings.archive_url is None:
        return FolderBlobs(_directory(settings) / "images")
    location = S3Location.from_url(settings.archive_url)
    return S3Blobs(open_s3_client(settings.s3_endpoint_url), location)


def download_links(settings: Settings) -> DownloadLinks:
    base_url = settings.public_url or f"http://{settings.host}:{settings.http_port}"
    return DownloadLinks(link_secret(_directory(settings)), base_url)


def firmware_service(
    settings: Settings, store: SqlStore, clock_ms: Callable[[], int]
) -> FirmwareService:
    return FirmwareService(
        SqlFirmware(store.engine),
        blob_store(settings),
        FirmwareSigner.in_directory(_directory(settings)),
        download_links(settings),
        store,
        clock_ms,
        max_artifact_bytes=settings.firmware_max_bytes,
    )


def schedule_service(store: SqlStore, clock_ms: Callable[[], int]) -> ScheduleService:
    return ScheduleService(SqlSchedules(store.engine), clock_ms, store)


@contextlib.asynccontextmanager
async def ota_campaigns(
    settings: Settings, store: SqlStore, endpoint: MqttEndpoint
) -> AsyncIterator[CampaignRunner]:
    """The campaign runner on its thread; give its ``on_committed`` to ingest."""
    publisher = await asyncio.to_thread(
        MqttOtaPublisher,
        endpoint.host,
        endpoint.port,
        topic_prefix=settings.topic_prefix,
        username=endpoint.username,
        password=endpoint.password,
    )
    runner = CampaignRunner(
        SqlFirmware(store.engine),
        publisher,
        download_links(settings),
        wall_clock_ms,
        leases=SqlLeases(store.engine),
        holder=holder_name(),
    )
    runner.start()
    try:
        yield runner
    finally:
        await asyncio.to_thread(runner.stop)
        await asyncio.to_thread(publisher.close)


@contextlib.asynccontextmanager
async def scheduling(store: SqlStore, issuer: CommandIssuer) -> AsyncIterator[Scheduler]:
    """The scheduler on its thread, issuing through the command service's ``issuer``."""
    leases = SqlLeases(store.engine)
    scheduler = Scheduler(
        SqlSchedules(store.engine),
        store,
        issuer,
        wall_clock_ms,
        leases=leases,
        holder=holder_name(),
    )
    scheduler.start()
    try:
        yield scheduler
    finally:
        await asyncio.to_thread(scheduler.stop)
