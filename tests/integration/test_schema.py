"""Migrations build the schema; the models and the migrations never drift apart; the
database itself guards appointments and the audit log."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from msinfuse.persistence.base import Base
from msinfuse.persistence.migrate import current_revision, downgrade, upgrade
from msinfuse.persistence.models import Appointment, AuditEvent, Chair, Patient, Site


def test_models_and_migrations_do_not_drift(engine: Engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_the_schema_is_at_the_latest_revision(engine: Engine):
    assert current_revision(engine) is not None


def test_migrations_go_down_and_up_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'cycle.sqlite3'}"
    upgrade(url)
    downgrade(url, "base")
    upgrade(url)


def _chair(session: Session) -> Chair:
    site = Site(code="S", name="Site", opens=time(8), closes=time(17))
    session.add(site)
    session.flush()
    chair = Chair(site_id=site.id, name="C01")
    session.add(chair)
    patient = Patient(mrn="M", given_name="A", family_name="B")
    session.add(patient)
    session.flush()
    return chair


def test_the_database_rejects_overlapping_appointments_on_one_chair(session: Session):
    chair = _chair(session)
    patient_id = session.scalar(text("SELECT id FROM patients"))
    session.add(
        Appointment(
            patient_id=patient_id,
            site_id=chair.site_id,
            chair_id=chair.id,
            starts_at=datetime(2026, 11, 24, 9),
            ends_at=datetime(2026, 11, 24, 11),
        )
    )
    session.flush()
    session.add(
        Appointment(
            patient_id=patient_id,
            site_id=chair.site_id,
            chair_id=chair.id,
            starts_at=datetime(2026, 11, 24, 10),
            ends_at=datetime(2026, 11, 24, 12),
        )
    )
    with pytest.raises(IntegrityError, match="chair_overlap"):
        session.flush()


def test_back_to_back_and_cancelled_appointments_are_allowed(session: Session):
    chair = _chair(session)
    patient_id = session.scalar(text("SELECT id FROM patients"))
    session.add_all(
        [
            Appointment(
                patient_id=patient_id,
                site_id=chair.site_id,
                chair_id=chair.id,
                starts_at=datetime(2026, 11, 24, 9),
                ends_at=datetime(2026, 11, 24, 11),
            ),
            Appointment(
                patient_id=patient_id,
                site_id=chair.site_id,
                chair_id=chair.id,
                starts_at=datetime(2026, 11, 24, 11),
                ends_at=datetime(2026, 11, 24, 12),
            ),
            Appointment(
                patient_id=patient_id,
                site_id=chair.site_id,
                chair_id=chair.id,
                status="cancelled",
                starts_at=datetime(2026, 11, 24, 9),
                ends_at=datetime(2026, 11, 24, 12),
            ),
        ]
    )
    session.flush()


def test_the_audit_log_is_append_only(session: Session):
    session.add(AuditEvent(action="read", resource_type="Patient", resource_id="1"))
    session.flush()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("UPDATE audit_events SET action = 'x'"))
    session.rollback()
    session.add(AuditEvent(action="read", resource_type="Patient", resource_id="2"))
    session.flush()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("DELETE FROM audit_events"))


def test_sqlite_enforces_foreign_keys(session: Session):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL always enforces foreign keys")
    session.add(Chair(site_id=99999, name="orphan"))
    with pytest.raises(IntegrityError):
        session.flush()
