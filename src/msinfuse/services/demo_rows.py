"""Turn generated demo patients into table rows with ids, for the bulk writer.

Ids are handed out in the order the database returns rows (by date, then id), so the state
``services.state.build_patient_state`` reads back is the state the generator computed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.services.demo_booking import Booking
from msinfuse.services.demo_history import GenDose, GenPlan
from msinfuse.services.demo_patient import GenPatient
from msinfuse.services.plans import review_reason

#: Who confirmed the demo's historical discontinuations.
DEMO_PRESCRIBER = "demo.prescriber"

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
    "plan_reviews",
    "check_results",
    "monitoring_due",
    "pml_risk",
)
ID_TABLES = tuple(t for t in ORDER if t != "pml_risk")

#: The columns written per table, in the order of the row tuples.
COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": (
        "id", "mrn", "given_name", "family_name", "birth_date", "sex", "weight_kg", "height_cm",
        "ms_course", "pregnant", "breastfeeding", "childbearing_potential", "home_site_id",
        "profile", "created_at", "updated_at",
    ),
    "course_history": ("id", "patient_id", "ms_course", "since"),
    "labs": (
        "id", "patient_id", "test", "loinc", "value_text", "value_num", "unit", "flag", "taken_on",
    ),
    "vaccinations": ("id", "patient_id", "vaccine", "live", "given_on"),
    "conditions": ("id", "patient_id", "condition", "onset", "resolved"),
    "therapies": ("id", "patient_id", "agent", "started_on", "ended_on", "immunosuppressant"),
    "procedures": ("id", "patient_id", "procedure", "done_on"),
    "authorizations": ("id", "patient_id", "program", "authorized_on"),
    "treatment_plans": (
        "id", "patient_id", "agent", "regimen", "profile", "protocol", "starts_on", "status",
        "stopped_on", "stop_reason", "switched_to_id", "prior_cumulative_mg_per_m2",
        "created_at",
    ),
    "planned_doses": (
        "id", "plan_id", "patient_id", "agent", "number", "course", "course_day", "kind",
        "planned_on", "earliest_on", "dose_mg", "status", "given_on", "reason",
    ),
    "appointments": (
        "id", "patient_id", "planned_dose_id", "site_id", "chair_id", "starts_at", "ends_at",
        "status", "created_at",
    ),
    "administrations": (
        "id", "patient_id", "plan_id", "planned_dose_id", "agent", "protocol", "dose_mg",
        "volume_ml", "given_on", "started_at", "ended_at", "observation_until",
        "max_reaction_grade", "outcome",
    ),
    "rate_events": ("id", "administration_id", "minute", "rate_ml_per_h", "kind"),
    "premedications_given": ("id", "administration_id", "drug", "dose", "route", "given_at"),
    "vital_signs": ("id", "administration_id", "kind", "value", "unit", "taken_at"),
    "infusion_reactions": (
        "id", "administration_id", "onset_minute", "grade", "resume_minute", "actions", "outcome",
    ),
    "plan_reviews": (
        "id", "plan_id", "patient_id", "administration_id", "reaction_grade", "reason",
        "requested_at", "decision", "decided_by_name", "decided_at",
    ),
    "check_results": (
        "id", "patient_id", "planned_dose_id", "agent", "check_date", "profile", "protocol",
        "decision", "findings", "label_revisions", "kb_version", "created_at",
    ),
    "monitoring_due": (
        "id", "patient_id", "agent", "item_id", "item", "kind", "due_on", "last_done",
        "until_on", "source", "fact_status", "computed_on",
    ),
    "pml_risk": (
        "patient_id", "jcv_status", "jcv_index", "months_exposed", "prior_immunosuppressant",
        "risk_per_1000", "band", "category", "computed_on", "updated_at",
    ),
}  # fmt: skip


class RowBatch:
    """Rows of many patients, per table (tuples in :data:`COLUMNS` order), with ids from
    running counters."""

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
        self.rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        #: Plans that name the plan they were switched to: written after the others.
        self.late_plans: list[tuple[Any, ...]] = []
        self.loinc = {
            code: (lab.loinc.code if lab.loinc and lab.loinc.exportable else None)
            for code, lab in kb.labs.items()
        }

    def _add(self, name: str, *values: Any) -> int:
        ident = self.ids[name]
        self.ids[name] = ident + 1
        self.rows[name].append((ident, *values))
        return ident

    def take(self) -> dict[str, list[tuple[Any, ...]]]:
        """The rows gathered so far (the batch starts empty again)."""
        rows = self.rows
        rows["treatment_plans"].extend(self.late_plans)
        self.rows, self.late_plans = defaultdict(list), []
        return rows

    def add_patient(self, pat: GenPatient, bookings: list[Booking]) -> int:
        """Rows of one patient; returns the patient's id."""
        now, add = self.now, self._add
        pid = add(
            "patients",
            pat.mrn,
            pat.given_name,
            pat.family_name,
            pat.birth_date,
            pat.sex,
            pat.weight_kg,
            pat.height_cm,
            pat.ms_course,
            pat.pregnant,
            pat.breastfeeding,
            pat.childbearing_potential,
            self.site_ids[pat.site],
            pat.profile,
            now,
            now,
        )
        add("course_history", pid, pat.ms_course, pat.history_start)
        loinc = self.loinc
        for lab in pat.record.labs:
            value = lab.value
            number = isinstance(value, float)
            add(
                "labs",
                pid,
                lab.test,
                loinc.get(lab.test),
                None if number else value,
                value if number else None,
                lab.unit,
                lab.flag,
                lab.date,
            )
        for vac in pat.vaccinations:
            add("vaccinations", pid, vac.vaccine, vac.live, vac.date)
        for cond in pat.conditions:
            add("conditions", pid, cond.condition, cond.onset, cond.resolved)
        for t in pat.therapies:
            add("therapies", pid, t.agent, t.start, t.end, t.immunosuppressant)
        for proc in pat.record.procedures:
            add("procedures", pid, proc.procedure, proc.date)
        for auth in pat.record.authorizations:
            add("authorizations", pid, auth.program, auth.date)
        plan_ids, dose_ids = self._plans(pid, pat.plans)
        for booking in bookings:
            dose_id = dose_ids[id(booking.dose)]
            add(
                "appointments",
                pid,
                dose_id,
                self.site_ids[booking.site],
                self.chair_ids[booking.site][booking.chair],
                booking.starts_at,
                booking.ends_at,
                "booked",
                now,
            )
            if booking.check is not None:
                add(
                    "check_results",
                    pid,
                    dose_id,
                    booking.plan.agent,
                    booking.starts_at.date(),
                    booking.plan.profile,
                    booking.plan.protocol,
                    booking.check["decision"],
                    booking.check["findings"],
                    booking.check["label_revisions"],
                    self.kb.version,
                    now,
                )
        self._administrations(pid, pat, plan_ids, dose_ids)
        for row in pat.monitoring:
            add(
                "monitoring_due",
                pid,
                *(row[c] for c in COLUMNS["monitoring_due"][2:]),
            )
        if pat.pml is not None:
            values = [pat.pml[c] for c in COLUMNS["pml_risk"][1:-1]]
            self.rows["pml_risk"].append((pid, *values, now))
        return pid

    def _plans(self, pid: int, plans: list[GenPlan]) -> tuple[dict[int, int], dict[int, int]]:
        plan_ids = {}
        for plan in plans:
            plan_ids[id(plan)] = self.ids["treatment_plans"]
            self.ids["treatment_plans"] += 1
        dose_ids: dict[int, int] = {}
        for plan in plans:
            plan_id = plan_ids[id(plan)]
            row = (
                plan_id,
                pid,
                plan.agent,
                plan.regimen,
                plan.profile,
                plan.protocol,
                plan.starts_on,
                plan.status,
                plan.stopped_on,
                plan.stop_reason,
                plan_ids[id(plan.switched_to)] if plan.switched_to else None,
                plan.prior_cumulative_mg_per_m2,
                self.now,
            )
            (self.late_plans if plan.switched_to else self.rows["treatment_plans"]).append(row)
            for d in plan.doses:
                dose_ids[id(d)] = self._add(
                    "planned_doses",
                    plan_id,
                    pid,
                    plan.agent,
                    d.number,
                    d.course,
                    d.course_day,
                    d.kind,
                    d.planned_on,
                    d.earliest_on,
                    d.dose_mg,
                    d.status,
                    d.given_on,
                    d.reason,
                )
        return plan_ids, dose_ids

    def _administrations(
        self, pid: int, pat: GenPatient, plan_ids: dict[int, int], dose_ids: dict[int, int]
    ) -> None:
        add = self._add
        by_number: dict[tuple[int, int], GenDose] = {
            (id(plan), dose.number): dose for plan in pat.plans for dose in plan.doses
        }
        for plan, adm in pat.administrations():
            dose = by_number[(id(plan), adm.dose_number)]
            aid = add(
                "administrations",
                pid,
                plan_ids[id(plan)],
                dose_ids[id(dose)],
                plan.agent,
                adm.protocol,
                adm.dose_mg,
                adm.volume_ml,
                adm.started_at,
                adm.started_at,
                adm.ended_at,
                adm.observation_until,
                adm.grade,
                adm.outcome,
            )
            for minute, rate, kind in adm.rate_events:
                add("rate_events", aid, minute, rate, kind)
            for drug, dose_text, route, given_at in adm.premedications:
                add("premedications_given", aid, drug, dose_text, route, given_at)
            for kind, value, unit, taken_at in adm.vital_signs:
                add("vital_signs", aid, kind, value, unit, taken_at)
            if adm.reaction is not None:
                r = adm.reaction
                add(
                    "infusion_reactions",
                    aid,
                    r.onset_minute,
                    r.grade,
                    r.resume_minute,
                    r.actions,
                    r.outcome,
                )
                if r.grade >= 4:  # the prescriber confirmed the discontinuation that day
                    at = adm.started_at + timedelta(minutes=r.onset_minute)
                    add(
                        "plan_reviews",
                        plan_ids[id(plan)],
                        pid,
                        aid,
                        r.grade,
                        review_reason(plan.agent, r.grade, adm.started_at.date()),
                        at,
                        "discontinue",
                        DEMO_PRESCRIBER,
                        at + timedelta(hours=2),
                    )
