"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

import wattline
from wattline.api.routers import (
    devices,
    energy,
    export,
    gaps,
    health,
    ingest,
    quarantine,
    telemetry,
    window,
)
from wattline.api.services import ApiServices
from wattline.storage.base import StoreUnavailableError


def create_app(services: ApiServices) -> FastAPI:
    app = FastAPI(
        title="Wattline",
        version=wattline.__version__,
        description="Energy IoT telemetry: devices, time series, quarantine.",
    )
    app.state.services = services
    app.include_router(health.router)
    app.include_router(devices.router)
    app.include_router(telemetry.router)
    app.include_router(gaps.router)
    app.include_router(ingest.router)
    app.include_router(quarantine.router)
    app.include_router(energy.router)
    app.include_router(window.router)
    app.include_router(export.router)

    @app.exception_handler(StoreUnavailableError)
    async def _store_down(_request: Request, exc: StoreUnavailableError) -> JSONResponse:
        return JSONResponse(
            {"detail": f"database unavailable: {exc}"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    return app
