"""Treatment plans and their stored dose calendar.

A plan's planned doses are kept current from the pure calendar engine: after every change
(a dose given, held or missed, a plan started or stopped) the doses not yet given are
re-planned from the doses actually given, so a late dose resets the schedule.

A grade 4 or 5 infusion reaction does not end a plan on the nurse's entry alone: the plan is
*held pending prescriber review* (paused, its doses held) until a prescriber confirms the
permanent discontinuation or records another decision with a reason
(:func:`decide_review`). :func:`plan_state` is the one wording of a plan's state that every
page and the API show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from msinfuse.domain.calendar import CalendarRequest, GivenDose, build_calendar
from msinfuse.domain.knowledge.facts import ProfileId
from msinfuse.domain.knowledge.schema import Agent, Regimen
from msinfuse.errors import Conflict, InvalidInput
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import (
    Administration,
    Condition,
    Patient,
    PlannedDose,
    PlanReview,
    TreatmentPlan,
)
from msinfuse.services import audit
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.projections import refresh_patient
from msinfuse.services.validation import validate

#: How many future doses the stored calendar holds.
PLANNED_AHEAD = 4


class PlanCreate(BaseModel):
    """A new treatment plan."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agent: str
    regimen: str | None = Field(
        default=None, description="Regimen id; default: the agent's default."
    )
    profile: Literal["us", "eu"] | None = Field(
        default=None, description="Default: the patient's profile."
    )
    start: date
    protocol: Literal["standard", "shorter"] = "standard"
    prior_cumulative_mg_per_m2: float = Field(default=0.0, ge=0)


@dataclass(frozen=True)
class ChoiceWording:
    """How a use case words the errors of :func:`resolve_regimen` and :func:`resolve_profile`:
    ``str.format`` templates (fields ``given``, ``valid``, ``agent``, ``regimen``, ``profile``)."""

    unknown_agent: str
    unknown_regimen: str
    profile: str
    bsa: str


#: The wording of :func:`start_plan`'s errors.
START_WORDING = ChoiceWording(
    unknown_agent="unknown agent {given!r}; valid agents: {valid}",
    unknown_regimen="unknown regimen {given!r} for {agent}; valid regimens: {valid}",
    profile="the {regimen} regimen is not available under the {profile} profile",
    bsa="{agent} is dosed by body-surface area: record the patient's height and weight first",
)


def resolve_regimen(
    ctx: ServiceContext, body: PlanCreate, wording: ChoiceWording
) -> tuple[Agent, Regimen]:
    """The plan's agent and regimen (the agent's default when none is named), or
    :class:`InvalidInput` naming the valid ones."""
    agent = ctx.kb.agent(body.agent)
    if agent is None:
        valid = ", ".join(sorted(ctx.kb.agents))
        raise InvalidInput(wording.unknown_agent.format(given=body.agent, valid=valid))
    regimen = agent.regimen(body.regimen) if body.regimen else agent.default_regimen
    if regimen is None:
        valid = ", ".join(r.id for r in agent.regimens)
        raise InvalidInput(
            wording.unknown_regimen.format(given=body.regimen, agent=agent.id, valid=valid)
        )
    return agent, regimen


def resolve_profile(
    patient: Patient, agent: Agent, regimen: Regimen, body: PlanCreate, wording: ChoiceWording
) -> ProfileId:
    """The plan's profile (the patient's when none is named), checked against the regimen;
    a regimen dosed by body-surface area needs the patient's height and weight."""
    profile = body.profile or patient.profile
    if profile not in regimen.profiles:
        raise InvalidInput(wording.profile.format(regimen=regimen.id, profile=profile))
    if regimen.uses_bsa and (patient.height_cm is None or patient.weight_kg is None):
        raise InvalidInput(wording.bsa.format(agent=agent.id))
    return profile


#: The stop reason of a plan a prescriber discontinued after a grade 4 or 5 reaction.
DISCONTINUED = "discontinued after a grade {grade} infusion reaction (confirmed by a prescriber)"
#: The reason written on the doses a plan review holds.
REVIEW_HOLD = "held pending prescriber review"
ReviewDecision = Literal["discontinue", "resume", "stop"]
REVIEW_DECISIONS: dict[str, str] = {
    "discontinue": "confirm the permanent discontinuation",
    "resume": "resume the plan",
    "stop": "stop the plan without recording a contraindication",
}
STATE_LABELS = {
    "active": "active",
    "paused": "paused",
    "review": REVIEW_HOLD,
    "stopped": "stopped",
    "completed": "completed",
}


