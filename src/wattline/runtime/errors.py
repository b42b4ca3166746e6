"""The two ways a run ends early, as the command line reports them."""

from __future__ import annotations


class StartupError(Exception):
    """A problem the user fixes with a flag or a setting; printed as one line."""


class ServiceFailedError(Exception):
    """A service died while running; the process exits non-zero for a supervisor to restart."""
