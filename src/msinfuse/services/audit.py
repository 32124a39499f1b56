"""Audit events: every read or change of patient data, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from msinfuse.persistence.models import AuditEvent
from msinfuse.services.context import ServiceContext, require


def record(
    session: Session,
    ctx: ServiceContext,
    action: str,
    resource_type: str,
    resource_id: object | None = None,
    outcome: str = "success",
) -> None:
    """Write one audit event (same transaction as the change it records)."""
    session.add(
        AuditEvent(
            at=ctx.now,
            user_id=ctx.actor.user_id,
            username=ctx.actor.username,
            action=action,
            resource_type=resource_type,
            resource_id=None if resource_id is None else str(resource_id),
            outcome=outcome,
            client_address=ctx.client_address,
        )
    )


def export(session: Session, ctx: ServiceContext, since: datetime) -> list[dict[str, Any]]:
    """Audit events since ``since``, oldest first (admin only)."""
    require(ctx.actor, "audit.read")
    rows: Sequence[AuditEvent] = session.scalars(
        select(AuditEvent).where(AuditEvent.at >= since).order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "user_id": e.user_id,
            "username": e.username,
            "action": e.action,
            "resource_type": e.resource_type,
            "resource_id": e.resource_id,
            "outcome": e.outcome,
            "client_address": e.client_address,
        }
        for e in rows
    ]
