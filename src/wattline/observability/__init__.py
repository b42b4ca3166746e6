"""Prometheus metrics, structured logging, health."""
