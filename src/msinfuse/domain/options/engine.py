"""Treatment options to discuss with the neurologist (never a recommendation).

For every infusion agent: whether it is on-label for the patient's MS course, the holds a
pre-infusion check would raise today, the practical burden, and the key risks with their
figures; then the non-infusion alternatives. Agents are listed by name only: msinfuse does
not rank treatments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from msinfuse.domain.findings import Finding
from msinfuse.domain.knowledge.facts import ProfileId
from msinfuse.domain.knowledge.schema import Alternative, KnowledgeBase
from msinfuse.domain.options.burden import Burden, burden
from msinfuse.domain.patient import PatientState
from msinfuse.domain.provenance import DECISION_SUPPORT, LabelRef, label_refs
from msinfuse.domain.safety import CheckRequest, check

FRAMING = (
    "Options to discuss with your neurologist, listed by name. This is not a recommendation: "
    "msinfuse does not rank treatments."
)


@dataclass(frozen=True, slots=True)
class Risk:
    """A key risk with its figure."""

    title: str
    boxed: bool
    figure: str | None
    source: str


@dataclass(frozen=True, slots=True)
class AgentOption:
    """One infusion agent as an option for this patient."""

    agent: str
    name: str
    drug_class: str
    on_label: bool | None
    off_label_in_ms: bool
    holds_today: tuple[Finding, ...]
    burden: Burden
    key_risks: tuple[Risk, ...]


@dataclass(frozen=True, slots=True)
class Options:
    """Every option for a patient on a date."""

    date: date
    profile: ProfileId
    ms_course: str | None
    agents: tuple[AgentOption, ...]
    alternatives: tuple[Alternative, ...]
    labels: tuple[LabelRef, ...]
    framing: str = FRAMING
    decision_support: str = DECISION_SUPPORT


def _figure(percent: float | None, percent_max: float | None, per_1000: float | None) -> str | None:
    if percent is not None:
        return f"{percent:g}-{percent_max:g}%" if percent_max is not None else f"{percent:g}%"
    if per_1000 is not None:
        return f"{per_1000:g} per 1,000"
    return None


def options(kb: KnowledgeBase, state: PatientState, on: date, profile: ProfileId) -> Options:
    """Every infusion agent as an option for ``state`` on ``on``, plus the alternatives."""
    rows = []
    labels: list[LabelRef] = []
    for agent in sorted(kb.agents.values(), key=lambda a: a.name):
        indication = agent.indications.get(profile)
        on_label = (
            None
            if indication is None or state.ms_course is None
            else state.ms_course in indication.value.ms_courses
        )
        result = check(kb, state, CheckRequest(agent.id, on, profile))
        risks = []
        for warning in agent.warnings:
            if profile not in warning.profiles:
                continue
            figure = next(
                (
                    f
                    for f in (
                        _figure(i.percent, i.percent_max, i.per_1000) for i in warning.incidences
                    )
                    if f
                ),
                None,
            )
            risks.append(Risk(warning.title, warning.boxed, figure, warning.citation_text()))
        risks.sort(key=lambda r: not r.boxed)
        rows.append(
            AgentOption(
                agent=agent.id,
                name=agent.name,
                drug_class=agent.drug_class,
                on_label=False if agent.off_label_in_ms.value else on_label,
                off_label_in_ms=agent.off_label_in_ms.value,
                holds_today=tuple(f for f in result.findings if f.severity == "hold"),
                burden=burden(kb, agent, profile),
                key_risks=tuple(risks),
            )
        )
        labels.extend(label_refs(agent, profile))
    return Options(
        date=on,
        profile=profile,
        ms_course=state.ms_course,
        agents=tuple(rows),
        alternatives=tuple(sorted(kb.alternatives, key=lambda a: a.name)),
        labels=tuple(labels),
    )
