"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

import wattline
from wattline.api.docs import add_docs
from wattline.api.errors import add_error_handlers
from wattline.api.headers import SecurityHeadersMiddleware, add_cors
from wattline.api.ratelimit import AddressLimitMiddleware
from wattline.api.routers import (
    api_keys,
    audit,
    auth,
    certificates,
    credentials,
    devices,
    energy,
    export,
    firmware,
    gaps,
    health,
    ingest,
    pairing,
    quarantine,
    schedules,
    shares,
    telemetry,
    users,
    window,
)
from wattline.api.services import ApiServices
from wattline.observability.http_metrics import HttpMetrics, HttpMetricsMiddleware

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
    app.include_router(credentials.router)
    app.include_router(certificates.router)
    app.include_router(certificates.ca_router)
    app.include_router(pairing.router)
    app.include_router(shares.router)
    app.include_router(telemetry.router)
    app.include_router(gaps.router)
    app.include_router(ingest.router)
    app.include_router(quarantine.router)
    app.include_router(energy.router)
    app.include_router(window.router)
    app.include_router(export.router)
    app.include_router(audit.router)
    app.include_router(auth.public)
    app.include_router(auth.router)
    app.include_router(users.public)
    app.include_router(users.router)
    app.include_router(api_keys.router)
    app.include_router(firmware.router)
    app.include_router(firmware.downloads)
    app.include_router(schedules.router)

    add_error_handlers(app)
    app.add_middleware(HttpMetricsMiddleware, metrics=HttpMetrics(services.registry))
    # Added last runs first: headers on every answer, a 429 included; CORS preflights
    # answered before the address limit; the address limit before any route.
    if services.api_limits is not None:
        app.add_middleware(AddressLimitMiddleware, limiter=services.api_limits.by_address)
    add_cors(app, services.cors_origins)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
