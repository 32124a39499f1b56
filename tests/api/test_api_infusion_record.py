"""The infusion record through the REST API, on SQLite and PostgreSQL: a pump gateway or an
EHR documents a visit with the same limits as the nurse's pages (refusals are 400s naming the
field, in plain words), ends it truthfully, corrects entries, and a prescriber reviews a plan
held after a grade 4 reaction."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.test_api_flow import patient, screen, start_plan

RAW = ("should", "Input should", "String should")


def refused(response: Any, field: str) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "InvalidInput"
    assert body["field"] == field, body
    assert not any(w in body["detail"] for w in RAW), body["detail"]
    return str(body["detail"])


def cleared_dose(api: Api) -> tuple[int, dict[str, Any]]:
    """A screened ocrelizumab patient whose first dose's check is cleared today (08:00)."""
    pid = patient(api)
    screen(api, pid)
    plan = start_plan(api, pid)
    first = plan["doses"][0]
    check = api.ok(
        api.post(
            f"/patients/{pid}/checks",
            json={"agent": "ocrelizumab", "date": "2026-11-24", "planned_dose_id": first["id"]},
        ),
        201,
    )
    for rule in check["pending_warnings"]:
        api.ok(api.post(f"/checks/{check['id']}/acknowledge", json={"rule": rule}))
    return pid, plan


def start(api: Api, plan: dict[str, Any], **body: Any) -> Any:
    return api.post(
        f"/doses/{plan['doses'][0]['id']}/infusion",
        json={"started_at": "2026-11-24T08:00:00", **body},
    )


def test_a_pump_gateway_documents_a_visit_within_the_same_limits(api: Api):
    _, plan = cleared_dose(api)
    for volume in (50, 0, -100, 1e9):
        detail = refused(start(api, plan, volume_ml=volume), "volume_ml")
        if volume == 50:
            assert "too small" in detail
    started = start(api, plan)
    visit = api.ok(started, 201)
    assert started.headers["Location"] == f"/api/v1/administrations/{visit['id']}/visit"
    assert visit["phase"] == "infusing"
    base = f"/administrations/{visit['id']}"
    api.clock.advance(minutes=20)  # 08:20
    assert "maximum" in refused(
        api.post(f"{base}/rates", json={"minute": 10, "rate_ml_h": 99999}), "rate_ml_h"
    )
    step = visit["limits"]["step_ml_h"]
    refused(api.post(f"{base}/rates", json={"minute": 10, "rate_ml_h": step + 20}), "reason")
    faster = api.ok(
        api.post(
            f"{base}/rates",
            json={"minute": 10, "rate_ml_h": step + 20, "reason": "order from Dr Lee"},
        ),
        201,
    )
    assert [f["rule"] for f in faster["findings"]] == ["rates.above-step"]
    refused(api.post(f"{base}/premedications", json={"drug": "acetaminophen", "dose": "-650 mg"}), "dose")  # fmt: skip
    api.ok(api.post(f"{base}/premedications", json={"drug": "acetaminophen", "dose_mg": 650}), 201)
    refused(
        api.post(
            f"{base}/vital-signs",
            json={"kind": "spo2", "value": 150, "taken_at": "2026-11-24T08:10:00"},
        ),
        "value",
    )
    refused(
        api.post(
            f"{base}/vital-signs",
            json={"kind": "heart_rate", "value": 80, "taken_at": "2026-11-24T09:10:00"},
        ),
        "taken_at",
    )
    fever = api.ok(
        api.post(
            f"{base}/vital-signs",
            json={
                "kind": "temperature",
                "value": 101.3,
                "unit": "°F",
                "taken_at": "2026-11-24T08:15:00",
            },
        ),
        201,
    )
    assert fever["vital_signs"][-1]["flag"] == "high"
    refused(api.post(f"{base}/reactions", json={"onset_minute": 99999, "grade": 2}), "onset_minute")  # fmt: skip
    refused(
        api.post(f"{base}/complete", json={"volume_infused_ml": 20, "outcome": "stopped"}),
        "reason",
    )
    done = api.ok(
        api.post(
            f"{base}/complete",
            json={"volume_infused_ml": 20, "outcome": "stopped", "reason": "patient unwell"},
        )
    )
    assert done["completion"]["partial"] is True
    assert done["dose_given_mg"] == 24.0
    dose = api.ok(api.get(f"/plans/{plan['id']}"))["doses"][0]
    assert dose["given_dose_mg"] == 24.0


