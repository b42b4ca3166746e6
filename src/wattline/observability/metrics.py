"""Ingest metrics: nothing is dropped without a counter saying why, and a stall shows."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# One reading per batch up to a full batch of 2,000 messages.
_BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000)
# A reading's wait, from the few milliseconds a batch takes at a moderate load to
# the seconds of a backlog after an outage.
_WAIT_BUCKETS = (0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "wattline_ingest_messages",
            "Messages handled by the collector, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.quarantined = Counter(
            "wattline_ingest_quarantined",
            "Messages quarantined, by reason",
            ["reason"],
            registry=registry,
        )
        self.samples = Counter(
            "wattline_ingest_samples",
            "Samples offered to storage, by outcome (stored, duplicate, corrected)",
            ["outcome"],
            registry=registry,
        )
        self.seq_duplicates = Counter(
            "wattline_ingest_seq_duplicates",
            "Readings dropped because their (device, seq) had already been stored",
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "wattline_ingest_commit_seconds",
            "Time to archive and commit one batch",
            registry=registry,
        )
        self.store_seconds = Histogram(
            "wattline_ingest_store_seconds",
            "Time inside the store's transaction for one batch, timed where it runs "
            "(the commit process, when there is one); the rest of commit_seconds is "
            "waiting for it and, with a commit process, the hand-over",
            registry=registry,
        )
        self.fold_seconds = Histogram(
            "wattline_ingest_fold_seconds",
            "Time inside the store's transaction for one fold of staged readings into "
            "samples, rollups and latest values (ADR 0033); a batch that comes meanwhile "
            "waits for it",
            registry=registry,
        )
        self.oldest_wait_seconds = Histogram(
            "wattline_ingest_oldest_wait_seconds",
            "Age of each batch's oldest message, from its receipt from the broker, when "
            "the batch is planned (decoded, validated, archived) and when it is committed "
            "(on the live stream from then on)",
            ["stage"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.store_errors = Counter(
            "wattline_ingest_store_errors",
            "Batch commits that failed and were retried",
            registry=registry,
        )
        self.batch_messages = Histogram(
            "wattline_ingest_batch_messages",
            "Messages per committed batch",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        # Set by the collector as functions of its state, read at scrape time.
        self.queued = Gauge(
            "wattline_ingest_queued_messages",
            "Messages received from the broker and not yet committed",
            registry=registry,
        )
        self.connected = Gauge(
            "wattline_ingest_broker_connected",
            "1 while the collector holds its broker session, else 0",
            registry=registry,
        )
        self.last_commit = Gauge(
            "wattline_ingest_last_commit_timestamp_seconds",
            "When the collector last committed a batch (Unix time); 0 before the first",
            registry=registry,
        )
