"""Prometheus metrics of every HTTP request: by route template, method and status.

Labelled by the route's template (``/api/v1/devices/{device_id}``), never by
the path a client sent, so the number of series stays bounded whatever URLs
arrive; requests that match no route share one label.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"
# From a cached latest value (~1 ms) to a year of buckets (~1 s) and beyond.
_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "wattline_http_requests",
            "HTTP requests answered, by route template, method and status code",
            ["route", "method", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "wattline_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response",
            ["route", "method"],
            buckets=_BUCKETS_S,
            registry=registry,
        )


class HttpMetricsMiddleware:
    """Pure ASGI, so streamed responses (exports) are timed to their last byte."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting a response

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, recording_send)
        finally:
            route = route_template(scope)
            method = str(scope.get("method", "GET"))
            self._metrics.requests.labels(route, method, str(status)).inc()
            self._metrics.duration.labels(route, method).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNMATCHED
