"""Patients' private calendar feeds: create, list and revoke the feed URLs (staff), and the
public feed itself (``GET /calendar/{token}.ics``, outside the API, the token is the key)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from msinfuse.api.routes.patients import ERRORS
from msinfuse.errors import NotFound
from msinfuse.http.deps import DB, Permission, runtime
from msinfuse.persistence.repositories import RecordId
from msinfuse.services import calendar_feed
from msinfuse.services.context import SYSTEM, ServiceContext

router = APIRouter(tags=["calendar feeds"])
MANAGE = Depends(Permission("feeds.manage"))
public_router = APIRouter()


@router.post("/patients/{patient_id}/calendar-feeds", status_code=201, responses=ERRORS)
def create_feed(
    patient_id: RecordId, ctx: ServiceContext = MANAGE, session: Session = DB
) -> dict[str, Any]:
    """A new private calendar URL for the patient (``path``; the token is shown once)."""
    return calendar_feed.create_feed(session, ctx, patient_id)


@router.get("/patients/{patient_id}/calendar-feeds", responses=ERRORS)
def list_feeds(
    patient_id: RecordId, ctx: ServiceContext = MANAGE, session: Session = DB
) -> list[dict[str, Any]]:
    """The patient's calendar feeds (tokens are never shown again)."""
    return calendar_feed.list_feeds(session, ctx, patient_id)


@router.post("/calendar-feeds/{feed_id}/revoke", responses=ERRORS)
def revoke_feed(
    feed_id: RecordId, ctx: ServiceContext = MANAGE, session: Session = DB
) -> dict[str, Any]:
    """Revoke a feed: its URL answers 404 from now on."""
    return calendar_feed.revoke_feed(session, ctx, feed_id)


@public_router.get("/calendar/{token}.ics", include_in_schema=False)
def feed(token: str, request: Request, session: Session = DB) -> Response:
    """The patient's calendar (iCalendar); 404 for an unknown or revoked token."""
    rt = runtime(request)
    now = rt.now()
    ctx = ServiceContext(
        rt.kb, SYSTEM, now.date(), now, request.client.host if request.client else None
    )
    try:
        body = calendar_feed.feed_calendar(session, ctx, token, ZoneInfo(rt.settings.timezone))
    except NotFound:
        return Response("calendar not found\n", status_code=404, media_type="text/plain")
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
