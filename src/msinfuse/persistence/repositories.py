"""Every query lives here. Services call these; routes and commands never build queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import Field
from sqlalchemy import and_, case, exists, func, or_, select, text
from sqlalchemy.orm import Session

from msinfuse.errors import NotFound
from msinfuse.persistence.base import Base
from msinfuse.persistence.models import (
    Administration,
    Appointment,
    Authorization,
    Chair,
    CheckAcknowledgement,
    CheckOverride,
    CheckResult,
    Condition,
    Correction,
    InfusionReaction,
    Lab,
    MonitoringDue,
    Patient,
    PlannedDose,
    PlanReview,
    PmlRiskSnapshot,
    PremedicationGiven,
    Procedure,
    RateEvent,
    Site,
    Therapy,
    TreatmentPlan,
    User,
    Vaccination,
    VitalSign,
)
from msinfuse.persistence.models.infusions import ACTIVE_APPOINTMENT_STATUSES
from msinfuse.persistence.sqlfunc import days_between

M = TypeVar("M", bound=Base)


#: The largest primary key any supported backend stores (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1

#: An identifier in a request body: positive and storable.
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]


def get_or_raise(session: Session, model: type[M], ident: int, what: str) -> M:
    """The row with primary key ``ident``, or :class:`NotFound` naming ``what``.

    An identifier outside the storable range cannot name a row, so it is not found
    rather than an error from the database driver.
    """
    row = session.get(model, ident) if 1 <= ident <= MAX_ID else None
    if row is None:
        raise NotFound(f"{what} {ident} not found")
    return row


# --------------------------------------------------------------------------- patients


def find_patient_by_mrn(session: Session, mrn: str) -> Patient | None:
    """The patient with this record number."""
    return session.scalars(select(Patient).where(Patient.mrn == mrn)).first()


def list_patients(
    session: Session,
    search: str | None = None,
    site_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
    sort: str | None = None,
) -> tuple[Sequence[Patient], int]:
    """Patients matching ``search`` (name or record number), with the total; by family name
    unless ``sort`` names a column (``-column`` for descending)."""
    query = select(Patient)
    if search:
        like = f"%{search.lower()}%"
        query = query.where(
            or_(
                func.lower(Patient.family_name).like(like),
                func.lower(Patient.given_name).like(like),
                func.lower(Patient.mrn).like(like),
            )
        )
    if site_id is not None:
        query = query.where(Patient.home_site_id == site_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order: list[Any] = [Patient.family_name, Patient.given_name, Patient.id]
    if sort:
        column = getattr(Patient, sort.lstrip("-"))
        order = [column.desc() if sort.startswith("-") else column.asc(), Patient.id]
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return rows, total


def patient_record(session: Session, patient_id: int) -> dict[str, Sequence[Any]]:
    """Everything a patient state is built from, one query per table."""

    def rows(model: Any, order: Any) -> Sequence[Any]:
        return session.scalars(
            select(model).where(model.patient_id == patient_id).order_by(order, model.id)
        ).all()

    return {
        "labs": rows(Lab, Lab.taken_on),
        "vaccinations": rows(Vaccination, Vaccination.given_on),
        "conditions": rows(Condition, Condition.onset),
        "therapies": rows(Therapy, Therapy.started_on),
        "procedures": rows(Procedure, Procedure.done_on),
        "authorizations": rows(Authorization, Authorization.authorized_on),
        "administrations": rows(Administration, Administration.given_on),
        "plans": rows(TreatmentPlan, TreatmentPlan.starts_on),
    }


# ------------------------------------------------------------------------------ plans


def plans_for_patient(session: Session, patient_id: int) -> Sequence[TreatmentPlan]:
    """Every plan of a patient, newest first."""
    return session.scalars(
        select(TreatmentPlan)
        .where(TreatmentPlan.patient_id == patient_id)
        .order_by(TreatmentPlan.starts_on.desc(), TreatmentPlan.id.desc())
    ).all()


def active_plan(session: Session, patient_id: int, agent: str) -> TreatmentPlan | None:
    """The active (or paused) plan of a patient for an agent."""
    return session.scalars(
        select(TreatmentPlan)
        .where(
            TreatmentPlan.patient_id == patient_id,
            TreatmentPlan.agent == agent,
            TreatmentPlan.status.in_(("active", "paused")),
        )
        .order_by(TreatmentPlan.id.desc())
    ).first()


def doses_of_plan(session: Session, plan_id: int) -> Sequence[PlannedDose]:
    """A plan's doses in number order."""
    return session.scalars(
        select(PlannedDose).where(PlannedDose.plan_id == plan_id).order_by(PlannedDose.number)
    ).all()


