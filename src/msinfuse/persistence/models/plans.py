"""Treatment plans and their planned doses (the stored dose calendar)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from msinfuse.persistence.base import Base, utcnow

PLAN_STATUSES = ("active", "paused", "stopped", "completed")
DOSE_STATUSES = ("planned", "scheduled", "given", "held", "missed", "cancelled")


class TreatmentPlan(Base):
    """A patient's plan for one agent: regimen, profile, start and status."""

    __tablename__ = "treatment_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    agent: Mapped[str] = mapped_column(String(40))
    regimen: Mapped[str] = mapped_column(String(40))
    profile: Mapped[str] = mapped_column(String(2))
    protocol: Mapped[str] = mapped_column(String(10), default="standard")
    starts_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="active")
    prescriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    stopped_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    switched_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_plans.id", ondelete="SET NULL"), nullable=True
    )
    prior_cumulative_mg_per_m2: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PlannedDose(Base):
    """A dose of a plan: planned, scheduled (booked), given, held, missed or cancelled."""

    __tablename__ = "planned_doses"
    __table_args__ = (
        Index("ix_planned_doses_status_date", "status", "planned_on"),
        Index("ix_planned_doses_plan_number", "plan_id", "number"),
        # The adherence worklist reads the doses given in a date range from this index alone.
        Index("ix_planned_doses_status_given", "status", "given_on", "agent", "planned_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    agent: Mapped[str] = mapped_column(String(40))
    number: Mapped[int] = mapped_column(Integer)
    course: Mapped[int] = mapped_column(Integer)
    course_day: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    planned_on: Mapped[date] = mapped_column(Date)
    earliest_on: Mapped[date] = mapped_column(Date)
    dose_mg: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default="planned")
    given_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class PlanReview(Base):
    """A plan held pending a prescriber's review (after a grade 4 or 5 infusion reaction).

    While ``decision`` is ``None`` the review is open: the plan is paused and its doses are
    held. A prescriber records the decision: ``discontinue`` (the agent is stopped for good
    and recorded as contraindicated), ``resume`` or ``stop`` (without a contraindication),
    the last two with a reason.
    """

    __tablename__ = "plan_reviews"
    __table_args__ = (
        CheckConstraint(
            "decision IS NULL OR decision IN ('discontinue', 'resume', 'stop')", name="decision"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_plans.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    administration_id: Mapped[int | None] = mapped_column(
        ForeignKey("administrations.id", ondelete="SET NULL"), nullable=True
    )
    reaction_grade: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decision: Mapped[str | None] = mapped_column(String(12), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_by_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
