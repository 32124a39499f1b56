"""A patient's own calendar (iCalendar): planned infusions with the expected chair time from
the rate plan, monitoring due dates, and the visit preparation text of the handout.

Served at a private URL whose token staff create and revoke; only the token's SHA-256 hash
is stored. The feed names no patient (the URL may be shared by mistake): only the medicine,
the dates and the clinic's advice.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from icalendar import Calendar, Event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import msinfuse
from msinfuse.domain.provenance import DECISION_SUPPORT, label_refs
from msinfuse.errors import NotFound
from msinfuse.persistence import exchange as xrepo
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import (
    Appointment,
    AuditEvent,
    CalendarFeed,
    MonitoringDue,
    Patient,
    PlannedDose,
    TreatmentPlan,
    User,
)
from msinfuse.persistence.models.infusions import ACTIVE_APPOINTMENT_STATUSES
from msinfuse.services import audit
from msinfuse.services.appointments import chair_minutes_for_dose
from msinfuse.services.context import Actor, ServiceContext, require

FEED_PATH = "/calendar/{token}.ics"
MAX_DOSES = 24
FEED_ACTOR = Actor(None, "calendar-feed", "viewer")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _feed_json(feed: CalendarFeed) -> dict[str, Any]:
    return {
        "id": feed.id,
        "patient_id": feed.patient_id,
        "created_at": feed.created_at.isoformat() if feed.created_at else None,
        "revoked_at": feed.revoked_at.isoformat() if feed.revoked_at else None,
        "active": feed.revoked_at is None,
    }


def create_feed(session: Session, ctx: ServiceContext, patient_id: int) -> dict[str, Any]:
    """A new private feed URL for a patient; the token is shown this once."""
    require(ctx.actor, "feeds.manage")
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        patient_id=patient.id,
        token_hash=_hash(token),
        created_by=ctx.actor.user_id,
        created_at=ctx.now,
    )
    session.add(feed)
    session.flush()
    audit.record(session, ctx, "create", "CalendarFeed", feed.id)
    return {**_feed_json(feed), "token": token, "path": FEED_PATH.format(token=token)}


def list_feeds(session: Session, ctx: ServiceContext, patient_id: int) -> list[dict[str, Any]]:
    """A patient's feeds (without tokens), with who created each and when it was last read
    (from the audit trail: every read of a feed is audited)."""
    require(ctx.actor, "feeds.manage")
    repo.get_or_raise(session, Patient, patient_id, "patient")
    out = []
    for feed in xrepo.patient_feeds(session, patient_id):
        creator = session.get(User, feed.created_by) if feed.created_by is not None else None
        last_used = session.scalar(
            select(func.max(AuditEvent.at)).where(
                AuditEvent.resource_type == "CalendarFeed",
                AuditEvent.resource_id == str(feed.id),
                AuditEvent.action == "read",
            )
        )
        out.append(
            {
                **_feed_json(feed),
                "created_by": feed.created_by,
                "created_by_name": creator.username if creator else None,
                "last_used_at": last_used.isoformat() if last_used else None,
            }
        )
    return out


def revoke_feed(session: Session, ctx: ServiceContext, feed_id: int) -> dict[str, Any]:
    """Revoke a feed: its URL answers 404 from now on."""
    require(ctx.actor, "feeds.manage")
    feed = repo.get_or_raise(session, CalendarFeed, feed_id, "calendar feed")
    if feed.revoked_at is None:
        feed.revoked_at = ctx.now
    audit.record(session, ctx, "revoke", "CalendarFeed", feed.id)
    return _feed_json(feed)


def feed_calendar(session: Session, ctx: ServiceContext, token: str, tz: tzinfo) -> bytes:
    """The calendar behind a feed token (``NotFound`` when unknown or revoked)."""
    feed = xrepo.find_feed(session, _hash(token))
    if feed is None or feed.revoked_at is not None:
        raise NotFound("calendar not found")
    feed_ctx = ServiceContext(ctx.kb, FEED_ACTOR, ctx.today, ctx.now, ctx.client_address)
    audit.record(session, feed_ctx, "read", "CalendarFeed", feed.id)
    return build_calendar(session, feed_ctx, feed.patient_id, tz)


def patient_calendar(session: Session, ctx: ServiceContext, patient_id: int, tz: tzinfo) -> bytes:
    """A patient's calendar for staff (``msinfuse calendar-feed``)."""
    require(ctx.actor, "patients.read")
    audit.record(session, ctx, "calendar", "Patient", patient_id)
    return build_calendar(session, ctx, patient_id, tz)


