"""Security headers on every response, and CORS only for origins the operator names.

The API answers JSON to programs, so its Content-Security-Policy allows
nothing at all; the documentation pages set their own, narrower than a
browser's default (``api/docs.py``). Nothing is framed, no referrer leaves,
and ``/api/v1`` answers are never cached: they carry telemetry and audit
entries a shared cache must not keep.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, no_store_prefix: str = "/api/v1") -> None:
        self._app = app
        self._no_store_prefix = no_store_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        no_store = scope["path"].startswith(self._no_store_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(_ALWAYS)
                headers.setdefault("Content-Security-Policy", API_CSP)
                if no_store:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self._app(scope, receive, send_with_headers)


def add_cors(app: FastAPI, origins: Sequence[str]) -> None:
    """Cross-origin requests from exactly these origins; none configured, no CORS at all."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
