"""Device wire formats: codecs and protocol adapters (pure functions)."""
