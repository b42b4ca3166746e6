"""Who is calling: the outcome of authentication, the input of every permission check."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wattline.security.roles import Role


class PrincipalKind(StrEnum):
    USER = "user"  # a person, by an access token
    API_KEY = "api_key"  # a machine, by an API key
    BOOTSTRAP = "bootstrap"  # the admin token of the data dir: the default tenant's owner


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    # user id, API key id, or "bootstrap"
    subject: str
    # the tenant this request acts in, and the role held there
    tenant_id: str
    role: Role
    # for the audit log and error messages: an email, a key's name and prefix
    display: str

    def allows(self, needed: Role) -> bool:
        return self.role.allows(needed)
