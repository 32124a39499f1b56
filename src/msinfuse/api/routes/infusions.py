"""An infusion documented as it happens, through the API: start, pump rates, premedication,
vital signs, reactions, completion, and corrections of any documented entry; a prescriber's
review of a plan held after a grade 4 or 5 reaction; the clinic's vital-sign limits.

The routes call the same services as the web pages, with the same limits: a pump gateway or
an EHR documents exactly what a nurse at the chair may. A refused entry is a 400 whose
``field`` names the input at fault and whose ``detail`` says why, in plain words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from msinfuse.api import schemas
from msinfuse.api.routes.patients import ERRORS
from msinfuse.http.deps import DB, Permission
from msinfuse.persistence.repositories import RecordId
from msinfuse.services import corrections, limits, plans, visits
from msinfuse.services.context import ServiceContext
from msinfuse.services.corrections import CorrectionIn, Resource
from msinfuse.services.infusions import (
    PremedicationIn,
    RateEventIn,
    ReactionIn,
    VitalKind,
    VitalSignIn,
)
from msinfuse.services.limits import VitalSignLimitsIn

router = APIRouter(tags=["infusions"])
READ = Depends(Permission("patients.read"))
WRITE = Depends(Permission("administrations.write"))


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class InfusionStart(_Body):
    """The pump starts: after a cleared pre-infusion check, with a bag the protocol's rates
    are valid for."""

    started_at: datetime | None = Field(
        default=None, description="Clinic wall-clock time the pump started; default now."
    )
    appointment_id: RecordId | None = Field(
        default=None, description="The chair booking; default the dose's own booking."
    )
    protocol: Literal["standard", "shorter"] | None = None
    volume_ml: float | None = Field(
        default=None, description="The bag volume in mL; default the label's nominal volume."
    )


class InfusionEnd(_Body):
    """The end of an infusion: the volume infused is required; ending well early, or with
    volume left, needs a reason (volume left records a partial dose)."""

    ended_at: datetime | None = Field(default=None, description="Default now.")
    volume_infused_ml: float = Field(description="The pump's total volume infused, in mL.")
    outcome: Literal["completed", "stopped"] = "completed"
    reason: str | None = Field(default=None, max_length=1000)


class ReviewDecision(_Body):
    """A prescriber's decision on a plan held pending review."""

    decision: Literal["discontinue", "resume", "stop"] = Field(
        description="discontinue: confirm the permanent discontinuation (the agent is recorded "
        "as contraindicated); resume or stop (without a contraindication) need a reason."
    )
    reason: str | None = Field(default=None, max_length=1000)


class Visit(BaseModel):
    """An infusion visit: every documented entry (with its corrections), the re-planned pump
    program, the running step, the limits in force and the observation countdown."""

    model_config = ConfigDict(extra="allow")

    id: int
    patient_id: int
    plan_id: int | None
    agent: str
    outcome: str
    record_status: str
    phase: str
    in_progress: bool
    limits: dict[str, Any]
    rate_events: list[dict[str, Any]]
    premedications: list[dict[str, Any]]
    vital_signs: list[dict[str, Any]]
    reactions: list[dict[str, Any]]
    findings: list[schemas.Finding] = Field(
        default=[], description="What the record shows about the entry just made."
    )
    label_revisions: list[dict[str, Any]]
    decision_support: str


class CorrectionOut(BaseModel):
    """A correction saved: the entry's status and values now, and the correction."""

    resource: str
    record_id: int
    record_status: str
    current: dict[str, Any]
    correction: dict[str, Any]
    patient_id: int
    administration_id: int | None
    notes: list[str]


@router.post("/doses/{dose_id}/infusion", response_model=Visit, status_code=201, responses=ERRORS)
def start_infusion(
    dose_id: int,
    body: InfusionStart,
    response: Response,
    ctx: ServiceContext = WRITE,
    session: Session = DB,
) -> dict[str, Any]:
    """Start the infusion of a planned dose (409 until its pre-infusion check is cleared)."""
    out = visits.start_visit(
        session,
        ctx,
        dose_id,
        body.started_at,
        body.appointment_id,
        body.protocol,
        body.volume_ml,
    )
    response.headers["Location"] = f"/api/v1/administrations/{out['id']}/visit"
    return out


@router.get("/administrations/{administration_id}/visit", response_model=Visit, responses=ERRORS)
def get_visit(
    administration_id: int, ctx: ServiceContext = READ, session: Session = DB
) -> dict[str, Any]:
    """The visit now: documented entries, re-planned pump program, running step, limits in
    force, observation countdown."""
    return visits.visit(session, ctx, administration_id)