def administrations_of_plan(session: Session, plan_id: int) -> Sequence[Administration]:
    """Infusions given under a plan, oldest first (not those entered in error)."""
    return session.scalars(
        select(Administration)
        .where(
            Administration.plan_id == plan_id,
            Administration.outcome != "not_started",
            Administration.record_status != "entered_in_error",
        )
        .order_by(Administration.given_on, Administration.id)
    ).all()


def administration_details(
    session: Session, administration_id: int, live_only: bool = False
) -> dict[str, Sequence[Any]]:
    """Rate events, premedications, vital signs and reactions of an administration (with
    ``live_only``, not those entered in error)."""

    def rows(model: Any, order: Any) -> Sequence[Any]:
        query = select(model).where(model.administration_id == administration_id)
        if live_only:
            query = query.where(model.record_status != "entered_in_error")
        return session.scalars(query.order_by(order, model.id)).all()

    return {
        "rate_events": rows(RateEvent, RateEvent.minute),
        "premedications": rows(PremedicationGiven, PremedicationGiven.given_at),
        "vital_signs": rows(VitalSign, VitalSign.taken_at),
        "reactions": rows(InfusionReaction, InfusionReaction.onset_minute),
    }


# ------------------------------------------------------------------------------ checks


def check_details(
    session: Session, check_id: int
) -> tuple[Sequence[CheckAcknowledgement], Sequence[CheckOverride]]:
    """Acknowledgements and overrides of a stored check."""
    acks = session.scalars(
        select(CheckAcknowledgement).where(CheckAcknowledgement.check_id == check_id)
    ).all()
    overrides = session.scalars(
        select(CheckOverride).where(CheckOverride.check_id == check_id)
    ).all()
    return acks, overrides


def checks_for_patient(session: Session, patient_id: int, limit: int = 20) -> Sequence[CheckResult]:
    """A patient's most recent stored checks."""
    return session.scalars(
        select(CheckResult)
        .where(CheckResult.patient_id == patient_id)
        .order_by(CheckResult.created_at.desc(), CheckResult.id.desc())
        .limit(limit)
    ).all()


# ------------------------------------------------------------------------ appointments


def overlapping_appointment(
    session: Session,
    chair_id: int,
    starts_at: datetime,
    ends_at: datetime,
    exclude_id: int | None = None,
) -> Appointment | None:
    """An active appointment on ``chair_id`` overlapping the interval (friendly pre-check; the
    database constraint is the real guard)."""
    query = select(Appointment).where(
        Appointment.chair_id == chair_id,
        Appointment.status.in_(ACTIVE_APPOINTMENT_STATUSES),
        Appointment.starts_at < ends_at,
        starts_at < Appointment.ends_at,
    )
    if exclude_id is not None:
        query = query.where(Appointment.id != exclude_id)
    return session.scalars(query).first()


def appointments_between(
    session: Session, start: datetime, end: datetime, site_id: int | None = None
) -> Sequence[Appointment]:
    """Active appointments starting in ``[start, end)``."""
    query = select(Appointment).where(
        Appointment.starts_at >= start,
        Appointment.starts_at < end,
        Appointment.status.in_(ACTIVE_APPOINTMENT_STATUSES),
    )
    if site_id is not None:
        query = query.where(Appointment.site_id == site_id)
    return session.scalars(query.order_by(Appointment.starts_at, Appointment.chair_id)).all()


def active_appointment_for_dose(session: Session, dose_id: int) -> Appointment | None:
    """The active appointment booked for a planned dose."""
    return session.scalars(
        select(Appointment).where(
            Appointment.planned_dose_id == dose_id,
            Appointment.status.in_(ACTIVE_APPOINTMENT_STATUSES),
        )
    ).first()


# ------------------------------------------------------------------------------- clinic


