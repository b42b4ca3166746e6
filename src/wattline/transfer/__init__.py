"""Data in and out in bulk: export (CSV or Parquet, to a folder or S3), import, and the
archive of a deleted device."""
