"""Pre-infusion checks: run and store, acknowledge warnings, override holds; infusions."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from msinfuse.api import schemas
from msinfuse.api.paging import ListParams, Page, list_params, paginate
from msinfuse.api.routes.patients import ERRORS
from msinfuse.http.deps import DB, Permission
from msinfuse.persistence.repositories import RecordId
from msinfuse.services import checks, infusions
from msinfuse.services.context import ServiceContext
from msinfuse.services.infusions import AdministrationCreate

router = APIRouter(tags=["checks and infusions"])
READ = Depends(Permission("patients.read"))


class CheckRun(BaseModel):
    """Run a pre-infusion check."""

    agent: str = Field(min_length=1, max_length=40)
    date: dt.date | None = None
    protocol: Literal["standard", "shorter"] = "standard"
    planned_infusion_minutes: float | None = Field(default=None, gt=0)
    planned_dose_id: RecordId | None = None


class Acknowledge(BaseModel):
    """Acknowledge a warning."""

    rule: str = Field(min_length=1, max_length=80)


class OverrideHold(BaseModel):
    """Override a hold (prescribers), with a reason."""

    rule: str = Field(min_length=1, max_length=80)
    reason: str = Field(min_length=1, max_length=2000)


@router.post(
    "/patients/{patient_id}/checks",
    response_model=schemas.StoredCheck,
    status_code=201,
    responses=ERRORS,
)
def run_check(
    patient_id: int,
    body: CheckRun,
    ctx: ServiceContext = Depends(Permission("checks.run")),
    session: Session = DB,
) -> dict[str, Any]:
    """Run the pre-infusion check and store it as shown."""
    return checks.run_check(
        session,
        ctx,
        patient_id,
        body.agent,
        body.date,
        body.protocol,
        body.planned_infusion_minutes,
        body.planned_dose_id,
    )


@router.get(
    "/patients/{patient_id}/checks", response_model=Page[schemas.StoredCheck], responses=ERRORS
)
def list_checks(
    patient_id: int,
    page: ListParams = Depends(list_params),
    ctx: ServiceContext = READ,
    session: Session = DB,
) -> dict[str, Any]:
    """A patient's stored checks, newest first unless sorted."""
    return paginate(checks.checks_for_patient(session, ctx, patient_id), page)


@router.get("/checks/{check_id}", response_model=schemas.StoredCheck, responses=ERRORS)
def get_check(check_id: int, ctx: ServiceContext = READ, session: Session = DB) -> dict[str, Any]:
    """A stored check with its acknowledgements and overrides."""
    return checks.get_check(session, ctx, check_id)


@router.post("/checks/{check_id}/acknowledge", response_model=schemas.StoredCheck, responses=ERRORS)
def acknowledge(
    check_id: int,
    body: Acknowledge,
    ctx: ServiceContext = Depends(Permission("checks.acknowledge")),
    session: Session = DB,
) -> dict[str, Any]:
    """Acknowledge one warning."""
    return checks.acknowledge(session, ctx, check_id, body.rule)


@router.post("/checks/{check_id}/override", response_model=schemas.StoredCheck, responses=ERRORS)
def override(
    check_id: int,
    body: OverrideHold,
    ctx: ServiceContext = Depends(Permission("checks.override")),
    session: Session = DB,
) -> dict[str, Any]:
    """Override one hold (prescribers only), with a recorded reason."""
    return checks.override(session, ctx, check_id, body.rule, body.reason)


@router.post(
    "/patients/{patient_id}/administrations",
    response_model=schemas.AdministrationRecorded,
    status_code=201,
    responses=ERRORS,
)
def record_administration(
    patient_id: int,
    body: AdministrationCreate,
    ctx: ServiceContext = Depends(Permission("administrations.write")),
    session: Session = DB,
) -> dict[str, Any]:
    """Record an infusion with its rate events, premedication, vital signs and reactions."""
    return infusions.record_administration(session, ctx, patient_id, body)


@router.get("/administrations/{administration_id}", responses=ERRORS)
def get_administration(
    administration_id: int, ctx: ServiceContext = READ, session: Session = DB
) -> dict[str, Any]:
    """An infusion with its rate events, premedication, vital signs and reactions."""
    return infusions.get_administration(session, ctx, administration_id)
