"""Worklists, scheduling, the drug library and administration through the app."""

from __future__ import annotations

import csv
import io

from tests.web.conftest import Web


def test_doses_without_appointments_worklist_sorts_filters_and_exports_csv(web: Web):
    page = web.page("/worklists/due")
    assert "Fischer" in page  # natalizumab doses are not booked
    assert "<td>ocrelizumab</td><td>1</td>" not in page  # infusion 1 is booked
    filtered = web.page("/worklists/due?q=nobody-matches")
    assert "Nothing on this worklist." in filtered
    response = web.get("/worklists/due?sort=-planned_on&format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment;" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["Family name", "Given name", "Record"]
    planned = [r[rows[0].index("Planned")] for r in rows[1:]]
    assert planned == sorted(planned, reverse=True)
    assert len(rows) > 1


def test_every_worklist_opens_and_an_unknown_one_is_404(web: Web):
    for kind in ("monitoring", "due", "jcv-touch", "pml", "adherence"):
        page = web.page(f"/worklists/{kind}", "viewer")
        assert "Decision support:" in page
    assert web.get("/worklists/nope").status_code == 404


def test_pml_worklist_lists_the_natalizumab_patient(web: Web):
    assert "Fischer" in web.page("/worklists/pml?sort=-risk_per_1000")


def test_drug_library_lists_every_agent_with_a_handout_and_the_comparison(web: Web):
    page = web.page("/drugs", "viewer")
    for agent in ("natalizumab", "ocrelizumab", "ublituximab", "alemtuzumab", "rituximab"):
        assert f"/drugs/{agent}/handout" in page
    compare = web.page("/drugs/compare", "viewer")
    assert "Key risks" in compare
    assert compare.count('<th scope="col"><a href="/drugs/') == len(web_kb_agents())


def test_agent_page_shows_facts_with_their_citations(web: Web):
    page = web.page("/drugs/natalizumab?profile=eu", "pharmacist")
    assert "Source:" in page
    assert "Boxed warning:" in page or "boxed" in page.lower()
    assert "Label revisions:" in page


def test_handout_is_printable_html_with_its_own_script_free_policy(web: Web):
    response = web.get("/drugs/ocrelizumab/handout")
    assert response.status_code == 200
    assert "information for patients" in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # default-src 'none' forbids every script


def test_unknown_agent_is_404(web: Web):
    assert web.get("/drugs/aspirin").status_code == 404


def test_scheduler_books_a_dose_and_moves_the_appointment(web: Web):
    page = web.page("/schedule?site=NORTH&week=2026-11-24", "scheduler")
    assert 'data-slot="optimiser"' in page
    assert "Fischer, Carla" in page  # her dose has no appointment yet
    plan = web.page(f"/patients/{web.clinic.fischer}", "scheduler")
    assert "Dose calendar" in plan
    dose_id = int(page.split('name="planned_dose_id" value="')[1].split('"')[0])
    chair = web.clinic.chairs[2]
    booked = web.post(
        "/schedule/book",
        "scheduler",
        {
            "site": "NORTH",
            "patient_id": str(web.clinic.fischer),
            "planned_dose_id": str(dose_id),
            "chair_id": str(chair),
            "starts_at": "2026-11-25T13:00",
        },
    )
    assert booked.status_code == 303, booked.text[:500]
    week = web.page("/schedule?site=NORTH&week=2026-11-25", "scheduler")
    assert "13:00–" in week
    appointment = int(week.split('action="/appointments/')[-1].split("/move")[0])
    moved = web.post(
        f"/appointments/{appointment}/move",
        "scheduler",
        {"site": "NORTH", "starts_at": "2026-11-26T14:00", "chair_id": str(chair)},
    )
    assert moved.status_code == 303
    assert "14:00–" in web.page("/schedule?site=NORTH&week=2026-11-26", "scheduler")


def test_booking_onto_a_taken_chair_is_refused_and_says_why(web: Web):
    page = web.page("/schedule?site=NORTH", "scheduler")
    dose_id = int(page.split('name="planned_dose_id" value="')[1].split('"')[0])
    refused = web.post(
        "/schedule/book",
        "scheduler",
        {
            "site": "NORTH",
            "patient_id": str(web.clinic.fischer),
            "planned_dose_id": str(dose_id),
            "chair_id": str(web.clinic.chairs[0]),
            "starts_at": "2026-11-24T09:30",  # Diaz is in C01 then
        },
    )
    assert refused.status_code == 409
    assert "already booked" in refused.text
    assert 'value="2026-11-24T09:30"' in refused.text


def test_viewer_sees_the_week_but_no_booking_forms(web: Web):
    page = web.page("/schedule?site=NORTH", "viewer")
    assert "Book</button>" not in page


def test_admin_adds_a_user_and_a_weak_password_is_refused_beside_the_field(web: Web):
    weak = web.post(
        "/admin/users",
        "admin",
        {"username": "nina", "full_name": "Nina Nurse", "role": "nurse", "password": "short"},
    )
    assert weak.status_code == 400
    assert 'id="e-password"' in weak.text
    assert 'value="Nina Nurse"' in weak.text  # kept
    assert "short" not in weak.text.split('id="f-password"')[1].split(">")[0]  # never echoed
    done = web.post(
        "/admin/users",
        "admin",
        {
            "username": "nina",
            "full_name": "Nina Nurse",
            "role": "nurse",
            "password": "Strong-Pass-2026!",
        },
    )
    assert done.status_code == 303
    assert "Nina Nurse" in web.page("/admin/users", "admin")


def test_admin_adds_a_site_with_its_chairs(web: Web):
    done = web.post(
        "/admin/sites",
        "admin",
        {"code": "SOUTH", "name": "South Centre", "chairs": "4", "beds": "1"},
    )
    assert done.status_code == 303
    page = web.page("/admin/sites", "admin")
    assert "SOUTH — South Centre" in page
    assert "B01 (bed)" in page
    bad = web.post("/admin/sites", "admin", {"code": "bad code!", "name": "X"})
    assert bad.status_code == 400
    assert 'id="e-code"' in bad.text


def web_kb_agents() -> list[str]:
    from msinfuse.domain.knowledge.loader import default_knowledge_base

    return sorted(default_knowledge_base().agents)
