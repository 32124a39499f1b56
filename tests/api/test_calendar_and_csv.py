"""Patient calendar feeds and CSV worklist exports over HTTP: the feed parses back as
iCalendar with the planned infusions and monitoring, a revoked token answers 404, feed
management follows the permissions; every worklist downloads as CSV."""

from __future__ import annotations

import csv
import io

import pytest
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.api.conftest import Api
from tests.integration.conftest import make_ctx

from msinfuse.persistence.engine import make_engine
from msinfuse.persistence.models import Patient, PlannedDose
from msinfuse.services.demo import build_demo_clinic


@pytest.fixture
def demo(api: Api) -> Api:
    engine = make_engine(api.url)
    with Session(engine) as session:
        build_demo_clinic(session, make_ctx(), patients=5, seed=3, chairs_per_site=3)
        session.commit()
    engine.dispose()
    return api


def _patient_with_planned_doses(api: Api) -> int:
    engine = make_engine(api.url)
    with Session(engine) as session:
        pid = session.scalars(
            select(PlannedDose.patient_id)
            .where(PlannedDose.status == "planned", PlannedDose.planned_on >= make_ctx().today)
            .order_by(PlannedDose.patient_id)
        ).first()
        assert session.get(Patient, pid) is not None
    engine.dispose()
    assert pid is not None
    return pid


def test_a_patients_feed_parses_back_with_infusions_and_then_revokes_to_404(demo: Api):
    pid = _patient_with_planned_doses(demo)
    created = demo.ok(demo.post(f"/patients/{pid}/calendar-feeds"), 201)
    feed = demo.client.get(created["path"])
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(feed.content)
    events = list(calendar.walk("VEVENT"))
    infusions = [e for e in events if "infusion" in str(e.get("summary"))]
    assert infusions
    description = str(infusions[0].get("description"))
    assert "Expected time in the infusion chair: about" in description
    assert "Decision support only" in description
    assert "Label revisions:" in description
    assert len({str(e.get("uid")) for e in events}) == len(events)
    listed = demo.ok(demo.get(f"/patients/{pid}/calendar-feeds"))
    assert [f["id"] for f in listed] == [created["id"]]
    assert "token" not in listed[0]
    demo.ok(demo.post(f"/calendar-feeds/{created['id']}/revoke"))
    assert demo.client.get(created["path"]).status_code == 404
    assert demo.client.get("/calendar/not-a-token.ics").status_code == 404


def test_only_staff_with_feeds_manage_create_feeds(demo: Api):
    pid = _patient_with_planned_doses(demo)
    assert demo.post(f"/patients/{pid}/calendar-feeds", role="scheduler").status_code == 403
    assert demo.post(f"/patients/{pid}/calendar-feeds", role="prescriber").status_code == 201


@pytest.mark.parametrize(
    ("path", "first_column"),
    [
        ("/worklists/today", "site"),
        ("/worklists/due", "planned_on"),
        ("/worklists/monitoring", "due_on"),
        ("/worklists/pml", "patient_id"),
        ("/worklists/adherence?from=2020-01-01", "agent"),
    ],
)
def test_every_worklist_downloads_as_csv(demo: Api, path: str, first_column: str):
    sep = "&" if "?" in path else "?"
    response = demo.get(f"{path}{sep}format=csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["x-decision-support"].startswith("Decision support only")
    rows = list(csv.reader(io.StringIO(response.text)))
    json_rows = demo.ok(demo.get(f"{path}{sep}limit=500"))["items"]
    if json_rows:
        assert rows[0][0] == first_column
        assert len(rows) == len(json_rows) + 1
        assert set(rows[0]) == set(json_rows[0])


def test_an_unknown_format_is_refused(demo: Api):
    assert demo.get("/worklists/due?format=xml").status_code == 422
