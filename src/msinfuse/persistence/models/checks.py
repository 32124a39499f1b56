"""Pre-infusion check results as they were, with acknowledgements and overrides."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from msinfuse.persistence.base import Base, utcnow


class CheckResult(Base):
    """A stored pre-infusion check: the findings exactly as shown."""

    __tablename__ = "check_results"
    __table_args__ = (
        Index("ix_check_results_patient_agent_date", "patient_id", "agent", "check_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    planned_dose_id: Mapped[int | None] = mapped_column(
        ForeignKey("planned_doses.id", ondelete="SET NULL"), nullable=True, index=True
    )
    agent: Mapped[str] = mapped_column(String(40))
    check_date: Mapped[date] = mapped_column(Date)
    profile: Mapped[str] = mapped_column(String(2))
    protocol: Mapped[str] = mapped_column(String(10), default="standard")
    decision: Mapped[str] = mapped_column(String(10))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    label_revisions: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    kb_version: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CheckAcknowledgement(Base):
    """A nurse's acknowledgement of one warning of a check."""

    __tablename__ = "check_acknowledgements"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(
        ForeignKey("check_results.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CheckOverride(Base):
    """A prescriber's override of a hold, with the reason."""

    __tablename__ = "check_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(
        ForeignKey("check_results.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
