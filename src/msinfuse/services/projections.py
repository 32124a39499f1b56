"""Keep the worklist projections current (monitoring due dates, PML risk snapshots).

Called in the same transaction as every change to a patient's record, and for every patient
by ``msinfuse worklist refresh`` (daily, as due windows and exposure move with the date).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from msinfuse.domain.knowledge.facts import ProfileId
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.monitoring import monitoring
from msinfuse.domain.patient import PatientState
from msinfuse.domain.risk import pml_risk_from_state
from msinfuse.persistence.models import MonitoringDue, Patient, PmlRiskSnapshot
from msinfuse.services.state import build_patient_state


def projection_rows(
    kb: KnowledgeBase, patient_id: int, state: PatientState, profile: ProfileId, on: date
) -> tuple[list[MonitoringDue], PmlRiskSnapshot | None]:
    """The projection rows of one patient (not yet added to a session)."""
    result = monitoring(kb, state, on, profile)
    rows = [
        MonitoringDue(
            patient_id=patient_id,
            agent=e.agent,
            item_id=e.item_id,
            item=e.item,
            kind=e.kind,
            due_on=e.due,
            last_done=e.last_done,
            until_on=e.until,
            source=e.source[:400],
            fact_status=e.fact_status,
            computed_on=on,
        )
        for e in result.items
    ]
    snapshot = None
    if any(a.agent == "natalizumab" for a in state.administrations):
        risk = pml_risk_from_state(kb, state, on)
        snapshot = PmlRiskSnapshot(
            patient_id=patient_id,
            jcv_status=risk.jcv_status,
            jcv_index=risk.index,
            months_exposed=risk.months_exposed,
            prior_immunosuppressant=risk.prior_immunosuppressant,
            risk_per_1000=risk.risk_per_1000,
            band=risk.band,
            category=risk.category,
            computed_on=on,
        )
    return rows, snapshot


def refresh_patient(session: Session, kb: KnowledgeBase, patient: Patient, on: date) -> None:
    """Recompute one patient's projections."""
    session.flush()
    state = build_patient_state(session, kb, patient)
    rows, snapshot = projection_rows(kb, patient.id, state, patient.profile, on)  # type: ignore[arg-type]
    session.execute(delete(MonitoringDue).where(MonitoringDue.patient_id == patient.id))
    session.execute(delete(PmlRiskSnapshot).where(PmlRiskSnapshot.patient_id == patient.id))
    session.add_all(rows)
    if snapshot is not None:
        session.add(snapshot)
    session.flush()


def refresh_all(
    session: Session,
    kb: KnowledgeBase,
    on: date,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Recompute every patient's projections; returns the number of patients."""
    ids = session.scalars(select(Patient.id).order_by(Patient.id)).all()
    for done, patient_id in enumerate(ids, start=1):
        patient = session.get(Patient, patient_id)
        assert patient is not None
        refresh_patient(session, kb, patient, on)
        if done % 500 == 0:
            session.expunge_all()
        if progress is not None:
            progress(done, len(ids))
    return len(ids)
