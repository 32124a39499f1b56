"""An infusion visit in progress, documented as it happens (the web UI's infusion page).

:func:`start_visit` records the administration when the pump starts (after a cleared
pre-infusion check, as :func:`msinfuse.services.infusions.record_administration` requires)
with outcome ``in_progress``; rate changes, premedication, vital signs and reactions are added
one at a time; :func:`complete_visit` sets the end, the observation period and the outcome.
A started dose counts as given from the moment it starts, so the dose calendar re-plans at
once. A reaction re-plans the rest of the bag at once (the rate engine's rules), and its
consequences for the plan (shorter protocol withdrawn, agent discontinued) apply at once.

Times are the clinic's wall-clock times (naive datetimes, like appointments).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from msinfuse.domain.rates import RateRequest, plan_infusion, replan_after_reaction
from msinfuse.errors import Conflict, InvalidInput
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import (
    Administration,
    Appointment,
    InfusionReaction,
    Patient,
    PlannedDose,
    RateEvent,
    TreatmentPlan,
)
from msinfuse.services import audit
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.engines import rate_plan_json
from msinfuse.services.infusions import (
    AdministrationCreate,
    PremedicationIn,
    RateEventIn,
    ReactionIn,
    VitalSignIn,
    apply_reaction_consequences,
    get_administration,
    premedication_row,
    rate_event_row,
    reaction_row,
    record_administration,
    vital_sign_row,
)
from msinfuse.services.projections import refresh_patient
from msinfuse.services.records import validate

IN_PROGRESS = "in_progress"
VisitPhase = Literal["infusing", "observation", "done", "stopped"]
_Body = TypeVar("_Body", bound=BaseModel)


def wall_clock(ctx: ServiceContext) -> datetime:
    """The clinic's wall-clock time (naive, like stored appointment times)."""
    now = ctx.now
    return now.astimezone().replace(tzinfo=None) if now.tzinfo is not None else now


def _open(session: Session, administration_id: int) -> Administration:
    row = repo.get_or_raise(session, Administration, administration_id, "administration")
    if row.outcome != IN_PROGRESS:
        raise Conflict(f"the infusion is already {row.outcome}; it cannot be changed")
    return row


def start_visit(
    session: Session,
    ctx: ServiceContext,
    planned_dose_id: int,
    started_at: datetime | None = None,
    appointment_id: int | None = None,
    protocol: Literal["standard", "shorter"] | None = None,
    volume_ml: float | None = None,
) -> dict[str, Any]:
    """Start the infusion of a planned dose: the administration is recorded (in progress)
    with the pump's first rate; the appointment (the one named, else the dose's own booking)
    is marked in the chair."""
    require(ctx.actor, "administrations.write")
    dose = repo.get_or_raise(session, PlannedDose, planned_dose_id, "planned dose")
    start = started_at or wall_clock(ctx)
    appointment = None
    if appointment_id is not None:
        appointment = repo.get_or_raise(session, Appointment, appointment_id, "appointment")
        if appointment.patient_id != dose.patient_id:
            raise InvalidInput("the appointment belongs to another patient")
    else:  # the dose's own booking, when it has one
        appointment = repo.active_appointment_for_dose(session, dose.id)
    created = record_administration(
        session,
        ctx,
        dose.patient_id,
        AdministrationCreate(
            planned_dose_id=dose.id,
            started_at=start,
            protocol=protocol,
            volume_ml=volume_ml,
        ),
    )
    row = repo.get_or_raise(session, Administration, created["id"], "administration")
    row.outcome = IN_PROGRESS
    if appointment is not None:
        row.appointment_id = appointment.id
        appointment.status = "in_chair"
    plan = _visit_plan(session, ctx, row)
    if plan.steps:
        session.add(
            RateEvent(
                administration_id=row.id,
                minute=0.0,
                rate_ml_per_h=plan.steps[0].rate_ml_per_h,
                kind="start",
            )
        )
    session.flush()
    audit.record(session, ctx, "start", "Administration", row.id)
    return visit(session, ctx, row.id)


