"""An infusion visit in progress, documented as it happens (the web UI's infusion page and
the API's infusion routes call the same functions).

:func:`start_visit` records the administration when the pump starts (after a cleared
pre-infusion check, as :func:`msinfuse.services.infusions.record_administration` requires)
with outcome ``in_progress``; rate changes, premedication, vital signs and reactions are added
one at a time; :func:`complete_visit` records the end, the volume infused (a partial dose
when volume was left) and the observation period. Every entry passes the limits of
:mod:`msinfuse.domain.rates.limits`: a refused entry raises :class:`InvalidInput` naming the
field, in plain words.

A started dose counts as given from the moment it starts, so the dose calendar re-plans at
once. A reaction re-plans the rest of the bag at once (the rate engine's rules); a grade 3
reaction withdraws the shorter protocol, a grade 4 or 5 reaction stops the infusion and
holds the plan pending a prescriber's review.

Times are the clinic's wall-clock times (naive datetimes, like appointments).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from msinfuse.domain.findings import Finding
from msinfuse.domain.rates import RatePlan, replan_after_reaction
from msinfuse.domain.rates.limits import (
    CLOCK_SLACK,
    VisitWindow,
    check_completion,
    check_premedication,
    check_rate,
    check_reaction_minutes,
    check_time,
    protocol_maximum_ml_per_h,
    rate_limits,
    visit_window,
)
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
    administration_json,
    apply_reaction_consequences,
    infusion_rate_plan,
    premedication_row,
    rate_event_row,
    reaction_row,
    record_administration,
    to_wall_clock,
    vital_sign_row,
    wall_clock,
)
from msinfuse.services.limits import entry_limits
from msinfuse.services.projections import refresh_patient
from msinfuse.services.validation import validate

IN_PROGRESS = "in_progress"
VisitPhase = Literal["infusing", "observation", "done", "stopped"]
Outcome = Literal["completed", "stopped"]


def _finding_json(f: Finding) -> dict[str, str]:
    return {"severity": f.severity, "rule": f.rule, "message": f.message, "source": f.source}


def _row(session: Session, administration_id: int) -> Administration:
    row = repo.get_or_raise(session, Administration, administration_id, "administration")
    if row.record_status == "entered_in_error":
        raise Conflict("this infusion was marked entered in error; nothing more is added to it")
    return row


def _open(session: Session, administration_id: int) -> Administration:
    row = _row(session, administration_id)
    if row.outcome != IN_PROGRESS:
        raise Conflict(f"the infusion is already {row.outcome}; it cannot be changed")
    return row


def _live(rows: Sequence[Any]) -> list[Any]:
    return [r for r in rows if r.record_status != "entered_in_error"]


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
    is marked in the chair. A bag the protocol's rates are not valid for is refused."""
    require(ctx.actor, "administrations.write")
    dose = repo.get_or_raise(session, PlannedDose, planned_dose_id, "planned dose")
    now = wall_clock(ctx)
    start = to_wall_clock(ctx, started_at) if started_at is not None else now
    if start > now + CLOCK_SLACK:
        raise InvalidInput(
            f"the pump start cannot be in the future (now {now:%H:%M})", field="start"
        )
    appointment = None
    if appointment_id is not None:
        appointment = repo.get_or_raise(session, Appointment, appointment_id, "appointment")
        if appointment.patient_id != dose.patient_id:
            raise InvalidInput("the appointment belongs to another patient")
    else:  # the dose's own booking, when it has one
        appointment = repo.active_appointment_for_dose(session, dose.id)
    plan = repo.get_or_raise(session, TreatmentPlan, dose.plan_id, "plan")
    patient = repo.get_or_raise(session, Patient, dose.patient_id, "patient")
    # The bag is checked before anything is written.
    infusion_rate_plan(session, ctx, plan, dose, patient, protocol, volume_ml, None, start)
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
    rates = visit_rate_plan(session, ctx, row)
    if rates.steps:
        session.add(
            RateEvent(
                administration_id=row.id,
                minute=0.0,
                rate_ml_per_h=rates.steps[0].rate_ml_per_h,
                kind="start",
            )
        )
    session.flush()
    audit.record(session, ctx, "start", "Administration", row.id)
    return visit(session, ctx, row.id)