def plan_state(plan: TreatmentPlan, review: PlanReview | None) -> dict[str, Any]:
    """The plan's state in one wording for every page: ``code`` (active, paused, review,
    stopped, completed), a plain ``label`` and the ``reason`` behind it."""
    if review is not None and review.decision is None:
        code = "review"
        reason: str | None = review.reason
    else:
        code = plan.status
        reason = plan.stop_reason if plan.status in ("stopped", "completed") else None
    return {
        "code": code,
        "label": STATE_LABELS.get(code, code),
        "reason": reason,
        "live": code in ("active", "paused", "review"),
        "held": code in ("paused", "review"),
    }


def review_json(review: PlanReview) -> dict[str, Any]:
    """A plan review as JSON."""
    return {
        "id": review.id,
        "plan_id": review.plan_id,
        "administration_id": review.administration_id,
        "reaction_grade": review.reaction_grade,
        "reason": review.reason,
        "requested_at": review.requested_at.isoformat(timespec="seconds"),
        "decision": review.decision,
        "decision_reason": review.decision_reason,
        "decided_by": review.decided_by_name,
        "decided_at": review.decided_at.isoformat(timespec="seconds")
        if review.decided_at
        else None,
    }


def plan_json(session: Session, plan: TreatmentPlan) -> dict[str, Any]:
    """A plan with its doses, its state and its reviews as JSON."""
    doses = repo.doses_of_plan(session, plan.id)
    reviews = repo.plan_reviews(session, [plan.id]).get(plan.id, [])
    open_review = next((r for r in reversed(reviews) if r.decision is None), None)
    partial = {
        a.planned_dose_id: a.dose_given_mg
        for a in repo.administrations_of_plan(session, plan.id)
        if a.dose_given_mg is not None and a.planned_dose_id is not None
    }
    return {
        "id": plan.id,
        "patient_id": plan.patient_id,
        "agent": plan.agent,
        "regimen": plan.regimen,
        "profile": plan.profile,
        "protocol": plan.protocol,
        "start": plan.starts_on.isoformat(),
        "status": plan.status,
        "state": plan_state(plan, open_review),
        "review": review_json(open_review) if open_review is not None else None,
        "reviews": [review_json(r) for r in reviews],
        "stopped_on": plan.stopped_on.isoformat() if plan.stopped_on else None,
        "stop_reason": plan.stop_reason,
        "switched_to": plan.switched_to_id,
        "doses": [
            {
                "id": d.id,
                "number": d.number,
                "course": d.course,
                "course_day": d.course_day,
                "kind": d.kind,
                "planned_on": d.planned_on.isoformat(),
                "earliest_on": d.earliest_on.isoformat(),
                "dose_mg": d.dose_mg,
                "given_dose_mg": partial.get(d.id),
                "status": d.status,
                "given_on": d.given_on.isoformat() if d.given_on else None,
                "reason": d.reason,
            }
            for d in doses
        ],
    }


def sync_calendar(session: Session, ctx: ServiceContext, plan: TreatmentPlan) -> list[Any]:
    """Re-plan the doses not yet given from the doses given; returns the calendar findings."""
    patient = repo.get_or_raise(session, Patient, plan.patient_id, "patient")
    given = repo.administrations_of_plan(session, plan.id)
    existing = {d.number: d for d in repo.doses_of_plan(session, plan.id)}
    given_doses = tuple(GivenDose(a.given_on.date(), a.dose_actual_mg) for a in given)
    start = min([plan.starts_on, *(g.date for g in given_doses)])
    calendar = build_calendar(
        ctx.kb,
        CalendarRequest(
            agent=plan.agent,
            start=start,
            today=max(ctx.today, given_doses[-1].date) if given_doses else ctx.today,
            regimen=plan.regimen,
            profile=plan.profile,  # type: ignore[arg-type]
            given=given_doses,
            count=PLANNED_AHEAD if plan.status in ("active", "paused") else 0,
            height_cm=patient.height_cm,
            weight_kg=patient.weight_kg,
            prior_cumulative_mg_per_m2=plan.prior_cumulative_mg_per_m2,
        ),
    )
    seen: set[int] = set()
    for dose in calendar.doses:
        seen.add(dose.number)
        row = existing.get(dose.number)
        if row is None:
            row = PlannedDose(
                plan_id=plan.id, patient_id=plan.patient_id, agent=plan.agent, number=dose.number
            )
            session.add(row)
        row.course = dose.course
        row.course_day = dose.course_day
        row.kind = dose.kind
        row.planned_on = dose.planned
        row.earliest_on = dose.earliest
        row.dose_mg = dose.dose_mg
        if dose.status == "given":
            row.status = "given"
            row.given_on = dose.date
        elif row.status in ("given", "cancelled") or row.status is None:
            row.status = "planned"
            row.given_on = None
    # Doses beyond the calendar (plan stopped, limit reached) are cancelled unless given.
    for number, row in existing.items():
        if number not in seen and row.status not in ("given", "cancelled"):
            row.status = "cancelled"
            row.reason = row.reason or (plan.stop_reason or "no longer in the dose calendar")
    session.flush()
    return list(calendar.findings)


