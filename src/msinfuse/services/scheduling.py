"""The week's chair and nurse schedule for a site, from the clinic's records.

``propose_week`` builds a scheduling :class:`~msinfuse.domain.scheduling.Instance` from the
records (due doses without an appointment, the week's existing appointments, each dose's
chair time from the patient's own rate plan and reaction history, the site's chairs and
hours, the recorded nurse shifts), solves it (CP-SAT with a time limit, never worse than the
best greedy schedule), checks the result with the independent checker and stores it as a
proposal. ``accept_proposal`` writes every booking of a proposal in one transaction, or none
when the appointments, doses or shifts it was computed from have changed since.

Conventions (documented in ``docs/scheduling.md``, "In the clinic"):

- the week is Monday to Friday of the week holding ``week_start``; days before today are
  not offered to new bookings;
- a dose may go on the days between ``max(earliest date, planned - early days, today)`` and
  ``planned + late days`` (``kb.clinic.schedule_*``, clinic policy); an overdue dose may go on
  any remaining day of the week, the earlier the better;
- doses of one course on consecutive course days (alemtuzumab, methylprednisolone) form a
  series: consecutive business days at this site, all or none;
- times are 5-minute units; new visits start on the 15-minute grid and last the rate plan's
  chair time rounded up to 5 minutes; an existing appointment off the grid is modelled from
  the grid point before it, so it never takes less room than it has;
- every active chair (or bed) of the site is a chair; a site-day without a recorded nurse
  shift gets the default roster of ``kb.clinic.schedule_default_nurses_extra`` and says so.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from msinfuse.domain import scheduling as sch
from msinfuse.domain.knowledge.facts import Fact
from msinfuse.domain.provenance import DECISION_SUPPORT, LabelRef
from msinfuse.errors import Conflict, InvalidInput, MsinfuseError, NotFound
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import (
    Appointment,
    Chair,
    NurseShift,
    Patient,
    PlannedDose,
    ScheduleProposal,
    Site,
    TreatmentPlan,
)
from msinfuse.persistence.models.infusions import ACTIVE_APPOINTMENT_STATUSES
from msinfuse.persistence.repositories import RecordId
from msinfuse.services import audit
from msinfuse.services.appointments import rate_plan_for_dose
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.validation import validate

WEEK_DAYS = 5
"""Monday to Friday: the business days of a proposal week."""
DUE_STATUSES = ("planned", "missed")
MAX_TIME_LIMIT = 600.0
UNIT = sch.UNIT_MIN


# ------------------------------------------------------------------------------ nurse shifts


class ShiftCreate(BaseModel):
    """A nurse shift at a site on a day, with an optional break."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    site: str = Field(min_length=1, max_length=20)
    day: date
    starts: time
    ends: time
    break_starts: time | None = None
    user_id: RecordId | None = None

    @model_validator(mode="after")
    def _order(self) -> ShiftCreate:
        if self.ends <= self.starts:
            raise ValueError("a shift must end after it starts")
        if self.break_starts is not None and not self.starts <= self.break_starts < self.ends:
            raise ValueError("the break must start within the shift")
        return self


def shift_json(session: Session, row: NurseShift) -> dict[str, Any]:
    """A nurse shift as JSON."""
    site = session.get(Site, row.site_id)
    return {
        "id": row.id,
        "site": site.code if site else None,
        "day": row.day.isoformat(),
        "starts": row.starts.strftime("%H:%M"),
        "ends": row.ends.strftime("%H:%M"),
        "break_starts": row.break_starts.strftime("%H:%M") if row.break_starts else None,
        "user_id": row.user_id,
    }


def _site(session: Session, code: str) -> Site:
    site = repo.find_site(session, code)
    if site is None:
        raise NotFound(f"unknown site {code!r}")
    return site


def add_shift(
    session: Session, ctx: ServiceContext, data: ShiftCreate | dict[str, Any]
) -> dict[str, Any]:
    """Record a nurse shift."""
    require(ctx.actor, "shifts.write")
    body: ShiftCreate = validate(ShiftCreate, data)
    site = _site(session, body.site)
    row = NurseShift(
        site_id=site.id,
        user_id=body.user_id,
        day=body.day,
        starts=body.starts,
        ends=body.ends,
        break_starts=body.break_starts,
    )
    session.add(row)
    session.flush()
    audit.record(session, ctx, "create", "NurseShift", row.id)
    return shift_json(session, row)


def list_shifts(
    session: Session, ctx: ServiceContext, site: str, start: date, days: int = 7
) -> list[dict[str, Any]]:
    """The nurse shifts recorded at a site for ``days`` days from ``start``."""
    require(ctx.actor, "appointments.read")
    if not 1 <= days <= 31:
        raise InvalidInput("days must be between 1 and 31")
    found = _site(session, site)
    rows = _shift_rows(session, found.id, start, start + timedelta(days=days))
    return [shift_json(session, r) for r in rows]


