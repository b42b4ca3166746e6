"""What the account use cases refuse, one class per answer the API gives."""

from __future__ import annotations


class AccountError(Exception):
    """The base: the message is safe to show the caller."""


class AuthenticationFailedError(AccountError):
    """Wrong or unknown credentials (401). Never says which part was wrong."""


class SecondFactorRequiredError(AccountError):
    """The password was right; a TOTP or recovery code is needed too (401)."""


class ThrottledError(AccountError):
    """Too many failures lately (429)."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed logins; try again in {int(retry_after_s) + 1} s")
        self.retry_after_s = retry_after_s


class NotAllowedError(AccountError):
    """The caller is who they say but may not do this (403)."""


class NotFoundError(AccountError):
    """No such object in the caller's tenant (404)."""


class ConflictError(AccountError):
    """The object exists, or the change would leave the tenant without an owner (409)."""


class InvalidRequestError(AccountError):
    """A value the policy refuses: a short password, a bad code (422)."""
