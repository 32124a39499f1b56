"""Build the domain patient state from stored records (entries marked entered in error
are left out; a partial dose counts as the dose actually given)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from msinfuse.domain import patient as domain
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.persistence.models import Patient, TreatmentPlan
from msinfuse.persistence.repositories import patient_record


def build_patient_state(
    session: Session, kb: KnowledgeBase, patient: Patient
) -> domain.PatientState:
    """The :class:`~msinfuse.domain.patient.PatientState` of a stored patient."""
    record = patient_record(session, patient.id)
    classes = {t.id: t for t in kb.terminology.therapies}
    # One plan per agent: the active (or paused) one, else the newest.
    chosen: dict[str, TreatmentPlan] = {}
    for plan in record["plans"]:
        current = chosen.get(plan.agent)
        live = plan.status in ("active", "paused")
        if (
            current is None
            or live
            or (current.status not in ("active", "paused") and plan.starts_on >= current.starts_on)
        ):
            chosen[plan.agent] = plan
    plans = tuple(
        domain.PlanRef(
            p.agent,
            p.regimen,
            p.starts_on,
            None if p.status in ("active", "paused") else p.stopped_on,
        )
        for p in chosen.values()
    )
    cumulative = {
        p.agent: p.prior_cumulative_mg_per_m2
        for p in chosen.values()
        if p.prior_cumulative_mg_per_m2
    }
    return domain.PatientState(
        id=str(patient.id),
        birth_date=patient.birth_date,
        sex=patient.sex,  # type: ignore[arg-type]
        weight_kg=patient.weight_kg,
        height_cm=patient.height_cm,
        ms_course=patient.ms_course,
        pregnant=patient.pregnant,
        breastfeeding=patient.breastfeeding,
        childbearing_potential=patient.childbearing_potential,
        labs=tuple(
            domain.Lab(
                lab.test,
                lab.value_num if lab.value_num is not None else (lab.value_text or ""),
                lab.taken_on,
                lab.unit,
                lab.flag,
            )
            for lab in record["labs"]
            if lab.record_status != "entered_in_error"
        ),
        vaccinations=tuple(
            domain.Vaccination(v.vaccine, v.live, v.given_on) for v in record["vaccinations"]
        ),
        conditions=tuple(
            domain.Condition(c.condition, c.onset, c.resolved) for c in record["conditions"]
        ),
        therapies=tuple(
            domain.Therapy(
                t.agent,
                t.started_on,
                t.ended_on,
                t.immunosuppressant
                or bool(classes.get(t.agent) and classes[t.agent].immunosuppressant),
            )
            for t in record["therapies"]
        ),
        administrations=tuple(
            domain.Administration(
                a.agent, a.given_on.date(), a.dose_actual_mg, a.max_reaction_grade
            )
            for a in record["administrations"]
            if a.outcome != "not_started" and a.record_status != "entered_in_error"
        ),
        authorizations=tuple(
            domain.Authorization(a.program, a.authorized_on) for a in record["authorizations"]
        ),
        procedures=tuple(domain.Procedure(p.procedure, p.done_on) for p in record["procedures"]),
        plans=plans,
        prior_cumulative_mg_per_m2=cumulative,
    )
