"""Treatment plans, their dose calendars, doses and the rate plan of a dose."""

from __future__ import annotations

from datetime import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from msinfuse.api import schemas
from msinfuse.api.paging import ListParams, Page, list_params, paginate
from msinfuse.api.routes.patients import ERRORS
from msinfuse.http.deps import DB, Permission
from msinfuse.services import plans
from msinfuse.services.context import ServiceContext
from msinfuse.services.engines import ReactionInput
from msinfuse.services.plans import PlanCreate

router = APIRouter(tags=["plans"])
READ = Depends(Permission("patients.read"))
WRITE = Depends(Permission("plans.write"))


class Reason(BaseModel):
    """A reason for a change."""

    reason: str = Field(min_length=1, max_length=1000)


class Switch(BaseModel):
    """Stop a plan and start another."""

    plan: PlanCreate
    reason: str = Field(min_length=1, max_length=1000)


class Mark(BaseModel):
    """Mark a dose held or missed."""

    status: Literal["held", "missed"]
    reason: str = Field(min_length=1, max_length=1000)


@router.get("/patients/{patient_id}/plans", response_model=Page[schemas.Plan], responses=ERRORS)
def list_plans(
    patient_id: int,
    page: ListParams = Depends(list_params),
    ctx: ServiceContext = READ,
    session: Session = DB,
) -> dict[str, Any]:
    """A patient's plans with their doses, newest first unless sorted."""
    return paginate(plans.list_plans(session, ctx, patient_id), page)


@router.post(
    "/patients/{patient_id}/plans", response_model=schemas.Plan, status_code=201, responses=ERRORS
)
def start_plan(
    patient_id: int,
    body: PlanCreate,
    ctx: ServiceContext = WRITE,
    session: Session = DB,
) -> dict[str, Any]:
    """Start a treatment plan; its dose calendar is laid out at once."""
    return plans.start_plan(session, ctx, patient_id, body)


@router.get("/plans/{plan_id}", response_model=schemas.Plan, responses=ERRORS)
def get_plan(plan_id: int, ctx: ServiceContext = READ, session: Session = DB) -> dict[str, Any]:
    """A plan and its dose calendar."""
    return plans.get_plan(session, ctx, plan_id)


@router.post("/plans/{plan_id}/pause", response_model=schemas.Plan, responses=ERRORS)
def pause(plan_id: int, ctx: ServiceContext = WRITE, session: Session = DB) -> dict[str, Any]:
    """Pause a plan."""
    return plans.change_plan_status(session, ctx, plan_id, "pause")


@router.post("/plans/{plan_id}/resume", response_model=schemas.Plan, responses=ERRORS)
def resume(plan_id: int, ctx: ServiceContext = WRITE, session: Session = DB) -> dict[str, Any]:
    """Resume a paused plan."""
    return plans.change_plan_status(session, ctx, plan_id, "resume")


@router.post("/plans/{plan_id}/stop", response_model=schemas.Plan, responses=ERRORS)
def stop(
    plan_id: int, body: Reason, ctx: ServiceContext = WRITE, session: Session = DB
) -> dict[str, Any]:
    """Stop a plan (its doses not given are cancelled)."""
    return plans.change_plan_status(session, ctx, plan_id, "stop", body.reason)


@router.post(
    "/plans/{plan_id}/switch", response_model=schemas.Plan, status_code=201, responses=ERRORS
)
def switch(
    plan_id: int, body: Switch, ctx: ServiceContext = WRITE, session: Session = DB
) -> dict[str, Any]:
    """Stop a plan and start another, linked to it."""
    return plans.switch_plan(session, ctx, plan_id, body.plan, body.reason)


@router.post("/doses/{dose_id}/mark", response_model=schemas.DoseMark, responses=ERRORS)
def mark(
    dose_id: int,
    body: Mark,
    ctx: ServiceContext = Depends(Permission("doses.mark")),
    session: Session = DB,
) -> dict[str, Any]:
    """Mark a planned dose held or missed, with the reason."""
    return plans.mark_dose(session, ctx, dose_id, body.status, body.reason)


@router.get("/doses/{dose_id}/rate-plan", responses=ERRORS)
def rate_plan(
    dose_id: int,
    start: time | None = Query(default=None, description="Clock time the infusion starts (HH:MM)."),
    protocol: Literal["standard", "shorter"] | None = Query(default=None),
    reaction_minute: float | None = Query(default=None, ge=0),
    reaction_grade: int | None = Query(default=None, ge=1, le=5),
    resume_minute: float | None = Query(default=None, ge=0),
    ctx: ServiceContext = READ,
    session: Session = DB,
) -> dict[str, Any]:
    """The dose's rate plan and pump program from the patient's own history; with a reaction
    (minute and CTCAE grade) the rest of the bag is re-planned."""
    reaction = None
    if reaction_grade is not None:
        reaction = ReactionInput(reaction_minute or 0.0, reaction_grade, resume_minute)
    return plans.dose_rate_plan(session, ctx, dose_id, start, protocol, reaction)
