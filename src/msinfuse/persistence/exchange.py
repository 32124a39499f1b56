"""Queries of data exchange: a patient's whole record for export, imported identifiers,
the installation's identity, and calendar feeds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from msinfuse.persistence.models import (
    Administration,
    Appointment,
    CalendarFeed,
    Chair,
    Condition,
    CourseHistory,
    ExchangeIdentifier,
    InfusionReaction,
    InstanceSetting,
    Lab,
    Patient,
    PlannedDose,
    PremedicationGiven,
    Procedure,
    RateEvent,
    Site,
    Therapy,
    TreatmentPlan,
    Vaccination,
    VitalSign,
)

INSTANCE_KEY = "instance_id"


@dataclass
class PatientRecord:
    """Everything msinfuse exchanges about one patient, each list in id order."""

    patient: Patient
    courses: Sequence[CourseHistory]
    conditions: Sequence[Condition]
    therapies: Sequence[Therapy]
    labs: Sequence[Lab]
    vaccinations: Sequence[Vaccination]
    procedures: Sequence[Procedure]
    plans: Sequence[TreatmentPlan]
    doses: Sequence[PlannedDose]
    appointments: Sequence[Appointment]
    administrations: Sequence[Administration]
    rate_events: Sequence[RateEvent]
    premedications: Sequence[PremedicationGiven]
    vital_signs: Sequence[VitalSign]
    reactions: Sequence[InfusionReaction]
    sites: Sequence[Site]
    chairs: Sequence[Chair]


def _of_patient(session: Session, model: Any, patient_id: int) -> Sequence[Any]:
    return session.scalars(
        select(model).where(model.patient_id == patient_id).order_by(model.id)
    ).all()


def _of_administrations(session: Session, model: Any, ids: list[int]) -> Sequence[Any]:
    if not ids:
        return []
    return session.scalars(
        select(model).where(model.administration_id.in_(ids)).order_by(model.id)
    ).all()


def patient_record(session: Session, patient: Patient) -> PatientRecord:
    """Load one patient's exchanged records (a fixed number of queries)."""
    pid = patient.id
    administrations = _of_patient(session, Administration, pid)
    adm_ids = [a.id for a in administrations]
    appointments = _of_patient(session, Appointment, pid)
    chair_ids = {a.chair_id for a in appointments}
    chairs = (
        session.scalars(select(Chair).where(Chair.id.in_(chair_ids)).order_by(Chair.id)).all()
        if chair_ids
        else []
    )
    site_ids = {c.site_id for c in chairs} | (
        {patient.home_site_id} if patient.home_site_id else set()
    )
    sites = (
        session.scalars(select(Site).where(Site.id.in_(site_ids)).order_by(Site.id)).all()
        if site_ids
        else []
    )
    return PatientRecord(
        patient=patient,
        courses=_of_patient(session, CourseHistory, pid),
        conditions=_of_patient(session, Condition, pid),
        therapies=_of_patient(session, Therapy, pid),
        labs=_of_patient(session, Lab, pid),
        vaccinations=_of_patient(session, Vaccination, pid),
        procedures=_of_patient(session, Procedure, pid),
        plans=_of_patient(session, TreatmentPlan, pid),
        doses=_of_patient(session, PlannedDose, pid),
        appointments=appointments,
        administrations=administrations,
        rate_events=_of_administrations(session, RateEvent, adm_ids),
        premedications=_of_administrations(session, PremedicationGiven, adm_ids),
        vital_signs=_of_administrations(session, VitalSign, adm_ids),
        reactions=_of_administrations(session, InfusionReaction, adm_ids),
        sites=sites,
        chairs=chairs,
    )


def external_identifiers(
    session: Session, patient_id: int
) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """The identifiers other systems gave this patient's imported records."""
    out: dict[tuple[str, int], list[tuple[str, str]]] = {}
    rows = session.scalars(
        select(ExchangeIdentifier)
        .where(ExchangeIdentifier.patient_id == patient_id)
        .order_by(ExchangeIdentifier.id)
    )
    for row in rows:
        out.setdefault((row.kind, row.record_id), []).append((row.system, row.value))
    return out


def find_identifier(
    session: Session, kind: str, system: str, value: str
) -> ExchangeIdentifier | None:
    """The imported identifier (kind, system, value), or ``None``."""
    return session.scalars(
        select(ExchangeIdentifier).where(
            ExchangeIdentifier.kind == kind,
            ExchangeIdentifier.system == system,
            ExchangeIdentifier.value == value,
        )
    ).first()


def instance_id(session: Session) -> str:
    """This installation's identifier namespace (a UUID made on first use)."""
    row = session.get(InstanceSetting, INSTANCE_KEY)
    if row is None:
        row = InstanceSetting(key=INSTANCE_KEY, value=str(uuid.uuid4()))
        session.add(row)
        session.flush()
    return row.value


def find_feed(session: Session, token_hash: str) -> CalendarFeed | None:
    """The calendar feed with this token hash, or ``None``."""
    return session.scalars(
        select(CalendarFeed).where(CalendarFeed.token_hash == token_hash)
    ).first()


def patient_feeds(session: Session, patient_id: int) -> Sequence[CalendarFeed]:
    """A patient's calendar feeds, newest first."""
    return session.scalars(
        select(CalendarFeed)
        .where(CalendarFeed.patient_id == patient_id)
        .order_by(CalendarFeed.id.desc())
    ).all()
