"""Invariants of dose calendars (clinical-decisions §2)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from msinfuse.domain.calendar import Calendar, CalendarRequest, GivenDose, build_calendar
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.errors import InvalidInput

KB = default_knowledge_base()
AGENTS = sorted(KB.agents)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    agent = KB.agents[draw(st.sampled_from(AGENTS))]
    regimen = draw(st.sampled_from(agent.regimens))
    profile = draw(st.sampled_from(list(regimen.profiles)))
    start = date(2020, 1, 1) + timedelta(days=draw(st.integers(0, 2000)))
    gaps = draw(st.lists(st.integers(1, 400), max_size=8))
    given_dates = [start]
    for gap in gaps:
        given_dates.append(given_dates[-1] + timedelta(days=gap))
    n_given = draw(st.integers(0, len(given_dates)))
    given_doses = tuple(GivenDose(day) for day in given_dates[:n_given])
    last = given_doses[-1].date if given_doses else start
    today = last + timedelta(days=draw(st.integers(0, 500)))
    try:
        return build_calendar(
            KB,
            CalendarRequest(
                agent.id,
                start,
                today,
                regimen=regimen.id,
                profile=profile,
                given=given_doses,
                count=draw(st.integers(0, 8)),
                height_cm=170.0,
                weight_kg=70.0,
            ),
        )
    except InvalidInput:
        assume(False)
        raise  # pragma: no cover


def _spacing_after(calendar: Calendar, previous: date) -> date:
    regimen = KB.agents[calendar.agent].regimen(calendar.regimen)
    assert regimen is not None
    assert regimen.repeat is not None
    spacing = regimen.repeat.min_spacing.get(calendar.profile)
    assert spacing is not None
    return spacing.value.after(previous)


@given(calendars())
def test_every_planned_dose_respects_the_minimum_spacing_from_the_last_dose(calendar: Calendar):
    doses = calendar.doses
    for before, after in itertools.pairwise(doses):
        if after.status == "given":
            continue
        if after.course != before.course:
            # An overdue dose is projected to be given today; spacing counts from there.
            previous = calendar.today if before.status == "overdue" else before.date
            assert after.date >= _spacing_after(calendar, previous)
            assert after.earliest == _spacing_after(calendar, previous)


@given(calendars())
def test_doses_not_given_are_never_planned_before_their_earliest_date(calendar: Calendar):
    for dose in calendar.doses:
        if dose.status != "given":
            assert dose.planned >= dose.earliest


@given(calendars())
def test_statuses_follow_today(calendar: Calendar):
    for dose in calendar.doses:
        if dose.status == "overdue":
            assert dose.planned < calendar.today
        elif dose.status == "due":
            assert dose.earliest <= calendar.today <= dose.planned
        elif dose.status == "planned":
            assert dose.earliest > calendar.today


@given(calendars())
def test_only_the_first_dose_not_given_can_be_overdue(calendar: Calendar):
    pending = [d for d in calendar.doses if d.status != "given"]
    assert all(d.status != "overdue" for d in pending[1:])


@given(calendars())
def test_a_calendar_always_names_its_sources_and_labels(calendar: Calendar):
    assert calendar.labels
    assert calendar.sources or not calendar.doses
