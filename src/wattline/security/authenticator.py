"""The port the API authenticates through: a bearer credential in, a principal out."""

from __future__ import annotations

from typing import Protocol

from wattline.security.principal import Principal


class Authenticator(Protocol):
    def authenticate(self, bearer: str, source: str | None) -> Principal | None:
        """The principal a bearer credential (an access token or an API key) stands for;
        None when it stands for nobody (unknown, expired, revoked, tampered)."""
        ...
