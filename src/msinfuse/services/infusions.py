"""Recording infusions: administrations with rate events, premedication, vital signs and
reactions.

A grade 3 or higher reaction to ocrelizumab removes the shorter protocol from the plan; a
grade 4 (or 5) reaction discontinues the agent: the plan stops and every later dose is held.
An infusion is started only after a cleared pre-infusion check, unless it is recorded as
historical (given before the patient came to this clinic).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from msinfuse.errors import Conflict, InvalidInput
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import (
    Administration,
    Appointment,
    CheckResult,
    Condition,
    InfusionReaction,
    Patient,
    PlannedDose,
    PremedicationGiven,
    RateEvent,
    TreatmentPlan,
    VitalSign,
)
from msinfuse.persistence.repositories import RecordId
from msinfuse.services import audit
from msinfuse.services.checks import stored_check_json
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.plans import sync_calendar
from msinfuse.services.projections import refresh_patient
from msinfuse.services.records import validate


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RateEventIn(_In):
    """A pump rate as given, at a minute of the infusion."""

    minute: float = Field(ge=0)
    rate_ml_h: float = Field(ge=0)
    kind: Literal["start", "change", "pause", "resume", "stop"] = "change"


class PremedicationIn(_In):
    """A premedication given."""

    drug: str = Field(min_length=1, max_length=120)
    dose: str | None = Field(default=None, max_length=60)
    route: str | None = Field(default=None, max_length=30)
    given_at: datetime | None = None


class VitalSignIn(_In):
    """A vital sign."""

    kind: Literal[
        "systolic", "diastolic", "heart_rate", "respiratory_rate", "temperature", "spo2", "weight"
    ]
    value: float
    unit: str = Field(min_length=1, max_length=20)
    taken_at: datetime


class ReactionIn(_In):
    """An infusion reaction (CTCAE v5 grade)."""

    onset_minute: float = Field(ge=0)
    grade: int = Field(ge=1, le=5)
    resume_minute: float | None = Field(default=None, ge=0)
    actions: str | None = None
    outcome: str | None = Field(default=None, max_length=60)


def rate_event_row(administration_id: int, e: RateEventIn) -> RateEvent:
    """The stored row of a pump rate given during an administration."""
    return RateEvent(
        administration_id=administration_id, minute=e.minute, rate_ml_per_h=e.rate_ml_h, kind=e.kind
    )


def premedication_row(
    administration_id: int, p: PremedicationIn, default_given_at: datetime | None = None
) -> PremedicationGiven:
    """The stored row of a premedication given (at ``default_given_at`` when it names no time)."""
    return PremedicationGiven(
        administration_id=administration_id,
        drug=p.drug,
        dose=p.dose,
        route=p.route,
        given_at=p.given_at or default_given_at,
    )


def vital_sign_row(administration_id: int, v: VitalSignIn) -> VitalSign:
    """The stored row of a vital sign taken during an administration."""
    return VitalSign(
        administration_id=administration_id,
        kind=v.kind,
        value=v.value,
        unit=v.unit,
        taken_at=v.taken_at,
    )


def reaction_row(administration_id: int, r: ReactionIn) -> InfusionReaction:
    """The stored row of an infusion reaction."""
    return InfusionReaction(
        administration_id=administration_id,
        onset_minute=r.onset_minute,
        grade=r.grade,
        resume_minute=r.resume_minute,
        actions=r.actions,
        outcome=r.outcome,
    )


class AdministrationCreate(_In):
    """An infusion given."""

    planned_dose_id: RecordId | None = None
    plan_id: RecordId | None = None
    check_id: RecordId | None = Field(default=None, description="The cleared pre-infusion check.")
    appointment_id: RecordId | None = None
    started_at: datetime
    ended_at: datetime | None = None
    observation_until: datetime | None = None
    protocol: Literal["standard", "shorter"] | None = None
    dose_mg: float | None = Field(default=None, gt=0)
    volume_ml: float | None = Field(default=None, gt=0)
    outcome: Literal["completed", "stopped", "discontinued"] = "completed"
    historical: bool = Field(
        default=False, description="Given elsewhere or before records began: no check needed."
    )
    rate_events: list[RateEventIn] = []
    premedications: list[PremedicationIn] = []
    vital_signs: list[VitalSignIn] = []
    reactions: list[ReactionIn] = []


def _cleared_check(
    session: Session, patient_id: int, agent: str, body: AdministrationCreate
) -> CheckResult:
    row: CheckResult | None
    if body.check_id is not None:
        row = repo.get_or_raise(session, CheckResult, body.check_id, "check")
    else:
        row = session.scalars(
            select(CheckResult)
            .where(
                CheckResult.patient_id == patient_id,
                CheckResult.agent == agent,
                CheckResult.check_date == body.started_at.date(),
            )
            .order_by(CheckResult.id.desc())
        ).first()
        if row is None:
            raise Conflict("run the pre-infusion check before starting the infusion")
    if (
        row.patient_id != patient_id
        or row.agent != agent
        or row.check_date != body.started_at.date()
    ):
        raise InvalidInput("the check is for another patient, agent or day")
    if not stored_check_json(session, row)["cleared"]:
        raise Conflict(
            "the pre-infusion check is not cleared: acknowledge its warnings and have a prescriber override its holds"
        )
    return row


def record_administration(
    session: Session,
    ctx: ServiceContext,
    patient_id: int,
    data: AdministrationCreate | dict[str, Any],
) -> dict[str, Any]:
    """Record an infusion, all or nothing, and keep the plan's calendar current."""
    require(ctx.actor, "administrations.write")
    body: AdministrationCreate = validate(AdministrationCreate, data)
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    dose: PlannedDose | None = None
    if body.planned_dose_id is not None:
        dose = repo.get_or_raise(session, PlannedDose, body.planned_dose_id, "planned dose")
        plan = repo.get_or_raise(session, TreatmentPlan, dose.plan_id, "plan")
    elif body.plan_id is not None:
        plan = repo.get_or_raise(session, TreatmentPlan, body.plan_id, "plan")
        dose = next(
            (
                d
                for d in repo.doses_of_plan(session, plan.id)
                if d.status not in ("given", "cancelled")
            ),
            None,
        )
    else:
        raise InvalidInput("name the planned dose (or the plan) the infusion belongs to")
    if plan.patient_id != patient.id:
        raise InvalidInput("the plan belongs to another patient")
    if plan.status != "active" and not body.historical:
        raise Conflict(f"the plan is {plan.status}; resume it before giving a dose")
    if dose is not None and dose.status in ("given", "cancelled"):
        raise Conflict(f"the planned dose is already {dose.status}")
    if body.ended_at is not None and body.ended_at < body.started_at:
        raise InvalidInput("the infusion cannot end before it starts")
    if body.started_at.date() > ctx.today:
        raise InvalidInput("an infusion cannot be recorded in the future")
    check_row = None if body.historical else _cleared_check(session, patient.id, plan.agent, body)
    grade = max((r.grade for r in body.reactions), default=0)
    row = Administration(
        patient_id=patient.id,
        plan_id=plan.id,
        planned_dose_id=dose.id if dose else None,
        appointment_id=body.appointment_id,
        agent=plan.agent,
        protocol=body.protocol or plan.protocol,
        dose_mg=body.dose_mg if body.dose_mg is not None else (dose.dose_mg if dose else None),
        volume_ml=body.volume_ml,
        given_on=body.started_at,
        started_at=body.started_at,
        ended_at=body.ended_at,
        observation_until=body.observation_until,
        max_reaction_grade=grade,
        outcome=body.outcome if grade < 4 else "discontinued",
        nurse_id=ctx.actor.user_id,
    )
    session.add(row)
    session.flush()
    session.add_all(rate_event_row(row.id, e) for e in body.rate_events)
    session.add_all(premedication_row(row.id, p) for p in body.premedications)
    session.add_all(vital_sign_row(row.id, v) for v in body.vital_signs)
    session.add_all(reaction_row(row.id, r) for r in body.reactions)
    if body.appointment_id is not None:
        appointment = repo.get_or_raise(session, Appointment, body.appointment_id, "appointment")
        if appointment.patient_id != patient.id:
            raise InvalidInput("the appointment belongs to another patient")
        appointment.status = "completed"
    consequences = apply_reaction_consequences(
        session, ctx, plan, patient.id, grade, body.started_at.date()
    )
    audit.record(session, ctx, "create", "Administration", row.id)
    refresh_patient(session, ctx.kb, patient, ctx.today)
    return {
        "id": row.id,
        "patient_id": patient.id,
        "plan_id": plan.id,
        "planned_dose_id": row.planned_dose_id,
        "agent": row.agent,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "max_reaction_grade": grade,
        "outcome": row.outcome,
        "check_id": check_row.id if check_row else None,
        "consequences": consequences,
    }


