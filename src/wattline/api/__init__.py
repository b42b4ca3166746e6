"""The REST API: FastAPI app and one router per resource under /api/v1."""
