"""A demo clinic built into SQLite and PostgreSQL: the stored records are what the real
engines compute, chairs are never double-booked, the worklists and today's board are
filled, and the same seed builds the same clinic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from msinfuse.domain.calendar import CalendarRequest, GivenDose, build_calendar
from msinfuse.domain.monitoring import monitoring
from msinfuse.domain.risk import pml_risk_from_state
from msinfuse.errors import Conflict
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.bulk import clinic_tables
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.persistence.migrate import upgrade
from msinfuse.persistence.models import (
    Appointment,
    AuditEvent,
    CheckResult,
    MonitoringDue,
    Patient,
    PlannedDose,
    PmlRiskSnapshot,
    TreatmentPlan,
)
from msinfuse.services import worklists
from msinfuse.services.context import ServiceContext
from msinfuse.services.demo import build_demo_clinic, clear_clinic, patient_generator
from msinfuse.services.plans import PLANNED_AHEAD
from msinfuse.services.state import build_patient_state
from tests.integration.conftest import TODAY, _postgres_admin_url, make_ctx

PATIENTS, SEED, SITES, CHAIRS = 40, 11, 2, 4


@dataclass
class Clinic:
    engine: Engine
    ctx: ServiceContext
    summary: dict[str, Any]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def clinic(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Clinic]:
    """A committed demo clinic of 40 patients on 2 sites of 4 chairs, per database."""
    admin = None
    name = f"msinfuse_test_demo_{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        url = f"sqlite:///{Path(tmp_path_factory.mktemp('demo')) / 'demo.sqlite3'}"
    else:
        admin_url = _postgres_admin_url()
        if admin_url is None:
            pytest.skip("PostgreSQL not reachable: set MSINFUSE_TEST_POSTGRES_URL")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    engine = make_engine(url)
    ctx = make_ctx()
    with session_scope(session_factory(engine)) as session:
        summary = build_demo_clinic(
            session, ctx, patients=PATIENTS, seed=SEED, sites=SITES, chairs_per_site=CHAIRS
        )
    yield Clinic(engine, ctx, summary)
    engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db(clinic: Clinic) -> Iterator[Session]:
    with Session(clinic.engine) as session:
        yield session
        session.rollback()


def test_every_patient_reads_back_as_the_state_the_generator_computed(db, kb):
    generator = patient_generator(kb, TODAY, sites=SITES, seed=SEED)
    patients = db.scalars(select(Patient).order_by(Patient.id)).all()
    assert len(patients) == PATIENTS
    for number, patient in enumerate(patients, start=1):
        generated = generator.generate(number)
        assert patient.mrn == generated.mrn
        stored = build_patient_state(db, kb, patient)
        assert stored == replace(generated.state, id=str(patient.id))


def test_stored_doses_are_the_calendar_engines_for_the_doses_given(db, kb):
    plans = db.scalars(select(TreatmentPlan).order_by(TreatmentPlan.id)).all()
    statuses = set()
    for plan in plans:
        patient = db.get(Patient, plan.patient_id)
        given = repo.administrations_of_plan(db, plan.id)
        doses = repo.doses_of_plan(db, plan.id)
        last = given[-1].given_on.date() if given else None
        # An active plan is synchronised on the build date; a stopped one was last
        # synchronised (doses ahead) when its last infusion was recorded.
        active = plan.status == "active"
        today = max(TODAY, last) if active and last else (TODAY if active else last)
        calendar = build_calendar(
            kb,
            CalendarRequest(
                agent=plan.agent,
                start=min([plan.starts_on, *(a.given_on.date() for a in given)]),
                today=today,
                regimen=plan.regimen,
                profile=plan.profile,
                given=tuple(GivenDose(a.given_on.date(), a.dose_mg) for a in given),
                count=PLANNED_AHEAD if plan.status in ("active", "stopped") else 0,
                height_cm=patient.height_cm,
                weight_kg=patient.weight_kg,
                prior_cumulative_mg_per_m2=plan.prior_cumulative_mg_per_m2,
            ),
        )
        assert [
            (d.number, d.course, d.course_day, d.kind, d.planned_on, d.earliest_on, d.dose_mg)
            for d in doses
        ] == [
            (d.number, d.course, d.course_day, d.kind, d.planned, d.earliest, d.dose_mg)
            for d in calendar.doses
        ]
        for stored, computed in zip(doses, calendar.doses, strict=True):
            if computed.status == "given":
                assert (stored.status, stored.given_on) == ("given", computed.date)
            else:
                assert stored.status != "given"
                assert stored.given_on is None
            statuses.add((plan.status, stored.status))
        assert [a.planned_dose_id for a in given] == [d.id for d in doses[: len(given)]]
    assert ("active", "scheduled") in statuses
    assert ("active", "planned") in statuses


def test_no_chair_ever_holds_two_appointments_at_once(db):
    appointments = db.scalars(
        select(Appointment).order_by(Appointment.chair_id, Appointment.starts_at)
    ).all()
    assert appointments
    for first, second in pairwise(appointments):
        if first.chair_id == second.chair_id:
            assert first.ends_at <= second.starts_at
    for a in appointments:
        dose = db.get(PlannedDose, a.planned_dose_id)
        assert dose.status == "scheduled"
        assert dose.patient_id == a.patient_id
        assert a.site_id == db.get(Patient, a.patient_id).home_site_id


def test_the_projections_are_what_the_engines_compute(db, kb):
    for patient in db.scalars(select(Patient).order_by(Patient.id)):
        state = build_patient_state(db, kb, patient)
        expected = [
            (e.agent, e.item_id, e.due, e.last_done, e.until)
            for e in monitoring(kb, state, TODAY, "us").items
        ]
        stored = db.scalars(
            select(MonitoringDue)
            .where(MonitoringDue.patient_id == patient.id)
            .order_by(MonitoringDue.id)
        ).all()
        assert [(m.agent, m.item_id, m.due_on, m.last_done, m.until_on) for m in stored] == expected
        snapshot = db.get(PmlRiskSnapshot, patient.id)
        if any(a.agent == "natalizumab" for a in state.administrations):
            risk = pml_risk_from_state(kb, state, TODAY)
            assert (snapshot.category, snapshot.risk_per_1000, snapshot.months_exposed) == (
                risk.category,
                risk.risk_per_1000,
                risk.months_exposed,
            )
        else:
            assert snapshot is None


def test_todays_board_shows_each_check_decision(clinic, db):
    rows = worklists.today(db, clinic.ctx)
    assert len(rows) == clinic.summary["appointments_today"] > 0
    assert all(r["decision"] in ("go", "caution", "hold") for r in rows)
    decisions = db.scalars(select(CheckResult.decision)).all()
    assert sorted(decisions) == sorted(r["decision"] for r in rows)


def test_the_worklists_have_work(clinic, db):
    ctx = clinic.ctx
    assert worklists.due(db, ctx)
    assert any(r["status"] == "overdue" for r in worklists.monitoring_due(db, ctx))
    assert worklists.pml(db, ctx)
    adherence = worklists.adherence(db, ctx)
    assert any(r["late"] for r in adherence)


def test_adherence_counts_the_late_doses_of_each_month(clinic, db):
    start, end = date(2025, 11, 24), TODAY
    months: dict[tuple[str, str], list[int]] = {}
    for dose in db.scalars(select(PlannedDose).where(PlannedDose.status == "given")):
        if start <= dose.given_on <= end:
            key = (dose.agent, dose.given_on.strftime("%Y-%m"))
            months.setdefault(key, []).append((dose.given_on - dose.planned_on).days)
    expected = []
    for (agent, month), lateness in sorted(months.items()):
        late = [d for d in lateness if d > 0]
        expected.append(
            {
                "agent": agent,
                "month": month,
                "given": len(lateness),
                "late": len(late),
                "mean_days_late": round(sum(late) / len(late), 1) if late else None,
                "max_days_late": max(late) if late else None,
            }
        )
    assert worklists.adherence(db, clinic.ctx, start, end) == expected
    site = worklists.adherence(db, clinic.ctx, start, end, site="MAIN")
    assert 0 < sum(r["given"] for r in site) < sum(r["given"] for r in expected)


def test_the_summary_counts_what_was_written(clinic, db):
    counts = repo.table_row_counts(db)
    for name, written in clinic.summary["rows"].items():
        assert counts[name] == written
    assert clinic.summary["parameters"]["visit_shares"]["source"].startswith("infusion-scheduling")


def test_one_audit_event_records_the_build(db):
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "demo-data")).all()
    assert len(events) == 1
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == 1


def test_a_clinic_is_not_built_over_existing_patients(clinic, db):
    with pytest.raises(Conflict):
        build_demo_clinic(db, clinic.ctx, patients=1)


# ------------------------------------------------------------------------- determinism


def _dump(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t.name: [tuple(r) for r in session.execute(select(t).order_by(*t.primary_key.columns))]
        for t in clinic_tables()
    }


def test_the_same_seed_builds_the_same_clinic_and_another_seed_another(
    session: Session, ctx: ServiceContext
):
    clear_clinic(session, ctx)  # other tests may have committed rows to the shared database
    build_demo_clinic(session, ctx, patients=25, seed=3, sites=2, chairs_per_site=3)
    first = _dump(session)
    assert first["patients"]
    assert first["appointments"]
    clear_clinic(session, ctx)
    assert not _dump(session)["patients"]
    build_demo_clinic(session, ctx, patients=25, seed=3, sites=2, chairs_per_site=3)
    assert _dump(session) == first
    clear_clinic(session, ctx)
    build_demo_clinic(session, ctx, patients=25, seed=4, sites=2, chairs_per_site=3)
    other = _dump(session)
    assert other["patients"] != first["patients"]
    assert other["labs"] != first["labs"]


def test_clearing_keeps_the_audit_log(session: Session, ctx: ServiceContext):
    clear_clinic(session, ctx)
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    build_demo_clinic(session, ctx, patients=5)
    cleared = clear_clinic(session, ctx)
    assert cleared["patients"] == 5
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert len(actions) == before + 2
    assert actions[-2:] == ["demo-data", "demo-data-clear"]


def test_worker_processes_build_the_same_clinic(tmp_path, sqlite_template):
    dumps = []
    for workers in (1, 2):
        target = tmp_path / f"w{workers}.sqlite3"
        target.write_bytes(sqlite_template.read_bytes())
        engine = make_engine(f"sqlite:///{target}")
        with session_scope(session_factory(engine)) as session:
            build_demo_clinic(session, make_ctx(), patients=110, seed=9, workers=workers)
        with Session(engine) as session:
            dumps.append(_dump(session))
        engine.dispose()
    assert dumps[0] == dumps[1]


def test_a_build_on_another_day_is_another_clinic(session: Session, ctx: ServiceContext):
    clear_clinic(session, ctx)
    build_demo_clinic(session, make_ctx(today=date(2026, 6, 1)), patients=3)
    first_plan = session.scalars(select(TreatmentPlan).order_by(TreatmentPlan.id)).first()
    assert first_plan is not None
    assert first_plan.starts_on < date(2026, 6, 1)
