"""Data exchange: identifiers of imported FHIR resources, the installation's own identity,
and patients' private calendar feeds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from msinfuse.persistence.base import Base, utcnow


class ExchangeIdentifier(Base):
    """A business identifier (FHIR ``Identifier`` system and value) another system gave a
    record msinfuse imported. A second import of the same identifier changes nothing, and
    the export carries it again, so the identity survives a round trip."""

    __tablename__ = "exchange_identifiers"
    __table_args__ = (UniqueConstraint("kind", "system", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    system: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(200))
    record_id: Mapped[int] = mapped_column(Integer)


class InstanceSetting(Base):
    """A setting of this installation kept in its database (its identifier namespace)."""

    __tablename__ = "instance_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class CalendarFeed(Base):
    """A private iCalendar feed URL of a patient. Only a SHA-256 hash of the token is kept;
    staff revoke a feed and the URL answers 404 from then on."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
