"""Knowledge-base use cases: list, show and compare agents, sources, patient handouts.

Each function returns plain, JSON-ready data (or text for handouts) that the CLI, the API
and the web UI render in their own way.
"""

from __future__ import annotations

from typing import Any

from msinfuse.domain.findings import Finding
from msinfuse.domain.knowledge.facts import Fact, ProfileId
from msinfuse.domain.knowledge.loader import walk
from msinfuse.domain.knowledge.schema import Agent, Alternative, KnowledgeBase
from msinfuse.domain.options.burden import Burden, burden
from msinfuse.domain.provenance import DECISION_SUPPORT, label_refs
from msinfuse.errors import InvalidInput, NotFound


def get_agent(kb: KnowledgeBase, agent_id: str) -> Agent:
    """The agent with this id, or :class:`NotFound` naming the valid ids."""
    agent = kb.agent(agent_id)
    if agent is None:
        raise NotFound(f"unknown agent {agent_id!r}; valid agents: {', '.join(sorted(kb.agents))}")
    return agent


def labels_json(agent: Agent, profile: ProfileId) -> list[dict[str, str]]:
    """The label revisions of ``agent`` under ``profile``, for output footers."""
    return [
        {
            "agent": ref.agent,
            "document": ref.document,
            "revision": ref.revision,
            "status": ref.status,
        }
        for ref in label_refs(agent, profile)
    ]


def finding_json(finding: Finding) -> dict[str, Any]:
    """A finding as JSON: severity, rule, message and source."""
    return {
        "severity": finding.severity,
        "rule": finding.rule,
        "message": finding.message,
        "source": finding.source,
    }


# ------------------------------------------------------------------------------ list / show


def agent_summary(agent: Agent, profile: ProfileId) -> dict[str, Any]:
    """The short description of an infusion agent used by ``drugs list``."""
    indication = agent.indications.get(profile)
    regimen = agent.default_regimen
    return {
        "id": agent.id,
        "name": agent.name,
        "kind": "infusion",
        "brands": list(agent.brand_names(profile)),
        "route": regimen.route,
        "infusion": regimen.infusion,
        "drug_class": agent.drug_class,
        "mechanism_modes": list(agent.mechanism.modes),
        "ms_courses": list(indication.value.ms_courses) if indication else [],
        "ms_courses_established": indication is not None,
        "off_label_in_ms": agent.off_label_in_ms.value,
        "boxed_warning": agent.boxed_warning.value,
        "regimen": regimen.summary,
    }


def alternative_summary(alt: Alternative) -> dict[str, Any]:
    """The short description of a non-infusion alternative."""
    return {
        "id": alt.id,
        "name": alt.name,
        "kind": "alternative",
        "brands": list(alt.brands),
        "route": alt.route,
        "infusion": False,
        "drug_class": alt.drug_class,
        "mechanism_modes": [],
        "ms_courses": [],
        "ms_courses_established": False,
        "off_label_in_ms": False,
        "frequency": alt.frequency,
        "status": alt.status,
        "source": alt.citation_text(),
    }


def list_agents(
    kb: KnowledgeBase, profile: ProfileId, include_alternatives: bool
) -> list[dict[str, Any]]:
    """Infusion agents (and, on request, the non-infusion alternatives), by name."""
    rows = [agent_summary(a, profile) for a in sorted(kb.agents.values(), key=lambda a: a.name)]
    if include_alternatives:
        rows += [alternative_summary(a) for a in sorted(kb.alternatives, key=lambda a: a.name)]
    return rows


def _for_profile(data: Any, profile: ProfileId) -> Any:
    """Reduce dumped knowledge to one profile: per-profile values pick theirs (or say *not
    established*) and list items held for the other profile only are dropped."""
    if isinstance(data, dict):
        if set(data) == {"us", "eu"} and any(
            isinstance(v, dict) and "status" in v for v in data.values()
        ):
            chosen = data[profile]
            if chosen is None:
                return {"not_established": True, "profile": profile}
            return _for_profile(chosen, profile)
        return {k: _for_profile(v, profile) for k, v in data.items()}
    if isinstance(data, list):
        return [
            _for_profile(item, profile)
            for item in data
            if not (
                isinstance(item, dict) and "profiles" in item and profile not in item["profiles"]
            )
        ]
    return data


def agent_detail(kb: KnowledgeBase, agent_id: str, profile: ProfileId) -> dict[str, Any]:
    """Everything known about one agent under ``profile``, with citations."""
    agent = get_agent(kb, agent_id)
    data = _for_profile(agent.model_dump(mode="json"), profile)
    data["profile"] = profile
    data["label_revisions"] = labels_json(agent, profile)
    data["burden"] = burden_json(burden(kb, agent, profile))
    data["weak_facts"] = weak_facts(agent, profile)
    data["decision_support"] = DECISION_SUPPORT
    return dict(data)


