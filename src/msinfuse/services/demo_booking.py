"""Chair bookings for the demo clinic: today's and the next working days' appointments for
the doses that fall due, never two at once on a chair, and the pre-infusion checks of
today's appointments.

Chair time comes from the patient's own rate plan, as ``services.appointments.book`` takes
it (``chair_minutes_for_dose``); the stored check is what ``services.checks.run_check``
stores (the same engine, the same JSON).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from msinfuse.domain.calendar import regimen_block
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.patient import PatientState
from msinfuse.domain.rates import RateRequest
from msinfuse.domain.safety import CheckRequest, check
from msinfuse.services.clinical import check_json
from msinfuse.services.demo_history import GenDose, GenPlan, RateCache
from msinfuse.services.demo_params import DemoParameters


def working_days(on: date, count: int) -> list[date]:
    """``on`` (when a weekday) and the next ``count`` weekdays."""
    days = [on] if on.weekday() < 5 else []
    day = on
    while len(days) < count + (1 if on.weekday() < 5 else 0):
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass
class Bookable:
    """Doses to book together (one dose, or the consecutive days of a course), the days each
    may go on (in order of preference), their chair minutes, and the check a booking today
    would store."""

    plan: GenPlan
    doses: list[GenDose]
    days: list[list[date]]
    minutes: list[int]
    check: dict[str, Any] | None = None


@dataclass
class Booking:
    """An appointment: a dose on a chair of a site."""

    plan: GenPlan
    dose: GenDose
    site: int
    chair: int
    starts_at: datetime
    ends_at: datetime
    check: dict[str, Any] | None = None


def bookables(
    kb: KnowledgeBase,
    rates: RateCache,
    params: DemoParameters,
    rng: random.Random,
    plans: list[GenPlan],
    state: PatientState,
    horizon: list[date],
    on: date,
) -> list[Bookable]:
    """The doses of the active plans that fall due within the booking horizon (overdue ones
    included, unless marked missed or held), with a share left unbooked."""
    if not horizon:
        return []
    out = []
    last = horizon[-1]
    for plan in plans:
        if plan.status != "active":
            continue
        pending = [d for d in plan.doses if d.status == "planned" and d.planned_on <= last]
        if not pending or rng.random() >= params.booking_share:
            continue
        regimen = kb.agents[plan.agent].regimen(plan.regimen)
        assert regimen is not None
        grades = tuple(a.reaction_grade for a in state.administrations_of(plan.agent))
        groups: list[list[GenDose]] = []
        for dose in pending:
            block = regimen_block(regimen, dose.course - 1)
            if block is not None and block.consecutive and dose.course_day > 1 and groups:
                groups[-1].append(dose)
            else:
                groups.append([dose])
        for group in groups:
            days = _candidate_days(
                params, regimen_block(regimen, group[0].course - 1), group, horizon, on
            )
            if not days:
                continue
            minutes = [_chair_minutes(rates, plan, d, grades) for d in group]
            item = Bookable(plan, group, days, minutes)
            if on in days[0]:
                result = check(
                    kb,
                    state,
                    CheckRequest(plan.agent, on, plan.profile, plan.protocol),  # type: ignore[arg-type]
                )
                data = check_json(result)
                item.check = {
                    "decision": result.decision,
                    "findings": data["findings"],
                    "label_revisions": data["label_revisions"],
                }
            out.append(item)
    return out


def _chair_minutes(rates: RateCache, plan: GenPlan, dose: GenDose, grades: tuple[int, ...]) -> int:
    rate_plan = rates.plan(
        RateRequest(
            plan.agent,
            dose.number,
            plan.profile,  # type: ignore[arg-type]
            protocol=plan.protocol,
            regimen=plan.regimen,
            dose_mg=dose.dose_mg,
            prior_reaction_grades=grades,
        )
    )
    return round(rate_plan.chair_minutes)


def _candidate_days(
    params: DemoParameters,
    block: Any,
    group: list[GenDose],
    horizon: list[date],
    on: date,
) -> list[list[date]]:
    allowed = set(horizon)
    if len(group) > 1 or (block is not None and block.consecutive and group[0].course_day > 1):
        days = [d.planned_on for d in group]
        return [[d] for d in days] if all(d in allowed for d in days) else []
    dose = group[0]
    if dose.planned_on < on:
        return [horizon[:5]]  # overdue: as soon as possible
    tolerance = params.in_course_day_tolerance if dose.course_day > 1 else params.day_tolerance
    position = _position(horizon, dose.planned_on)
    order = [position]
    for step in range(1, tolerance + 1):
        order += [position + step, position - step]
    days = [horizon[i] for i in order if 0 <= i < len(horizon)]
    days = [d for d in days if d >= dose.earliest_on and d >= on]
    if block is not None and block.consecutive and len(block.doses) > 1:
        days = [d for d in days if d == dose.planned_on]
    return [days] if days else []


def _position(horizon: list[date], day: date) -> int:
    for index, candidate in enumerate(horizon):
        if candidate >= day:
            return index
    return len(horizon)


@dataclass
class ChairBook:
    """Every chair's bookings per site and day (minutes from midnight)."""

    chairs: int
    params: DemoParameters
    on: date
    busy: dict[tuple[int, date], list[list[tuple[int, int]]]] = field(default_factory=dict)

    def _chairs(self, site: int, day: date) -> list[list[tuple[int, int]]]:
        key = (site, day)
        if key not in self.busy:
            self.busy[key] = [[] for _ in range(self.chairs)]
        return self.busy[key]

    def place(self, site: int, day: date, minutes: int, window: int) -> tuple[int, int] | None:
        """The first (chair, start) that fits ``minutes``: from the preferred window's start,
        then from opening time; ``None`` when the day is full."""
        p = self.params
        opens, closes, grid = _minutes(p.opens), _minutes(p.closes), p.start_grid_minutes
        start, end = (_minutes(t) for t in p.start_windows[window][1:])
        chairs = self._chairs(site, day)
        tries = list(range(start, min(end, closes - minutes) + 1, grid))
        tries += [t for t in range(opens, closes - minutes + 1, grid) if t not in tries]
        for begin in tries:
            finish = begin + minutes
            for index, taken in enumerate(chairs):
                if all(finish <= s or begin >= e for s, e in taken):
                    taken.append((begin, finish))
                    return index, begin
        return None

    def release(self, site: int, day: date, chair: int, begin: int) -> None:
        """Undo a placement (a course that did not fit on every day)."""
        taken = self._chairs(site, day)[chair]
        taken[:] = [(s, e) for s, e in taken if s != begin]

    def book(self, site: int, window: int, item: Bookable) -> list[Booking]:
        """Book ``item`` at ``site`` (all of a course's days, or none)."""
        if len(item.doses) == 1:
            for day in item.days[0]:
                placed = self.place(site, day, item.minutes[0], window)
                if placed is not None:
                    return [self._booking(item, 0, site, day, placed, item.check)]
            return []
        done: list[tuple[date, tuple[int, int]]] = []
        for index, days in enumerate(item.days):
            placed = self.place(site, days[0], item.minutes[index], window)
            if placed is None:
                for day, (chair, begin) in done:
                    self.release(site, day, chair, begin)
                return []
            done.append((days[0], placed))
        return [
            self._booking(item, index, site, day, placed, item.check if index == 0 else None)
            for index, (day, placed) in enumerate(done)
        ]

    def _booking(
        self,
        item: Bookable,
        index: int,
        site: int,
        day: date,
        placed: tuple[int, int],
        check_data: dict[str, Any] | None,
    ) -> Booking:
        chair, begin = placed
        starts = datetime.combine(day, time(0)) + timedelta(minutes=begin)
        dose = item.doses[index]
        dose.status = "scheduled"
        return Booking(
            item.plan,
            dose,
            site,
            chair,
            starts,
            starts + timedelta(minutes=item.minutes[index]),
            check_data if day == self.on else None,
        )
