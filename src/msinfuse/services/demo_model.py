"""What the demo generator derives from the knowledge base and its parameters: the patient
mix, the relapse rate, the per-patient infusion-reaction model, and synthetic names.

Pure functions (no database): the tests call them directly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from msinfuse.domain.knowledge.schema import Agent, KnowledgeBase, Regimen
from msinfuse.services.demo_params import DemoParameters

#: Spec §7.2 visit codes and the agent each belongs to.
VISIT_AGENT = {
    "NTZ": "natalizumab",
    "OCR_I": "ocrelizumab",
    "OCR_M_STD": "ocrelizumab",
    "OCR_M_SHORT": "ocrelizumab",
    "UBL_1": "ublituximab",
    "UBL_2": "ublituximab",
    "UBL_M": "ublituximab",
    "RTX_1": "rituximab",
    "RTX_M": "rituximab",
    "ALZ_D1_3": "alemtuzumab",
    "ALZ_D4_5": "alemtuzumab",
    "IVMP": "methylprednisolone",
}
RELAPSE_AGENT = "methylprednisolone"
MITOXANTRONE = "mitoxantrone"
#: The regimen the generator uses per agent (the KB default unless named here).
REGIMENS = {"rituximab": "rifund"}
DAYS_PER_YEAR = 365.25


def regimen_for(kb: KnowledgeBase, agent_id: str) -> Regimen:
    """The regimen the demo uses for ``agent_id``."""
    agent = kb.agents[agent_id]
    named = REGIMENS.get(agent_id)
    regimen = agent.regimen(named) if named else agent.default_regimen
    assert regimen is not None
    return regimen


def visits_per_year(kb: KnowledgeBase, agent_id: str, mean_history_years: float) -> float:
    """Infusion visits per patient-year on an agent's regimen, from the KB dose calendar.

    Open-ended regimens: doses of a repeat block per repeat interval. Regimens with a fixed
    number of scheduled courses (alemtuzumab): all their doses spread over the mean history.
    """
    regimen = regimen_for(kb, agent_id)
    repeat = regimen.repeat
    if repeat is None:
        return len(regimen.initial.doses) / mean_history_years
    interval = repeat.interval.get("us")
    assert interval is not None
    if repeat.scheduled is None:
        return len(repeat.block.doses) * DAYS_PER_YEAR / interval.value.approx_days()
    total = len(regimen.initial.doses) + repeat.scheduled * len(repeat.block.doses)
    return total / mean_history_years


@dataclass(frozen=True, slots=True)
class PatientMix:
    """Shares of patients by current agent, the relapse-course rate and protocol shares."""

    agent_shares: dict[str, float]
    relapse_courses_per_year: float
    shorter_protocol_share: float
    visits_per_year: dict[str, float]


def patient_mix(kb: KnowledgeBase, params: DemoParameters) -> PatientMix:
    """Turn the spec's shares of *visits* into shares of *patients*.

    A patient on agent ``a`` makes ``v_a`` visits a year (KB regimen), so the share of
    patients is proportional to ``visit_share_a / v_a``. Relapse courses (methylprednisolone)
    are extra short plans on top of the maintenance agent: their rate per patient-year makes
    the relapse visits the spec's share of all visits. Mitoxantrone takes a fixed small share
    of patients (it is not in the spec's catalogue).
    """
    by_agent: dict[str, float] = {}
    for code, share in params.visit_shares.items():
        agent = VISIT_AGENT[code]
        by_agent[agent] = by_agent.get(agent, 0.0) + share
    total = sum(by_agent.values())
    relapse_visit_share = by_agent.pop(RELAPSE_AGENT, 0.0) / total
    mean_years = sum(params.history_years) / 2
    rates = {a: visits_per_year(kb, a, mean_years) for a in by_agent}
    weights = {a: by_agent[a] / rates[a] for a in by_agent}
    weight_sum = sum(weights.values())
    main_share = 1.0 - params.mitoxantrone_patient_share
    shares = {a: main_share * w / weight_sum for a, w in weights.items()}
    shares[MITOXANTRONE] = params.mitoxantrone_patient_share
    maintenance_visits = sum(weights[a] / weight_sum * rates[a] for a in weights)
    relapse_visits = maintenance_visits * relapse_visit_share / (1.0 - relapse_visit_share)
    three = len(regimen_for(kb, RELAPSE_AGENT).initial.doses)
    five_regimen = kb.agents[RELAPSE_AGENT].regimen("5-day")
    five = len(five_regimen.initial.doses) if five_regimen else three
    course_doses = (
        1 - params.five_day_relapse_share
    ) * three + params.five_day_relapse_share * five
    std = params.visit_shares.get("OCR_M_STD", 0.0)
    short = params.visit_shares.get("OCR_M_SHORT", 0.0)
    return PatientMix(
        agent_shares=dict(sorted(shares.items())),
        relapse_courses_per_year=relapse_visits / course_doses,
        shorter_protocol_share=short / (std + short) if std + short else 0.0,
        visits_per_year=dict(sorted(rates.items())),
    )


# ------------------------------------------------------------------ infusion reactions


@dataclass(frozen=True, slots=True)
class ReactionModel:
    """Per-patient infusion-reaction model of one agent, derived from the KB figures.

    ``patient_share``: share of patients with at least one infusion reaction (the KB's
    incidence; the midpoint when the KB gives a range). ``serious_share``: share of those
    reactions that are serious (CTCAE grade >= 3): the KB's serious incidence divided by
    its overall incidence. ``source`` cites the KB facts used ("" when the KB has none).
    """

    agent: str
    patient_share: float
    serious_share: float
    source: str


def reaction_model(agent: Agent, params: DemoParameters) -> ReactionModel:
    """The reaction model of ``agent`` from its KB warning ``infusion-reactions``."""
    warning = next((w for w in agent.warnings if w.id == "infusion-reactions"), None)
    overall = serious = None
    if warning is not None:
        for incidence in warning.incidences:
            if incidence.percent is None:
                continue
            if incidence.what.lower().startswith("infusion reactions") and overall is None:
                overall = incidence
            elif incidence.what.lower().startswith("serious") and serious is None:
                serious = incidence
    if overall is None or overall.percent is None:
        return ReactionModel(agent.id, params.reaction_share_when_kb_silent, 0.0, "")
    high = overall.percent_max if overall.percent_max is not None else overall.percent
    share = (overall.percent + high) / 2 / 100
    serious_share = 0.0
    sources = [overall.citation_text()]
    if serious is not None and serious.percent is not None and share > 0:
        serious_share = min(1.0, serious.percent / 100 / share * params.serious_share_multiplier)
        sources.append(serious.citation_text())
    cited = dict.fromkeys(part for text in sources for part in text.split("; "))
    return ReactionModel(agent.id, share, serious_share, "; ".join(cited))


@dataclass(frozen=True, slots=True)
class ReactionDraw:
    """The reaction a patient will have on an agent: on which infusion, which grade."""

    infusion: int
    grade: int


def draw_reaction(
    rng: random.Random, model: ReactionModel, params: DemoParameters
) -> ReactionDraw | None:
    """Whether (and where, how bad) a patient reacts to the agent of ``model``."""
    if model.patient_share <= 0 or rng.random() >= model.patient_share:
        return None
    if rng.random() < params.reaction_first_infusion_share or params.reaction_later_infusions < 2:
        infusion = 1
    else:
        infusion = rng.randint(2, params.reaction_later_infusions)
    if rng.random() < model.serious_share:
        grade = 4 if rng.random() < params.grade4_share_of_serious else 3
    else:
        grade = 1 if rng.random() < params.grade1_share else 2
    return ReactionDraw(infusion, grade)


# ---------------------------------------------------------------------------- names


def synthetic_name(rng: random.Random, params: DemoParameters) -> tuple[str, str]:
    """An obviously invented given and family name built from small syllable lists."""
    given = "".join(rng.choice(params.given_syllables) for _ in range(rng.randint(2, 3)))
    family = rng.choice(params.family_syllables) + rng.choice(params.family_endings)
    return given.capitalize(), family.capitalize()


SITE_NAMES = ("MAIN", "NORTH", "SOUTH", "EAST", "WEST", "CENTRAL", "RIVER", "HILL", "PARK")


def site_codes(count: int) -> list[str]:
    """Site codes: MAIN, NORTH, SOUTH... then S10, S11..."""
    return [SITE_NAMES[i] if i < len(SITE_NAMES) else f"S{i + 1:02d}" for i in range(count)]
