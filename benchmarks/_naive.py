"""Naive per-patient versions of the worklists: load each patient's rows with the ORM, one
patient at a time, and run the pure engines and filters in Python.

They compute the same answers as ``msinfuse.services.worklists`` (the benchmark checks
it) without the set-based queries and projections, to show what those are worth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.monitoring import monitoring
from msinfuse.domain.risk import pml_risk_from_state
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import Chair, Patient, PlannedDose, Site
from msinfuse.persistence.models.infusions import ACTIVE_APPOINTMENT_STATUSES
from msinfuse.services.state import build_patient_state


def iso(value: Any) -> Any:
    """Dates and times as the worklist services render them."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def _names(patient: Patient) -> dict[str, Any]:
    return {
        "patient_id": patient.id,
        "mrn": patient.mrn,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
    }


def today(session: Session, ids: Iterable[int], day: date) -> list[dict[str, Any]]:
    """Appointments of ``day`` with the latest check decision, patient by patient."""
    out = []
    for pid in ids:
        patient = session.get(Patient, pid)
        assert patient is not None
        for a in repo.appointments_of_patient(session, pid):
            if a.starts_at.date() != day or a.status not in ACTIVE_APPOINTMENT_STATUSES:
                continue
            dose = session.get(PlannedDose, a.planned_dose_id) if a.planned_dose_id else None
            site = session.get(Site, a.site_id)
            chair = session.get(Chair, a.chair_id)
            assert site is not None
            assert chair is not None
            check = repo.latest_check_on(session, pid, dose.agent, day) if dose else None
            out.append(
                {
                    "appointment_id": a.id,
                    "starts_at": iso(a.starts_at),
                    "ends_at": iso(a.ends_at),
                    "status": a.status,
                    "site": site.code,
                    "chair": chair.name,
                    **_names(patient),
                    "agent": dose.agent if dose else None,
                    "infusion_number": dose.number if dose else None,
                    "dose_id": dose.id if dose else None,
                    "decision": check.decision if check else None,
                    "check_id": check.id if check else None,
                }
            )
        session.expunge_all()
    return sorted(out, key=lambda r: (r["site"], r["chair"], r["starts_at"]))


def due(session: Session, ids: Iterable[int], day: date, days: int = 14) -> list[dict[str, Any]]:
    """Doses due by ``day + days`` (overdue included) without an appointment."""
    until = day + timedelta(days=days)
    out = []
    for pid in ids:
        patient = session.get(Patient, pid)
        assert patient is not None
        for plan in repo.plans_for_patient(session, pid):
            if plan.status != "active":
                continue
            for d in repo.doses_of_plan(session, plan.id):
                if d.status not in ("planned", "held", "missed") or d.planned_on > until:
                    continue
                if repo.active_appointment_for_dose(session, d.id) is not None:
                    continue
                out.append(
                    {
                        "dose_id": d.id,
                        **_names(patient),
                        "agent": d.agent,
                        "number": d.number,
                        "kind": d.kind,
                        "planned_on": iso(d.planned_on),
                        "earliest_on": iso(d.earliest_on),
                        "dose_mg": d.dose_mg,
                        "status": d.status,
                        "plan_id": plan.id,
                        "overdue": d.planned_on < day,
                    }
                )
        session.expunge_all()
    return sorted(out, key=lambda r: (r["planned_on"], r["family_name"], r["dose_id"]))


def monitoring_due(
    session: Session, kb: KnowledgeBase, ids: Iterable[int], day: date
) -> list[dict[str, Any]]:
    """Monitoring items due within the clinic's window, from each patient's record and the
    monitoring engine."""
    until = day + timedelta(days=kb.clinic.due_soon_days.value)
    out = []
    for pid in ids:
        patient = session.get(Patient, pid)
        assert patient is not None
        state = build_patient_state(session, kb, patient)
        for e in monitoring(kb, state, day, patient.profile).items:  # type: ignore[arg-type]
            if e.due > until or (e.until is not None and e.until < day):
                continue
            out.append(
                {
                    **_names(patient),
                    "agent": e.agent,
                    "item_id": e.item_id,
                    "item": e.item,
                    "kind": e.kind,
                    "due_on": iso(e.due),
                    "last_done": iso(e.last_done),
                    "until_on": iso(e.until),
                    "source": e.source[:400],
                    "fact_status": e.fact_status,
                    "status": "overdue" if e.due < day else "due",
                }
            )
        session.expunge_all()
    return out


def pml(session: Session, kb: KnowledgeBase, ids: Iterable[int], day: date) -> list[dict[str, Any]]:
    """Natalizumab patients by PML risk, from each patient's record and the risk engine."""
    out = []
    for pid in ids:
        patient = session.get(Patient, pid)
        assert patient is not None
        state = build_patient_state(session, kb, patient)
        if not any(a.agent == "natalizumab" for a in state.administrations):
            session.expunge_all()
            continue
        risk = pml_risk_from_state(kb, state, day)
        out.append(
            {
                **_names(patient),
                "category": risk.category,
                "band": risk.band,
                "risk_per_1000": risk.risk_per_1000,
                "jcv_status": risk.jcv_status,
                "jcv_index": risk.index,
                "months_exposed": risk.months_exposed,
                "prior_immunosuppressant": risk.prior_immunosuppressant,
                "computed_on": iso(day),
            }
        )
        session.expunge_all()
    return sorted(
        out,
        key=lambda r: (
            r["risk_per_1000"] is None,
            -(r["risk_per_1000"] or 0.0),
            r["family_name"],
            r["patient_id"],
        ),
    )


def adherence(session: Session, ids: Iterable[int], start: date, end: date) -> list[dict[str, Any]]:
    """Doses given in ``[start, end]`` per agent and month: given, late, mean and max days
    late, summed patient by patient."""
    groups: dict[tuple[str, int, int], list[int]] = defaultdict(list)
    for pid in ids:
        for d in repo.doses_of_patient(session, pid):
            if d.status != "given" or d.given_on is None or not start <= d.given_on <= end:
                continue
            groups[(d.agent, d.given_on.year, d.given_on.month)].append(
                (d.given_on - d.planned_on).days
            )
        session.expunge_all()
    out = []
    for (agent, year, month), lateness in sorted(groups.items()):
        late = [x for x in lateness if x > 0]
        out.append(
            {
                "agent": agent,
                "month": f"{year:04d}-{month:02d}",
                "given": len(lateness),
                "late": len(late),
                "mean_days_late": round(sum(late) / len(late), 1) if late else None,
                "max_days_late": max(late) if late else None,
            }
        )
    return out


def restrict(rows: list[dict[str, Any]], ids: set[int]) -> list[dict[str, Any]]:
    """The rows of the given patients (to compare a sample)."""
    return [r for r in rows if r["patient_id"] in ids]
