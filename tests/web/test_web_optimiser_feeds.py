"""The scheduling page's optimiser (propose a week, review, accept; a stale proposal is
refused and writes nothing), the nurse shifts of the week view, and the patient page's
private calendar links (create once, list, revoke), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.persistence.models import Appointment, ScheduleProposal
from msinfuse.services.context import PERMISSIONS, ROLES
from tests.support import username
from tests.web.conftest import Web

WEEK = "/schedule?site=NORTH&week=2026-11-24"


@contextmanager
def db(web: Web) -> Iterator[Session]:
    engine = make_engine(web.url)
    try:
        with session_scope(session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def appointment_count(web: Web) -> int:
    with db(web) as session:
        return int(session.scalar(select(func.count()).select_from(Appointment)) or 0)


def propose(web: Web, role: str = "scheduler", **extra: str) -> int:
    response = web.post(
        "/schedule/propose",
        role,
        {"site": "NORTH", "week": "2026-11-24", "time_limit": "2", **extra},
    )
    assert response.status_code == 303, response.text[:800]
    found = re.search(r"proposal=(\d+)", response.headers["location"])
    assert found is not None
    return int(found.group(1))


def test_the_week_view_offers_the_optimiser_with_a_default_and_capped_time_limit(web: Web):
    page = web.page(WEEK, "scheduler")
    slot = page.split('data-slot="optimiser"')[1].split("</section>")[0]
    assert 'hx-post="/schedule/propose"' in slot
    assert 'hx-indicator="#opt-progress"' in slot
    assert 'name="time_limit" min="1" max="120"' in slot
    assert 'value="10"' in slot
    assert 'name="csrf_token"' in slot


def test_scheduler_proposes_sees_the_proposal_then_accepts_and_the_bookings_are_written(
    web: Web,
):
    before = appointment_count(web)
    proposal_id = propose(web)
    assert appointment_count(web) == before  # a proposal books nothing
    page = web.page(f"{WEEK}&proposal={proposal_id}", "scheduler")
    panel = page.split('id="proposal"')[1].split("</section>")[0]
    assert "Checker:</strong>" in panel
    assert "every hard constraint holds" in panel
    assert "Objective (lower is better)" in panel
    assert "schedule is a proposal" in panel  # the decision-support line of the proposal
    assert "No nurse shift is recorded at site NORTH" in panel  # the default roster policy
    # her overdue dose is proposed, laid over the week apart from the existing bookings
    proposed = page.split('<div class="booking proposed"')[1].split("</div>")[0]
    assert f'href="/patients/{web.clinic.fischer}"' in proposed
    assert "proposed" in proposed
    assert "Accept and book 1" in panel
    with db(web) as session:
        row = session.get(ScheduleProposal, proposal_id)
        assert row is not None
        assert row.status == "proposed"
        bookings = list(row.payload["bookings"])
    assert [b["patient_id"] for b in bookings] == [web.clinic.fischer]

    accepted = web.post(f"/schedule/proposals/{proposal_id}/accept", "scheduler")
    assert accepted.status_code == 303, accepted.text[:800]
    assert "notice=accepted" in accepted.headers["location"]
    with db(web) as session:
        row = session.get(ScheduleProposal, proposal_id)
        assert row is not None
        assert row.status == "accepted"
        written = session.scalars(
            select(Appointment).where(Appointment.planned_dose_id == bookings[0]["dose_id"])
        ).all()
    assert appointment_count(web) == before + 1
    assert [(a.chair_id, a.starts_at.isoformat(timespec="minutes")) for a in written] == [
        (bookings[0]["chair_id"], bookings[0]["starts_at"])
    ]
    week = web.page(accepted.headers["location"], "scheduler")
    assert "Proposal accepted" in week
    assert week.count('<details class="booking">') == 3  # Diaz, Evans and now Fischer
    # accepting again is refused: nothing is written twice
    again = web.post(f"/schedule/proposals/{proposal_id}/accept", "scheduler")
    assert again.status_code == 409
    assert "accepted already" in again.text
    assert appointment_count(web) == before + 1


def test_a_stale_proposal_shows_the_conflict_and_writes_nothing(web: Web):
    proposal_id = propose(web)
    page = web.page(WEEK, "scheduler")
    dose_id = int(page.split('name="planned_dose_id" value="')[1].split('"')[0])
    booked = web.post(  # someone books the dose by hand after the proposal was made
        "/schedule/book",
        "nurse",
        {
            "site": "NORTH",
            "patient_id": str(web.clinic.fischer),
            "planned_dose_id": str(dose_id),
            "chair_id": str(web.clinic.chairs[2]),
            "starts_at": "2026-11-26T13:00",
        },
    )
    assert booked.status_code == 303
    before = appointment_count(web)
    refused = web.post(f"/schedule/proposals/{proposal_id}/accept", "scheduler")
    assert refused.status_code == 409
    assert "is stale" in refused.text
    assert "Propose the week again" in refused.text
    assert "Nothing was booked." in refused.text
    assert 'id="proposal"' in refused.text  # the proposal stays on screen: nothing lost
    assert appointment_count(web) == before
    with db(web) as session:
        row = session.get(ScheduleProposal, proposal_id)
        assert row is not None
        assert row.status == "proposed"


def test_htmx_propose_redirects_the_browser_and_errors_stay_beside_the_field(web: Web):
    response = web.post(
        "/schedule/propose",
        "nurse",
        {"site": "NORTH", "week": "2026-11-24", "time_limit": "2"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert re.fullmatch(
        r"/schedule\?site=NORTH&week=2026-11-23&proposal=\d+", response.headers["hx-redirect"]
    )
    refused = web.post(
        "/schedule/propose",
        "scheduler",
        {"site": "NORTH", "week": "2026-11-24", "time_limit": "900", "allow_moves": "on"},
    )
    assert refused.status_code == 400
    assert 'id="e-opt-time_limit"' in refused.text
    assert "between 1 and 120" in refused.text
    assert 'value="900"' in refused.text
    assert "checked" in refused.text
    assert (
        web.post(
            "/schedule/propose",
            "scheduler",
            {"site": "NOPE", "week": "2026-11-24", "time_limit": "2"},
        ).status_code
        == 409
    )


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_and_may_use_the_optimiser_as_the_matrix_says(web: Web, role: str):
    page = web.page(WEEK, role)
    may_propose = role in PERMISSIONS["schedule.propose"]
    assert ("Propose the week</button>" in page) == may_propose
    assert ("Record a nurse shift" in page) == (role in PERMISSIONS["shifts.write"])
    form = {"site": "NORTH", "week": "2026-11-24", "time_limit": "1"}
    response = web.post("/schedule/propose", role, form)
    assert response.status_code == (303 if may_propose else 403)
    if may_propose:
        proposal_id = int(response.headers["location"].rsplit("=", 1)[1])
        shown = web.page(f"{WEEK}&proposal={proposal_id}", role)
        assert ("Accept and book" in shown) == (role in PERMISSIONS["schedule.accept"])
    else:
        proposal_id = propose(web)
        shown = web.page(f"{WEEK}&proposal={proposal_id}", role)
        assert 'id="proposal"' not in shown  # not shown to a role that may not propose
    accept = web.post(f"/schedule/proposals/{proposal_id}/accept", role)
    assert accept.status_code == (303 if role in PERMISSIONS["schedule.accept"] else 403)


def test_nurse_shifts_are_shown_per_day_and_added_and_removed_by_permitted_roles(web: Web):
    added = web.post(
        "/schedule/shifts",
        "scheduler",
        {
            "site": "NORTH",
            "day": "2026-11-25",
            "shift_starts": "07:30",
            "shift_ends": "15:00",
            "break_starts": "12:00",
        },
    )
    assert added.status_code == 303, added.text[:800]
    page = web.page(WEEK, "nurse")
    cell = page.split('data-day="2026-11-25"')[1].split('</div>\n  <div role="cell"')[0]
    assert "07:30–15:00" in cell
    assert "break 12:00" in cell
    assert "/delete" not in cell  # a nurse sees the shift but may not remove it
    assert 'data-day="2026-11-24"' in page
    assert "no shift recorded" in page
    assert web.post("/schedule/shifts", "nurse", {"site": "NORTH"}).status_code == 403
    wrong = web.post(
        "/schedule/shifts",
        "admin",
        {"site": "NORTH", "day": "2026-11-26", "shift_starts": "15:00", "shift_ends": "08:00"},
    )
    assert wrong.status_code == 400
    assert 'id="e-sh-shift_ends"' in wrong.text
    assert 'value="15:00"' in wrong.text
    mine = web.page(WEEK, "scheduler")
    shift_id = int(mine.split('action="/schedule/shifts/')[1].split("/delete")[0])
    assert web.post(f"/schedule/shifts/{shift_id}/delete", "nurse").status_code == 403
    removed = web.post(f"/schedule/shifts/{shift_id}/delete", "scheduler")
    assert removed.status_code == 303
    assert "07:30–15:00" not in web.page(WEEK, "scheduler")


def test_proposal_uses_the_recorded_shifts(web: Web):
    for day in ("2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"):
        web.post(
            "/schedule/shifts",
            "scheduler",
            {"site": "NORTH", "day": day, "shift_starts": "07:30", "shift_ends": "16:00"},
        )
    proposal_id = propose(web)
    panel = web.page(f"{WEEK}&proposal={proposal_id}", "scheduler").split('id="proposal"')[1]
    # Tuesday to Friday have recorded shifts: only Monday gets the default roster
    assert "No nurse shift is recorded at site NORTH on 2026-11-23:" in panel


# ---------------------------------------------------------------------------- calendar feeds


def test_nurse_creates_a_calendar_link_sees_it_once_and_revokes_it(web: Web):
    patient = f"/patients/{web.clinic.diaz}"
    page = web.page(patient, "nurse")
    slot = page.split('data-slot="calendar-feed"')[1].split("</li>")[0]
    assert "No calendar link yet." in slot
    assert "Create a calendar link" in slot
    created = web.post(f"{patient}/calendar-feeds", "nurse")
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    url = re.search(r'id="feed-url"[^>]*readonly value="([^"]+)"', created.text)
    assert url is not None
    assert re.fullmatch(r"http://testserver/calendar/[A-Za-z0-9_-]{40,}\.ics", url.group(1))
    path = url.group(1).removeprefix("http://testserver")
    feed = web.get(path, None)
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    again = web.page(patient, "prescriber")
    assert path not in again  # the token is shown only at creation
    row = again.split("<tr data-feed=")[1].split("</tr>")[0]
    assert f"<td>{username('nurse')}</td>" in row  # created by
    assert "never" not in row  # the read above is its last use
    assert "active" in row
    feed_id = int(row.split('"')[1])
    revoked = web.post(f"/calendar-feeds/{feed_id}/revoke", "prescriber")
    assert revoked.status_code == 303
    assert revoked.headers["location"].endswith("?notice=feed-revoked")
    assert web.get(path, None).status_code == 404
    after = web.page(patient, "nurse")
    assert "revoked" in after.split("<tr data-feed=")[1].split("</tr>")[0]
    assert f'action="/calendar-feeds/{feed_id}/revoke"' not in after


@pytest.mark.parametrize("role", ROLES)
def test_only_roles_that_manage_feeds_see_or_change_calendar_links(web: Web, role: str):
    patient = f"/patients/{web.clinic.diaz}"
    allowed = role in PERMISSIONS["feeds.manage"]
    slot = web.page(patient, role).split('data-slot="calendar-feed"')[1].split("</li>")[0]
    assert ("Create a calendar link" in slot) == allowed
    assert ("<form" in slot) == allowed
    created = web.post(f"{patient}/calendar-feeds", role)
    assert created.status_code == (201 if allowed else 403)
    if not allowed:
        made = web.post(f"{patient}/calendar-feeds", "nurse")
        feed_id = int(made.text.split("<tr data-feed=")[1].split('"')[1])
    else:
        feed_id = int(created.text.split("<tr data-feed=")[1].split('"')[1])
    revoked = web.post(f"/calendar-feeds/{feed_id}/revoke", role)
    assert revoked.status_code == (303 if allowed else 403)
