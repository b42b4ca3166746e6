"""The intelligence services a route needs, or a 501 naming what is missing."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status

from wattline.api.deps import ServicesDep
from wattline.intelligence.advisor import Advisor
from wattline.intelligence.forecaster import Forecaster
from wattline.intelligence.jobs import AnomalyScanner
from wattline.storage.ports import IntelligenceStore


def _missing(what: str) -> HTTPException:
    return HTTPException(status.HTTP_501_NOT_IMPLEMENTED, f"no {what} in this process")


async def get_intelligence(services: ServicesDep) -> IntelligenceStore:
    if services.intelligence is None:
        raise _missing("intelligence store")
    return services.intelligence


async def get_scanner(services: ServicesDep) -> AnomalyScanner:
    if services.anomaly_scanner is None:
        raise _missing("anomaly scanner")
    return services.anomaly_scanner


async def get_forecaster(services: ServicesDep) -> Forecaster:
    if services.forecaster is None:
        raise _missing("forecaster")
    return services.forecaster


async def get_advisor(services: ServicesDep) -> Advisor:
    if services.advisor is None:
        raise _missing("advisor")
    return services.advisor


IntelligenceDep = Annotated[IntelligenceStore, Depends(get_intelligence)]
ScannerDep = Annotated[AnomalyScanner, Depends(get_scanner)]
ForecasterDep = Annotated[Forecaster, Depends(get_forecaster)]
AdvisorDep = Annotated[Advisor, Depends(get_advisor)]