@router.post(
    "/administrations/{administration_id}/rates",
    response_model=Visit,
    status_code=201,
    responses=ERRORS,
)
def record_rate(
    administration_id: int, body: RateEventIn, ctx: ServiceContext = WRITE, session: Session = DB
) -> dict[str, Any]:
    """A pump rate change, pause, resume or stop: never above the protocol maximum; faster
    than the step in force only with a ``reason``."""
    return visits.record_rate(session, ctx, administration_id, body)


@router.post(
    "/administrations/{administration_id}/premedications",
    response_model=Visit,
    status_code=201,
    responses=ERRORS,
)
def record_premedication(
    administration_id: int,
    body: PremedicationIn,
    ctx: ServiceContext = WRITE,
    session: Session = DB,
) -> dict[str, Any]:
    """A premedication given: dose in mg, positive and inside the drug's accepted range, at
    a time inside the visit."""
    return visits.record_premedication(session, ctx, administration_id, body)


@router.post(
    "/administrations/{administration_id}/vital-signs",
    response_model=Visit,
    status_code=201,
    responses=ERRORS,
)
def record_vital_sign(
    administration_id: int, body: VitalSignIn, ctx: ServiceContext = WRITE, session: Session = DB
) -> dict[str, Any]:
    """A vital sign: refused when not physiologically possible, flagged low or high outside
    its usual range; taken inside the visit, never in the future."""
    return visits.record_vital(session, ctx, administration_id, body)


@router.post(
    "/administrations/{administration_id}/reactions",
    response_model=Visit,
    status_code=201,
    responses=ERRORS,
)
def record_reaction(
    administration_id: int, body: ReactionIn, ctx: ServiceContext = WRITE, session: Session = DB
) -> dict[str, Any]:
    """An infusion reaction (CTCAE v5 grade) during the infusion: the rest of the bag is
    re-planned; grade 4 or 5 stops the infusion and holds the plan for a prescriber."""
    return visits.record_reaction(session, ctx, administration_id, body)


@router.post(
    "/administrations/{administration_id}/complete", response_model=Visit, responses=ERRORS
)
def complete_infusion(
    administration_id: int, body: InfusionEnd, ctx: ServiceContext = WRITE, session: Session = DB
) -> dict[str, Any]:
    """End the infusion (or record the volume that ran before a grade 4 stop); observation
    starts."""
    return visits.complete_visit(
        session,
        ctx,
        administration_id,
        body.ended_at,
        body.outcome,
        body.volume_infused_ml,
        body.reason,
    )


@router.post(
    "/corrections/{resource}/{record_id}",
    response_model=CorrectionOut,
    status_code=201,
    responses=ERRORS,
)
def correct(
    resource: Resource,
    record_id: int,
    body: CorrectionIn,
    ctx: ServiceContext = Depends(Permission("records.write")),
    session: Session = DB,
) -> dict[str, Any]:
    """Mark a documented entry (vital_sign, rate_event, premedication, reaction,
    administration, lab) entered in error, or amend it, with a reason. Nothing is deleted:
    the earlier values are kept with the correction; an amendment passes the same limits as
    a new entry."""
    return corrections.correct(session, ctx, resource, record_id, body)


@router.get("/corrections/{resource}/{record_id}", responses=ERRORS)
def list_corrections(
    resource: Resource, record_id: int, ctx: ServiceContext = READ, session: Session = DB
) -> list[dict[str, Any]]:
    """Every correction of one entry, oldest first."""
    return corrections.corrections(session, ctx, resource, record_id)


@router.post("/plans/{plan_id}/review", response_model=schemas.Plan, responses=ERRORS)
def review_plan(
    plan_id: int,
    body: ReviewDecision,
    ctx: ServiceContext = Depends(Permission("plans.write")),
    session: Session = DB,
) -> dict[str, Any]:
    """A prescriber's decision on a plan held pending review after a grade 4 or 5 reaction
    (409 when no review is pending)."""
    return plans.decide_review(session, ctx, plan_id, body.decision, body.reason)


@router.get("/clinic/vital-sign-limits", responses=ERRORS)
def list_vital_sign_limits(
    ctx: ServiceContext = Depends(Permission("knowledge.read")), session: Session = DB
) -> list[dict[str, Any]]:
    """Each vital sign's ranges in force at this clinic (possible: else refused; usual: else
    flagged), the knowledge base's defaults and the last change."""
    return limits.vital_sign_limits(session, ctx)


@router.put("/clinic/vital-sign-limits/{kind}", responses=ERRORS)
def set_vital_sign_limits(
    kind: VitalKind,
    body: VitalSignLimitsIn,
    ctx: ServiceContext = Depends(Permission("sites.manage")),
    session: Session = DB,
) -> dict[str, Any]:
    """Change one vital sign's ranges, with a reason (a range left out is the knowledge
    base's default again); vital signs recorded from now on are checked against them."""
    return limits.set_vital_sign_limits(session, ctx, kind, body)
