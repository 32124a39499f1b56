"""An infusion visit documented as it happens (services.visits), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from msinfuse.errors import Conflict, InvalidInput, PermissionDenied
from msinfuse.services import checks, plans, visits
from msinfuse.services.context import Actor, ServiceContext
from tests.integration.conftest import TODAY, make_ctx
from tests.web.clinic import build_small_clinic

NURSE = Actor(None, "nurse1", "nurse")
VIEWER = Actor(None, "viewer1", "viewer")
NINE = datetime.combine(TODAY, datetime.min.time()).replace(hour=9)


def _at(minutes: float) -> ServiceContext:
    """A nurse's context at ``minutes`` after 09:00 on the test day (wall clock)."""
    ctx = make_ctx(NURSE)
    return ServiceContext(ctx.kb, NURSE, TODAY, (NINE + timedelta(minutes=minutes)).astimezone())


def _cleared_diaz(session: Session, ctx: ServiceContext):
    clinic = build_small_clinic(session, make_ctx(), TODAY)
    check = checks.run_check(session, ctx, clinic.diaz, "ocrelizumab", TODAY)
    for rule in check["pending_warnings"]:
        checks.acknowledge(session, ctx, check["id"], rule)
    return clinic


def test_infusion_cannot_start_before_its_check_is_cleared(session: Session):
    ctx = _at(0)
    clinic = build_small_clinic(session, make_ctx(), TODAY)
    checks.run_check(session, ctx, clinic.diaz, "ocrelizumab", TODAY)
    with pytest.raises(Conflict, match="not cleared"):
        visits.start_visit(session, ctx, clinic.diaz_dose, NINE)


def test_started_visit_runs_the_first_pump_step_and_marks_the_dose_given(session: Session):
    ctx = _at(0)
    clinic = _cleared_diaz(session, ctx)
    out = visits.start_visit(session, ctx, clinic.diaz_dose, NINE, clinic.diaz_appointment)
    assert out["phase"] == "infusing"
    assert out["current_step"] == 0
    assert out["rate_events"][0]["kind"] == "start"
    assert out["rate_events"][0]["rate_ml_h"] == out["rate_plan"]["steps"][0]["rate_ml_h"]
    assert out["rate_plan"]["pump_program"][0]["start"] == "09:00"
    dose, _ = plans.plan_for_dose(session, clinic.diaz_dose)
    assert dose.status == "given"
    board = visits.visits_of_appointments(session, ctx, [clinic.diaz_appointment])
    assert board[clinic.diaz_appointment]["phase"] == "infusing"


def test_grade_2_reaction_re_plans_the_rest_of_the_bag_at_once(session: Session):
    ctx = _at(0)
    clinic = _cleared_diaz(session, ctx)
    out = visits.start_visit(session, ctx, clinic.diaz_dose, NINE)
    before = out["rate_plan"]
    after = visits.record_reaction(session, _at(40), out["id"], {"onset_minute": 40, "grade": 2})
    assert after["max_reaction_grade"] == 2
    assert after["rate_plan"]["reaction"]["grade"] == 2
    assert after["rate_plan"]["infusion_min"] > before["infusion_min"]  # slower, same bag
    rate_at_onset = after["rate_plan"]["reaction"]["rate_at_onset_ml_h"]
    halved = next(s for s in after["rate_plan"]["steps"] if s["start_min"] >= 40)
    assert halved["rate_ml_h"] == pytest.approx(rate_at_onset / 2)
    assert after["consequences"] == []


def test_completed_visit_starts_the_observation_countdown(session: Session):
    ctx = _at(0)
    clinic = _cleared_diaz(session, ctx)
    out = visits.start_visit(session, ctx, clinic.diaz_dose, NINE)
    end = NINE + timedelta(minutes=out["rate_plan"]["infusion_min"])
    done = visits.complete_visit(session, _at(out["rate_plan"]["infusion_min"] + 5), out["id"], end)
    assert done["outcome"] == "completed"
    assert done["phase"] == "observation"
    observation = done["rate_plan"]["observation_min"]
    assert done["observation_remaining_s"] == pytest.approx((observation - 5) * 60, abs=1)
    with pytest.raises(Conflict, match="already completed"):
        visits.record_rate(session, ctx, out["id"], {"minute": 10, "rate_ml_h": 50})


def test_grade_4_reaction_ends_the_infusion_and_discontinues_the_agent(session: Session):
    ctx = _at(0)
    clinic = _cleared_diaz(session, ctx)
    out = visits.start_visit(session, ctx, clinic.diaz_dose, NINE)
    after = visits.record_reaction(session, _at(30), out["id"], {"onset_minute": 30, "grade": 4})
    assert after["outcome"] == "discontinued"
    assert after["phase"] == "stopped"
    assert any("discontinued" in c for c in after["consequences"])


def test_documentation_is_validated_and_needs_the_permission(session: Session):
    ctx = _at(0)
    clinic = _cleared_diaz(session, ctx)
    out = visits.start_visit(session, ctx, clinic.diaz_dose, NINE)
    with pytest.raises(InvalidInput, match="grade"):
        visits.record_reaction(session, ctx, out["id"], {"onset_minute": 5, "grade": 7})
    with pytest.raises(InvalidInput, match="restarts"):
        visits.record_reaction(session, ctx, out["id"], {"onset_minute": 5, "grade": 3})
    viewer = ServiceContext(ctx.kb, VIEWER, TODAY, ctx.now)
    with pytest.raises(PermissionDenied):
        visits.record_vital(
            session,
            viewer,
            out["id"],
            {"kind": "heart_rate", "value": 70, "unit": "/min", "taken_at": NINE},
        )
    visits.record_vital(
        session,
        ctx,
        out["id"],
        {"kind": "heart_rate", "value": 70, "unit": "/min", "taken_at": NINE},
    )
    visits.record_premedication(session, ctx, out["id"], {"drug": "methylprednisolone"})
    got = visits.visit(session, ctx, out["id"])
    assert [v["kind"] for v in got["vital_signs"]] == ["heart_rate"]
    assert [p["drug"] for p in got["premedications"]] == ["methylprednisolone"]
