"""Django REST framework's page shape for the seed routes: ``{count, next, previous, results}``.

The HyperVolt seed's lists were DRF viewsets with page-number pagination; its
clients read ``results`` and follow ``next``. Lists computed over a bounded
range (grid hours, a tenant's homes) page by number here; the decision log,
which grows without end, pages by cursor (``decisions.py``), with the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Query, Request, status

Item = TypeVar("Item")

# Wattline's lists serve 100 a page (docs/compatibility.md); DRF's page_size query
# parameter may ask for fewer or up to the primary API's maximum.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1_000
# A computed list is at most a month of hours times four series: far below this.
MAX_PAGE_NUMBER = 10_000

PageParam = Annotated[
    int, Query(ge=1, le=MAX_PAGE_NUMBER, description="page number, from 1 (as DRF)")
]
PageSizeParam = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page at most")]


def drf_page(
    request: Request, items: Sequence[Item], page: int, page_size: int
) -> tuple[int, str | None, str | None, Sequence[Item]]:
    """(count, next url, previous url, this page's items); a page past the end is a 404 as
    in DRF ("Invalid page."), except the first page of an empty list."""
    count = len(items)
    last_page = max(1, -(-count // page_size))
    if page > last_page:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Invalid page: the last is {last_page}")
    start = (page - 1) * page_size
    next_url = str(request.url.include_query_params(page=page + 1)) if page < last_page else None
    previous_url = str(request.url.include_query_params(page=page - 1)) if page > 1 else None
    return count, next_url, previous_url, items[start : start + page_size]


def drf_body(
    request: Request, items: Sequence[dict[str, Any]], page: int, page_size: int
) -> dict[str, Any]:
    count, next_url, previous_url, results = drf_page(request, items, page, page_size)
    return {"count": count, "next": next_url, "previous": previous_url, "results": list(results)}
