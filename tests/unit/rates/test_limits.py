"""The infusion record's limits as pure rules (domain.rates.limits), from the knowledge base's
facts: bags, pump rates, premedication doses, vital signs, times and the end of an infusion."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.rates import RateRequest, plan_infusion, replan_after_reaction
from msinfuse.domain.rates.limits import (
    bag_range,
    check_bag,
    check_completion,
    check_premedication,
    check_rate,
    check_reaction_minutes,
    check_time,
    check_vital,
    parse_dose_mg,
    rate_limits,
    visit_window,
)
from msinfuse.errors import InvalidInput

NINE = datetime(2026, 11, 24, 9, 0)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return default_knowledge_base()


def _protocol(kb: KnowledgeBase, agent: str, protocol_id: str):
    found = kb.agents[agent]
    return found, next(p for p in found.rate_protocols if p.id == protocol_id)


# ------------------------------------------------------------------------------------- bags


def test_the_ocrelizumab_600_mg_bag_is_the_label_500_ml_within_the_clinic_tolerance(kb):
    agent, protocol = _protocol(kb, "ocrelizumab", "maintenance-600-standard")
    found = bag_range(kb.limits, agent.id, protocol, 600)
    assert (found.nominal_ml, found.low_ml, found.high_ml) == (500, 475, 650)
    assert found.high_mg_per_ml == pytest.approx(600 / 475)
    assert {f.status for f in found.basis} == {"label", "policy"}


def test_ocrelizumab_600_mg_in_50_ml_would_run_ten_times_the_drug_and_is_refused(kb):
    agent, protocol = _protocol(kb, "ocrelizumab", "maintenance-600-standard")
    with pytest.raises(InvalidInput, match="too small") as refused:
        check_bag(kb.limits, agent.id, agent.name, protocol, 600, 50)
    assert refused.value.field == "volume_ml"
    assert "clinic policy" in str(refused.value)


@pytest.mark.parametrize("volume", [0, -100, float("inf"), float("nan")])
def test_a_bag_that_is_not_a_positive_volume_is_refused(kb, volume):
    agent, protocol = _protocol(kb, "natalizumab", "standard")
    with pytest.raises(InvalidInput) as refused:
        check_bag(kb.limits, agent.id, agent.name, protocol, 300, volume)
    assert refused.value.field == "volume_ml"


def test_natalizumab_with_its_15_ml_of_drug_and_overfill_is_accepted(kb):
    agent, protocol = _protocol(kb, "natalizumab", "standard")
    check_bag(kb.limits, agent.id, agent.name, protocol, 300, 125)


def test_rituximab_bags_follow_the_1_to_4_mg_per_ml_range(kb):
    agent, protocol = _protocol(kb, "rituximab", "first-infusion")
    found = bag_range(kb.limits, agent.id, protocol, 1000)
    assert (found.low_ml, found.high_ml) == (250, 1000)
    with pytest.raises(InvalidInput, match="unconfirmed"):
        check_bag(kb.limits, agent.id, agent.name, protocol, 1000, 200)


def test_methylprednisolone_uses_the_clinic_bag_range(kb):
    agent, protocol = _protocol(kb, "methylprednisolone", "standard-1000")
    found = bag_range(kb.limits, agent.id, protocol, 1000)
    assert (found.low_ml, found.high_ml) == (100, 500)


# ------------------------------------------------------------------------------------ rates


def test_the_hard_limit_is_the_protocol_maximum_for_the_bag(kb):
    plan = plan_infusion(kb, RateRequest("ocrelizumab", 3))
    assert rate_limits(plan, 0).maximum_ml_per_h == 200
    with pytest.raises(InvalidInput, match="maximum") as refused:
        check_rate(kb, plan, 10, 200.1, "change", 20, "any reason")
    assert refused.value.field == "rate_ml_h"
    check_rate(kb, plan, 200, 200, "change", 220)  # the last step runs at the maximum


def test_a_rituximab_maximum_is_400_mg_per_h_converted_for_the_bag(kb):
    plan = plan_infusion(kb, RateRequest("rituximab", 1, volume_ml=250))  # 1000 mg: 4 mg/mL
    assert rate_limits(plan, 0).maximum_ml_per_h == pytest.approx(100)


def test_the_soft_limit_is_the_step_in_force_and_needs_a_reason(kb):
    plan = plan_infusion(kb, RateRequest("ocrelizumab", 3))
    limits = rate_limits(plan, 10)
    assert (limits.step_number, limits.step_ml_per_h) == (1, 40)
    with pytest.raises(InvalidInput, match="reason") as refused:
        check_rate(kb, plan, 10, 80, "change", 15)
    assert refused.value.field == "reason"
    entry = check_rate(kb, plan, 10, 80, "change", 15, "prescriber order")
    assert entry.above_step
    assert entry.findings[0].rule == "rates.above-step"
    assert entry.findings[0].source  # cites the protocol


def test_after_a_reaction_the_step_in_force_is_the_halved_rate(kb):
    plan = plan_infusion(kb, RateRequest("ocrelizumab", 3))
    replanned = replan_after_reaction(kb, plan, 40, 2)
    assert rate_limits(replanned, 45).step_ml_per_h == pytest.approx(40)  # 80 at onset, halved
    with pytest.raises(InvalidInput, match="reason"):
        check_rate(kb, replanned, 45, 80, "change", 46)


def test_a_rate_in_the_future_or_a_running_rate_of_zero_is_refused(kb):
    plan = plan_infusion(kb, RateRequest("ocrelizumab", 3))
    with pytest.raises(InvalidInput, match="future"):
        check_rate(kb, plan, 60, 40, "change", 30)
    with pytest.raises(InvalidInput, match="pause"):
        check_rate(kb, plan, 10, 0, "change", 30)
    assert not check_rate(kb, plan, 10, 0, "pause", 30).above_step


# ---------------------------------------------------------------------------- premedication


@pytest.mark.parametrize(
    ("text", "mg"), [("650 mg", 650), ("1 g", 1000), ("650", 650), ("0,5 g", 500)]
)
def test_a_written_dose_is_read_in_mg(text, mg):
    assert parse_dose_mg(text) == mg


@pytest.mark.parametrize("text", ["-650 mg", "−650 mg", "0 mg", "a lot", "650 ml"])
def test_a_dose_that_is_not_a_positive_amount_is_refused(text):
    with pytest.raises(InvalidInput) as refused:
        parse_dose_mg(text)
    assert refused.value.field == "dose"


def test_a_premedication_dose_outside_the_range_is_refused_and_a_different_one_flagged(kb):
    with pytest.raises(InvalidInput, match="100–1,000 mg"):
        check_premedication(kb, "ocrelizumab", "us", "methylprednisolone", 2000)
    entry = check_premedication(kb, "ocrelizumab", "us", "Solu-Medrol", 125)
    assert "premedication.dose-differs" in [f.rule for f in entry.findings]
    assert (
        check_premedication(kb, "alemtuzumab", "us", "methylprednisolone", 1000)
        .findings[0]
        .rule.startswith("provenance.")
    )


def test_a_premedication_without_a_range_on_file_is_a_finding(kb):
    entry = check_premedication(kb, "ocrelizumab", "us", "famotidine", 20)
    assert [f.rule for f in entry.findings] == ["premedication.no-range"]


# ------------------------------------------------------------------------------ vital signs


@pytest.mark.parametrize(
    ("kind", "value", "unit"),
    [("systolic", -50, None), ("systolic", 99999, "mmHg"), ("spo2", 150, "%"),
     ("temperature", 101.3, "°C"), ("weight", 2, "kg")],
)  # fmt: skip
def test_a_vital_sign_that_is_not_physiologically_possible_is_refused(kb, kind, value, unit):
    with pytest.raises(InvalidInput, match="not possible") as refused:
        check_vital(kb.limits, kind, value, unit)
    assert refused.value.field == "value"


def test_a_celsius_reading_of_a_fahrenheit_value_hints_at_the_unit(kb):
    with pytest.raises(InvalidInput, match="°F"):
        check_vital(kb.limits, "temperature", 101.3, "°C")


def test_fahrenheit_and_pounds_are_converted_and_abnormal_values_flagged(kb):
    fever = check_vital(kb.limits, "temperature", 101.3, "°F")
    assert (fever.value, fever.unit, fever.flag) == (38.5, "Cel", "high")
    assert check_vital(kb.limits, "weight", 154, "lb").value == pytest.approx(69.9)
    low = check_vital(kb.limits, "spo2", 88)
    assert low.flag == "low"
    assert "policy" in low.findings[0].message
    assert check_vital(kb.limits, "heart_rate", 72, "bpm").flag is None


def test_a_unit_of_another_sign_is_refused(kb):
    with pytest.raises(InvalidInput) as refused:
        check_vital(kb.limits, "systolic", 120, "kg")
    assert refused.value.field == "unit"


# ------------------------------------------------------------------------------------ times


def test_documented_times_lie_inside_the_visit_and_never_in_the_future(kb):
    plan = plan_infusion(kb, RateRequest("ocrelizumab", 1))
    window = visit_window(plan, NINE)
    assert window.opens == NINE - timedelta(minutes=15 + 60)  # set-up and antihistamine lead
    now = NINE + timedelta(minutes=30)
    check_time(window, NINE - timedelta(minutes=30), now, "taken_at", "the time taken")
    with pytest.raises(InvalidInput, match="future"):
        check_time(window, now + timedelta(minutes=5), now, "taken_at", "the time taken")
    with pytest.raises(InvalidInput, match="before the visit"):
        check_time(window, NINE - timedelta(hours=3), now, "taken_at", "the time taken")
    done = visit_window(plan, NINE, observation_until=NINE + timedelta(hours=4))
    with pytest.raises(InvalidInput, match="after the visit"):
        check_time(done, NINE + timedelta(hours=5), NINE + timedelta(hours=6), "x", "a time")


def test_a_reaction_starts_inside_the_infusion(kb):
    plan = plan_infusion(kb, RateRequest("natalizumab", 1))
    check_reaction_minutes(plan, 20, None, 30)
    with pytest.raises(InvalidInput, match="future"):
        check_reaction_minutes(plan, 45, None, 30)
    with pytest.raises(InvalidInput, match="before its end"):
        check_reaction_minutes(plan, 99999, None, 1e9)
    with pytest.raises(InvalidInput) as refused:
        check_reaction_minutes(plan, 20, 10, 30)
    assert refused.value.field == "resume_minute"


# ------------------------------------------------------------------------------- completion


def test_an_infusion_ended_on_time_with_the_bag_infused_is_the_full_dose(kb):
    plan = plan_infusion(kb, RateRequest("natalizumab", 1))
    done = check_completion(kb.limits, plan, NINE, NINE + timedelta(minutes=60), 100)
    assert (done.early, done.partial, done.dose_given_mg) == (False, False, 300)
    assert done.findings == ()


def test_ending_early_with_volume_left_needs_a_reason_and_records_a_partial_dose(kb):
    plan = plan_infusion(kb, RateRequest("natalizumab", 1))
    end = NINE + timedelta(minutes=30)
    with pytest.raises(InvalidInput, match="partial dose") as refused:
        check_completion(kb.limits, plan, NINE, end, 50)
    assert refused.value.field == "reason"
    done = check_completion(kb.limits, plan, NINE, end, 50, "extravasation")
    assert done.partial
    assert done.dose_given_mg == 150
    assert done.findings[0].rule == "completion.partial-dose"


def test_a_volume_beyond_the_bag_or_faster_than_the_maximum_is_refused(kb):
    plan = plan_infusion(kb, RateRequest("natalizumab", 1))
    with pytest.raises(InvalidInput, match="bag held"):
        check_completion(kb.limits, plan, NINE, NINE + timedelta(hours=2), 500)
    with pytest.raises(InvalidInput, match="cannot have run"):
        check_completion(kb.limits, plan, NINE, NINE + timedelta(minutes=1), 100, "fast")
    with pytest.raises(InvalidInput, match="before it started"):
        check_completion(kb.limits, plan, NINE, NINE - timedelta(minutes=1), 0, "x")


def test_after_a_grade_4_reaction_at_the_start_nothing_may_run(kb):
    plan = plan_infusion(kb, RateRequest("ocrelizumab", 1))
    stopped = replan_after_reaction(kb, plan, 0, 4)
    limits = rate_limits(stopped, 0)
    assert (limits.step_ml_per_h, limits.step_kind) == (0, "stopped")
    with pytest.raises(InvalidInput, match="reason"):
        check_rate(kb, stopped, 0, 30, "resume", 1)
