"""Ingest counters: nothing is dropped without a counter saying why."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


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
        self.store_errors = Counter(
            "wattline_ingest_store_errors",
            "Batch commits that failed and were retried",
            registry=registry,
        )
