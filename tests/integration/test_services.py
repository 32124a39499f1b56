"""Record services on SQLite and PostgreSQL: plans keep their calendar, infusions change the
plan, checks are stored with acknowledgements and overrides, chairs are never double-booked,
every write is all-or-nothing, every access is audited."""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from msinfuse.errors import Conflict, InvalidInput, PermissionDenied
from msinfuse.persistence.engine import session_factory, session_scope
from msinfuse.persistence.models import (
    Administration,
    AuditEvent,
    InfusionReaction,
    PlannedDose,
    User,
)
from msinfuse.services import appointments, checks, clinic, infusions, plans, records, worklists
from msinfuse.services.context import Actor, ServiceContext
from tests.integration.conftest import TODAY, make_ctx

NURSE = Actor(2, "nurse1", "nurse")
PRESCRIBER = Actor(3, "dr1", "prescriber")
VIEWER = Actor(4, "view1", "viewer")

SCREENING = [
    {"test": t, "value": v, "date": "2026-11-01"}
    for t, v in [
        ("hbsag", "negative"),
        ("anti_hbc", "negative"),
        ("igg", 10),
        ("igm", 1),
        ("iga", 2),
        ("alt", 20),
        ("ast", 20),
        ("alp", 70),
        ("bilirubin", 0.5),
    ]
]


def _ensure_users(session: Session) -> None:
    for actor in (NURSE, PRESCRIBER, VIEWER):
        if session.get(User, actor.user_id) is None:
            session.add(
                User(
                    id=actor.user_id,
                    username=actor.username,
                    full_name=actor.username,
                    role=actor.role,
                    password_hash="-",
                )
            )
    session.flush()


def _patient(session: Session, ctx: ServiceContext, mrn: str = "M1", **extra: Any) -> int:
    _ensure_users(session)
    clinic.create_site(session, ctx, {"code": f"S{mrn}", "name": "Site", "chairs": 3})
    data = {
        "mrn": mrn,
        "given_name": "Ana",
        "family_name": "Diaz",
        "birth_date": "1985-02-01",
        "sex": "female",
        "ms_course": "RRMS",
        "pregnant": False,
        "childbearing_potential": True,
        "home_site": f"S{mrn}",
        **extra,
    }
    return int(records.register_patient(session, ctx, data)["id"])


def _given(
    session: Session,
    ctx: ServiceContext,
    patient_id: int,
    dose_id: int,
    when: datetime,
    **extra: Any,
) -> dict[str, Any]:
    return infusions.record_administration(
        session,
        ctx,
        patient_id,
        {"planned_dose_id": dose_id, "started_at": when, "historical": True, **extra},
    )


def _grade_4_ublituximab(session: Session, ctx: ServiceContext) -> tuple[int, int]:
    """A ublituximab patient whose first infusion had a grade 4 reaction."""
    pid = _patient(session, ctx)
    plan = plans.start_plan(
        session,
        make_ctx(today=date(2026, 1, 5)),
        pid,
        {"agent": "ublituximab", "start": "2026-01-05"},
    )
    _given(
        session,
        ctx,
        pid,
        plan["doses"][0]["id"],
        datetime(2026, 1, 5, 9),
        reactions=[{"onset_minute": 30, "grade": 4}],
    )
    return pid, plan["id"]