def delete_shift(session: Session, ctx: ServiceContext, shift_id: int) -> dict[str, Any]:
    """Remove a recorded nurse shift; returns it as it was."""
    require(ctx.actor, "shifts.write")
    row = repo.get_or_raise(session, NurseShift, shift_id, "nurse shift")
    out = shift_json(session, row)
    session.delete(row)
    session.flush()
    audit.record(session, ctx, "delete", "NurseShift", shift_id)
    return out


def _shift_rows(session: Session, site_id: int, start: date, end: date) -> list[NurseShift]:
    return list(
        session.scalars(
            select(NurseShift)
            .where(NurseShift.site_id == site_id, NurseShift.day >= start, NurseShift.day < end)
            .order_by(NurseShift.day, NurseShift.starts, NurseShift.id)
        )
    )


# --------------------------------------------------------------------------------- proposal


@dataclass
class Proposal:
    """A stored week proposal, JSON-ready through :meth:`as_dict`."""

    id: int
    site: str
    week_start: date
    status: str
    allow_moves: bool
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def bookings(self) -> list[dict[str, Any]]:
        """New bookings: patient, dose, chair, start and end."""
        return list(self.data.get("bookings", []))

    @property
    def moves(self) -> list[dict[str, Any]]:
        """Existing appointments the proposal moves (only when moves were allowed)."""
        return list(self.data.get("moves", []))

    @property
    def rejections(self) -> list[dict[str, Any]]:
        """Due doses the proposal does not book, each with its reason."""
        return list(self.data.get("rejections", []))

    @property
    def violations(self) -> list[str]:
        """What the independent checker found (empty for a valid proposal)."""
        return list(self.data.get("violations", []))

    def as_dict(self) -> dict[str, Any]:
        """The proposal as JSON."""
        return {
            "id": self.id,
            "site": self.site,
            "week_start": self.week_start.isoformat(),
            "status": self.status,
            "allow_moves": self.allow_moves,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            **self.data,
        }


def _proposal(session: Session, row: ScheduleProposal) -> Proposal:
    site = session.get(Site, row.site_id)
    return Proposal(
        row.id,
        site.code if site else "",
        row.week_start,
        row.status,
        row.allow_moves,
        row.created_at,
        dict(row.payload),
    )


def get_proposal(session: Session, ctx: ServiceContext, proposal_id: int) -> Proposal:
    """A stored proposal."""
    require(ctx.actor, "schedule.propose")
    row = repo.get_or_raise(session, ScheduleProposal, proposal_id, "proposal")
    return _proposal(session, row)


def list_proposals(
    session: Session, ctx: ServiceContext, site: str | None = None
) -> list[dict[str, Any]]:
    """Stored proposals, newest first, without their bookings."""
    require(ctx.actor, "schedule.propose")
    query = select(ScheduleProposal).order_by(ScheduleProposal.id.desc())
    if site is not None:
        query = query.where(ScheduleProposal.site_id == _site(session, site).id)
    out = []
    for row in session.scalars(query):
        data = _proposal(session, row).as_dict()
        out.append({k: v for k, v in data.items() if k not in ("bookings", "moves", "fixed")})
    return out


def monday_of(day: date) -> date:
    """The Monday of the week holding ``day``."""
    return day - timedelta(days=day.weekday())


@dataclass
class _Visit:
    """One request of the instance and what it stands for in the records."""

    request: sch.Request
    kind: str  # "dose" (new booking), "move" (existing, may move), "fixed"
    patient_id: int
    dose_id: int | None = None
    appointment_id: int | None = None
    agent: str | None = None
    dose_number: int | None = None
    chair_minutes: float | None = None
    chair_id: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass
class _Build:
    """The instance under construction and what the proposal reports besides the schedule."""

    site: Site
    days: list[date]
    chairs: list[Chair]
    visits: dict[str, _Visit] = field(default_factory=dict)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[tuple[str, str, str, str], None] = field(default_factory=dict)
    policies: dict[str, None] = field(default_factory=dict)
    snapshot: dict[str, Any] = field(default_factory=dict)


def _units(moment: time) -> int:
    return (moment.hour * 60 + moment.minute) // UNIT


def _policy(build: _Build, fact: Fact, what: str, value: object) -> None:
    """Report a clinic-policy value the proposal rests on (once)."""
    if what in build.policies:
        return
    build.policies[what] = None
    build.findings.append(
        {
            "severity": "info",
            "rule": "schedule.policy",
            "message": f"Clinic policy ({fact.status}): {what} = {value}.",
            "source": "; ".join(f"{c.source} §{c.section} rev {c.revision}" for c in fact.cite),
        }
    )


