"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

import wattline
from wattline.api.docs import add_docs
from wattline.api.errors import add_error_handlers
from wattline.api.routers import (
    api_keys,
    auth,
    devices,
    energy,
    export,
    gaps,
    health,
    ingest,
    quarantine,
    telemetry,
    users,
    window,
)
from wattline.api.services import ApiServices

# Every JSON body the API takes is small: the largest, a replay of 10,000 ids,
# is about 200 kB. Starlette counts the bytes as they stream in (Content-Length
# or chunked) and answers 413 at the limit, so no body is ever held whole.
# HTTP ingest sets its own limit on its route.
MAX_BODY_BYTES = 512 * 1024


def create_app(services: ApiServices) -> FastAPI:
    app = FastAPI(
        max_body_size=MAX_BODY_BYTES,
        docs_url=None,  # served from local files by add_docs, not from a CDN
        redoc_url=None,
        title="Wattline",
        version=wattline.__version__,
        description="Energy IoT telemetry: devices, time series, quarantine.",
    )
    app.state.services = services
    add_docs(app, app.title)
    app.include_router(health.router)
    app.include_router(devices.router)
    app.include_router(telemetry.router)
    app.include_router(gaps.router)
    app.include_router(ingest.router)
    app.include_router(quarantine.router)
    app.include_router(energy.router)
    app.include_router(window.router)
    app.include_router(export.router)
    app.include_router(auth.public)
    app.include_router(auth.router)
    app.include_router(users.public)
    app.include_router(users.router)
    app.include_router(api_keys.router)

    add_error_handlers(app)
    return app
