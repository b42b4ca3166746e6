"""Dependency aliases shared by the routers."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from wattline.api.ratelimit import limit_principal
from wattline.api.services import ApiServices
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.security.service import IdentityService
from wattline.storage.ports import TelemetryStore
from wattline.storage.tenancy import DEFAULT_TENANT

_bearer = HTTPBearer(
    auto_error=False,
    description="A user's access token, an API key, or the admin token printed by `wattline up`",
)


# The cheap dependencies are coroutines: FastAPI runs a plain function in the
# thread pool, and a request solving a dozen of them paid about a millisecond in
# thread hops (measured: /telemetry/latest 3.8 -> 2.x ms in process).
async def get_services(request: Request) -> ApiServices:
    return services_of(request)


def services_of(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


ServicesDep = Annotated[ApiServices, Depends(get_services)]


async def get_store(services: ServicesDep) -> TelemetryStore:
    return services.store


StoreDep = Annotated[TelemetryStore, Depends(get_store)]


# The admin token of the data dir acts as the default tenant's owner: the
# bootstrap that creates the first users (`wattline users create --role owner`).
BOOTSTRAP = Principal(
    kind=PrincipalKind.BOOTSTRAP,
    subject="bootstrap",
    tenant_id=DEFAULT_TENANT,
    role=Role.OWNER,
    display="admin token",
)


def authenticate(services: ApiServices, request: HTTPConnection, bearer: str | None) -> Principal:
    """The principal behind the request's bearer credential; 401 when there is none."""
    if bearer is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if secrets.compare_digest(bearer.encode(), services.admin_token.encode()):
        return BOOTSTRAP
    if services.authenticator is not None:
        source = request.client.host if request.client else None
        principal = services.authenticator.authenticate(bearer, source)
        if principal is not None:
            return principal
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
    )


async def get_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    # Checked once per request: AdminFirstRoute may have done it before the body.
    # A coroutine, so that a known caller costs no thread hop; otherwise the token
    # may be looked up in the store and the rate kept in Redis, so that runs in the
    # thread pool, as it did when this was a plain function.
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    bearer = credentials.credentials if credentials else None
    principal = await run_in_threadpool(_rate_limited_caller, services, request, bearer)
    request.state.principal = principal
    return principal


def _rate_limited_caller(
    services: ApiServices, request: HTTPConnection, bearer: str | None
) -> Principal:
    principal = authenticate(services, request, bearer)
    limit_principal(services.api_limits, principal.kind, principal.subject)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


class RequiresRole:
    """A route's permission: the role the caller needs in the tenant they act in.

    Used as a dependency (``require(Role.VIEWER)``), so FastAPI runs the check
    and the object stays in the route's ``dependencies``, where
    ``declared_permission`` (and the route-table test) find it. ``platform``
    routes serve what belongs to no tenant (the quarantine, HTTP ingest, which
    lands in the default tenant): they also need the caller to act in the
    default tenant, the platform operator's.
    """

    def __init__(self, role: Role, *, platform: bool = False) -> None:
        self.role = role
        self.platform = platform

    def __repr__(self) -> str:
        return f"RequiresRole({self.role.value!r}, platform={self.platform})"

    def check(self, principal: Principal) -> None:
        """403, naming what is missing, unless the principal may call the route."""
        if not principal.allows(self.role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {self.role.value} role; you are {principal.role.value}"
                f" in tenant {principal.tenant_id!r}",
            )
        if self.platform and principal.tenant_id != DEFAULT_TENANT:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {self.role.value} role in the {DEFAULT_TENANT!r} tenant"
                " (the platform's), not in a tenant of its own",
            )

    async def __call__(self, principal: PrincipalDep) -> Principal:
        self.check(principal)
        return principal


class Public:
    """The explicit mark of a route that anyone may call (health, metrics)."""

    def __repr__(self) -> str:
        return "Public()"

    async def __call__(self) -> None:
        return None


PUBLIC = Depends(Public())


class RequiresRoleOrDeviceToken(RequiresRole):
    """HTTP ingest's permission: a platform admin, or a device's own ingest token.

    The route checks it itself, before the body (a device token is no principal),
    so this mark only declares it: the route-table test sees the admin role.
    """

    async def __call__(self) -> None:  # type: ignore[override]  # checked by the route class
        return None


def require(role: Role, *, platform: bool = False) -> Any:
    """The dependency a route declares its permission with: 403 below ``role``."""
    return Depends(RequiresRole(role, platform=platform))


def declared_permission(route: APIRoute) -> RequiresRole | Public | None:
    """What a route declared: the strongest role it requires, Public, or None (nothing)."""
    # Decorator dependencies, parameters' (``Annotated[Principal, require_role(...)]``)
    # and theirs in turn (a session that needs a member) all count.
    marks: list[object] = []
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        marks.append(dependant.call)
        pending.extend(dependant.dependencies)
    roles = [m for m in marks if isinstance(m, RequiresRole)]
    if roles:
        return max(roles, key=lambda r: (r.role.rank, r.platform))
    return next((m for m in marks if isinstance(m, Public)), None)


AdminDep = require(Role.ADMIN)


class AdminFirstRoute(APIRoute):
    """A route that authenticates the caller before anything reads the request body.

    FastAPI reads and parses a route's body before it solves the route's
    dependencies, so ``AdminDep`` alone let a client without a token make the
    server read a body of any size and answer 422 about it. This class runs the
    same check on the headers first, and the route's declared role after it; an
    unauthenticated or unauthorised body is never read (the server discards it
    unbuffered). The ``require`` dependencies stay on the routes: they put the
    bearer scheme into the OpenAPI document, and checking twice costs a compare.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        read_body_and_run = super().get_route_handler()
        # Found once per route: walking the dependency tree on every request was work
        # on the hot path for an answer that never changes.
        permission = declared_permission(self)

        async def admin_first(request: Request) -> Response:
            credentials = await _bearer(request)
            services = services_of(request)
            principal = authenticate(
                services, request, credentials.credentials if credentials else None
            )
            limit_principal(services.api_limits, principal.kind, principal.subject)
            request.state.principal = principal
            if isinstance(permission, RequiresRole):
                permission.check(principal)
            return await read_body_and_run(request)

        return admin_first


def require_role(role: Role) -> Any:
    """A parameter's dependency: the caller, when their role allows ``role``; else 403.

    The same ``RequiresRole`` as ``require``, so the route-table test finds it."""
    return Depends(RequiresRole(role))


async def get_identity(services: ServicesDep) -> IdentityService:
    if services.identity is None:
        raise HTTPException(
            status.HTTP_501_NOT_IMPLEMENTED, "user accounts are not enabled in this process"
        )
    return services.identity


IdentityDep = Annotated[IdentityService, Depends(get_identity)]