def _phases(
    total: int, setup_min: float, premed_min: float, obs_min: float, disc_min: float
) -> sch.Phases:
    """Chair time of ``total`` units split into phases; the infusion takes what is left."""
    setup = max(1, round(setup_min / UNIT))
    disc = max(0, round(disc_min / UNIT))
    premed = max(0, round(premed_min / UNIT))
    obs = max(0, round(obs_min / UNIT))
    while setup + premed + obs + disc > total and (premed or obs):
        if obs:
            obs -= 1
        else:
            premed -= 1
    if setup + disc > total:
        setup, disc = 1, max(0, min(disc, total - 1))
    return sch.Phases(setup, premed, total - setup - premed - obs - disc, obs, disc)


def _dose_window(
    ctx: ServiceContext, dose: PlannedDose, days: list[date], include: date | None = None
) -> tuple[int, ...]:
    """Day indices of the week a dose may go on (clinic window policy)."""
    clinic = ctx.kb.clinic
    lo = max(dose.earliest_on, dose.planned_on - timedelta(days=clinic.schedule_early_days.value))
    first_open = max(days[0], ctx.today)
    if dose.planned_on < first_open:  # overdue: as soon as possible, any day left this week
        hi = days[-1]
    else:
        hi = dose.planned_on + timedelta(days=clinic.schedule_late_days.value)
    allowed = {i for i, d in enumerate(days) if max(lo, first_open) <= d <= hi}
    if include is not None and include in days:
        allowed.add(days.index(include))
    return tuple(sorted(allowed))


def _due_day(dose: PlannedDose, days: list[date], allowed: tuple[int, ...]) -> int:
    """The allowed day closest to the planned date (the first one for an overdue dose)."""
    return min(allowed, key=lambda i: (abs((days[i] - dose.planned_on).days), i))


def _week_appointments(session: Session, site_id: int, days: list[date]) -> list[Appointment]:
    start = datetime.combine(days[0], time(0))
    end = datetime.combine(days[-1] + timedelta(days=1), time(0))
    return list(repo.appointments_between(session, start, end, site_id))


def _due_doses(session: Session, site: Site, days: list[date], ctx: ServiceContext) -> list[Any]:
    """Doses of active plans of the site's patients (or patients without a home site) whose
    window may reach into the week and that have no active appointment."""
    booked = (
        select(Appointment.id)
        .where(
            Appointment.planned_dose_id == PlannedDose.id,
            Appointment.status.in_(ACTIVE_APPOINTMENT_STATUSES),
        )
        .exists()
    )
    early = timedelta(days=ctx.kb.clinic.schedule_early_days.value)
    query = (
        select(PlannedDose, TreatmentPlan)
        .join(TreatmentPlan, TreatmentPlan.id == PlannedDose.plan_id)
        .join(Patient, Patient.id == PlannedDose.patient_id)
        .where(
            PlannedDose.status.in_(DUE_STATUSES),
            PlannedDose.earliest_on <= days[-1],
            PlannedDose.planned_on <= days[-1] + early,
            TreatmentPlan.status == "active",
            or_(Patient.home_site_id == site.id, Patient.home_site_id.is_(None)),
            ~booked,
        )
        .order_by(PlannedDose.planned_on, PlannedDose.id)
    )
    return list(session.execute(query).all())


def _rate_phases(
    session: Session, ctx: ServiceContext, build: _Build, dose: PlannedDose
) -> tuple[sch.Phases, float]:
    plan = rate_plan_for_dose(session, ctx, dose)
    for ref in plan.labels:
        build.labels[_label_key(ref)] = None
    total = math.ceil(plan.chair_minutes / UNIT - 1e-9)
    phases = _phases(
        total,
        plan.setup_minutes,
        plan.premedication_lead_minutes,
        plan.observation_minutes,
        plan.disconnection_minutes,
    )
    return phases, plan.chair_minutes


def _label_key(ref: LabelRef) -> tuple[str, str, str, str]:
    return (ref.agent, ref.document, ref.revision, ref.status)


def _series_groups(rows: list[Any]) -> list[list[Any]]:
    """Due doses grouped: each run of consecutive course days of one plan's course is one
    group (a series when longer than one), every other dose a group of its own."""
    by_course: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for row in rows:
        by_course[(row[0].plan_id, row[0].course)].append(row)
    groups: list[list[Any]] = []
    for members in by_course.values():
        members.sort(key=lambda r: (r[0].course_day, r[0].id))
        run: list[Any] = []
        for row in members:
            if run and row[0].course_day != run[-1][0].course_day + 1:
                groups.append(run)
                run = []
            run.append(row)
        groups.append(run)
    groups.sort(key=lambda g: (g[0][0].planned_on, g[0][0].id))
    return groups


