"""The clinic's own vital-sign ranges, kept as a history of changes (never overwritten)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from msinfuse.persistence.base import Base, utcnow


class VitalSignLimitChange(Base):
    """A clinic's change of one vital sign's ranges. The newest change of a sign is in
    force; ranges left empty (``None``) are the knowledge base's defaults again."""

    __tablename__ = "vital_sign_limit_changes"
    __table_args__ = (
        Index("ix_vital_sign_limit_changes_kind", "kind", "changed_at"),
        CheckConstraint(
            "possible_low IS NULL OR possible_low < possible_high", name="possible_order"
        ),
        CheckConstraint("usual_low IS NULL OR usual_low <= usual_high", name="usual_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    possible_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    possible_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    usual_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    usual_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    changed_by_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
