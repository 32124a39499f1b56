"""Chair appointments and infusion administrations with their rate events, premedication,
vital signs and reactions.

A documented entry is never deleted: its ``record_status`` is ``final``, ``amended`` (changed
after it was first recorded; the earlier values are kept in its corrections) or
``entered_in_error`` (kept, shown struck through, left out of every clinical computation).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from msinfuse.persistence.base import Base, utcnow
from msinfuse.persistence.models.corrections import record_status_check, record_status_column

APPOINTMENT_STATUSES = ("booked", "arrived", "in_chair", "completed", "cancelled", "no_show")
ACTIVE_APPOINTMENT_STATUSES = ("booked", "arrived", "in_chair", "completed")


class Appointment(Base):
    """A chair booking. A chair never holds two overlapping active appointments: the
    database enforces it (PostgreSQL exclusion constraint; SQLite trigger)."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_chair_start", "chair_id", "starts_at"),
        Index("ix_appointments_site_start", "site_id", "starts_at"),
        CheckConstraint("ends_at > starts_at", name="time_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    planned_dose_id: Mapped[int | None] = mapped_column(
        ForeignKey("planned_doses.id", ondelete="SET NULL"), nullable=True, index=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    chair_id: Mapped[int] = mapped_column(ForeignKey("chairs.id", ondelete="RESTRICT"))
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12), default="booked")
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Administration(Base):
    """An infusion given (or started)."""

    __tablename__ = "administrations"
    __table_args__ = (
        Index("ix_administrations_patient_agent_date", "patient_id", "agent", "given_on"),
        record_status_check(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_plans.id", ondelete="SET NULL"), nullable=True
    )
    planned_dose_id: Mapped[int | None] = mapped_column(
        ForeignKey("planned_doses.id", ondelete="SET NULL"), nullable=True, index=True
    )
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), nullable=True
    )
    agent: Mapped[str] = mapped_column(String(40))
    protocol: Mapped[str] = mapped_column(String(10), default="standard")
    dose_mg: Mapped[float | None] = mapped_column(Float, nullable=True)
    volume_ml: Mapped[float | None] = mapped_column(Float, nullable=True)
    given_on: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    observation_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    max_reaction_grade: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(15), default="completed")
    nurse_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    #: The volume the pump infused, recorded at the end of the infusion.
    volume_infused_ml: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The dose actually given when only part of the bag ran (``None``: ``dose_mg`` in full).
    dose_given_mg: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Why the infusion ended early or with volume left.
    completion_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    record_status: Mapped[str] = record_status_column()

    @property
    def dose_actual_mg(self) -> float | None:
        """The dose that counts: the partial dose when one was recorded, else the dose."""
        return self.dose_given_mg if self.dose_given_mg is not None else self.dose_mg


class RateEvent(Base):
    """A pump rate as given: start, change, pause, resume or stop, at a minute of the infusion."""

    __tablename__ = "rate_events"
    __table_args__ = (record_status_check(),)

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(
        ForeignKey("administrations.id", ondelete="CASCADE"), index=True
    )
    minute: Mapped[float] = mapped_column(Float)
    rate_ml_per_h: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(10))
    #: Why a rate faster than the plan's step was run (the soft limit passed).
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    record_status: Mapped[str] = record_status_column()


class PremedicationGiven(Base):
    """A premedication given before an infusion."""

    __tablename__ = "premedications_given"
    __table_args__ = (record_status_check(),)

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(
        ForeignKey("administrations.id", ondelete="CASCADE"), index=True
    )
    drug: Mapped[str] = mapped_column(String(120))
    dose: Mapped[str | None] = mapped_column(String(60), nullable=True)
    route: Mapped[str | None] = mapped_column(String(30), nullable=True)
    given_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    dose_mg: Mapped[float | None] = mapped_column(Float, nullable=True)
    record_status: Mapped[str] = record_status_column()


class VitalSign(Base):
    """A vital sign taken during a visit."""

    __tablename__ = "vital_signs"
    __table_args__ = (record_status_check(),)

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(
        ForeignKey("administrations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    taken_at: Mapped[datetime] = mapped_column(DateTime)
    #: ``low`` or ``high`` when outside the usual range in force when it was recorded.
    flag: Mapped[str | None] = mapped_column(String(8), nullable=True)
    record_status: Mapped[str] = record_status_column()


class InfusionReaction(Base):
    """An infusion reaction: onset minute, CTCAE grade, actions and outcome."""

    __tablename__ = "infusion_reactions"
    __table_args__ = (record_status_check(),)

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(
        ForeignKey("administrations.id", ondelete="CASCADE"), index=True
    )
    onset_minute: Mapped[float] = mapped_column(Float)
    grade: Mapped[int] = mapped_column(Integer)
    resume_minute: Mapped[float | None] = mapped_column(Float, nullable=True)
    actions: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(60), nullable=True)
    record_status: Mapped[str] = record_status_column()