def _add_doses(session: Session, ctx: ServiceContext, build: _Build) -> None:
    site_id = build.site.code
    rank = 0
    for group in _series_groups(_due_doses(session, build.site, build.days, ctx)):
        first: PlannedDose = group[0][0]
        allowed = _dose_window(ctx, first, build.days)
        length = len(group)
        starts = tuple(d for d in allowed if d + length - 1 < len(build.days))
        if not allowed:
            continue  # not due this week
        if not starts:
            for row in group:
                build.rejections.append(
                    _rejection(
                        row[0],
                        f"the course's {length} consecutive days do not fit in this week "
                        "from its earliest allowed day",
                    )
                )
            continue
        try:
            planned = [_rate_phases(session, ctx, build, row[0]) for row in group]
        except MsinfuseError as exc:
            for row in group:
                build.rejections.append(_rejection(row[0], f"no rate plan: {exc}"))
            continue
        sid = f"S{first.id}" if length > 1 else None
        due = _due_day(first, build.days, starts)
        for k, (row, (phases, minutes)) in enumerate(zip(group, planned, strict=True)):
            dose: PlannedDose = row[0]
            rank += 1
            request = sch.Request(
                id=f"D{dose.id}",
                patient=f"P{dose.patient_id}",
                type=dose.agent,
                sites=(site_id,),
                home=site_id,
                days=tuple(d + k for d in starts),
                due_day=due + k,
                pref=(_units(build.site.opens), _units(build.site.closes)),
                ondemand=False,
                booking_rank=rank,
                series=None if sid is None else sch.Series(sid, k, length),
                phases=phases,
            )
            build.visits[request.id] = _Visit(
                request,
                "dose",
                dose.patient_id,
                dose_id=dose.id,
                agent=dose.agent,
                dose_number=dose.number,
                chair_minutes=minutes,
            )


def _rejection(dose: PlannedDose, reason: str) -> dict[str, Any]:
    return {
        "dose_id": dose.id,
        "patient_id": dose.patient_id,
        "agent": dose.agent,
        "dose_number": dose.number,
        "planned_on": dose.planned_on.isoformat(),
        "earliest_on": dose.earliest_on.isoformat(),
        "reason": reason,
    }


def _add_appointments(
    session: Session, ctx: ServiceContext, build: _Build, allow_moves: bool
) -> None:
    site_code = build.site.code
    kb = ctx.kb.clinic
    for appt in _week_appointments(session, build.site.id, build.days):
        day = appt.starts_at.date()
        if day not in build.days:
            build.findings.append(
                {
                    "severity": "info",
                    "rule": "schedule.weekend-appointment",
                    "message": f"Appointment {appt.id} falls on a weekend and is left as it is.",
                }
            )
            continue
        dose = session.get(PlannedDose, appt.planned_dose_id) if appt.planned_dose_id else None
        movable = (
            allow_moves
            and appt.status == "booked"
            and dose is not None
            and day >= ctx.today
            and appt.starts_at.date() > ctx.today
        )
        start_min = appt.starts_at.hour * 60 + appt.starts_at.minute
        end_min = start_min + math.ceil((appt.ends_at - appt.starts_at).total_seconds() / 60)
        if movable and dose is not None:
            phases, minutes = _rate_phases(session, ctx, build, dose)
            allowed = _dose_window(ctx, dose, build.days, include=day)
            window = None
            days = tuple(i for i in allowed if build.days[i] > ctx.today) or (
                build.days.index(day),
            )
            kind = "move"
        else:
            start_u = start_min // (UNIT * sch.GRID) * sch.GRID
            total = math.ceil(end_min / UNIT) - start_u
            phases = _phases(
                total, kb.setup_minutes.value, 0.0, 0.0, kb.disconnection_minutes.value
            )
            minutes = float(end_min - start_min)
            window = (start_u, start_u)
            days = (build.days.index(day),)
            kind = "fixed"
        request = sch.Request(
            id=f"A{appt.id}",
            patient=f"P{appt.patient_id}",
            type=dose.agent if dose is not None else "appointment",
            sites=(site_code,),
            home=site_code,
            days=days,
            due_day=build.days.index(day),
            pref=(_units(build.site.opens), _units(build.site.closes)),
            ondemand=False,
            booking_rank=0,
            window=window,
            phases=phases,
        )
        build.visits[request.id] = _Visit(
            request,
            kind,
            appt.patient_id,
            dose_id=appt.planned_dose_id,
            appointment_id=appt.id,
            agent=dose.agent if dose is not None else None,
            dose_number=dose.number if dose is not None else None,
            chair_minutes=minutes,
            chair_id=appt.chair_id,
            starts_at=appt.starts_at,
            ends_at=appt.ends_at,
        )


