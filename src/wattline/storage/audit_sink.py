"""The ``AuditSink`` the API and the CLI record changes through: the audit store, never raising.

A change that has happened must not be answered with an error because its
audit entry could not be written (the database went away between the change
and the entry): the failure is logged with the event and counted in
``wattline_audit_failures``, which an alert should watch.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter

from wattline.security.audit import AuditEvent
from wattline.storage.ports import AuditStore

log = logging.getLogger("wattline.audit")


class StoreAuditSink:
    def __init__(self, store: AuditStore, registry: CollectorRegistry) -> None:
        self._store = store
        self.failures = Counter(
            "wattline_audit_failures",
            "Audit entries that could not be written (the change itself went through)",
            registry=registry,
        )

    def record(self, event: AuditEvent) -> None:
        try:
            self._store.append(event)
        except Exception:
            # Broad on purpose: the caller's change is done; losing the entry is
            # logged and counted, never turned into the caller's error.
            log.exception(
                "audit entry not written: %s %s by %s", event.action, event.object, event.actor
            )
            self.failures.inc()