def _prior_grades(session: Session, row: Administration) -> tuple[int, ...]:
    earlier = [
        a
        for a in repo.patient_record(session, row.patient_id)["administrations"]
        if a.agent == row.agent and a.id != row.id and a.outcome != "not_started"
        if a.given_on <= row.given_on
    ]
    return tuple(a.max_reaction_grade for a in earlier)


def _visit_plan(
    session: Session,
    ctx: ServiceContext,
    row: Administration,
    reactions: Sequence[InfusionReaction] = (),
) -> Any:
    """The rate plan of the visit from its start time, re-planned after each reaction."""
    if row.plan_id is None or row.planned_dose_id is None or row.started_at is None:
        raise InvalidInput("the infusion is not linked to a planned dose")
    plan = repo.get_or_raise(session, TreatmentPlan, row.plan_id, "plan")
    dose = repo.get_or_raise(session, PlannedDose, row.planned_dose_id, "planned dose")
    patient = repo.get_or_raise(session, Patient, row.patient_id, "patient")
    start = row.started_at.time().replace(second=0, microsecond=0)
    rates = plan_infusion(
        ctx.kb,
        RateRequest(
            plan.agent,
            dose.number,
            plan.profile,  # type: ignore[arg-type]
            protocol=row.protocol,
            regimen=plan.regimen,
            dose_mg=row.dose_mg,
            volume_ml=row.volume_ml,
            prior_reaction_grades=_prior_grades(session, row),
            start=start,
            height_cm=patient.height_cm,
            weight_kg=patient.weight_kg,
        ),
    )
    for reaction in sorted(reactions, key=lambda r: r.onset_minute):
        rates = replan_after_reaction(
            ctx.kb, rates, reaction.onset_minute, reaction.grade, reaction.resume_minute, start
        )
    return rates


def _timeline(
    row: Administration, rates: Any, now: datetime
) -> tuple[datetime, datetime, VisitPhase]:
    """When the infusion ends and the observation ends (stored, else from the rate plan),
    and the visit's phase at ``now``."""
    assert row.started_at is not None
    infusion_end = row.started_at + timedelta(minutes=rates.infusion_minutes)
    observation_end = row.observation_until or (
        (row.ended_at or infusion_end) + timedelta(minutes=rates.observation_minutes)
    )
    return infusion_end, observation_end, _phase(row, now, infusion_end)


def _phase(row: Administration, now: datetime, infusion_end: datetime) -> VisitPhase:
    if row.outcome in ("stopped", "discontinued"):
        return "stopped"
    if row.outcome == IN_PROGRESS:
        return "infusing" if now < infusion_end else "observation"
    if row.observation_until is not None and now < row.observation_until:
        return "observation"
    return "done"


def visit(session: Session, ctx: ServiceContext, administration_id: int) -> dict[str, Any]:
    """A visit: what was documented, the (re-planned) pump program with clock times, the
    running step, and the observation countdown at the wall-clock time."""
    out = get_administration(session, ctx, administration_id)
    row = repo.get_or_raise(session, Administration, administration_id, "administration")
    details = repo.administration_details(session, row.id)
    rates = _visit_plan(session, ctx, row, details["reactions"])
    plan = rate_plan_json(rates)
    dose = session.get(PlannedDose, row.planned_dose_id) if row.planned_dose_id else None
    assert row.started_at is not None
    now = wall_clock(ctx)
    elapsed = max((now - row.started_at).total_seconds() / 60.0, 0.0)
    infusion_end, observation_end, phase = _timeline(row, rates, now)
    current = None
    if phase == "infusing":
        current = next(
            (
                i
                for i, s in enumerate(rates.steps)
                if s.start_min <= elapsed < s.end_min or i == len(rates.steps) - 1
            ),
            None,
        )
    remaining = (observation_end - now).total_seconds() if phase == "observation" else None
    out.update(
        {
            "infusion_number": dose.number if dose else None,
            "phase": phase,
            "in_progress": row.outcome == IN_PROGRESS,
            "now": now.isoformat(timespec="seconds"),
            "elapsed_min": round(elapsed, 1),
            "current_step": current,
            "current_rate_ml_h": round(rates.steps[current].rate_ml_per_h, 2)
            if current is not None
            else None,
            "infusion_end": infusion_end.isoformat(timespec="minutes"),
            "observation_end": observation_end.isoformat(timespec="minutes"),
            "observation_remaining_s": max(int(remaining), 0) if remaining is not None else None,
            "rate_plan": plan,
            "label_revisions": plan["label_revisions"],
            "decision_support": plan["decision_support"],
        }
    )
    return out