def apply_reaction_consequences(
    session: Session,
    ctx: ServiceContext,
    plan: TreatmentPlan,
    patient_id: int,
    grade: int,
    day: date,
) -> list[str]:
    """What a reaction of ``grade`` changes in the plan, applied; returns what changed.

    Grade 3 or higher withdraws the shorter protocol; grade 4 or 5 discontinues the agent
    (the plan stops, every later dose is held, the reaction is recorded as a condition).
    The calendar is re-synchronised in between, as the doses given may have changed.
    """
    consequences = []
    if grade >= 3 and plan.protocol == "shorter":
        plan.protocol = "standard"
        consequences.append(f"grade {grade} reaction: the shorter protocol is no longer offered")
    session.flush()
    sync_calendar(session, ctx, plan)
    if grade >= 4:
        plan.status = "stopped"
        plan.stopped_on = day
        plan.stop_reason = f"discontinued after a grade {grade} infusion reaction"
        for later in repo.doses_of_plan(session, plan.id):
            if later.status not in ("given", "cancelled"):
                later.status = "held"
                later.reason = plan.stop_reason
        session.add(
            Condition(
                patient_id=patient_id, condition=f"life_threatening_irr:{plan.agent}", onset=day
            )
        )
        consequences.append(f"{plan.agent} discontinued: every later dose is held")
    return consequences


