"""Scheduling: a week of chairs and nurse shifts per site; book the doses without
appointments, move appointments; run the schedule optimiser (``propose_week``), review its
proposal laid over the week and accept it (``accept_proposal``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from msinfuse.domain.provenance import DECISION_SUPPORT
from msinfuse.errors import Conflict, NotFound
from msinfuse.http.deps import DB
from msinfuse.services import appointments, clinic, scheduling, worklists
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
PROPOSE = web("schedule.propose")
ACCEPT = web("schedule.accept")
SHIFTS = web("shifts.write")

#: The optimiser's time limit offered on the page: default and cap in seconds (the page waits
#: for the solve, so the cap is well below the service's own limit).
DEFAULT_TIME_LIMIT = 10
MAX_WEB_TIME_LIMIT = 120


def _week_page(
    wr: WebRequest,
    session: Session,
    site: str | None,
    week: date | None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
    proposal: scheduling.Proposal | None = None,
    accept_error: str | None = None,
) -> HTMLResponse:
    if proposal is not None:
        site, week = proposal.site, proposal.week_start
    sites = clinic.list_sites(session, wr.ctx)
    chosen = next((s for s in sites if s["code"] == site), sites[0] if sites else None)
    day = week or wr.ctx.today
    monday = day - timedelta(days=day.weekday())
    days = [monday + timedelta(days=i) for i in range(7)]
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    shifts: dict[str, list[dict[str, Any]]] = {}
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
        for s in scheduling.list_shifts(session, wr.ctx, chosen["code"], monday, 7):
            shifts.setdefault(s["day"], []).append(s)
    proposed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if proposal is not None and proposal.status == "proposed":
        for b in proposal.bookings:
            proposed.setdefault((b["chair"], b["starts_at"][:10]), []).append({**b, "move": False})
        for mv in proposal.moves:
            proposed.setdefault((mv["chair"], mv["starts_at"][:10]), []).append(
                {**mv, "move": True}
            )
    return render(
        wr,
        "schedule.html",
        status=status,
        sites=sites,
        site=chosen,
        days=days,
        cells=cells,
        shifts=shifts,
        proposal=proposal,
        proposed=proposed,
        accept_error=accept_error,
        default_time_limit=DEFAULT_TIME_LIMIT,
        max_time_limit=MAX_WEB_TIME_LIMIT,
        count=len(rows),
        due=due[:200],
        prev_week=monday - timedelta(days=7),
        next_week=monday + timedelta(days=7),
        values=values,
        errors=errors,
        labels=_labels(wr, due, proposal),
        decision_support=DECISION_SUPPORT,
    )


def _labels(
    wr: WebRequest, due: list[dict[str, Any]], proposal: scheduling.Proposal | None
) -> list[dict[str, str]]:
    """The label revisions behind the doses shown (and the proposal's, when one is shown)."""
    labels = labels_for(wr, {d["agent"] for d in due})
    if proposal is not None:
        seen = {(lbl["document"], lbl["revision"]) for lbl in labels}
        for ref in proposal.data.get("label_revisions", []):
            if (ref["document"], ref["revision"]) not in seen:
                seen.add((ref["document"], ref["revision"]))
                labels.append(ref)
    return labels


def _load_proposal(
    wr: WebRequest, session: Session, proposal_id: int | None
) -> scheduling.Proposal | None:
    """The proposal named in the address, for a user who may see proposals."""
    if proposal_id is None or not wr.can("schedule.propose"):
        return None
    try:
        return scheduling.get_proposal(session, wr.ctx, proposal_id)
    except NotFound:
        return None


@router.get("/schedule", response_class=HTMLResponse)
def week_view(
    site: str | None = Query(default=None, max_length=20),
    week: date | None = Query(default=None),
    proposal: int | None = Query(default=None, ge=1, le=2**31 - 1),
    wr: WebRequest = READ,
    session: Session = DB,
) -> HTMLResponse:
    """The week of chairs and nurse shifts at a site, with a proposal laid over it."""
    found = _load_proposal(wr, session, proposal)
    return _week_page(wr, session, site, week, proposal=found)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _week_url(site: str | None, week: date | None, proposal_id: int | None = None) -> str:
    url = f"/schedule?site={site or ''}"
    if week is not None:
        url += f"&week={week.isoformat()}"
    if proposal_id is not None:
        url += f"&proposal={proposal_id}"
    return url


@router.post("/schedule/propose", response_class=HTMLResponse)
async def propose(request: Request, wr: WebRequest = PROPOSE, session: Session = DB) -> Response:
    """Run the optimiser for a site's week and show its proposal (nothing is booked yet).

    The form posts through htmx (a progress indicator shows while the solver runs, bounded
    by the time limit); without script it is an ordinary form post. Either way the browser
    ends on the week view with the proposal laid over it.
    """
    values = form_values(await request.form())
    errors = FormErrors()
    site = values.get("site", "").strip()
    week: date | None = None
    try:
        week = date.fromisoformat(values.get("week", ""))
    except ValueError:
        errors.fields["week"] = "enter the week (any day of it, YYYY-MM-DD)"
    limit_text = values.get("time_limit", "").strip() or str(DEFAULT_TIME_LIMIT)
    try:
        limit = float(limit_text)
    except ValueError:
        limit = -1.0
    if not 0 < limit <= MAX_WEB_TIME_LIMIT:
        errors.fields["time_limit"] = f"enter between 1 and {MAX_WEB_TIME_LIMIT} seconds"
    if not site:
        errors.fields["site"] = "choose a site"
    htmx = _is_htmx(request)
    if errors:
        return _week_page(wr, session, site or None, week, values, errors, 200 if htmx else 400)
    assert week is not None
    found, error = attempt(
        session,
        lambda: scheduling.propose_week(
            session,
            wr.ctx,
            site,
            week,
            time_limit=limit,
            allow_moves=values.get("allow_moves") in ("on", "true", "1"),
        ),
    )
    if error is not None or found is None:
        fields = field_error(error, ("site", "week", "time_limit")) if error else FormErrors()
        return _week_page(wr, session, site, week, values, fields, 200 if htmx else 409)
    target = _week_url(found.site, found.week_start, found.id)
    if htmx:
        return Response(status_code=200, headers={"HX-Redirect": target})
    return redirect(target)


@router.post("/schedule/proposals/{proposal_id}/accept", response_class=HTMLResponse)
async def accept(
    proposal_id: int, request: Request, wr: WebRequest = ACCEPT, session: Session = DB
) -> Response:
    """Write every booking of the proposal, or show why not (a stale proposal writes nothing)."""
    await request.form()
    found = (
        scheduling.get_proposal(session, wr.ctx, proposal_id)
        if wr.can("schedule.propose")
        else None
    )
    result, error = attempt(
        session, lambda: scheduling.accept_proposal(session, wr.ctx, proposal_id)
    )
    if error is not None or result is None:
        status = 409 if isinstance(error, Conflict) else 400
        return _week_page(
            wr, session, None, None, status=status, proposal=found, accept_error=str(error)
        )
    week = found.week_start if found else None
    site = found.site if found else None
    return redirect(_week_url(site, week), "accepted")


def _shift_time(values: dict[str, str], name: str, errors: FormErrors, need: bool) -> str | None:
    text = values.get(name, "").strip()
    if not text:
        if need:
            errors.fields[name] = "enter the time (HH:MM)"
        return None
    try:
        datetime.strptime(text, "%H:%M")
    except ValueError:
        errors.fields[name] = "enter the time as HH:MM"
        return None
    return text


@router.post("/schedule/shifts", response_class=HTMLResponse)
async def add_shift(request: Request, wr: WebRequest = SHIFTS, session: Session = DB) -> Response:
    """Record a nurse shift at the site on a day."""
    values = form_values(await request.form())
    errors = FormErrors()
    site = values.get("site", "").strip() or None
    day: date | None = None
    try:
        day = date.fromisoformat(values.get("day", ""))
    except ValueError:
        errors.fields["day"] = "choose the day"
    starts = _shift_time(values, "shift_starts", errors, True)
    ends = _shift_time(values, "shift_ends", errors, True)
    brk = _shift_time(values, "break_starts", errors, False)
    if errors:
        return _week_page(wr, session, site, day, values, errors, 400)
    body = {"site": site or "", "day": day, "starts": starts, "ends": ends, "break_starts": brk}
    _, error = attempt(session, lambda: scheduling.add_shift(session, wr.ctx, body))
    if error is not None:
        message = str(error)
        if "break" in message:
            fields = FormErrors({"break_starts": message})
        elif "end" in message:
            fields = FormErrors({"shift_ends": message})
        else:
            fields = FormErrors(form=message)
        return _week_page(wr, session, site, day, values, fields, 400)
    return redirect(_week_url(site, day), "shift")


@router.post("/schedule/shifts/{shift_id}/delete", response_class=HTMLResponse)
async def delete_shift(
    shift_id: int, request: Request, wr: WebRequest = SHIFTS, session: Session = DB
) -> Response:
    """Remove a recorded nurse shift."""
    await request.form()
    gone = scheduling.delete_shift(session, wr.ctx, shift_id)
    return redirect(_week_url(gone["site"], date.fromisoformat(gone["day"])), "shift-removed")


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
