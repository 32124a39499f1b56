"""The FHIR endpoint over HTTP on SQLite and PostgreSQL: CapabilityStatement, read, search,
$everything, import with OperationOutcome errors, FHIR content type, permissions and audit."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.api.conftest import Api
from tests.integration.conftest import make_ctx

from msinfuse.api.fhir import router
from msinfuse.http.deps import Permission
from msinfuse.persistence.engine import make_engine
from msinfuse.persistence.models import AuditEvent, Patient
from msinfuse.services.context import PERMISSIONS, ROLES
from msinfuse.services.demo import build_demo_clinic

FHIR = "application/fhir+json"


def fhir_get(api: Api, path: str, role: str | None = "nurse", **kw: Any) -> Any:
    return api.client.get("/fhir" + path, headers=api.headers(role), **kw)


def fhir_post(api: Api, body: Any, role: str | None = "admin") -> Any:
    headers = {**api.headers(role), "Content-Type": FHIR}

    return api.client.post(
        "/fhir", content=json.dumps(body), headers=headers, follow_redirects=False
    )


@pytest.fixture
def demo(api: Api) -> Api:
    engine = make_engine(api.url)
    with Session(engine) as session:
        build_demo_clinic(session, make_ctx(), patients=4, seed=2, chairs_per_site=3)
        session.commit()
    engine.dispose()
    return api


def _patient_ids(api: Api) -> list[int]:
    engine = make_engine(api.url)
    with Session(engine) as session:
        ids = list(session.scalars(select(Patient.id).order_by(Patient.id)))
    engine.dispose()
    return ids


def test_metadata_is_a_capability_statement_in_fhir_json(api: Api):
    response = fhir_get(api, "/metadata", None)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(FHIR)
    body = response.json()
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    types = {r["type"] for r in body["rest"][0]["resource"]}
    assert {"Patient", "Observation", "AdverseEvent", "MedicationAdministration"} <= types


def test_read_search_and_everything_serve_a_patients_record(demo: Api):
    pid = _patient_ids(demo)[0]
    patient = fhir_get(demo, f"/Patient/{pid}")
    assert patient.status_code == 200
    assert patient.json()["id"] == str(pid)
    assert patient.headers["content-type"].startswith(FHIR)
    everything = fhir_get(demo, f"/Patient/{pid}/$everything").json()
    assert everything["type"] == "searchset"
    assert everything["total"] > 5
    labs = fhir_get(demo, "/Observation", params={"patient": f"Patient/{pid}"}).json()
    assert labs["total"] >= 1
    first = labs["entry"][0]["resource"]
    code = first["code"]["coding"][0]
    coded = fhir_get(
        demo,
        "/Observation",
        params={"patient": str(pid), "code": f"{code['system']}|{code['code']}"},
    ).json()
    assert coded["total"] >= 1
    assert all(
        any(c["code"] == code["code"] for c in e["resource"]["code"]["coding"])
        for e in coded["entry"]
    )
    future = fhir_get(demo, "/Observation", params={"patient": str(pid), "date": "gt2100-01-01"})
    assert future.json()["total"] == 0
    again = fhir_get(demo, f"/Observation/{first['id']}").json()
    assert again == first


def test_errors_are_operation_outcomes(demo: Api):
    missing = fhir_get(demo, "/Patient/987654")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"
    assert fhir_get(demo, "/Observation").json()["issue"][0]["severity"] == "error"
    assert fhir_get(demo, "/Patient/1", None).status_code == 401
    assert fhir_get(demo, "/Patient/1", None).json()["resourceType"] == "OperationOutcome"


def test_import_over_http_is_all_or_nothing_and_idempotent(demo: Api):
    pid = _patient_ids(demo)[0]
    bundle = fhir_get(demo, f"/Patient/{pid}/$everything").json()
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": e["resource"],
                "request": {"method": "POST", "url": e["resource"]["resourceType"]},
            }
            for e in bundle["entry"]
        ],
    }
    same = fhir_post(demo, transaction)
    assert same.status_code == 200, same.text
    assert {e["response"]["status"] for e in same.json()["entry"]} == {"200 OK"}
    broken = copy.deepcopy(transaction)
    at = next(n for n, e in enumerate(broken["entry"]) if e["resource"]["id"].startswith("lab-"))
    broken["entry"][at]["resource"]["subject"] = {"reference": "Patient/nowhere"}
    refused = fhir_post(demo, broken)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith(FHIR)
    issues = refused.json()["issue"]
    assert [i["location"] for i in issues] == [[f"Bundle.entry[{at}].resource.subject.reference"]]
    assert fhir_post(demo, transaction, role="nurse").status_code == 403


def test_reading_and_importing_are_audited(demo: Api):
    pid = _patient_ids(demo)[0]
    fhir_get(demo, f"/Patient/{pid}")
    engine = make_engine(demo.url)
    with Session(engine) as session:
        count = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "fhir-export")
        )
    engine.dispose()
    assert count
    assert count >= 1


def _routes() -> list[tuple[str, str, str | None]]:
    rows = []
    for route in router.routes:
        assert isinstance(route, APIRoute)
        permission = next(
            (
                d.call.permission
                for d in route.dependant.dependencies
                if isinstance(d.call, Permission)
            ),
            None,
        )
        for method in route.methods or ():
            rows.append((method, route.path, permission))
    return rows


def test_every_fhir_route_but_metadata_is_guarded_by_a_fhir_permission():
    for method, path, permission in _routes():
        if path == "/metadata":
            assert permission is None
        else:
            assert permission in {"fhir.export", "fhir.import"}, (method, path)
    assert {"fhir.export", "fhir.import"} <= set(PERMISSIONS)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_the_matrix_grants_on_fhir(sqlite_api: Api, role: str):
    for method, path, permission in _routes():
        if permission is None:
            continue
        url = "/fhir" + re.sub(
            r"\{\w+\}", lambda m: "Patient" if m.group(0) == "{resource_type}" else "987654", path
        )
        if method == "POST":
            status = fhir_post(sqlite_api, {"resourceType": "Bundle"}, role).status_code
        else:
            status = sqlite_api.client.get(url, headers=sqlite_api.headers(role)).status_code
        allowed = role in PERMISSIONS[permission]
        assert (status == 403) != allowed, (method, path, role, status)
        assert status < 500
