"""Rate-plan specification: agent and infusion -> pump steps, minutes and chair time.

Rows follow clinical-decisions §4: nominal bag volumes, label rate tables, observation by
infusion number, premedication lead counted as chair time, and the CTCAE reaction rules.
Chair time = set-up 15 + premedication lead + infusion + observation + disconnection 5 (the
set-up and disconnection allowances are clinic policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.rates import RateRequest, plan_infusion, replan_after_reaction
from msinfuse.errors import InvalidInput


@dataclass(frozen=True)
class Row:
    why: str
    source: str
    agent: str
    infusion: int
    steps: list[tuple[float, float, float]]  # start, end (min), mL/h
    infusion_min: float
    observation_min: float
    lead_min: float
    protocol: str = "standard"
    profile: str = "us"
    dose_mg: float | None = None
    volume_ml: float | None = None
    prior: tuple[int, ...] = ()
    expect_protocol: str | None = None


ROWS = [
    Row(
        "ocrelizumab initial 300 mg in 250 mL: 30 mL/h +30 every 30 min to 180, 158.3 min",
        "S04; S05; US Table 1",
        "ocrelizumab",
        1,
        [
            (0, 30, 30),
            (30, 60, 60),
            (60, 90, 90),
            (90, 120, 120),
            (120, 150, 150),
            (150, 158.33, 180),
        ],
        158.33,
        60,
        30,
    ),
    Row(
        "ocrelizumab 600 mg standard in 500 mL: 40 mL/h +40 every 30 min to 200, 210 min",
        "S04; S05 Option 1",
        "ocrelizumab",
        3,
        [(0, 30, 40), (30, 60, 80), (60, 90, 120), (90, 120, 160), (120, 210, 200)],
        210,
        60,
        30,
    ),
    Row(
        "ocrelizumab 600 mg shorter: 100/200/250/300 mL/h, 120 min",
        "S08; S05 Option 2; S09",
        "ocrelizumab",
        5,
        [(0, 15, 100), (15, 30, 200), (30, 60, 250), (60, 120, 300)],
        120,
        60,
        30,
        protocol="shorter",
    ),
    Row(
        "a 260 mL initial ocrelizumab bag runs 161.7 min",
        "reference §1.3 bag-volume note",
        "ocrelizumab",
        2,
        [(150, 161.67, 180)],
        161.67,
        60,
        30,
        volume_ml=260,
    ),
    Row(
        "ublituximab first infusion 150 mg: 10/20/35/100 mL/h, 240 min",
        "S32; S33",
        "ublituximab",
        1,
        [(0, 30, 10), (30, 60, 20), (60, 120, 35), (120, 240, 100)],
        240,
        60,
        30,
    ),
    Row(
        "ublituximab later infusions 450 mg: 100 then 400 mL/h, 60 min",
        "S32; S33",
        "ublituximab",
        2,
        [(0, 30, 100), (30, 60, 400)],
        60,
        60,
        30,
    ),
    Row(
        "ublituximab from infusion 3: no observation unless an earlier reaction (US)",
        "S32; clinical decisions §4",
        "ublituximab",
        3,
        [(0, 30, 100), (30, 60, 400)],
        60,
        0,
        30,
    ),
    Row(
        "ublituximab from infusion 3 after an earlier reaction: 60 min observation",
        "S32; S36 §4.4",
        "ublituximab",
        4,
        [(0, 30, 100), (30, 60, 400)],
        60,
        60,
        30,
        prior=(1, 0, 0),
    ),
    Row(
        "natalizumab 300 mg in 100 mL over 60 min; 60 min observation for infusions 1-12 (US)",
        "DRUGS-NTZ §2.1; HCP-NTZ-DOSE",
        "natalizumab",
        12,
        [(0, 60, 100)],
        60,
        60,
        0,
    ),
    Row(
        "natalizumab from infusion 13: observation by clinical judgment, policy default 0 (US)",
        "HCP-NTZ-DOSE; clinical decisions §4",
        "natalizumab",
        13,
        [(0, 60, 100)],
        60,
        0,
        0,
    ),
    Row(
        "natalizumab: 60 min observation after every infusion (EU)",
        "EPI-TYS PL §3; clinical decisions §4",
        "natalizumab",
        40,
        [(0, 60, 100)],
        60,
        60,
        0,
        profile="eu",
    ),
    Row(
        "alemtuzumab 12 mg in 100 mL over 240 min; 120 min observation; methylprednisolone 1 g infusion first on day 1",
        "HL-LEM-2014 §2.1, §2.3; OFDA-LEM boxed warning",
        "alemtuzumab",
        1,
        [(0, 240, 25)],
        240,
        120,
        60,
    ),
    Row(
        "alemtuzumab day 4 of course 1: no corticosteroid premedication",
        "HL-LEM-2014 §2.3",
        "alemtuzumab",
        4,
        [(0, 240, 25)],
        240,
        120,
        0,
    ),
    Row(
        "alemtuzumab course 2 day 3 (infusion 8): corticosteroid on days 1-3 of each course",
        "HL-LEM-2014 §2.3",
        "alemtuzumab",
        8,
        [(0, 240, 25)],
        240,
        120,
        60,
    ),
    Row(
        "rituximab first 1000 mg at 2 mg/mL: 50 mg/h +50 every 30 min to 400, 255 min",
        "S51; S52; reference §4.2 table",
        "rituximab",
        1,
        [(0, 30, 25), (180, 210, 175), (210, 255, 200)],
        255,
        30,
        30,
    ),
    Row(
        "rituximab later 500 mg at 2 mg/mL: 100 mg/h +100 every 30 min to 400, 120 min",
        "S52; reference §4.2 table",
        "rituximab",
        2,
        [(0, 30, 50), (90, 120, 200)],
        120,
        30,
        30,
    ),
    Row(
        "rituximab later 1000 mg infusion (RA template day 15): 195 min",
        "S52; reference §4.2 table",
        "rituximab",
        2,
        [(0, 30, 50), (90, 195, 200)],
        195,
        30,
        30,
        dose_mg=1000,
        volume_ml=500,
    ),
    Row(
        "rituximab first 500 mg: 175 min",
        "S51; reference §4.2 table",
        "rituximab",
        1,
        [(150, 175, 150)],
        175,
        30,
        30,
        dose_mg=500,
    ),
    Row(
        "methylprednisolone 1000 mg in 250 mL over 60 min",
        "clinical decisions §4",
        "methylprednisolone",
        1,
        [(0, 60, 250)],
        60,
        15,
        0,
    ),
    Row(
        "the shorter ocrelizumab protocol is refused for the initial 300 mg doses",
        "S07; clinical decisions §4",
        "ocrelizumab",
        2,
        [(0, 30, 30)],
        158.33,
        60,
        30,
        protocol="shorter",
        expect_protocol="standard",
    ),
    Row(
        "the shorter ocrelizumab protocol is refused after a grade 3 reaction",
        "S09; S05; clinical decisions §4",
        "ocrelizumab",
        4,
        [(0, 30, 40)],
        210,
        60,
        30,
        protocol="shorter",
        prior=(0, 3, 0),
        expect_protocol="standard",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.why)
def test_rate_plan(row: Row, kb: KnowledgeBase):
    plan = plan_infusion(
        kb,
        RateRequest(
            row.agent,
            row.infusion,
            row.profile,  # type: ignore[arg-type]
            protocol=row.protocol,
            dose_mg=row.dose_mg,
            volume_ml=row.volume_ml,
            prior_reaction_grades=row.prior,
        ),
    )
    for start, end, rate in row.steps:
        step = next(s for s in plan.steps if round(s.start_min, 2) == start)
        assert (round(step.end_min, 2), round(step.rate_ml_per_h, 2)) == (end, rate)
    assert round(plan.infusion_minutes, 2) == row.infusion_min
    assert plan.observation_minutes == row.observation_min
    assert plan.premedication_lead_minutes == row.lead_min
    assert round(plan.chair_minutes, 2) == round(
        15 + row.lead_min + row.infusion_min + row.observation_min + 5, 2
    )
    assert plan.protocol == (row.expect_protocol or row.protocol)
    if row.expect_protocol:
        assert any(f.rule == "rates.shorter-refused" for f in plan.findings)
    assert plan.labels


class TestAlemtuzumabHerpesProphylaxis:
    """LEM-US-COPY §2 (US: from day 1, at least 2 months or until CD4 >= 200, whichever is
    later); EPI-LEM §2 (EU: treatment days and 1 month after the course)."""

    def _herpes(self, kb: KnowledgeBase, infusion: int, profile: str = "us"):
        plan = plan_infusion(kb, RateRequest("alemtuzumab", infusion, profile))  # type: ignore[arg-type]
        return next((p for p in plan.premedications if p.id == "herpes-prophylaxis"), None), plan

    def test_infusion_1_premedication_starts_herpes_prophylaxis_on_day_1(self, kb: KnowledgeBase):
        herpes, plan = self._herpes(kb, 1)
        assert herpes is not None
        assert herpes.required
        assert herpes.route == "oral"
        assert "day 1" in (herpes.note or "")
        assert "2 months" in (herpes.note or "")
        assert "200" in (herpes.note or "")
        assert plan.premedication_lead_minutes == 60  # oral prophylaxis adds no chair time

    def test_the_eu_plan_continues_prophylaxis_1_month_after_the_course(self, kb: KnowledgeBase):
        herpes, _ = self._herpes(kb, 1, "eu")
        assert herpes is not None
        assert "1 month" in (herpes.note or "")
        assert "CD4" not in (herpes.note or "")

    def test_prophylaxis_starts_again_on_day_1_of_course_2(self, kb: KnowledgeBase):
        assert self._herpes(kb, 6)[0] is not None  # course 2, day 1

    def test_later_days_of_a_course_do_not_restart_it(self, kb: KnowledgeBase):
        assert self._herpes(kb, 2)[0] is None


class TestReactionReplanning:
    def test_grade_2_halves_the_rate_at_onset_for_30_minutes_then_steps_up(self, kb: KnowledgeBase):
        plan = plan_infusion(kb, RateRequest("ocrelizumab", 1))
        replanned = replan_after_reaction(kb, plan, 45, 2)
        hold = next(s for s in replanned.steps if s.kind == "hold")
        assert (hold.start_min, hold.end_min, hold.rate_ml_per_h) == (45, 75, 30)
        after = next(s for s in replanned.steps if s.start_min == 75)
        assert after.rate_ml_per_h == 60  # back to the rate at onset, then up along the protocol
        assert round(sum(s.volume_ml for s in replanned.steps), 6) == 250
        assert round(replanned.infusion_minutes, 2) == 183.33

    def test_the_resume_rate_after_the_hold_is_the_clinic_policy_and_is_shown(
        self, kb: KnowledgeBase
    ):
        """The labels say to increase again 'as tolerated' without the rate to resume at
        (clinical decisions §4): the clinic's choice is a policy value, named in the plan."""
        plan = plan_infusion(kb, RateRequest("ocrelizumab", 1))
        replanned = replan_after_reaction(kb, plan, 45, 2)
        note = next(f for f in replanned.findings if f.rule == "rates.reaction-replanned")
        assert "clinic policy: rate at onset" in note.message
        assert any(
            f.rule == "provenance.policy" and "resumes" in f.message for f in replanned.findings
        )

    def test_a_clinic_may_climb_from_the_reduced_rate_instead(self, kb: KnowledgeBase):
        policy = kb.clinic.reaction_resume.model_copy(update={"value": "step_up_from_reduced"})
        other = kb.model_copy(
            update={"clinic": kb.clinic.model_copy(update={"reaction_resume": policy})}
        )
        plan = plan_infusion(other, RateRequest("ocrelizumab", 1))
        replanned = replan_after_reaction(other, plan, 45, 2)
        after = [(s.start_min, s.rate_ml_per_h) for s in replanned.steps if s.start_min >= 75]
        assert after[:3] == [(75, 60), (105, 90), (135, 120)]  # +30 mL/h every 30 min
        assert round(sum(s.volume_ml for s in replanned.steps), 6) == 250
        note = next(f for f in replanned.findings if f.rule == "rates.reaction-replanned")
        assert "step up from reduced" in note.message

    def test_grade_3_stops_and_restarts_at_half_rate_once_resolved(self, kb: KnowledgeBase):
        plan = plan_infusion(kb, RateRequest("ocrelizumab", 3))
        replanned = replan_after_reaction(kb, plan, 100, 3, resume_min=130)
        paused = next(s for s in replanned.steps if s.kind == "paused")
        assert (paused.start_min, paused.end_min, paused.rate_ml_per_h) == (100, 130, 0)
        hold = next(s for s in replanned.steps if s.kind == "hold")
        assert (hold.start_min, hold.rate_ml_per_h) == (130, 80)
        assert round(sum(s.volume_ml for s in replanned.steps), 6) == 500

    def test_grade_4_stops_for_good_and_makes_ocrelizumab_contraindicated(self, kb: KnowledgeBase):
        plan = plan_infusion(kb, RateRequest("ocrelizumab", 1))
        replanned = replan_after_reaction(kb, plan, 45, 4)
        assert replanned.steps[-1].end_min == 45
        assert round(replanned.volume_infused_ml, 2) == 30
        rules = {f.rule for f in replanned.findings}
        assert {"rates.discontinue", "rates.contraindicated"} <= rules

    def test_rituximab_reaction_halves_the_mg_per_hour_rate(self, kb: KnowledgeBase):
        plan = plan_infusion(kb, RateRequest("rituximab", 1))
        replanned = replan_after_reaction(kb, plan, 100, 1)
        hold = next(s for s in replanned.steps if s.kind == "hold")
        assert hold.rate_mg_per_h == 100  # 200 mg/h at minute 100, halved
        assert hold.rate_ml_per_h == 50

    def test_a_reaction_during_ublituximab_infusion_3_brings_back_the_observation(
        self, kb: KnowledgeBase
    ):
        plan = plan_infusion(kb, RateRequest("ublituximab", 3))
        assert plan.observation_minutes == 0
        replanned = replan_after_reaction(kb, plan, 40, 1)
        assert replanned.observation_minutes == 60

    def test_grade_3_without_a_restart_minute_is_refused(self, kb: KnowledgeBase):
        plan = plan_infusion(kb, RateRequest("natalizumab", 1))
        with pytest.raises(InvalidInput, match="resume"):
            replan_after_reaction(kb, plan, 10, 3)

    def test_a_reaction_after_the_end_of_the_infusion_is_refused(self, kb: KnowledgeBase):
        plan = plan_infusion(kb, RateRequest("natalizumab", 1))
        with pytest.raises(InvalidInput, match="between 0 and the end"):
            replan_after_reaction(kb, plan, 61, 2)