def weak_facts(agent: Agent, profile: ProfileId) -> list[dict[str, str]]:
    """Every policy or unconfirmed fact of ``agent`` that applies under ``profile``."""
    found: list[dict[str, str]] = []
    for path, node in walk(agent):
        if isinstance(node, Fact) and node.is_weak:
            profiles = getattr(node, "profiles", None)
            if profiles is not None and profile not in profiles:
                continue
            if f".{'eu' if profile == 'us' else 'us'}" in path:
                continue
            found.append({"path": path, "status": node.status, "source": node.citation_text()})
    return found


# ------------------------------------------------------------------------------------ compare


def burden_json(b: Burden) -> dict[str, Any]:
    """The burden figures as JSON."""
    return {
        "regimen": b.regimen,
        "visits_per_year": b.visits_per_year,
        "chair_hours_per_year": b.chair_hours_per_year,
        "maintenance_interval": b.maintenance_interval,
        "maintenance_chair_minutes": [round(t.chair_minutes, 2) for t in b.maintenance_days],
        "maintenance_infusion_minutes": [round(t.infusion_minutes, 2) for t in b.maintenance_days],
        "shorter_option_chair_minutes": round(b.shorter_option.chair_minutes, 2)
        if b.shorter_option
        else None,
        "first_course_visits": b.first_course_visits,
        "first_course_chair_hours": b.first_course_chair_hours,
        "courses_note": b.courses_note,
        "screening_tests": b.screening_tests,
        "monitoring_items": b.monitoring_items,
        "monitoring_tests_per_year": b.monitoring_tests_per_year,
        "note": b.note,
    }


def _incidence_text(
    percent: float | None, percent_max: float | None, per_1000: float | None
) -> str:
    if percent is not None:
        return f"{percent:g}-{percent_max:g}%" if percent_max is not None else f"{percent:g}%"
    if per_1000 is not None:
        return f"{per_1000:g} per 1,000"
    return "frequency not given"


def key_risks(agent: Agent, profile: ProfileId) -> list[dict[str, Any]]:
    """Boxed warnings first, then warnings with figures; each with its figures and source."""
    risks = []
    for warning in agent.warnings:
        if profile not in warning.profiles:
            continue
        figures = [
            {
                "what": i.what,
                "figure": _incidence_text(i.percent, i.percent_max, i.per_1000),
                "comparator": (
                    f"{i.comparator} {i.comparator_percent:g}%"
                    if i.comparator and i.comparator_percent is not None
                    else None
                ),
                "status": i.status,
                "source": i.citation_text(),
            }
            for i in warning.incidences
        ]
        risks.append(
            {
                "id": warning.id,
                "title": warning.title,
                "boxed": warning.boxed,
                "figures": figures,
                "status": warning.status,
                "source": warning.citation_text(),
            }
        )
    return sorted(risks, key=lambda r: not r["boxed"])


def compare_agents(kb: KnowledgeBase, agent_ids: list[str], profile: ProfileId) -> dict[str, Any]:
    """Side-by-side comparison of agents under ``profile``."""
    if not agent_ids:
        raise InvalidInput("name at least one agent to compare")
    rows = []
    labels: list[dict[str, str]] = []
    for agent_id in agent_ids:
        agent = get_agent(kb, agent_id)
        indication = agent.indications.get(profile)
        b = burden(kb, agent, profile)
        premeds = [
            f"{p.drug}"
            + (f" {p.dose_mg:g} mg" if p.dose_mg else "")
            + ("" if p.required else " (optional)")
            for p in agent.premedications
            if profile in p.profiles
        ]
        observation = [
            {
                "infusions": f"{o.infusions.first}"
                + (f"-{o.infusions.last}" if o.infusions.last else "+"),
                "minutes": o.minutes.value,
                "after_reaction_minutes": o.after_reaction_minutes.value
                if o.after_reaction_minutes
                else None,
                "status": o.minutes.status,
            }
            for o in agent.observation
            if profile in o.profiles
        ]
        rows.append(
            {
                "id": agent.id,
                "name": agent.name,
                "drug_class": agent.drug_class,
                "mechanism": agent.mechanism.summary,
                "mechanism_modes": list(agent.mechanism.modes),
                "mechanism_status": agent.mechanism.status,
                "ms_courses": list(indication.value.ms_courses) if indication else [],
                "off_label_in_ms": agent.off_label_in_ms.value,
                "how_given": agent.default_regimen.summary,
                "route": agent.default_regimen.route,
                "burden": burden_json(b),
                "premedication": premeds,
                "observation": observation,
                "screening": [s.text for s in agent.screening if profile in s.profiles],
                "monitoring": [m.item for m in agent.monitoring if profile in m.profiles],
                "rems": [r.program for r in agent.rems if profile in r.profiles],
                "key_risks": key_risks(agent, profile),
            }
        )
        labels += labels_json(agent, profile)
    return {
        "profile": profile,
        "agents": rows,
        "label_revisions": labels,
        "decision_support": DECISION_SUPPORT,
    }


def list_sources(kb: KnowledgeBase) -> list[dict[str, Any]]:
    """Every cited source with its metadata."""
    return [source.model_dump(mode="json") for source in kb.sources.values()]
