"""Energy figures from telemetry. Pure: standard library and ``model`` only.

Bulk export and import live in ``wattline.transfer``.
"""
