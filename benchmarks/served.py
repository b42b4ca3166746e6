"""The API as the benchmarks measure it: a real uvicorn server on loopback and a
keep-alive HTTP client, so a figure includes HTTP parsing as an API user sees it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(app: Any, timeout_s: float = 120) -> Iterator[httpx.Client]:
    """The app on uvicorn (one worker, as `wattline up` runs it), and a client of it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout_s) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)
