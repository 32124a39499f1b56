"""The week's scheduling proposal and nurse shifts through the real API (SQLite and
PostgreSQL): record shifts, propose, read, refuse a stale proposal, accept, see the bookings."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.test_api_flow import patient, site, start_plan

WEEK = "2026-11-30"


def _shifts(api: Api) -> None:
    for day in range(30, 35):
        on = "2026-11-30" if day == 30 else f"2026-12-{day - 30:02d}"
        for start, brk in (("07:45", "12:00"), ("08:00", "12:30")):
            api.ok(
                api.post(
                    "/schedule/shifts",
                    "scheduler",
                    json={
                        "site": "NORTH",
                        "day": on,
                        "starts": start,
                        "ends": "17:30",
                        "break_starts": brk,
                    },
                ),
                201,
            )


def _propose(api: Api, role: str = "scheduler") -> Any:
    return api.post(
        "/schedule/proposals", role, json={"site": "NORTH", "week": WEEK, "time_limit": 2}
    )


def test_propose_read_refuse_stale_and_accept(api: Api):
    chairs = site(api, chairs=2)["chairs"]
    _shifts(api)
    shifts = api.ok(api.get("/schedule/shifts", params={"site": "NORTH", "start": WEEK}))
    assert shifts["total"] == 10
    due = start_plan(api, patient(api, home_site="NORTH"), "natalizumab", "2026-12-01")
    other = patient(api, mrn="M2", home_site="NORTH")
    booked_dose = start_plan(api, other, "natalizumab", "2026-12-02")["doses"][0]
    fixed = api.ok(
        api.post(
            "/appointments",
            "scheduler",
            json={
                "patient_id": other,
                "chair_id": chairs[0]["id"],
                "starts_at": "2026-12-02T09:00:00",
                "planned_dose_id": booked_dose["id"],
            },
        ),
        201,
    )

    proposal = api.ok(_propose(api), 201)
    assert proposal["status"] == "proposed"
    assert proposal["violations"] == []
    assert proposal["rejections"] == []
    assert [b["dose_id"] for b in proposal["bookings"]] == [due["doses"][0]["id"]]
    assert proposal["fixed"] == 1
    assert "Decision support" in proposal["decision_support"]
    assert proposal["objective"]["total"] == proposal["objective"]["days_away"] * 60
    read = api.ok(api.get(f"/schedule/proposals/{proposal['id']}", "nurse"))
    assert read["bookings"] == proposal["bookings"]
    listed = api.ok(api.get("/schedule/proposals", "scheduler", params={"site": "NORTH"}))
    assert listed["items"][0]["id"] == proposal["id"]
    assert "bookings" not in listed["items"][0]

    api.ok(api.post(f"/appointments/{fixed['id']}/cancel", "scheduler", json={"reason": "called"}))
    stale = api.post(f"/schedule/proposals/{proposal['id']}/accept", "scheduler")
    assert stale.status_code == 409
    assert f"appointment {fixed['id']} was cancelled" in stale.json()["detail"]

    fresh = api.ok(_propose(api), 201)
    assert len(fresh["bookings"]) == 2
    assert api.post(f"/schedule/proposals/{fresh['id']}/accept", "pharmacist").status_code == 403
    accepted = api.ok(api.post(f"/schedule/proposals/{fresh['id']}/accept", "admin"))
    assert len(accepted["booked"]) == 2
    week = api.ok(api.get("/appointments", params={"date": WEEK, "days": 5, "site": "NORTH"}))
    assert {a["planned_dose_id"] for a in week["items"]} == {
        due["doses"][0]["id"],
        booked_dose["id"],
    }
    again = api.post(f"/schedule/proposals/{fresh['id']}/accept", "admin")
    assert again.status_code == 409


def test_roles_and_validation(api: Api):
    site(api)
    assert _propose(api, "viewer").status_code == 403
    assert _propose(api, "pharmacist").status_code == 403
    body = {"site": "NORTH", "day": WEEK, "starts": "08:00", "ends": "16:00"}
    assert api.post("/schedule/shifts", "nurse", json=body).status_code == 403
    bad = api.post("/schedule/shifts", "scheduler", json={**body, "ends": "07:00"})
    assert bad.status_code == 422
    created = api.ok(api.post("/schedule/shifts", "scheduler", json=body), 201)
    gone = api.client.delete(
        f"/api/v1/schedule/shifts/{created['id']}", headers=api.headers("admin")
    )
    assert gone.status_code == 200
    too_long = api.post(
        "/schedule/proposals", "scheduler", json={"site": "NORTH", "week": WEEK, "time_limit": 600}
    )
    assert too_long.status_code == 422
    unknown = api.post("/schedule/proposals", "scheduler", json={"site": "NOPE", "week": WEEK})
    assert unknown.status_code == 404
