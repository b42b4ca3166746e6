"""Request bodies are limited while they stream, and never read before the token is checked.

The server runs in a uvicorn process of its own, so its memory can be read
from /proc while a client streams hundreds of MB at it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import free_port, port_open
from tests.integration.api.test_api import AUTH, services

from wattline.api.app import MAX_BODY_BYTES, create_app
from wattline.storage.sql import SqlStore

MB = 1024 * 1024
# What the server may grow by while bodies stream at it: buffers, not bodies.
RSS_SLACK_BYTES = 50 * MB

_SERVER = """
import sys
from pathlib import Path

import uvicorn
from prometheus_client import CollectorRegistry

from wattline.api.app import create_app
from wattline.api.ratelimit import MemoryRateLimiter as RateLimiter
from wattline.api.services import ApiServices
from wattline.archive.folder import FolderArchive
from wattline.ingest.committer import Committer
from wattline.ingest.sources.http import HttpIngest
from wattline.ingest.interpret import InterpretConfig
from wattline.observability.metrics import IngestMetrics
from wattline.protocols.adapters import build_adapters
from wattline.storage.sqlite import open_sqlite_store

folder, port = Path(sys.argv[1]), int(sys.argv[2])
store = open_sqlite_store(folder / "wattline.db")
registry = CollectorRegistry()
committer = Committer(
    store,
    FolderArchive(folder / "archive"),
    InterpretConfig(adapters=build_adapters(["smartsolar"])),
    IngestMetrics(registry),
    auto_register=True,
)
services = ApiServices(
    store=store,
    admin_token="t",
    registry=registry,
    offline_after_ms=120_000,
    http_ingest=HttpIngest(committer, "devices"),
    rate_limiter=RateLimiter(rate_per_s=100.0, burst=100),
)
uvicorn.run(create_app(services), host="127.0.0.1", port=port, log_level="warning")
"""


def _memory_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """(pid, port) of a uvicorn process serving the API over SQLite."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    folder = tmp_path_factory.mktemp("body-limits")
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(folder), str(port)], env=env)
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):
        assert proc.poll() is None, "the server exited"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield proc.pid, port
    proc.terminate()
    proc.wait(10)


def _chunks(total_bytes: int) -> Iterator[bytes]:
    """A JSON-ish body of total_bytes, made as it is sent: never held in memory."""
    chunk = b"x" * (64 * 1024)
    yield b'{"device_id": "'
    for _ in range(total_bytes // len(chunk)):
        yield chunk
    yield b'"}'


def post_chunked(port: int, path: str, headers: dict[str, str], total_bytes: int) -> int:
    """POST a chunked body while reading the answer; the status as soon as it arrives."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n{head}\r\n".encode()
    )
    answered = threading.Event()

    def send_body() -> None:
        try:
            for chunk in _chunks(total_bytes):
                if answered.is_set():
                    return
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            return  # the server closed the connection: its answer is already on its way

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    try:
        received = b""
        while b"\r\n" not in received:
            data = sock.recv(4096)
            assert data, "the server closed the connection without an answer"
            received += data
        answered.set()
        return int(received.split(b" ", 2)[1])
    finally:
        answered.set()
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        sender.join(30)


@pytest.mark.parametrize(
    ("path", "headers", "total_bytes", "expected"),
    [
        ("/api/v1/devices", {}, 500 * MB, 401),
        ("/api/v1/devices", {"Authorization": "Bearer wrong"}, 500 * MB, 401),
        ("/api/v1/devices", {"Authorization": "Bearer t"}, 500 * MB, 413),
        ("/api/v1/telemetry", {"Authorization": "Bearer t"}, 300 * MB, 413),
    ],
)
def test_a_streamed_body_is_refused_without_being_held(
    server: tuple[int, int], path: str, headers: dict[str, str], total_bytes: int, expected: int
) -> None:
    pid, port = server
    rss_before = _memory_bytes(pid, "VmRSS")
    assert post_chunked(port, path, headers, total_bytes) == expected
    # VmHWM is the peak resident size over the process's life, so a body held
    # only for a moment shows too.
    assert _memory_bytes(pid, "VmHWM") - rss_before < RSS_SLACK_BYTES


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    with TestClient(create_app(services(store))) as test_client:
        yield test_client


def test_a_body_over_the_limit_with_content_length_is_413(client: TestClient) -> None:
    body = b'{"device_id": "' + b"x" * (10 * MB) + b'"}'
    response = client.post("/api/v1/devices", content=body, headers=AUTH)
    assert response.status_code == 413
    assert len(response.content) < 1024


def test_a_large_invalid_body_is_not_echoed_in_the_422(client: TestClient) -> None:
    body = b'{"device_id": "' + b"x" * (MAX_BODY_BYTES - 100) + b'"}'
    response = client.post(
        "/api/v1/devices", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert len(response.content) < 1024
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "device_id"]
    assert error["input"].endswith("...")
