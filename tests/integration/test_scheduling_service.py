"""The week's scheduling proposal from a small demo clinic's records (SQLite and PostgreSQL).

The clinic: a 20-patient demo clinic at one site (6 chairs, 3 nurses recorded each day),
plus three patients whose doses fall due in the week of 2026-12-14: two on ocrelizumab's
shorter protocol (one had a grade-3 reaction, so the shorter protocol is gone for her), one
starting an alemtuzumab course on the Monday, and one natalizumab patient whose first dose
is already booked off the 15-minute grid (a fixed appointment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from msinfuse.errors import Conflict, InvalidInput, PermissionDenied
from msinfuse.persistence.models import Appointment, PlannedDose, ScheduleProposal
from msinfuse.services import appointments, infusions, plans, records, scheduling
from msinfuse.services.appointments import chair_minutes_for_dose
from msinfuse.services.context import Actor, ServiceContext
from msinfuse.services.demo import build_demo_clinic, clear_clinic
from tests.integration.conftest import make_ctx

WEEK = date(2026, 12, 14)
SITE = "MAIN"
TIME_LIMIT = 3.0


@dataclass
class Clinic:
    reacted_dose: int
    plain_dose: int
    course: list[int]
    fixed: dict[str, Any]


def _patient(session: Session, ctx: ServiceContext, mrn: str) -> int:
    data = {
        "mrn": mrn,
        "given_name": "Test",
        "family_name": mrn,
        "birth_date": "1985-02-01",
        "sex": "female",
        "ms_course": "RRMS",
        "pregnant": False,
        "childbearing_potential": False,
        "home_site": SITE,
    }
    return int(records.register_patient(session, ctx, data)["id"])


def _given(
    session: Session, ctx: ServiceContext, pid: int, dose: int, day: date, **kw: Any
) -> None:
    infusions.record_administration(
        session,
        ctx,
        pid,
        {
            "planned_dose_id": dose,
            "started_at": datetime.combine(day, time(9)),
            "historical": True,
            **kw,
        },
    )


def _ocrelizumab(session: Session, ctx: ServiceContext, mrn: str, reaction: bool) -> int:
    """A patient on the shorter protocol whose 4th dose is planned for Wed 2026-12-16."""
    pid = _patient(session, ctx, mrn)
    plan = plans.start_plan(
        session, ctx, pid, {"agent": "ocrelizumab", "start": "2026-01-14", "protocol": "shorter"}
    )
    doses = [d["id"] for d in plan["doses"]]
    _given(session, ctx, pid, doses[0], date(2026, 1, 14))
    _given(session, ctx, pid, doses[1], date(2026, 1, 28))
    extra = {"reactions": [{"onset_minute": 40, "grade": 3, "resume_minute": 90}]}
    _given(session, ctx, pid, doses[2], date(2026, 7, 1), **(extra if reaction else {}))
    after = plans.get_plan(session, ctx, plan["id"])["doses"]
    fourth = next(d for d in after if d["number"] == 4)
    assert fourth["planned_on"] == "2026-12-16"
    return int(fourth["id"])


@pytest.fixture
def clinic(session: Session, ctx: ServiceContext) -> Clinic:
    clear_clinic(session, ctx)  # other tests may have committed rows to the shared database
    build_demo_clinic(session, ctx, patients=20, seed=5, sites=1, chairs_per_site=6)
    for i in range(5):
        for k, brk in enumerate((time(12), time(12, 30), time(13))):
            scheduling.add_shift(
                session,
                ctx,
                {
                    "site": SITE,
                    "day": WEEK + timedelta(days=i),
                    "starts": time(7, 45) if k == 0 else time(8),
                    "ends": time(17, 30),
                    "break_starts": brk,
                },
            )
    reacted = _ocrelizumab(session, ctx, "SCHED-R", reaction=True)
    plain = _ocrelizumab(session, ctx, "SCHED-P", reaction=False)
    pid = _patient(session, ctx, "SCHED-A")
    course = plans.start_plan(session, ctx, pid, {"agent": "alemtuzumab", "start": str(WEEK)})
    course_ids = [d["id"] for d in course["doses"] if d["course"] == 1]
    pid = _patient(session, ctx, "SCHED-N")
    ntz = plans.start_plan(session, ctx, pid, {"agent": "natalizumab", "start": "2026-12-15"})
    chair = next(c for c in scheduling.repo.chairs_of_site(session, _site_id(session)))
    fixed = appointments.book(
        session,
        ctx,
        {
            "patient_id": pid,
            "chair_id": chair.id,
            "planned_dose_id": ntz["doses"][0]["id"],
            "starts_at": datetime(2026, 12, 15, 10, 10),
        },
    )
    session.flush()
    return Clinic(reacted, plain, course_ids, fixed)


def _site_id(session: Session) -> int:
    site = scheduling.repo.find_site(session, SITE)
    assert site is not None
    return site.id


def _propose(session: Session, ctx: ServiceContext, **kw: Any) -> scheduling.Proposal:
    return scheduling.propose_week(session, ctx, SITE, WEEK, time_limit=TIME_LIMIT, **kw)


def _booking(proposal: scheduling.Proposal, dose_id: int) -> dict[str, Any]:
    return next(b for b in proposal.bookings if b["dose_id"] == dose_id)


def _active(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Appointment).where(Appointment.status == "booked")
        )
        or 0
    )


def test_a_proposal_books_every_due_dose_and_passes_the_checker(
    session: Session, ctx: ServiceContext, clinic: Clinic
):
    proposal = _propose(session, ctx)
    assert proposal.violations == []
    assert proposal.rejections == []
    booked = {b["dose_id"] for b in proposal.bookings}
    assert {clinic.reacted_dose, clinic.plain_dose, *clinic.course} <= booked
    # Every dose of the instance that was not already booked is in the proposal.
    _instance, build = scheduling.build_instance(session, ctx, SITE, WEEK)
    due = {v.dose_id for v in build.visits.values() if v.kind == "dose"}
    assert booked == due
    assert proposal.data["fixed"] >= 1
    assert proposal.data["objective"]["rejected"] == 0
    assert not any(f["rule"] == "schedule.default-nurses" for f in proposal.data["findings"])
    assert "Decision support" in proposal.data["decision_support"]
    assert proposal.data["label_revisions"]
    for b in proposal.bookings:  # start on the 15-minute grid, inside the opening hours
        start = datetime.fromisoformat(b["starts_at"])
        assert start.minute % 15 == 0
        assert WEEK <= start.date() < WEEK + timedelta(days=5)
        assert time(8) <= start.time()


def test_each_patient_gets_her_own_chair_time(
    session: Session, ctx: ServiceContext, clinic: Clinic
):
    proposal = _propose(session, ctx)
    lengths = {}
    for dose_id in (clinic.reacted_dose, clinic.plain_dose):
        b = _booking(proposal, dose_id)
        minutes = chair_minutes_for_dose(session, ctx, session.get(PlannedDose, dose_id))
        length = datetime.fromisoformat(b["ends_at"]) - datetime.fromisoformat(b["starts_at"])
        assert length == timedelta(minutes=5 * math.ceil(minutes / 5))
        lengths[dose_id] = length
    # The grade-3 reaction removed the shorter protocol: the longer chair time.
    assert lengths[clinic.reacted_dose] > lengths[clinic.plain_dose] + timedelta(minutes=60)


def test_a_course_runs_on_consecutive_days_at_one_chair_site(
    session: Session, ctx: ServiceContext, clinic: Clinic
):
    proposal = _propose(session, ctx)
    days = [
        datetime.fromisoformat(_booking(proposal, d)["starts_at"]).date() for d in clinic.course
    ]
    assert days == [WEEK + timedelta(days=i) for i in range(len(clinic.course))]
    assert len({_booking(proposal, d)["series"] for d in clinic.course}) == 1


def test_fixed_appointments_are_respected(session: Session, ctx: ServiceContext, clinic: Clinic):
    proposal = _propose(session, ctx)
    fixed = clinic.fixed
    start, end = (datetime.fromisoformat(fixed[k]) for k in ("starts_at", "ends_at"))
    assert all(b["dose_id"] != fixed["planned_dose_id"] for b in proposal.bookings)
    for b in proposal.bookings:
        if b["chair_id"] == fixed["chair_id"]:
            b_start, b_end = (
                datetime.fromisoformat(b["starts_at"]),
                datetime.fromisoformat(b["ends_at"]),
            )
            assert b_end <= start or end <= b_start
    scheduling.accept_proposal(session, ctx, proposal.id)
    row = session.get(Appointment, fixed["id"])
    assert row is not None
    assert (row.starts_at, row.chair_id, row.status) == (start, fixed["chair_id"], "booked")


@pytest.mark.usefixtures("clinic")
def test_accept_writes_every_booking(session: Session, ctx: ServiceContext):
    proposal = _propose(session, ctx)
    before = _active(session)
    result = scheduling.accept_proposal(session, ctx, proposal.id)
    assert len(result["booked"]) == len(proposal.bookings)
    assert _active(session) == before + len(proposal.bookings)
    for b in proposal.bookings:
        dose = session.get(PlannedDose, b["dose_id"])
        assert dose is not None
        assert dose.status == "scheduled"
    assert scheduling.get_proposal(session, ctx, proposal.id).status == "accepted"
    with pytest.raises(Conflict, match="accepted already"):
        scheduling.accept_proposal(session, ctx, proposal.id)
    # Proposing again finds nothing left to book.
    again = _propose(session, ctx)
    assert again.bookings == []


def test_a_stale_proposal_is_refused_and_changes_nothing(
    session: Session, ctx: ServiceContext, clinic: Clinic
):
    proposal = _propose(session, ctx)
    appointments.cancel(session, ctx, clinic.fixed["id"], "patient called")
    before = _active(session)
    with pytest.raises(Conflict, match=f"appointment {clinic.fixed['id']} was cancelled"):
        scheduling.accept_proposal(session, ctx, proposal.id)
    assert _active(session) == before
    assert session.get(ScheduleProposal, proposal.id).status == "proposed"  # type: ignore[union-attr]
    dose = session.get(PlannedDose, clinic.plain_dose)
    assert dose is not None
    assert dose.status == "planned"


def test_a_booking_that_no_longer_fits_writes_nothing(
    session: Session, ctx: ServiceContext, clinic: Clinic
):
    proposal = _propose(session, ctx)
    first = _booking(proposal, clinic.course[0])  # Monday: a blocker from Sunday night
    start = datetime.fromisoformat(first["starts_at"])
    session.add(
        Appointment(
            patient_id=session.get(PlannedDose, clinic.plain_dose).patient_id,  # type: ignore[union-attr]
            site_id=_site_id(session),
            chair_id=first["chair_id"],
            starts_at=start - timedelta(hours=10),
            ends_at=start + timedelta(minutes=5),
            status="booked",
        )
    )
    session.flush()
    before = _active(session)
    with pytest.raises(Conflict, match="could not be written"):
        scheduling.accept_proposal(session, ctx, proposal.id)
    assert _active(session) == before
    statuses = {session.get(PlannedDose, d).status for d in clinic.course}  # type: ignore[union-attr]
    assert statuses == {"planned"}


@pytest.mark.usefixtures("clinic")
def test_moves_are_only_made_when_allowed(session: Session, ctx: ServiceContext):
    proposal = _propose(session, ctx, allow_moves=True)
    assert proposal.violations == []
    result = scheduling.accept_proposal(session, ctx, proposal.id)
    assert len(result["moved"]) == len(proposal.moves)
    assert _propose(session, ctx).moves == []


@pytest.mark.usefixtures("clinic")
def test_without_recorded_shifts_the_default_roster_is_named(session: Session, ctx: ServiceContext):
    for shift in scheduling.list_shifts(session, ctx, SITE, WEEK, 7):
        if shift["day"] == str(WEEK + timedelta(days=3)):
            scheduling.delete_shift(session, ctx, shift["id"])
    proposal = _propose(session, ctx)
    finding = next(f for f in proposal.data["findings"] if f["rule"] == "schedule.default-nurses")
    assert str(WEEK + timedelta(days=3)) in finding["message"]
    assert str(WEEK) not in finding["message"]


@pytest.mark.usefixtures("clinic")
def test_roles(session: Session):
    viewer = make_ctx(Actor(None, "v", "viewer"))
    pharmacist = make_ctx(Actor(None, "p", "pharmacist"))
    with pytest.raises(PermissionDenied):
        _propose(session, viewer)
    proposal = _propose(session, make_ctx(Actor(None, "s", "scheduler")))
    with pytest.raises(PermissionDenied):
        scheduling.accept_proposal(session, pharmacist, proposal.id)
    with pytest.raises(PermissionDenied):
        scheduling.add_shift(
            session,
            make_ctx(Actor(None, "n", "nurse")),
            {"site": SITE, "day": WEEK, "starts": "08:00", "ends": "16:00"},
        )
    scheduling.accept_proposal(session, make_ctx(Actor(None, "a", "admin")), proposal.id)


@pytest.mark.usefixtures("clinic")
def test_a_past_week_and_bad_limits_are_refused(session: Session, ctx: ServiceContext):
    with pytest.raises(InvalidInput, match="over"):
        scheduling.propose_week(session, ctx, SITE, date(2026, 11, 2))
    with pytest.raises(InvalidInput, match="time limit"):
        scheduling.propose_week(session, ctx, SITE, WEEK, time_limit=0)


@pytest.mark.usefixtures("clinic")
def test_capacity_from_the_records(session: Session, ctx: ServiceContext):
    out = scheduling.capacity_week(session, ctx, SITE, WEEK, resource="chairs", time_limit=2)
    assert out["current"] == 6
    assert out["needed"] is not None
    assert 1 <= out["needed"] <= 6
