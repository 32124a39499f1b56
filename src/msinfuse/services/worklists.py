"""Clinic-wide worklists, each a set-based query (no per-patient loop)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from msinfuse.domain.monitoring import monitoring_status
from msinfuse.errors import InvalidInput
from msinfuse.persistence import repositories as repo
from msinfuse.services import audit
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.projections import refresh_all


def _site(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    site = repo.find_site(session, code)
    if site is None:
        raise InvalidInput(f"unknown site {code!r}")
    return site.id


def _iso(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def today(
    session: Session, ctx: ServiceContext, on: date | None = None, site: str | None = None
) -> list[dict[str, Any]]:
    """The day's infusions per site and chair, with each patient's latest check decision."""
    require(ctx.actor, "worklists.read")
    rows = repo.worklist_today(session, on or ctx.today, _site(session, site))
    audit.record(session, ctx, "worklist", "today", None)
    return [_iso(r) for r in rows]


def due(
    session: Session,
    ctx: ServiceContext,
    on: date | None = None,
    days: int = 14,
    site: str | None = None,
) -> list[dict[str, Any]]:
    """Doses overdue or due within ``days`` that have no appointment."""
    require(ctx.actor, "worklists.read")
    if not 0 <= days <= 366:
        raise InvalidInput("days must be between 0 and 366")
    day = on or ctx.today
    rows = repo.worklist_due(session, day + timedelta(days=days), _site(session, site))
    audit.record(session, ctx, "worklist", "due", None)
    return [_iso({**r, "overdue": r["planned_on"] < day}) for r in rows]


def monitoring_due(
    session: Session, ctx: ServiceContext, on: date | None = None, site: str | None = None
) -> list[dict[str, Any]]:
    """Monitoring items overdue or due (within the clinic's due-soon window) clinic-wide."""
    require(ctx.actor, "worklists.read")
    day = on or ctx.today
    window = ctx.kb.clinic.due_soon_days.value
    rows = repo.worklist_monitoring(session, day + timedelta(days=window), _site(session, site))
    audit.record(session, ctx, "worklist", "monitoring", None)
    # The status is the monitoring list's own (one source of truth for due dates and status).
    return [
        _iso({**r, "status": monitoring_status(r["due_on"], day, window)})
        for r in rows
        if r["until_on"] is None or r["until_on"] >= day
    ]


def pml(session: Session, ctx: ServiceContext, site: str | None = None) -> list[dict[str, Any]]:
    """Natalizumab patients by PML risk (highest estimate first)."""
    require(ctx.actor, "worklists.read")
    rows = repo.worklist_pml(session, _site(session, site))
    audit.record(session, ctx, "worklist", "pml", None)
    return [_iso(r) for r in rows]


def adherence(
    session: Session,
    ctx: ServiceContext,
    start: date | None = None,
    end: date | None = None,
    site: str | None = None,
) -> list[dict[str, Any]]:
    """Doses given late and by how many days, per agent and per month."""
    require(ctx.actor, "worklists.read")
    end_day = end or ctx.today
    start_day = start or end_day.replace(year=end_day.year - 1)
    if start_day > end_day:
        raise InvalidInput("the start date is after the end date")
    rows = repo.worklist_adherence(session, start_day, end_day, _site(session, site))
    audit.record(session, ctx, "worklist", "adherence", None)
    return [
        {
            "agent": r["agent"],
            "month": f"{int(r['year']):04d}-{int(r['month']):02d}",
            "given": int(r["given"]),
            "late": int(r["late"] or 0),
            "mean_days_late": round(float(r["mean_days_late"]), 1)
            if r["mean_days_late"] is not None
            else None,
            "max_days_late": int(r["max_days_late"]) if r["max_days_late"] is not None else None,
        }
        for r in rows
    ]


def refresh(session: Session, ctx: ServiceContext, progress: Any = None) -> int:
    """Recompute every patient's worklist projections for today."""
    require(ctx.actor, "worklists.read")
    count = refresh_all(session, ctx.kb, ctx.today, progress)
    audit.record(session, ctx, "refresh", "worklists", None)
    return count
