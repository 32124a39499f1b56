"""Starting or changing a plan through the web, htmx sign-in expiry, and privacy of the logs."""

from __future__ import annotations

import logging

import pytest

from tests.web.conftest import Web


def test_plan_preview_shows_the_calendar_the_screening_and_the_first_dose_check(web: Web):
    page = web.post(
        f"/patients/{web.clinic.diaz}/plan",
        "prescriber",
        {
            "agent": "natalizumab",
            "start": "2026-12-01",
            "protocol": "standard",
            "action": "preview",
        },
    )
    assert page.status_code == 200, page.text[:400]
    assert "Preview: Natalizumab" in page.text or "Preview:" in page.text
    assert "Dose calendar" in page.text
    assert "Screening needed before the first dose" in page.text
    assert "The pre-infusion check on 01 Dec 2026" in page.text
    assert "Confirm and start the plan" in page.text
    assert "Label revisions:" in page.text


def test_a_missing_start_date_is_shown_beside_the_field_and_the_choice_is_kept(web: Web):
    page = web.post(
        f"/patients/{web.clinic.diaz}/plan",
        "prescriber",
        {"agent": "natalizumab", "start": "", "action": "preview"},
    )
    assert page.status_code == 400
    assert 'id="e-start"' in page.text
    assert '<option value="natalizumab" selected>' in page.text


def test_confirming_starts_the_plan_and_the_patient_page_shows_it(web: Web):
    done = web.post(
        f"/patients/{web.clinic.diaz}/plan",
        "prescriber",
        {"agent": "natalizumab", "start": "2026-12-01", "action": "confirm"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/patients/{web.clinic.diaz}?notice=plan"
    page = web.page(f"/patients/{web.clinic.diaz}?notice=plan", "prescriber")
    assert "Plan started; the dose calendar is laid out." in page
    assert "natalizumab — q4w" in page or "natalizumab" in page


def test_a_second_plan_of_the_same_agent_is_refused_with_the_reason(web: Web):
    refused = web.post(
        f"/patients/{web.clinic.diaz}/plan",
        "prescriber",
        {"agent": "ocrelizumab", "start": "2026-12-01", "action": "confirm"},
    )
    assert refused.status_code == 400
    assert "already has an active ocrelizumab plan" in refused.text


def test_switching_needs_a_reason_then_stops_the_old_plan(web: Web):
    page = web.page(f"/patients/{web.clinic.evans}/plan", "prescriber")
    plan_id = page.split('name="replace"')[1].split('<option value="')[2].split('"')[0]
    form = {"agent": "ublituximab", "start": "2026-12-01", "action": "confirm", "replace": plan_id}
    missing = web.post(f"/patients/{web.clinic.evans}/plan", "prescriber", form)
    assert missing.status_code == 400
    assert 'id="e-reason"' in missing.text
    done = web.post(
        f"/patients/{web.clinic.evans}/plan",
        "prescriber",
        {**form, "reason": "Patient prefers shorter infusions"},
    )
    assert done.status_code == 303, done.text[:600]
    patient = web.page(f"/patients/{web.clinic.evans}", "prescriber")
    assert "ublituximab" in patient


def test_another_patients_plan_cannot_be_replaced(web: Web):
    form = {
        "agent": "ublituximab",
        "start": "2026-12-01",
        "action": "confirm",
        "replace": str(web.clinic.fischer_plan),
        "reason": "Trying to stop someone else's plan",
    }
    refused = web.post(f"/patients/{web.clinic.evans}/plan", "prescriber", form)
    assert refused.status_code == 400
    assert "choose one of this patient" in refused.text


def test_an_htmx_poll_without_a_session_asks_the_browser_to_sign_in(sqlite_web: Web):
    response = sqlite_web.get("/board/grid?site=NORTH", None, headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/signin?next=/board/grid")


def test_the_logs_never_carry_patient_names_or_record_numbers(
    sqlite_web: Web, caplog: pytest.LogCaptureFixture
):
    # The msinfuse logger does not propagate to the root logger (it has its own redacting
    # handler), so capture at the msinfuse logger itself, whatever level another test left.
    # Earlier tests in the same process may have raised a child logger's level or disabled
    # it (logging configuration by libraries under test); start from a known state.
    logger = logging.getLogger("msinfuse")
    children = [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.startswith("msinfuse.")
    ]
    saved = [(c, c.level, c.disabled) for c in children]
    for child in children:
        child.setLevel(logging.NOTSET)
        child.disabled = False
    level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.DEBUG)
    try:
        sqlite_web.page(f"/patients/{sqlite_web.clinic.diaz}")
        sqlite_web.page("/patients?search=Diaz")
        sqlite_web.page("/board?site=NORTH")
        sqlite_web.get("/worklists/due?format=csv")
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(level)
        for child, child_level, disabled in saved:
            child.setLevel(child_level)
            child.disabled = disabled
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith("msinfuse")
    )  # the test client's own request log is not the server's
    assert "/patients/{patient_id}" in logged  # the route template, not the path
    for secret in ("Diaz", "M-1001", "Ana", f"/patients/{sqlite_web.clinic.diaz}"):
        assert secret not in logged
