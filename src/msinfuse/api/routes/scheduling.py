"""The week's scheduling proposal for a site (create, read, accept) and nurse shifts."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from msinfuse.api.paging import ListParams, Page, list_params, paginate
from msinfuse.api.routes.patients import ERRORS
from msinfuse.http.deps import DB, Permission
from msinfuse.services import scheduling
from msinfuse.services.context import ServiceContext
from msinfuse.services.scheduling import ShiftCreate

router = APIRouter(tags=["scheduling"])
PROPOSE = Depends(Permission("schedule.propose"))
SHIFTS = Depends(Permission("shifts.write"))

#: An API request waits for the solver: keep its time limit short.
API_TIME_LIMIT = 60.0


class ProposalCreate(BaseModel):
    """Propose a site's week (Monday to Friday of the week holding ``week``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    site: str = Field(min_length=1, max_length=20)
    week: date = Field(description="Any day of the week to propose (its Monday is used).")
    time_limit: float = Field(default=10.0, gt=0, le=API_TIME_LIMIT, description="Seconds.")
    allow_moves: bool = Field(
        default=False, description="Let the optimiser move existing booked appointments."
    )


@router.post(
    "/schedule/proposals", response_model=dict[str, Any], status_code=201, responses=ERRORS
)
def propose(body: ProposalCreate, ctx: ServiceContext = PROPOSE, session: Session = DB) -> Any:
    """Optimise the week's bookings from the records and store them as a proposal (nothing
    is booked until the proposal is accepted)."""
    proposal = scheduling.propose_week(
        session,
        ctx,
        body.site,
        body.week,
        time_limit=body.time_limit,
        allow_moves=body.allow_moves,
    )
    return proposal.as_dict()


@router.get("/schedule/proposals", response_model=Page[dict[str, Any]], responses=ERRORS)
def list_proposals(
    site: str | None = Query(default=None, max_length=20),
    page: ListParams = Depends(list_params),
    ctx: ServiceContext = PROPOSE,
    session: Session = DB,
) -> dict[str, Any]:
    """Stored proposals, newest first (without their bookings)."""
    return paginate(scheduling.list_proposals(session, ctx, site), page)


@router.get("/schedule/proposals/{proposal_id}", response_model=dict[str, Any], responses=ERRORS)
def get_proposal(proposal_id: int, ctx: ServiceContext = PROPOSE, session: Session = DB) -> Any:
    """A proposal with its bookings, moves, rejections (with reasons), objective terms,
    checker violations (none for a valid proposal) and findings."""
    return scheduling.get_proposal(session, ctx, proposal_id).as_dict()


@router.post(
    "/schedule/proposals/{proposal_id}/accept",
    response_model=dict[str, Any],
    responses=ERRORS,
)
def accept(
    proposal_id: int,
    ctx: ServiceContext = Depends(Permission("schedule.accept")),
    session: Session = DB,
) -> Any:
    """Write every booking of the proposal in one transaction; 409 when it is stale (the
    message names what changed) or accepted already."""
    return scheduling.accept_proposal(session, ctx, proposal_id)


@router.get("/schedule/shifts", response_model=Page[dict[str, Any]], responses=ERRORS)
def list_shifts(
    site: str = Query(max_length=20),
    start: date | None = Query(default=None, description="Default: today."),
    days: int = Query(default=7, ge=1, le=31),
    page: ListParams = Depends(list_params),
    ctx: ServiceContext = Depends(Permission("appointments.read")),
    session: Session = DB,
) -> dict[str, Any]:
    """Nurse shifts recorded at a site."""
    return paginate(scheduling.list_shifts(session, ctx, site, start or ctx.today, days), page)


@router.post("/schedule/shifts", response_model=dict[str, Any], status_code=201, responses=ERRORS)
def add_shift(body: ShiftCreate, ctx: ServiceContext = SHIFTS, session: Session = DB) -> Any:
    """Record a nurse shift."""
    return scheduling.add_shift(session, ctx, body)


@router.delete("/schedule/shifts/{shift_id}", response_model=dict[str, Any], responses=ERRORS)
def delete_shift(shift_id: int, ctx: ServiceContext = SHIFTS, session: Session = DB) -> Any:
    """Remove a recorded nurse shift."""
    return scheduling.delete_shift(session, ctx, shift_id)
