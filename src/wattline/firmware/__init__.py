"""Firmware updates: signed artifacts, download links, and campaigns rolled out in waves."""
