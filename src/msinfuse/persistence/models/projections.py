"""Read-side projections for clinic-wide worklists.

The monitoring engine and the PML risk engine are pure functions of a patient's record and
a date. Running them for every patient on every worklist request would be a per-patient
loop; instead the services keep these projections current in the same transaction as every
change to a patient's record, and ``msinfuse worklist refresh`` recomputes them all (daily,
because exposure time and due windows move with the calendar). The worklists are then
set-based queries over indexed tables.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from msinfuse.persistence.base import Base, utcnow


class MonitoringDue(Base):
    """One monitoring item of a patient with its next due date."""

    __tablename__ = "monitoring_due"
    __table_args__ = (Index("ix_monitoring_due_due_on", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    agent: Mapped[str] = mapped_column(String(40))
    item_id: Mapped[str] = mapped_column(String(60))
    item: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    due_on: Mapped[date] = mapped_column(Date)
    last_done: Mapped[date | None] = mapped_column(Date, nullable=True)
    until_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    source: Mapped[str] = mapped_column(String(400))
    fact_status: Mapped[str] = mapped_column(String(12))
    computed_on: Mapped[date] = mapped_column(Date)


class PmlRiskSnapshot(Base):
    """A natalizumab patient's PML risk as computed on a date."""

    __tablename__ = "pml_risk"

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    jcv_status: Mapped[str] = mapped_column(String(10))
    jcv_index: Mapped[float | None] = mapped_column(Float, nullable=True)
    months_exposed: Mapped[int] = mapped_column(Integer)
    prior_immunosuppressant: Mapped[bool] = mapped_column(Boolean)
    risk_per_1000: Mapped[float | None] = mapped_column(Float, nullable=True)
    band: Mapped[str | None] = mapped_column(String(40), nullable=True)
    category: Mapped[str] = mapped_column(String(15), index=True)
    computed_on: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
