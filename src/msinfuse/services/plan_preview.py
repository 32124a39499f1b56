"""Preview a treatment plan before it is started: the dose calendar it lays out, the
screening its first dose needs, and what the pre-infusion check would say on the start date
with the record as it is today. Nothing is stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from msinfuse.domain.calendar import CalendarRequest
from msinfuse.domain.safety import CheckRequest
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import Patient
from msinfuse.services.clinical import run_check
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.engines import dose_calendar
from msinfuse.services.plans import ChoiceWording, PlanCreate, resolve_profile, resolve_regimen
from msinfuse.services.state import build_patient_state
from msinfuse.services.validation import validate

#: The preview's errors name the form field they belong to (``field: problem``).
PREVIEW_WORDING = ChoiceWording(
    unknown_agent="agent: unknown agent; valid agents: {valid}",
    unknown_regimen="regimen: not a regimen of {agent}; valid: {valid}",
    profile="profile: the {regimen} regimen is not available under {profile}",
    bsa="regimen: dosed by body-surface area; record the patient's height and weight first",
)


def preview_plan(
    session: Session, ctx: ServiceContext, patient_id: int, data: PlanCreate | dict[str, Any]
) -> dict[str, Any]:
    """The calendar, screening and first-dose check of a plan not yet started."""
    require(ctx.actor, "plans.write")
    body: PlanCreate = validate(PlanCreate, data)
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    agent, regimen = resolve_regimen(ctx, body, PREVIEW_WORDING)
    profile = resolve_profile(patient, agent, regimen, body, PREVIEW_WORDING)
    calendar = dose_calendar(
        ctx.kb,
        CalendarRequest(
            agent=agent.id,
            start=body.start,
            today=ctx.today,
            regimen=regimen.id,
            profile=profile,
            count=6,
            height_cm=patient.height_cm,
            weight_kg=patient.weight_kg,
            prior_cumulative_mg_per_m2=body.prior_cumulative_mg_per_m2,
        ),
    )
    screening = [
        {
            "id": s.id,
            "when": s.when,
            "tests": list(s.tests),
            "text": s.text,
            "severity_missing": s.severity_missing,
            "status": s.status,
            "source": s.citation_text(),
        }
        for s in agent.screening
        if profile in s.profiles and s.when in ("first_dose", "course_start", "every_dose")
    ]
    state = build_patient_state(session, ctx.kb, patient)
    first_check = run_check(
        ctx.kb,
        state,
        CheckRequest(agent.id, body.start, profile, body.protocol),
    )
    return {
        "agent": agent.id,
        "agent_name": agent.name,
        "regimen": regimen.id,
        "regimen_name": regimen.name,
        "profile": profile,
        "start": body.start.isoformat(),
        "protocol": body.protocol,
        "calendar": calendar,
        "screening": screening,
        "first_dose_check": first_check,
        "active_plan": repo.active_plan(session, patient.id, agent.id) is not None,
        "label_revisions": calendar["label_revisions"],
        "decision_support": calendar["decision_support"],
    }
