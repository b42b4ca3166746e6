"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

import wattline
from wattline.api.compat import hypervolt as compat_hypervolt
from wattline.api.compat import hypervolt_grid as compat_hypervolt_grid
from wattline.api.compat import hypervolt_home as compat_hypervolt_home
from wattline.api.compat import meter as compat_meter
from wattline.api.compat import smartplug as compat_smartplug
from wattline.api.compat import smartplug_commands as compat_smartplug_commands
from wattline.api.compat import smartsolar as compat_smartsolar
from wattline.api.dashboard import add_dashboard
from wattline.api.docs import add_docs
from wattline.api.errors import add_error_handlers
from wattline.api.headers import SecurityHeadersMiddleware, add_cors
from wattline.api.ratelimit import AddressLimitMiddleware
from wattline.api.routers import (
    alert_channels,
    alert_rules,
    alerts,
    anomalies,
    api_keys,
    audit,
    auth,
    buffer,
    certificates,
    commands,
    cost,
    credentials,
    decisions,
    devices,
    energy,
    export,
    firmware,
    forecasts,
    gaps,
    grid,
    health,
    ingest,
    live,
    pairing,
    quarantine,
    schedules,
    shares,
    solar,
    tariffs,
    telemetry,
    users,
    window,
)
from wattline.api.services import ApiServices
from wattline.observability.http_metrics import HttpMetrics, HttpMetricsMiddleware
from wattline.observability.http_tracing import HttpTracingMiddleware

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
    add_dashboard(app)
    app.include_router(health.router)
    app.include_router(devices.summary_router)
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
    app.include_router(tariffs.router)
    app.include_router(cost.router)
    app.include_router(grid.router)
    app.include_router(solar.router)
    include_compat(app)
    app.include_router(commands.router)
    app.include_router(live.router)
    app.include_router(alerts.router)
    app.include_router(alert_rules.router)
    app.include_router(alert_channels.router)
    app.include_router(anomalies.router)
    app.include_router(forecasts.router)
    app.include_router(decisions.router)
    app.include_router(buffer.router)
    app.include_router(firmware.router)
    app.include_router(firmware.downloads)
    app.include_router(schedules.router)

    add_error_handlers(app)
    app.add_middleware(HttpMetricsMiddleware, metrics=HttpMetrics(services.registry))
    if services.tracer is not None:
        app.add_middleware(HttpTracingMiddleware, tracer=services.tracer)
    # Added last runs first: headers on every answer, a 429 included; CORS preflights
    # answered before the address limit; the address limit before any route.
    if services.api_limits is not None:
        for prefix in ("/api/v1", *COMPAT_PREFIXES):
            app.add_middleware(
                AddressLimitMiddleware, limiter=services.api_limits.by_address, prefix=prefix
            )
    add_cors(app, services.cors_origins)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


# The seed systems' paths (api/compat, docs/compatibility.md), limited per address as /api/v1.
COMPAT_PREFIXES = (
    "/compat/",
    "/auth/",
    "/devices",
    "/api/sensor-readings/",
    "/api/grid-data/",
    "/api/preferences/",
    "/api/ai-decisions/",
    "/api/energy-sources/",
)


def include_compat(app: FastAPI) -> None:
    """The seed systems' API shapes: at their original paths, or under /compat/{seed}."""
    app.include_router(compat_smartplug.public)
    app.include_router(compat_smartplug.router)
    app.include_router(compat_smartplug.health_router)
    app.include_router(compat_smartplug_commands.router)
    app.include_router(compat_smartsolar.public)
    app.include_router(compat_smartsolar.router)
    app.include_router(compat_hypervolt.router)
    app.include_router(compat_hypervolt_grid.router)
    app.include_router(compat_hypervolt_home.preferences)
    app.include_router(compat_hypervolt_home.sources)
    app.include_router(compat_hypervolt_home.decisions)
    app.include_router(compat_meter.router)
