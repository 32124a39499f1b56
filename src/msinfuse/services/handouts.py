"""Patient handouts: plain language, printable, built from cited data.

The plain-language text comes from each agent's ``patient`` section (which holds no
numbers); every number a patient reads (doses, intervals, chair time, how often side
effects happen) is rendered from cited knowledge-base data. The foot of every handout
carries the decision-support line and the label revisions it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from msinfuse.domain.knowledge.facts import ProfileId
from msinfuse.domain.knowledge.schema import Agent, BlockDose, DoseBlock, KnowledgeBase
from msinfuse.domain.options.burden import burden
from msinfuse.domain.provenance import DECISION_SUPPORT, label_refs
from msinfuse.services.knowledge import get_agent, weak_facts

HandoutFormat = Literal["md", "html"]

_ENV = Environment(
    loader=PackageLoader("msinfuse.services", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

ROUTE_WORDS = {
    "IV": "drip into a vein",
    "SC": "injection under the skin",
    "IM": "injection into a muscle",
    "oral": "by mouth",
}


@dataclass(frozen=True, slots=True)
class SideEffectLine:
    """A side effect with how often it happened."""

    what: str
    how_often: str


def _dose_text(dose: BlockDose) -> str:
    if dose.dose_mg is not None:
        return f"{dose.dose_mg:g} mg"
    return f"{dose.dose_mg_per_m2:g} mg per square metre of body surface (worked out from your height and weight)"


def _block_text(block: DoseBlock) -> str:
    if block.consecutive:
        return f"{_dose_text(block.doses[0])} a day on {len(block.doses)} days in a row"
    if len(block.doses) == 1:
        return _dose_text(block.doses[0])
    parts = [f"{_dose_text(block.doses[0])} on day 1"]
    parts += [f"{_dose_text(d)} on day {d.day + 1}" for d in block.doses[1:]]
    return ", then ".join(parts)


def schedule_lines(agent: Agent, profile: ProfileId) -> list[str]:
    """How the default regimen runs, in plain words with numbers from the data."""
    regimen = agent.default_regimen
    lines = [f"First: {_block_text(regimen.initial)}."]
    repeat = regimen.repeat
    if repeat is None:
        return lines
    interval = repeat.interval.get(profile)
    if interval is None:
        lines.append("Later doses: your team will tell you; the interval is not established here.")
        return lines
    anchor = "the first dose" if repeat.anchor == "first_dose" else "the last dose"
    if repeat.scheduled is not None:  # course-based (alemtuzumab)
        lines.append(
            f"Then: a second course of {_block_text(repeat.block)}, {interval.value} after {anchor} "
            "of the course before."
        )
        lines.append("Some people need a further course later; your team decides this with you.")
    else:
        lines.append(
            f"Then: {_block_text(repeat.block)} every {interval.value} (the first one {interval.value} "
            "after your first infusion)."
        )
        lines.append(
            "If a dose is late, it is given as soon as possible and the next one is counted from that day."
        )
    if regimen.cumulative_limit_mg_per_m2 is not None:
        limit = regimen.cumulative_limit_mg_per_m2.get(profile)
        if limit is not None:
            lines.append(
                f"There is a lifetime limit of {limit.value:g} mg per square metre in total, after which "
                "the medicine is stopped."
            )
    return lines


def _hours(minutes: float) -> str:
    hours, rest = divmod(round(minutes), 60)
    if hours == 0:
        return f"{rest} minutes"
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def visit_lines(kb: KnowledgeBase, agent: Agent, profile: ProfileId) -> list[str]:
    """Expected time in the chair, from the rate plans."""
    b = burden(kb, agent, profile)
    lines = []
    if b.first_course_visits:
        per_visit = b.first_course_chair_hours * 60 / b.first_course_visits
        word = "visit" if b.first_course_visits == 1 else "visits"
        lines.append(
            f"First {word}: about {_hours(per_visit)} in the infusion chair each time, including "
            "medicines before the drip and time watched afterwards."
        )
    if b.maintenance_days:
        longest = max(t.chair_minutes for t in b.maintenance_days)
        lines.append(f"Later visits: about {_hours(longest)} in the chair.")
    if b.shorter_option is not None:
        lines.append(
            f"Some people can have a shorter drip for later doses, about {_hours(b.shorter_option.chair_minutes)} "
            "in the chair, if they never had a serious reaction."
        )
    return lines


def side_effect_lines(agent: Agent) -> list[SideEffectLine]:
    """Common side effects with frequencies in words a patient can read."""
    lines = []
    for effect in agent.side_effects:
        if effect.percent is not None:
            figure = (
                f"about {effect.percent:g} to {effect.percent_max:g} in 100 people"
                if effect.percent_max is not None
                else f"about {effect.percent:g} in 100 people"
            )
            if effect.comparator and effect.comparator_percent is not None:
                figure += (
                    f" (compared with {effect.comparator_percent:g} in 100 on {effect.comparator})"
                )
        else:
            figure = "how often is not known"
        lines.append(SideEffectLine(effect.what, figure))
    return lines


def render_handout(kb: KnowledgeBase, agent_id: str, profile: ProfileId, fmt: HandoutFormat) -> str:
    """The patient handout of ``agent_id`` as Markdown or printable HTML."""
    agent = get_agent(kb, agent_id)
    contraception = agent.pregnancy.contraception_after_last_dose
    contraception_value = contraception.get(profile) if contraception is not None else None
    others = sorted(a.name for a in kb.agents.values() if a.id != agent.id)
    alternatives = sorted(kb.alternatives, key=lambda a: a.name)
    template = _ENV.get_template(f"handout.{fmt}.j2")
    return template.render(
        agent=agent,
        brands=agent.brand_names(profile),
        route_words=ROUTE_WORDS,
        profile=profile,
        schedule=schedule_lines(agent, profile),
        visit=visit_lines(kb, agent, profile),
        side_effects=side_effect_lines(agent),
        contraception=contraception_value,
        other_infusions=others,
        alternatives=alternatives,
        labels=label_refs(agent, profile),
        weak=weak_facts(agent, profile),
        decision_support=DECISION_SUPPORT,
        kb_version=kb.version,
    )
