"""The knowledge base, and the stateless engines (calendar, rates, PML risk, checks on a
posted patient state)."""

from __future__ import annotations

import datetime as dt
from datetime import date, time
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

from msinfuse.api.paging import ListParams, Page, list_params, paginate
from msinfuse.api.routes.patients import ERRORS
from msinfuse.domain.calendar import CalendarRequest, GivenDose
from msinfuse.domain.rates import RateRequest
from msinfuse.domain.safety import CheckRequest
from msinfuse.http.deps import Permission
from msinfuse.services import clinical, engines, handouts
from msinfuse.services import knowledge as kb_service
from msinfuse.services.context import ServiceContext
from msinfuse.services.engines import ReactionInput
from msinfuse.services.patient_state import PatientStateIn

router = APIRouter(tags=["knowledge and engines"])
KNOWLEDGE = Depends(Permission("knowledge.read"))
Profile = Literal["us", "eu"]


@router.get("/knowledge/agents", response_model=Page[dict[str, Any]], responses=ERRORS)
def agents(
    all_: bool = Query(default=False, alias="all"),
    profile: Profile = "us",
    page: ListParams = Depends(list_params),
    ctx: ServiceContext = KNOWLEDGE,
) -> dict[str, Any]:
    """The infusion agents (``all=true`` adds the non-infusion alternatives)."""
    return paginate(kb_service.list_agents(ctx.kb, profile, all_), page)


@router.get("/knowledge/agents/{agent}", responses=ERRORS)
def agent(agent: str, profile: Profile = "us", ctx: ServiceContext = KNOWLEDGE) -> dict[str, Any]:
    """Everything known about one agent under a profile, with citations."""
    return kb_service.agent_detail(ctx.kb, agent, profile)


@router.get(
    "/knowledge/agents/{agent}/handout",
    responses={**ERRORS, 200: {"content": {"text/html": {}, "text/markdown": {}}}},
)
def handout(
    agent: str,
    format_: Literal["html", "md"] = Query(default="html", alias="format"),
    profile: Profile = "us",
    ctx: ServiceContext = KNOWLEDGE,
) -> Any:
    """The printable patient handout."""
    text = handouts.render_handout(ctx.kb, agent, profile, format_)
    if format_ == "html":
        return HTMLResponse(text)
    return PlainTextResponse(text, media_type="text/markdown")


@router.get("/knowledge/compare", responses=ERRORS)
def compare(
    agents: str = Query(min_length=1, max_length=200, description="Comma-separated agent ids."),
    profile: Profile = "us",
    ctx: ServiceContext = KNOWLEDGE,
) -> dict[str, Any]:
    """Agents side by side."""
    return kb_service.compare_agents(
        ctx.kb, [a.strip() for a in agents.split(",") if a.strip()], profile
    )


@router.get("/knowledge/sources", response_model=Page[dict[str, Any]], responses=ERRORS)
def sources(
    page: ListParams = Depends(list_params), ctx: ServiceContext = KNOWLEDGE
) -> dict[str, Any]:
    """Every cited source."""
    return paginate(kb_service.list_sources(ctx.kb), page)


class Given(BaseModel):
    """A dose given."""

    date: date
    dose_mg: float | None = Field(default=None, gt=0)


class CalendarBody(BaseModel):
    """A dose-calendar request."""

    agent: str
    start: date
    today: date | None = None
    regimen: str | None = None
    profile: Profile = "us"
    given: list[Given] = []
    count: int = Field(default=4, ge=0, le=60)
    height_cm: float | None = Field(default=None, gt=0)
    weight_kg: float | None = Field(default=None, gt=0)
    prior_cumulative_mg_per_m2: float = Field(default=0.0, ge=0)


@router.post("/engines/calendar", responses=ERRORS)
def calendar(body: CalendarBody, ctx: ServiceContext = KNOWLEDGE) -> dict[str, Any]:
    """A dose calendar from explicit inputs."""
    return engines.dose_calendar(
        ctx.kb,
        CalendarRequest(
            body.agent,
            body.start,
            body.today or ctx.today,
            body.regimen,
            body.profile,
            tuple(GivenDose(g.date, g.dose_mg) for g in body.given),
            body.count,
            body.height_cm,
            body.weight_kg,
            body.prior_cumulative_mg_per_m2,
        ),
    )


class RatesBody(BaseModel):
    """A rate-plan request."""

    agent: str
    infusion: int = Field(ge=1, le=500)
    profile: Profile = "us"
    protocol: Literal["standard", "shorter"] = "standard"
    regimen: str | None = None
    dose_mg: float | None = Field(default=None, gt=0)
    volume_ml: float | None = Field(default=None, gt=0)
    prior_reaction_grades: list[int] = []
    start: time | None = None
    reaction_minute: float | None = Field(default=None, ge=0)
    reaction_grade: int | None = Field(default=None, ge=1, le=5)
    resume_minute: float | None = Field(default=None, ge=0)


@router.post("/engines/rates", responses=ERRORS)
def rates(body: RatesBody, ctx: ServiceContext = KNOWLEDGE) -> dict[str, Any]:
    """A rate plan (and a re-plan after a reaction) from explicit inputs."""
    reaction = (
        ReactionInput(body.reaction_minute or 0.0, body.reaction_grade, body.resume_minute)
        if body.reaction_grade
        else None
    )
    return engines.rate_plan(
        ctx.kb,
        RateRequest(
            body.agent,
            body.infusion,
            body.profile,
            body.protocol,
            body.regimen,
            body.dose_mg,
            body.volume_ml,
            tuple(body.prior_reaction_grades),
            body.start,
        ),
        reaction,
    )


@router.get("/engines/pml-risk", responses=ERRORS)
def pml_risk(
    jcv: Literal["positive", "negative"],
    months: int = Query(ge=0, le=1000),
    index: float | None = Query(default=None, ge=0),
    prior_is: bool = False,
    ctx: ServiceContext = KNOWLEDGE,
) -> dict[str, Any]:
    """PML risk from explicit risk factors."""
    return clinical.pml_from_factors(ctx.kb, jcv, index, months, prior_is)


class CheckBody(BaseModel):
    """A pre-infusion check on a posted patient state (nothing is stored)."""

    state: PatientStateIn
    agent: str
    date: dt.date | None = None
    profile: Profile = "us"
    protocol: Literal["standard", "shorter"] = "standard"
    planned_infusion_minutes: float | None = Field(default=None, gt=0)


@router.post("/engines/check", responses=ERRORS)
def check(
    body: CheckBody, ctx: ServiceContext = Depends(Permission("checks.run"))
) -> dict[str, Any]:
    """Check a posted patient state (see docs/patient-state.md) without storing anything."""
    from msinfuse.services.patient_state import parse_patient_state

    state = parse_patient_state(body.state.model_dump(mode="json"), ctx.kb)
    request = CheckRequest(
        body.agent,
        body.date or ctx.today,
        body.profile,
        body.protocol,
        body.planned_infusion_minutes,
    )
    return clinical.run_check(ctx.kb, state, request)
