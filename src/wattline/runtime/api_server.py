"""The API on uvicorn, for the processes that serve it (``up`` and ``serve``).

A module of its own so that ``wattline collect`` never imports uvicorn or FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI

from wattline.config import Settings


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def api_server(app: FastAPI, settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """The API on uvicorn; yields the server's task, which ends early only on a failure."""
    server = _QuietServer(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.http_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws_per_message_deflate=settings.ws_compression,
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        yield task
    finally:
        server.should_exit = True
        await task