def start_plan(
    session: Session, ctx: ServiceContext, patient_id: int, data: PlanCreate | dict[str, Any]
) -> dict[str, Any]:
    """Start a treatment plan and lay out its dose calendar."""
    require(ctx.actor, "plans.write")
    body: PlanCreate = validate(PlanCreate, data)
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    agent, regimen = resolve_regimen(ctx, body, START_WORDING)
    if repo.active_plan(session, patient.id, agent.id) is not None:
        raise Conflict(
            f"the patient already has an active {agent.id} plan; stop or switch it first"
        )
    profile = resolve_profile(patient, agent, regimen, body, START_WORDING)
    plan = TreatmentPlan(
        patient_id=patient.id,
        agent=agent.id,
        regimen=regimen.id,
        profile=profile,
        protocol=body.protocol,
        starts_on=body.start,
        status="active",
        prescriber_id=ctx.actor.user_id,
        prior_cumulative_mg_per_m2=body.prior_cumulative_mg_per_m2,
    )
    session.add(plan)
    session.flush()
    findings = sync_calendar(session, ctx, plan)
    audit.record(session, ctx, "create", "TreatmentPlan", plan.id)
    refresh_patient(session, ctx.kb, patient, ctx.today)
    out = plan_json(session, plan)
    out["findings"] = [
        {"severity": f.severity, "rule": f.rule, "message": f.message, "source": f.source}
        for f in findings
    ]
    return out


def _plan(session: Session, plan_id: int) -> TreatmentPlan:
    return repo.get_or_raise(session, TreatmentPlan, plan_id, "plan")


def get_plan(session: Session, ctx: ServiceContext, plan_id: int) -> dict[str, Any]:
    """A plan with its doses."""
    require(ctx.actor, "patients.read")
    plan = _plan(session, plan_id)
    audit.record(session, ctx, "read", "TreatmentPlan", plan.id)
    return plan_json(session, plan)


def list_plans(session: Session, ctx: ServiceContext, patient_id: int) -> list[dict[str, Any]]:
    """A patient's plans, newest first."""
    require(ctx.actor, "patients.read")
    repo.get_or_raise(session, Patient, patient_id, "patient")
    audit.record(session, ctx, "read", "TreatmentPlan", f"patient:{patient_id}")
    return [plan_json(session, p) for p in repo.plans_for_patient(session, patient_id)]


def change_plan_status(
    session: Session,
    ctx: ServiceContext,
    plan_id: int,
    action: Literal["pause", "resume", "stop"],
    reason: str | None = None,
) -> dict[str, Any]:
    """Pause, resume or stop a plan (stopping needs a reason and cancels the doses not given)."""
    require(ctx.actor, "plans.write")
    plan = _plan(session, plan_id)
    if action != "pause" and repo.open_plan_review(session, plan.id) is not None:
        raise Conflict(
            f"the plan is {REVIEW_HOLD}: record the review decision (confirm the "
            "discontinuation, resume or stop, with a reason)"
        )
    if action == "pause":
        if plan.status != "active":
            raise Conflict(f"only an active plan can be paused (this one is {plan.status})")
        plan.status = "paused"
    elif action == "resume":
        if plan.status != "paused":
            raise Conflict(f"only a paused plan can be resumed (this one is {plan.status})")
        plan.status = "active"
    else:
        if plan.status in ("stopped", "completed"):
            raise Conflict(f"the plan is already {plan.status}")
        if not reason or not reason.strip():
            raise InvalidInput("stopping a plan needs a reason")
        plan.status = "stopped"
        plan.stopped_on = ctx.today
        plan.stop_reason = reason.strip()
    sync_calendar(session, ctx, plan)
    audit.record(session, ctx, action, "TreatmentPlan", plan.id)
    refresh_patient(
        session, ctx.kb, repo.get_or_raise(session, Patient, plan.patient_id, "patient"), ctx.today
    )
    return plan_json(session, plan)


