"""The infusion centre in a real browser: a nurse's day, a prescriber's override, a viewer's
refusal; a screenshot of each main page goes to test-artifacts/."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Live, shot, sign_in

pytestmark = pytest.mark.browser

#: Form fields a screen reader could not name (no <label>, no aria-label).
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && e.labels.length === 0 && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""


def test_nurse_checks_acknowledges_infuses_with_a_grade_2_reaction_and_completes(
    page: Any, live: Live
):
    from playwright.sync_api import expect

    sign_in(page, live, "nurse")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Board")
    diaz = page.locator("article.appt", has_text="Diaz, Ana")
    expect(diaz).to_contain_text("ocrelizumab #1")
    expect(diaz).to_contain_text("not checked")
    shot(page, "board")

    diaz.get_by_role("link", name="Diaz, Ana").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Diaz, Ana")
    expect(page.locator("svg.timeline")).to_be_visible()
    shot(page, "patient")

    page.get_by_role("link", name="Pre-infusion check").click()
    page.get_by_role("button", name="Run the check").click()
    expect(page.get_by_role("status")).to_have_text("Pre-infusion check run and stored.")
    expect(page.locator(".badge.not-cleared")).to_be_visible()
    shot(page, "check")
    page.get_by_role("button", name="Acknowledge this warning").click()
    expect(page.get_by_role("status")).to_have_text("Warning acknowledged.")
    expect(page.locator(".badge.cleared")).to_be_visible()

    page.get_by_role("link", name="Go to the infusion").click()
    expect(page.get_by_role("table").first).to_contain_text("Pump program")
    shot(page, "infusion-plan")
    page.get_by_role("button", name="Start the infusion").click()
    expect(page.get_by_role("status")).to_have_text("Infusion started.")
    expect(page.locator("#visit-status")).to_contain_text("Now: infusing")
    rates_before = page.locator("table.pump").inner_text()

    page.locator("#f-premedication-drug").fill("methylprednisolone")
    page.locator("#f-premedication-dose").fill("100 mg")
    page.get_by_role("button", name="Record the premedication").click()
    expect(page.get_by_role("status")).to_have_text("Premedication recorded.")

    page.locator("#f-vital-value").fill("118")
    page.locator("#f-vital-unit").fill("mmHg")
    page.get_by_role("button", name="Record the vital sign").click()
    expect(page.get_by_role("status")).to_have_text("Vital sign recorded.")

    page.locator("#f-reaction-onset_minute").fill("0")
    page.locator("#f-reaction-grade").select_option("2")
    page.locator("#f-reaction-actions").fill("infusion slowed, antihistamine")
    page.get_by_role("button", name="Record the reaction and re-plan").click()
    expect(page.get_by_role("status")).to_contain_text("re-planned")
    pump = page.locator("table.pump")
    expect(pump).to_contain_text("re-planned after a grade 2 reaction")
    assert pump.inner_text() != rates_before
    expect(page.locator("#visit-status")).to_contain_text("CTCAE grade 2")
    shot(page, "visit-reaction")

    # The pump stopped minutes in: the end needs the volume infused and a reason.
    page.locator("#f-complete-volume_infused_ml").fill("2")
    page.get_by_role("button", name="Complete and start observation").click()
    expect(page.locator("#e-complete-reason")).to_contain_text("partial dose")
    page.locator("#f-complete-reason").fill("patient asked to stop; infusion to be rebooked")
    page.get_by_role("button", name="Complete and start observation").click()
    expect(page.get_by_role("status")).to_have_text("Infusion completed; observation period set.")
    expect(page.locator("#h-end + ul")).to_contain_text("partial dose")
    expect(page.locator("#visit-status")).to_contain_text("Observation")
    countdown = page.locator(".countdown")
    first = countdown.get_attribute("data-remaining")
    page.wait_for_timeout(1500)
    assert countdown.get_attribute("data-remaining") != first  # the timer ticks
    shot(page, "visit-observation")

    page.get_by_role("link", name="Today").click()
    expect(page.locator("article.appt", has_text="Diaz, Ana")).to_contain_text("Observation")


def test_prescriber_overrides_a_hold_with_a_reason(page: Any, live: Live):
    from playwright.sync_api import expect

    sign_in(page, live, "prescriber")
    page.goto(f"{live.base}/patients/{live.clinic.evans}/check?dose={live.clinic.evans_dose}")
    page.get_by_role("button", name="Run the check").click()
    expect(page.locator(".badge.decision-hold").first).to_be_visible()
    holds = page.locator("form.override")
    count = holds.count()
    assert count >= 1
    holds.first.get_by_label("Reason for overriding this hold").fill("too short")
    holds.first.get_by_role("button", name="Override the hold").click()
    expect(page.locator("form.override p.error").first).to_contain_text("at least")
    expect(page.locator("textarea").first).to_have_value("too short")  # kept
    for _ in range(count):
        form = page.locator("form.override").first
        form.get_by_label("Reason for overriding this hold").fill(
            "Results seen from the referring hospital today"
        )
        form.get_by_role("button", name="Override the hold").click()
        expect(page.get_by_role("status")).to_contain_text("Hold overridden")
    expect(page.locator(".badge.cleared")).to_be_visible()
    shot(page, "check-override")


def test_viewer_is_refused_a_change(page: Any, live: Live):
    from playwright.sync_api import expect

    sign_in(page, live, "viewer")
    page.goto(f"{live.base}/patients/{live.clinic.fischer}")
    expect(page.get_by_role("heading", name="PML risk (natalizumab)")).to_be_visible()
    expect(page.get_by_role("link", name="Start or change a plan")).to_have_count(0)
    response = page.goto(f"{live.base}/patients/{live.clinic.fischer}/plan")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.get_by_role("alert")).to_contain_text("viewer role may not do plans.write")


def test_main_pages_render_at_tablet_width_without_errors(page: Any, live: Live):
    from playwright.sync_api import expect

    sign_in(page, live, "admin")
    for path, name in (
        ("/worklists/monitoring", "worklist-monitoring"),
        ("/worklists/pml", "worklist-pml"),
        ("/schedule", "schedule"),
        ("/drugs", "drugs"),
        ("/drugs/compare", "drugs-compare"),
        ("/drugs/natalizumab", "drug-natalizumab"),
        ("/admin/users", "admin-users"),
        ("/admin/sites", "admin-sites"),
        ("/admin/limits", "admin-limits"),
    ):
        page.goto(live.base + path)
        expect(page.locator("main h1")).to_be_visible()
        unlabelled = page.evaluate(UNLABELLED)
        assert unlabelled == [], f"{path} has fields without a label: {unlabelled}"
        assert page.locator("header[role=banner], nav, main, footer").count() >= 4
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1024 + 1, f"{path} scrolls sideways at tablet width ({width}px)"
        shot(page, name)
    page.goto(f"{live.base}/patients?search=Fischer")
    page.get_by_role("link", name=re.compile("Fischer")).click()
    shot(page, "patient-natalizumab")


def test_scheduler_proposes_and_accepts_a_week_and_sees_the_new_bookings(page: Any, live: Live):
    from playwright.sync_api import expect

    today = date.today()
    week = today if today.weekday() < 5 else today + timedelta(days=7 - today.weekday())
    sign_in(page, live, "scheduler")
    page.goto(f"{live.base}/schedule?site={live.clinic.site}&week={week.isoformat()}")
    before = page.locator("details.booking").count()
    expect(page.locator(".booking.proposed")).to_have_count(0)
    page.get_by_label("Time limit (s)").fill("2")  # short solve on the small clinic
    page.get_by_role("button", name="Propose the week").click()
    expect(page.locator("#opt-progress")).to_be_visible()  # htmx shows progress while it runs
    page.wait_for_url(re.compile(r"proposal=\d+"), timeout=60_000)
    panel = page.locator("#proposal")
    expect(panel).to_contain_text("every hard constraint holds")
    expect(panel).to_contain_text("Objective (lower is better)")
    expect(panel).to_contain_text("The schedule is a proposal")
    proposed = page.locator(".week .booking.proposed")
    expect(proposed.first).to_be_visible()
    count = proposed.count()
    assert count >= 1
    unlabelled = page.evaluate(UNLABELLED)
    assert unlabelled == [], f"the proposal page has fields without a label: {unlabelled}"
    shot(page, "schedule-proposal")
    page.get_by_role("button", name=re.compile("Accept and book")).click()
    page.wait_for_url(re.compile(r"notice=accepted"))
    expect(page.get_by_text("Proposal accepted")).to_be_visible()
    expect(page.locator(".booking.proposed")).to_have_count(0)
    expect(page.locator("details.booking")).to_have_count(before + count)
    shot(page, "schedule-accepted")


def test_nurse_creates_and_revokes_a_calendar_link(page: Any, live: Live):
    from playwright.sync_api import expect

    sign_in(page, live, "nurse")
    page.goto(f"{live.base}/patients/{live.clinic.diaz}")
    page.get_by_role("button", name="Create a calendar link").click()
    field = page.get_by_label(re.compile("New calendar link"))
    expect(field).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/calendar/.+\.ics$"))
    url = field.input_value()
    feed = page.request.get(url)
    assert feed.status == 200
    page.goto(f"{live.base}/patients/{live.clinic.diaz}")
    expect(page.get_by_label(re.compile("New calendar link"))).to_have_count(0)
    page.get_by_role("button", name=re.compile("Revoke calendar link")).first.click()
    expect(page.get_by_text("Calendar link revoked")).to_be_visible()
    assert page.request.get(url).status == 404
