"""One synthetic demo patient: demographics, treatment plans, infusions, tests, and the
patient state the engines see.

Deterministic: a patient is a pure function of (knowledge base, parameters, build date,
number of sites, seed, patient number); each patient draws from its own random generator,
so patients can be generated in any order (or in parallel) with the same result.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from msinfuse.domain import patient as domain
from msinfuse.domain.knowledge.facts import add_months
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.services.demo_booking import Bookable, bookables
from msinfuse.services.demo_history import (
    Administering,
    GenPlan,
    Patient,
    RateCache,
    administrations_for,
    course_fits_week,
    final_calendar,
    lay_doses,
    next_weekday,
    store_doses,
)
from msinfuse.services.demo_model import (
    MITOXANTRONE,
    RELAPSE_AGENT,
    ReactionDraw,
    draw_reaction,
    patient_mix,
    reaction_model,
    regimen_for,
    synthetic_name,
)
from msinfuse.services.demo_params import DemoParameters
from msinfuse.services.demo_records import ClinicalRecord, Exposure, PatientFacts, RecordWriter
from msinfuse.services.plans import DISCONTINUED
from msinfuse.services.projections import projection_rows

#: Authorization programme codes recorded when an agent with a US programme starts.
PROGRAMME_CODES = {"natalizumab": "TOUCH", "alemtuzumab": "LEMTRADA-REMS"}
SWITCH_TARGETS = ("ocrelizumab", "ublituximab")
SWITCH_REASON = "anti-JCV antibody positive"
OVERDUE_MISSED = "did not attend"
OVERDUE_HELD = "held: active infection"


@dataclass
class GenPatient:
    """A generated patient with everything stored about them."""

    number: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    weight_kg: float
    height_cm: float
    ms_course: str
    childbearing_potential: bool
    pregnant: bool | None
    breastfeeding: bool | None
    site: int
    history_start: date
    profile: str = "us"
    record: ClinicalRecord = field(default_factory=ClinicalRecord)
    vaccinations: list[domain.Vaccination] = field(default_factory=list)
    conditions: list[domain.Condition] = field(default_factory=list)
    therapies: list[domain.Therapy] = field(default_factory=list)
    plans: list[GenPlan] = field(default_factory=list)
    start_window: int = 0
    state: domain.PatientState | None = None
    monitoring: list[dict[str, Any]] = field(default_factory=list)
    pml: dict[str, Any] | None = None
    bookables: list[Bookable] = field(default_factory=list)

    def slim(self) -> GenPatient:
        """Drop what only the generator needs (engine outputs), before sending it across
        processes."""
        self.state = None
        for plan in self.plans:
            plan.calendar = None
            plan.given = []
        return self

    def administrations(self) -> list[tuple[GenPlan, Any]]:
        """Every (plan, administration), in the order they were given."""
        pairs = [(plan, a) for plan in self.plans for a in plan.administrations]
        return sorted(pairs, key=lambda pair: pair[1].started_at)


class PatientGenerator:
    """Generates demo patients for one build (knowledge base, parameters, date, sites)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        params: DemoParameters,
        on: date,
        sites: int,
        seed: int,
        horizon: list[date],
    ) -> None:
        self.kb = kb
        self.params = params
        self.on = on
        self.sites = sites
        self.seed = seed
        self.horizon = horizon
        self.horizon_days = (horizon[-1] - on).days if horizon else 0
        self.mix = patient_mix(kb, params)
        self.reactions = {a: reaction_model(kb.agents[a], params) for a in kb.agents}
        self.rates = RateCache(kb)
        self.prior_dmts = [a.id for a in kb.alternatives if a.route != "IV"]
        self.immunosuppressants = [
            t.id for t in kb.terminology.therapies if t.immunosuppressant and t.id not in kb.agents
        ]
        self.classes = {t.id: t for t in kb.terminology.therapies}
        self._draws: dict[int, ReactionDraw | None] = {}

    # ----------------------------------------------------------------- one patient

    def generate(self, number: int) -> GenPatient:
        """Patient ``number`` of this build."""
        rng = random.Random(f"msinfuse-demo:{self.seed}:{number}")
        p, on = self.params, self.on
        sex = "female" if rng.random() < p.female_share else "male"
        age = rng.randint(*p.age_years)
        birth = on - timedelta(days=round(age * 365.25) + rng.randint(0, 364))
        cbp = sex == "female" and age < p.childbearing_age_limit
        given, family = synthetic_name(rng, p)
        years = rng.uniform(*p.history_years)
        history_start = on - timedelta(days=round(years * 365.25))
        agent = rng.choices(list(self.mix.agent_shares), list(self.mix.agent_shares.values()))[0]
        pat = GenPatient(
            number=number,
            mrn=f"DEMO-{number:07d}",
            given_name=given,
            family_name=family,
            birth_date=birth,
            sex=sex,
            weight_kg=round(rng.uniform(*p.weight_kg), 1),
            height_cm=float(round(rng.uniform(*p.height_cm))),
            ms_course=self._ms_course(rng, agent),
            childbearing_potential=cbp,
            pregnant=False if cbp else None,
            breastfeeding=False if cbp else None,
            site=rng.randrange(self.sites),
            history_start=history_start,
            start_window=self._window(rng),
        )
        facts = PatientFacts(
            sex=sex,
            childbearing_potential=cbp,
            anti_hbc_positive=rng.random() < p.anti_hbc_positive_share,
            prior_immunosuppressant=rng.random() < p.prior_immunosuppressant_share,
        )
        body = Patient(pat.height_cm, pat.weight_kg)
        self._plans(rng, pat, agent, facts, body)
        self._relapses(rng, pat, body)
        self._finish_plans(rng, pat, body)
        self._records(rng, pat, facts)
        pat.state = self.state(pat)
        self._projections(pat)
        pat.bookables = bookables(
            self.kb, self.rates, p, rng, pat.plans, pat.state, self.horizon, on
        )
        return pat

    def _window(self, rng: random.Random) -> int:
        shares = [w[0] for w in self.params.start_windows]
        return rng.choices(range(len(shares)), shares)[0]

    def _ms_course(self, rng: random.Random, agent: str) -> str:
        indication = self.kb.agents[agent].indications.get("us")
        courses = list(indication.value.ms_courses) if indication else []
        others = [c for c in courses if c != "RRMS"]
        if not courses or (
            "RRMS" in courses and (not others or rng.random() < self.params.rrms_share)
        ):
            return "RRMS"
        return rng.choice(others)

    # ---------------------------------------------------------------------- plans

    def _plan(self, agent: str, start: date, protocol: str = "standard") -> GenPlan:
        return GenPlan(agent, regimen_for(self.kb, agent).id, "us", protocol, start)

    def _plans(
        self,
        rng: random.Random,
        pat: GenPatient,
        agent: str,
        facts: PatientFacts,
        body: Patient,
    ) -> None:
        p, on = self.params, self.on
        first_start = next_weekday(pat.history_start + timedelta(days=rng.randint(14, 60)))
        latest = on + timedelta(days=self.horizon_days)
        protocol = (
            "shorter"
            if agent == "ocrelizumab" and rng.random() < self.mix.shorter_protocol_share
            else "standard"
        )
        start = first_start
        switched = False
        if agent in SWITCH_TARGETS and rng.random() < p.switch_from_natalizumab_share:
            switch_day = add_months(first_start, rng.randint(*p.switch_after_months))
            if switch_day < on - timedelta(days=60):
                ntz = self._plan("natalizumab", first_start)
                lay_doses(self.kb, ntz, body, switch_day, rng, p)
                ntz.status, ntz.stopped_on = "stopped", switch_day
                ntz.stop_reason = f"switched to {agent}: {SWITCH_REASON}"
                pat.plans.append(ntz)
                facts.switch_from_natalizumab = switch_day
                gap = rng.randint(*p.switch_gap_days)
                start = next_weekday(max(switch_day, ntz.given[-1].date + timedelta(days=gap)))
                switched = True
        if not switched and (
            agent in ("alemtuzumab", MITOXANTRONE) or rng.random() < p.new_start_share
        ):
            # Time-limited agents (and a share of new starts) begin anywhere in the history.
            end = latest if agent != MITOXANTRONE else on - timedelta(days=30)
            span = max(1, (end - first_start).days)
            start = first_start + timedelta(days=rng.randrange(span))
        block = regimen_for(self.kb, agent).initial
        start = (
            course_fits_week(start, len(block.doses)) if block.consecutive else next_weekday(start)
        )
        plan = self._plan(agent, start, protocol)
        if agent == MITOXANTRONE:
            plan.prior_cumulative_mg_per_m2 = rng.choice(p.prior_mitoxantrone_mg_m2)
        draw = draw_reaction(rng, self.reactions[agent], p)
        lay_doses(
            self.kb,
            plan,
            body,
            on,
            rng,
            p,
            discontinue_at=draw.infusion if draw and draw.grade >= 4 else None,
        )
        if pat.plans:
            pat.plans[0].switched_to = plan
        pat.plans.append(plan)
        self._draws[id(plan)] = draw

    def _relapses(self, rng: random.Random, pat: GenPatient, body: Patient) -> None:
        """Relapse courses of IV methylprednisolone: short extra plans (a Poisson process at
        the rate that gives the spec's share of relapse visits)."""
        p = self.params
        rate = self.mix.relapse_courses_per_year
        latest = self.on + timedelta(days=self.horizon_days)
        day = pat.history_start
        previous: date | None = None
        while rate > 0:
            day += timedelta(days=round(rng.expovariate(rate) * 365.25))
            if day > latest:
                break
            regimen = "5-day" if rng.random() < p.five_day_relapse_share else "3-day"
            length = len(self.kb.agents[RELAPSE_AGENT].regimen(regimen).initial.doses)  # type: ignore[union-attr]
            start = course_fits_week(day, length)
            if previous is not None and start < previous + timedelta(days=30):
                continue
            previous = start
            plan = GenPlan(RELAPSE_AGENT, regimen, "us", "standard", start)
            lay_doses(self.kb, plan, body, self.on, rng, p)
            pat.plans.append(plan)
            self._draws[id(plan)] = None
            onset = start - timedelta(days=rng.randint(1, 7))
            resolved = onset + timedelta(days=rng.randint(21, 60))
            pat.conditions.append(
                domain.Condition("relapse", onset, resolved if resolved <= self.on else None)
            )

    def _finish_plans(self, rng: random.Random, pat: GenPatient, body: Patient) -> None:
        """Final statuses and stored doses of every plan, then the administrations."""
        pat.plans.sort(key=lambda plan: plan.starts_on)
        for plan in pat.plans:
            draw = self._draws.get(id(plan))
            regimen = regimen_for(self.kb, plan.agent) if plan.agent != RELAPSE_AGENT else None
            if plan.status == "stopped":  # switched
                store_doses(
                    plan,
                    final_calendar(self.kb, plan, body, self.on),
                    "cancelled",
                    plan.stop_reason,
                )
            elif draw is not None and draw.grade >= 4 and plan.given:
                reason = DISCONTINUED.format(grade=draw.grade)
                plan.status, plan.stopped_on, plan.stop_reason = (
                    "stopped",
                    plan.given[-1].date,
                    reason,
                )
                store_doses(plan, final_calendar(self.kb, plan, body, self.on), "cancelled", reason)
                pat.conditions.append(
                    domain.Condition(f"life_threatening_irr:{plan.agent}", plan.given[-1].date)
                )
            else:
                calendar = final_calendar(self.kb, plan, body, self.on)
                finished = all(d.status == "given" for d in calendar.doses)
                open_ended = (
                    regimen is not None and regimen.repeat is not None and not regimen.uses_bsa
                )
                if finished and plan.given and not open_ended:
                    plan.status, plan.stopped_on = "completed", plan.given[-1].date
                    plan.stop_reason = (
                        "relapse course completed"
                        if plan.agent == RELAPSE_AGENT
                        else "lifetime cumulative dose limit reached"
                    )
                store_doses(plan, calendar)
                self._overdue(rng, pat, plan)
        detail_from = add_months(self.on, -self.params.detail_months)
        grades: dict[str, list[int]] = {}
        for plan in pat.plans:
            ctx = Administering(
                self.kb,
                self.rates,
                self.params,
                rng,
                detail_from,
                grades.setdefault(plan.agent, []),
            )
            administrations_for(ctx, plan, self._draws.get(id(plan)))
        self._draws.clear()

    def _overdue(self, rng: random.Random, pat: GenPatient, plan: GenPlan) -> None:
        """An overdue dose on the build date is marked missed or held (with its reason) with
        the parameters' shares, as a nurse would with ``services.plans.mark_dose``."""
        pending = next((d for d in plan.doses if d.status == "planned"), None)
        if pending is None or pending.planned_on >= self.on:
            return
        draw = rng.random()
        if draw < self.params.overdue_missed_share:
            pending.status, pending.reason = "missed", OVERDUE_MISSED
        elif draw < self.params.overdue_missed_share + self.params.overdue_held_share:
            pending.status, pending.reason = "held", OVERDUE_HELD
            onset = self.on - timedelta(days=rng.randint(1, 10))
            pat.conditions.append(domain.Condition("active_infection", onset))

    # -------------------------------------------------------------------- records

    def _records(self, rng: random.Random, pat: GenPatient, facts: PatientFacts) -> None:
        p, on = self.params, self.on
        writer = RecordWriter(self.kb, rng, p, facts, pat.record)
        first_plan = pat.plans[0].starts_on if pat.plans else pat.history_start
        if rng.random() < p.prior_dmt_share:
            ended = first_plan - timedelta(days=rng.randint(30, 120))
            began = ended - timedelta(days=rng.randint(365, 5 * 365))
            pat.therapies.append(domain.Therapy(rng.choice(self.prior_dmts), began, ended, False))
        if facts.prior_immunosuppressant:
            ended = min(pat.history_start, first_plan) - timedelta(days=rng.randint(200, 2000))
            began = ended - timedelta(days=rng.randint(180, 1500))
            pat.therapies.append(
                domain.Therapy(rng.choice(self.immunosuppressants), began, ended, True)
            )
        seen: set[str] = set()
        horizon = on + timedelta(days=self.horizon_days)
        for plan in pat.plans:
            assert plan.calendar is not None
            doses = []
            for d in plan.calendar.doses:
                if d.status != "given" and d.planned > horizon:
                    continue
                day = d.date if d.status == "given" else max(d.planned, on)
                doses.append(
                    (day, d.course, d.course_day, plan.agent not in seen and d.number == 1)
                )
            if not doses:
                continue
            agent = self.kb.agents[plan.agent]
            before = (
                len(pat.record.labs),
                len(pat.record.procedures),
                len(pat.record.authorizations),
            )
            writer.screening(agent, doses)
            code = PROGRAMME_CODES.get(plan.agent)
            if code and plan.agent not in seen:
                writer.add(code, doses[0][0] - timedelta(days=rng.randint(3, 20)))
            seen.add(plan.agent)
            _drop_future(pat.record, before, on)
        for agent_id in sorted({plan.agent for plan in pat.plans}):
            exposure = self._exposure(pat, agent_id)
            if exposure is not None:
                writer.monitoring(self.kb.agents[agent_id], exposure, on)
        if rng.random() < p.influenza_vaccine_share:
            for year in range(pat.history_start.year, on.year + 1):
                day = date(year, 10, rng.randint(1, 31))
                if pat.history_start <= day <= on:
                    pat.vaccinations.append(domain.Vaccination("influenza", False, day))

    def _exposure(self, pat: GenPatient, agent: str) -> Exposure | None:
        plans = [plan for plan in pat.plans if plan.agent == agent and plan.given]
        if not plans:
            return None
        live = [plan for plan in plans if plan.status == "active"]
        stops = [plan.stopped_on for plan in plans if plan.stopped_on is not None]
        more = any(d.status != "given" for plan in live for d in plan.doses)
        return Exposure(
            first=min(plan.given[0].date for plan in plans),
            last=max(plan.given[-1].date for plan in plans),
            stopped_on=None if live or not stops else max(stops),
            more_planned=more,
        )

    # ----------------------------------------------------------------------- state

    def state(self, pat: GenPatient) -> domain.PatientState:
        """The patient state ``services.state.build_patient_state`` reads back from the
        stored rows (same ordering, same plan choice): the projections and checks are
        computed from it without re-reading the database."""
        sort_record(pat)
        chosen: dict[str, GenPlan] = {}
        for plan in pat.plans:
            current = chosen.get(plan.agent)
            live = plan.status in ("active", "paused")
            if (
                current is None
                or live
                or (
                    current.status not in ("active", "paused")
                    and plan.starts_on >= current.starts_on
                )
            ):
                chosen[plan.agent] = plan
        return domain.PatientState(
            id="",
            birth_date=pat.birth_date,
            sex=pat.sex,  # type: ignore[arg-type]
            weight_kg=pat.weight_kg,
            height_cm=pat.height_cm,
            ms_course=pat.ms_course,
            pregnant=pat.pregnant,
            breastfeeding=pat.breastfeeding,
            childbearing_potential=pat.childbearing_potential,
            labs=tuple(pat.record.labs),
            vaccinations=tuple(pat.vaccinations),
            conditions=tuple(pat.conditions),
            therapies=tuple(
                domain.Therapy(
                    t.agent,
                    t.start,
                    t.end,
                    t.immunosuppressant
                    or bool(self.classes.get(t.agent) and self.classes[t.agent].immunosuppressant),
                )
                for t in pat.therapies
            ),
            administrations=tuple(
                domain.Administration(plan.agent, a.given_on, a.dose_mg, a.grade)
                for plan, a in pat.administrations()
            ),
            authorizations=tuple(pat.record.authorizations),
            procedures=tuple(pat.record.procedures),
            plans=tuple(
                domain.PlanRef(
                    p.agent,
                    p.regimen,
                    p.starts_on,
                    None if p.status in ("active", "paused") else p.stopped_on,
                )
                for p in chosen.values()
            ),
            prior_cumulative_mg_per_m2={
                p.agent: p.prior_cumulative_mg_per_m2
                for p in chosen.values()
                if p.prior_cumulative_mg_per_m2
            },
        )

    def _projections(self, pat: GenPatient) -> None:
        assert pat.state is not None
        rows, snapshot = projection_rows(self.kb, 0, pat.state, "us", self.on)
        pat.monitoring = [_columns(row) for row in rows]
        pat.pml = _columns(snapshot) if snapshot is not None else None


def _columns(row: Any) -> dict[str, Any]:
    """The column values of a transient ORM row."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def _drop_future(record: ClinicalRecord, before: tuple[int, int, int], on: date) -> None:
    """Screening results dated after the build date are not on file yet."""
    labs, procedures, authorizations = before
    record.labs[labs:] = [x for x in record.labs[labs:] if x.date <= on]
    record.procedures[procedures:] = [x for x in record.procedures[procedures:] if x.date <= on]
    record.authorizations[authorizations:] = [
        x for x in record.authorizations[authorizations:] if x.date <= on
    ]
    record.jcv.results = [x for x in record.jcv.results if x[0] <= on]


def sort_record(pat: GenPatient) -> None:
    """Order every record list as the database returns it (by date, then by insertion)."""
    pat.record.labs.sort(key=lambda x: x.date)
    pat.record.procedures.sort(key=lambda x: x.date)
    pat.record.authorizations.sort(key=lambda x: x.date)
    pat.vaccinations.sort(key=lambda x: x.date)
    pat.conditions.sort(key=lambda x: x.onset or date.min)
    pat.therapies.sort(key=lambda x: x.start or date.min)
