"""The composition root: the one place that reads settings and builds objects.

- ``backends``: the store, the raw archive and the retention policy the settings ask for
- ``ingest``: adapters, the shared registry cache, committers and the collector
- ``broker``: which embedded broker to run
- ``services``: each running service as an async context manager (start, then stop)
- ``up``: ``wattline up`` and ``wattline collect``: services started in order, stopped in reverse

Inner packages receive plain values from here, never the settings object.
"""
