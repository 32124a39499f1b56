"""The pre-infusion check: run it, acknowledge warnings, override holds (prescribers)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from msinfuse.domain.provenance import DECISION_SUPPORT
from msinfuse.errors import InvalidInput
from msinfuse.http.deps import DB
from msinfuse.persistence.repositories import RecordId
from msinfuse.services import checks, plans, records
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
RUN = web("checks.run")
READ = web("patients.read")
ACK = web("checks.acknowledge")
OVERRIDE = web("checks.override")


def _dose(wr: WebRequest, session: Session, patient_id: int, dose_id: int | None) -> Any:
    if dose_id is None:
        return None, None
    dose, plan = plans.plan_for_dose(session, dose_id)
    if dose.patient_id != patient_id:
        raise InvalidInput("the planned dose belongs to another patient")
    return plans.get_plan(session, wr.ctx, plan.id), dose.id


def _check_form(
    wr: WebRequest,
    session: Session,
    patient_id: int,
    dose_id: int | None,
    values: dict[str, str],
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    patient = records.get_patient(session, wr.ctx, patient_id)
    plan, _ = _dose(wr, session, patient_id, dose_id)
    dose = next((d for d in plan["doses"] if d["id"] == dose_id), None) if plan else None
    if plan and not values.get("agent"):
        values = {**values, "agent": plan["agent"], "protocol": plan["protocol"]}
    agents = sorted(wr.ctx.kb.agents.values(), key=lambda a: a.name)
    return render(
        wr,
        "check_form.html",
        status=status,
        patient=patient,
        plan=plan,
        dose=dose,
        agents=agents,
        values=values,
        errors=errors,
        labels=labels_for(wr, [values.get("agent")], patient["profile"]),
        decision_support=DECISION_SUPPORT,
    )


@router.get("/patients/{patient_id}/check", response_class=HTMLResponse)
def check_page(
    patient_id: int,
    dose: RecordId | None = Query(default=None),
    appointment: RecordId | None = Query(default=None),
    wr: WebRequest = RUN,
    session: Session = DB,
) -> HTMLResponse:
    """The form that runs the pre-infusion check."""
    values = {"date": wr.ctx.today.isoformat(), "appointment": str(appointment or "")}
    return _check_form(wr, session, patient_id, dose, values)


@router.post("/patients/{patient_id}/check", response_class=HTMLResponse)
async def run_check(
    patient_id: int, request: Request, wr: WebRequest = RUN, session: Session = DB
) -> Response:
    """Run the check and store it as shown."""
    values = form_values(await request.form())
    dose_id = int(values["dose"]) if values.get("dose", "").isdigit() else None
    errors = FormErrors()
    try:
        on = date.fromisoformat(values.get("date", ""))
    except ValueError:
        errors.fields["date"] = "enter the date of the infusion (YYYY-MM-DD)"
    if not values.get("agent"):
        errors.fields["agent"] = "choose the agent"
    if errors:
        return _check_form(wr, session, patient_id, dose_id, values, errors, 400)
    stored, error = attempt(
        session,
        lambda: checks.run_check(
            session,
            wr.ctx,
            patient_id,
            values["agent"],
            on,
            values.get("protocol") or "standard",
            None,
            dose_id,
        ),
    )
    if error is not None or stored is None:
        assert error is not None
        return _check_form(
            wr, session, patient_id, dose_id, values, field_error(error, ("agent", "date")), 400
        )
    return redirect(f"/checks/{stored['id']}", "checked")


def _check_page(
    wr: WebRequest,
    session: Session,
    check_id: int,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    stored = checks.get_check(session, wr.ctx, check_id)
    patient = records.get_patient(session, wr.ctx, stored["patient_id"])
    return render(
        wr,
        "check.html",
        status=status,
        check=stored,
        patient=patient,
        errors=errors,
        values=values,
        labels=stored["label_revisions"],
        decision_support=DECISION_SUPPORT,
    )


@router.get("/checks/{check_id}", response_class=HTMLResponse)
def check_result(check_id: int, wr: WebRequest = READ, session: Session = DB) -> HTMLResponse:
    """A stored check: findings with reasons and sources, acknowledgements, overrides."""
    return _check_page(wr, session, check_id)


@router.post("/checks/{check_id}/acknowledge", response_class=HTMLResponse)
def acknowledge(
    check_id: int,
    rule: Annotated[str, Form(min_length=1, max_length=80)],
    wr: WebRequest = ACK,
    session: Session = DB,
) -> Response:
    """Acknowledge one warning."""
    _, error = attempt(session, lambda: checks.acknowledge(session, wr.ctx, check_id, rule))
    if error is not None:
        return _check_page(wr, session, check_id, FormErrors(form=str(error)), status=409)
    return redirect(f"/checks/{check_id}", "acknowledged")


@router.post("/checks/{check_id}/override", response_class=HTMLResponse)
def override(
    check_id: int,
    rule: Annotated[str, Form(min_length=1, max_length=80)],
    reason: Annotated[str, Form(max_length=2000)] = "",
    wr: WebRequest = OVERRIDE,
    session: Session = DB,
) -> Response:
    """Override one hold, with the reason (prescribers)."""
    _, error = attempt(session, lambda: checks.override(session, wr.ctx, check_id, rule, reason))
    if error is not None:
        errors = FormErrors({f"reason-{rule}": str(error)})
        return _check_page(wr, session, check_id, errors, {f"reason-{rule}": reason}, status=400)
    return redirect(f"/checks/{check_id}", "overridden")
