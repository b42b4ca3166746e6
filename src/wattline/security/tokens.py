"""Access tokens (signed, short-lived JWTs) and opaque secrets (refresh tokens, keys).

One algorithm, HS256, fixed on both sides: the decoder is told
``algorithms=["HS256"]``, so a token claiming ``none`` or RS256 (the HS/RS
confusion, where an RSA public key is used as an HMAC secret) is refused
before its signature is looked at. Issuer and audience are checked; the
lifetime is checked against the injected clock, not PyJWT's.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
ISSUER = "wattline"
AUDIENCE = "wattline-api"
# Short enough that a stolen token is soon useless; the session check (logout,
# a removed member) cuts it off sooner still.
ACCESS_TTL_S = 15 * 60
# HS256 keys shorter than the hash output weaken the MAC (RFC 7518 section 3.2).
MIN_KEY_BYTES = 32
# Clocks of several API processes may disagree by this much.
LEEWAY_S = 5

REFRESH_PREFIX = "wlr_"
_REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "tid", "role", "sid"]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    tenant_id: str
    role: str
    session_id: str  # the refresh token family
    token_id: str
    issued_s: int
    expires_s: int


class AccessTokens:
    def __init__(self, key: bytes, ttl_s: int = ACCESS_TTL_S) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the token key needs at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self.ttl_s = ttl_s

    def issue(self, user_id: str, tenant_id: str, role: str, session_id: str, now_s: int) -> str:
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user_id,
            "tid": tenant_id,
            "role": role,
            "sid": session_id,
            "jti": uuid.uuid4().hex,
            "iat": now_s,
            "nbf": now_s,
            "exp": now_s + self.ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str, now_s: float) -> AccessClaims | None:
        """The token's claims, or None for anything but a valid, current token of ours."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                audience=AUDIENCE,
                options={
                    "require": _REQUIRED,
                    "verify_exp": False,  # checked below, against the injected clock
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            return None
        try:
            result = AccessClaims(
                user_id=str(claims["sub"]),
                tenant_id=str(claims["tid"]),
                role=str(claims["role"]),
                session_id=str(claims["sid"]),
                token_id=str(claims["jti"]),
                issued_s=int(claims["iat"]),
                expires_s=int(claims["exp"]),
            )
            not_before_s = int(claims["nbf"])
        except (TypeError, ValueError):
            return None
        if now_s >= result.expires_s + LEEWAY_S or now_s < not_before_s - LEEWAY_S:
            return None
        return result


def looks_like_jwt(bearer: str) -> bool:
    return bearer.count(".") == 2 and bearer.startswith("eyJ")


def new_secret(prefix: str) -> str:
    """256 random bits, URL-safe, after a prefix that names what the secret is."""
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """SHA-256: enough for a 256-bit random secret (nothing to guess), and fast to look up."""
    return hashlib.sha256(secret.encode()).hexdigest()
