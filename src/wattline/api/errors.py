"""Error responses: short, precise, and never an echo of a large or odd input."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from wattline.api.params import excerpt
from wattline.security.errors import (
    AccountError,
    AuthenticationFailedError,
    ConflictError,
    NotAllowedError,
    NotFoundError,
    SecondFactorRequiredError,
    ThrottledError,
)
from wattline.storage.base import StoreUnavailableError

# FastAPI's own handler returns each error's whole `input`: a 10 MB body sent
# with one wrong field came back whole, and a NaN in it made the 422 itself
# fail to serialise (a 500). An excerpt is enough to find the mistake.
MAX_INPUT_CHARS = 64


def short_input(value: object) -> object:
    """Small JSON-safe inputs as they are; anything else as a cut-short repr."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) < 2**53:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and len(value) <= MAX_INPUT_CHARS:
        return value
    return excerpt(value, MAX_INPUT_CHARS)


def _error_out(error: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": error["type"],
        "loc": [part if isinstance(part, int) else str(part) for part in error["loc"]],
        "msg": error["msg"],
    }
    if "input" in error:
        out["input"] = short_input(error["input"])
    if "ctx" in error:
        out["ctx"] = {key: short_input(value) for key, value in error["ctx"].items()}
    return out


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        {"detail": [_error_out(error) for error in exc.errors()]},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _store_down(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": f"database unavailable: {exc}"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


# What each refusal of the account use cases answers; anything else is a 422.
_ACCOUNT_STATUS = {
    AuthenticationFailedError: status.HTTP_401_UNAUTHORIZED,
    SecondFactorRequiredError: status.HTTP_401_UNAUTHORIZED,
    ThrottledError: status.HTTP_429_TOO_MANY_REQUESTS,
    NotAllowedError: status.HTTP_403_FORBIDDEN,
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
}


async def _account_refused(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AccountError)
    code = _ACCOUNT_STATUS.get(type(exc), status.HTTP_422_UNPROCESSABLE_CONTENT)
    headers = {}
    if isinstance(exc, ThrottledError):
        headers["Retry-After"] = str(math.ceil(exc.retry_after_s))
    elif code == status.HTTP_401_UNAUTHORIZED:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"detail": str(exc)}, status_code=code, headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StoreUnavailableError, _store_down)
    app.add_exception_handler(AccountError, _account_refused)
    _document_message_details(app)


def _document_message_details(app: FastAPI) -> None:
    """Say in the OpenAPI document what a 422 really holds.

    FastAPI documents every 422 as a list of field errors, but a mistake found
    after parsing (a range out of order, an unknown time zone) is one message:
    ``{"detail": "start (...) must be before end (...)"}``. Schemathesis caught
    the document disagreeing with those answers.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = generate().get("components", {}).get("schemas", {})
            detail = schemas.get("HTTPValidationError", {}).get("properties", {}).get("detail")
            if detail is not None:
                detail.clear()
                detail.update(
                    {
                        "title": "Detail",
                        "description": "the field errors, or one message about the request",
                        "anyOf": [
                            {"type": "array", "items": {"$ref": _VALIDATION_ERROR_REF}},
                            {"type": "string"},
                        ],
                    }
                )
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


_VALIDATION_ERROR_REF = "#/components/schemas/ValidationError"
