"""Access tokens refuse everything but a current HS256 token of ours."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from wattline.security.tokens import (
    ACCESS_TTL_S,
    AUDIENCE,
    ISSUER,
    LEEWAY_S,
    AccessTokens,
    new_secret,
    secret_hash,
)

KEY = b"k" * 32
NOW = 1_764_057_600
TOKENS = AccessTokens(KEY)


def claims(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u1",
        "tid": "default",
        "role": "owner",
        "sid": "s1",
        "jti": "j1",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + ACCESS_TTL_S,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_we_issued_verifies_with_its_claims() -> None:
    token = TOKENS.issue("u1", "default", "owner", "s1", NOW)
    got = TOKENS.verify(token, NOW + 10)
    assert got is not None
    assert (got.user_id, got.tenant_id, got.role, got.session_id) == (
        "u1",
        "default",
        "owner",
        "s1",
    )
    assert got.expires_s - got.issued_s == 15 * 60


def test_alg_none_is_refused() -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims()).encode())
    assert TOKENS.verify(f"{header}.{payload}.", NOW) is None
    assert TOKENS.verify(jwt.encode(claims(), None, algorithm="none"), NOW) is None


def test_hs_rs_confusion_is_refused() -> None:
    """A token signed RS256, and one signed HS256 with the public key as the secret."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    rs = jwt.encode(claims(), private, algorithm="RS256")
    assert TOKENS.verify(rs, NOW) is None
    # A verifier keyed by the public key that accepted HS256 would take this one.
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims()).encode())
    import hmac  # noqa: PLC0415
    from hashlib import sha256  # noqa: PLC0415

    signature = b64(hmac.new(public_pem, f"{header}.{payload}".encode(), sha256).digest())
    assert TOKENS.verify(f"{header}.{payload}.{signature}", NOW) is None
    assert AccessTokens(public_pem).verify(rs, NOW) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "someone-else"},
        {"aud": "another-api"},
        {"exp": NOW - LEEWAY_S - 1, "iat": NOW - 1000, "nbf": NOW - 1000},  # expired
        {"nbf": NOW + 60},  # not yet valid
        {"sid": None},  # a claim we require is missing
        {"exp": None},
        {"exp": "tomorrow"},
    ],
    ids=["issuer", "audience", "expired", "not-yet-valid", "no-sid", "no-exp", "exp-text"],
)
def test_wrong_claims_are_refused(changes: dict[str, object]) -> None:
    assert TOKENS.verify(jwt.encode(claims(**changes), KEY, algorithm="HS256"), NOW) is None


def test_tampered_payload_is_refused() -> None:
    header, _payload, signature = TOKENS.issue("u1", "default", "viewer", "s1", NOW).split(".")
    forged = b64(json.dumps(claims(role="owner")).encode())
    assert TOKENS.verify(f"{header}.{forged}.{signature}", NOW) is None


def test_another_key_is_refused() -> None:
    other = AccessTokens(b"o" * 32).issue("u1", "default", "owner", "s1", NOW)
    assert TOKENS.verify(other, NOW) is None


def test_the_token_expires_after_fifteen_minutes() -> None:
    token = TOKENS.issue("u1", "default", "owner", "s1", NOW)
    assert TOKENS.verify(token, NOW + ACCESS_TTL_S - 1) is not None
    assert TOKENS.verify(token, NOW + ACCESS_TTL_S + LEEWAY_S) is None


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        AccessTokens(b"short")


@given(st.text(max_size=300))
def test_any_text_is_refused_without_raising(text: str) -> None:
    assert TOKENS.verify(text, NOW) is None


def test_secrets_carry_their_prefix_and_256_bits() -> None:
    secret = new_secret("wlr_")
    assert secret.startswith("wlr_")
    assert len(secret) == 4 + 43
    assert len(secret_hash(secret)) == 64
    assert new_secret("wlr_") != secret
