"""Ingest wiring: adapters built once, one registry cache, the committers and the collector."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from wattline.archive.base import RawArchive
from wattline.config import Settings
from wattline.ingest.admit import Admission
from wattline.ingest.collector import BatchPolicy, Collector
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources import open_source
from wattline.ingest.sources.base import (
    DeliverFn,
    DeliverManyFn,
    MessageSource,
    MqttEndpoint,
    SessionOptions,
)
from wattline.model.events import OnCommitted
from wattline.observability.metrics import IngestMetrics
from wattline.observability.tracing import MessageTraces
from wattline.protocols.adapters import Adapter, build_adapters
from wattline.protocols.validation import Limits
from wattline.runtime.commit_process import CommitProcess, SplitStore
from wattline.runtime.errors import StartupError
from wattline.storage.ports import IngestStore
from wattline.storage.sql import SqlStore

# HTTP ingest (POST /api/v1/telemetry) speaks the smart-solar format alone.
HTTP_ADAPTERS = ("smartsolar",)


@dataclass(slots=True)
class Ingest:
    """What every committer of one process shares: the adapters, built once, one
    registry cache (so a deleted device is forgotten in one place) and the metrics."""

    mqtt: InterpretConfig
    http: InterpretConfig
    metrics: IngestMetrics
    auto_register: bool
    _admission: Admission | None = None

    def admission(self, store: SqlStore) -> Admission:
        """The process's one registry cache, made for its store on first use."""
        if self._admission is None:
            self._admission = Admission(store, auto_register=self.auto_register)
        return self._admission

    def committer(
        self,
        store: SqlStore,
        archive: RawArchive,
        config: InterpretConfig,
        on_committed: OnCommitted | None = None,
        *,
        commits: IngestStore | None = None,
    ) -> Committer:
        """``commits``: where batches are committed, when not in ``store`` itself
        (the commit process); look-ups always go to ``store``."""
        return Committer(
            commits or store,
            archive,
            config,
            self.metrics,
            admission=self.admission(store),
            on_committed=on_committed,
        )


def prepare_ingest(settings: Settings, registry: CollectorRegistry | None = None) -> Ingest:
    """Called once per process; an unknown adapter name or a bad prefix is a StartupError."""
    return Ingest(
        mqtt=_interpret_config(settings, _adapters(settings, settings.enabled_adapters)),
        http=_interpret_config(settings, _adapters(settings, HTTP_ADAPTERS)),
        metrics=IngestMetrics(registry or CollectorRegistry()),
        auto_register=settings.auto_register or settings.demo,
    )


def _adapters(settings: Settings, names: Sequence[str]) -> tuple[Adapter, ...]:
    try:
        return build_adapters(names, settings.adapter_prefixes)
    except ValueError as exc:
        raise StartupError(f"invalid setting adapters: {exc}") from None


def _interpret_config(settings: Settings, adapters: tuple[Adapter, ...]) -> InterpretConfig:
    return InterpretConfig(
        topic_prefix=settings.topic_prefix,
        max_payload_bytes=settings.max_payload_bytes,
        limits=Limits(max_future_skew_ms=int(settings.max_future_skew_s * 1000)),
        adapters=adapters,
    )


def build_committer(settings: Settings, store: SqlStore, archive: RawArchive) -> Committer:
    """A committer for the configured adapters, for tools that run without a collector."""
    ingest = prepare_ingest(settings)
    return ingest.committer(store, archive, ingest.mqtt)


def uplink_filters(ingest: Ingest) -> list[str]:
    """The topic filters the collector subscribes to: every configured adapter's."""
    adapters = ingest.mqtt.adapters
    return list(dict.fromkeys(f for adapter in adapters for f in adapter.subscriptions()))


def build_collector(  # noqa: PLR0913 - the pipeline's parts and where it connects
    settings: Settings,
    ingest: Ingest,
    store: SqlStore,
    archive: RawArchive,
    on_committed: OnCommitted | None = None,
    *,
    endpoint: MqttEndpoint | None = None,
    traces: MessageTraces | None = None,
    before_ack: Callable[[], object] | None = None,
    commits: CommitProcess | None = None,
) -> Collector:
    """``endpoint``: the broker and login, when not simply WATTLINE_MQTT_URL's;
    ``traces``: a sample of messages traced (None: tracing off); ``before_ack``:
    called between each commit and its acknowledgement; ``commits``: the commit
    process, when the collector commits there (WATTLINE_COMMIT_PROCESS)."""
    committer = ingest.committer(
        store,
        archive,
        ingest.mqtt,
        on_committed,
        commits=SplitStore(store, commits) if commits is not None else None,
    )
    endpoint = endpoint or MqttEndpoint.from_url(settings.effective_mqtt_url)
    topics = uplink_filters(ingest)
    options = session_options(settings)

    def make_source(deliver: DeliverFn, deliver_many: DeliverManyFn) -> MessageSource:
        return open_source(
            endpoint,
            settings.mqtt_client_id,
            topics,
            deliver,
            options,
            deliver_many=deliver_many,
        )

    return Collector(
        make_source,
        committer,
        ingest.metrics,
        BatchPolicy(staging=settings.ingest_staging),
        traces=traces,
        before_ack=before_ack,
    )


def session_options(settings: Settings) -> SessionOptions:
    mqtt5 = settings.mqtt_protocol == "5" or (
        settings.mqtt_protocol is None and not settings.embedded_broker
    )
    if settings.mqtt_shared_group and not mqtt5:
        raise StartupError("WATTLINE_MQTT_SHARED_GROUP needs MQTT 5 (WATTLINE_MQTT_PROTOCOL=5)")
    return SessionOptions(
        mqtt5=mqtt5,
        shared_group=settings.mqtt_shared_group,
        session_expiry_s=settings.mqtt_session_expiry_s,
        receive_maximum=settings.mqtt_receive_maximum,
    )
