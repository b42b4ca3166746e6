"""``/api/v1/users`` and ``/api/v1/invitations``: the members of the caller's tenant.

Admins list, create, invite, change roles and remove; only an owner makes or
changes owners (``security/members.py``). Accepting an invitation is the one
unauthenticated route here: the invitation's token is the credential.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status

from wattline.api.account_schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationOut,
    MemberList,
    MemberOut,
    RoleChange,
    TokenOut,
    UserCreate,
)
from wattline.api.deps import PUBLIC, AdminFirstRoute, IdentityDep, require_role
from wattline.api.routers.auth import client_address, token_out
from wattline.model.times import iso_ms
from wattline.security.identity_store import Membership
from wattline.security.principal import Principal
from wattline.security.roles import Role

router = APIRouter(prefix="/api/v1", tags=["users"], route_class=AdminFirstRoute)
public = APIRouter(prefix="/api/v1", tags=["users"], dependencies=[PUBLIC])

Admin = Annotated[Principal, require_role(Role.ADMIN)]
UserId = Annotated[str, Path(max_length=36)]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such member in this tenant"}
}


def member_out(member: Membership) -> MemberOut:
    return MemberOut(
        user_id=member.user_id,
        email=member.email,
        display_name=member.display_name,
        role=member.role,
        joined_at=iso_ms(member.created_ms),
    )


@router.get("/users")
def list_members(actor: Admin, identity: IdentityDep) -> MemberList:
    """The members of this tenant with their roles, oldest first."""
    return MemberList(members=[member_out(m) for m in identity.members.members(actor.tenant_id)])


@router.post("/users", status_code=status.HTTP_201_CREATED, responses={409: {}})
def create_user(body: UserCreate, actor: Admin, identity: IdentityDep) -> MemberOut:
    """A new account in this tenant, with a password the admin hands over."""
    member = identity.members.create_user(
        actor, body.email, body.password, body.role, body.display_name
    )
    return member_out(member)


@router.patch("/users/{user_id}", responses=_NOT_FOUND)
def change_role(
    user_id: UserId, body: RoleChange, actor: Admin, identity: IdentityDep
) -> MemberOut:
    """A member's role in this tenant; it applies to their next request."""
    return member_out(identity.members.set_role(actor, user_id, body.role))


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND)
def remove_member(user_id: UserId, actor: Admin, identity: IdentityDep) -> None:
    """Take a member out of this tenant; their tokens stop working here at once."""
    identity.members.remove(actor, user_id)


@router.post("/invitations", status_code=status.HTTP_201_CREATED)
def invite(body: InvitationCreate, actor: Admin, identity: IdentityDep) -> InvitationOut:
    """An invitation to this tenant with a role; the token is shown once, valid 7 days."""
    made = identity.members.invite(actor, body.email, body.role)
    return InvitationOut(
        token=made.token,
        email=made.invitation.email,
        role=made.invitation.role,
        expires_at=iso_ms(made.invitation.expires_ms),
    )


@public.post(
    "/invitations/accept",
    responses={404: {"description": "unknown, expired or used invitation"}, 401: {}},
)
def accept_invitation(body: InvitationAccept, request: Request, identity: IdentityDep) -> TokenOut:
    """Join the invitation's tenant (a new account, or an existing one by its password)
    and log in."""
    session = identity.members.accept(
        body.token, body.password, body.display_name, client_address(request)
    )
    return token_out(session)
