"""The pre-infusion check and the infusion pages through the app (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from tests.web.conftest import Web


def run_check(web: Web, patient: int, dose: int, role: str = "nurse") -> int:
    response = web.post(
        f"/patients/{patient}/check",
        role,
        {"agent": "ocrelizumab", "date": "2026-11-24", "dose": str(dose), "protocol": "standard"},
    )
    assert response.status_code == 303, response.text[:400]
    match = re.fullmatch(r"/checks/(\d+)\?notice=checked", response.headers["location"])
    assert match
    return int(match.group(1))


def test_nurse_runs_a_check_and_acknowledges_its_warning(web: Web):
    check = run_check(web, web.clinic.diaz, web.clinic.diaz_dose)
    page = web.page(f"/checks/{check}")
    assert "CAUTION" in page.upper()
    assert "Acknowledge this warning" in page
    assert "Source:" in page
    assert "not cleared" in page
    response = web.post(f"/checks/{check}/acknowledge", data={"rule": "vaccines.non_live"})
    assert response.status_code == 303
    page = web.page(f"/checks/{check}?notice=acknowledged")
    assert "Warning acknowledged." in page
    assert "Acknowledged." in page
    assert 'class="badge cleared"' in page
    assert f"/doses/{web.clinic.diaz_dose}/infusion" in page


def test_nurse_may_not_override_a_hold_and_is_told_who_can(web: Web):
    check = run_check(web, web.clinic.evans, web.clinic.evans_dose)
    page = web.page(f"/checks/{check}")
    assert "Only a prescriber may override a hold." in page
    assert "Override the hold" not in page
    refused = web.post(
        f"/checks/{check}/override",
        data={"rule": "screening.liver-tests", "reason": "Liver tests done elsewhere last week"},
    )
    assert refused.status_code == 403


def test_prescriber_override_needs_a_reason_shown_beside_the_field(web: Web):
    check = run_check(web, web.clinic.evans, web.clinic.evans_dose)
    response = web.post(
        f"/checks/{check}/override", "prescriber", {"rule": "screening.liver-tests", "reason": "ok"}
    )
    assert response.status_code == 400
    assert 'id="e-reason-screening.liver-tests"' in response.text
    assert ">ok</textarea>" in response.text  # what was typed is kept
    for rule in ("screening.hbv-screening", "screening.immunoglobulins", "screening.liver-tests"):
        done = web.post(
            f"/checks/{check}/override",
            "prescriber",
            {"rule": rule, "reason": "Results seen from the referring hospital today"},
        )
        assert done.status_code == 303
    page = web.page(f"/checks/{check}", "prescriber")
    assert "Overridden: “Results seen from the referring hospital today”" in page
    assert 'class="badge cleared"' in page


def test_infusion_page_shows_the_pump_program_with_clock_times(web: Web):
    page = web.page(f"/doses/{web.clinic.diaz_dose}/infusion?start=09:30")
    assert "Pump program if started at 09:30" in page
    assert "<td>09:30</td>" in page
    assert "No check stored today." in page
    assert "Decision support:" in page


def test_infusion_cannot_start_before_the_check_is_cleared(web: Web):
    run_check(web, web.clinic.diaz, web.clinic.diaz_dose)
    response = web.post(
        f"/doses/{web.clinic.diaz_dose}/infusion/start", data={"start": "08:00", "volume_ml": "250"}
    )
    assert response.status_code == 409
    assert "not cleared" in response.text
    assert 'value="250"' in response.text  # nothing entered is lost


def start_diaz(web: Web) -> int:
    check = run_check(web, web.clinic.diaz, web.clinic.diaz_dose)
    web.post(f"/checks/{check}/acknowledge", data={"rule": "vaccines.non_live"})
    response = web.post(
        f"/doses/{web.clinic.diaz_dose}/infusion/start",
        data={"start": "08:00", "appointment": str(web.clinic.diaz_appointment)},
    )
    assert response.status_code == 303, response.text[:500]
    match = re.fullmatch(r"/visits/(\d+)\?notice=started", response.headers["location"])
    assert match
    return int(match.group(1))


def test_nurse_documents_an_infusion_with_a_grade_2_reaction_and_completes_it(web: Web):
    visit = start_diaz(web)
    web.clock.advance(minutes=40)  # 08:40
    page = web.page(f"/visits/{visit}")
    assert "Now: infusing" in page
    assert 'aria-current="step"' in page
    for path, data in (
        ("premedication", {"drug": "methylprednisolone", "dose": "100 mg", "route": "IV"}),
        ("vital", {"kind": "systolic", "value": "118", "unit": "mmHg", "taken_at": "08:35"}),
        ("rate", {"minute": "30", "rate_ml_h": "60", "kind": "change"}),
        ("reaction", {"onset_minute": "40", "grade": "2", "actions": "paused, antihistamine"}),
    ):
        response = web.post(f"/visits/{visit}/{path}", data=data)
        assert response.status_code == 303, (path, response.text[:600])
    page = web.page(f"/visits/{visit}?notice=reaction")
    assert "re-planned after a grade 2 reaction at minute 40" in page
    assert "CTCAE grade 2" in page
    assert "methylprednisolone" in page
    assert "118 mmHg" in page
    board = web.page("/board?site=NORTH")
    assert "Step " in board
    assert "Open infusion" in board
    web.clock.advance(minutes=200)
    done = web.post(
        f"/visits/{visit}/complete",
        data={"ended_at": "11:55", "outcome": "completed", "volume_infused_ml": "250"},
    )
    assert done.status_code == 303, done.text[:600]
    page = web.page(f"/visits/{visit}")
    assert "Now: observation" in page
    assert 'class="countdown" data-remaining="' in page
    assert "Observation:" in web.page("/board?site=NORTH")


def test_a_reaction_form_error_keeps_the_values_and_names_the_field(web: Web):
    visit = start_diaz(web)
    response = web.post(
        f"/visits/{visit}/reaction", data={"onset_minute": "12", "grade": "", "actions": "flushing"}
    )
    assert response.status_code == 400
    assert 'id="e-reaction-grade"' in response.text
    assert 'value="flushing"' in response.text


def test_grade_3_reaction_without_restart_minute_is_refused_beside_the_field(web: Web):
    visit = start_diaz(web)
    response = web.post(f"/visits/{visit}/reaction", data={"onset_minute": "12", "grade": "3"})
    assert response.status_code == 400
    assert "restarts" in response.text


def test_viewer_sees_the_visit_but_no_documentation_forms(web: Web):
    visit = start_diaz(web)
    page = web.page(f"/visits/{visit}", "viewer")
    assert "Pump program" in page
    assert "Record the reaction" not in page
    refused = web.post(f"/visits/{visit}/reaction", "viewer", {"onset_minute": "5", "grade": "1"})
    assert refused.status_code == 403
