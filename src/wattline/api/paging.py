"""The query parameters every paged list shares, and a cursor's 422."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import HTTPException, Query, status

from wattline.api.cursors import MAX_PAGE

Key = TypeVar("Key")

CursorParam = Annotated[
    str | None,
    Query(description="next_cursor of the previous page, unchanged; omit for the first page"),
]
LimitParam = Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page at most")]


def page_start(decode: Callable[[str], Key], cursor: str | None) -> Key | None:
    """Where the page starts: None for the first page, else the cursor's key; 422 if malformed."""
    if cursor is None:
        return None
    try:
        return decode(cursor)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"cursor: {exc}") from None
