"""Chair appointments: book, move, cancel. A chair never holds two overlapping active
appointments; the database enforces it, also under concurrent booking."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from msinfuse.domain.rates import RatePlan, RateRequest, plan_infusion
from msinfuse.errors import Conflict, InvalidInput
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import (
    Appointment,
    Chair,
    Patient,
    PlannedDose,
    Site,
    TreatmentPlan,
)
from msinfuse.persistence.repositories import RecordId
from msinfuse.services import audit
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.state import build_patient_state
from msinfuse.services.validation import validate


class AppointmentCreate(BaseModel):
    """A chair booking."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    patient_id: RecordId
    chair_id: RecordId
    starts_at: datetime
    ends_at: datetime | None = Field(
        default=None, description="Default: the dose's chair time from its rate plan."
    )
    planned_dose_id: RecordId | None = None
    notes: str | None = Field(default=None, max_length=500)


def appointment_json(session: Session, row: Appointment) -> dict[str, Any]:
    """An appointment as JSON."""
    chair = session.get(Chair, row.chair_id)
    site = session.get(Site, row.site_id)
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "planned_dose_id": row.planned_dose_id,
        "site": site.code if site else None,
        "chair_id": row.chair_id,
        "chair": chair.name if chair else None,
        "starts_at": row.starts_at.isoformat(timespec="minutes"),
        "ends_at": row.ends_at.isoformat(timespec="minutes"),
        "status": row.status,
        "notes": row.notes,
    }


def chair_minutes_for_dose(session: Session, ctx: ServiceContext, dose: PlannedDose) -> float:
    """Chair time of a planned dose from the patient's own rate plan and reaction history."""
    return rate_plan_for_dose(session, ctx, dose).chair_minutes


def rate_plan_for_dose(session: Session, ctx: ServiceContext, dose: PlannedDose) -> RatePlan:
    """The rate plan of a planned dose, from the patient's own plan and reaction history."""
    plan = repo.get_or_raise(session, TreatmentPlan, dose.plan_id, "plan")
    patient = repo.get_or_raise(session, Patient, dose.patient_id, "patient")
    state = build_patient_state(session, ctx.kb, patient)
    grades = tuple(a.reaction_grade for a in state.administrations_of(plan.agent))
    return plan_infusion(
        ctx.kb,
        RateRequest(
            plan.agent,
            dose.number,
            plan.profile,  # type: ignore[arg-type]
            protocol=plan.protocol,
            regimen=plan.regimen,
            dose_mg=dose.dose_mg,
            prior_reaction_grades=grades,
        ),
    )