def administrations_for_appointments(
    session: Session, appointment_ids: Sequence[int]
) -> Sequence[Administration]:
    """The administrations started for any of these appointments (not those entered in
    error)."""
    if not appointment_ids:
        return []
    return session.scalars(
        select(Administration)
        .where(
            Administration.appointment_id.in_(list(appointment_ids)),
            Administration.record_status != "entered_in_error",
        )
        .order_by(Administration.id)
    ).all()


def administration_for_dose(session: Session, dose_id: int) -> Administration | None:
    """The administration (started or finished) of a planned dose, if any (not one entered in
    error)."""
    return session.scalars(
        select(Administration)
        .where(
            Administration.planned_dose_id == dose_id,
            Administration.outcome != "not_started",
            Administration.record_status != "entered_in_error",
        )
        .order_by(Administration.id.desc())
    ).first()


def list_sites(session: Session) -> Sequence[Site]:
    """Every site by code."""
    return session.scalars(select(Site).order_by(Site.code)).all()


def find_site(session: Session, code: str) -> Site | None:
    """The site with this code."""
    return session.scalars(select(Site).where(Site.code == code)).first()


def chairs_of_site(session: Session, site_id: int) -> Sequence[Chair]:
    """A site's active chairs by name."""
    return session.scalars(
        select(Chair).where(Chair.site_id == site_id, Chair.active.is_(True)).order_by(Chair.name)
    ).all()


def find_user(session: Session, username: str) -> User | None:
    """The user with this username."""
    return session.scalars(select(User).where(User.username == username)).first()


def list_users(session: Session) -> Sequence[User]:
    """Every user by username."""
    return session.scalars(select(User).order_by(User.username)).all()


# ---------------------------------------------------------------------------- worklists


