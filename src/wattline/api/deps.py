"""Dependency aliases shared by the routers."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from wattline.api.services import ApiServices
from wattline.storage.ports import TelemetryStore

_bearer = HTTPBearer(auto_error=False, description="The admin token printed by `wattline up`")


def get_services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


ServicesDep = Annotated[ApiServices, Depends(get_services)]


def get_store(services: ServicesDep) -> TelemetryStore:
    return services.store


StoreDep = Annotated[TelemetryStore, Depends(get_store)]


def require_admin(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer <admin token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(credentials.credentials.encode(), services.admin_token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Depends(require_admin)


class AdminFirstRoute(APIRoute):
    """A route that checks the admin token before anything reads the request body.

    FastAPI reads and parses a route's body before it solves the route's
    dependencies, so ``AdminDep`` alone let a client without a token make the
    server read a body of any size and answer 422 about it. This class runs the
    same check on the headers first; an unauthenticated body is never read (the
    server discards it unbuffered). ``AdminDep`` stays on the routers: it puts the
    bearer scheme into the OpenAPI document, and checking twice costs a compare.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        read_body_and_run = super().get_route_handler()

        async def admin_first(request: Request) -> Response:
            require_admin(get_services(request), await _bearer(request))
            return await read_body_and_run(request)

        return admin_first
