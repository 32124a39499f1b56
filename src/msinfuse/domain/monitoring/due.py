"""When each monitoring item of a patient is due: the single source of truth.

The monitoring list (:func:`msinfuse.domain.monitoring.monitoring`), the clinic worklists
(stored projections of that list) and the pre-infusion check rules that look at the same
tasks (anti-JCV retest, TOUCH re-authorization, alemtuzumab monthly labs before a later
course, mitoxantrone LVEF before each dose) all call :func:`item_due`. Intervals, offsets
and windows come only from the agent's monitoring items in the knowledge base.

- ``first_dose`` items: one-off points at ``offsets`` from the first dose, then every
  ``interval`` after the last result (rolling, :func:`msinfuse.domain.due.rolling_due`);
- ``last_dose`` items run once the agent has been stopped, every ``interval`` from the last
  dose;
- ``each_dose`` items need a result dated after the last dose and inside the clinic's
  screening window; without one they are due by the next planned dose;
- ``course_end`` items end a set time after the last dose of the latest course (alemtuzumab
  herpes prophylaxis).

Anti-JCV samples taken inside the invalid window after plasma exchange or IVIG do not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from msinfuse.domain.calendar import CalendarRequest, GivenDose, build_calendar
from msinfuse.domain.due import done_since, rolling_due
from msinfuse.domain.knowledge.facts import Fact, ProfileId
from msinfuse.domain.knowledge.schema import Agent, KnowledgeBase, MonitoringItem
from msinfuse.domain.patient import PatientState
from msinfuse.domain.risk import PmlRisk
from msinfuse.domain.risk.pml import invalid_sample_reason
from msinfuse.errors import InvalidInput

JCV_TESTS = ("jcv_antibody", "jcv_index")


@dataclass(frozen=True, slots=True)
class Exposure:
    """A patient's treatment with one agent, as far as monitoring needs it."""

    first: date
    last: date
    stopped: bool
    last_course_end: date
    more_planned: bool


@dataclass(frozen=True, slots=True)
class ItemDue:
    """When one monitoring item is due, and what decided it."""

    item: MonitoringItem
    due: date
    last_done: date | None
    until: date | None
    note: str | None
    facts: tuple[Fact, ...]
    """The knowledge-base facts used besides the item itself (windows, durations)."""

    def overdue_for_dose(self, day: date) -> bool:
        """Whether a dose on ``day`` finds the task not done: past its due date, or (a task
        before each dose) not done since the last dose."""
        return self.due < day or (self.item.start == "each_dose" and self.due <= day)


def exposure(
    kb: KnowledgeBase, agent: Agent, state: PatientState, on: date, profile: ProfileId
) -> Exposure | None:
    """The patient's exposure to ``agent`` up to ``on``; ``None`` when never treated."""
    doses = [a.date for a in state.administrations_of(agent.id) if a.date <= on]
    therapies = [t for t in state.therapies if t.agent == agent.id]
    starts = doses + [t.start for t in therapies if t.start is not None and t.start <= on]
    if not starts:
        return None
    ends = doses + [t.end for t in therapies if t.end is not None and t.end <= on]
    last = max(ends) if ends else max(starts)
    plan = state.plan_for(agent.id)
    plan_stopped = bool(plan and plan.stopped and plan.stopped <= on)
    therapy_ended = bool(therapies) and all(t.end is not None and t.end <= on for t in therapies)
    stopped = plan_stopped or therapy_ended
    more_planned = False
    if not stopped and doses:
        more_planned = next_dose_date(kb, agent, state, on, profile) is not None
        if (
            agent.default_regimen.uses_bsa
            and state.height_cm is not None
            and state.weight_kg is not None
        ):
            stopped = not more_planned  # the lifetime limit ends treatment
    return Exposure(min(starts), last, stopped, last, more_planned)


def next_dose_date(
    kb: KnowledgeBase, agent: Agent, state: PatientState, on: date, profile: ProfileId
) -> date | None:
    """The date the next dose is due by (its planned date, never before its earliest)."""
    given = state.administrations_of(agent.id, before=on + timedelta(days=1))
    if not given:
        return None
    plan = state.plan_for(agent.id)
    try:
        calendar = build_calendar(
            kb,
            CalendarRequest(
                agent.id,
                given[0].date,
                on,
                regimen=plan.regimen if plan else None,
                profile=profile,
                given=tuple(GivenDose(a.date, a.dose_mg) for a in given),
                count=1,
                height_cm=state.height_cm,
                weight_kg=state.weight_kg,
                prior_cumulative_mg_per_m2=state.prior_cumulative_mg_per_m2.get(agent.id, 0.0),
            ),
        )
    except InvalidInput:
        return None
    upcoming = calendar.next_dose
    if upcoming is None:
        return None
    return max(upcoming.planned, upcoming.earliest)


