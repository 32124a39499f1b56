"""The demo clinic generator, in memory: its clinical numbers come from the knowledge base
and its history is realistic (reactions at the labelled rates, late, missed and held doses,
alemtuzumab course gaps, the mitoxantrone lifetime limit, synthetic names)."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from msinfuse.domain.bsa import bsa_mosteller
from msinfuse.domain.knowledge.facts import add_months
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.services.demo import patient_generator
from msinfuse.services.demo_model import (
    draw_reaction,
    patient_mix,
    reaction_model,
    visits_per_year,
)
from msinfuse.services.demo_params import DemoParameters
from msinfuse.services.demo_patient import GenPatient
from tests.integration.conftest import TODAY

POPULATION = 400


@pytest.fixture(scope="module")
def population(kb: KnowledgeBase) -> list[GenPatient]:
    generator = patient_generator(kb, TODAY, sites=2, seed=11)
    return [generator.generate(n) for n in range(1, POPULATION + 1)]


def _exposed(population: list[GenPatient], agent: str) -> list[GenPatient]:
    return [
        p for p in population if any(pl.agent == agent and pl.administrations for pl in p.plans)
    ]


class TestMix:
    def test_patient_shares_turn_the_spec_visit_shares_into_patients(self, kb):
        params = DemoParameters()
        mix = patient_mix(kb, params)
        assert sum(mix.agent_shares.values()) == pytest.approx(1.0)
        # Natalizumab (every 4 weeks) makes the most visits: 42 of the 84 maintenance
        # visits in 100 of the spec, from far fewer patients than the anti-CD20 agents.
        visits = {a: mix.agent_shares[a] * mix.visits_per_year[a] for a in mix.visits_per_year}
        assert max(visits, key=visits.__getitem__) == "natalizumab"
        assert visits["natalizumab"] / sum(visits.values()) == pytest.approx(0.42 / 0.84)
        assert mix.agent_shares["ocrelizumab"] > mix.agent_shares["natalizumab"]
        assert mix.shorter_protocol_share == pytest.approx(0.5)

    def test_visits_per_year_come_from_the_kb_regimen_interval(self, kb):
        assert visits_per_year(kb, "natalizumab", 4.0) == pytest.approx(365.25 / 28)
        assert visits_per_year(kb, "ocrelizumab", 4.0) == pytest.approx(365.25 / 168)

    def test_the_population_follows_the_mix(self, population, kb):
        current = Counter(
            next(pl.agent for pl in reversed(p.plans) if pl.agent != "methylprednisolone")
            for p in population
            if any(pl.agent != "methylprednisolone" for pl in p.plans)
        )
        shares = patient_mix(kb, DemoParameters()).agent_shares
        for agent in ("ocrelizumab", "natalizumab", "ublituximab", "rituximab"):
            assert current[agent] / POPULATION == pytest.approx(shares[agent], abs=0.06)


class TestReactions:
    @pytest.mark.parametrize(
        ("agent", "share"), [("ocrelizumab", 0.37), ("ublituximab", 0.477), ("alemtuzumab", 0.92)]
    )
    def test_the_reaction_model_is_the_kb_incidence(self, kb, agent, share):
        model = reaction_model(kb.agents[agent], DemoParameters())
        assert model.patient_share == pytest.approx(share)
        assert model.source
        rng = random.Random(5)
        draws = [draw_reaction(rng, model, DemoParameters()) for _ in range(2000)]
        reacted = [d for d in draws if d is not None]
        assert len(reacted) / len(draws) == pytest.approx(share, abs=0.03)
        assert Counter(d.infusion == 1 for d in reacted)[True] / len(reacted) == pytest.approx(
            0.7, abs=0.04
        )

    def test_agents_without_a_kb_rate_get_no_invented_reactions(self, kb):
        for agent in ("natalizumab", "rituximab", "mitoxantrone", "methylprednisolone"):
            assert reaction_model(kb.agents[agent], DemoParameters()).patient_share == 0

    @pytest.mark.parametrize(
        ("agent", "share"), [("ocrelizumab", 0.37), ("ublituximab", 0.477), ("alemtuzumab", 0.92)]
    )
    def test_patients_react_at_the_labelled_rate(self, population, agent, share):
        exposed = _exposed(population, agent)
        reacted = [
            p
            for p in exposed
            if any(a.grade for pl in p.plans if pl.agent == agent for a in pl.administrations)
        ]
        spread = 3 * (share * (1 - share) / len(exposed)) ** 0.5
        assert len(reacted) / len(exposed) == pytest.approx(share, abs=spread)

    def test_reactions_are_mostly_grade_1_or_2(self, population):
        grades = Counter(
            a.grade for p in population for pl in p.plans for a in pl.administrations if a.grade
        )
        assert grades[1] + grades[2] > 0.9 * sum(grades.values())

    def test_a_grade_4_reaction_stops_the_infusion_and_a_prescriber_discontinues_the_plan(self, kb):
        params = DemoParameters(serious_share_multiplier=100.0, grade4_share_of_serious=1.0)
        generator = patient_generator(kb, TODAY, seed=3, params=params)
        plan = patient = None
        for number in range(1, 300):
            patient = generator.generate(number)
            plan = next(
                (pl for pl in patient.plans if any(a.grade == 4 for a in pl.administrations)),
                None,
            )
            if plan is not None:
                break
        assert plan is not None
        assert patient is not None
        last = plan.administrations[-1]
        assert last.grade == 4
        assert last.outcome == "stopped"
        assert plan.status == "stopped"
        assert plan.stopped_on == last.given_on
        assert plan.stop_reason == (
            "discontinued after a grade 4 infusion reaction (confirmed by a prescriber)"
        )
        pending = [d for d in plan.doses if d.status != "given"]
        assert pending
        assert all(d.status == "cancelled" and d.reason == plan.stop_reason for d in pending)
        assert any(
            c.condition == f"life_threatening_irr:{plan.agent}" and c.onset == last.given_on
            for c in patient.conditions
        )


class TestDoses:
    def test_some_doses_are_late(self, population):
        given = [d for p in population for pl in p.plans for d in pl.doses if d.given_on]
        late = [d for d in given if d.given_on > d.planned_on]
        assert 0.03 < len(late) / len(given) < 0.15

    def test_overdue_doses_are_marked_missed_or_held_with_a_reason(self, population):
        marked = [
            d
            for p in population
            for pl in p.plans
            for d in pl.doses
            if d.status in ("missed", "held") and pl.status == "active"
        ]
        assert {d.status for d in marked} == {"missed", "held"}
        assert all(d.reason and d.planned_on < TODAY for d in marked)

    def test_alemtuzumab_course_2_is_at_least_12_months_after_course_1(self, population):
        checked = 0
        for p in population:
            for pl in p.plans:
                given = [d for d in pl.doses if pl.agent == "alemtuzumab" and d.given_on]
                course2 = [d for d in given if d.course == 2]
                if course2:
                    last_of_1 = max(d.given_on for d in given if d.course == 1)
                    assert course2[0].given_on >= add_months(last_of_1, 12)
                    assert len([d for d in given if d.course == 1]) == 5
                    checked += 1
        assert checked > 0

    def test_mitoxantrone_never_passes_the_lifetime_limit(self, kb):
        limit = kb.agents["mitoxantrone"].regimens[0].cumulative_limit_mg_per_m2.get("us").value
        params = DemoParameters(mitoxantrone_patient_share=1.0)
        generator = patient_generator(kb, TODAY, seed=5, params=params)
        completed = 0
        for number in range(1, 31):
            patient = generator.generate(number)
            bsa = bsa_mosteller(patient.height_cm, patient.weight_kg)
            for pl in patient.plans:
                if pl.agent != "mitoxantrone":
                    continue
                total = pl.prior_cumulative_mg_per_m2 + sum(
                    a.dose_mg / bsa for a in pl.administrations
                )
                assert total <= limit + 0.5
                completed += pl.status == "completed"
        assert completed > 0


def test_names_are_obviously_synthetic(population):
    params = DemoParameters()
    syllables = "|".join(params.given_syllables)
    for p in population:
        assert re.fullmatch(r"DEMO-\d{7}", p.mrn)
        assert re.fullmatch(f"({syllables}){{2,3}}", p.given_name.lower())
        assert any(p.family_name.lower().endswith(e) for e in params.family_endings)


def test_a_patient_is_the_same_whatever_else_is_generated(kb):
    first = patient_generator(kb, TODAY, seed=2).generate(17)
    generator = patient_generator(kb, TODAY, seed=2)
    for number in range(1, 17):
        generator.generate(number)
    again = generator.generate(17)
    assert first.state == again.state
    assert first.monitoring == again.monitoring
    other_day = patient_generator(kb, date(2026, 11, 25), seed=2).generate(17)
    assert other_day.state != first.state or other_day.monitoring != first.monitoring


def test_every_generator_parameter_is_documented_with_its_source():
    text = (Path(__file__).resolve().parents[2] / "docs" / "demo-clinic.md").read_text("utf-8")
    described = DemoParameters().describe()
    for name, entry in described.items():
        assert f"`{name}`" in text, name
        assert entry["source"]
