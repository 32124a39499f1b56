"""A demo patient's treatment history, laid along the real engines.

Dose dates come from the calendar engine (:func:`~msinfuse.domain.calendar.build_calendar`):
each dose is given on the date the engine plans from the doses given before it, or some days
late, after which the engine's schedule resets from the late date (as in the clinic).
Infusion details come from the rate planner (:func:`~msinfuse.domain.rates.plan_infusion`,
:func:`~msinfuse.domain.rates.replan_after_reaction`); reactions from the per-patient model of
:mod:`msinfuse.services.demo_model`. The stored dose calendar of each plan is then exactly
what ``services.plans.sync_calendar`` keeps: see :func:`final_calendar`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from msinfuse.domain.calendar import (
    Calendar,
    CalendarDose,
    CalendarRequest,
    GivenDose,
    build_calendar,
    regimen_block,
)
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.rates import RatePlan, RateRequest, plan_infusion, replan_after_reaction
from msinfuse.services.demo_model import ReactionDraw
from msinfuse.services.demo_params import DemoParameters
from msinfuse.services.plans import PLANNED_AHEAD

#: How many future doses one calendar call lays out before the walk asks again.
_FUTURE_BATCH = 24
_SATURDAY = 5


@dataclass
class GenDose:
    """A stored planned dose (one row of ``planned_doses``)."""

    number: int
    course: int
    course_day: int
    kind: str
    planned_on: date
    earliest_on: date
    dose_mg: float
    status: str
    given_on: date | None = None
    reason: str | None = None


@dataclass
class GenReaction:
    """An infusion reaction as recorded."""

    onset_minute: float
    grade: int
    resume_minute: float | None
    actions: str
    outcome: str


@dataclass
class GenAdministration:
    """An infusion given, with its pump events, premedication and vital signs."""

    dose_number: int
    started_at: datetime
    ended_at: datetime
    observation_until: datetime
    dose_mg: float
    volume_ml: float
    protocol: str
    grade: int
    outcome: str
    rate_events: list[tuple[float, float, str]] = field(default_factory=list)
    premedications: list[tuple[str, str | None, str, datetime]] = field(default_factory=list)
    vital_signs: list[tuple[str, float, str, datetime]] = field(default_factory=list)
    reaction: GenReaction | None = None

    @property
    def given_on(self) -> date:
        """The day the infusion was given."""
        return self.started_at.date()


@dataclass
class GenPlan:
    """A treatment plan with its stored doses and administrations."""

    agent: str
    regimen: str
    profile: str
    protocol: str
    starts_on: date
    status: str = "active"
    stopped_on: date | None = None
    stop_reason: str | None = None
    prior_cumulative_mg_per_m2: float = 0.0
    switched_to: GenPlan | None = None
    given: list[GivenDose] = field(default_factory=list)
    doses: list[GenDose] = field(default_factory=list)
    administrations: list[GenAdministration] = field(default_factory=list)
    calendar: Calendar | None = None


class RateCache:
    """Memoised :func:`plan_infusion` (a pure function of its frozen request)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._plans: dict[RateRequest, RatePlan] = {}

    def plan(self, request: RateRequest) -> RatePlan:
        """The rate plan for ``request``."""
        found = self._plans.get(request)
        if found is None:
            found = plan_infusion(self.kb, request)
            self._plans[request] = found
        return found


def next_weekday(day: date) -> date:
    """``day``, or the Monday after it when it falls on a weekend."""
    while day.weekday() >= _SATURDAY:
        day += timedelta(days=1)
    return day


def course_fits_week(day: date, length: int) -> date:
    """The first day from ``day`` on which a course of ``length`` consecutive days fits
    Monday to Friday."""
    day = next_weekday(day)
    if day.weekday() + length > _SATURDAY:
        day += timedelta(days=7 - day.weekday())
    return day


@dataclass
class Patient:
    """What the history walk needs to know about the patient."""

    height_cm: float | None
    weight_kg: float | None


def _calendar(
    kb: KnowledgeBase, plan: GenPlan, patient: Patient, today: date, count: int
) -> Calendar:
    start = min([plan.starts_on, *(g.date for g in plan.given)])
    return build_calendar(
        kb,
        CalendarRequest(
            agent=plan.agent,
            start=start,
            today=today,
            regimen=plan.regimen,
            profile=plan.profile,  # type: ignore[arg-type]
            given=tuple(plan.given),
            count=count,
            height_cm=patient.height_cm,
            weight_kg=patient.weight_kg,
            prior_cumulative_mg_per_m2=plan.prior_cumulative_mg_per_m2,
        ),
    )