def switch_plan(
    session: Session,
    ctx: ServiceContext,
    plan_id: int,
    data: PlanCreate | dict[str, Any],
    reason: str,
) -> dict[str, Any]:
    """Stop a plan and start another (for example a switch of agent), linking the two."""
    require(ctx.actor, "plans.write")
    old = _plan(session, plan_id)
    body: PlanCreate = validate(PlanCreate, data)
    if not reason or not reason.strip():
        raise InvalidInput("switching a plan needs a reason")
    change_plan_status(session, ctx, old.id, "stop", f"switched to {body.agent}: {reason.strip()}")
    new = start_plan(session, ctx, old.patient_id, body)
    old.switched_to_id = new["id"]
    audit.record(session, ctx, "switch", "TreatmentPlan", old.id)
    return new


def mark_dose(
    session: Session,
    ctx: ServiceContext,
    dose_id: int,
    status: Literal["held", "missed"],
    reason: str,
) -> dict[str, Any]:
    """Mark a planned dose held or missed, with the reason (the dose stays to be given)."""
    require(ctx.actor, "doses.mark")
    dose = repo.get_or_raise(session, PlannedDose, dose_id, "planned dose")
    if dose.status == "given":
        raise Conflict("the dose was already given")
    if dose.status == "cancelled":
        raise Conflict("the dose was cancelled")
    if not reason or not reason.strip():
        raise InvalidInput(f"marking a dose {status} needs a reason")
    dose.status = status
    dose.reason = reason.strip()
    appointment = repo.active_appointment_for_dose(session, dose.id)
    if appointment is not None and appointment.status == "booked":
        appointment.status = "no_show" if status == "missed" else "cancelled"
    audit.record(session, ctx, status, "PlannedDose", dose.id)
    return {
        "id": dose.id,
        "status": dose.status,
        "reason": dose.reason,
        "planned_on": dose.planned_on.isoformat(),
    }


def review_reason(agent: str, grade: int, day: date) -> str:
    """Why a plan is held for a prescriber's review."""
    return (
        f"grade {grade} infusion reaction on {day.isoformat()}: the label says to stop and "
        f"discontinue {agent} permanently; a prescriber confirms or decides otherwise"
    )


def hold_for_review(
    session: Session,
    ctx: ServiceContext,
    plan: TreatmentPlan,
    administration_id: int | None,
    grade: int,
    day: date,
) -> str:
    """Hold a plan pending a prescriber's review after a grade 4 or 5 reaction: the plan is
    paused and every dose not yet given is held; returns what changed, in words."""
    reason = review_reason(plan.agent, grade, day)
    if repo.open_plan_review(session, plan.id) is None:
        session.add(
            PlanReview(
                plan_id=plan.id,
                patient_id=plan.patient_id,
                administration_id=administration_id,
                reaction_grade=grade,
                reason=reason,
                requested_by=ctx.actor.user_id,
                requested_at=ctx.now,
            )
        )
    if plan.status == "active":
        plan.status = "paused"
    for dose in repo.doses_of_plan(session, plan.id):
        if dose.status not in ("given", "cancelled"):
            dose.status = "held"
            dose.reason = f"{REVIEW_HOLD} (grade {grade} reaction)"
    session.flush()
    audit.record(session, ctx, "hold-for-review", "TreatmentPlan", plan.id)
    return f"{plan.agent} {REVIEW_HOLD}: every later dose is held until a prescriber decides"


