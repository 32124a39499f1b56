"""Stored scheduling proposals: a week's optimised bookings for one site, shown before they
are accepted, with the snapshot of the bookings they were computed from."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from msinfuse.persistence.base import Base, utcnow

PROPOSAL_STATUSES = ("proposed", "accepted")


class ScheduleProposal(Base):
    """A proposed week of bookings for a site (``payload``), and the appointments and doses it
    assumed (``snapshot``); accepting it writes the bookings unless the snapshot is stale."""

    __tablename__ = "schedule_proposals"
    __table_args__ = (Index("ix_schedule_proposals_site_week", "site_id", "week_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    week_start: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    allow_moves: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    accepted_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
