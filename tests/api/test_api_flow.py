"""The clinical day through the real API, on SQLite and PostgreSQL: register, screen, plan,
book, check, infuse, react, and see it in worklists and the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import Api

SCREENING = [
    ("hbsag", "negative"),
    ("anti_hbc", "negative"),
    ("igg", 10),
    ("igm", 1),
    ("iga", 2),
    ("alt", 20),
    ("ast", 20),
    ("alp", 70),
    ("bilirubin", 0.5),
]


def site(api: Api, code: str = "NORTH", chairs: int = 2) -> dict[str, Any]:
    return api.ok(
        api.post("/sites", "admin", json={"code": code, "name": code.title(), "chairs": chairs}),
        201,
    )


def patient(api: Api, mrn: str = "M1", family: str = "Diaz", **extra: Any) -> int:
    body = {
        "mrn": mrn,
        "given_name": "Ana",
        "family_name": family,
        "birth_date": "1985-02-01",
        "sex": "female",
        "ms_course": "RRMS",
        "pregnant": False,
        "childbearing_potential": True,
        **extra,
    }
    return int(api.ok(api.post("/patients", "nurse", json=body), 201)["id"])


def screen(api: Api, pid: int, on: str = "2026-11-01") -> None:
    for test, value in SCREENING:
        api.ok(
            api.post(f"/patients/{pid}/labs", json={"test": test, "value": value, "date": on}), 201
        )


def start_plan(api: Api, pid: int, agent: str = "ocrelizumab", start: str = "2026-11-24") -> Any:
    return api.ok(
        api.post(f"/patients/{pid}/plans", "prescriber", json={"agent": agent, "start": start}), 201
    )


class TestInfusionDay:
    def test_screened_patient_is_planned_booked_checked_and_infused(self, api: Api):
        chairs = site(api)["chairs"]
        pid = patient(api, home_site="NORTH")
        screen(api, pid)
        plan = start_plan(api, pid)
        first = plan["doses"][0]
        assert (first["number"], first["planned_on"], first["dose_mg"]) == (1, "2026-11-24", 300)

        rate_plan = api.ok(api.get(f"/doses/{first['id']}/rate-plan"))
        assert rate_plan["steps"][0]["rate_ml_h"] == 30.0  # ocrelizumab initial 300 mg start
        assert rate_plan["label_revisions"]
        assert "Decision support" in rate_plan["decision_support"]

        booked = api.ok(
            api.post(
                "/appointments",
                "scheduler",
                json={
                    "patient_id": pid,
                    "chair_id": chairs[0]["id"],
                    "starts_at": "2026-11-24T09:00:00",
                    "planned_dose_id": first["id"],
                },
            ),
            201,
        )
        assert booked["ends_at"] > booked["starts_at"]  # chair time from the rate plan

        check = api.ok(
            api.post(
                f"/patients/{pid}/checks",
                json={"agent": "ocrelizumab", "date": "2026-11-24", "planned_dose_id": first["id"]},
            ),
            201,
        )
        assert check["decision"] in {"go", "caution"}
        assert check["label_revisions"][0]["agent"] == "ocrelizumab"
        for rule in check["pending_warnings"]:
            api.ok(api.post(f"/checks/{check['id']}/acknowledge", json={"rule": rule}))
        assert api.ok(api.get(f"/checks/{check['id']}"))["cleared"] is True

        rows = api.ok(api.get("/worklists/today", params={"site": "NORTH"}))["items"]
        assert any(r.get("patient_id") == pid for r in rows)

        api.clock.advance(hours=5)  # 13:00: the whole infusion is documented once it is over
        given = api.ok(
            api.post(
                f"/patients/{pid}/administrations",
                json={
                    "planned_dose_id": first["id"],
                    "check_id": check["id"],
                    "appointment_id": booked["id"],
                    "started_at": "2026-11-24T09:20:00+00:00",
                    "ended_at": "2026-11-24T12:40:00+00:00",
                    "rate_events": [
                        {"minute": 0, "rate_ml_h": 30, "kind": "start"},
                        {"minute": 30, "rate_ml_h": 60},
                        {"minute": 45, "rate_ml_h": 0, "kind": "pause"},
                        {"minute": 75, "rate_ml_h": 30, "kind": "resume"},
                    ],
                    "premedications": [{"drug": "methylprednisolone", "dose": "100 mg"}],
                    "vital_signs": [
                        {
                            "kind": "systolic",
                            "value": 118,
                            "unit": "mm[Hg]",
                            "taken_at": "2026-11-24T09:15:00+00:00",
                        }
                    ],
                    "reactions": [{"onset_minute": 45, "grade": 2, "resume_minute": 75}],
                },
            ),
            201,
        )
        record = api.ok(api.get(f"/administrations/{given['id']}"))
        assert [e["rate_ml_h"] for e in record["rate_events"]] == [30, 60, 0, 30]
        assert record["reactions"][0]["grade"] == 2

        after = api.ok(api.get(f"/plans/{plan['id']}"))
        assert after["doses"][0]["status"] == "given"
        assert after["status"] == "active"  # a grade 2 reaction does not stop the agent

        events = api.ok(api.get("/audit", "admin", params={"since": "2026-11-01", "limit": 1000}))[
            "items"
        ]
        actions = {(e["action"], e["resource_type"]) for e in events}
        assert ("create", "Administration") in actions or ("record", "Administration") in actions
        assert any(e["resource_type"] == "CheckResult" for e in events)


class TestHolds:
    def test_unscreened_first_dose_is_held_and_only_a_prescriber_overrides(self, api: Api):
        pid = patient(api)
        plan = start_plan(api, pid)
        first = plan["doses"][0]
        check = api.ok(
            api.post(
                f"/patients/{pid}/checks",
                json={"agent": "ocrelizumab", "date": "2026-11-24", "planned_dose_id": first["id"]},
            ),
            201,
        )
        assert check["decision"] == "hold"
        hold = check["pending_holds"][0]

        refused = api.post(
            f"/patients/{pid}/administrations",
            json={"planned_dose_id": first["id"], "started_at": "2026-11-24T07:50:00+00:00"},
        )
        assert refused.status_code == 409
        assert refused.json()["error"] == "Conflict"

        nurse = api.post(
            f"/checks/{check['id']}/override", json={"rule": hold, "reason": "Screening at GP"}
        )
        assert nurse.status_code == 403
        short = api.post(
            f"/checks/{check['id']}/override", "prescriber", json={"rule": hold, "reason": "ok"}
        )
        assert short.status_code == 400  # a reason of at least ten characters
        overridden = api.ok(
            api.post(
                f"/checks/{check['id']}/override",
                "prescriber",
                json={"rule": hold, "reason": "Screening done at the referring hospital"},
            )
        )
        assert hold in {o["rule"] for o in overridden["overridden"]}
        assert hold not in overridden["pending_holds"]


class TestAppointments:
    def test_a_chair_cannot_be_double_booked(self, api: Api):
        chair = site(api)["chairs"][0]["id"]
        a, b = patient(api, "M1"), patient(api, "M2", "Ek")
        body = {"chair_id": chair, "ends_at": "2026-11-25T12:00:00"}
        api.ok(
            api.post(
                "/appointments",
                "scheduler",
                json={"patient_id": a, "starts_at": "2026-11-25T09:00:00", **body},
            ),
            201,
        )
        clash = api.post(
            "/appointments",
            "scheduler",
            json={
                "patient_id": b,
                "starts_at": "2026-11-25T11:00:00",
                "chair_id": chair,
                "ends_at": "2026-11-25T13:00:00",
            },
        )
        assert clash.status_code == 409
        assert set(clash.json()) == {"error", "detail"}
        listed = api.ok(api.get("/appointments", params={"date": "2026-11-25"}))["items"]
        assert [x["patient_id"] for x in listed] == [a]


class TestLists:
    def test_patients_are_paginated_sorted_and_filtered(self, api: Api):
        for i, family in enumerate(["Young", "Adams", "Moreau", "Baker", "Ng"]):
            patient(api, f"M{i}", family)
        page = api.ok(api.get("/patients", params={"limit": 2, "offset": 0}))
        assert page["total"] == 5
        assert [p["family_name"] for p in page["items"]] == ["Adams", "Baker"]
        page2 = api.ok(api.get("/patients", params={"limit": 2, "offset": 2}))
        assert [p["family_name"] for p in page2["items"]] == ["Moreau", "Ng"]
        found = api.ok(api.get("/patients", params={"search": "mor"}))
        assert [p["family_name"] for p in found["items"]] == ["Moreau"]
        assert api.get("/patients", params={"limit": 0}).status_code == 422
        newest = api.ok(api.get("/patients", params={"sort": "-family_name", "limit": 1}))
        assert [p["family_name"] for p in newest["items"]] == ["Young"]
        assert api.get("/patients", params={"sort": "password_hash"}).status_code == 400

    def test_every_collection_pages_and_sorts_the_same_way(self, api: Api):
        sources = api.ok(api.get("/knowledge/sources", params={"limit": 3, "sort": "-key"}))
        assert sources["limit"] == 3
        assert len(sources["items"]) == 3
        assert sources["total"] > 3
        ids = [s["key"] for s in sources["items"]]
        assert ids == sorted(ids, reverse=True)
        everything = api.ok(api.get("/knowledge/sources", params={"limit": 1000, "sort": "-key"}))
        assert everything["items"][:3] == sources["items"]
        second = api.ok(
            api.get("/knowledge/sources", params={"limit": 3, "offset": 3, "sort": "-key"})
        )
        assert second["items"] == everything["items"][3:6]
        unknown = api.get("/knowledge/sources", params={"sort": "nonsense"})
        assert unknown.status_code == 400
        assert "sortable fields" in unknown.json()["detail"]


class TestErrors:
    def test_unknown_record_is_404_with_the_error_shape(self, api: Api):
        response = api.get("/patients/999999")
        assert response.status_code == 404
        assert response.json() == {"error": "NotFound", "detail": response.json()["detail"]}

    @pytest.mark.parametrize("ident", ["0", "-3", str(2**31), str(2**63)])
    def test_an_identifier_no_row_can_have_is_404_not_a_driver_error(self, api: Api, ident: str):
        for path in (f"/patients/{ident}", f"/patients/{ident}/monitoring"):
            response = api.get(path)
            assert response.status_code == 404, path
        moved = api.patch(f"/appointments/{ident}", role="scheduler", json={"chair_id": 2**40})
        assert moved.status_code == 422
        assert {".".join(map(str, p["loc"])) for p in moved.json()["problems"]} == {"body.chair_id"}

    def test_payload_validation_is_422_naming_fields_not_values(self, api: Api):
        secret = "Zyxwvut-Private-Name"
        response = api.post(
            "/patients",
            json={"mrn": "M1", "given_name": secret, "birth_date": "not-a-date"},
        )
        assert response.status_code == 422
        body = response.json()
        assert body["error"] == "ValidationError"
        locations = {".".join(p["loc"]) for p in body["problems"]}
        assert "body.birth_date" in locations
        assert "body.family_name" in locations
        assert secret not in response.text

    def test_an_unknown_agent_in_a_plan_is_400_listing_the_valid_ones(self, api: Api):
        pid = patient(api)
        response = api.post(
            f"/patients/{pid}/plans", "prescriber", json={"agent": "aspirin", "start": "2026-11-24"}
        )
        assert response.status_code == 400
        assert "valid agents: alemtuzumab" in response.json()["detail"]