def _roster(ctx: ServiceContext, build: _Build) -> tuple[tuple[sch.Nurse, ...], int]:
    """Recorded shifts for each day, the default roster where none is recorded."""
    clinic = ctx.kb.clinic
    site = build.site
    brk = math.ceil(clinic.schedule_nurse_break_minutes.value / UNIT)
    open_u, close_u = _units(site.opens), _units(site.closes)
    by_day: dict[date, list[NurseShift]] = defaultdict(list)
    for row in build.snapshot["shift_rows"]:
        by_day[row.day].append(row)
    nurses: list[sch.Nurse] = []
    defaulted: list[str] = []
    extra = clinic.schedule_default_nurses_extra.value
    count = math.ceil(len(build.chairs) / max(1, site.nurse_ratio)) + extra
    for i, day in enumerate(build.days):
        rows = by_day.get(day, [])
        for row in rows:
            end = _units(row.ends)
            nurses.append(
                sch.Nurse(
                    f"N{row.id}",
                    _units(row.starts),
                    end,
                    _units(row.break_starts) if row.break_starts else end,
                    (i,),
                )
            )
        if rows:
            continue
        defaulted.append(day.isoformat())
        mid = (open_u + close_u) // 2
        first_break = mid - (count * brk) // 2
        for k in range(count):
            nurses.append(sch.Nurse(f"D{i}.{k}", open_u, close_u, first_break + k * brk, (i,)))
    if defaulted:
        build.findings.append(
            {
                "severity": "warn",
                "rule": "schedule.default-nurses",
                "message": (
                    f"No nurse shift is recorded at site {site.code} on {', '.join(defaulted)}: "
                    f"the proposal assumes {count} nurses on duty for the opening hours "
                    f"({len(build.chairs)} chairs / ratio {site.nurse_ratio}, rounded up, "
                    f"+ {extra}) with staggered {brk * UNIT}-minute breaks. Record the real "
                    "shifts (msinfuse schedule shifts add) and propose again."
                ),
            }
        )
        _policy(build, clinic.schedule_default_nurses_extra, "default extra nurses", extra)
    return tuple(nurses), brk


def _snapshot(session: Session, site_id: int, days: list[date], dose_ids: list[int]) -> Any:
    """What the proposal rests on: the week's appointments at the site, the status and
    appointment of every dose it books, and the recorded shifts."""
    appts = {
        str(a.id): [a.chair_id, a.starts_at.isoformat(), a.ends_at.isoformat(), a.status]
        for a in _week_appointments(session, site_id, days)
    }
    doses = {}
    for dose_id in dose_ids:
        dose = session.get(PlannedDose, dose_id)
        booked = repo.active_appointment_for_dose(session, dose_id)
        doses[str(dose_id)] = [
            dose.status if dose else "deleted",
            booked.id if booked is not None else None,
        ]
    shifts = sorted(
        [
            r.id,
            r.day.isoformat(),
            r.starts.isoformat(),
            r.ends.isoformat(),
            r.break_starts.isoformat() if r.break_starts else None,
        ]
        for r in _shift_rows(session, site_id, days[0], days[-1] + timedelta(days=1))
    )
    return {"appointments": appts, "doses": doses, "shifts": shifts}


def build_instance(
    session: Session,
    ctx: ServiceContext,
    site_code: str,
    week_start: date,
    *,
    allow_moves: bool = False,
) -> tuple[sch.Instance, _Build]:
    """The scheduling instance of a site's week from the records (and what it stands for)."""
    site = _site(session, site_code)
    monday = monday_of(week_start)
    days = [monday + timedelta(days=i) for i in range(WEEK_DAYS)]
    if days[-1] < ctx.today:
        raise InvalidInput("that week is over; propose a week from today on")
    chairs = list(repo.chairs_of_site(session, site.id))
    if not chairs:
        raise Conflict(f"site {site.code!r} has no active chair")
    build = _Build(site, days, chairs)
    build.snapshot["shift_rows"] = _shift_rows(session, site.id, days[0], days[-1] + timedelta(1))
    _add_appointments(session, ctx, build, allow_moves)
    _add_doses(session, ctx, build)
    clinic = ctx.kb.clinic
    _policy(
        build,
        clinic.schedule_early_days,
        "book up to days before planned",
        clinic.schedule_early_days.value,
    )
    _policy(
        build,
        clinic.schedule_late_days,
        "book up to days after planned",
        clinic.schedule_late_days.value,
    )
    _policy(
        build,
        clinic.schedule_overtime_max_minutes,
        "overtime after closing (max minutes)",
        clinic.schedule_overtime_max_minutes.value,
    )
    nurses, brk = _roster(ctx, build)
    open_u, close_u = _units(site.opens), _units(site.closes)
    if close_u <= open_u:
        raise Conflict(f"site {site.code!r} closes before it opens")
    sch_site = sch.Site(
        id=site.code,
        open=open_u,
        close=close_u,
        ot_max=math.ceil(clinic.schedule_overtime_max_minutes.value / UNIT),
        chairs=len(chairs),
        beds=0,
        start_cap=site.start_cap,
        hoods=0,
        pharmacy_open=open_u,
        nurses=nurses,
    )
    types: dict[str, sch.VisitType] = {}
    for visit in build.visits.values():
        phases = visit.request.phases
        assert phases is not None
        types.setdefault(visit.request.type, sch.VisitType(visit.request.type, phases, 1, 0, 0.0))
    instance = sch.Instance(
        meta={
            "generator": "msinfuse-clinic",
            "site": site.code,
            "week_start": monday.isoformat(),
            "unit_min": UNIT,
            "start_grid_units": sch.GRID,
            "M": site.nurse_ratio,
            "break_units": brk,
        },
        days=tuple(d.isoformat() for d in days),
        sites=(sch_site,),
        visit_types=types,
        requests=tuple(v.request for v in build.visits.values()),
    )
    return instance, build


