"""What a route hands the audit log: the change, with who made it and from where filled in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request

from wattline.api.deps import PrincipalDep, ServicesDep
from wattline.security.audit import AuditEvent, AuditSink
from wattline.security.principal import Principal


class AuditTrail:
    """The request's view of the ``AuditSink``: ``record`` takes only what changed."""

    def __init__(self, sink: AuditSink | None, principal: Principal, source: str | None) -> None:
        self._sink = sink
        self._principal = principal
        self._source = source

    def record(self, action: str, obj: str, summary: Mapping[str, Any] | None = None) -> None:
        if self._sink is None:
            return
        self._sink.record(
            AuditEvent(
                action=action,
                actor=self._principal.display,
                object=obj,
                tenant_id=self._principal.tenant_id,
                source=self._source,
                summary=summary or {},
            )
        )


async def get_audit_trail(
    request: Request, services: ServicesDep, principal: PrincipalDep
) -> AuditTrail:
    source = request.client.host if request.client else None
    return AuditTrail(services.audit, principal, source)


AuditDep = Annotated[AuditTrail, Depends(get_audit_trail)]
