"""``/api/v1/api-keys``: keys for machines, made and revoked by admins.

A key is shown once, when made; lists show its prefix. A key acts in this
tenant with the role it was given, never above its maker's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from wattline.api.account_schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from wattline.api.deps import AdminFirstRoute, IdentityDep, require_role
from wattline.model.times import iso_ms
from wattline.security.identity_store import ApiKey
from wattline.security.principal import Principal
from wattline.security.roles import Role

router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"], route_class=AdminFirstRoute)

Admin = Annotated[Principal, require_role(Role.ADMIN)]


def _iso(ts_ms: int | None) -> str | None:
    return None if ts_ms is None else iso_ms(ts_ms)


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        key_id=key.key_id,
        name=key.name,
        prefix=key.prefix,
        role=key.role,
        created_at=iso_ms(key.created_ms),
        expires_at=_iso(key.expires_ms),
        last_used_at=_iso(key.last_used_ms),
        revoked_at=_iso(key.revoked_ms),
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def create_key(body: ApiKeyCreate, actor: Admin, identity: IdentityDep) -> ApiKeyCreated:
    """A new key; ``key`` in the answer is the only time it is shown."""
    expires_ms = None if body.expires_at is None else int(body.expires_at.timestamp() * 1000)
    made = identity.api_keys.create(actor, body.name, body.role, expires_ms)
    return ApiKeyCreated(**key_out(made.key).model_dump(), key=made.secret)


@router.get("")
def list_keys(actor: Admin, identity: IdentityDep) -> ApiKeyList:
    """This tenant's keys, revoked ones included, without the keys themselves."""
    return ApiKeyList(keys=[key_out(k) for k in identity.api_keys.tenant_keys(actor.tenant_id)])


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "no active key with this id in this tenant"}},
)
def revoke_key(
    key_id: Annotated[str, Path(max_length=36)], actor: Admin, identity: IdentityDep
) -> None:
    """Revoke a key: refused from its next request (other API processes: within 30 s)."""
    identity.api_keys.revoke(actor, key_id)
