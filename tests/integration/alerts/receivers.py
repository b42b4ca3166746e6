"""Real receivers for notification tests: an HTTP server that records (and can fail)
webhook requests, and an aiosmtpd SMTP server that keeps every message."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook

from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store


@dataclass
class HookLog:
    secret: str | None = None
    # answer this many requests with 500 before answering 200
    fail_first: int = 0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    verified: list[Any] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout_s: float = 10.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.verified) >= count, timeout_s)


@contextmanager
def webhook_receiver(log: HookLog) -> Iterator[str]:
    """A server on 127.0.0.1 verifying each request's signature; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with log.arrived:
                log.requests.append((headers, body))
                failing = len(log.requests) <= log.fail_first
                if not failing and log.secret is not None:
                    log.verified.append(Webhook(log.secret).verify(body, headers))
                log.arrived.notify_all()
            self.send_response(500 if failing else 200)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, _server: object, _session: object, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self.arrived:
            self.messages.append(message_from_bytes(envelope.content))
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout_s: float = 10.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.messages) >= count, timeout_s)


@contextmanager
def smtp_server(mailbox: Mailbox) -> Iterator[int]:
    """aiosmtpd on 127.0.0.1 (its own thread and loop); yields its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextmanager
def sqlite_store(path: Path) -> Iterator[SqlStore]:
    """A SQLite store for tests whose subject does not depend on the backend."""
    opened = open_sqlite_store(path / "wattline.db")
    try:
        yield opened
    finally:
        opened.close()
