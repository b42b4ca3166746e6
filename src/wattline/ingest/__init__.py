"""The ingest pipeline: interpret, batch, commit, acknowledge."""