def decide_review(
    session: Session,
    ctx: ServiceContext,
    plan_id: int,
    decision: ReviewDecision,
    reason: str | None = None,
) -> dict[str, Any]:
    """A prescriber's decision on a plan held for review: ``discontinue`` (stop for good and
    record the agent as contraindicated), ``resume`` or ``stop`` (each needing a reason)."""
    require(ctx.actor, "plans.write")
    plan = _plan(session, plan_id)
    review = repo.open_plan_review(session, plan.id)
    if review is None:
        raise Conflict("no review is pending for this plan")
    if decision not in REVIEW_DECISIONS:
        raise InvalidInput(f"choose a decision: {', '.join(REVIEW_DECISIONS)}", field="decision")
    given = (reason or "").strip()
    if decision != "discontinue" and not given:
        raise InvalidInput(
            f"give the reason to {REVIEW_DECISIONS[decision]} after a grade "
            f"{review.reaction_grade} reaction",
            field="reason",
        )
    review.decision = decision
    review.decision_reason = given or None
    review.decided_by = ctx.actor.user_id
    review.decided_by_name = ctx.actor.username
    review.decided_at = ctx.now
    given_in = (
        session.get(Administration, review.administration_id)
        if review.administration_id is not None
        else None
    )
    day = given_in.given_on.date() if given_in is not None else ctx.today
    if decision == "discontinue":
        plan.status = "stopped"
        plan.stopped_on = ctx.today
        plan.stop_reason = DISCONTINUED.format(grade=review.reaction_grade) + (
            f": {given}" if given else ""
        )
        session.add(
            Condition(
                patient_id=plan.patient_id,
                condition=f"life_threatening_irr:{plan.agent}",
                onset=min(day, ctx.today),
            )
        )
    elif decision == "stop":
        plan.status = "stopped"
        plan.stopped_on = ctx.today
        plan.stop_reason = f"stopped after prescriber review: {given}"
    if decision in ("discontinue", "stop"):
        for dose in repo.doses_of_plan(session, plan.id):
            if dose.status == "held" and (dose.reason or "").startswith(REVIEW_HOLD):
                dose.status = "cancelled"
                dose.reason = plan.stop_reason
    else:
        plan.status = "active"
        for dose in repo.doses_of_plan(session, plan.id):
            if dose.status == "held" and (dose.reason or "").startswith(REVIEW_HOLD):
                dose.status = "planned"
                dose.reason = None
    session.flush()
    sync_calendar(session, ctx, plan)
    audit.record(session, ctx, f"review-{decision}", "TreatmentPlan", plan.id)
    refresh_patient(
        session, ctx.kb, repo.get_or_raise(session, Patient, plan.patient_id, "patient"), ctx.today
    )
    return plan_json(session, plan)


def plan_for_dose(session: Session, dose_id: int) -> tuple[PlannedDose, TreatmentPlan]:
    """A planned dose and its plan."""
    dose = repo.get_or_raise(session, PlannedDose, dose_id, "planned dose")
    return dose, _plan(session, dose.plan_id)


__all__ = [
    "DISCONTINUED",
    "PLANNED_AHEAD",
    "REVIEW_DECISIONS",
    "REVIEW_HOLD",
    "START_WORDING",
    "ChoiceWording",
    "PlanCreate",
    "change_plan_status",
    "decide_review",
    "get_plan",
    "hold_for_review",
    "list_plans",
    "mark_dose",
    "plan_for_dose",
    "plan_json",
    "plan_state",
    "resolve_profile",
    "resolve_regimen",
    "review_reason",
    "start_plan",
    "switch_plan",
    "sync_calendar",
]


def dose_rate_request(
    plan: TreatmentPlan,
    dose: PlannedDose,
    patient: Patient,
    prior_grades: tuple[int, ...],
    protocol: str | None = None,
    start: Any = None,
    dose_mg: float | None = None,
    volume_ml: float | None = None,
) -> Any:
    """The rate engine's request for a planned dose of ``plan`` (the plan's protocol unless
    ``protocol``; the dose's own mg unless ``dose_mg``; the label's bag unless ``volume_ml``)."""
    from msinfuse.domain.rates import RateRequest

    return RateRequest(
        plan.agent,
        dose.number,
        plan.profile,  # type: ignore[arg-type]
        protocol=protocol or plan.protocol,
        regimen=plan.regimen,
        dose_mg=dose_mg if dose_mg is not None else dose.dose_mg,
        volume_ml=volume_ml,
        prior_reaction_grades=prior_grades,
        start=start,
        height_cm=patient.height_cm,
        weight_kg=patient.weight_kg,
    )


def dose_rate_plan(
    session: Session,
    ctx: ServiceContext,
    dose_id: int,
    start: Any = None,
    protocol: str | None = None,
    reaction: Any = None,
) -> dict[str, Any]:
    """The rate plan and pump program of a planned dose, from the patient's own history
    (earlier reaction grades decide observation and shorter-protocol eligibility)."""
    from msinfuse.services.engines import rate_plan
    from msinfuse.services.state import build_patient_state

    require(ctx.actor, "patients.read")
    dose, plan = plan_for_dose(session, dose_id)
    patient = repo.get_or_raise(session, Patient, plan.patient_id, "patient")
    state = build_patient_state(session, ctx.kb, patient)
    grades = tuple(a.reaction_grade for a in state.administrations_of(plan.agent))
    audit.record(session, ctx, "read", "PlannedDose", dose.id)
    return rate_plan(
        ctx.kb, dose_rate_request(plan, dose, patient, grades, protocol, start), reaction
    )
