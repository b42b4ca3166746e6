"""/docs and /redoc work without internet access: every asset is served by Wattline."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.integration.api.test_api import services

from wattline.api.app import create_app
from wattline.storage.sql import SqlStore

_LINKS = re.compile(r"""(?:src|href|spec-url)\s*=\s*['"]([^'"]+)['"]|url:\s*['"]([^'"]+)['"]""")


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    with TestClient(create_app(services(store))) as test_client:
        yield test_client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_doc_pages_load_only_local_assets(client: TestClient, page: str) -> None:
    html = client.get(page).text
    links = [a or b for a, b in _LINKS.findall(html)]
    assert "/openapi.json" in links
    assert all(link.startswith("/") for link in links), links
    assert "cdn" not in html
    for link in links:
        asset = client.get(link)
        assert asset.status_code == 200, link
        assert len(asset.content) > 100, link