def results(kb: KnowledgeBase, item: MonitoringItem, state: PatientState, on: date) -> list[date]:
    """Dates of the results that satisfy ``item`` up to ``on``, oldest first (anti-JCV
    samples taken inside the invalid window after plasma exchange or IVIG excluded)."""
    codes = set(item.satisfied_by)
    natalizumab = kb.agent("natalizumab")
    params = natalizumab.pml if natalizumab is not None else None
    dates = [
        lab.date
        for lab in state.labs
        if lab.test in codes
        and lab.date <= on
        and not (
            lab.test in JCV_TESTS
            and params is not None
            and invalid_sample_reason(state, lab.date, params) is not None
        )
    ]
    dates += [p.date for p in state.procedures if p.procedure in codes and p.date <= on]
    dates += [a.date for a in state.authorizations if a.program in codes and a.date <= on]
    return sorted(dates)


def applies(
    item: MonitoringItem,
    state: PatientState,
    on: date,
    risk: PmlRisk | None,
    threshold: float | None,
) -> bool:
    """Whether ``item``'s condition (``applies_if``) holds for the patient on ``on``."""
    condition = item.applies_if
    if condition is None:
        return True
    if condition == "anti_hbc_positive":
        lab = state.latest_lab("anti_hbc", on)
        return lab is not None and lab.text == "positive"
    if condition == "female":
        return state.sex in ("female", None)  # unknown sex: list it rather than miss it
    if condition == "childbearing_potential":
        return state.childbearing_potential is not False
    assert risk is not None
    if condition == "jcv_negative":
        return risk.jcv_status in ("negative", "unknown")
    if condition == "jcv_low_index_no_prior_is":
        return (
            risk.jcv_status == "positive"
            and not risk.prior_immunosuppressant
            and risk.index is not None
            and threshold is not None
            and risk.index <= threshold
        )
    if condition == "pml_higher_risk":
        return risk.category == "higher"
    return risk.category != "higher"  # pml_standard_risk


def item_due(
    kb: KnowledgeBase,
    agent: Agent,
    item: MonitoringItem,
    state: PatientState,
    on: date,
    profile: ProfileId,
    exp: Exposure | None,
    *,
    for_a_dose: bool = False,
) -> ItemDue | None:
    """When ``item`` is due for the patient on ``on``; ``None`` when nothing is due.

    ``for_a_dose``: asked by the pre-infusion check of a new dose on ``on``, so the item's
    end date and "only while on treatment" do not end it (the dose restarts the treatment),
    and a task before each dose is due on the day of the dose.
    """
    until = (
        item.until_after_last_dose.after(exp.last)
        if exp is not None
        and item.until_after_last_dose is not None
        and not exp.more_planned
        and not for_a_dose
        else None
    )
    if until is not None and on > until:
        return None
    if not for_a_dose and item.while_on_treatment and exp is not None and exp.stopped:
        return None
    done = results(kb, item, state, on)
    note = None
    facts: tuple[Fact, ...] = ()
    due: date | None
    last_done: date | None = None
    if item.start == "first_dose":
        last_done = done[-1] if done else None
        first = exp.first if exp is not None else None
        if first is None and last_done is None:
            due = on if item.baseline else None
        else:
            due = rolling_due(first, item.offsets, item.interval, last_done, baseline=item.baseline)
    elif item.start == "last_dose":
        if exp is None or not exp.stopped or item.interval is None or for_a_dose:
            return None
        relevant = [d for d in done if d >= exp.last]
        last_done = relevant[-1] if relevant else None
        due = item.interval.after(last_done or exp.last)
    elif item.start == "each_dose":
        if exp is not None and exp.stopped and not for_a_dose:
            return None
        window = kb.clinic.screening_max_age
        facts = (window,)
        previous = (
            state.administrations_of(agent.id, before=on)
            if for_a_dose
            else state.administrations_of(agent.id, before=on + timedelta(days=1))
        )
        since = previous[-1].date if previous else None
        if done_since(done, since, window.value.before(on)) is not None:
            return None  # done since the last dose and still current
        before = [d for d in done if since is None or d <= since]
        last_done = before[-1] if before else None
        due = on if for_a_dose else next_dose_date(kb, agent, state, on, profile)
    else:  # course_end: herpes prophylaxis
        prophylaxis = agent.herpes_prophylaxis
        if prophylaxis is None or exp is None or for_a_dose:
            return None
        duration = prophylaxis.duration_after_course.get(profile)
        if duration is None:
            return None
        facts = (duration,)
        due = duration.value.after(exp.last_course_end)
        if on > due:
            return None
        cd4 = prophylaxis.or_until_cd4_at_least
        if cd4 is not None and profile == "us":
            facts = (duration, cd4)
            lab = state.latest_lab("cd4", on)
            note = (
                f"continue until this date or until CD4 is at least {cd4.value:g} cells/uL, "
                "whichever is later"
            )
            if lab is not None and lab.number is not None and lab.date >= exp.last_course_end:
                note += f" (latest CD4 {lab.number:g} on {lab.date.isoformat()})"
        until = due
    if due is None or (until is not None and due > until):
        return None
    return ItemDue(item, due, last_done, until, note, facts)


def agent_items(agent: Agent, profile: ProfileId) -> tuple[MonitoringItem, ...]:
    """The agent's monitoring items that hold under ``profile``."""
    return tuple(item for item in agent.monitoring if profile in item.profiles)


__all__ = [
    "Exposure",
    "ItemDue",
    "agent_items",
    "applies",
    "exposure",
    "item_due",
    "next_dose_date",
    "results",
]
