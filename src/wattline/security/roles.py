"""Roles per tenant and what each may do. Pure."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A member's role in one tenant, from least to most trusted."""

    VIEWER = "viewer"  # reads telemetry, energy, alerts
    OPERATOR = "operator"  # and sends commands (a relay, a configuration)
    ADMIN = "admin"  # and manages devices, users, keys, rules
    OWNER = "owner"  # and everything, including other owners and the tenant itself

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """True when this role may do what ``needed`` may."""
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2, Role.OWNER: 3}

# Roles a device can be shared with another user as (the smart-plug seed).
SHARE_ROLES = frozenset({Role.VIEWER, Role.OPERATOR})