def get_administration(
    session: Session, ctx: ServiceContext, administration_id: int
) -> dict[str, Any]:
    """An administration with its rate events, premedication, vital signs and reactions."""
    require(ctx.actor, "patients.read")
    row = repo.get_or_raise(session, Administration, administration_id, "administration")
    details = repo.administration_details(session, row.id)
    audit.record(session, ctx, "read", "Administration", row.id)
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "plan_id": row.plan_id,
        "planned_dose_id": row.planned_dose_id,
        "agent": row.agent,
        "protocol": row.protocol,
        "dose_mg": row.dose_mg,
        "volume_ml": row.volume_ml,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "observation_until": row.observation_until.isoformat() if row.observation_until else None,
        "max_reaction_grade": row.max_reaction_grade,
        "outcome": row.outcome,
        "rate_events": [
            {"minute": e.minute, "rate_ml_h": e.rate_ml_per_h, "kind": e.kind}
            for e in details["rate_events"]
        ],
        "premedications": [
            {
                "drug": p.drug,
                "dose": p.dose,
                "route": p.route,
                "given_at": p.given_at.isoformat() if p.given_at else None,
            }
            for p in details["premedications"]
        ],
        "vital_signs": [
            {"kind": v.kind, "value": v.value, "unit": v.unit, "taken_at": v.taken_at.isoformat()}
            for v in details["vital_signs"]
        ],
        "reactions": [
            {
                "onset_minute": r.onset_minute,
                "grade": r.grade,
                "resume_minute": r.resume_minute,
                "actions": r.actions,
                "outcome": r.outcome,
            }
            for r in details["reactions"]
        ],
    }