def visit_rate_plan(
    session: Session,
    ctx: ServiceContext,
    row: Administration,
    reactions: Sequence[InfusionReaction] | None = None,
) -> RatePlan:
    """The rate plan of the visit from its start time, re-planned after each reaction (the
    reactions on record that were not entered in error, unless ``reactions`` are given)."""
    if row.plan_id is None or row.planned_dose_id is None or row.started_at is None:
        raise InvalidInput("the infusion is not linked to a planned dose")
    plan = repo.get_or_raise(session, TreatmentPlan, row.plan_id, "plan")
    dose = repo.get_or_raise(session, PlannedDose, row.planned_dose_id, "planned dose")
    patient = repo.get_or_raise(session, Patient, row.patient_id, "patient")
    rates = infusion_rate_plan(
        session,
        ctx,
        plan,
        dose,
        patient,
        row.protocol,
        row.volume_ml,
        row.dose_mg,
        row.started_at,
        own_id=row.id,
    )
    if reactions is None:
        reactions = repo.administration_details(session, row.id, live_only=True)["reactions"]
    start = row.started_at.time().replace(second=0, microsecond=0)
    for reaction in sorted(reactions, key=lambda r: r.onset_minute):
        rates = replan_after_reaction(
            ctx.kb, rates, reaction.onset_minute, reaction.grade, reaction.resume_minute, start
        )
    return rates


