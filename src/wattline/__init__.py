"""Wattline: an open-source platform for energy IoT."""

__version__ = "0.1.0"
