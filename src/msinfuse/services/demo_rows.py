"""Turn generated demo patients into table rows with ids, for the bulk writer.

Ids are handed out in the order the database returns rows (by date, then id), so the state
``services.state.build_patient_state`` reads back is the state the generator computed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.services.demo_booking import Booking
from msinfuse.services.demo_history import GenDose, GenPlan
from msinfuse.services.demo_patient import GenPatient

#: Tables in the order rows are written (parents first).
ORDER = (
    "patients",
    "course_history",
    "labs",
    "vaccinations",
    "conditions",
    "therapies",
    "procedures",
    "authorizations",
    "treatment_plans",
    "planned_doses",
    "appointments",
    "administrations",
    "rate_events",
    "premedications_given",
    "vital_signs",
    "infusion_reactions",
    "check_results",
    "monitoring_due",
    "pml_risk",
)
ID_TABLES = tuple(t for t in ORDER if t != "pml_risk")


class RowBatch:
    """Rows of many patients, per table, with ids from running counters."""

    def __init__(
        self,
        kb: KnowledgeBase,
        next_ids: dict[str, int],
        site_ids: list[int],
        chair_ids: list[list[int]],
        now: datetime,
    ) -> None:
        self.kb = kb
        self.ids = dict(next_ids)
        self.site_ids = site_ids
        self.chair_ids = chair_ids
        self.now = now
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._plan_ids: dict[int, int] = {}
        #: Plans that name the plan they were switched to: written after the others.
        self.late_plans: list[dict[str, Any]] = []
        self.loinc = {
            code: (lab.loinc.code if lab.loinc and lab.loinc.exportable else None)
            for code, lab in kb.labs.items()
        }

    def _id(self, name: str) -> int:
        value = self.ids[name]
        self.ids[name] = value + 1
        return value

    def _add(self, name: str, **row: Any) -> int:
        ident = self._id(name)
        self.rows[name].append({"id": ident, **row})
        return ident

    def take(self) -> dict[str, list[dict[str, Any]]]:
        """The rows gathered so far (the batch starts empty again)."""
        rows = self.rows
        rows["treatment_plans"].extend(self.late_plans)
        self.rows, self.late_plans = defaultdict(list), []
        return rows

    def add_patient(self, pat: GenPatient, bookings: list[Booking]) -> int:
        """Rows of one patient; returns the patient's id."""
        now = self.now
        pid = self._add(
            "patients",
            mrn=pat.mrn,
            given_name=pat.given_name,
            family_name=pat.family_name,
            birth_date=pat.birth_date,
            sex=pat.sex,
            weight_kg=pat.weight_kg,
            height_cm=pat.height_cm,
            ms_course=pat.ms_course,
            pregnant=pat.pregnant,
            breastfeeding=pat.breastfeeding,
            childbearing_potential=pat.childbearing_potential,
            home_site_id=self.site_ids[pat.site],
            profile=pat.profile,
            created_at=now,
            updated_at=now,
        )
        self._add(
            "course_history", patient_id=pid, ms_course=pat.ms_course, since=pat.history_start
        )
        for lab in pat.record.labs:
            number = isinstance(lab.value, float)
            self._add(
                "labs",
                patient_id=pid,
                test=lab.test,
                loinc=self.loinc.get(lab.test),
                value_text=None if number else str(lab.value),
                value_num=lab.value if number else None,
                unit=lab.unit,
                flag=lab.flag,
                taken_on=lab.date,
            )
        for vac in pat.vaccinations:
            self._add(
                "vaccinations",
                patient_id=pid,
                vaccine=vac.vaccine,
                live=vac.live,
                given_on=vac.date,
            )
        for cond in pat.conditions:
            self._add(
                "conditions",
                patient_id=pid,
                condition=cond.condition,
                onset=cond.onset,
                resolved=cond.resolved,
            )
        for therapy in pat.therapies:
            self._add(
                "therapies",
                patient_id=pid,
                agent=therapy.agent,
                started_on=therapy.start,
                ended_on=therapy.end,
                immunosuppressant=therapy.immunosuppressant,
            )
        for proc in pat.record.procedures:
            self._add("procedures", patient_id=pid, procedure=proc.procedure, done_on=proc.date)
        for auth in pat.record.authorizations:
            self._add(
                "authorizations",
                patient_id=pid,
                program=auth.program,
                authorized_on=auth.date,
                reference=None,
                recorded_by=None,
            )
        dose_ids = self._plans(pid, pat.plans)
        appointment_ids: dict[int, int] = {}
        for booking in bookings:
            ident = self._add(
                "appointments",
                patient_id=pid,
                planned_dose_id=dose_ids[id(booking.dose)],
                site_id=self.site_ids[booking.site],
                chair_id=self.chair_ids[booking.site][booking.chair],
                starts_at=booking.starts_at,
                ends_at=booking.ends_at,
                status="booked",
                notes=None,
                created_at=now,
            )
            appointment_ids[id(booking.dose)] = ident
            if booking.check is not None:
                self._add(
                    "check_results",
                    patient_id=pid,
                    planned_dose_id=dose_ids[id(booking.dose)],
                    agent=booking.plan.agent,
                    check_date=booking.starts_at.date(),
                    profile=booking.plan.profile,
                    protocol=booking.plan.protocol,
                    decision=booking.check["decision"],
                    findings=booking.check["findings"],
                    label_revisions=booking.check["label_revisions"],
                    kb_version=self.kb.version,
                    created_by=None,
                    created_at=now,
                )
        self._administrations(pid, pat, dose_ids)
        for row in pat.monitoring:
            fields = {k: v for k, v in row.items() if k not in ("id", "patient_id")}
            self._add("monitoring_due", patient_id=pid, **fields)
        if pat.pml is not None:
            self.rows["pml_risk"].append({**pat.pml, "patient_id": pid, "updated_at": now})
        return pid

    def _plans(self, pid: int, plans: list[GenPlan]) -> dict[int, int]:
        plan_ids = {id(plan): self._id("treatment_plans") for plan in plans}
        dose_ids: dict[int, int] = {}
        for plan in plans:
            row = {
                "id": plan_ids[id(plan)],
                "patient_id": pid,
                "agent": plan.agent,
                "regimen": plan.regimen,
                "profile": plan.profile,
                "protocol": plan.protocol,
                "starts_on": plan.starts_on,
                "status": plan.status,
                "prescriber_id": None,
                "stopped_on": plan.stopped_on,
                "stop_reason": plan.stop_reason,
                "switched_to_id": plan_ids[id(plan.switched_to)] if plan.switched_to else None,
                "prior_cumulative_mg_per_m2": plan.prior_cumulative_mg_per_m2,
                "created_at": self.now,
            }
            (self.late_plans if plan.switched_to else self.rows["treatment_plans"]).append(row)
            for dose in plan.doses:
                dose_ids[id(dose)] = self._add(
                    "planned_doses",
                    plan_id=plan_ids[id(plan)],
                    patient_id=pid,
                    agent=plan.agent,
                    number=dose.number,
                    course=dose.course,
                    course_day=dose.course_day,
                    kind=dose.kind,
                    planned_on=dose.planned_on,
                    earliest_on=dose.earliest_on,
                    dose_mg=dose.dose_mg,
                    status=dose.status,
                    given_on=dose.given_on,
                    reason=dose.reason,
                )
        self._plan_ids = plan_ids
        return dose_ids

    def _administrations(self, pid: int, pat: GenPatient, dose_ids: dict[int, int]) -> None:
        by_number: dict[tuple[int, int], GenDose] = {
            (id(plan), dose.number): dose for plan in pat.plans for dose in plan.doses
        }
        for plan, adm in pat.administrations():
            dose = by_number[(id(plan), adm.dose_number)]
            aid = self._add(
                "administrations",
                patient_id=pid,
                plan_id=self._plan_ids[id(plan)],
                planned_dose_id=dose_ids[id(dose)],
                appointment_id=None,
                agent=plan.agent,
                protocol=adm.protocol,
                dose_mg=adm.dose_mg,
                volume_ml=adm.volume_ml,
                given_on=adm.started_at,
                started_at=adm.started_at,
                ended_at=adm.ended_at,
                observation_until=adm.observation_until,
                max_reaction_grade=adm.grade,
                outcome=adm.outcome,
                nurse_id=None,
            )
            for minute, rate, kind in adm.rate_events:
                self._add(
                    "rate_events",
                    administration_id=aid,
                    minute=minute,
                    rate_ml_per_h=rate,
                    kind=kind,
                )
            for drug, dose_text, route, given_at in adm.premedications:
                self._add(
                    "premedications_given",
                    administration_id=aid,
                    drug=drug,
                    dose=dose_text,
                    route=route,
                    given_at=given_at,
                )
            for kind, value, unit, taken_at in adm.vital_signs:
                self._add(
                    "vital_signs",
                    administration_id=aid,
                    kind=kind,
                    value=value,
                    unit=unit,
                    taken_at=taken_at,
                )
            if adm.reaction is not None:
                r = adm.reaction
                self._add(
                    "infusion_reactions",
                    administration_id=aid,
                    onset_minute=r.onset_minute,
                    grade=r.grade,
                    resume_minute=r.resume_minute,
                    actions=r.actions,
                    outcome=r.outcome,
                )