def _added(session: Session, ctx: ServiceContext, row: Administration, what: str) -> None:
    session.flush()
    audit.record(session, ctx, what, "Administration", row.id)


def _record_detail(
    session: Session,
    ctx: ServiceContext,
    administration_id: int,
    schema: type[_Body],
    data: _Body | dict[str, Any],
    what: str,
    build: Callable[[Administration, _Body], object],
) -> dict[str, Any]:
    """Add one documented detail (built from the validated ``data``) to an infusion in
    progress, audit it as ``what`` and return the visit."""
    require(ctx.actor, "administrations.write")
    row = _open(session, administration_id)
    body: _Body = validate(schema, data)
    session.add(build(row, body))
    _added(session, ctx, row, what)
    return visit(session, ctx, row.id)


def record_rate(
    session: Session,
    ctx: ServiceContext,
    administration_id: int,
    data: RateEventIn | dict[str, Any],
) -> dict[str, Any]:
    """Record a pump rate change (or pause, resume, stop) at a minute of the infusion."""
    return _record_detail(
        session,
        ctx,
        administration_id,
        RateEventIn,
        data,
        "rate",
        lambda row, body: rate_event_row(row.id, body),
    )


def record_premedication(
    session: Session,
    ctx: ServiceContext,
    administration_id: int,
    data: PremedicationIn | dict[str, Any],
) -> dict[str, Any]:
    """Record a premedication given."""
    return _record_detail(
        session,
        ctx,
        administration_id,
        PremedicationIn,
        data,
        "premedication",
        lambda row, body: premedication_row(row.id, body, wall_clock(ctx)),
    )


def record_vital(
    session: Session,
    ctx: ServiceContext,
    administration_id: int,
    data: VitalSignIn | dict[str, Any],
) -> dict[str, Any]:
    """Record a vital sign."""
    return _record_detail(
        session,
        ctx,
        administration_id,
        VitalSignIn,
        data,
        "vital-sign",
        lambda row, body: vital_sign_row(row.id, body),
    )


def record_reaction(
    session: Session,
    ctx: ServiceContext,
    administration_id: int,
    data: ReactionIn | dict[str, Any],
) -> dict[str, Any]:
    """Record an infusion reaction (CTCAE grade): the rest of the bag is re-planned at once
    and the consequences for the plan apply at once (a grade 4 or 5 reaction ends the
    infusion and discontinues the agent)."""
    require(ctx.actor, "administrations.write")
    row = _open(session, administration_id)
    body: ReactionIn = validate(ReactionIn, data)
    if body.grade == 3 and body.resume_minute is None:
        raise InvalidInput("a grade 3 reaction needs the minute the infusion restarts")
    if body.resume_minute is not None and body.resume_minute < body.onset_minute:
        raise InvalidInput("the infusion cannot restart before the reaction began")
    reaction = reaction_row(row.id, body)
    existing = list(repo.administration_details(session, row.id)["reactions"])
    _visit_plan(session, ctx, row, [*existing, reaction])  # refuses a reaction it cannot re-plan
    session.add(reaction)
    row.max_reaction_grade = max(row.max_reaction_grade, body.grade)
    plan = repo.get_or_raise(session, TreatmentPlan, row.plan_id or 0, "plan")
    consequences = apply_reaction_consequences(
        session, ctx, plan, row.patient_id, body.grade, row.given_on.date()
    )
    if body.grade >= 4:
        assert row.started_at is not None
        row.outcome = "discontinued"
        row.ended_at = row.started_at + timedelta(minutes=body.onset_minute)
        _finish_appointment(session, row)
    _added(session, ctx, row, "reaction")
    refresh_patient(
        session, ctx.kb, repo.get_or_raise(session, Patient, row.patient_id, "patient"), ctx.today
    )
    out = visit(session, ctx, row.id)
    out["consequences"] = consequences
    return out


