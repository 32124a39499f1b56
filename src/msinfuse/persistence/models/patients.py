"""Patients and their clinical record: labs, vaccinations, conditions, therapies, procedures."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from msinfuse.persistence.base import Base, utcnow
from msinfuse.persistence.models.corrections import record_status_check, record_status_column


class Patient(Base):
    """A patient of the infusion centre."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(40), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    sex: Mapped[str | None] = mapped_column(String(10), nullable=True)
    weight_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    height_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    ms_course: Mapped[str | None] = mapped_column(String(20), nullable=True)
    pregnant: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    breastfeeding: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    childbearing_potential: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    home_site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), nullable=True
    )
    profile: Mapped[str] = mapped_column(String(2), default="us")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class CourseHistory(Base):
    """The MS course of a patient from a date on (the history of ``Patient.ms_course``)."""

    __tablename__ = "course_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    ms_course: Mapped[str] = mapped_column(String(20))
    since: Mapped[date] = mapped_column(Date)


class Lab(Base):
    """A lab result."""

    __tablename__ = "labs"
    __table_args__ = (
        Index("ix_labs_patient_test_date", "patient_id", "test", "taken_on"),
        record_status_check(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    test: Mapped[str] = mapped_column(String(30))
    loinc: Mapped[str | None] = mapped_column(String(20), nullable=True)
    value_text: Mapped[str | None] = mapped_column(String(60), nullable=True)
    value_num: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str | None] = mapped_column(String(30), nullable=True)
    flag: Mapped[str | None] = mapped_column(String(10), nullable=True)
    taken_on: Mapped[date] = mapped_column(Date)
    record_status: Mapped[str] = record_status_column()


class Vaccination(Base):
    """A vaccine given."""

    __tablename__ = "vaccinations"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    vaccine: Mapped[str] = mapped_column(String(100))
    live: Mapped[bool] = mapped_column(Boolean)
    given_on: Mapped[date] = mapped_column(Date)


class Condition(Base):
    """A condition with onset and resolution."""

    __tablename__ = "conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    condition: Mapped[str] = mapped_column(String(60))
    onset: Mapped[date | None] = mapped_column(Date, nullable=True)
    resolved: Mapped[date | None] = mapped_column(Date, nullable=True)


class Therapy(Base):
    """A prior or current therapy (disease-modifying or immunosuppressive)."""

    __tablename__ = "therapies"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    agent: Mapped[str] = mapped_column(String(60))
    started_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    immunosuppressant: Mapped[bool] = mapped_column(Boolean, default=False)


class Procedure(Base):
    """A procedure: MRI, plasma exchange, IVIG, skin exam, ECG, prescriber evaluation..."""

    __tablename__ = "procedures"
    __table_args__ = (
        Index("ix_procedures_patient_kind_date", "patient_id", "procedure", "done_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    procedure: Mapped[str] = mapped_column(String(40))
    done_on: Mapped[date] = mapped_column(Date)


class Authorization(Base):
    """A programme authorization (TOUCH, REMS)."""

    __tablename__ = "authorizations"
    __table_args__ = (
        Index("ix_authorizations_patient_program_date", "patient_id", "program", "authorized_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    program: Mapped[str] = mapped_column(String(30))
    authorized_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(60), nullable=True)
    recorded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
