"""WATTLINE_WS_COMPRESSION reaches the server: permessage-deflate is offered, or not.

Off unless asked for: in ``wattline up`` each frame's two zlib calls let the
collector's threads take the GIL from the event loop (docs/live.md)."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI, WebSocket
from tests.conftest import free_port
from websockets.asyncio.client import connect

from wattline.config import Settings
from wattline.runtime.api_server import api_server


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())

    return app


async def negotiated(compression: bool | None) -> str | None:
    """The extensions the server accepted; ``compression`` None: the setting left unset."""
    chosen = {} if compression is None else {"ws_compression": compression}
    settings = Settings(http_port=free_port(), **chosen)
    async with api_server(echo_app(), settings):
        for _ in range(200):  # until uvicorn listens
            try:
                async with connect(f"ws://127.0.0.1:{settings.http_port}/ws") as ws:
                    await ws.send("hello")
                    assert await ws.recv() == "hello"
                    assert ws.response is not None
                    return ws.response.headers.get("Sec-WebSocket-Extensions")
            except OSError:
                await asyncio.sleep(0.05)
    raise AssertionError("the server did not listen")


@pytest.mark.parametrize(("compression", "deflate"), [(True, True), (False, False), (None, False)])
def test_the_setting_decides_permessage_deflate(compression: bool | None, deflate: bool) -> None:
    extensions = asyncio.run(negotiated(compression))
    assert ("permessage-deflate" in (extensions or "")) is deflate
