"""The infusion: pump program with clock times, start, rate changes, premedication, vital
signs, reactions (re-planned at once), observation timer, completion, and corrections of
what was documented. A refused entry comes back beside its field, in plain words."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from msinfuse.errors import InvalidInput, PermissionDenied, UserError
from msinfuse.http.deps import DB
from msinfuse.persistence.repositories import RecordId
from msinfuse.services import corrections, records, visits
from msinfuse.web.common import (
    FormErrors,
    WebRequest,
    attempt,
    field_error,
    form_values,
    redirect,
    render,
    web,
)

router = APIRouter()
READ = web("patients.read")
WRITE = web("administrations.write")


def _clock_time(value: str, today: datetime) -> datetime | None:
    """``HH:MM`` today (the clinic's wall clock), or ``None`` when it is not a time."""
    try:
        return datetime.combine(today.date(), time.fromisoformat(value))
    except ValueError:
        return None


def _infusion_page(
    wr: WebRequest,
    session: Session,
    dose_id: int,
    values: dict[str, str],
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    now = visits.wall_clock(wr.ctx)
    start = _clock_time(values.get("start", ""), now) or now
    data = visits.dose_visit_context(session, wr.ctx, dose_id, start)
    patient = records.get_patient(session, wr.ctx, data["patient_id"])
    values = {"start": start.strftime("%H:%M"), "protocol": data["plan"]["protocol"], **values}
    return render(
        wr,
        "infusion.html",
        status=status,
        patient=patient,
        values=values,
        errors=errors,
        labels=data["rate_plan"]["label_revisions"],
        decision_support=data["rate_plan"]["decision_support"],
        **data,
    )


@router.get("/doses/{dose_id}/infusion", response_class=HTMLResponse)
def infusion_page(
    dose_id: int,
    appointment: RecordId | None = Query(default=None),
    start: str | None = Query(default=None, max_length=5),
    wr: WebRequest = READ,
    session: Session = DB,
) -> Response:
    """The pump program of a dose before it starts (or its visit, once started)."""
    data = visits.dose_visit_context(session, wr.ctx, dose_id)
    if data["administration_id"] is not None:
        return redirect(f"/visits/{data['administration_id']}")
    values = {"appointment": str(appointment or "")}
    if start:
        values["start"] = start
    return _infusion_page(wr, session, dose_id, values)


@router.post("/doses/{dose_id}/infusion/start", response_class=HTMLResponse)
async def start(
    dose_id: int, request: Request, wr: WebRequest = WRITE, session: Session = DB
) -> Response:
    """Start the infusion (after a cleared check)."""
    values = form_values(await request.form())
    now = visits.wall_clock(wr.ctx)
    started_at = _clock_time(values.get("start", ""), now)
    errors = FormErrors()
    if started_at is None:
        errors.fields["start"] = "enter the clock time the pump started (HH:MM)"
    volume = None
    if values.get("volume_ml"):
        try:
            volume = float(values["volume_ml"])
        except ValueError:
            errors.fields["volume_ml"] = "enter the bag volume in mL"
    appointment = int(values["appointment"]) if values.get("appointment", "").isdigit() else None
    chosen = values.get("protocol")
    protocol: Literal["standard", "shorter"] | None = (
        "shorter" if chosen == "shorter" else "standard" if chosen == "standard" else None
    )
    if errors:
        return _infusion_page(wr, session, dose_id, values, errors, 400)
    out, error = attempt(
        session,
        lambda: visits.start_visit(
            session,
            wr.ctx,
            dose_id,
            started_at,
            appointment,
            protocol,
            volume,
        ),
    )
    if error is not None or out is None:
        assert error is not None
        status = 400 if isinstance(error, InvalidInput) else 409
        return _infusion_page(
            wr, session, dose_id, values, field_error(error, ("start", "volume_ml")), status
        )
    return redirect(f"/visits/{out['id']}", "started")


def _visit_page(
    wr: WebRequest,
    session: Session,
    administration_id: int,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    template: str = "visit.html",
    fix: tuple[str, FormErrors] | None = None,
) -> HTMLResponse:
    data = visits.visit(session, wr.ctx, administration_id)
    patient = records.get_patient(session, wr.ctx, data["patient_id"])
    now = visits.wall_clock(wr.ctx)
    bag = data["limits"]["bag_ml"]
    defaults = {
        "minute": f"{data['elapsed_min']:.0f}",
        "onset_minute": f"{data['elapsed_min']:.0f}",
        "taken_at": now.strftime("%H:%M"),
        "given_at": now.strftime("%H:%M"),
        "ended_at": now.strftime("%H:%M"),
        "rate_ml_h": f"{data['current_rate_ml_h'] or ''}",
        "volume_infused_ml": f"{bag:g}" if data["in_progress"] else "",
    }
    return render(
        wr,
        template,
        status=status,
        visit=data,
        patient=patient,
        values={**defaults, **(values or {})} if fix is None else defaults,
        errors=errors if fix is None else None,
        fix_key=fix[0] if fix else None,
        fix_errors=fix[1] if fix else None,
        fix_values=values if fix else {},
        labels=data["label_revisions"],
        decision_support=data["decision_support"],
    )


@router.get("/visits/{administration_id}", response_class=HTMLResponse)
def visit_page(
    administration_id: int, wr: WebRequest = READ, session: Session = DB
) -> HTMLResponse:
    """The infusion in progress (or done)."""
    return _visit_page(wr, session, administration_id)


@router.get("/visits/{administration_id}/status", response_class=HTMLResponse)
def visit_status(
    administration_id: int, wr: WebRequest = READ, session: Session = DB
) -> HTMLResponse:
    """The live panel alone (htmx polls it): running step, observation countdown."""
    return _visit_page(wr, session, administration_id, template="_visit_status.html")


def _float(values: dict[str, str], name: str, errors: FormErrors, what: str) -> float | None:
    raw = values.get(name, "").strip()
    if not raw:
        errors.fields[name] = f"enter {what}"
        return None
    try:
        return float(raw)
    except ValueError:
        errors.fields[name] = f"enter {what} as a number"
        return None


FIELDS = (
    "minute",
    "rate_ml_h",
    "kind",
    "reason",
    "drug",
    "dose",
    "route",
    "given_at",
    "value",
    "unit",
    "taken_at",
    "onset_minute",
    "grade",
    "resume_minute",
    "actions",
    "outcome",
    "ended_at",
    "volume_infused_ml",
)


async def _post(
    request: Request,
    wr: WebRequest,
    session: Session,
    administration_id: int,
    build: Any,
    call: Any,
    notice: str,
) -> Response:
    values = form_values(await request.form())
    errors = FormErrors()
    body = build(values, errors, visits.wall_clock(wr.ctx))
    if errors:
        return _visit_page(wr, session, administration_id, errors, values, 400)
    _, error = attempt(session, lambda: call(session, wr.ctx, administration_id, body))
    if error is not None:
        return _visit_page(wr, session, administration_id, field_error(error, FIELDS), values, 400)
    return redirect(f"/visits/{administration_id}", notice)


def _rate(values: dict[str, str], errors: FormErrors, _now: datetime) -> dict[str, Any]:
    kind = values.get("kind") or "change"
    rate = (
        0.0
        if kind in ("pause", "stop") and not values.get("rate_ml_h", "").strip()
        else _float(values, "rate_ml_h", errors, "the rate in mL/h")
    )
    return {
        "minute": _float(values, "minute", errors, "the minute of the infusion"),
        "rate_ml_h": rate,
        "kind": kind,
        "reason": values.get("reason", "").strip() or None,
    }


def _time_field(
    values: dict[str, str], name: str, errors: FormErrors, now: datetime
) -> datetime | None:
    raw = values.get(name, "").strip()
    if not raw:
        return now
    at = _clock_time(raw, now)
    if at is None:
        errors.fields[name] = "enter the clock time (HH:MM)"
    return at


def _premed(values: dict[str, str], errors: FormErrors, now: datetime) -> dict[str, Any]:
    if not values.get("drug", "").strip():
        errors.fields["drug"] = "enter the drug given"
    if not values.get("dose", "").strip():
        errors.fields["dose"] = "enter the dose given, in mg"
    return {
        "drug": values.get("drug", ""),
        "dose": values.get("dose") or None,
        "route": values.get("route") or None,
        "given_at": _time_field(values, "given_at", errors, now),
    }


def _vital(values: dict[str, str], errors: FormErrors, now: datetime) -> dict[str, Any]:
    at = _clock_time(values.get("taken_at", ""), now)
    if at is None:
        errors.fields["taken_at"] = "enter the clock time (HH:MM)"
    return {
        "kind": values.get("kind", ""),
        "value": _float(values, "value", errors, "the value"),
        "unit": values.get("unit", "").strip() or None,
        "taken_at": at,
    }


def _reaction(values: dict[str, str], errors: FormErrors, _now: datetime) -> dict[str, Any]:
    grade = values.get("grade", "")
    if grade not in ("1", "2", "3", "4", "5"):
        errors.fields["grade"] = "choose the CTCAE grade (1 to 5)"
    resume = values.get("resume_minute", "").strip()
    body: dict[str, Any] = {
        "onset_minute": _float(values, "onset_minute", errors, "the minute the reaction began"),
        "grade": int(grade) if grade.isdigit() else None,
        "actions": values.get("actions") or None,
        "outcome": values.get("outcome") or None,
    }
    if resume:
        body["resume_minute"] = _float(values, "resume_minute", errors, "the restart minute")
    return body


def _detail_form(path: str, build: Any, call: Any, notice: str, doc: str) -> None:
    """Register the form that records one detail of the visit at
    ``POST /visits/{administration_id}/<path>`` (the route is named ``path``)."""

    async def record(
        administration_id: int, request: Request, wr: WebRequest = WRITE, session: Session = DB
    ) -> Response:
        return await _post(request, wr, session, administration_id, build, call, notice)

    record.__name__ = record.__qualname__ = path
    record.__doc__ = doc
    router.post(f"/visits/{{administration_id}}/{path}", response_class=HTMLResponse)(record)


_detail_form("rate", _rate, visits.record_rate, "rate", "Record a rate change.")
_detail_form(
    "premedication",
    _premed,
    visits.record_premedication,
    "premed",
    "Record a premedication given.",
)
_detail_form("vital", _vital, visits.record_vital, "vital", "Record a vital sign.")
_detail_form(
    "reaction",
    _reaction,
    visits.record_reaction,
    "reaction",
    "Record a reaction; the page comes back with the re-planned rates.",
)


@router.post("/visits/{administration_id}/complete", response_class=HTMLResponse)
async def complete(
    administration_id: int, request: Request, wr: WebRequest = WRITE, session: Session = DB
) -> Response:
    """Complete the infusion (end time and volume infused; a reason when it ended early or
    with volume left); the observation timer starts."""

    def build(values: dict[str, str], errors: FormErrors, now: datetime) -> dict[str, Any]:
        ended = _clock_time(values.get("ended_at", ""), now)
        if ended is None:
            errors.fields["ended_at"] = "enter the clock time the infusion ended (HH:MM)"
        outcome = (
            values.get("outcome")
            if values.get("outcome") in ("completed", "stopped")
            else "completed"
        )
        return {
            "ended_at": ended,
            "outcome": outcome,
            "volume_infused_ml": _float(
                values, "volume_infused_ml", errors, "the volume infused in mL"
            ),
            "reason": values.get("reason", "").strip() or None,
        }

    def call(session: Session, ctx: Any, ident: int, body: dict[str, Any]) -> Any:
        return visits.complete_visit(
            session,
            ctx,
            ident,
            body["ended_at"],
            body["outcome"],
            body["volume_infused_ml"],
            body["reason"],
        )

    return await _post(request, wr, session, administration_id, build, call, "completed")


# ------------------------------------------------------------------------------ corrections

#: The form fields of an amendment, per entry, and how each is read.
AMEND_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "vital_sign": (("value", "number"), ("unit", "text"), ("taken_at", "time")),
    "rate_event": (("minute", "number"), ("rate_ml_h", "number"), ("rate_reason", "text")),
    "premedication": (("dose", "text"), ("route", "text"), ("given_at", "time")),
    "reaction": (
        ("onset_minute", "number"),
        ("grade", "integer"),
        ("resume_minute", "number"),
        ("actions", "text"),
    ),
    "administration": (
        ("volume_infused_ml", "number"),
        ("ended_at", "time"),
        ("completion_reason", "text"),
    ),
    "lab": (("value", "text"), ("unit", "text"), ("date", "text"), ("flag", "text")),
}
CORRECTION_FIELDS = ("action", "reason", *{n for f in AMEND_FIELDS.values() for n, _ in f})


def _changes(
    resource: str, values: dict[str, str], errors: FormErrors, day: datetime
) -> dict[str, Any]:
    """The fields of an amendment form that were filled in (blank: unchanged)."""
    changes: dict[str, Any] = {}
    for name, kind in AMEND_FIELDS.get(resource, ()):
        raw = values.get(name, "").strip()
        if not raw:
            continue
        key = "reason" if name == "rate_reason" else name
        if kind == "time":
            at = _clock_time(raw, day)
            if at is None:
                errors.fields[name] = "enter the clock time (HH:MM)"
            changes[key] = at
        elif kind in ("number", "integer"):
            try:
                changes[key] = int(raw) if kind == "integer" else float(raw)
            except ValueError:
                errors.fields[name] = "enter a number"
        else:
            changes[key] = raw
    return changes


@router.post("/corrections/{resource}/{record_id}", response_class=HTMLResponse)
async def correct(
    resource: str,
    record_id: int,
    request: Request,
    wr: WebRequest = READ,
    session: Session = DB,
) -> Response:
    """Mark a documented entry entered in error, or amend it, with a reason (the original
    stays visible, struck through)."""
    values = form_values(await request.form())
    found = corrections.owner(session, wr.ctx, resource, record_id)
    visit_id, patient_id = found["administration_id"], found["patient_id"]
    back = f"/visits/{visit_id}" if visit_id is not None else f"/patients/{patient_id}"
    errors = FormErrors()
    action = values.get("action", "")
    if action not in ("entered_in_error", "amended"):
        errors.fields["action"] = "choose: entered in error, or amend"
    if not values.get("reason", "").strip():
        errors.fields["reason"] = "say why the entry is corrected"
    try:
        day = datetime.fromisoformat(values.get("day", ""))
    except ValueError:
        day = visits.wall_clock(wr.ctx)
    changes = _changes(resource, values, errors, day) if action == "amended" else {}
    error: UserError | None = None
    if not errors:
        _, error = attempt(
            session,
            lambda: corrections.correct(
                session,
                wr.ctx,
                resource,  # type: ignore[arg-type]
                record_id,
                {"action": action, "reason": values.get("reason", ""), "changes": changes},
            ),
        )
        if error is None:
            return redirect(back, "corrected")
        rate_amend = resource == "rate_event" and action == "amended"
        errors = field_error(error, (*CORRECTION_FIELDS, "rate_ml_h", "changes"))
        if rate_amend and getattr(error, "field", None) == "reason" and "reason" in errors.fields:
            errors.fields["rate_reason"] = errors.fields.pop("reason")
    status = 403 if isinstance(error, PermissionDenied) else 400
    fix = (f"{resource}:{record_id}", errors)
    if visit_id is not None:
        return _visit_page(wr, session, visit_id, values=values, status=status, fix=fix)
    from msinfuse.web.routes.patients import render_patient

    assert patient_id is not None
    return render_patient(wr, session, patient_id, fix=fix, values=values, status=status)
