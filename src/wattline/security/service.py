"""The identity use cases built together: what the API and the CLI are handed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from wattline.security.accounts import Accounts
from wattline.security.apikeys import ApiKeys
from wattline.security.audit import AuditSink
from wattline.security.authentication import BearerAuthenticator
from wattline.security.identity_store import IdentityStore
from wattline.security.members import Members
from wattline.security.passwords import Argon2Parameters, Passwords
from wattline.security.throttle import LoginThrottle, MemoryThrottle
from wattline.security.tokens import AccessTokens


@dataclass(frozen=True, slots=True)
class IdentityService:
    accounts: Accounts
    members: Members
    api_keys: ApiKeys
    authenticator: BearerAuthenticator


def build_identity(  # noqa: PLR0913 - every collaborator can be injected
    store: IdentityStore,
    token_key: bytes,
    *,
    clock: Callable[[], float] = time.time,
    audit: AuditSink | None = None,
    open_signup: bool = False,
    argon2: Argon2Parameters | None = None,
    throttle: LoginThrottle | None = None,
) -> IdentityService:
    accounts = Accounts(
        store,
        AccessTokens(token_key),
        Passwords(argon2),
        throttle or MemoryThrottle(),
        clock=clock,
        audit=audit,
    )
    api_keys = ApiKeys(accounts)
    return IdentityService(
        accounts=accounts,
        members=Members(accounts, open_signup=open_signup),
        api_keys=api_keys,
        authenticator=BearerAuthenticator(accounts, api_keys),
    )
