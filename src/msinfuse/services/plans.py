"""Treatment plans and their stored dose calendar.

A plan's planned doses are kept current from the pure calendar engine: after every change
(a dose given, held or missed, a plan started or stopped) the doses not yet given are
re-planned from the doses actually given, so a late dose resets the schedule.
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
from msinfuse.persistence.models import Patient, PlannedDose, TreatmentPlan
from msinfuse.services import audit
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.projections import refresh_patient
from msinfuse.services.records import validate

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


def plan_json(session: Session, plan: TreatmentPlan) -> dict[str, Any]:
    """A plan with its doses as JSON."""
    doses = repo.doses_of_plan(session, plan.id)
    return {
        "id": plan.id,
        "patient_id": plan.patient_id,
        "agent": plan.agent,
        "regimen": plan.regimen,
        "profile": plan.profile,
        "protocol": plan.protocol,
        "start": plan.starts_on.isoformat(),
        "status": plan.status,
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
    given_doses = tuple(GivenDose(a.given_on.date(), a.dose_mg) for a in given)
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


def plan_for_dose(session: Session, dose_id: int) -> tuple[PlannedDose, TreatmentPlan]:
    """A planned dose and its plan."""
    dose = repo.get_or_raise(session, PlannedDose, dose_id, "planned dose")
    return dose, _plan(session, dose.plan_id)


__all__ = [
    "PLANNED_AHEAD",
    "START_WORDING",
    "ChoiceWording",
    "PlanCreate",
    "change_plan_status",
    "get_plan",
    "list_plans",
    "mark_dose",
    "plan_for_dose",
    "plan_json",
    "resolve_profile",
    "resolve_regimen",
    "start_plan",
    "switch_plan",
    "sync_calendar",
]


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
    from msinfuse.domain.rates import RateRequest
    from msinfuse.services.engines import rate_plan
    from msinfuse.services.state import build_patient_state

    require(ctx.actor, "patients.read")
    dose, plan = plan_for_dose(session, dose_id)
    patient = repo.get_or_raise(session, Patient, plan.patient_id, "patient")
    state = build_patient_state(session, ctx.kb, patient)
    grades = tuple(a.reaction_grade for a in state.administrations_of(plan.agent))
    audit.record(session, ctx, "read", "PlannedDose", dose.id)
    return rate_plan(
        ctx.kb,
        RateRequest(
            plan.agent,
            dose.number,
            plan.profile,  # type: ignore[arg-type]
            protocol=protocol or plan.protocol,
            regimen=plan.regimen,
            dose_mg=dose.dose_mg,
            prior_reaction_grades=grades,
            start=start,
            height_cm=patient.height_cm,
            weight_kg=patient.weight_kg,
        ),
        reaction,
    )
