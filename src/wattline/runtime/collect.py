"""``wattline collect``: a collector alone, against an external broker, for scaling ingest out.

It imports neither the API nor uvicorn: a collector's memory is the ingest
pipeline's, the store's and the alert evaluator's (benchmarks/ingest.py measures
its peak RSS against issue 15's 200 MB).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from wattline.config import Settings
from wattline.ingest.sources.base import MqttEndpoint
from wattline.model.events import OnCommitted, fan_out
from wattline.observability.workload_metrics import RuleEvaluationMetrics
from wattline.runtime import garbage, live, services
from wattline.runtime.alerts import alert_relay, alerting
from wattline.runtime.commands import command_service, dispatching
from wattline.runtime.ingest import build_collector, prepare_ingest
from wattline.runtime.stopping import stop_event, wait_for_stop
from wattline.runtime.tracing import tracing


async def run_collect(settings: Settings) -> None:
    """A collector alone, against an external broker: for scaling ingest out."""
    registry = services.process_registry(settings, "collect")
    ingest = prepare_ingest(settings, registry)
    stop = stop_event()
    async with contextlib.AsyncExitStack() as running:
        traced = running.enter_context(tracing(settings, "collect"))
        running.enter_context(services.metrics_endpoint(settings, registry))
        store = running.enter_context(services.store(settings))
        archive = await running.enter_async_context(services.archive(settings))
        on_committed: OnCommitted | None = None
        before_ack: Callable[[], object] | None = None
        if settings.redis_url is not None:  # without Redis no API process could hear it
            metrics = live.live_metrics(registry)
            bus = await running.enter_async_context(live.bus(settings, metrics))
            feed = await running.enter_async_context(live.feed(bus, store, metrics))
            on_committed = feed.on_committed
            # a batch is on the bus before the broker is told: a collector killed
            # in between gets it delivered again, so no subscriber misses it
            before_ack = feed.wait_published
        alerts = await running.enter_async_context(
            alerting(
                settings,
                store,
                MqttEndpoint.from_url(settings.effective_mqtt_url),
                on_alert_changed=feed.on_alert_change if on_committed is not None else None,
            )
        )
        if alerts is not None:
            registry.register(RuleEvaluationMetrics(alerts.figures))
        relayed = await running.enter_async_context(alert_relay(settings, alerts))
        dispatcher = await running.enter_async_context(
            dispatching(
                settings,
                command_service(settings, store),
                store,
                MqttEndpoint.from_url(settings.effective_mqtt_url),
            )
        )
        collector = build_collector(
            settings,
            ingest,
            store,
            archive,
            fan_out(
                on_committed,
                dispatcher.on_committed,
                alerts.on_committed if alerts else None,
                relayed,
            ),
            traces=traced.message_traces() if traced else None,
            before_ack=before_ack,
            commits=await running.enter_async_context(
                services.commit_process(settings, by_default=False)
            ),
        )
        garbage.settle_after_startup()
        await running.enter_async_context(services.collecting(collector))
        await running.enter_async_context(services.retention(settings, store, archive))
        await wait_for_stop(stop, collector)