def _solve(instance: sch.Instance, time_limit: float, workers: int) -> sch.Solution:
    """CP-SAT within the time limit; the best greedy schedule when CP-SAT does no better."""
    greedy = min(
        (sch.solve(instance, name) for name in ("fcfs", "lpt")),
        key=lambda s: s.objective.get("total", math.inf),
    )
    if not instance.requests:
        return greedy
    best = sch.solve(instance, "cpsat", time_limit=time_limit, workers=workers, seed=0)
    if best.objective.get("total", math.inf) > greedy.objective.get("total", math.inf):
        greedy.solver["fallback"] = "greedy: CP-SAT found nothing better within the time limit"
        return greedy
    return best


def _assign_chairs(
    build: _Build, solution: sch.Solution
) -> tuple[dict[str, tuple[Chair, datetime, datetime]], list[str]]:
    """Real chairs for the visits placed: fixed appointments keep theirs; every other visit
    gets a chair free for its whole time (the solver's own chair first). Returns the placed
    visits and those no single chair can hold."""
    taken: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    placed: dict[str, tuple[Chair, datetime, datetime]] = {}
    for visit in build.visits.values():
        if visit.kind == "fixed" and visit.chair_id is not None:
            assert visit.starts_at is not None
            assert visit.ends_at is not None
            taken[visit.chair_id].append((visit.starts_at, visit.ends_at))
    unplaced: list[str] = []
    moving = [a for a in solution.assignments if build.visits[a.visit].kind != "fixed"]
    for a in sorted(moving, key=lambda a: (a.day, a.start, a.visit)):
        day = build.days[a.day]
        start = datetime.combine(day, time(0)) + timedelta(minutes=a.start * UNIT)
        end = datetime.combine(day, time(0)) + timedelta(minutes=a.end * UNIT)
        index = int(a.chair[1:]) - 1 if a.chair[1:].isdigit() else 0
        order = build.chairs[index:] + build.chairs[:index]
        chair = next(
            (c for c in order if all(e <= start or end <= s for s, e in taken[c.id])), None
        )
        if chair is None:
            unplaced.append(a.visit)
            continue
        taken[chair.id].append((start, end))
        placed[a.visit] = (chair, start, end)
    return placed, unplaced


def _day_names(build: _Build, indices: tuple[int, ...]) -> str:
    return ", ".join(build.days[i].strftime("%a %d %b") for i in indices)


def propose_week(
    session: Session,
    ctx: ServiceContext,
    site_code: str,
    week_start: date,
    *,
    time_limit: float = 10.0,
    allow_moves: bool = False,
    workers: int = 2,
) -> Proposal:
    """Optimise a site's week from the records and store the result as a proposal.

    Nothing is booked: :func:`accept_proposal` writes the bookings.
    """
    require(ctx.actor, "schedule.propose")
    if not 0 < time_limit <= MAX_TIME_LIMIT:
        raise InvalidInput(f"the time limit must be between 0 and {MAX_TIME_LIMIT:g} seconds")
    if not 1 <= workers <= 8:
        raise InvalidInput("workers must be between 1 and 8")
    instance, build = build_instance(session, ctx, site_code, week_start, allow_moves=allow_moves)
    solution = _solve(instance, time_limit, workers)
    if allow_moves and any(build.visits[r].kind == "move" for r in solution.rejected):
        # An existing booking must never be dropped: keep them all where they are instead.
        instance, build = build_instance(session, ctx, site_code, week_start, allow_moves=False)
        solution = _solve(instance, time_limit, workers)
        build.findings.append(
            {
                "severity": "info",
                "rule": "schedule.moves-dropped",
                "message": "Moving existing appointments would have left one unplaced; "
                "every existing appointment stays where it is.",
            }
        )
    violations = [str(v) for v in sch.check(instance, solution)]
    placed, unplaced = _assign_chairs(build, solution)
    data = _payload(build, solution, placed, unplaced, violations)
    dose_ids = sorted(
        {v.dose_id for v in build.visits.values() if v.kind != "fixed" and v.dose_id is not None}
    )
    build.snapshot.pop("shift_rows", None)
    snapshot = _snapshot(session, build.site.id, build.days, dose_ids)
    row = ScheduleProposal(
        site_id=build.site.id,
        week_start=build.days[0],
        status="proposed",
        allow_moves=allow_moves,
        payload=data,
        snapshot=snapshot,
        created_by=ctx.actor.user_id,
        created_at=ctx.now,
    )
    session.add(row)
    session.flush()
    audit.record(session, ctx, "create", "ScheduleProposal", row.id)
    return _proposal(session, row)


