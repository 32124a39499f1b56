"""Corrections, never deletions (services.corrections), on SQLite and PostgreSQL: any
documented entry is marked entered in error or amended with a reason; the original values
stay, both are audited, and clinical computations leave out what was entered in error."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from msinfuse.errors import Conflict, InvalidInput, PermissionDenied
from msinfuse.persistence.models import AuditEvent, PlannedDose, VitalSign
from msinfuse.services import corrections, plans, records, visits
from msinfuse.services.context import Actor, ServiceContext
from tests.integration.conftest import TODAY, make_ctx
from tests.integration.test_visits import NINE, _at, _started

VIEWER = Actor(None, "viewer1", "viewer")
ERROR = "entered_in_error"


def _audited(session: Session, action: str, resource: str) -> int:
    return session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.resource_type == resource)
    )


def test_a_vital_sign_entered_in_error_stays_visible_with_its_reason(session: Session):
    _, out = _started(session)
    got = visits.record_vital(
        session, _at(5), out["id"], {"kind": "systolic", "value": 182, "taken_at": NINE}
    )
    vital_id = got["vital_signs"][-1]["id"]
    fixed = corrections.correct(
        session, _at(6), "vital_sign", vital_id,
        {"action": ERROR, "reason": "taken on the wrong patient"},
    )  # fmt: skip
    assert fixed["record_status"] == ERROR
    shown = visits.visit(session, _at(6), out["id"])["vital_signs"][-1]
    assert (shown["value"], shown["record_status"]) == (182, ERROR)
    assert shown["corrections"][0]["reason"] == "taken on the wrong patient"
    assert shown["corrections"][0]["by"] == "nurse1"
    assert session.get(VitalSign, vital_id) is not None  # never deleted
    assert _audited(session, "entered-in-error", "VitalSign") == 1
    assert _audited(session, "create", "Correction") == 1
    with pytest.raises(Conflict, match="already"):
        corrections.correct(session, _at(7), "vital_sign", vital_id,
                            {"action": ERROR, "reason": "again"})  # fmt: skip


def test_an_amended_vital_sign_keeps_the_original_and_passes_the_same_limits(session: Session):
    _, out = _started(session)
    got = visits.record_vital(
        session, _at(5), out["id"], {"kind": "heart_rate", "value": 35, "taken_at": NINE}
    )
    vital_id = got["vital_signs"][-1]["id"]
    with pytest.raises(InvalidInput) as refused:
        corrections.correct(session, _at(6), "vital_sign", vital_id,
                            {"action": "amended", "reason": "typo", "changes": {"value": 710}})  # fmt: skip
    assert refused.value.field == "value"
    fixed = corrections.correct(
        session, _at(6), "vital_sign", vital_id,
        {"action": "amended", "reason": "typing error: 71, not 35", "changes": {"value": 71}},
    )  # fmt: skip
    assert fixed["record_status"] == "amended"
    shown = visits.visit(session, _at(6), out["id"])["vital_signs"][-1]
    assert (shown["value"], shown["flag"]) == (71, None)
    assert shown["corrections"][0]["previous"]["value"] == 35
    assert shown["corrections"][0]["previous"]["flag"] == "low"
    assert _audited(session, "amend", "VitalSign") == 1


def test_a_correction_needs_a_reason_and_the_permission(session: Session):
    _, out = _started(session)
    got = visits.record_vital(
        session, _at(5), out["id"], {"kind": "heart_rate", "value": 70, "taken_at": NINE}
    )
    vital_id = got["vital_signs"][-1]["id"]
    with pytest.raises(InvalidInput) as refused:
        corrections.correct(
            session, _at(6), "vital_sign", vital_id, {"action": ERROR, "reason": " "}
        )
    assert refused.value.field == "reason"
    assert "cannot be empty" in str(refused.value)
    viewer = ServiceContext(_at(6).kb, VIEWER, TODAY, _at(6).now)
    with pytest.raises(PermissionDenied):
        corrections.correct(session, viewer, "vital_sign", vital_id,
                            {"action": ERROR, "reason": "no"})  # fmt: skip


def test_a_rate_premedication_and_reaction_can_each_be_corrected(session: Session):
    _, out = _started(session)
    step = out["rate_plan"]["steps"][0]["rate_ml_h"]
    got = visits.record_rate(session, _at(10), out["id"], {"minute": 10, "rate_ml_h": step})
    rate_id = got["rate_events"][-1]["id"]
    corrections.correct(
        session, _at(11), "rate_event", rate_id,
        {"action": "amended", "reason": "pump read at minute 8", "changes": {"minute": 8}},
    )  # fmt: skip
    with pytest.raises(InvalidInput) as refused:  # the same hard limit as a new entry
        corrections.correct(session, _at(11), "rate_event", rate_id,
                            {"action": "amended", "reason": "x", "changes": {"rate_ml_h": 9999}})  # fmt: skip
    assert refused.value.field == "rate_ml_h"
    got = visits.record_premedication(
        session, _at(11), out["id"], {"drug": "diphenhydramine", "dose_mg": 50}
    )
    premed_id = got["premedications"][-1]["id"]
    corrections.correct(
        session, _at(12), "premedication", premed_id,
        {"action": "amended", "reason": "25 mg was given", "changes": {"dose_mg": 25}},
    )  # fmt: skip
    got = visits.record_reaction(session, _at(20), out["id"], {"onset_minute": 20, "grade": 2})
    reaction_id = got["reactions"][-1]["id"]
    assert got["max_reaction_grade"] == 2
    corrections.correct(
        session, _at(21), "reaction", reaction_id,
        {"action": ERROR, "reason": "flushing from the room heat, no reaction"},
    )  # fmt: skip
    shown = visits.visit(session, _at(21), out["id"])
    assert shown["max_reaction_grade"] == 0
    assert shown["rate_plan"]["reaction"] is None  # the pump program no longer re-planned
    assert [e["minute"] for e in shown["rate_events"]] == [0, 8]
    assert shown["premedications"][-1]["dose_mg"] == 25
    assert shown["premedications"][-1]["corrections"][0]["previous"]["dose_mg"] == 50


def test_an_administration_entered_in_error_leaves_the_dose_calendar(session: Session):
    clinic, out = _started(session)
    dose = session.get(PlannedDose, clinic.diaz_dose)
    assert dose is not None
    assert dose.status == "given"
    corrections.correct(
        session, _at(3), "administration", out["id"],
        {"action": ERROR, "reason": "started on the wrong patient's record"},
    )  # fmt: skip
    session.refresh(dose)
    assert dose.status == "planned"
    state = records.patient_state(session, make_ctx(), clinic.diaz)
    assert state.administrations == ()
    with pytest.raises(Conflict, match="entered in error"):
        visits.record_vital(session, _at(4), out["id"],
                            {"kind": "heart_rate", "value": 70, "taken_at": NINE})  # fmt: skip
    again = visits.start_visit(session, _at(4), clinic.diaz_dose, NINE + timedelta(minutes=4))
    assert again["id"] != out["id"]


def test_an_amended_completion_recomputes_the_partial_dose(session: Session):
    _, out = _started(session)
    minutes = out["rate_plan"]["infusion_min"]
    end = NINE + timedelta(minutes=minutes)
    visits.complete_visit(session, _at(minutes + 1), out["id"], end, "completed", 250)
    fixed = corrections.correct(
        session, _at(minutes + 2), "administration", out["id"],
        {
            "action": "amended",
            "reason": "the pump total was misread",
            "changes": {"volume_infused_ml": 125, "completion_reason": "line occluded"},
        },
    )  # fmt: skip
    assert fixed["current"]["dose_given_mg"] == pytest.approx(150)
    assert fixed["correction"]["previous"]["volume_infused_ml"] == 250
    plan = plans.get_plan(session, make_ctx(), out["plan_id"])
    assert plan["doses"][0]["given_dose_mg"] == pytest.approx(150)


def test_a_lab_can_be_amended_or_entered_in_error_and_leaves_the_checks(session: Session):
    clinic, _ = _started(session)
    ctx = make_ctx(Actor(None, "nurse1", "nurse"))
    lab = records.add_record(
        session,
        ctx,
        clinic.diaz,
        "lab",
        {"test": "hbsag", "value": "positive", "date": "2026-11-20"},
    )
    fixed = corrections.correct(
        session, ctx, "lab", lab["id"],
        {"action": "amended", "reason": "result read from the wrong line",
         "changes": {"value": "negative"}},
    )  # fmt: skip
    assert fixed["current"]["value_text"] == "negative"
    assert fixed["correction"]["previous"]["value_text"] == "positive"
    with pytest.raises(InvalidInput) as refused:
        corrections.correct(session, ctx, "lab", lab["id"],
                            {"action": "amended", "reason": "x",
                             "changes": {"date": (TODAY + timedelta(days=3)).isoformat()}})  # fmt: skip
    assert refused.value.field == "date"
    corrections.correct(session, ctx, "lab", lab["id"], {"action": ERROR, "reason": "duplicate"})
    state = records.patient_state(session, ctx, clinic.diaz)
    assert all(not (lab.test == "hbsag" and lab.date == date(2026, 11, 20)) for lab in state.labs)
    listed = records.patient_record_json(session, ctx, clinic.diaz)["labs"]
    errored = next(x for x in listed if x["id"] == lab["id"])
    assert errored["record_status"] == ERROR


def test_a_lab_dated_in_the_future_is_refused(session: Session):
    clinic, _ = _started(session)
    with pytest.raises(InvalidInput) as refused:
        records.add_record(
            session, make_ctx(), clinic.diaz, "lab",
            {"test": "igg", "value": 9, "date": (TODAY + timedelta(days=1)).isoformat()},
        )  # fmt: skip
    assert refused.value.field == "date"


def test_a_grade_4_reaction_entered_in_error_leaves_the_plan_for_the_prescriber(
    session: Session,
):
    _, out = _started(session)
    got = visits.record_reaction(session, _at(30), out["id"], {"onset_minute": 30, "grade": 4})
    fixed = corrections.correct(
        session, _at(31), "reaction", got["reactions"][-1]["id"],
        {"action": ERROR, "reason": "documented on the wrong visit"},
    )  # fmt: skip
    assert any("prescriber" in n for n in fixed["notes"])
    plan = plans.get_plan(session, make_ctx(), out["plan_id"])
    assert plan["state"]["code"] == "review"
    assert datetime.fromisoformat(plan["review"]["requested_at"]).date() == TODAY