class TestPlans:
    def test_starting_a_plan_lays_out_the_calendar(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        plan = plans.start_plan(session, ctx, pid, {"agent": "ocrelizumab", "start": "2026-11-24"})
        doses = plan["doses"]
        assert [(d["number"], d["planned_on"], d["dose_mg"]) for d in doses[:3]] == [
            (1, "2026-11-24", 300),
            (2, "2026-12-08", 300),
            (3, "2027-05-11", 600),
        ]

    def test_a_late_dose_resets_the_stored_calendar(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        plan = plans.start_plan(
            session,
            make_ctx(today=date(2026, 1, 5)),
            pid,
            {"agent": "ocrelizumab", "start": "2026-01-05"},
        )
        late = make_ctx(today=date(2026, 9, 1))
        doses = plan["doses"]
        _given(session, late, pid, doses[0]["id"], datetime(2026, 1, 5, 9))
        _given(session, late, pid, doses[1]["id"], datetime(2026, 1, 19, 9))
        _given(session, late, pid, doses[2]["id"], datetime(2026, 8, 1, 9))
        after = plans.get_plan(session, late, plan["id"])["doses"]
        assert after[3]["planned_on"] == "2027-01-16"  # 24 weeks after the late dose
        assert after[2]["status"] == "given"

    def test_only_one_active_plan_per_agent(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        plans.start_plan(session, ctx, pid, {"agent": "natalizumab", "start": "2026-11-24"})
        with pytest.raises(Conflict):
            plans.start_plan(session, ctx, pid, {"agent": "natalizumab", "start": "2026-12-01"})

    def test_stopping_needs_a_reason_and_cancels_doses_not_given(
        self, session: Session, ctx: ServiceContext
    ):
        pid = _patient(session, ctx)
        plan = plans.start_plan(session, ctx, pid, {"agent": "natalizumab", "start": "2026-11-24"})
        with pytest.raises(InvalidInput, match="reason"):
            plans.change_plan_status(session, ctx, plan["id"], "stop", "")
        stopped = plans.change_plan_status(session, ctx, plan["id"], "stop", "JCV conversion")
        assert stopped["status"] == "stopped"
        assert {d["status"] for d in stopped["doses"]} == {"cancelled"}

    def test_switching_links_the_plans(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        old = plans.start_plan(session, ctx, pid, {"agent": "natalizumab", "start": "2026-11-24"})
        new = plans.switch_plan(
            session,
            ctx,
            old["id"],
            {"agent": "ocrelizumab", "start": "2026-12-15"},
            "anti-JCV positive, high index",
        )
        assert plans.get_plan(session, ctx, old["id"])["switched_to"] == new["id"]
        assert new["agent"] == "ocrelizumab"

    def test_a_dose_can_be_marked_missed_with_a_reason(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        plan = plans.start_plan(session, ctx, pid, {"agent": "natalizumab", "start": "2026-11-24"})
        with pytest.raises(InvalidInput):
            plans.mark_dose(session, ctx, plan["doses"][0]["id"], "missed", " ")
        out = plans.mark_dose(
            session, ctx, plan["doses"][0]["id"], "missed", "patient unwell, did not attend"
        )
        assert out["status"] == "missed"

    def test_only_prescribers_start_plans(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        with pytest.raises(PermissionDenied):
            plans.start_plan(
                session, make_ctx(NURSE), pid, {"agent": "natalizumab", "start": "2026-11-24"}
            )


class TestInfusions:
    def test_a_grade_3_ocrelizumab_reaction_removes_the_shorter_protocol(
        self, session: Session, ctx: ServiceContext
    ):
        pid = _patient(session, ctx)
        plan = plans.start_plan(
            session,
            make_ctx(today=date(2026, 1, 5)),
            pid,
            {"agent": "ocrelizumab", "start": "2026-01-05", "protocol": "shorter"},
        )
        out = _given(
            session,
            ctx,
            pid,
            plan["doses"][0]["id"],
            datetime(2026, 1, 5, 9),
            reactions=[{"onset_minute": 40, "grade": 3, "resume_minute": 80}],
        )
        assert out["max_reaction_grade"] == 3
        assert plans.get_plan(session, ctx, plan["id"])["protocol"] == "standard"
        assert out["consequences"]

    def test_a_grade_4_reaction_holds_the_plan_pending_a_prescriber_review(
        self, session: Session, ctx: ServiceContext
    ):
        pid, plan_id = _grade_4_ublituximab(session, ctx)
        after = plans.get_plan(session, ctx, plan_id)
        assert after["status"] == "paused"
        assert after["state"] == {
            "code": "review",
            "label": "held pending prescriber review",
            "reason": after["review"]["reason"],
            "live": True,
            "held": True,
        }
        assert "grade 4" in after["review"]["reason"]
        assert all(d["status"] == "held" for d in after["doses"][1:])
        result = checks.run_check(session, make_ctx(NURSE), pid, "ublituximab", date(2026, 1, 19))
        assert result["decision"] == "hold"
        assert any(f["rule"] == "reaction.discontinued" for f in result["findings"])
        conditions = records.patient_record_json(session, ctx, pid)["conditions"]
        assert not any(c["condition"].startswith("life_threatening_irr") for c in conditions)
        with pytest.raises(Conflict, match="review"):
            plans.change_plan_status(session, make_ctx(PRESCRIBER), plan_id, "resume")
        with pytest.raises(Conflict, match="review"):
            _given(session, ctx, pid, after["doses"][1]["id"], datetime(2026, 1, 19, 9),
                   historical=False)  # fmt: skip
        with pytest.raises(PermissionDenied):
            plans.decide_review(session, make_ctx(NURSE), plan_id, "discontinue")

    def test_a_prescriber_confirms_the_permanent_discontinuation(
        self, session: Session, ctx: ServiceContext
    ):
        pid, plan_id = _grade_4_ublituximab(session, ctx)
        decided = plans.decide_review(
            session, make_ctx(PRESCRIBER, date(2026, 1, 6)), plan_id, "discontinue"
        )
        assert decided["status"] == "stopped"
        assert decided["state"]["code"] == "stopped"
        assert decided["stop_reason"] == (
            "discontinued after a grade 4 infusion reaction (confirmed by a prescriber)"
        )
        assert decided["reviews"][0]["decision"] == "discontinue"
        assert decided["reviews"][0]["decided_by"] == "dr1"
        assert {d["status"] for d in decided["doses"][1:]} == {"cancelled"}
        conditions = records.patient_record_json(session, ctx, pid)["conditions"]
        assert [(c["condition"], c["onset"]) for c in conditions] == [
            ("life_threatening_irr:ublituximab", "2026-01-05")
        ]
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.resource_type == "TreatmentPlan")
        ).all()
        assert "hold-for-review" in actions
        assert "review-discontinue" in actions
        with pytest.raises(Conflict, match="no review"):
            plans.decide_review(session, make_ctx(PRESCRIBER), plan_id, "resume", "again")

    def test_a_prescriber_may_resume_the_plan_only_with_a_reason(
        self, session: Session, ctx: ServiceContext
    ):
        _, plan_id = _grade_4_ublituximab(session, ctx)
        with pytest.raises(InvalidInput, match="reason") as refused:
            plans.decide_review(session, make_ctx(PRESCRIBER), plan_id, "resume", "  ")
        assert refused.value.field == "reason"
        resumed = plans.decide_review(
            session, make_ctx(PRESCRIBER), plan_id, "resume", "reaction was re-graded as 2"
        )
        assert resumed["status"] == "active"
        assert resumed["state"]["label"] == "active"
        assert resumed["reviews"][0]["decision_reason"] == "reaction was re-graded as 2"
        assert all(d["status"] == "planned" for d in resumed["doses"][1:])

    def test_a_prescriber_may_stop_the_plan_without_a_contraindication(
        self, session: Session, ctx: ServiceContext
    ):
        pid, plan_id = _grade_4_ublituximab(session, ctx)
        stopped = plans.decide_review(
            session,
            make_ctx(PRESCRIBER),
            plan_id,
            "stop",
            "anaphylaxis to the antibiotic, not ublituximab",
        )
        assert stopped["status"] == "stopped"
        assert "not ublituximab" in stopped["stop_reason"]
        assert records.patient_record_json(session, ctx, pid)["conditions"] == []

    def test_an_infusion_needs_a_cleared_check(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        plan = plans.start_plan(session, ctx, pid, {"agent": "ocrelizumab", "start": "2026-11-24"})
        with pytest.raises(Conflict, match="check"):
            infusions.record_administration(
                session,
                make_ctx(NURSE),
                pid,
                {"planned_dose_id": plan["doses"][0]["id"], "started_at": "2026-11-24T08:30"},
            )

    def test_a_failed_write_leaves_nothing_behind(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        other = _patient(session, ctx, mrn="M2")
        plan = plans.start_plan(session, ctx, pid, {"agent": "natalizumab", "start": "2026-11-24"})
        slot = appointments.book(
            session,
            ctx,
            {
                "patient_id": other,
                "chair_id": _first_chair(session, "M2"),
                "starts_at": "2026-11-24T09:00",
                "ends_at": "2026-11-24T10:00",
            },
        )
        savepoint = session.begin_nested()
        with pytest.raises(InvalidInput, match="another patient"):
            _given(
                session,
                ctx,
                pid,
                plan["doses"][0]["id"],
                datetime(2026, 11, 24, 9),
                appointment_id=slot["id"],
                reactions=[{"onset_minute": 5, "grade": 1}],
            )
        savepoint.rollback()
        assert session.scalar(select(func.count()).select_from(Administration)) == 0
        assert session.scalar(select(func.count()).select_from(InfusionReaction)) == 0
        assert session.get(PlannedDose, plan["doses"][0]["id"]).status == "planned"


def _first_chair(session: Session, mrn: str = "M1") -> int:
    """The first chair of the site created for patient ``mrn`` (never a chair of another test)."""
    from msinfuse.persistence.models import Chair, Site

    return int(
        session.scalar(
            select(func.min(Chair.id))
            .join(Site, Site.id == Chair.site_id)
            .where(Site.code == f"S{mrn}")
        )
    )


class TestChecks:
    def test_a_check_is_stored_as_shown_then_acknowledged_and_overridden(
        self, session: Session, ctx: ServiceContext
    ):
        pid = _patient(session, ctx)
        for lab in [
            *SCREENING[:1],
            {"test": "anti_hbc", "value": "positive", "date": "2026-11-01"},
            *SCREENING[2:],
        ]:
            records.add_record(session, ctx, pid, "lab", lab)
        plans.start_plan(session, ctx, pid, {"agent": "ocrelizumab", "start": "2026-11-24"})
        records.add_record(
            session, ctx, pid, "vaccination", {"vaccine": "MMR", "live": True, "date": "2026-11-10"}
        )
        stored = checks.run_check(session, make_ctx(NURSE), pid, "ocrelizumab")
        assert stored["decision"] == "hold"
        assert stored["pending_warnings"] == ["labs.anti-hbc-positive"]
        assert stored["pending_holds"] == ["vaccines.live"]
        with pytest.raises(PermissionDenied):
            checks.override(
                session,
                make_ctx(NURSE),
                stored["id"],
                "vaccines.live",
                "accepted risk after discussion",
            )
        with pytest.raises(InvalidInput, match="reason"):
            checks.override(session, make_ctx(PRESCRIBER), stored["id"], "vaccines.live", "ok")
        checks.acknowledge(session, make_ctx(NURSE), stored["id"], "labs.anti-hbc-positive")
        cleared = checks.override(
            session,
            make_ctx(PRESCRIBER),
            stored["id"],
            "vaccines.live",
            "MMR given in error; hepatology and neurology agree to proceed",
        )
        assert cleared["cleared"] is True
        assert cleared["overridden"][0]["reason"].startswith("MMR")

    def test_only_warnings_can_be_acknowledged(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        stored = checks.run_check(session, make_ctx(NURSE), pid, "ocrelizumab")
        with pytest.raises(InvalidInput):
            checks.acknowledge(session, make_ctx(NURSE), stored["id"], "screening.hbv-screening")


class TestAppointments:
    def test_booking_takes_the_chair_time_from_the_patients_rate_plan(
        self, session: Session, ctx: ServiceContext
    ):
        pid = _patient(session, ctx)
        plan = plans.start_plan(session, ctx, pid, {"agent": "natalizumab", "start": "2026-11-24"})
        chair = _first_chair(session)
        booked = appointments.book(
            session,
            ctx,
            {
                "patient_id": pid,
                "chair_id": chair,
                "starts_at": "2026-11-24T09:00",
                "planned_dose_id": plan["doses"][0]["id"],
            },
        )
        assert booked["ends_at"] == "2026-11-24T11:20"  # 15 + 0 + 60 + 60 + 5 minutes
        assert worklists.due(session, ctx, TODAY, 30) == [] or all(
            r["dose_id"] != plan["doses"][0]["id"] for r in worklists.due(session, ctx, TODAY, 30)
        )

    def test_an_overlapping_booking_is_a_conflict(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        chair = _first_chair(session)
        appointments.book(
            session,
            ctx,
            {
                "patient_id": pid,
                "chair_id": chair,
                "starts_at": "2026-11-24T09:00",
                "ends_at": "2026-11-24T11:00",
            },
        )
        with pytest.raises(Conflict, match="already booked"):
            appointments.book(
                session,
                ctx,
                {
                    "patient_id": pid,
                    "chair_id": chair,
                    "starts_at": "2026-11-24T10:30",
                    "ends_at": "2026-11-24T12:00",
                },
            )

    def test_moving_and_cancelling(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        chair = _first_chair(session)
        booked = appointments.book(
            session,
            ctx,
            {
                "patient_id": pid,
                "chair_id": chair,
                "starts_at": "2026-11-24T09:00",
                "ends_at": "2026-11-24T11:00",
            },
        )
        moved = appointments.move(session, ctx, booked["id"], datetime(2026, 11, 24, 13))
        assert (moved["starts_at"], moved["ends_at"]) == ("2026-11-24T13:00", "2026-11-24T15:00")
        assert (
            appointments.cancel(session, ctx, booked["id"], "patient request")["status"]
            == "cancelled"
        )

    def test_a_viewer_cannot_book(self, session: Session, ctx: ServiceContext):
        pid = _patient(session, ctx)
        with pytest.raises(PermissionDenied):
            appointments.book(
                session,
                make_ctx(VIEWER),
                {
                    "patient_id": pid,
                    "chair_id": _first_chair(session),
                    "starts_at": "2026-11-24T09:00",
                    "ends_at": "2026-11-24T10:00",
                },
            )


def test_concurrent_bookings_of_one_chair_never_both_succeed(engine: Engine):
    """Two writers race for one chair in separate transactions: the database lets one win."""
    factory = session_factory(engine)
    ctx = make_ctx()
    with session_scope(factory) as session:
        site = clinic.create_site(session, ctx, {"code": "RACE", "name": "Race", "chairs": 1})
        pid = int(
            records.register_patient(
                session, ctx, {"mrn": "RACE-1", "given_name": "A", "family_name": "B"}
            )["id"]
        )
    chair = site["chairs"][0]["id"]
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def book(minute: int) -> None:
        barrier.wait()
        try:
            with session_scope(factory) as s:
                # Skip the friendly pre-check so only the database can stop the second writer.
                from msinfuse.persistence.models import Appointment

                s.add(
                    Appointment(
                        patient_id=pid,
                        site_id=site["id"],
                        chair_id=chair,
                        starts_at=datetime(2026, 11, 25, 9, minute),
                        ends_at=datetime(2026, 11, 25, 11),
                    )
                )
                s.flush()
            outcomes.append("ok")
        except Exception:
            outcomes.append("refused")

    threads = [threading.Thread(target=book, args=(m,)) for m in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert outcomes.count("refused") == 5


def test_every_read_and_change_of_patient_data_is_audited(session: Session, ctx: ServiceContext):
    pid = _patient(session, ctx)
    records.get_patient(session, make_ctx(VIEWER), pid)
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    mine = [
        (e.action, e.resource_type)
        for e in events
        if e.resource_type == "Patient" and e.resource_id == str(pid)
    ]
    assert mine == [("create", "Patient"), ("read", "Patient")]
    assert events[-1].username == "view1"
