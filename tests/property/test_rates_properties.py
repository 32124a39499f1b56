"""Invariants of rate plans and reaction re-plans (clinical-decisions §4)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.domain.rates import (
    RateRequest,
    plan_infusion,
    protocol_segments,
    replan_after_reaction,
)
from msinfuse.domain.rates.planner import RatePlan
from msinfuse.errors import InvalidInput

KB = default_knowledge_base()
INFUSION_AGENTS = sorted(a.id for a in KB.agents.values() if a.rate_protocols)


@st.composite
def plans(draw: st.DrawFn) -> RatePlan:
    agent_id = draw(st.sampled_from(INFUSION_AGENTS))
    agent = KB.agents[agent_id]
    regimen = draw(st.sampled_from([r for r in agent.regimens if r.infusion]))
    request = RateRequest(
        agent_id,
        draw(st.integers(min_value=1, max_value=30)),
        draw(st.sampled_from(["us", "eu"])),
        protocol=draw(st.sampled_from(["standard", "shorter"])),
        regimen=regimen.id,
        prior_reaction_grades=tuple(draw(st.lists(st.integers(0, 3), max_size=4))),
        height_cm=170.0,
        weight_kg=70.0,
    )
    try:
        return plan_infusion(KB, request)
    except InvalidInput:
        assume(False)
        raise  # pragma: no cover


def _max_rate_ml_per_h(plan: RatePlan) -> float:
    protocol = next(p for p in KB.agents[plan.agent].rate_protocols if p.id == plan.protocol_id)
    top = max(s.rate for s in protocol_segments(protocol))
    return top / plan.concentration_mg_per_ml if protocol.rate_unit == "mg/h" else top


@given(plans())
def test_step_volumes_add_up_to_the_bag(plan: RatePlan):
    assert sum(s.volume_ml for s in plan.steps) == pytest.approx(plan.volume_ml, abs=1e-6)


@given(plans())
def test_no_rate_is_above_the_protocol_maximum(plan: RatePlan):
    assert max(s.rate_ml_per_h for s in plan.steps) <= _max_rate_ml_per_h(plan) + 1e-9


@given(plans())
def test_steps_are_contiguous_from_minute_zero(plan: RatePlan):
    assert plan.steps[0].start_min == 0
    for before, after in zip(plan.steps, plan.steps[1:], strict=False):
        assert after.start_min == pytest.approx(before.end_min)


@given(plans())
def test_chair_time_is_lead_plus_infusion_plus_observation_plus_allowances(plan: RatePlan):
    assert plan.chair_minutes == pytest.approx(
        plan.setup_minutes
        + plan.premedication_lead_minutes
        + plan.infusion_minutes
        + plan.observation_minutes
        + plan.disconnection_minutes
    )


@given(plans(), st.floats(min_value=0, max_value=0.999), st.integers(1, 3), st.floats(0, 120))
def test_a_reaction_replan_keeps_the_volume_and_never_exceeds_half_the_onset_rate_during_the_hold(
    plan: RatePlan, fraction: float, grade: int, pause: float
):
    onset = plan.infusion_minutes * fraction
    resume = onset + pause if grade == 3 else None
    replanned = replan_after_reaction(KB, plan, onset, grade, resume)
    assert replanned.reaction is not None
    onset_rate = replanned.reaction.rate_at_onset_ml_per_h
    hold_end = None
    for step in replanned.steps:
        if step.start_min >= onset - 1e-9 and step.kind in ("hold", "paused"):
            assert step.rate_ml_per_h <= onset_rate / 2 + 1e-9
            hold_end = step.end_min
    if grade in (1, 2):
        # Half rate for at least 30 minutes (or until the bag is empty).
        assert hold_end is not None
        assert hold_end - onset >= 30 - 1e-6 or hold_end == pytest.approx(
            replanned.infusion_minutes
        )
    assert sum(s.volume_ml for s in replanned.steps) == pytest.approx(plan.volume_ml, abs=1e-6)
    assert replanned.infusion_minutes >= plan.infusion_minutes - 1e-6


@given(plans(), st.floats(min_value=0, max_value=0.999))
def test_a_grade_4_reaction_stops_the_infusion_at_onset(plan: RatePlan, fraction: float):
    onset = plan.infusion_minutes * fraction
    replanned = replan_after_reaction(KB, plan, onset, 4)
    assert replanned.infusion_minutes == pytest.approx(onset)
    assert any(f.severity == "hold" for f in replanned.findings)
