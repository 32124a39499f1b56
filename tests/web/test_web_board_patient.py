"""Today's board and the patient page, through the app on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.web.conftest import Web


def test_board_shows_each_appointment_on_its_chair_with_agent_infusion_and_check(web: Web):
    c = web.clinic
    web.post(
        f"/patients/{c.evans}/check",
        data={"agent": "ocrelizumab", "date": "2026-11-24", "dose": str(c.evans_dose)},
    )
    page = web.page("/board?site=NORTH")
    assert "Diaz, Ana" in page
    assert "Evans, Beth" in page
    assert "ocrelizumab #1" in page
    assert 'class="badge decision-hold"' in page  # Evans's check holds
    assert "not checked" in page  # Diaz has no check yet
    assert "Decision support:" in page
    assert "Label revisions:" in page
    assert 'hx-get="/board/grid?site=NORTH&amp;date=2026-11-24"' in page
    assert 'hx-trigger="every 30s"' in page


def test_board_grid_fragment_is_served_alone_for_htmx_polling(web: Web):
    fragment = web.page("/board/grid?site=NORTH")
    assert fragment.lstrip().startswith("<section")
    assert "<html" not in fragment
    assert "Diaz, Ana" in fragment


def test_board_of_another_day_has_no_appointments(web: Web):
    assert "0 appointments" in web.page("/board?site=NORTH&date=2026-12-25")


def test_patient_page_has_summary_timeline_calendar_monitoring_and_documents(web: Web):
    page = web.page(f"/patients/{web.clinic.diaz}")
    assert "Diaz, Ana" in page
    assert "M-1001" in page
    assert "ocrelizumab" in page
    assert "Next dose" in page
    assert '<svg class="timeline"' in page
    assert "Dose calendar" in page
    assert "Monitoring due" in page
    assert "/drugs/ocrelizumab/handout" in page
    assert 'data-slot="calendar-feed"' in page
    assert "PML risk" not in page  # not on natalizumab
    assert "Decision support:" in page
    assert "ocrelizumab" in page.split("Label revisions:")[1]


def test_natalizumab_patient_page_shows_pml_risk_and_labs_and_mris_on_the_timeline(web: Web):
    page = web.page(f"/patients/{web.clinic.fischer}")
    assert "PML risk (natalizumab)" in page
    assert "index 0.9" in page
    svg = page.split('<svg class="timeline"')[1].split("</svg>")[0]
    assert "Anti-JCV index 0.9" in svg
    assert "MRI of the brain" in svg
    assert "Lymphocytes" in svg


def test_unknown_patient_is_a_404_page(web: Web):
    response = web.get("/patients/987654")
    assert response.status_code == 404
    assert "Not found" in response.text


def test_patient_search_finds_by_name(web: Web):
    page = web.page("/patients?search=Evans")
    assert "Evans, Beth" in page
    assert "Diaz, Ana" not in page