def _payload(
    build: _Build,
    solution: sch.Solution,
    placed: dict[str, tuple[Chair, datetime, datetime]],
    unplaced: list[str],
    violations: list[str],
) -> dict[str, Any]:
    bookings, moves, fixed = [], [], 0
    for rid, (chair, start, end) in sorted(placed.items(), key=lambda kv: (kv[1][1], kv[0])):
        visit = build.visits[rid]
        item = {
            "visit": rid,
            "patient_id": visit.patient_id,
            "dose_id": visit.dose_id,
            "agent": visit.agent,
            "dose_number": visit.dose_number,
            "series": visit.request.series.id if visit.request.series else None,
            "chair_id": chair.id,
            "chair": chair.name,
            "starts_at": start.isoformat(timespec="minutes"),
            "ends_at": end.isoformat(timespec="minutes"),
            "chair_minutes": visit.chair_minutes,
        }
        if visit.kind == "move":
            assert visit.starts_at is not None
            moved = (
                start != visit.starts_at
                or chair.id != visit.chair_id
                or end != start + (visit.ends_at - visit.starts_at)  # type: ignore[operator]
            )
            if moved:
                item["appointment_id"] = visit.appointment_id
                item["was_starts_at"] = visit.starts_at.isoformat(timespec="minutes")
                item["was_chair_id"] = visit.chair_id
                moves.append(item)
            else:
                fixed += 1
        else:
            bookings.append(item)
    fixed += sum(1 for v in build.visits.values() if v.kind == "fixed")
    rejections = list(build.rejections)
    for rid in sorted(set(solution.rejected) | set(unplaced)):
        visit = build.visits[rid]
        if visit.kind == "fixed":
            build.findings.append(
                {
                    "severity": "warn",
                    "rule": "schedule.existing-overload",
                    "message": f"Existing appointment {visit.appointment_id} already exceeds "
                    "the site's chairs, nurses or start slots on its day.",
                }
            )
            continue
        if rid in unplaced:
            reason = "no single chair is free for the whole visit next to the fixed appointments"
        elif visit.request.series is not None:
            reason = (
                f"no {visit.request.series.length} consecutive days with a chair, nurses and "
                f"a start slot free (start days allowed: "
                f"{_day_names(build, tuple(d - visit.request.series.index for d in visit.request.days))})"
            )
        else:
            reason = (
                "no chair, nurse capacity or start slot free on its allowed days "
                f"({_day_names(build, visit.request.days)})"
            )
        rejections.append(
            {
                "dose_id": visit.dose_id,
                "patient_id": visit.patient_id,
                "agent": visit.agent,
                "dose_number": visit.dose_number,
                "reason": reason,
            }
        )
    for finding in build.findings:
        finding.setdefault("source", "clinic records")
    return {
        "days": [d.isoformat() for d in build.days],
        "bookings": bookings,
        "moves": moves,
        "fixed": fixed,
        "rejections": rejections,
        "objective": dict(solution.objective),
        "metrics": {k: v for k, v in solution.metrics.items() if isinstance(v, int | float)},
        "solver": {
            k: v
            for k, v in solution.solver.items()
            if k in ("name", "time_limit_s", "workers", "wall_s", "hint", "fallback", "status")
        },
        "violations": violations,
        "findings": build.findings,
        "label_revisions": [
            {"agent": a, "document": d, "revision": r, "status": s}
            for a, d, r, s in sorted(build.labels)
        ],
        "decision_support": DECISION_SUPPORT
        + " The schedule is a proposal: a scheduler reviews and accepts it.",
    }


# ----------------------------------------------------------------------------------- accept


