"""The intelligence services a route needs, or a 501 naming what is missing."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status

from wattline.api.deps import ServicesDep
from wattline.api.services import ApiServices
from wattline.intelligence.advisor import Advisor
from wattline.intelligence.forecaster import Forecaster
from wattline.intelligence.jobs import AnomalyScanner
from wattline.storage.ports import IntelligenceStore


def _missing(what: str) -> HTTPException:
    return HTTPException(status.HTTP_501_NOT_IMPLEMENTED, f"no {what} in this process")


# A route naming a device looks the device up first (a 404 for another tenant's)
# and then calls these; the others take the ...Dep aliases below.
def need_intelligence(services: ApiServices) -> IntelligenceStore:
    if services.intelligence is None:
        raise _missing("intelligence store")
    return services.intelligence


def need_scanner(services: ApiServices) -> AnomalyScanner:
    if services.anomaly_scanner is None:
        raise _missing("anomaly scanner")
    return services.anomaly_scanner


def need_forecaster(services: ApiServices) -> Forecaster:
    if services.forecaster is None:
        raise _missing("forecaster")
    return services.forecaster


async def get_intelligence(services: ServicesDep) -> IntelligenceStore:
    return need_intelligence(services)


async def get_forecaster(services: ServicesDep) -> Forecaster:
    return need_forecaster(services)


async def get_advisor(services: ServicesDep) -> Advisor:
    if services.advisor is None:
        raise _missing("advisor")
    return services.advisor


IntelligenceDep = Annotated[IntelligenceStore, Depends(get_intelligence)]
ForecasterDep = Annotated[Forecaster, Depends(get_forecaster)]
AdvisorDep = Annotated[Advisor, Depends(get_advisor)]