def _flush_or_conflict(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if "chair_overlap" in str(exc.orig):
            raise Conflict("the chair is already booked for part of that time") from None
        raise


def book(
    session: Session, ctx: ServiceContext, data: AppointmentCreate | dict[str, Any]
) -> dict[str, Any]:
    """Book a chair for a patient (and a planned dose)."""
    require(ctx.actor, "appointments.write")
    body: AppointmentCreate = validate(AppointmentCreate, data)
    patient = repo.get_or_raise(session, Patient, body.patient_id, "patient")
    chair = repo.get_or_raise(session, Chair, body.chair_id, "chair")
    if not chair.active:
        raise Conflict("the chair is out of service")
    dose = None
    if body.planned_dose_id is not None:
        dose = repo.get_or_raise(session, PlannedDose, body.planned_dose_id, "planned dose")
        if dose.patient_id != patient.id:
            raise InvalidInput("the planned dose belongs to another patient")
        if dose.status not in ("planned", "held", "missed"):
            raise Conflict(f"the dose is {dose.status} and cannot be booked")
        if repo.active_appointment_for_dose(session, dose.id) is not None:
            raise Conflict("the dose already has an appointment")
    ends_at = body.ends_at
    if ends_at is None:
        if dose is None:
            raise InvalidInput("give ends_at, or a planned dose to take the chair time from")
        ends_at = body.starts_at + timedelta(
            minutes=round(chair_minutes_for_dose(session, ctx, dose))
        )
    if ends_at <= body.starts_at:
        raise InvalidInput("an appointment must end after it starts")
    if repo.overlapping_appointment(session, chair.id, body.starts_at, ends_at) is not None:
        raise Conflict("the chair is already booked for part of that time")
    row = Appointment(
        patient_id=patient.id,
        planned_dose_id=dose.id if dose else None,
        site_id=chair.site_id,
        chair_id=chair.id,
        starts_at=body.starts_at,
        ends_at=ends_at,
        status="booked",
        notes=body.notes,
    )
    session.add(row)
    _flush_or_conflict(session)
    if dose is not None:
        dose.status = "scheduled"
    audit.record(session, ctx, "create", "Appointment", row.id)
    return appointment_json(session, row)


def move(
    session: Session,
    ctx: ServiceContext,
    appointment_id: int,
    starts_at: datetime | None = None,
    chair_id: int | None = None,
) -> dict[str, Any]:
    """Move an appointment in time and/or to another chair, keeping its length."""
    require(ctx.actor, "appointments.write")
    row = repo.get_or_raise(session, Appointment, appointment_id, "appointment")
    if row.status != "booked":
        raise Conflict(f"only a booked appointment can be moved (this one is {row.status})")
    length = row.ends_at - row.starts_at
    new_start = starts_at or row.starts_at
    new_chair = (
        repo.get_or_raise(session, Chair, chair_id, "chair")
        if chair_id is not None
        else session.get(Chair, row.chair_id)
    )
    assert new_chair is not None
    if (
        repo.overlapping_appointment(
            session, new_chair.id, new_start, new_start + length, exclude_id=row.id
        )
        is not None
    ):
        raise Conflict("the chair is already booked for part of that time")
    row.starts_at, row.ends_at = new_start, new_start + length
    row.chair_id, row.site_id = new_chair.id, new_chair.site_id
    _flush_or_conflict(session)
    audit.record(session, ctx, "move", "Appointment", row.id)
    return appointment_json(session, row)


def cancel(
    session: Session, ctx: ServiceContext, appointment_id: int, reason: str
) -> dict[str, Any]:
    """Cancel an appointment; its dose goes back to the doses without an appointment."""
    require(ctx.actor, "appointments.write")
    row = repo.get_or_raise(session, Appointment, appointment_id, "appointment")
    if row.status not in ("booked", "arrived"):
        raise Conflict(f"a {row.status} appointment cannot be cancelled")
    if not reason or not reason.strip():
        raise InvalidInput("cancelling an appointment needs a reason")
    row.status = "cancelled"
    row.notes = (row.notes + "\n" if row.notes else "") + f"cancelled: {reason.strip()}"
    if row.planned_dose_id is not None:
        dose = session.get(PlannedDose, row.planned_dose_id)
        if dose is not None and dose.status == "scheduled":
            dose.status = "planned"
    session.flush()
    audit.record(session, ctx, "cancel", "Appointment", row.id)
    return appointment_json(session, row)


def list_day(
    session: Session, ctx: ServiceContext, day: datetime, site: str | None = None, days: int = 1
) -> list[dict[str, Any]]:
    """Active appointments of ``days`` days from ``day`` (at a site)."""
    require(ctx.actor, "appointments.read")
    if not 1 <= days <= 31:
        raise InvalidInput("days must be between 1 and 31")
    site_id = None
    if site is not None:
        found = repo.find_site(session, site)
        if found is None:
            raise InvalidInput(f"unknown site {site!r}")
        site_id = found.id
    start = datetime.combine(day.date(), datetime.min.time())
    rows = repo.appointments_between(session, start, start + timedelta(days=days), site_id)
    audit.record(session, ctx, "search", "Appointment", None)
    return [appointment_json(session, r) for r in rows]