def test_a_grade_4_reaction_holds_the_plan_until_a_prescriber_decides(api: Api):
    pid, plan = cleared_dose(api)
    visit = api.ok(start(api, plan), 201)
    api.clock.advance(minutes=25)
    after = api.ok(
        api.post(
            f"/administrations/{visit['id']}/reactions", json={"onset_minute": 20, "grade": 4}
        ),
        201,
    )
    assert after["outcome"] == "stopped"
    held = api.ok(api.get(f"/plans/{plan['id']}"))
    assert held["state"]["code"] == "review"
    assert held["state"]["label"] == "held pending prescriber review"
    assert {d["status"] for d in held["doses"][1:]} == {"held"}
    assert (
        api.post(f"/plans/{plan['id']}/review", json={"decision": "discontinue"}).status_code == 403
    )
    assert api.post(f"/plans/{plan['id']}/resume", "prescriber").status_code == 409
    decided = api.ok(
        api.post(f"/plans/{plan['id']}/review", "prescriber", json={"decision": "discontinue"})
    )
    assert decided["status"] == "stopped"
    assert decided["reviews"][0]["decision"] == "discontinue"
    assert {d["status"] for d in decided["doses"][1:]} == {"cancelled"}
    record = api.ok(api.get(f"/patients/{pid}/record"))
    assert "life_threatening_irr:ocrelizumab" in [c["condition"] for c in record["conditions"]]
    again = api.post(f"/plans/{plan['id']}/review", "prescriber", json={"decision": "discontinue"})
    assert again.status_code == 409


def test_entries_are_corrected_through_the_api_and_never_deleted(api: Api):
    pid, plan = cleared_dose(api)
    visit = api.ok(start(api, plan), 201)
    api.clock.advance(minutes=10)
    base = f"/administrations/{visit['id']}"
    got = api.ok(
        api.post(
            f"{base}/vital-signs",
            json={"kind": "systolic", "value": 150, "taken_at": "2026-11-24T08:05:00"},
        ),
        201,
    )
    vital = got["vital_signs"][-1]["id"]
    amended = api.ok(
        api.post(
            f"/corrections/vital_sign/{vital}",
            json={"action": "amended", "reason": "misread", "changes": {"value": 115}},
        ),
        201,
    )
    assert amended["record_status"] == "amended"
    assert amended["correction"]["previous"]["value"] == 150
    empty = api.post(
        f"/corrections/vital_sign/{vital}", json={"action": "entered_in_error", "reason": ""}
    )
    assert empty.status_code == 422  # payload validation, in plain words
    assert empty.json()["problems"][0]["loc"] == ["body", "reason"]
    assert empty.json()["problems"][0]["msg"] == "cannot be empty"
    api.ok(
        api.post(
            f"/corrections/vital_sign/{vital}",
            json={"action": "entered_in_error", "reason": "wrong patient"},
        ),
        201,
    )
    history = api.ok(api.get(f"/corrections/vital_sign/{vital}"))
    assert [c["action"] for c in history] == ["amended", "entered_in_error"]
    shown = api.ok(api.get(f"{base}/visit"))["vital_signs"][-1]
    assert (shown["value"], shown["record_status"]) == (115, "entered_in_error")
    assert (
        api.post(
            f"/corrections/nothing/{vital}", json={"action": "amended", "reason": "x"}
        ).status_code
        == 422
    )
    assert (
        api.post(
            f"/corrections/vital_sign/{vital}",
            "viewer",
            json={"action": "entered_in_error", "reason": "x"},
        ).status_code
        == 403
    )
    lab = api.ok(api.get(f"/patients/{pid}/record"))["labs"][0]["id"]
    api.ok(
        api.post(
            f"/corrections/lab/{lab}",
            json={"action": "amended", "reason": "unit", "changes": {"unit": "g/L"}},
        ),
        201,
    )


def test_the_clinics_vital_sign_limits_are_read_and_changed_through_the_api(api: Api):
    signs = api.ok(api.get("/clinic/vital-sign-limits"))
    spo2 = next(s for s in signs if s["kind"] == "spo2")
    assert (spo2["possible"]["low"], spo2["possible"]["high"]) == (50, 100)
    assert spo2["possible"]["status"] == "policy"
    body = {"usual": [94, 100], "reason": "respiratory unit protocol"}
    assert api.client.put("/api/v1/clinic/vital-sign-limits/spo2", headers=api.headers("nurse"), json=body).status_code == 403  # fmt: skip
    changed = api.ok(
        api.client.put("/api/v1/clinic/vital-sign-limits/spo2", headers=api.headers("admin"), json=body)
    )  # fmt: skip
    assert changed["usual"]["low"] == 94
    bad = api.client.put(
        "/api/v1/clinic/vital-sign-limits/spo2",
        headers=api.headers("admin"),
        json={"possible": [50, 120], "reason": "x"},
    )
    refused(bad, "possible")
