from __future__ import annotations

from fastapi import APIRouter, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wattline.api.deps import PUBLIC, ServicesDep
from wattline.api.schemas import ComponentHealth, HealthOut

# Public on purpose: load balancers and Prometheus scrape them without a token.
# Neither names a tenant's device; /health reports components, /metrics counters.
router = APIRouter(tags=["health"], dependencies=[PUBLIC])


@router.get(
    "/health",
    responses={
        503: {"model": HealthOut, "description": "database unreachable or collector stopped"}
    },
)
def health(services: ServicesDep, response: Response) -> HealthOut:
    components: dict[str, ComponentHealth] = {}
    try:
        services.store.ping()
        components["database"] = ComponentHealth(status="ok")
    except Exception as exc:  # any failure to reach the database is the answer here
        components["database"] = ComponentHealth(status="down", detail=str(exc)[:200])
    if services.collector_status is not None:
        collector = services.collector_status()
        components["collector"] = ComponentHealth(
            status=_collector_state(running=collector.running, store_ok=collector.store_healthy),
            detail=f"queued={collector.queued}",
        )
        components["mqtt"] = ComponentHealth(status="ok" if collector.connected else "disconnected")
    # A stopped collector stores nothing more: as bad as no database for a device.
    healthy = all(c.status != "down" for c in components.values())
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    degraded = any(c.status != "ok" for c in components.values())
    return HealthOut(
        status="down" if not healthy else ("degraded" if degraded else "ok"),
        components=components,
    )


@router.get("/livez", responses={200: {"description": "the process answers"}})
def livez() -> dict[str, str]:
    """Liveness: the process serves requests. A supervisor restarts it when this fails;
    it checks nothing else, so a database outage does not get the process killed."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"model": HealthOut, "description": "not ready to take traffic"}},
)
def readyz(services: ServicesDep, response: Response) -> HealthOut:
    """Readiness: the database answers and, where this process ingests, the collector
    runs and holds its broker connection. A load balancer sends traffic only here."""
    answer = health(services, response)
    mqtt = answer.components.get("mqtt")
    if mqtt is not None and mqtt.status != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        answer = HealthOut(status="down", components=answer.components)
    return answer


@router.get("/metrics", include_in_schema=False)
def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.registry), media_type=CONTENT_TYPE_LATEST)


def _collector_state(*, running: bool, store_ok: bool) -> str:
    if not running:
        return "down"
    return "ok" if store_ok else "degraded"
