"""The infusion record guards every entry through the web pages (SQLite and PostgreSQL): a
refused entry comes back beside its field in plain words, with what was typed kept; the end
of an infusion tells the truth; corrections strike through and keep the original; a grade 4
reaction waits for a prescriber and every page says so."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import Web
from tests.web.test_web_check_infusion import start_diaz

RAW_VALIDATOR_WORDS = ("should", "Input should", "String should", "pattern")


def _refused_beside(response, field_id: str) -> str:
    assert response.status_code == 400, response.text[:600]
    match = re.search(rf'<p class="error" id="e-{re.escape(field_id)}">([^<]*)</p>', response.text)
    assert match, f"no error beside {field_id}"
    message = match.group(1)
    assert not any(w in message for w in RAW_VALIDATOR_WORDS), message
    return message


def test_ocrelizumab_in_a_50_ml_bag_is_refused_beside_the_bag_volume(web: Web):
    check = web.post(
        f"/patients/{web.clinic.diaz}/check",
        data={"agent": "ocrelizumab", "date": "2026-11-24", "dose": str(web.clinic.diaz_dose)},
    )
    check_id = int(check.headers["location"].split("/")[2].split("?")[0])
    web.post(f"/checks/{check_id}/acknowledge", data={"rule": "vaccines.non_live"})
    for volume in ("50", "0", "-100", "1e9"):
        response = web.post(
            f"/doses/{web.clinic.diaz_dose}/infusion/start",
            data={"start": "08:00", "volume_ml": volume},
        )
        message = _refused_beside(response, "volume_ml")
        assert f'value="{volume}"' in response.text  # what was typed is kept
        if volume == "50":
            assert "too small" in message
    assert web.get(f"/doses/{web.clinic.diaz_dose}/infusion").status_code == 200  # not started


def test_impossible_vital_signs_are_refused_beside_the_value(web: Web):
    visit = start_diaz(web)
    web.clock.advance(minutes=10)
    for kind, value, unit in (
        ("systolic", "-50", ""),
        ("spo2", "150", "%"),
        ("temperature", "101.3", "°C"),
    ):
        response = web.post(
            f"/visits/{visit}/vital",
            data={"kind": kind, "value": value, "unit": unit, "taken_at": "08:05"},
        )
        message = _refused_beside(response, "vital-value")
        assert "not possible" in message
    response = web.post(
        f"/visits/{visit}/vital", data={"kind": "heart_rate", "value": "80", "taken_at": "11:30"}
    )
    assert "future" in _refused_beside(response, "vital-taken_at")


def test_a_fever_in_fahrenheit_is_converted_and_flagged(web: Web):
    visit = start_diaz(web)
    web.clock.advance(minutes=10)
    response = web.post(
        f"/visits/{visit}/vital",
        data={"kind": "temperature", "value": "101.3", "unit": "°F", "taken_at": "08:05"},
    )
    assert response.status_code == 303
    page = web.page(f"/visits/{visit}")
    assert "temperature 38.5 °C" in page
    assert 'class="flag flag-high"' in page


def test_pump_rates_above_the_maximum_or_the_step_are_refused_beside_the_field(web: Web):
    visit = start_diaz(web)
    web.clock.advance(minutes=10)
    response = web.post(f"/visits/{visit}/rate", data={"minute": "5", "rate_ml_h": "99999"})
    assert "maximum" in _refused_beside(response, "rate-rate_ml_h")
    response = web.post(f"/visits/{visit}/rate", data={"minute": "5", "rate_ml_h": "90"})
    assert "give the reason" in _refused_beside(response, "rate-reason")
    assert 'value="90"' in response.text
    response = web.post(
        f"/visits/{visit}/rate",
        data={"minute": "5", "rate_ml_h": "90", "reason": "prescriber's order after review"},
    )
    assert response.status_code == 303
    assert "faster than the plan: prescriber&#39;s order after review" in web.page(
        f"/visits/{visit}"
    )


def test_a_negative_premedication_dose_is_refused_beside_the_dose(web: Web):
    visit = start_diaz(web)
    web.clock.advance(minutes=5)
    response = web.post(
        f"/visits/{visit}/premedication", data={"drug": "acetaminophen", "dose": "-650 mg"}
    )
    assert "more than 0 mg" in _refused_beside(response, "premedication-dose")


def test_completing_after_one_minute_needs_a_reason_then_shows_the_partial_dose(web: Web):
    visit = start_diaz(web)
    web.clock.advance(minutes=1)
    data = {"ended_at": "08:01", "outcome": "stopped", "volume_infused_ml": "0.5"}
    response = web.post(f"/visits/{visit}/complete", data=data)
    message = _refused_beside(response, "complete-reason")
    assert "partial dose" in message
    response = web.post(
        f"/visits/{visit}/complete", data={**data, "reason": "cannula dislodged, patient left"}
    )
    assert response.status_code == 303
    page = web.page(f"/visits/{visit}")
    assert "partial dose 0.6 of 300 mg" in page
    patient = web.page(f"/patients/{web.clinic.diaz}")
    assert "partial: 0.6 mg given" in patient


def test_a_vital_sign_entered_in_error_stays_struck_through_with_its_reason(web: Web):
    visit = start_diaz(web)
    web.clock.advance(minutes=10)
    web.post(
        f"/visits/{visit}/vital", data={"kind": "systolic", "value": "180", "taken_at": "08:05"}
    )
    page = web.page(f"/visits/{visit}")
    vital_id = int(re.search(r'id="vital_sign-(\d+)"', page).group(1))
    refused = web.post(f"/corrections/vital_sign/{vital_id}", data={"action": "entered_in_error"})
    _refused_beside(refused, f"fix-vital_sign-{vital_id}-reason")
    assert '<details class="correct" open>' in refused.text
    done = web.post(
        f"/corrections/vital_sign/{vital_id}",
        data={"action": "entered_in_error", "reason": "taken on the wrong arm cuff size"},
    )
    assert done.status_code == 303
    page = web.page(f"/visits/{visit}?notice=corrected")
    entry = page[page.index(f'id="vital_sign-{vital_id}"') :]
    entry = entry[: entry.index("</li>")]
    assert "<del>" in entry
    assert "entered in error" in entry
    assert "taken on the wrong arm cuff size" in entry
    assert "180" in entry  # the original stays visible


def test_an_amended_rate_shows_the_value_before(web: Web):
    visit = start_diaz(web)
    web.clock.advance(minutes=10)
    page = web.page(f"/visits/{visit}")
    rate_id = int(re.search(r'id="rate_event-(\d+)"', page).group(1))
    done = web.post(
        f"/corrections/rate_event/{rate_id}",
        data={"action": "amended", "minute": "1", "reason": "pump started a minute late"},
    )
    assert done.status_code == 303, done.text[:500]
    entry = web.page(f"/visits/{visit}")
    entry = entry[entry.index(f'id="rate_event-{rate_id}"') :]
    assert "minute 1: start" in entry[: entry.index("</li>")]
    assert "before: <del>minute 0" in entry


def test_a_viewer_may_not_correct(web: Web):
    visit = start_diaz(web)
    page = web.page(f"/visits/{visit}", "viewer")
    assert "Save the correction" not in page
    rate_id = int(re.search(r'id="rate_event-(\d+)"', page).group(1))
    refused = web.post(
        f"/corrections/rate_event/{rate_id}", "viewer",
        {"action": "entered_in_error", "reason": "no"},
    )  # fmt: skip
    assert refused.status_code == 403


def test_a_lab_can_be_corrected_from_the_patient_page(web: Web):
    page = web.page(f"/patients/{web.clinic.diaz}")
    lab_id = int(re.search(r'id="lab-(\d+)"', page).group(1))
    done = web.post(
        f"/corrections/lab/{lab_id}",
        data={"action": "entered_in_error", "reason": "result belongs to another patient"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/patients/{web.clinic.diaz}?notice=corrected"
    page = web.page(f"/patients/{web.clinic.diaz}")
    entry = page[page.index(f'id="lab-{lab_id}"') :]
    assert "result belongs to another patient" in entry[: entry.index("</li>")]


@pytest.mark.parametrize("decision", ["discontinue", "resume"])
def test_a_grade_4_reaction_waits_for_a_prescriber_and_every_page_agrees(web: Web, decision: str):
    visit = start_diaz(web)
    web.clock.advance(minutes=30)
    response = web.post(f"/visits/{visit}/reaction", data={"onset_minute": "30", "grade": "4"})
    assert response.status_code == 303
    page = web.page(f"/visits/{visit}")
    assert "Record the volume infused before the stop" in page
    patient = web.page(f"/patients/{web.clinic.diaz}")
    assert "No active plan" not in patient
    assert "held pending prescriber review" in patient
    holds = patient[patient.index("Open holds") :]
    assert "None in the recent checks" not in holds[: holds.index("</div>")]
    assert "held pending prescriber review" in holds[: holds.index("</div>")]
    assert "Record the decision" not in patient  # a nurse cannot decide
    prescriber = web.page(f"/patients/{web.clinic.diaz}", "prescriber")
    plan_id = int(re.search(r'action="/plans/(\d+)/review"', prescriber).group(1))
    if decision == "resume":
        refused = web.post(f"/plans/{plan_id}/review", "prescriber", {"decision": "resume"})
        assert "reason" in _refused_beside(refused, f"review-{plan_id}-reason")
    done = web.post(
        f"/plans/{plan_id}/review",
        "prescriber",
        {"decision": decision, "reason": "" if decision == "discontinue" else "re-graded as 2"},
    )
    assert done.status_code == 303, done.text[:500]
    patient = web.page(f"/patients/{web.clinic.diaz}?notice=reviewed", "prescriber")
    assert "Review decision recorded." in patient
    assert "held pending prescriber review" not in patient
    if decision == "discontinue":
        assert "No active plan" in patient
    else:
        assert "ocrelizumab</strong> · standard · standard protocol · <strong>active" in patient


def test_an_administrator_sets_the_clinics_vital_sign_limits_with_errors_beside_the_fields(
    web: Web,
):
    assert web.get("/admin/limits").status_code == 403  # a nurse may not
    page = web.page("/admin/limits", "admin")
    assert "Vital-sign limits" in page
    assert "MSINFUSE-POLICY §vital-sign limits" in page
    refused = web.post(
        "/admin/limits/systolic",
        "admin",
        {"usual_low": "30", "usual_high": "140", "reason": "hypertension protocol"},
    )
    assert "inside the possible range" in _refused_beside(refused, "lim-systolic-usual_low")
    assert 'value="140"' in refused.text
    missing = web.post("/admin/limits/systolic", "admin", {"usual_low": "90", "usual_high": "140"})
    _refused_beside(missing, "lim-systolic-reason")
    done = web.post(
        "/admin/limits/systolic",
        "admin",
        {"usual_low": "90", "usual_high": "140", "reason": "hypertension protocol"},
    )
    assert done.status_code == 303
    page = web.page("/admin/limits?notice=limits", "admin")
    assert "Vital-sign limits saved" in page
    assert "hypertension protocol" in page
