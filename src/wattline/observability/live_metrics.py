"""Live stream metrics: clients connected, messages sent and dropped (and why), bus fan-out."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class LiveMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.clients = Gauge(
            "wattline_live_clients",
            "Live stream clients connected to this process, by transport",
            ["transport"],
            registry=registry,
        )
        self.sent = Counter(
            "wattline_live_messages_sent",
            "Messages written to live stream clients, by transport",
            ["transport"],
            registry=registry,
        )
        # feed_full: the committing thread's hand-off queue was full; slow_client:
        # buffered for a client cut off as a slow consumer; bus_unavailable: Redis down
        self.dropped = Counter(
            "wattline_live_messages_dropped",
            "Live events or messages dropped, by reason",
            ["reason"],
            registry=registry,
        )
        self.slow_clients = Counter(
            "wattline_live_slow_clients_disconnected",
            "Clients disconnected because their bounded buffer filled",
            ["transport"],
            registry=registry,
        )
        self.published = Counter(
            "wattline_live_bus_published_events",
            "Events this process published on the live bus",
            registry=registry,
        )
        self.received = Counter(
            "wattline_live_bus_received_events",
            "Events this process received from the live bus",
            registry=registry,
        )
        self.fanout = Counter(
            "wattline_live_fanout_messages",
            "Messages the hub queued for its clients (one event to many clients counts each)",
            registry=registry,
        )
        self.bus_errors = Counter(
            "wattline_live_bus_errors",
            "Live bus operations that failed, by operation",
            ["operation"],
            registry=registry,
        )
