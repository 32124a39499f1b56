"""Who is acting, when, and with which knowledge base: passed to every record service.

The boundary (API request, web request, CLI command) builds the context: the clock is read
there, never inside a service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.errors import PermissionDenied

Role = Literal["admin", "prescriber", "nurse", "pharmacist", "scheduler", "viewer", "system"]
ROLES: tuple[str, ...] = ("admin", "prescriber", "nurse", "pharmacist", "scheduler", "viewer")

#: The authorization matrix: which role may do what. Enforced only through :func:`require`;
#: ``docs/security.md`` prints it. ``system`` is the local command line, which may do all.
PERMISSIONS: dict[str, frozenset[str]] = {
    "patients.read": frozenset(
        {"admin", "prescriber", "nurse", "pharmacist", "scheduler", "viewer"}
    ),
    "patients.write": frozenset({"prescriber", "nurse"}),
    "records.write": frozenset({"prescriber", "nurse"}),
    "plans.write": frozenset({"prescriber"}),
    "doses.mark": frozenset({"prescriber", "nurse"}),
    "checks.run": frozenset({"prescriber", "nurse", "pharmacist"}),
    "checks.acknowledge": frozenset({"prescriber", "nurse"}),
    "checks.override": frozenset({"prescriber"}),
    "administrations.write": frozenset({"prescriber", "nurse"}),
    "appointments.read": frozenset(
        {"admin", "prescriber", "nurse", "pharmacist", "scheduler", "viewer"}
    ),
    "appointments.write": frozenset({"scheduler", "nurse"}),
    "schedule.optimise": frozenset({"scheduler"}),
    "schedule.propose": frozenset({"admin", "scheduler", "nurse"}),
    "schedule.accept": frozenset({"admin", "scheduler", "nurse"}),
    "shifts.write": frozenset({"admin", "scheduler"}),
    "worklists.read": frozenset(
        {"admin", "prescriber", "nurse", "pharmacist", "scheduler", "viewer"}
    ),
    "knowledge.read": frozenset(
        {"admin", "prescriber", "nurse", "pharmacist", "scheduler", "viewer"}
    ),
    "fhir.export": frozenset({"admin", "prescriber", "nurse"}),
    "fhir.import": frozenset({"admin"}),
    "feeds.manage": frozenset({"prescriber", "nurse"}),
    "sites.manage": frozenset({"admin"}),
    "users.manage": frozenset({"admin"}),
    "audit.read": frozenset({"admin"}),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """A signed-in user (or the local command line)."""

    user_id: int | None
    username: str
    role: Role

    def can(self, permission: str) -> bool:
        """Whether this actor holds ``permission``."""
        if self.role == "system":
            return True
        return self.role in PERMISSIONS.get(permission, frozenset())


SYSTEM = Actor(None, "cli", "system")


def require(actor: Actor, permission: str) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` holds ``permission``."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    if not actor.can(permission):
        raise PermissionDenied(f"the {actor.role} role may not do {permission}")


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """What a record service needs besides the session."""

    kb: KnowledgeBase
    actor: Actor
    today: date
    now: datetime
    client_address: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
