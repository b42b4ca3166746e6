"""Archive backends under test: a folder, and S3 served by moto's real HTTP server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer
from tests.conftest import free_port

from wattline.archive.base import ArchiveRecord, RawArchive
from wattline.archive.folder import FolderArchive
from wattline.archive.s3 import S3Archive, S3Location, SegmentPolicy, open_s3_client

HOUR_MS = 3_600_000
T0 = 1_764_057_600_000  # 2025-11-25T08:00:00Z


def record(i: int, category: str = "telemetry", offset_ms: int = 0) -> ArchiveRecord:
    """Message i, received i minutes after T0 (so 60 per hour), with distinct bytes."""
    payload = b'{"seq": %d, "raw": "' % i + bytes([i % 256, 0, 255]) + b'"}'
    return ArchiveRecord(
        T0 + offset_ms + i * 60_000, f"iot/d{i % 7}/{category}", payload, "accepted", category
    )


def in_folder_order(records: list[ArchiveRecord]) -> list[ArchiveRecord]:
    """By category, then hour, then append order: the order read() promises."""
    return sorted(records, key=lambda r: (r.category, r.received_ms // HOUR_MS))


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and no user profile: tests never reach a real AWS account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@dataclass
class S3Server:
    """moto's S3 over HTTP on a port of its own; stop() and start() simulate an outage."""

    port: int = field(default_factory=free_port)
    _server: ThreadedMotoServer | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        # Named, so the check for threads a test leaves behind knows it as the
        # session's server (tests/conftest.py).
        if self._server._thread is not None:
            self._server._thread.name = "session-moto-server"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def new_bucket(self) -> str:
        # moto keeps buckets in process memory, across restarts of the server.
        name = f"wattline-{uuid.uuid4().hex[:12]}"
        open_s3_client(self.endpoint_url).create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


# Tests drive uploads themselves (flush, run_once, close) unless they ask for
# the background uploader; a slow poll keeps it from racing those calls.
MANUAL = SegmentPolicy(poll_interval_s=3600)

OpenArchive = Callable[[], RawArchive]


@pytest.fixture(params=["folder", "s3"])
def open_archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenArchive]:
    """Opens the same archive again on each call, as a restarted process would;
    every archive opened is closed at the end."""
    opened: list[RawArchive] = []

    def make() -> RawArchive:
        archive: RawArchive
        if request.param == "folder":
            archive = FolderArchive(tmp_path / "archive")
        else:
            server: S3Server = request.getfixturevalue("s3_server")
            archive = S3Archive(
                open_s3_client(server.endpoint_url),
                S3Location(request.getfixturevalue("bucket"), "raw/v1"),
                tmp_path / "archive-spool",
                policy=MANUAL,
                background=False,
            )
        opened.append(archive)
        return archive

    yield make
    for archive in opened:
        archive.close()
