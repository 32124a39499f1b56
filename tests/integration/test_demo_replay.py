"""The demo history is what the record services would have stored: replaying a generated
plan through ``services.plans`` and ``services.infusions`` (start, each infusion on its day,
switch, grade 4 reaction, missed doses) stores the same doses, statuses and reasons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import Administration, Condition, TreatmentPlan
from msinfuse.services import infusions, plans, records
from msinfuse.services.demo import patient_generator
from msinfuse.services.demo_history import GenPlan
from msinfuse.services.demo_params import DemoParameters
from msinfuse.services.demo_patient import GenPatient
from tests.integration.conftest import TODAY, make_ctx

Case = tuple[GenPatient, GenPlan]


def _late(plan: GenPlan) -> bool:
    return any(d.given_on and d.given_on > d.planned_on for d in plan.doses)


CASES: dict[str, Callable[[GenPlan], bool]] = {
    "anti-CD20 with a late dose": lambda p: (
        p.agent in ("ocrelizumab", "ublituximab")
        and p.status == "active"
        and len(p.administrations) >= 3
        and _late(p)
    ),
    "natalizumab switched": lambda p: p.agent == "natalizumab" and p.status == "stopped",
    "alemtuzumab course 2": lambda p: (
        p.agent == "alemtuzumab" and any(d.course == 2 and d.given_on for d in p.doses)
    ),
    "overdue dose marked": lambda p: (
        p.status == "active" and any(d.status in ("missed", "held") for d in p.doses)
    ),
    "relapse course": lambda p: p.agent == "methylprednisolone" and p.status == "completed",
}


@pytest.fixture(scope="module")
def cases(kb: KnowledgeBase) -> dict[str, Case]:
    found: dict[str, Case] = {}
    generator = patient_generator(kb, TODAY, seed=21)
    for number in range(1, 600):
        patient = generator.generate(number)
        for plan in patient.plans:
            for name, wanted in CASES.items():
                if name not in found and wanted(plan) and len(plan.administrations) < 45:
                    found[name] = (patient, plan)
        if len(found) == len(CASES):
            break
    params = DemoParameters(serious_share_multiplier=100.0, grade4_share_of_serious=1.0)
    severe = patient_generator(kb, TODAY, seed=3, params=params)
    for number in range(1, 300):
        patient = severe.generate(number)
        plan = next(
            (p for p in patient.plans if p.stop_reason and "grade 4" in p.stop_reason), None
        )
        if plan is not None:
            found["grade 4 reaction"] = (patient, plan)
            break
    assert set(found) == {*CASES, "grade 4 reaction"}
    return found


def _replay(session: Session, patient: GenPatient, gen: GenPlan) -> int:
    start_ctx = make_ctx(today=gen.starts_on)
    pid = records.register_patient(
        session,
        start_ctx,
        {
            "mrn": patient.mrn,
            "given_name": patient.given_name,
            "family_name": patient.family_name,
            "birth_date": patient.birth_date,
            "sex": patient.sex,
            "height_cm": patient.height_cm,
            "weight_kg": patient.weight_kg,
            "ms_course": patient.ms_course,
        },
    )["id"]
    first_protocol = (
        "shorter" if any(a.protocol == "shorter" for a in gen.administrations) else gen.protocol
    )
    plan_id = plans.start_plan(
        session,
        start_ctx,
        pid,
        {
            "agent": gen.agent,
            "regimen": gen.regimen,
            "start": gen.starts_on,
            "protocol": first_protocol,
            "prior_cumulative_mg_per_m2": gen.prior_cumulative_mg_per_m2,
        },
    )["id"]
    for adm in gen.administrations:
        reactions: list[dict[str, Any]] = []
        if adm.reaction is not None:
            r = adm.reaction
            reactions.append(
                {"onset_minute": r.onset_minute, "grade": r.grade, "resume_minute": r.resume_minute}
            )
        infusions.record_administration(
            session,
            make_ctx(today=adm.given_on),
            pid,
            {
                "plan_id": plan_id,
                "started_at": adm.started_at,
                "ended_at": adm.ended_at,
                "historical": True,
                "protocol": adm.protocol,
                "dose_mg": adm.dose_mg,
                "reactions": reactions,
            },
        )
        if adm.reaction is not None and adm.reaction.grade >= 4:  # the prescriber's review
            plans.decide_review(session, make_ctx(today=adm.given_on), plan_id, "discontinue")
    row = session.get(TreatmentPlan, plan_id)
    assert row is not None
    if gen.status == "stopped" and gen.stop_reason and gen.stop_reason.startswith("switched"):
        plans.change_plan_status(
            session, make_ctx(today=gen.stopped_on), plan_id, "stop", gen.stop_reason
        )
    elif gen.status == "active":
        plans.sync_calendar(session, make_ctx(), row)  # the calendar as of the build date
        for dose, stored in zip(gen.doses, repo.doses_of_plan(session, plan_id), strict=False):
            if dose.status in ("missed", "held"):
                plans.mark_dose(session, make_ctx(), stored.id, dose.status, dose.reason or "")
    elif gen.status == "completed":
        row.status, row.stopped_on, row.stop_reason = "completed", gen.stopped_on, gen.stop_reason
    return plan_id


DOSE_FIELDS = (
    "number",
    "course",
    "course_day",
    "kind",
    "planned_on",
    "earliest_on",
    "dose_mg",
    "status",
    "given_on",
    "reason",
)


def _dose(dose: Any) -> tuple[Any, ...]:
    return tuple(getattr(dose, name) for name in DOSE_FIELDS)


@pytest.mark.parametrize(
    "case",
    [*CASES, "grade 4 reaction"],
)
def test_replaying_a_generated_plan_through_the_services_stores_the_same_plan(
    session: Session, cases: dict[str, Case], case: str
):
    patient, gen = cases[case]
    plan_id = _replay(session, patient, gen)
    stored = repo.doses_of_plan(session, plan_id)
    assert [_dose(d) for d in stored] == [_dose(d) for d in gen.doses]
    row = session.get(TreatmentPlan, plan_id)
    assert row is not None
    assert (row.status, row.protocol, row.stopped_on, row.stop_reason) == (
        gen.status,
        gen.protocol,
        gen.stopped_on,
        gen.stop_reason,
    )
    given = session.scalars(
        select(Administration).where(Administration.plan_id == plan_id).order_by(Administration.id)
    ).all()
    assert [(a.given_on, a.max_reaction_grade, a.outcome) for a in given] == [
        (a.started_at, a.grade, a.outcome) for a in gen.administrations
    ]
    if case == "grade 4 reaction":
        conditions = session.scalars(
            select(Condition.condition).where(Condition.patient_id == row.patient_id)
        ).all()
        assert f"life_threatening_irr:{gen.agent}" in conditions