def _actual_date(
    kb: KnowledgeBase, plan: GenPlan, dose: CalendarDose, rng: random.Random, p: DemoParameters
) -> date:
    """When a planned dose is actually given: on time, or late (then the schedule resets)."""
    regimen = kb.agents[plan.agent].regimen(plan.regimen)
    assert regimen is not None
    block = regimen_block(regimen, dose.course - 1)
    assert block is not None
    if dose.course_day > 1:
        if block.consecutive:
            return dose.planned  # a course runs on consecutive days
        late = rng.random() < p.late_dose_share
        return next_weekday(
            dose.planned + timedelta(days=rng.randint(*p.late_in_course_days) * late)
        )
    if dose.number == 1:
        return dose.planned  # plan starts are chosen on a suitable weekday
    day = dose.planned
    if rng.random() < p.late_dose_share:
        day += timedelta(days=rng.randint(*p.late_days))
    return course_fits_week(day, len(block.doses)) if block.consecutive else next_weekday(day)


def lay_doses(
    kb: KnowledgeBase,
    plan: GenPlan,
    patient: Patient,
    stop: date,
    rng: random.Random,
    params: DemoParameters,
    discontinue_at: int | None = None,
) -> None:
    """Give the plan's doses before ``stop`` along the calendar engine (into ``plan.given``).

    The walk asks the engine for the doses planned from the doses given so far (``today`` is
    the last dose given, so nothing is overdue), gives them on time until one is late, then
    asks again: the engine restarts the schedule from the late date. ``discontinue_at``
    stops the walk after that infusion (a grade 4 reaction).
    """
    while True:
        today = plan.given[-1].date if plan.given else plan.starts_on
        calendar = _calendar(kb, plan, patient, today, _FUTURE_BATCH)
        future = [d for d in calendar.doses if d.status != "given"]
        if not future:
            return  # the regimen is complete (courses done, lifetime limit reached)
        for dose in future:
            actual = _actual_date(kb, plan, dose, rng, params)
            if actual >= stop:
                return
            plan.given.append(GivenDose(actual, dose.dose_mg))
            if discontinue_at is not None and len(plan.given) >= discontinue_at:
                return
            if actual != dose.planned:
                break  # late: the engine replans from the date it was given


def final_calendar(kb: KnowledgeBase, plan: GenPlan, patient: Patient, on: date) -> Calendar:
    """The calendar ``services.plans.sync_calendar`` stores for the plan.

    An active plan was last synchronised on ``on``; a plan stopped after a grade 4 reaction
    or switched was last synchronised (with doses ahead) when its last infusion was recorded,
    on the day it was given.
    """
    if plan.status == "active":
        today = max(on, plan.given[-1].date) if plan.given else on
    else:
        today = plan.given[-1].date if plan.given else plan.starts_on
    count = PLANNED_AHEAD if plan.status in ("active", "stopped") else 0
    return _calendar(kb, plan, patient, today, count)


def store_doses(
    plan: GenPlan, calendar: Calendar, pending: str = "planned", reason: str | None = None
) -> None:
    """The plan's stored doses from its calendar: given doses as given, the others with the
    ``pending`` status (planned; cancelled when switched or discontinued)."""
    plan.calendar = calendar
    plan.doses = [
        GenDose(
            number=d.number,
            course=d.course,
            course_day=d.course_day,
            kind=d.kind,
            planned_on=d.planned,
            earliest_on=d.earliest,
            dose_mg=d.dose_mg,
            status="given" if d.status == "given" else pending,
            given_on=d.date if d.status == "given" else None,
            reason=None if d.status == "given" else reason,
        )
        for d in calendar.doses
    ]


# ------------------------------------------------------------------------- administrations


def _clock(day: date, minutes: int) -> datetime:
    return datetime.combine(day, time(0)) + timedelta(minutes=minutes)


def _rate_events(plan: RatePlan) -> list[tuple[float, float, str]]:
    events: list[tuple[float, float, str]] = []
    previous = None
    for index, step in enumerate(plan.steps):
        if index == 0:
            kind = "start"
        elif step.kind == "paused":
            kind = "pause"
        elif previous is not None and previous.kind == "paused":
            kind = "resume"
        else:
            kind = "change"
        events.append((round(step.start_min, 2), round(step.rate_ml_per_h, 2), kind))
        previous = step
    if plan.steps:
        events.append((round(plan.steps[-1].end_min, 2), 0.0, "stop"))
    return events


