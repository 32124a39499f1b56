"""Monitoring schedules (clinical-decisions §7).

For every infusion agent a patient has received, each monitoring item of the knowledge base
(for the profile, and when its condition applies) gets a due date:

- ``first_dose`` items: one-off points at ``offsets`` from the first dose (TOUCH evaluations
  at 3 and 6 months), then every ``interval`` after the last time it was done (rolling);
- ``last_dose`` items run only once the agent has been stopped, every ``interval`` from the
  last dose (mitoxantrone LVEF yearly after stopping);
- ``each_dose`` items are due by the next planned dose unless done since the last dose;
- ``course_end`` items end a set time after the last dose of the latest course (alemtuzumab
  herpes prophylaxis).

An item is never listed past its until-date (``until_after_last_dose`` after the last dose).
Status: ``overdue`` (due date passed), ``due`` (within the clinic's due-soon window) or
``upcoming``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from msinfuse.domain.calendar import CalendarRequest, GivenDose, build_calendar
from msinfuse.domain.findings import Finding, sort_findings
from msinfuse.domain.knowledge.facts import Duration, ProfileId
from msinfuse.domain.knowledge.schema import Agent, KnowledgeBase, MonitoringItem
from msinfuse.domain.patient import PatientState
from msinfuse.domain.provenance import DECISION_SUPPORT, FactLog, LabelRef, label_refs
from msinfuse.domain.risk import PmlRisk, pml_risk_from_state
from msinfuse.errors import InvalidInput

MonitoringStatus = Literal["overdue", "due", "upcoming"]


@dataclass(frozen=True, slots=True)
class MonitoringEntry:
    """One monitoring item the patient is due for."""

    agent: str
    agent_name: str
    item_id: str
    item: str
    kind: str
    due: date
    status: MonitoringStatus
    last_done: date | None
    interval: str | None
    until: date | None
    source: str
    fact_status: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class MonitoringResult:
    """Every monitoring item of a patient on a date."""

    date: date
    profile: ProfileId
    items: tuple[MonitoringEntry, ...]
    findings: tuple[Finding, ...]
    sources: tuple[str, ...]
    labels: tuple[LabelRef, ...]
    decision_support: str = DECISION_SUPPORT


@dataclass(frozen=True, slots=True)
class _Exposure:
    first: date
    last: date
    stopped: bool
    last_course_end: date
    more_planned: bool


def _exposure(kb: KnowledgeBase, agent: Agent, state: PatientState, on: date) -> _Exposure | None:
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
        more_planned = _next_dose_date(kb, agent, state, on, "us") is not None
        if (
            agent.default_regimen.uses_bsa
            and state.height_cm is not None
            and state.weight_kg is not None
        ):
            stopped = not more_planned  # the lifetime limit ends treatment
    return _Exposure(min(starts), last, stopped, last, more_planned)


def _done_dates(state: PatientState, codes: tuple[str, ...], on: date) -> list[date]:
    dates = [lab.date for lab in state.labs if lab.test in codes and lab.date <= on]
    dates += [p.date for p in state.procedures if p.procedure in codes and p.date <= on]
    dates += [a.date for a in state.authorizations if a.program in codes and a.date <= on]
    return dates


def _applies(
    item: MonitoringItem,
    state: PatientState,
    on: date,
    risk: PmlRisk | None,
    threshold: float | None,
) -> bool:
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


def monitoring(
    kb: KnowledgeBase, state: PatientState, on: date, profile: ProfileId
) -> MonitoringResult:
    """Every monitoring item ``state`` is due for on ``on`` under ``profile``."""
    log = FactLog()
    due_soon = kb.clinic.due_soon_days
    log.use(due_soon, "due-soon window (days)", due_soon.value)
    entries: list[MonitoringEntry] = []
    findings: list[Finding] = []
    labels: list[LabelRef] = []
    for agent in sorted(kb.agents.values(), key=lambda a: a.name):
        exposure = _exposure(kb, agent, state, on)
        if exposure is None:
            continue
        labels.extend(label_refs(agent, profile))
        risk = pml_risk_from_state(kb, state, on) if agent.pml is not None else None
        threshold = agent.pml.high_index_threshold.value if agent.pml is not None else None
        for item in agent.monitoring:
            if profile not in item.profiles or not _applies(item, state, on, risk, threshold):
                continue
            entry = _entry(kb, agent, item, state, on, profile, exposure, due_soon.value)
            if entry is not None:
                log.use(item, f"{agent.name} {item.item}")
                entries.append(entry)
    entries.sort(key=lambda e: (e.due, e.agent, e.item_id))
    return MonitoringResult(
        date=on,
        profile=profile,
        items=tuple(entries),
        findings=sort_findings([*findings, *log.weak_findings()]),
        sources=log.sources(),
        labels=tuple(labels),
    )


def _status(due: date, on: date, due_soon_days: int) -> MonitoringStatus:
    if due < on:
        return "overdue"
    if due <= on + timedelta(days=due_soon_days):
        return "due"
    return "upcoming"


def _entry(
    kb: KnowledgeBase,
    agent: Agent,
    item: MonitoringItem,
    state: PatientState,
    on: date,
    profile: ProfileId,
    exposure: _Exposure,
    due_soon_days: int,
) -> MonitoringEntry | None:
    # "Until N after the last dose" counts once no further dose is planned; while more doses
    # are planned the end date is open.
    until = (
        item.until_after_last_dose.after(exposure.last)
        if item.until_after_last_dose is not None and not exposure.more_planned
        else None
    )
    if until is not None and on > until:
        return None
    if item.while_on_treatment and exposure.stopped:
        return None
    done = sorted(_done_dates(state, item.satisfied_by, on))
    note = None
    due: date | None
    last_done: date | None = None
    if item.start == "first_dose":
        relevant_from = item.interval.before(exposure.first) if item.interval else exposure.first
        relevant = [d for d in done if d >= relevant_from]
        last_done = relevant[-1] if relevant else None
        due = _rolling_due(exposure.first, item.offsets, item.interval, last_done)
    elif item.start == "last_dose":
        if not exposure.stopped or item.interval is None:
            return None
        relevant = [d for d in done if d >= exposure.last]
        last_done = relevant[-1] if relevant else None
        due = item.interval.after(last_done or exposure.last)
    elif item.start == "each_dose":
        if exposure.stopped:
            return None
        relevant = [d for d in done if d > exposure.last]
        if relevant:
            return None  # done since the last dose: nothing due before the next one
        due = _next_dose_date(kb, agent, state, on, profile)
        previous = [d for d in done if d <= exposure.last]
        last_done = previous[-1] if previous else None
        if due is None:
            return None
    else:  # course_end: herpes prophylaxis
        prophylaxis = agent.herpes_prophylaxis
        if prophylaxis is None:
            return None
        duration = prophylaxis.duration_after_course.get(profile)
        if duration is None:
            return None
        due = duration.value.after(exposure.last_course_end)
        if on > due:
            return None
        cd4 = prophylaxis.or_until_cd4_at_least
        if cd4 is not None and profile == "us":
            lab = state.latest_lab("cd4", on)
            note = f"continue until this date or until CD4 is at least {cd4.value:g} cells/uL, whichever is later"
            if lab is not None and lab.number is not None and lab.date >= exposure.last_course_end:
                note += f" (latest CD4 {lab.number:g} on {lab.date.isoformat()})"
        until = due
    if due is None or (until is not None and due > until):
        return None
    return MonitoringEntry(
        agent=agent.id,
        agent_name=agent.name,
        item_id=item.id,
        item=item.item,
        kind=item.kind,
        due=due,
        status=_status(due, on, due_soon_days),
        last_done=last_done,
        interval=str(item.interval) if item.interval else None,
        until=until,
        source=item.citation_text(),
        fact_status=item.status,
        note=(note or item.note) if item.is_weak else note,
    )


def _rolling_due(
    first: date, offsets: tuple[Duration, ...], interval: Duration | None, last_done: date | None
) -> date | None:
    points = [o.after(first) for o in offsets]
    pending = [p for p in points if last_done is None or p > last_done]
    if pending:
        return min(pending)
    if interval is None:
        return None
    base = last_done or (points[-1] if points else first)
    return interval.after(base)


def _next_dose_date(
    kb: KnowledgeBase, agent: Agent, state: PatientState, on: date, profile: ProfileId
) -> date | None:
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


__all__ = ["MonitoringEntry", "MonitoringResult", "monitoring"]
