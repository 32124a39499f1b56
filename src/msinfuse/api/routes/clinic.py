"""Appointments, sites and chairs, worklists."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from msinfuse.api import schemas
from msinfuse.api.paging import ListParams, Page, list_params, paginate
from msinfuse.api.routes.patients import ERRORS
from msinfuse.http.deps import DB, Permission
from msinfuse.persistence.repositories import RecordId
from msinfuse.services import appointments, clinic, csv_export, worklists
from msinfuse.services.appointments import AppointmentCreate
from msinfuse.services.clinic import SiteCreate
from msinfuse.services.context import ServiceContext

router = APIRouter(tags=["clinic"])
WORKLISTS = Depends(Permission("worklists.read"))
BOOK = Depends(Permission("appointments.write"))
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def _listing(
    kind: str, rows: list[dict[str, Any]], page: ListParams, fmt: str, ctx: ServiceContext
) -> Any:
    """A page of rows, or all rows as a CSV download."""
    if fmt != "csv":
        return paginate(rows, page)
    name = csv_export.filename(kind, ctx.today.isoformat())
    return Response(
        csv_export.to_csv(kind, rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            **csv_export.provenance_headers(ctx.kb),
        },
    )


class Move(BaseModel):
    """Move an appointment."""

    starts_at: datetime | None = None
    chair_id: RecordId | None = None


class Cancel(BaseModel):
    """Cancel an appointment."""

    reason: str = Field(min_length=1, max_length=1000)


@router.get("/appointments", response_model=Page[schemas.Appointment], responses=ERRORS)
def list_appointments(
    on: date | None = Query(default=None, alias="date"),
    days: int = Query(default=1, ge=1, le=31),
    site: str | None = Query(default=None, max_length=20),
    page: ListParams = Depends(list_params),
    ctx: ServiceContext = Depends(Permission("appointments.read")),
    session: Session = DB,
) -> dict[str, Any]:
    """Active appointments of one or more days, by start time and chair."""
    day = on or ctx.today
    return paginate(
        appointments.list_day(session, ctx, datetime.combine(day, datetime.min.time()), site, days),
        page,
    )


@router.post("/appointments", response_model=schemas.Appointment, status_code=201, responses=ERRORS)
def book(
    body: AppointmentCreate, ctx: ServiceContext = BOOK, session: Session = DB
) -> dict[str, Any]:
    """Book a chair; without ``ends_at`` the chair time comes from the dose's rate plan."""
    return appointments.book(session, ctx, body)


@router.patch(
    "/appointments/{appointment_id}", response_model=schemas.Appointment, responses=ERRORS
)
def move(
    appointment_id: int,
    body: Move,
    ctx: ServiceContext = BOOK,
    session: Session = DB,
) -> dict[str, Any]:
    """Move an appointment in time or to another chair."""
    return appointments.move(session, ctx, appointment_id, body.starts_at, body.chair_id)


@router.post(
    "/appointments/{appointment_id}/cancel", response_model=schemas.Appointment, responses=ERRORS
)
def cancel(
    appointment_id: int,
    body: Cancel,
    ctx: ServiceContext = BOOK,
    session: Session = DB,
) -> dict[str, Any]:
    """Cancel an appointment, with the reason."""
    return appointments.cancel(session, ctx, appointment_id, body.reason)


@router.get("/sites", response_model=Page[schemas.Site], responses=ERRORS)
def list_sites(
    page: ListParams = Depends(list_params),
    ctx: ServiceContext = Depends(Permission("appointments.read")),
    session: Session = DB,
) -> dict[str, Any]:
    """Sites and their chairs."""
    return paginate(clinic.list_sites(session, ctx), page)


@router.post("/sites", response_model=schemas.Site, status_code=201, responses=ERRORS)
def create_site(
    body: SiteCreate,
    ctx: ServiceContext = Depends(Permission("sites.manage")),
    session: Session = DB,
) -> dict[str, Any]:
    """Create a site with its chairs."""
    return clinic.create_site(session, ctx, body)


@router.get(
    "/worklists/today",
    response_model=Page[dict[str, Any]],
    responses={**ERRORS, **CSV_RESPONSE},
)
def today(
    on: date | None = Query(default=None, alias="date"),
    site: str | None = Query(default=None, max_length=20),
    page: ListParams = Depends(list_params),
    fmt: str = Query(default="json", alias="format", pattern="^(json|csv)$"),
    ctx: ServiceContext = WORKLISTS,
    session: Session = DB,
) -> Any:
    """The day's infusions per site and chair, with each patient's check decision."""
    return _listing("today", worklists.today(session, ctx, on, site), page, fmt, ctx)


@router.get(
    "/worklists/due",
    response_model=Page[dict[str, Any]],
    responses={**ERRORS, **CSV_RESPONSE},
)
def due(
    on: date | None = Query(default=None, alias="date"),
    days: int = Query(default=14, ge=0, le=366),
    site: str | None = Query(default=None, max_length=20),
    page: ListParams = Depends(list_params),
    fmt: str = Query(default="json", alias="format", pattern="^(json|csv)$"),
    ctx: ServiceContext = WORKLISTS,
    session: Session = DB,
) -> Any:
    """Doses overdue or due within ``days`` that have no appointment."""
    return _listing("due", worklists.due(session, ctx, on, days, site), page, fmt, ctx)


@router.get(
    "/worklists/monitoring",
    response_model=Page[dict[str, Any]],
    responses={**ERRORS, **CSV_RESPONSE},
)
def monitoring(
    on: date | None = Query(default=None, alias="date"),
    site: str | None = Query(default=None, max_length=20),
    page: ListParams = Depends(list_params),
    fmt: str = Query(default="json", alias="format", pattern="^(json|csv)$"),
    ctx: ServiceContext = WORKLISTS,
    session: Session = DB,
) -> Any:
    """Monitoring items overdue or due clinic-wide."""
    return _listing("monitoring", worklists.monitoring_due(session, ctx, on, site), page, fmt, ctx)


@router.get(
    "/worklists/pml",
    response_model=Page[dict[str, Any]],
    responses={**ERRORS, **CSV_RESPONSE},
)
def pml(
    site: str | None = Query(default=None, max_length=20),
    page: ListParams = Depends(list_params),
    fmt: str = Query(default="json", alias="format", pattern="^(json|csv)$"),
    ctx: ServiceContext = WORKLISTS,
    session: Session = DB,
) -> Any:
    """Natalizumab patients by PML risk."""
    return _listing("pml", worklists.pml(session, ctx, site), page, fmt, ctx)


@router.get(
    "/worklists/adherence",
    response_model=Page[dict[str, Any]],
    responses={**ERRORS, **CSV_RESPONSE},
)
def adherence(
    start: date | None = Query(default=None, alias="from"),
    end: date | None = Query(default=None, alias="to"),
    site: str | None = Query(default=None, max_length=20),
    page: ListParams = Depends(list_params),
    fmt: str = Query(default="json", alias="format", pattern="^(json|csv)$"),
    ctx: ServiceContext = WORKLISTS,
    session: Session = DB,
) -> Any:
    """Doses given late and by how many days, per agent and month."""
    return _listing(
        "adherence", worklists.adherence(session, ctx, start, end, site), page, fmt, ctx
    )
