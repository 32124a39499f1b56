"""The infusion record in a real browser: refused entries beside their field in plain words,
a correction striking an entry through, and a grade 4 reaction waiting for a prescriber
with every page agreeing on the plan's state."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.services import checks, plans, records
from msinfuse.services.context import SYSTEM, ServiceContext
from tests.e2e.conftest import Live, shot, sign_in
from tests.e2e.test_browser import UNLABELLED
from tests.web.clinic import SCREENING

pytestmark = pytest.mark.browser

RAW = re.compile(r"should|pattern|Input ")


def _cleared_patient(live: Live, mrn: str, family: str) -> tuple[int, int]:
    """A screened ocrelizumab patient whose first dose has a cleared check today."""
    engine = make_engine(live.url)
    today = date.today()
    ctx = ServiceContext(default_knowledge_base(), SYSTEM, today, datetime.now(UTC))
    with session_scope(session_factory(engine)) as session:
        pid = records.register_patient(
            session,
            ctx,
            {
                "mrn": mrn,
                "given_name": "Lena",
                "family_name": family,
                "birth_date": "1980-05-05",
                "sex": "female",
                "ms_course": "RRMS",
                "pregnant": False,
                "childbearing_potential": False,
            },
        )["id"]
        for test, value in SCREENING:
            records.add_record(
                session, ctx, pid, "lab", {"test": test, "value": value, "date": today}
            )
        plan = plans.start_plan(session, ctx, pid, {"agent": "ocrelizumab", "start": today})
        check = checks.run_check(session, ctx, pid, "ocrelizumab", today)
        for rule in check["pending_warnings"]:
            checks.acknowledge(session, ctx, check["id"], rule)
        dose = plan["doses"][0]["id"]
    engine.dispose()
    return int(pid), int(dose)


def _beside(page: Any, field_id: str, text: str) -> None:
    from playwright.sync_api import expect

    error = page.locator(f"#e-{field_id}")
    expect(error).to_contain_text(text)
    assert not RAW.search(error.inner_text()), error.inner_text()
    expect(page.locator(f"#f-{field_id}")).to_have_attribute("aria-invalid", "true")


def test_nurse_is_refused_impossible_entries_beside_the_field_and_strikes_one_out(
    page: Any, live: Live
):
    from playwright.sync_api import expect

    _, dose = _cleared_patient(live, "E2E-LIM", "Lindqvist")
    sign_in(page, live, "nurse")
    page.goto(f"{live.base}/doses/{dose}/infusion")
    page.get_by_label(re.compile("Bag volume")).fill("50")
    page.get_by_role("button", name="Start the infusion").click()
    _beside(page, "volume_ml", "too small")
    expect(page.get_by_label(re.compile("Bag volume"))).to_have_value("50")  # kept
    shot(page, "infusion-bag-refused")
    page.get_by_label(re.compile("Bag volume")).fill("")
    page.get_by_role("button", name="Start the infusion").click()
    expect(page.get_by_role("status")).to_have_text("Infusion started.")

    page.locator("#f-vital-kind").select_option("spo2")
    page.locator("#f-vital-value").fill("150")
    page.get_by_role("button", name="Record the vital sign").click()
    _beside(page, "vital-value", "not possible")
    expect(page.locator("#f-vital-value")).to_have_value("150")

    page.locator("#f-vital-kind").select_option("systolic")
    page.locator("#f-vital-value").fill("85")
    page.get_by_role("button", name="Record the vital sign").click()
    expect(page.get_by_role("status")).to_have_text("Vital sign recorded.")
    vital = page.locator("li.entry", has_text="systolic 85 mmHg")
    expect(vital.locator(".flag-low")).to_have_text("low")

    page.locator("#f-rate-rate_ml_h").fill("99999")
    page.get_by_role("button", name="Record the rate").click()
    _beside(page, "rate-rate_ml_h", "maximum")

    page.locator("#f-premedication-drug").fill("acetaminophen")
    page.locator("#f-premedication-dose").fill("-650 mg")
    page.get_by_role("button", name="Record the premedication").click()
    _beside(page, "premedication-dose", "more than 0 mg")

    unlabelled = page.evaluate(UNLABELLED)
    assert unlabelled == [], f"the visit page has fields without a label: {unlabelled}"

    vital = page.locator("li.entry", has_text="systolic 85 mmHg")
    vital.locator("summary").click()
    vital.get_by_label("Kind of correction").select_option("entered_in_error")
    vital.get_by_role("button", name="Save the correction").click()
    vital = page.locator("li.entry", has_text="systolic 85 mmHg")
    expect(vital.locator("p.error")).to_contain_text("why")  # the reason is required
    vital.get_by_label("Reason for the correction").fill("cuff on the wrong arm")
    vital.get_by_role("button", name="Save the correction").click()
    expect(page.get_by_role("status")).to_contain_text("Correction saved")
    struck = page.locator("li.entry.entered-in-error", has_text="85")
    expect(struck.locator("del")).to_contain_text("systolic 85 mmHg")
    expect(struck).to_contain_text("cuff on the wrong arm")
    shot(page, "visit-correction")


def test_a_grade_4_reaction_waits_for_the_prescriber_and_every_page_agrees(page: Any, live: Live):
    from playwright.sync_api import expect

    pid, dose = _cleared_patient(live, "E2E-G4", "Gruber")
    sign_in(page, live, "nurse")
    page.goto(f"{live.base}/doses/{dose}/infusion")
    page.get_by_role("button", name="Start the infusion").click()
    expect(page.get_by_role("status")).to_have_text("Infusion started.")
    page.locator("#f-reaction-onset_minute").fill("0")
    page.locator("#f-reaction-grade").select_option("4")
    page.locator("#f-reaction-actions").fill("anaphylaxis: adrenaline, infusion stopped")
    page.get_by_role("button", name="Record the reaction and re-plan").click()
    expect(page.locator("#visit-status")).to_contain_text("stopped")
    expect(
        page.get_by_role("heading", name="Record the volume infused before the stop")
    ).to_be_visible()

    page.goto(f"{live.base}/patients/{pid}")
    summary = page.get_by_role("region", name="Summary")
    expect(summary).to_contain_text("held pending prescriber review")
    expect(summary).not_to_contain_text("No active plan")
    expect(summary).not_to_contain_text("None in the recent checks")
    expect(page.get_by_role("button", name="Record the decision")).to_have_count(0)
    shot(page, "patient-held-for-review")

    sign_in(page, live, "prescriber")
    page.goto(f"{live.base}/patients/{pid}")
    page.get_by_label("Prescriber decision").select_option("resume")
    page.get_by_role("button", name="Record the decision").click()
    _beside(page, _review_prefix(page) + "reason", "reason")
    page.get_by_label("Prescriber decision").select_option("discontinue")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("status")).to_have_text("Review decision recorded.")
    summary = page.get_by_role("region", name="Summary")
    expect(summary).to_contain_text("No active plan")
    expect(summary).not_to_contain_text("held pending prescriber review")


def _review_prefix(page: Any) -> str:
    """The id prefix of the review form's fields (``review-<plan id>-``)."""
    action = page.locator("form.review-form").get_attribute("action")
    return f"review-{action.split('/')[2]}-"