def _timeline(
    row: Administration, rates: RatePlan, now: datetime
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
    if row.outcome in ("stopped", "discontinued") and row.volume_infused_ml is None:
        return "stopped"
    if row.outcome == IN_PROGRESS:
        return "infusing" if now < infusion_end else "observation"
    if row.observation_until is not None and now < row.observation_until:
        return "observation"
    return "done"


def documentation_window(session: Session, row: Administration, rates: RatePlan) -> VisitWindow:
    assert row.started_at is not None
    booked = session.get(Appointment, row.appointment_id) if row.appointment_id else None
    return visit_window(
        rates,
        row.started_at,
        booked.starts_at if booked is not None else None,
        row.observation_until if row.outcome != IN_PROGRESS else None,
    )


def _elapsed(row: Administration, now: datetime) -> float:
    assert row.started_at is not None
    return (now - row.started_at).total_seconds() / 60.0


def visit(session: Session, ctx: ServiceContext, administration_id: int) -> dict[str, Any]:
    """A visit: what was documented (with corrections), the (re-planned) pump program with
    clock times, the running step, the limits in force, and the observation countdown at
    the wall-clock time."""
    require(ctx.actor, "patients.read")
    row = repo.get_or_raise(session, Administration, administration_id, "administration")
    audit.record(session, ctx, "read", "Administration", row.id)
    out = administration_json(session, ctx, row)
    rates = visit_rate_plan(session, ctx, row)
    plan = rate_plan_json(rates)
    dose = session.get(PlannedDose, row.planned_dose_id) if row.planned_dose_id else None
    assert row.started_at is not None
    now = wall_clock(ctx)
    elapsed = max(_elapsed(row, now), 0.0)
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
    limits = rate_limits(rates, elapsed)
    remaining = (observation_end - now).total_seconds() if phase == "observation" else None
    window = documentation_window(session, row, rates)
    out.update(
        {
            "infusion_number": dose.number if dose else None,
            "phase": phase,
            "in_progress": row.outcome == IN_PROGRESS and row.record_status != "entered_in_error",
            "needs_volume": _stopped_by_reaction(row) and row.record_status != "entered_in_error",
            "now": now.isoformat(timespec="seconds"),
            "elapsed_min": round(elapsed, 1),
            "current_step": current,
            "current_rate_ml_h": round(rates.steps[current].rate_ml_per_h, 2)
            if current is not None
            else None,
            "limits": {
                "step_ml_h": round(limits.step_ml_per_h, 2),
                "maximum_ml_h": round(protocol_maximum_ml_per_h(rates), 2),
                "bag_ml": rates.volume_ml,
                "planned_infusion_min": round(rates.infusion_minutes, 1),
                "visit_opens": window.opens.isoformat(timespec="minutes"),
            },
            "infusion_end": infusion_end.isoformat(timespec="minutes"),
            "observation_end": observation_end.isoformat(timespec="minutes"),
            "observation_remaining_s": max(int(remaining), 0) if remaining is not None else None,
            "rate_plan": plan,
            "label_revisions": plan["label_revisions"],
            "decision_support": plan["decision_support"],
        }
    )
    return out


def _added(
    session: Session,
    ctx: ServiceContext,
    row: Administration,
    what: str,
    findings: Sequence[Finding] = (),
) -> dict[str, Any]:
    session.flush()
    audit.record(session, ctx, what, "Administration", row.id)
    out = visit(session, ctx, row.id)
    out["findings"] = [_finding_json(f) for f in findings]
    return out


def record_rate(
    session: Session,
    ctx: ServiceContext,
    administration_id: int,
    data: RateEventIn | dict[str, Any],
) -> dict[str, Any]:
    """Record a pump rate change (or pause, resume, stop) at a minute of the infusion: never
    above the protocol maximum; faster than the step in force only with a reason."""
    require(ctx.actor, "administrations.write")
    row = _open(session, administration_id)
    body: RateEventIn = validate(RateEventIn, data)
    rates = visit_rate_plan(session, ctx, row)
    entry = check_rate(
        ctx.kb,
        rates,
        body.minute,
        body.rate_ml_h,
        body.kind,
        _elapsed(row, wall_clock(ctx)),
        body.reason,
    )
    session.add(rate_event_row(row.id, body, body.reason if entry.above_step else None))
    return _added(session, ctx, row, "rate", entry.findings)


def record_premedication(
    session: Session,
    ctx: ServiceContext,
    administration_id: int,
    data: PremedicationIn | dict[str, Any],
) -> dict[str, Any]:
    """Record a premedication given: its dose (positive, inside the drug's accepted range)
    and a time inside the visit, never in the future."""
    require(ctx.actor, "administrations.write")
    row = _row(session, administration_id)
    body: PremedicationIn = validate(PremedicationIn, data)
    amount = body.amount_mg()
    if amount is None:
        raise InvalidInput("enter the dose given, in mg", field="dose")
    plan = repo.get_or_raise(session, TreatmentPlan, row.plan_id or 0, "plan")
    entry = check_premedication(ctx.kb, row.agent, plan.profile, body.drug, amount)  # type: ignore[arg-type]
    now = wall_clock(ctx)
    given_at = to_wall_clock(ctx, body.given_at) if body.given_at is not None else now
    rates = visit_rate_plan(session, ctx, row)
    check_time(
        documentation_window(session, row, rates),
        given_at,
        now,
        "given_at",
        "the premedication time",
    )
    session.add(premedication_row(row.id, body, entry.dose_mg, given_at))
    return _added(session, ctx, row, "premedication", entry.findings)


def record_vital(
    session: Session,
    ctx: ServiceContext,
    administration_id: int,
    data: VitalSignIn | dict[str, Any],
) -> dict[str, Any]:
    """Record a vital sign: physiologically possible (else refused), flagged when outside
    its usual range, taken inside the visit and not in the future."""
    require(ctx.actor, "administrations.write")
    row = _row(session, administration_id)
    body: VitalSignIn = validate(VitalSignIn, data)
    body = body.model_copy(update={"taken_at": to_wall_clock(ctx, body.taken_at)})
    stored, findings = vital_sign_row(entry_limits(session, ctx.kb), row.id, body)
    rates = visit_rate_plan(session, ctx, row)
    now = wall_clock(ctx)
    check_time(
        documentation_window(session, row, rates), body.taken_at, now, "taken_at", "the time taken"
    )
    session.add(stored)
    return _added(session, ctx, row, "vital-sign", findings)


def record_reaction(
    session: Session,
    ctx: ServiceContext,
    administration_id: int,
    data: ReactionIn | dict[str, Any],
) -> dict[str, Any]:
    """Record an infusion reaction (CTCAE grade) that began during the infusion: the rest of
    the bag is re-planned at once and the consequences for the plan apply at once (a grade 4
    or 5 reaction stops the infusion and holds the plan pending a prescriber's review)."""
    require(ctx.actor, "administrations.write")
    row = _open(session, administration_id)
    body: ReactionIn = validate(ReactionIn, data)
    if body.grade == 3 and body.resume_minute is None:
        raise InvalidInput(
            "a grade 3 reaction needs the minute the infusion restarts", field="resume_minute"
        )
    existing = list(repo.administration_details(session, row.id, live_only=True)["reactions"])
    before = visit_rate_plan(session, ctx, row, existing)
    check_reaction_minutes(
        before, body.onset_minute, body.resume_minute, _elapsed(row, wall_clock(ctx))
    )
    reaction = reaction_row(row.id, body)
    visit_rate_plan(
        session, ctx, row, [*existing, reaction]
    )  # refuses a reaction it cannot re-plan
    session.add(reaction)
    row.max_reaction_grade = max(row.max_reaction_grade, body.grade)
    plan = repo.get_or_raise(session, TreatmentPlan, row.plan_id or 0, "plan")
    if body.grade >= 4:
        assert row.started_at is not None
        row.outcome = "stopped"
        row.ended_at = row.started_at + timedelta(minutes=body.onset_minute)
        _finish_appointment(session, row)
    session.flush()
    consequences = apply_reaction_consequences(
        session, ctx, plan, body.grade, row.given_on.date(), row.id
    )
    refresh_patient(
        session, ctx.kb, repo.get_or_raise(session, Patient, row.patient_id, "patient"), ctx.today
    )
    out = _added(session, ctx, row, "reaction")
    out["consequences"] = consequences
    return out


def _stopped_by_reaction(row: Administration) -> bool:
    """An infusion a grade 4 or 5 reaction stopped, whose volume infused is not recorded."""
    return (
        row.outcome == "stopped" and row.volume_infused_ml is None and row.max_reaction_grade >= 4
    )


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
    outcome: Outcome = "completed",
    volume_infused_ml: float | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """End the infusion: the end time and the volume infused are recorded. Ending well
    before the plan's time, or with volume left, needs ``reason``; volume left records a
    partial dose, which the calendar and the cumulative dose then use. The observation
    period it needs (from the rate plan, longer after a reaction) starts."""
    require(ctx.actor, "administrations.write")
    row = _row(session, administration_id)
    stopped = _stopped_by_reaction(row)
    if row.outcome != IN_PROGRESS and not stopped:
        raise Conflict(f"the infusion is already {row.outcome}; it cannot be changed")
    assert row.started_at is not None
    if stopped:  # the volume that ran before a grade 4 or 5 reaction stopped the pump
        outcome = "stopped"
        ended_at = ended_at or row.ended_at
        reason = reason or f"stopped after a grade {row.max_reaction_grade} infusion reaction"
    if volume_infused_ml is None:
        raise InvalidInput(
            "enter the volume infused, in mL (the pump's total)", field="volume_infused_ml"
        )
    now = wall_clock(ctx)
    end = to_wall_clock(ctx, ended_at) if ended_at is not None else now
    if end > now + CLOCK_SLACK:
        raise InvalidInput(f"the end cannot be in the future (now {now:%H:%M})", field="ended_at")
    rates = visit_rate_plan(session, ctx, row)
    done = check_completion(ctx.kb.limits, rates, row.started_at, end, volume_infused_ml, reason)
    row.ended_at = end
    row.observation_until = end + timedelta(minutes=rates.observation_minutes)
    row.outcome = outcome
    row.volume_infused_ml = volume_infused_ml
    row.dose_given_mg = done.dose_given_mg if done.partial else None
    row.completion_reason = (reason or "").strip() or None
    _finish_appointment(session, row)
    if done.partial:
        plan = repo.get_or_raise(session, TreatmentPlan, row.plan_id or 0, "plan")
        session.flush()
        from msinfuse.services.plans import sync_calendar

        sync_calendar(session, ctx, plan)
        refresh_patient(
            session,
            ctx.kb,
            repo.get_or_raise(session, Patient, row.patient_id, "patient"),
            ctx.today,
        )
    out = _added(session, ctx, row, "complete", done.findings)
    out["completion"] = {
        "minutes": round(done.minutes, 1),
        "planned_minutes": round(done.planned_minutes, 1),
        "early": done.early,
        "partial": done.partial,
        "volume_infused_ml": done.volume_infused_ml,
        "volume_ml": done.volume_ml,
        "dose_mg": done.dose_mg,
        "dose_given_mg": done.dose_given_mg,
    }
    return out


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
        rates = visit_rate_plan(session, ctx, row)
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
    "documentation_window",
    "dose_visit_context",
    "record_premedication",
    "record_rate",
    "record_reaction",
    "record_vital",
    "start_visit",
    "visit",
    "visit_rate_plan",
    "visits_of_appointments",
    "wall_clock",
]
