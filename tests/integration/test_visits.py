"""An infusion visit documented as it happens (services.visits), on SQLite and PostgreSQL:
every entry passes the infusion record's limits, and the end of an infusion tells the truth."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from msinfuse.errors import Conflict, InvalidInput, PermissionDenied
from msinfuse.persistence import repositories as repo
from msinfuse.services import checks, plans, records, visits
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


def _started(session: Session, **start) -> tuple[object, dict]:
    clinic = _cleared_diaz(session, _at(0))
    out = visits.start_visit(session, _at(0), clinic.diaz_dose, NINE, **start)
    return clinic, out


def _refused(field: str, call, *args, match: str | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput, match=match) as refused:
        call(*args)
    assert refused.value.field == field
    assert "should" not in str(refused.value)  # plain words, not validator text
    return refused.value


# --------------------------------------------------------------------------------- the visit


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


def test_the_pump_start_cannot_be_in_the_future(session: Session):
    clinic = _cleared_diaz(session, _at(0))
    _refused("start", visits.start_visit, session, _at(0), clinic.diaz_dose, NINE.replace(hour=13))


def test_grade_2_reaction_re_plans_the_rest_of_the_bag_at_once(session: Session):
    _, out = _started(session)
    before = out["rate_plan"]
    after = visits.record_reaction(session, _at(40), out["id"], {"onset_minute": 40, "grade": 2})
    assert after["max_reaction_grade"] == 2
    assert after["rate_plan"]["reaction"]["grade"] == 2
    assert after["rate_plan"]["infusion_min"] > before["infusion_min"]  # slower, same bag
    rate_at_onset = after["rate_plan"]["reaction"]["rate_at_onset_ml_h"]
    halved = next(s for s in after["rate_plan"]["steps"] if s["start_min"] >= 40)
    assert halved["rate_ml_h"] == pytest.approx(rate_at_onset / 2)
    assert after["consequences"] == []


def test_documentation_is_validated_and_needs_the_permission(session: Session):
    _, out = _started(session)
    ctx = _at(5)
    with pytest.raises(InvalidInput, match="grade"):
        visits.record_reaction(session, ctx, out["id"], {"onset_minute": 5, "grade": 7})
    _refused("resume_minute", visits.record_reaction, session, ctx, out["id"],
             {"onset_minute": 5, "grade": 3})  # fmt: skip
    viewer = ServiceContext(ctx.kb, VIEWER, TODAY, ctx.now)
    vital = {"kind": "heart_rate", "value": 70, "taken_at": NINE}
    with pytest.raises(PermissionDenied):
        visits.record_vital(session, viewer, out["id"], vital)
    visits.record_vital(session, ctx, out["id"], vital)
    visits.record_premedication(
        session, ctx, out["id"], {"drug": "methylprednisolone", "dose": "100 mg"}
    )
    got = visits.visit(session, ctx, out["id"])
    assert [(v["kind"], v["unit"]) for v in got["vital_signs"]] == [("heart_rate", "/min")]
    assert [(p["drug"], p["dose_mg"]) for p in got["premedications"]] == [
        ("methylprednisolone", 100)
    ]


# -------------------------------------------------------------------------------------- bags


def test_ocrelizumab_in_a_50_ml_bag_is_refused_beside_the_bag_volume(session: Session):
    clinic = _cleared_diaz(session, _at(0))
    refused = _refused(
        "volume_ml", visits.start_visit, session, _at(0), clinic.diaz_dose, NINE, None, None, 50
    )
    assert "too small" in str(refused)
    assert "250 mL" in str(refused)
    assert "policy" in str(refused)  # the tolerance is a clinic policy value, and says so
    assert repo.administration_for_dose(session, clinic.diaz_dose) is None  # nothing written


@pytest.mark.parametrize("volume", [0, -100, 1e9])
def test_a_bag_of_zero_negative_or_absurd_volume_is_refused_beside_the_field(
    session: Session, volume: float
):
    clinic = _cleared_diaz(session, _at(0))
    _refused(
        "volume_ml", visits.start_visit, session, _at(0), clinic.diaz_dose, NINE, None, None,
        volume,
    )  # fmt: skip


def test_a_bag_with_the_drug_and_overfill_added_runs_longer_at_the_same_rates(session: Session):
    _, nominal = _started(session)
    session.rollback()
    _, fuller = _started(session, volume_ml=265)
    assert fuller["volume_ml"] == 265
    assert (
        fuller["rate_plan"]["steps"][0]["rate_ml_h"]
        == nominal["rate_plan"]["steps"][0]["rate_ml_h"]
    )
    assert fuller["rate_plan"]["infusion_min"] > nominal["rate_plan"]["infusion_min"]


# ------------------------------------------------------------------------------------- rates


def test_a_rate_above_the_protocol_maximum_is_refused(session: Session):
    _, out = _started(session)
    maximum = out["limits"]["maximum_ml_h"]
    refused = _refused(
        "rate_ml_h", visits.record_rate, session, _at(10), out["id"],
        {"minute": 10, "rate_ml_h": 99999, "reason": "pump library override"},
    )  # fmt: skip
    assert f"{maximum:g}" in str(refused)
    assert len(visits.visit(session, _at(10), out["id"])["rate_events"]) == 1  # the start only


def test_a_rate_above_the_step_in_force_needs_a_reason_and_keeps_it(session: Session):
    _, out = _started(session)
    step = out["rate_plan"]["steps"][0]["rate_ml_h"]
    faster = {"minute": 10, "rate_ml_h": step + 30}
    _refused("reason", visits.record_rate, session, _at(10), out["id"], faster)
    got = visits.record_rate(
        session, _at(10), out["id"], {**faster, "reason": "prescriber asked to speed up"}
    )
    event = got["rate_events"][-1]
    assert event["rate_ml_h"] == step + 30
    assert event["reason"] == "prescriber asked to speed up"
    assert [f["rule"] for f in got["findings"]] == ["rates.above-step"]


def test_a_rate_at_or_below_the_step_in_force_needs_no_reason(session: Session):
    _, out = _started(session)
    step = out["rate_plan"]["steps"][0]["rate_ml_h"]
    got = visits.record_rate(session, _at(10), out["id"], {"minute": 10, "rate_ml_h": step})
    assert got["findings"] == []
    assert got["rate_events"][-1]["reason"] is None


def test_a_rate_change_in_the_future_or_before_the_start_is_refused(session: Session):
    _, out = _started(session)
    _refused("minute", visits.record_rate, session, _at(10), out["id"],
             {"minute": 60, "rate_ml_h": 30})  # fmt: skip
    _refused("minute", visits.record_rate, session, _at(10), out["id"],
             {"minute": -5, "rate_ml_h": 30})  # fmt: skip


def test_a_pause_runs_at_zero_and_a_running_rate_is_more_than_zero(session: Session):
    _, out = _started(session)
    _refused("rate_ml_h", visits.record_rate, session, _at(10), out["id"],
             {"minute": 10, "rate_ml_h": 0, "kind": "change"})  # fmt: skip
    got = visits.record_rate(
        session, _at(10), out["id"], {"minute": 10, "rate_ml_h": 0, "kind": "pause"}
    )
    assert got["rate_events"][-1]["kind"] == "pause"


# ----------------------------------------------------------------------------- premedication


def test_a_negative_premedication_dose_is_refused_in_plain_words(session: Session):
    _, out = _started(session)
    refused = _refused(
        "dose", visits.record_premedication, session, _at(5), out["id"],
        {"drug": "acetaminophen", "dose": "−650 mg"},
    )  # fmt: skip
    assert "more than 0 mg" in str(refused)


def test_a_premedication_dose_outside_the_drug_range_is_refused(session: Session):
    _, out = _started(session)
    refused = _refused(
        "dose", visits.record_premedication, session, _at(5), out["id"],
        {"drug": "methylprednisolone", "dose_mg": 5000},
    )  # fmt: skip
    assert "100–1,000 mg" in str(refused)


def test_a_premedication_dose_other_than_planned_is_kept_with_a_warning(session: Session):
    _, out = _started(session)
    got = visits.record_premedication(
        session, _at(5), out["id"], {"drug": "methylprednisolone", "dose_mg": 125}
    )
    assert "premedication.dose-differs" in [f["rule"] for f in got["findings"]]
    assert got["premedications"][-1]["dose"] == "125 mg"


def test_a_premedication_with_no_range_on_file_is_kept_with_a_finding(session: Session):
    _, out = _started(session)
    got = visits.record_premedication(
        session, _at(5), out["id"], {"drug": "famotidine", "dose": "20 mg", "route": "IV"}
    )
    assert [f["rule"] for f in got["findings"]] == ["premedication.no-range"]


def test_a_premedication_time_in_the_future_or_before_the_visit_is_refused(session: Session):
    _, out = _started(session)
    body = {"drug": "cetirizine", "dose_mg": 10}
    _refused("given_at", visits.record_premedication, session, _at(5), out["id"],
             {**body, "given_at": NINE + timedelta(hours=2)})  # fmt: skip
    _refused("given_at", visits.record_premedication, session, _at(5), out["id"],
             {**body, "given_at": NINE - timedelta(hours=5)})  # fmt: skip
    visits.record_premedication(
        session, _at(5), out["id"], {**body, "given_at": NINE - timedelta(minutes=30)}
    )


# ------------------------------------------------------------------------------- vital signs


@pytest.mark.parametrize(
    ("kind", "value", "unit"),
    [
        ("systolic", -50, None),
        ("systolic", 99999, None),
        ("spo2", 150, "%"),
        ("temperature", 101.3, "°C"),
        ("heart_rate", float("nan"), None),
    ],
)
def test_an_impossible_vital_sign_is_refused_beside_the_value(
    session: Session, kind: str, value: float, unit: str | None
):
    _, out = _started(session)
    body = {"kind": kind, "value": value, "unit": unit, "taken_at": NINE}
    _refused("value", visits.record_vital, session, _at(5), out["id"], body)


def test_a_fahrenheit_temperature_is_converted_and_a_fever_flagged_high(session: Session):
    _, out = _started(session)
    got = visits.record_vital(
        session, _at(5), out["id"],
        {"kind": "temperature", "value": 101.3, "unit": "°F", "taken_at": NINE},
    )  # fmt: skip
    vital = got["vital_signs"][-1]
    assert (vital["value"], vital["unit"], vital["flag"]) == (38.5, "Cel", "high")
    assert [f["rule"] for f in got["findings"]] == ["vitals.high"]


def test_a_low_blood_pressure_is_stored_and_flagged_low(session: Session):
    _, out = _started(session)
    got = visits.record_vital(
        session, _at(5), out["id"], {"kind": "systolic", "value": 82, "taken_at": NINE}
    )
    assert got["vital_signs"][-1]["flag"] == "low"
    assert "policy" in got["findings"][0]["message"]  # the usual range is a clinic policy


def test_a_vital_sign_in_the_future_or_before_the_visit_is_refused(session: Session):
    _, out = _started(session)
    vital = {"kind": "heart_rate", "value": 72}
    _refused("taken_at", visits.record_vital, session, _at(5), out["id"],
             {**vital, "taken_at": NINE + timedelta(hours=3)})  # fmt: skip
    _refused("taken_at", visits.record_vital, session, _at(5), out["id"],
             {**vital, "taken_at": NINE - timedelta(days=1)})  # fmt: skip


def test_a_wrong_unit_is_refused_beside_the_unit(session: Session):
    _, out = _started(session)
    _refused("unit", visits.record_vital, session, _at(5), out["id"],
             {"kind": "systolic", "value": 120, "unit": "kg", "taken_at": NINE})  # fmt: skip


# --------------------------------------------------------------------------------- reactions


def test_a_reaction_at_minute_99999_is_refused(session: Session):
    _, out = _started(session)
    _refused("onset_minute", visits.record_reaction, session, _at(30), out["id"],
             {"onset_minute": 99999, "grade": 2})  # fmt: skip


def test_a_reaction_before_the_start_is_refused_in_plain_words(session: Session):
    _, out = _started(session)
    refused = _refused(
        "onset_minute", visits.record_reaction, session, _at(30), out["id"],
        {"onset_minute": -3, "grade": 1},
    )  # fmt: skip
    assert "0 or more" in str(refused)


# -------------------------------------------------------------------------------- completion


def test_completed_visit_starts_the_observation_countdown(session: Session):
    _, out = _started(session)
    minutes = out["rate_plan"]["infusion_min"]
    end = NINE + timedelta(minutes=minutes)
    done = visits.complete_visit(session, _at(minutes + 5), out["id"], end, "completed", 250)
    assert done["outcome"] == "completed"
    assert done["phase"] == "observation"
    assert done["completion"] == {
        "minutes": pytest.approx(minutes, abs=0.1),
        "planned_minutes": pytest.approx(minutes, abs=0.1),
        "early": False,
        "partial": False,
        "volume_infused_ml": 250,
        "volume_ml": 250,
        "dose_mg": 300,
        "dose_given_mg": 300,
    }
    observation = done["rate_plan"]["observation_min"]
    assert done["observation_remaining_s"] == pytest.approx((observation - 5) * 60, abs=1)
    with pytest.raises(Conflict, match="already completed"):
        visits.record_rate(session, _at(minutes + 5), out["id"], {"minute": 10, "rate_ml_h": 50})


def test_completion_needs_the_volume_infused(session: Session):
    _, out = _started(session)
    _refused("volume_infused_ml", visits.complete_visit, session, _at(200), out["id"])


def test_completing_after_one_minute_needs_a_reason_and_records_a_partial_dose(
    session: Session,
):
    clinic, out = _started(session)
    one = NINE + timedelta(minutes=1)
    refused = _refused("reason", visits.complete_visit, session, _at(1), out["id"], one,
                       "stopped", 0.5)  # fmt: skip
    assert "partial dose" in str(refused)
    done = visits.complete_visit(
        session, _at(1), out["id"], one, "stopped", 0.5, "patient had to leave"
    )
    assert done["completion"]["partial"]
    assert done["completion"]["early"]
    assert done["dose_given_mg"] == pytest.approx(0.6)
    assert done["completion_reason"] == "patient had to leave"
    state = records.patient_state(session, make_ctx(), clinic.diaz)
    assert [a.dose_mg for a in state.administrations_of("ocrelizumab")] == [pytest.approx(0.6)]
    plan = plans.get_plan(session, make_ctx(), out["plan_id"])
    assert plan["doses"][0]["given_dose_mg"] == pytest.approx(0.6)


def test_a_volume_that_could_not_have_run_in_the_time_is_refused(session: Session):
    _, out = _started(session)
    ten = NINE + timedelta(minutes=10)
    refused = _refused("volume_infused_ml", visits.complete_visit, session, _at(10), out["id"],
                       ten, "completed", 250, "pump total")  # fmt: skip
    assert "cannot have run" in str(refused)


def test_an_end_in_the_future_is_refused(session: Session):
    _, out = _started(session)
    _refused("ended_at", visits.complete_visit, session, _at(10), out["id"],
             NINE + timedelta(hours=6), "completed", 250)  # fmt: skip


# ------------------------------------------------------------------------ grade 4 reactions


def test_grade_4_reaction_stops_the_infusion_and_holds_the_plan_for_a_prescriber(
    session: Session,
):
    clinic, out = _started(session)
    after = visits.record_reaction(session, _at(30), out["id"], {"onset_minute": 30, "grade": 4})
    assert after["outcome"] == "stopped"
    assert after["phase"] == "stopped"
    assert any(plans.REVIEW_HOLD in c for c in after["consequences"])
    plan = plans.get_plan(session, make_ctx(), out["plan_id"])
    assert plan["status"] == "paused"
    assert plan["state"]["code"] == "review"
    assert plan["state"]["label"] == "held pending prescriber review"
    assert {d["status"] for d in plan["doses"] if d["status"] != "given"} == {"held"}
    state = records.patient_state(session, make_ctx(), clinic.diaz)
    assert not any(c.condition.startswith("life_threatening_irr") for c in state.conditions)
    assert after["needs_volume"]
    done = visits.complete_visit(session, _at(40), out["id"], volume_infused_ml=20)
    assert done["completion"]["partial"]
    assert done["outcome"] == "stopped"
    assert "grade 4" in done["completion_reason"]


def test_a_grade_4_reaction_at_the_first_minute_stops_the_pump_before_it_ran(session: Session):
    _, out = _started(session)
    after = visits.record_reaction(session, _at(1), out["id"], {"onset_minute": 0, "grade": 4})
    assert after["phase"] == "stopped"
    assert after["rate_plan"]["steps"] == []
    assert after["limits"]["step_ml_h"] == 0


# ------------------------------------------------------------------ the clinic's own ranges


def test_the_clinic_sets_its_own_usual_blood_pressure_and_new_entries_follow_it(
    session: Session,
):
    from msinfuse.persistence.models import AuditEvent
    from msinfuse.services import limits

    _, out = _started(session)
    admin = ServiceContext(_at(1).kb, Actor(None, "admin1", "admin"), TODAY, _at(1).now)
    with pytest.raises(PermissionDenied):
        limits.set_vital_sign_limits(
            session, _at(1), "systolic", {"usual": [90, 140], "reason": "x"}
        )
    for body, field in (
        ({"usual": [30, 140], "reason": "x"}, "usual"),  # outside the possible range
        ({"possible": [300, 40], "reason": "x"}, "possible"),
        ({"usual": [90, 140], "reason": ""}, "reason"),
    ):
        with pytest.raises(InvalidInput) as refused:
            limits.set_vital_sign_limits(session, admin, "systolic", body)
        assert refused.value.field == field
    with pytest.raises(InvalidInput, match="100"):
        limits.set_vital_sign_limits(session, admin, "spo2", {"possible": [50, 110], "reason": "x"})
    changed = limits.set_vital_sign_limits(
        session, admin, "systolic", {"usual": [90, 140], "reason": "hypertension clinic protocol"}
    )
    assert (changed["usual"]["low"], changed["usual"]["high"], changed["usual"]["status"]) == (
        90,
        140,
        "policy",
    )
    assert changed["default_usual"]["high"] == 160
    got = visits.record_vital(
        session, _at(5), out["id"], {"kind": "systolic", "value": 150, "taken_at": NINE}
    )
    assert got["vital_signs"][-1]["flag"] == "high"
    assert "set by the clinic" in got["findings"][0]["source"]
    back = limits.set_vital_sign_limits(session, admin, "systolic", {"reason": "protocol ended"})
    assert back["usual"]["high"] == 160
    assert not back["changed"]
    again = visits.record_vital(
        session, _at(6), out["id"], {"kind": "systolic", "value": 150, "taken_at": NINE}
    )
    assert again["vital_signs"][-1]["flag"] is None
    assert visits.visit(session, _at(6), out["id"])["vital_signs"][0]["flag"] == "high"  # kept
    assert session.query(AuditEvent).filter_by(resource_type="VitalSignLimits").count() == 2
