"""The transfer tests share the analytics tests' API client over a loaded store."""

from tests.integration.analytics.conftest import client

__all__ = ["client"]