@dataclass
class Administering:
    """The context of one infusion in the history walk."""

    kb: KnowledgeBase
    rates: RateCache
    params: DemoParameters
    rng: random.Random
    detail_from: date
    prior_grades: list[int]


def administer(
    ctx: Administering, plan: GenPlan, dose: CalendarDose, grade: int
) -> GenAdministration:
    """An administration of ``dose`` (given on ``dose.date``) with its rate plan, premedication,
    vital signs and (``grade`` > 0) reaction, re-planned as the rate planner does."""
    rng, p = ctx.rng, ctx.params
    base = ctx.rates.plan(
        RateRequest(
            plan.agent,
            dose.number,
            plan.profile,  # type: ignore[arg-type]
            protocol=plan.protocol,
            regimen=plan.regimen,
            dose_mg=dose.dose_mg,
            prior_reaction_grades=tuple(ctx.prior_grades),
        )
    )
    rate_plan = base
    reaction = None
    if grade > 0:
        onset = round(rng.uniform(5.0, max(6.0, base.infusion_minutes * 0.6)), 1)
        resume = round(onset + rng.uniform(20.0, 45.0), 1) if grade == 3 else None
        rate_plan = replan_after_reaction(ctx.kb, base, onset, grade, resume)
        agent = ctx.kb.agents[plan.agent]
        action = next(a for a in agent.reaction_management if grade in a.grades)
        reaction = GenReaction(
            onset,
            grade,
            resume,
            action.text,
            "resolved" if grade < 4 else "infusion stopped; plan held for prescriber review",
        )
    chair = rate_plan.chair_minutes
    opens, closes = 8 * 60, 17 * 60
    latest = max(opens, closes - int(chair))
    visit = opens + 15 * rng.randint(0, max(0, (latest - opens) // 15))
    infusion_start = visit + int(rate_plan.setup_minutes + rate_plan.premedication_lead_minutes)
    started = _clock(dose.date, infusion_start)
    ended = started + timedelta(minutes=round(rate_plan.infusion_minutes))
    out = GenAdministration(
        dose_number=dose.number,
        started_at=started,
        ended_at=ended,
        observation_until=ended + timedelta(minutes=round(rate_plan.observation_minutes)),
        dose_mg=dose.dose_mg,
        volume_ml=rate_plan.volume_ml,
        protocol=rate_plan.protocol,
        grade=grade,
        outcome="completed" if grade < 4 else "stopped",
        reaction=reaction,
    )
    if dose.date >= ctx.detail_from:
        out.rate_events = _rate_events(rate_plan)
        for premed in rate_plan.premedications:
            if premed.required or rng.random() < 0.5:
                lead = premed.minutes_before_max or premed.lead_minutes
                out.premedications.append(
                    (premed.drug, premed.dose, premed.route, started - timedelta(minutes=lead))
                )
        if rng.random() < p.vital_signs_share or grade > 0:
            out.vital_signs = _vital_signs(rng, started, out.observation_until, grade)
    return out


#: Synthetic vital-sign ranges (demo values, not clinical thresholds).
_VITALS = {
    "systolic": ((105.0, 135.0), "mm[Hg]"),
    "diastolic": ((62.0, 85.0), "mm[Hg]"),
    "heart_rate": ((58.0, 92.0), "/min"),
}


def _vital_signs(
    rng: random.Random, started: datetime, finished: datetime, grade: int
) -> list[tuple[str, float, str, datetime]]:
    out = []
    for when in (started - timedelta(minutes=10), finished):
        for kind, ((low, high), unit) in _VITALS.items():
            value = rng.uniform(low, high)
            if grade and kind == "heart_rate" and when == finished:
                value += 8.0 * grade  # tachycardia is a common reaction sign
            out.append((kind, float(round(value)), unit, when))
    return out


def administrations_for(ctx: Administering, plan: GenPlan, reaction: ReactionDraw | None) -> None:
    """Record an administration for every given dose of ``plan`` (in ``plan.calendar``).

    A drawn reaction lands on its infusion, or on the last one given when the history ends
    earlier. A grade 3 reaction removes the shorter ocrelizumab protocol from the plan, as
    ``services.infusions`` does.
    """
    assert plan.calendar is not None
    given = [d for d in plan.calendar.doses if d.status == "given"]
    target = min(reaction.infusion, len(given)) if reaction is not None else 0
    for index, dose in enumerate(given, start=1):
        grade = reaction.grade if reaction is not None and index == target else 0
        plan.administrations.append(administer(ctx, plan, dose, grade))
        ctx.prior_grades.append(grade)
        if grade >= 3 and plan.protocol == "shorter":
            plan.protocol = "standard"
