"""The raw archive: every message, accepted or rejected, byte for byte."""