def _finish_appointment(session: Session, row: Administration) -> None:
    if row.appointment_id is not None:
        appointment = session.get(Appointment, row.appointment_id)
        if appointment is not None and appointment.status in ("booked", "arrived", "in_chair"):
            appointment.status = "completed"


def complete_visit(
    session: Session,
    ctx: ServiceContext,
    administration_id: int,
    ended_at: datetime | None = None,
    outcome: Literal["completed", "stopped"] = "completed",
) -> dict[str, Any]:
    """End the infusion: the end time, the observation period it needs (from the rate plan,
    longer after a reaction) and the outcome are stored; the appointment is completed."""
    require(ctx.actor, "administrations.write")
    row = _open(session, administration_id)
    assert row.started_at is not None
    end = ended_at or wall_clock(ctx)
    if end < row.started_at:
        raise InvalidInput("the infusion cannot end before it starts")
    reactions = repo.administration_details(session, row.id)["reactions"]
    rates = _visit_plan(session, ctx, row, reactions)
    row.ended_at = end
    row.observation_until = end + timedelta(minutes=rates.observation_minutes)
    row.outcome = outcome
    _finish_appointment(session, row)
    _added(session, ctx, row, "complete")
    return visit(session, ctx, row.id)


def dose_visit_context(
    session: Session, ctx: ServiceContext, dose_id: int, start: datetime | None = None
) -> dict[str, Any]:
    """What the infusion page needs before the pump starts: the dose and its plan, the
    rate plan with clock times from ``start`` (default now), the day's latest stored check,
    and the visit already started for the dose (if any)."""
    from msinfuse.services.checks import stored_check_json
    from msinfuse.services.plans import dose_rate_plan, get_plan

    require(ctx.actor, "patients.read")
    dose = repo.get_or_raise(session, PlannedDose, dose_id, "planned dose")
    plan = get_plan(session, ctx, dose.plan_id)
    begin = start or wall_clock(ctx)
    started = repo.administration_for_dose(session, dose.id)
    check = repo.latest_check_on(session, dose.patient_id, dose.agent, begin.date())
    return {
        "dose": next(d for d in plan["doses"] if d["id"] == dose.id),
        "plan": plan,
        "patient_id": dose.patient_id,
        "start": begin.isoformat(timespec="minutes"),
        "rate_plan": dose_rate_plan(
            session, ctx, dose.id, begin.time().replace(second=0, microsecond=0)
        ),
        "check": stored_check_json(session, check) if check is not None else None,
        "administration_id": started.id if started is not None else None,
    }


def visits_of_appointments(
    session: Session, ctx: ServiceContext, appointment_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """The visit of each appointment that has one (for the day board): phase, running step,
    its rate, and the observation countdown."""
    require(ctx.actor, "appointments.read")
    found: dict[int, dict[str, Any]] = {}
    now = wall_clock(ctx)
    for row in repo.administrations_for_appointments(session, appointment_ids):
        if row.appointment_id is None or row.started_at is None or row.planned_dose_id is None:
            continue
        reactions = repo.administration_details(session, row.id)["reactions"]
        rates = _visit_plan(session, ctx, row, reactions)
        elapsed = (now - row.started_at).total_seconds() / 60.0
        _, observation_end, phase = _timeline(row, rates, now)
        step = None
        if phase == "infusing":
            step = next(
                (i for i, s in enumerate(rates.steps) if s.start_min <= elapsed < s.end_min),
                len(rates.steps) - 1,
            )
        found[row.appointment_id] = {
            "administration_id": row.id,
            "phase": phase,
            "step": step + 1 if step is not None else None,
            "steps": len(rates.steps),
            "rate_ml_h": round(rates.steps[step].rate_ml_per_h, 1) if step is not None else None,
            "observation_end": observation_end.strftime("%H:%M"),
            "observation_remaining_min": max(int((observation_end - now).total_seconds() // 60), 0)
            if phase == "observation"
            else None,
            "max_reaction_grade": row.max_reaction_grade,
        }
    return found


__all__ = [
    "IN_PROGRESS",
    "complete_visit",
    "dose_visit_context",
    "record_premedication",
    "record_rate",
    "record_reaction",
    "record_vital",
    "start_visit",
    "visit",
    "visits_of_appointments",
    "wall_clock",
]
