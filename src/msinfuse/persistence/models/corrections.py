"""Corrections of documented entries: never a deletion, never a silent change.

An entry (vital sign, pump rate, premedication, reaction, administration, lab) is marked
``entered_in_error`` or ``amended`` with a reason; the :class:`Correction` row keeps who did
it, when, why, and the values the entry held before (so the original stays visible).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from msinfuse.persistence.base import Base, utcnow

RECORD_STATUSES = ("final", "amended", "entered_in_error")
#: Entries that count clinically (everything but ``entered_in_error``).
LIVE_RECORD_STATUSES = ("final", "amended")


def record_status_column() -> Mapped[str]:
    """The ``record_status`` column of a documented entry."""
    return mapped_column(String(16), default="final", server_default="final")


def record_status_check() -> CheckConstraint:
    """The values a ``record_status`` may hold."""
    return CheckConstraint(
        "record_status IN ('final', 'amended', 'entered_in_error')", name="record_status"
    )


class Correction(Base):
    """An entry marked entered-in-error or amended, with the reason and the earlier values."""

    __tablename__ = "corrections"
    __table_args__ = (
        Index("ix_corrections_resource_record", "resource", "record_id"),
        CheckConstraint("action IN ('entered_in_error', 'amended')", name="action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    resource: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    #: The entry's values before this correction (field name to value, as JSON).
    previous: Mapped[dict[str, Any]] = mapped_column(JSON)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    username: Mapped[str | None] = mapped_column(String(80), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
