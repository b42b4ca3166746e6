"""An OpenTelemetry span for every HTTP request, named by its route template.

``GET /api/v1/devices/{device_id}``: the template, never the path a client sent,
like the metrics (``http_metrics.py``). A caller's W3C ``traceparent`` header
makes the request a child of the caller's trace. The span is current while the
route runs, so log lines written meanwhile carry its trace id.
"""

from __future__ import annotations

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wattline.observability.http_metrics import route_template

_PROPAGATOR = TraceContextTextMapPropagator()
_SERVER_ERROR = 500


class HttpTracingMiddleware:
    """Pure ASGI, so a streamed response's span lasts to its last byte."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self._app = app
        self._tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        headers = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope.get("headers", ())
            if key in {b"traceparent", b"tracestate"}
        }
        parent = _PROPAGATOR.extract(headers) if headers else None
        status = _SERVER_ERROR  # what the server answers when the app raises first
        with self._tracer.start_as_current_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": str(scope.get("path", ""))},
        ) as span:

            async def recording_send(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            try:
                await self._app(scope, receive, recording_send)
            finally:
                route = route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= _SERVER_ERROR:
                    span.set_status(Status(StatusCode.ERROR))
