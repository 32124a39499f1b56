"""A demo patient's tests, procedures and authorizations at the cadence the knowledge base
expects: screening before doses (the agent's ``screening`` requirements) and monitoring
(the agent's ``monitoring`` items), with a share of items left overdue.

Every cadence is read from the knowledge base; only the synthetic result values and the
overdue share are generator parameters (:class:`~msinfuse.services.demo_params.DemoParameters`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from msinfuse.domain.knowledge.facts import Duration
from msinfuse.domain.knowledge.schema import (
    PROCEDURE_CODES,
    TEST_CODES,
    Agent,
    KnowledgeBase,
    MonitoringItem,
)
from msinfuse.domain.patient import Authorization, Lab, Procedure
from msinfuse.domain.risk import pml_risk
from msinfuse.services.demo_params import DemoParameters

Flag = Literal["normal", "abnormal"]

#: Qualitative results of a healthy demo patient (the scenario flags change some).
_QUALITATIVE = {
    "hbsag": "negative",
    "anti_hbc": "negative",
    "hcv_ab": "negative",
    "hiv": "negative",
    "vzv_igg": "positive",
    "tb_igra": "negative",
    "hcg": "negative",
    "cbc": "normal",
    "urinalysis": "normal",
    "hbv_dna": "not detected",
}


@dataclass
class JcvTimeline:
    """Anti-JCV antibody results over time: (date, status, index or None)."""

    results: list[tuple[date, str, float | None]] = field(default_factory=list)

    def at(self, day: date) -> tuple[str, float | None]:
        """Status and index of the newest result on or before ``day``."""
        for when, status, index in reversed(self.results):
            if when <= day:
                return status, index
        return "unknown", None


@dataclass
class PatientFacts:
    """What the record generator needs to know about the patient."""

    sex: str
    childbearing_potential: bool
    anti_hbc_positive: bool
    prior_immunosuppressant: bool
    switch_from_natalizumab: date | None = None


@dataclass
class ClinicalRecord:
    """Tests, procedures and authorizations as domain values."""

    labs: list[Lab] = field(default_factory=list)
    procedures: list[Procedure] = field(default_factory=list)
    authorizations: list[Authorization] = field(default_factory=list)
    jcv: JcvTimeline = field(default_factory=JcvTimeline)

    def dates_of(self, codes: Iterable[str]) -> list[date]:
        """Dates on which any of ``codes`` was done."""
        wanted = set(codes)
        found = [lab.date for lab in self.labs if lab.test in wanted]
        found += [p.date for p in self.procedures if p.procedure in wanted]
        found += [a.date for a in self.authorizations if a.program in wanted]
        return sorted(found)


@dataclass(frozen=True, slots=True)
class Exposure:
    """An agent's treatment span in the demo history."""

    first: date
    last: date
    stopped_on: date | None
    more_planned: bool