def _dicts(session: Session, query: Any) -> list[dict[str, Any]]:
    """The rows of ``query`` as dicts keyed by column label.

    A clinic-wide worklist can hold tens of thousands of rows: the query runs on the
    session's connection (after the flush the ORM would do), without the ORM's per-row
    result machinery, and each row becomes a plain dict."""
    session.flush()
    result = session.connection().execute(query)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def worklist_today(session: Session, day: date, site_id: int | None) -> list[dict[str, Any]]:
    """Today's appointments per site and chair, with each patient's latest check decision."""
    start = datetime.combine(day, datetime.min.time())
    end = datetime.combine(day, datetime.max.time())
    latest_check = (
        select(
            CheckResult.patient_id,
            CheckResult.agent,
            func.max(CheckResult.id).label("check_id"),
        )
        .where(CheckResult.check_date == day)
        .group_by(CheckResult.patient_id, CheckResult.agent)
        .subquery()
    )
    query = (
        select(
            Appointment.id.label("appointment_id"),
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.status,
            Site.code.label("site"),
            Chair.name.label("chair"),
            Patient.id.label("patient_id"),
            Patient.mrn,
            Patient.given_name,
            Patient.family_name,
            PlannedDose.agent,
            PlannedDose.number.label("infusion_number"),
            PlannedDose.id.label("dose_id"),
            CheckResult.decision,
            CheckResult.id.label("check_id"),
        )
        .join(Site, Site.id == Appointment.site_id)
        .join(Chair, Chair.id == Appointment.chair_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .outerjoin(PlannedDose, PlannedDose.id == Appointment.planned_dose_id)
        .outerjoin(
            latest_check,
            and_(
                latest_check.c.patient_id == Appointment.patient_id,
                latest_check.c.agent == PlannedDose.agent,
            ),
        )
        .outerjoin(CheckResult, CheckResult.id == latest_check.c.check_id)
        .where(
            Appointment.starts_at >= start,
            Appointment.starts_at <= end,
            Appointment.status.in_(ACTIVE_APPOINTMENT_STATUSES),
        )
        .order_by(Site.code, Chair.name, Appointment.starts_at)
    )
    if site_id is not None:
        query = query.where(Appointment.site_id == site_id)
    return _dicts(session, query)


def worklist_due(session: Session, until: date, site_id: int | None) -> list[dict[str, Any]]:
    """Doses planned up to ``until`` (overdue included) on active plans, with no active
    appointment."""
    booked = exists().where(
        Appointment.planned_dose_id == PlannedDose.id,
        Appointment.status.in_(ACTIVE_APPOINTMENT_STATUSES),
    )
    query = (
        select(
            PlannedDose.id.label("dose_id"),
            PlannedDose.patient_id,
            Patient.mrn,
            Patient.given_name,
            Patient.family_name,
            PlannedDose.agent,
            PlannedDose.number,
            PlannedDose.kind,
            PlannedDose.planned_on,
            PlannedDose.earliest_on,
            PlannedDose.dose_mg,
            PlannedDose.status,
            TreatmentPlan.id.label("plan_id"),
        )
        .join(TreatmentPlan, TreatmentPlan.id == PlannedDose.plan_id)
        .join(Patient, Patient.id == PlannedDose.patient_id)
        .where(
            PlannedDose.status.in_(("planned", "held", "missed")),
            PlannedDose.planned_on <= until,
            TreatmentPlan.status == "active",
            ~booked,
        )
        .order_by(PlannedDose.planned_on, Patient.family_name, PlannedDose.id)
    )
    if site_id is not None:
        query = query.where(Patient.home_site_id == site_id)
    return _dicts(session, query)


def worklist_monitoring(session: Session, until: date, site_id: int | None) -> list[dict[str, Any]]:
    """Monitoring items due up to ``until`` (overdue included), clinic-wide."""
    query = (
        select(
            MonitoringDue.patient_id,
            Patient.mrn,
            Patient.given_name,
            Patient.family_name,
            MonitoringDue.agent,
            MonitoringDue.item_id,
            MonitoringDue.item,
            MonitoringDue.kind,
            MonitoringDue.due_on,
            MonitoringDue.last_done,
            MonitoringDue.until_on,
            MonitoringDue.source,
            MonitoringDue.fact_status,
        )
        .join(Patient, Patient.id == MonitoringDue.patient_id)
        .where(MonitoringDue.due_on <= until)
        .order_by(
            MonitoringDue.due_on,
            Patient.family_name,
            MonitoringDue.patient_id,
            MonitoringDue.item_id,
        )
    )
    if site_id is not None:
        query = query.where(Patient.home_site_id == site_id)
    return _dicts(session, query)


def worklist_pml(session: Session, site_id: int | None) -> list[dict[str, Any]]:
    """Natalizumab patients by PML risk, highest first."""
    query = (
        select(
            PmlRiskSnapshot.patient_id,
            Patient.mrn,
            Patient.given_name,
            Patient.family_name,
            PmlRiskSnapshot.category,
            PmlRiskSnapshot.band,
            PmlRiskSnapshot.risk_per_1000,
            PmlRiskSnapshot.jcv_status,
            PmlRiskSnapshot.jcv_index,
            PmlRiskSnapshot.months_exposed,
            PmlRiskSnapshot.prior_immunosuppressant,
            PmlRiskSnapshot.computed_on,
        )
        .join(Patient, Patient.id == PmlRiskSnapshot.patient_id)
        .order_by(
            PmlRiskSnapshot.risk_per_1000.desc().nulls_last(),
            Patient.family_name,
            PmlRiskSnapshot.patient_id,
        )
    )
    if site_id is not None:
        query = query.where(Patient.home_site_id == site_id)
    return _dicts(session, query)


def worklist_adherence(
    session: Session, start: date, end: date, site_id: int | None
) -> list[dict[str, Any]]:
    """Doses given in ``[start, end]`` per agent and month: how many, how many late, and by
    how many days (mean and maximum over the late ones).

    The database aggregates per day and agent, reading ``ix_planned_doses_status_given`` in
    its own order (no sort); the days are then summed into months here. Days late are only
    computed for the late doses.
    """
    late = PlannedDose.given_on > PlannedDose.planned_on
    late_days = days_between(PlannedDose.given_on, PlannedDose.planned_on)
    query = (
        select(
            PlannedDose.given_on,
            PlannedDose.agent,
            func.count().label("given"),
            func.sum(case((late, 1), else_=0)).label("late"),
            func.sum(case((late, late_days), else_=0)).label("days_late"),
            func.max(case((late, late_days), else_=None)).label("max_days_late"),
        )
        .where(
            PlannedDose.status == "given",
            PlannedDose.given_on.is_not(None),
            PlannedDose.given_on >= start,
            PlannedDose.given_on <= end,
        )
        .group_by(PlannedDose.given_on, PlannedDose.agent)
    )
    if site_id is not None:
        query = query.join(Patient, Patient.id == PlannedDose.patient_id).where(
            Patient.home_site_id == site_id
        )
    months: dict[tuple[str, int, int], list[int]] = {}
    for day, agent, given, late_count, days, longest in session.execute(query):
        totals = months.setdefault((agent, day.year, day.month), [0, 0, 0, 0])
        totals[0] += int(given)
        totals[1] += int(late_count or 0)
        totals[2] += int(days or 0)
        totals[3] = max(totals[3], int(longest or 0))
    return [
        {
            "agent": agent,
            "year": year,
            "month": month,
            "given": given,
            "late": late_count,
            "mean_days_late": days / late_count if late_count else None,
            "max_days_late": longest if late_count else None,
        }
        for (agent, year, month), (given, late_count, days, longest) in sorted(months.items())
    ]


# ------------------------------------------------------------------------ demo clinic


def count_rows(session: Session, model: type[Base]) -> int:
    """How many rows a table holds."""
    return session.scalar(select(func.count()).select_from(model)) or 0


def table_row_counts(session: Session) -> dict[str, int]:
    """Rows per table (every mapped table), by table name."""
    return {
        name: session.scalar(select(func.count()).select_from(t)) or 0
        for name, t in sorted(Base.metadata.tables.items())
    }


def database_size_bytes(session: Session) -> int | None:
    """The size of the database on disk (PostgreSQL: the database; SQLite: the main file's
    pages), or ``None`` when the backend cannot tell."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        size = session.scalar(text("SELECT pg_database_size(current_database())"))
        return int(size) if size is not None else None
    if dialect == "sqlite":
        pages = session.scalar(text("PRAGMA page_count")) or 0
        size = session.scalar(text("PRAGMA page_size")) or 0
        return int(pages) * int(size)
    return None


# ------------------------------------------------------------------ per-patient reads
# (the naive per-patient loops the worklist benchmark compares the set-based worklists with)


def patient_ids(session: Session) -> Sequence[int]:
    """Every patient id, ascending."""
    return session.scalars(select(Patient.id).order_by(Patient.id)).all()


def appointments_of_patient(session: Session, patient_id: int) -> Sequence[Appointment]:
    """A patient's appointments, by start."""
    return session.scalars(
        select(Appointment)
        .where(Appointment.patient_id == patient_id)
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()


def doses_of_patient(session: Session, patient_id: int) -> Sequence[PlannedDose]:
    """Every planned dose of a patient (all plans), by plan and number."""
    return session.scalars(
        select(PlannedDose)
        .where(PlannedDose.patient_id == patient_id)
        .order_by(PlannedDose.plan_id, PlannedDose.number)
    ).all()


def latest_check_on(session: Session, patient_id: int, agent: str, day: date) -> CheckResult | None:
    """The patient's most recent stored check for ``agent`` dated ``day``."""
    return session.scalars(
        select(CheckResult)
        .where(
            CheckResult.patient_id == patient_id,
            CheckResult.agent == agent,
            CheckResult.check_date == day,
        )
        .order_by(CheckResult.id.desc())
    ).first()


# ------------------------------------------------------------------------- corrections


def corrections_of(
    session: Session, resource: str, record_ids: Sequence[int]
) -> dict[int, list[Correction]]:
    """The corrections of records of one kind, oldest first, by record id."""
    found: dict[int, list[Correction]] = {}
    if not record_ids:
        return found
    rows = session.scalars(
        select(Correction)
        .where(Correction.resource == resource, Correction.record_id.in_(list(record_ids)))
        .order_by(Correction.at, Correction.id)
    ).all()
    for row in rows:
        found.setdefault(row.record_id, []).append(row)
    return found


def open_plan_review(session: Session, plan_id: int) -> PlanReview | None:
    """The plan's review still waiting for a prescriber's decision, if any."""
    return session.scalars(
        select(PlanReview)
        .where(PlanReview.plan_id == plan_id, PlanReview.decision.is_(None))
        .order_by(PlanReview.id.desc())
    ).first()


def plan_reviews(session: Session, plan_ids: Sequence[int]) -> dict[int, list[PlanReview]]:
    """Every review of these plans, oldest first, by plan id."""
    found: dict[int, list[PlanReview]] = {}
    if not plan_ids:
        return found
    rows = session.scalars(
        select(PlanReview).where(PlanReview.plan_id.in_(list(plan_ids))).order_by(PlanReview.id)
    ).all()
    for row in rows:
        found.setdefault(row.plan_id, []).append(row)
    return found