def _hours(minutes: float) -> str:
    hours, rest = divmod(round(minutes), 60)
    if hours == 0:
        return f"{rest} minutes"
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def build_calendar(session: Session, ctx: ServiceContext, patient_id: int, tz: tzinfo) -> bytes:
    """The iCalendar document of one patient from today on."""
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    cal = Calendar()
    cal.add("prodid", f"-//msinfuse//{msinfuse.__version__}//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "My infusion calendar")
    stamp = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=tz)
    doses = session.scalars(
        select(PlannedDose)
        .where(
            PlannedDose.patient_id == patient.id,
            PlannedDose.status.in_(("planned", "scheduled")),
            PlannedDose.planned_on >= ctx.today,
        )
        .order_by(PlannedDose.planned_on, PlannedDose.id)
        .limit(MAX_DOSES)
    ).all()
    booked = {
        a.planned_dose_id: a
        for a in session.scalars(
            select(Appointment).where(
                Appointment.patient_id == patient.id,
                Appointment.status.in_(ACTIVE_APPOINTMENT_STATUSES),
                Appointment.planned_dose_id.is_not(None),
            )
        )
    }
    for dose in doses:
        cal.add_component(_dose_event(session, ctx, dose, booked.get(dose.id), tz, stamp))
    due = session.scalars(
        select(MonitoringDue)
        .where(MonitoringDue.patient_id == patient.id, MonitoringDue.due_on >= ctx.today)
        .order_by(MonitoringDue.due_on, MonitoringDue.id)
    ).all()
    for item in due:
        event = Event()
        event.add("uid", f"monitoring-{item.patient_id}-{item.item_id}-{item.agent}@msinfuse")
        event.add("dtstamp", stamp)
        event.add("summary", f"Due: {item.item}")
        event.add("dtstart", item.due_on)
        event.add("dtend", item.due_on + timedelta(days=1))
        event.add(
            "description",
            f"Monitoring for {item.agent}. Ask the clinic how to arrange it.\n\n"
            f"{DECISION_SUPPORT}\nSource: {item.source}",
        )
        event.add("categories", ["monitoring"])
        cal.add_component(event)
    return bytes(cal.to_ical())


def _dose_event(
    session: Session,
    ctx: ServiceContext,
    dose: PlannedDose,
    appointment: Appointment | None,
    tz: tzinfo,
    stamp: datetime,
) -> Event:
    plan = session.get(TreatmentPlan, dose.plan_id)
    agent = ctx.kb.agent(dose.agent)
    name = agent.name if agent else dose.agent
    minutes = chair_minutes_for_dose(session, ctx, dose)
    event = Event()
    event.add("uid", f"dose-{dose.id}@msinfuse")
    event.add("dtstamp", stamp)
    event.add("summary", f"{name} infusion")
    if appointment is not None:
        event.add("dtstart", appointment.starts_at.replace(tzinfo=tz))
        event.add("dtend", appointment.ends_at.replace(tzinfo=tz))
        when = "Your chair is booked for this time."
    else:
        day: date = dose.planned_on
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        when = "Not booked yet: the clinic will give you a time."
    lines = [when, f"Expected time in the infusion chair: about {_hours(minutes)}."]
    if agent is not None:
        lines += ["", agent.patient.visit]
        profile = plan.profile if plan else "us"
        revisions = "; ".join(str(r) for r in label_refs(agent, profile))  # type: ignore[arg-type]
        lines += ["", DECISION_SUPPORT, f"Label revisions: {revisions}"]
    event.add("description", "\n".join(lines))
    event.add("categories", ["infusion"])
    return event