class TestPlanningInputs:
    def test_a_rituximab_bag_outside_1_to_4_mg_per_ml_is_refused(self, kb: KnowledgeBase):
        with pytest.raises(InvalidInput, match="1–4 mg/mL"):
            plan_infusion(kb, RateRequest("rituximab", 1, volume_ml=100))

    def test_a_dose_that_does_not_fit_the_protocol_is_refused(self, kb: KnowledgeBase):
        with pytest.raises(InvalidInput, match="does not fit"):
            plan_infusion(kb, RateRequest("ocrelizumab", 3, dose_mg=300))

    def test_infusion_number_zero_is_refused(self, kb: KnowledgeBase):
        with pytest.raises(InvalidInput, match="starts at 1"):
            plan_infusion(kb, RateRequest("natalizumab", 0))

    def test_methylprednisolone_faster_than_30_minutes_is_a_hold(self, kb: KnowledgeBase):
        plan = plan_infusion(kb, RateRequest("methylprednisolone", 1, volume_ml=100))
        assert round(plan.infusion_minutes) == 24
        assert any(f.rule == "rates.too-fast" and f.severity == "hold" for f in plan.findings)

    def test_mitoxantrone_dose_follows_bsa(self, kb: KnowledgeBase):
        plan = plan_infusion(kb, RateRequest("mitoxantrone", 1, height_cm=170, weight_kg=70))
        assert plan.dose_mg == 21.8

    def test_a_pump_program_gives_clock_times(self, kb: KnowledgeBase):
        from datetime import time

        plan = plan_infusion(kb, RateRequest("ocrelizumab", 3, start=time(9, 0)))
        assert plan.timeline is not None
        assert plan.timeline.arrival == "08:15"
        assert plan.timeline.infusion_end == "12:30"
        assert plan.timeline.departure == "13:35"
        assert [line.start for line in plan.pump_program] == [
            "09:00",
            "09:30",
            "10:00",
            "10:30",
            "11:00",
        ]

    def test_a_policy_value_used_in_a_plan_is_called_out(self, kb: KnowledgeBase):
        plan = plan_infusion(kb, RateRequest("natalizumab", 13))
        messages = [f.message for f in plan.findings if f.rule == "provenance.policy"]
        assert any("observation" in m for m in messages)
        assert any("set-up" in m for m in messages)
