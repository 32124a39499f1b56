"""Monitoring schedules (clinical-decisions §7).

For every infusion agent a patient has received, each monitoring item of the knowledge base
(for the profile, and when its condition applies) gets a due date from
:mod:`msinfuse.domain.monitoring.due`, the computation the pre-infusion check and the
worklists share. An item is never listed past its until-date (``until_after_last_dose``
after the last dose). Status: ``overdue`` (due date passed), ``due`` (within the clinic's
due-soon window) or ``upcoming``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from msinfuse.domain.findings import Finding, sort_findings
from msinfuse.domain.knowledge.facts import ProfileId
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.monitoring.due import ItemDue, agent_items, applies, exposure, item_due
from msinfuse.domain.patient import PatientState
from msinfuse.domain.provenance import DECISION_SUPPORT, FactLog, LabelRef, label_refs
from msinfuse.domain.risk import pml_risk_from_state

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


def monitoring_status(due: date, on: date, due_soon_days: int) -> MonitoringStatus:
    """``overdue`` once the due date has passed, ``due`` within the due-soon window."""
    if due < on:
        return "overdue"
    if due <= on + timedelta(days=due_soon_days):
        return "due"
    return "upcoming"


def monitoring(
    kb: KnowledgeBase, state: PatientState, on: date, profile: ProfileId
) -> MonitoringResult:
    """Every monitoring item ``state`` is due for on ``on`` under ``profile``."""
    log = FactLog()
    due_soon = kb.clinic.due_soon_days
    log.use(due_soon, "due-soon window (days)", due_soon.value)
    entries: list[MonitoringEntry] = []
    labels: list[LabelRef] = []
    for agent in sorted(kb.agents.values(), key=lambda a: a.name):
        exp = exposure(kb, agent, state, on, profile)
        if exp is None:
            continue
        labels.extend(label_refs(agent, profile))
        risk = pml_risk_from_state(kb, state, on) if agent.pml is not None else None
        threshold = agent.pml.high_index_threshold.value if agent.pml is not None else None
        for item in agent_items(agent, profile):
            if not applies(item, state, on, risk, threshold):
                continue
            due = item_due(kb, agent, item, state, on, profile, exp)
            if due is None:
                continue
            log.use(item, f"{agent.name} {item.item}")
            for fact in due.facts:
                log.use(fact, f"{agent.name} {item.item} window")
            entries.append(_entry(agent.id, agent.name, due, on, due_soon.value))
    entries.sort(key=lambda e: (e.due, e.agent, e.item_id))
    return MonitoringResult(
        date=on,
        profile=profile,
        items=tuple(entries),
        findings=sort_findings(log.weak_findings()),
        sources=log.sources(),
        labels=tuple(labels),
    )


def _entry(
    agent_id: str, agent_name: str, due: ItemDue, on: date, due_soon_days: int
) -> MonitoringEntry:
    item = due.item
    return MonitoringEntry(
        agent=agent_id,
        agent_name=agent_name,
        item_id=item.id,
        item=item.item,
        kind=item.kind,
        due=due.due,
        status=monitoring_status(due.due, on, due_soon_days),
        last_done=due.last_done,
        interval=str(item.interval) if item.interval else None,
        until=due.until,
        source=item.citation_text(),
        fact_status=item.status,
        note=(due.note or item.note) if item.is_weak else due.note,
    )


__all__ = ["MonitoringEntry", "MonitoringResult", "monitoring", "monitoring_status"]