def _changes(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What changed between two snapshots, without patient data."""
    out: list[str] = []
    old, new = before.get("appointments", {}), now.get("appointments", {})
    for key in sorted(set(old) | set(new), key=int):
        if key not in new:
            out.append(f"appointment {key} was cancelled or moved out of the week")
        elif key not in old:
            out.append(f"appointment {key} was booked")
        elif old[key] != new[key]:
            out.append(f"appointment {key} was changed")
    for key, value in sorted(before.get("doses", {}).items(), key=lambda kv: int(kv[0])):
        current = now.get("doses", {}).get(key)
        if current != value:
            out.append(
                f"dose {key} is now {current[0] if current else 'gone'}"
                + (" and has an appointment" if current and current[1] is not None else "")
            )
    if before.get("shifts") != now.get("shifts"):
        out.append("the nurse shifts of the week were changed")
    return out


def accept_proposal(session: Session, ctx: ServiceContext, proposal_id: int) -> dict[str, Any]:
    """Write every booking (and move) of a proposal in one transaction.

    Refused with :class:`~msinfuse.errors.Conflict` when the proposal was accepted already or
    when the appointments, doses or shifts it was computed from have changed since (the
    message names what changed); nothing is written then.
    """
    require(ctx.actor, "schedule.accept")
    row = repo.get_or_raise(session, ScheduleProposal, proposal_id, "proposal")
    if row.status != "proposed":
        raise Conflict(f"proposal {row.id} is {row.status} already")
    data = dict(row.payload)
    if data.get("violations"):
        raise Conflict(f"proposal {row.id} breaks hard constraints and cannot be accepted")
    days = [date.fromisoformat(d) for d in data["days"]]
    now = _snapshot(session, row.site_id, days, [int(k) for k in row.snapshot.get("doses", {})])
    changes = _changes(dict(row.snapshot), now)
    if changes:
        raise Conflict(
            f"proposal {row.id} is stale: " + "; ".join(changes) + ". Propose the week again."
        )
    created: list[int] = []
    try:
        with session.begin_nested():
            moved = [session.get(Appointment, m["appointment_id"]) for m in data["moves"]]
            for appt in moved:  # free the old slots first: moves may swap chairs or times
                assert appt is not None
                appt.status = "cancelled"
            session.flush()
            for appt, move in zip(moved, data["moves"], strict=True):
                assert appt is not None
                appt.status = "booked"
                appt.chair_id = move["chair_id"]
                appt.starts_at = datetime.fromisoformat(move["starts_at"])
                appt.ends_at = datetime.fromisoformat(move["ends_at"])
            session.flush()
            for booking in data["bookings"]:
                appt = Appointment(
                    patient_id=booking["patient_id"],
                    planned_dose_id=booking["dose_id"],
                    site_id=row.site_id,
                    chair_id=booking["chair_id"],
                    starts_at=datetime.fromisoformat(booking["starts_at"]),
                    ends_at=datetime.fromisoformat(booking["ends_at"]),
                    status="booked",
                    notes=f"booked from schedule proposal {row.id}",
                )
                session.add(appt)
                dose = session.get(PlannedDose, booking["dose_id"])
                if dose is not None:
                    dose.status = "scheduled"
                session.flush()
                created.append(appt.id)
    except IntegrityError:
        raise Conflict(
            f"proposal {row.id} could not be written: a chair is already booked for part of "
            "a proposed time. Nothing was booked; propose the week again."
        ) from None
    for appt_id in created:
        audit.record(session, ctx, "create", "Appointment", appt_id)
    for move in data["moves"]:
        audit.record(session, ctx, "move", "Appointment", move["appointment_id"])
    row.status = "accepted"
    row.accepted_by = ctx.actor.user_id
    row.accepted_at = ctx.now
    session.flush()
    audit.record(session, ctx, "accept", "ScheduleProposal", row.id)
    return {
        "proposal_id": row.id,
        "status": row.status,
        "booked": created,
        "moved": [m["appointment_id"] for m in data["moves"]],
    }


# --------------------------------------------------------------------------------- capacity


def capacity_week(
    session: Session,
    ctx: ServiceContext,
    site_code: str,
    week_start: date,
    *,
    resource: str = "chairs",
    time_limit: float = 10.0,
) -> dict[str, Any]:
    """How many chairs (or nurses per day) the site's week needs so that no due dose is
    rejected, from the records (the capacity what-if of ``msinfuse schedule capacity``)."""
    require(ctx.actor, "schedule.propose")
    if resource not in ("chairs", "nurses"):
        raise InvalidInput("resource must be chairs or nurses")
    from msinfuse.domain.scheduling.capacity import capacity

    instance, build = build_instance(session, ctx, site_code, week_start)
    if resource == "nurses":
        # "k nurses" means the same roster every day: the busiest day's, counted per day.
        site = instance.sites[0]
        per_day: dict[int, list[sch.Nurse]] = defaultdict(list)
        for n in site.nurses:
            per_day[(n.days or (0,))[0]].append(n)
        busiest = max(per_day.values(), key=len)
        roster = tuple(dataclasses.replace(n, days=None) for n in busiest)
        instance = dataclasses.replace(instance, sites=(dataclasses.replace(site, nurses=roster),))
    result = capacity(instance, resource, site=build.site.code, time_limit=time_limit)
    out = result.as_dict()
    out["findings"] = [{"source": "clinic records", **f} for f in build.findings]
    out["site"] = build.site.code
    out["week_start"] = build.days[0].isoformat()
    out["decision_support"] = DECISION_SUPPORT
    return out


__all__ = [
    "Proposal",
    "ShiftCreate",
    "accept_proposal",
    "add_shift",
    "build_instance",
    "capacity_week",
    "delete_shift",
    "get_proposal",
    "list_proposals",
    "list_shifts",
    "monday_of",
    "propose_week",
]
