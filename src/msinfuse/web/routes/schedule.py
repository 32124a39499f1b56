"""Scheduling: a week of chairs per site; book the doses without appointments, move
appointments. The schedule optimiser (the scheduling work) is wired into the marked slot."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from msinfuse.domain.provenance import DECISION_SUPPORT
from msinfuse.http.deps import DB
from msinfuse.services import appointments, clinic, worklists
from msinfuse.web.common import (
    FormErrors,
    WebRequest,
    attempt,
    field_error,
    form_values,
    labels_for,
    redirect,
    render,
    web,
)

router = APIRouter()
READ = web("appointments.read")
WRITE = web("appointments.write")


def _week_page(
    wr: WebRequest,
    session: Session,
    site: str | None,
    week: date | None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    sites = clinic.list_sites(session, wr.ctx)
    chosen = next((s for s in sites if s["code"] == site), sites[0] if sites else None)
    day = week or wr.ctx.today
    monday = day - timedelta(days=day.weekday())
    days = [monday + timedelta(days=i) for i in range(7)]
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    due: list[dict[str, Any]] = []
    if chosen is not None:
        rows = appointments.list_day(
            session, wr.ctx, datetime.combine(monday, datetime.min.time()), chosen["code"], 7
        )
        for r in rows:
            cells.setdefault((r["chair"], r["starts_at"][:10]), []).append(r)
        if wr.can("worklists.read"):
            due = worklists.due(session, wr.ctx, None, 21, chosen["code"])
    return render(
        wr,
        "schedule.html",
        status=status,
        sites=sites,
        site=chosen,
        days=days,
        cells=cells,
        count=len(rows),
        due=due[:200],
        prev_week=monday - timedelta(days=7),
        next_week=monday + timedelta(days=7),
        values=values,
        errors=errors,
        labels=labels_for(wr, {d["agent"] for d in due}),
        decision_support=DECISION_SUPPORT,
    )


@router.get("/schedule", response_class=HTMLResponse)
def week_view(
    site: str | None = Query(default=None, max_length=20),
    week: date | None = Query(default=None),
    wr: WebRequest = READ,
    session: Session = DB,
) -> HTMLResponse:
    """The week of chairs at a site."""
    return _week_page(wr, session, site, week)


def _when(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@router.post("/schedule/book", response_class=HTMLResponse)
async def book(request: Request, wr: WebRequest = WRITE, session: Session = DB) -> Response:
    """Book a chair for a dose (the chair time comes from the dose's own rate plan)."""
    values = form_values(await request.form())
    errors = FormErrors()
    starts = _when(values.get("starts_at", ""))
    if starts is None:
        errors.fields["starts_at"] = "enter the date and time"
    for name in ("patient_id", "planned_dose_id", "chair_id"):
        if not values.get(name, "").isdigit():
            errors.fields[name] = "choose one"
    site, week = values.get("site") or None, starts.date() if starts else None
    if errors:
        return _week_page(wr, session, site, week, values, errors, 400)
    body = {
        "patient_id": int(values["patient_id"]),
        "planned_dose_id": int(values["planned_dose_id"]),
        "chair_id": int(values["chair_id"]),
        "starts_at": starts,
    }
    _, error = attempt(session, lambda: appointments.book(session, wr.ctx, body))
    if error is not None:
        fields = ("starts_at", "chair_id", "planned_dose_id", "patient_id")
        return _week_page(wr, session, site, week, values, field_error(error, fields), 409)
    assert starts is not None
    return redirect(f"/schedule?site={site or ''}&week={starts.date().isoformat()}", "booked")


@router.post("/appointments/{appointment_id}/move", response_class=HTMLResponse)
async def move(
    appointment_id: int, request: Request, wr: WebRequest = WRITE, session: Session = DB
) -> Response:
    """Move an appointment in time and/or to another chair."""
    values = form_values(await request.form())
    starts = _when(values.get("starts_at", ""))
    chair = int(values["chair_id"]) if values.get("chair_id", "").isdigit() else None
    site = values.get("site") or None
    if starts is None:
        errors = FormErrors({f"starts_at-{appointment_id}": "enter the new date and time"})
        return _week_page(wr, session, site, None, values, errors, 400)
    _, error = attempt(
        session, lambda: appointments.move(session, wr.ctx, appointment_id, starts, chair)
    )
    if error is not None:
        errors = FormErrors({f"starts_at-{appointment_id}": str(error)})
        return _week_page(wr, session, site, starts.date(), values, errors, 409)
    return redirect(f"/schedule?site={site or ''}&week={starts.date().isoformat()}", "moved")
