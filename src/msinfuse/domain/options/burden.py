"""Practical burden of an infusion agent: visits, chair hours and monitoring per year.

Figures are derived from the knowledge base (regimen intervals, rate protocols,
premedication, observation and monitoring cadences) through the rate planner, so they
follow the data. Per-year figures use average month and year lengths and are estimates for
comparison only, never for dates.
"""

from __future__ import annotations

from dataclasses import dataclass

from msinfuse.domain.knowledge.facts import ProfileId
from msinfuse.domain.knowledge.schema import Agent, KnowledgeBase, Regimen
from msinfuse.domain.rates.planner import RateRequest, plan_infusion

_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True, slots=True)
class InfusionTime:
    """Chair time of one infusion day of a course."""

    infusion: int
    protocol: str
    infusion_minutes: float
    chair_minutes: float


@dataclass(frozen=True, slots=True)
class Burden:
    """How much of a patient's time an agent takes.

    ``visits_per_year`` and ``chair_hours_per_year`` describe maintenance; for course-based
    agents (alemtuzumab, relapse courses) they are ``None`` and ``courses`` describes the
    visits of each planned course instead.
    """

    agent: str
    profile: ProfileId
    regimen: str
    visits_per_year: float | None
    chair_hours_per_year: float | None
    maintenance_interval: str | None
    maintenance_days: tuple[InfusionTime, ...]
    shorter_option: InfusionTime | None
    first_course_visits: int
    first_course_chair_hours: float
    courses_note: str | None
    screening_tests: int
    monitoring_items: int
    monitoring_tests_per_year: float
    note: str | None = None


def _course_times(
    kb: KnowledgeBase, agent: Agent, regimen: Regimen, profile: ProfileId, first: int, count: int
) -> tuple[InfusionTime, ...]:
    times = []
    for number in range(first, first + count):
        plan = plan_infusion(kb, RateRequest(agent.id, number, profile, regimen=regimen.id))
        times.append(InfusionTime(number, plan.protocol, plan.infusion_minutes, plan.chair_minutes))
    return tuple(times)


def _steady_state_infusion(agent: Agent, first_maintenance: int) -> int:
    """The first infusion number past every numbered rule (observation, protocol ranges).

    Natalizumab's US observation changes after infusion 12, ublituximab's after infusion 2:
    long-run burden is measured on an infusion where no such rule still changes.
    """
    lasts = [r.infusions.last for r in agent.observation if r.infusions.last is not None]
    lasts += [p.infusions.last for p in agent.rate_protocols if p.infusions.last is not None]
    return max([first_maintenance, *(n + 1 for n in lasts)])


def burden(kb: KnowledgeBase, agent: Agent, profile: ProfileId) -> Burden:
    """The practical burden of ``agent``'s default regimen under ``profile``."""
    regimen = agent.default_regimen
    first_count = len(regimen.initial.doses)
    first = _course_times(kb, agent, regimen, profile, 1, first_count)
    maintenance: tuple[InfusionTime, ...] = ()
    visits: float | None = None
    hours: float | None = None
    interval_text: str | None = None
    shorter: InfusionTime | None = None
    courses_note: str | None = None
    repeat = regimen.repeat
    if repeat is not None:
        interval = repeat.interval.get(profile)
        steady = _steady_state_infusion(agent, first_count + 1)
        maintenance = _course_times(kb, agent, regimen, profile, steady, len(repeat.block.doses))
        if interval is not None:
            interval_text = str(interval.value)
        if repeat.scheduled is None and interval is not None:
            per_year = _DAYS_PER_YEAR / interval.value.approx_days()
            visits = round(per_year * len(repeat.block.doses), 1)
            hours = round(per_year * sum(t.chair_minutes for t in maintenance) / 60.0, 1)
        elif repeat.scheduled is not None:
            courses_note = (
                f"{first_count} infusion days in course 1, {len(repeat.block.doses)} in each later "
                f"course ({repeat.scheduled} planned, more only if needed)"
            )
        if any(p.protocol == "shorter" for p in agent.rate_protocols):
            plan = plan_infusion(
                kb, RateRequest(agent.id, steady, profile, protocol="shorter", regimen=regimen.id)
            )
            if plan.protocol == "shorter":
                shorter = InfusionTime(steady, "shorter", plan.infusion_minutes, plan.chair_minutes)
    else:
        courses_note = f"one course of {first_count} infusion days per relapse"
    monitoring = [m for m in agent.monitoring if profile in m.profiles]
    tests_per_year = sum(
        _DAYS_PER_YEAR / m.interval.approx_days() for m in monitoring if m.interval is not None
    )
    screening = {t for s in agent.screening if profile in s.profiles for t in s.tests}
    note = None
    if regimen.uses_bsa and regimen.cumulative_limit_mg_per_m2 is not None:
        limit = regimen.cumulative_limit_mg_per_m2.get(profile)
        per_m2 = regimen.initial.doses[0].dose_mg_per_m2
        if limit is not None and per_m2:
            note = (
                f"stops at the lifetime limit of {limit.value:g} mg/m2 "
                f"(at most {int(limit.value // per_m2)} doses of {per_m2:g} mg/m2)"
            )
    return Burden(
        agent=agent.id,
        profile=profile,
        regimen=regimen.id,
        visits_per_year=visits,
        chair_hours_per_year=hours,
        maintenance_interval=interval_text,
        maintenance_days=maintenance,
        shorter_option=shorter,
        first_course_visits=first_count,
        first_course_chair_hours=round(sum(t.chair_minutes for t in first) / 60.0, 1),
        courses_note=courses_note,
        screening_tests=len(screening),
        monitoring_items=len(monitoring),
        monitoring_tests_per_year=round(tests_per_year, 1),
        note=note,
    )
