"""Energy figures from telemetry, and bulk export and import.

``buckets`` and ``energy`` are pure (standard library and ``model`` only);
``export``, ``importer`` and ``cli`` move data in and out and do the I/O.
"""