class RecordWriter:
    """Adds results to a :class:`ClinicalRecord` with synthetic values."""

    def __init__(
        self,
        kb: KnowledgeBase,
        rng: random.Random,
        params: DemoParameters,
        facts: PatientFacts,
        record: ClinicalRecord,
    ) -> None:
        self.kb = kb
        self.rng = rng
        self.params = params
        self.facts = facts
        self.record = record
        threshold = kb.agents["natalizumab"].pml
        self.index_threshold = threshold.high_index_threshold.value if threshold else 1.5

    def add(self, code: str, day: date) -> None:
        """Record ``code`` (a lab test, procedure or authorization programme) on ``day``."""
        if code in ("jcv_antibody", "jcv_index"):
            self._jcv(day)
        elif code in TEST_CODES:
            self.record.labs.append(self._lab(code, day))
        elif code in PROCEDURE_CODES:
            self.record.procedures.append(Procedure(code, day))
        else:
            self.record.authorizations.append(Authorization(code, day))

    def _lab(self, code: str, day: date) -> Lab:
        unit = self.kb.labs[code].unit if code in self.kb.labs else None
        if code in self.params.lab_value_ranges:
            low, high = self.params.lab_value_ranges[code]
            value = round(self.rng.uniform(low, high), 1 if high < 100 else 0)
            return Lab(code, float(value), day, unit, "normal")
        text = _QUALITATIVE.get(code, "normal")
        if code == "anti_hbc" and self.facts.anti_hbc_positive:
            text = "positive"
        flag: Flag = "abnormal" if text == "positive" else "normal"
        return Lab(code, text, day, unit, flag)

    def _jcv(self, day: date) -> None:
        """An anti-JCV antibody result (and its index when positive: the assay reports both)."""
        p = self.params
        status, index = self.record.jcv.at(day)
        switch = self.facts.switch_from_natalizumab
        if status == "unknown":
            status = "positive" if self.rng.random() < p.jcv_positive_at_baseline else "negative"
        elif status == "negative" and (
            self.rng.random() < p.jcv_seroconversion_per_test
            or (switch is not None and day >= switch - timedelta(days=200))
        ):
            status = "positive"
        if status == "positive":
            if index is None:
                index = self.rng.uniform(*p.jcv_index_positive_range)
            else:
                index = min(p.jcv_index_positive_range[1], index * self.rng.uniform(0.85, 1.15))
            index = round(index, 2)
        else:
            index = None
        self.record.jcv.results.append((day, status, index))
        flag: Flag = "abnormal" if status == "positive" else "normal"
        unit = self.kb.labs["jcv_antibody"].unit
        self.record.labs.append(Lab("jcv_antibody", status, day, unit, flag))
        if index is not None:
            self.record.labs.append(
                Lab("jcv_index", float(index), day, self.kb.labs["jcv_index"].unit, flag)
            )

    # ------------------------------------------------------------------- screening

    def screening(self, agent: Agent, doses: list[tuple[date, int, int, bool]]) -> None:
        """Screening results before doses, as the agent's requirements ask.

        ``doses`` are (date, course, course day, first dose of the agent ever) of the doses
        given or booked; every result is dated inside the requirement's window.
        """
        clinic_window = self.kb.clinic.screening_max_age.value
        for req in agent.screening:
            if "us" not in req.profiles:
                continue
            if req.only_if_childbearing_potential and not self.facts.childbearing_potential:
                continue
            window = (req.max_age.value if req.max_age else clinic_window).approx_days()
            for day, course, course_day, first_ever in doses:
                wanted = (
                    (req.when == "first_dose" and first_ever)
                    or req.when == "every_dose"
                    or (req.when == "course_start" and course_day == 1)
                    or (req.when == "later_course" and course_day == 1 and course > 1)
                )
                if not wanted:
                    continue
                lead = self.rng.randint(1, max(1, min(int(window) - 1, 21)))
                for code in req.tests:
                    self.add(code, day - timedelta(days=lead))

    # ------------------------------------------------------------------ monitoring

    def monitoring(self, agent: Agent, exposure: Exposure, on: date) -> None:
        """Tests, visits and authorizations for the agent's monitoring items, up to ``on``.

        Items sharing the codes that satisfy them (the two MRI cadences of natalizumab) are
        walked together: the next test is the earliest due date of the items that apply on
        that date. A test is done a few days before it falls due; with the overdue share,
        the last one of an item is left undone.
        """
        groups: dict[tuple[str, ...], list[MonitoringItem]] = {}
        for item in agent.monitoring:
            if "us" in item.profiles and item.satisfied_by and item.start != "each_dose":
                groups.setdefault(item.satisfied_by, []).append(item)
        # Anti-JCV results first: the MRI cadence depends on them.
        order = sorted(groups, key=lambda codes: not any(c.startswith("jcv") for c in codes))
        for codes in order:
            self._walk(groups[codes], codes, exposure, on)

    def _walk(
        self,
        items: list[MonitoringItem],
        codes: tuple[str, ...],
        exposure: Exposure,
        on: date,
    ) -> None:
        done = [d for d in self.record.dates_of(codes) if d <= on]
        added: list[date] = []
        while True:
            due = self._next_due(items, exposure, done, on)
            if due is None:
                break
            floor = done[-1] + timedelta(days=1) if done else due
            day = max(floor, due - timedelta(days=self.rng.randint(0, self.params.test_early_days)))
            if day > on:
                break
            for code in codes:
                self.add(code, day)
            done.append(day)
            added.append(day)
        recent = bool(added) and added[-1] >= on - timedelta(days=400)
        if recent and self.rng.random() < self.params.overdue_item_share:
            self._drop(codes, added[-1])

    def _drop(self, codes: tuple[str, ...], day: date) -> None:
        """Leave the test of ``day`` undone (the item becomes overdue)."""
        r = self.record
        r.labs = [x for x in r.labs if not (x.date == day and x.test in codes)]
        r.procedures = [x for x in r.procedures if not (x.date == day and x.procedure in codes)]
        r.authorizations = [
            x for x in r.authorizations if not (x.date == day and x.program in codes)
        ]
        r.jcv.results = [x for x in r.jcv.results if x[0] != day]

    def _next_due(
        self,
        items: list[MonitoringItem],
        exposure: Exposure,
        done: list[date],
        on: date,
    ) -> date | None:
        best: date | None = None
        for item in items:
            due = _item_due(item, exposure, done)
            if due is None or due > _item_end(item, exposure, on):
                continue
            if not self._applies(item, due, exposure):
                continue
            best = due if best is None else min(best, due)
        return best

    def _applies(self, item: MonitoringItem, day: date, exposure: Exposure) -> bool:
        condition = item.applies_if
        if condition is None:
            return True
        if condition == "female":
            return self.facts.sex == "female"
        if condition == "childbearing_potential":
            return self.facts.childbearing_potential
        if condition == "anti_hbc_positive":
            return self.facts.anti_hbc_positive
        status, index = self.record.jcv.at(day)
        if condition == "jcv_negative":
            return status in ("negative", "unknown")
        prior = self.facts.prior_immunosuppressant
        if condition == "jcv_low_index_no_prior_is":
            return (
                status == "positive"
                and not prior
                and index is not None
                and index <= self.index_threshold
            )
        months = max(0, (day - exposure.first).days * 12 // 365)
        category = pml_risk(
            self.kb,
            status,  # type: ignore[arg-type]
            index,
            months,
            prior,
        ).category
        return (category == "higher") == (condition == "pml_higher_risk")


def _item_end(item: MonitoringItem, exposure: Exposure, on: date) -> date:
    end = on
    if item.until_after_last_dose is not None and not exposure.more_planned:
        end = min(end, item.until_after_last_dose.after(exposure.last))
    if item.while_on_treatment and exposure.stopped_on is not None:
        end = min(end, exposure.stopped_on)
    return end


def _rolling_due(
    first: date, offsets: tuple[Duration, ...], interval: Duration | None, last_done: date | None
) -> date | None:
    points = [o.after(first) for o in offsets]
    pending = [p for p in points if last_done is None or p > last_done]
    if pending:
        return min(pending)
    if interval is None:
        return None
    return interval.after(last_done or (points[-1] if points else first))


def _item_due(item: MonitoringItem, exposure: Exposure, done: list[date]) -> date | None:
    """When an item falls due given the tests done, as the monitoring engine counts it."""
    if item.start == "first_dose":
        since = item.interval.before(exposure.first) if item.interval else exposure.first
        relevant = [d for d in done if d >= since]
        return _rolling_due(
            exposure.first, item.offsets, item.interval, relevant[-1] if relevant else None
        )
    if item.start == "last_dose" and exposure.stopped_on is not None and item.interval:
        relevant = [d for d in done if d >= exposure.last]
        return item.interval.after(relevant[-1] if relevant else exposure.last)
    return None
