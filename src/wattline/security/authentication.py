"""The ``Authenticator`` for people and machines: an access token or an API key in,
a ``Principal`` out.

A user's role is read from the membership of the token's tenant, together with
the session's liveness, in one query cached for a few seconds
(``accounts.SESSION_CACHE_S``, cleared by every change made through this
process): a removed member, a disabled account or a logged-out session loses
access then, not when the token expires. API keys are cached briefly too
(``apikeys.CACHE_TTL_S``).
"""

from __future__ import annotations

from wattline.security.accounts import Accounts
from wattline.security.apikeys import ApiKeys, looks_like_key
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.tokens import AccessClaims, looks_like_jwt


class BearerAuthenticator:
    def __init__(self, accounts: Accounts, api_keys: ApiKeys) -> None:
        self._accounts = accounts
        self._api_keys = api_keys

    def access_claims(self, bearer: str) -> AccessClaims | None:
        """A current access token's claims (its session id, for logout), else None."""
        if not looks_like_jwt(bearer):
            return None
        return self._accounts.tokens.verify(bearer, self._accounts.clock())

    def authenticate(self, bearer: str, source: str | None) -> Principal | None:  # noqa: ARG002
        if looks_like_key(bearer):
            key = self._api_keys.verify(bearer)
            if key is None:
                return None
            return Principal(
                kind=PrincipalKind.API_KEY,
                subject=key.key_id,
                tenant_id=key.tenant_id,
                role=key.role,
                display=f"{key.name} ({key.prefix})",
            )
        claims = self.access_claims(bearer)
        if claims is None:
            return None
        member = self._accounts.session_member(claims.user_id, claims.tenant_id, claims.session_id)
        if member is None:
            return None
        return Principal(
            kind=PrincipalKind.USER,
            subject=member.user_id,
            tenant_id=member.tenant_id,
            role=member.role,
            display=member.email,
        )
