"""FHIR R4 exchange on real databases: every produced resource validates against the R4B
models; a demo clinic exported and imported into an empty database compares equal; bad
bundles are refused with located problems and change nothing; a repeated import changes
nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from msinfuse.persistence.bulk import clinic_tables
from msinfuse.persistence.engine import make_engine
from msinfuse.persistence.exchange import patient_record
from msinfuse.persistence.migrate import upgrade
from msinfuse.persistence.models import Patient
from msinfuse.services.demo import build_demo_clinic, clear_clinic
from msinfuse.services.fhir import exchange
from msinfuse.services.fhir.codes import SYSTEMS, Vocabulary, unconfirmed_codes
from msinfuse.services.fhir.exchange import ImportRejected
from tests.integration.conftest import make_ctx

BASE = "http://test/fhir"
IGNORED = {"id", "created_at", "updated_at", "nurse_id", "prescriber_id", "created_by"}


@pytest.fixture
def clinic(engine: Engine) -> Iterator[Engine]:
    """A small demo clinic (committed) in the test's database. PostgreSQL's database is
    shared by the session's tests, so it is emptied first and emptied again afterwards."""
    with Session(engine) as session:
        clear_clinic(session, make_ctx())
        build_demo_clinic(session, make_ctx(), patients=8, seed=5, sites=1, chairs_per_site=3)
        session.commit()
    yield engine
    with Session(engine) as session:
        clear_clinic(session, make_ctx())
        session.commit()


@pytest.fixture
def empty(tmp_path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _bundles(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        ids = session.scalars(select(Patient.id).order_by(Patient.id)).all()
        out = [exchange.export_bundle(session, make_ctx(), i, UTC, BASE) for i in ids]
        session.commit()
    return out


def _row(obj: Any, refs: dict[str, dict[int, int]]) -> tuple[Any, ...]:
    values = []
    for column in obj.__table__.columns:
        if column.name in IGNORED:
            continue
        value = getattr(obj, column.name)
        if column.name in refs and value is not None:
            value = ("ref", refs[column.name][value])
        values.append((column.name, value))
    return tuple(values)


def content(session: Session, patient: Patient) -> dict[str, Any]:
    """A patient's records without database ids (references as positions)."""
    rec = patient_record(session, patient)

    def index(rows: Any) -> dict[int, int]:
        return {r.id: n for n, r in enumerate(rows)}

    refs = {
        "plan_id": index(rec.plans),
        "switched_to_id": index(rec.plans),
        "planned_dose_id": index(rec.doses),
        "appointment_id": index(rec.appointments),
        "administration_id": index(rec.administrations),
        "chair_id": {c.id: (c.name,) for c in rec.chairs},  # type: ignore[misc]
        "site_id": {s.id: s.code for s in rec.sites},  # type: ignore[misc]
        "home_site_id": {s.id: s.code for s in rec.sites},  # type: ignore[misc]
    }
    out: dict[str, Any] = {"patient": _row(patient, refs)}
    for name in (
        "courses", "conditions", "therapies", "labs", "vaccinations", "procedures", "plans",
        "doses", "appointments", "administrations", "rate_events", "premedications",
        "vital_signs", "reactions",
    ):  # fmt: skip
        out[name] = sorted((_row(r, refs) for r in getattr(rec, name)), key=repr)
    out["sites"] = sorted(_row(s, refs) for s in rec.sites)
    return out


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with Session(engine) as session:
        return {
            t.name: [tuple(r) for r in session.execute(select(t).order_by(*t.primary_key.columns))]
            for t in clinic_tables()
        }


# ------------------------------------------------------------------------------ validity


def test_every_exported_resource_validates_against_the_r4b_models(clinic: Engine):
    kinds = set()
    for bundle in _bundles(clinic):
        get_fhir_model_class("Bundle").model_validate(bundle)
        for entry in bundle["entry"]:
            resource = entry["resource"]
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
            kinds.add(resource["resourceType"])
    assert {
        "Patient", "Condition", "MedicationRequest", "MedicationAdministration", "Observation",
        "Immunization", "Procedure", "Location", "MedicationStatement",
    } <= kinds  # fmt: skip


def _codings(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if "system" in value and "code" in value:
            yield value
        for item in value.values():
            yield from _codings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _codings(item)


def test_unconfirmed_codes_are_exported_as_display_text_only(clinic: Engine, kb):
    vocabulary = Vocabulary(kb)
    hidden = {
        (SYSTEMS[c.system], c.code)
        for terms in vocabulary.kinds.values()
        for term in terms.values()
        for c in term.codes
        if c.status == "unconfirmed" and c.code and c.system in SYSTEMS
    }
    assert (SYSTEMS["rxnorm"], "1876366") in hidden  # ocrelizumab ingredient
    assert unconfirmed_codes(kb)
    exported = {
        (c["system"], c["code"])
        for bundle in _bundles(clinic)
        for entry in bundle["entry"]
        for c in _codings(entry["resource"])
    }
    assert (SYSTEMS["rxnorm"], "1876380") in exported
    assert not exported & hidden


def test_an_ocrelizumab_plan_orders_rxnorm_with_initial_then_maintenance_dosage(clinic: Engine):
    plans = [
        e["resource"]
        for b in _bundles(clinic)
        for e in b["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
        and e["resource"]["intent"] == "order"
        and e["resource"]["medicationCodeableConcept"]["text"] == "Ocrelizumab"
    ]
    assert plans
    plan = plans[0]
    codes = {(c["system"], c["code"]) for c in plan["medicationCodeableConcept"]["coding"]}
    assert (SYSTEMS["rxnorm"], "1876380") in codes
    assert (SYSTEMS["rxnorm"], "1876366") not in codes  # the ingredient code is unconfirmed
    lines = plan["dosageInstruction"]
    assert [line["sequence"] for line in lines] == [1, 2]
    assert lines[0]["doseAndRate"][0]["doseQuantity"]["value"] == 300
    assert lines[0]["timing"]["repeat"] == {
        "count": 2,
        "frequency": 1,
        "period": 14,
        "periodUnit": "d",
    }
    assert lines[1]["doseAndRate"][0]["doseQuantity"]["value"] == 600
    assert lines[1]["timing"]["repeat"]["periodUnit"] in {"wk", "mo"}


def test_rate_segments_are_part_of_their_infusion_with_a_rate_ratio(clinic: Engine):
    bundle = next(
        b for b in _bundles(clinic)
        if any(e["resource"].get("partOf") for e in b["entry"]
               if e["resource"]["resourceType"] == "MedicationAdministration")
    )  # fmt: skip
    infusions = {
        e["resource"]["id"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationAdministration"
        and not e["resource"].get("partOf")
    }
    segments = [
        e["resource"] for e in bundle["entry"]
        if e["resource"]["id"].startswith("segment-")
    ]  # fmt: skip
    assert segments
    for segment in segments:
        assert segment["partOf"][0]["reference"].split("/")[1] in infusions
        ratio = segment["dosage"]["rateRatio"]
        assert ratio["numerator"]["code"] == "mL"
        assert ratio["denominator"]["code"] == "h"


def test_infusion_reactions_carry_the_ctcae_grade_extension_and_severity(clinic: Engine):
    events = [
        e["resource"]
        for b in _bundles(clinic)
        for e in b["entry"]
        if e["resource"]["resourceType"] == "AdverseEvent"
    ]
    assert events
    for event in events:
        grade = next(x for x in event["extension"] if x["url"].endswith("/ae-grade"))
        number = int(grade["valueCodeableConcept"]["coding"][0]["code"])
        severity = event["severity"]["coding"][0]["code"]
        assert severity == {1: "mild", 2: "moderate"}.get(number, "severe")
        assert event["suspectEntity"][0]["instance"]["reference"].startswith(
            "MedicationAdministration/"
        )


# ----------------------------------------------------------------------------- round trip


def test_the_demo_clinic_exported_and_imported_into_an_empty_database_compares_equal(
    clinic: Engine, empty: Engine
):
    bundles = _bundles(clinic)
    with Session(empty) as session:
        for bundle in bundles:
            response = exchange.import_bundle(session, make_ctx(), bundle, UTC)
            assert {e["response"]["status"] for e in response["entry"]} <= {
                "201 Created",
                "200 OK",
            }
        session.commit()
    with Session(clinic) as a, Session(empty) as b:
        originals = a.scalars(select(Patient).order_by(Patient.mrn)).all()
        copies = b.scalars(select(Patient).order_by(Patient.mrn)).all()
        assert [p.mrn for p in originals] == [p.mrn for p in copies]
        for original, copied in zip(originals, copies, strict=True):
            assert content(b, copied) == content(a, original)


def test_a_repeated_import_changes_nothing_and_says_so(clinic: Engine, empty: Engine):
    bundle = _bundles(clinic)[1]
    with Session(empty) as session:
        exchange.import_bundle(session, make_ctx(), bundle, UTC)
        session.commit()
    before = _dump(empty)
    with Session(empty) as session:
        response = exchange.import_bundle(session, make_ctx(), bundle, UTC)
        session.commit()
    assert _dump(empty) == before
    statuses = {e["response"]["status"] for e in response["entry"]}
    assert statuses == {"200 OK"}
    issue = response["entry"][3]["response"]["outcome"]["issue"][0]
    assert issue["code"] == "duplicate"
    assert issue["location"] == ["Bundle.entry[3].resource"]


def test_reimporting_an_export_into_its_own_database_changes_nothing(clinic: Engine):
    bundle = _bundles(clinic)[0]
    before = _dump(clinic)
    with Session(clinic) as session:
        response = exchange.import_bundle(session, make_ctx(), bundle, UTC)
        session.commit()
    assert {e["response"]["status"] for e in response["entry"]} == {"200 OK"}
    assert _dump(clinic) == before


# ------------------------------------------------------------------------------ bad input


def _entry(bundle: dict[str, Any], prefix: str) -> tuple[int, dict[str, Any]]:
    return next(
        (n, e["resource"])
        for n, e in enumerate(bundle["entry"])
        if e["resource"]["id"].startswith(prefix)
    )


def _rejected(engine: Engine, bundle: Any) -> list[tuple[str, str]]:
    before = _dump(engine)
    with Session(engine) as session, pytest.raises(ImportRejected) as caught:
        exchange.import_bundle(session, make_ctx(), bundle, UTC)
    assert _dump(engine) == before
    return [(p.location, p.code) for p in caught.value.problems]


def test_a_bundle_with_a_bad_entry_is_refused_whole_naming_each_problem(
    clinic: Engine, empty: Engine
):
    bundle = copy.deepcopy(
        next(
            b
            for b in _bundles(clinic)
            if {"lab", "procedure"} <= {e["resource"]["id"].split("-")[0] for e in b["entry"]}
        )
    )
    lab_at, lab = _entry(bundle, "lab-")
    lab["code"] = {"coding": [{"system": "http://loinc.org", "code": "0000-0"}]}
    proc_at, proc = _entry(bundle, "procedure-")
    proc["code"] = {"text": "something else"}
    problems = _rejected(empty, bundle)
    assert (f"Bundle.entry[{lab_at}].resource.code", "code-invalid") in problems
    assert (f"Bundle.entry[{proc_at}].resource.code", "code-invalid") in problems


def test_wrong_resource_types_are_refused(empty: Engine, clinic: Engine):
    assert _rejected(empty, {"resourceType": "Patient"}) == [("Bundle", "invalid")]
    bundle = copy.deepcopy(_bundles(clinic)[0])
    bundle["entry"].append({"resource": {"resourceType": "Practitioner", "id": "x"}})
    at = len(bundle["entry"]) - 1
    assert _rejected(empty, bundle) == [
        (f"Bundle.entry[{at}].resource.resourceType", "not-supported")
    ]


def test_a_reference_to_the_wrong_resource_type_is_refused(empty: Engine, clinic: Engine):
    bundle = copy.deepcopy(_bundles(clinic)[0])
    at, dose = _entry(bundle, "dose-")
    dose["basedOn"] = [{"reference": dose["subject"]["reference"]}]
    assert (f"Bundle.entry[{at}].resource.basedOn[0].reference", "invalid") in _rejected(
        empty, bundle
    )


def test_missing_references_are_refused(empty: Engine, clinic: Engine):
    bundle = copy.deepcopy(_bundles(clinic)[0])
    at, lab = _entry(bundle, "lab-")
    lab["subject"] = {"reference": "Patient/999999"}
    assert _rejected(empty, bundle) == [
        (f"Bundle.entry[{at}].resource.subject.reference", "not-found")
    ]


def test_wrong_units_are_refused(empty: Engine, clinic: Engine):
    bundle = copy.deepcopy(_bundles(clinic)[0])
    at, lab = next(
        (n, e["resource"])
        for n, e in enumerate(bundle["entry"])
        if e["resource"]["id"].startswith("lab-") and "valueQuantity" in e["resource"]
    )
    lab["valueQuantity"]["code"] = lab["valueQuantity"]["unit"] = (
        "mg/dL" if lab["valueQuantity"]["code"] != "mg/dL" else "g/L"
    )
    assert _rejected(empty, bundle) == [
        (f"Bundle.entry[{at}].resource.valueQuantity.code", "value")
    ]


def test_structurally_invalid_resources_are_located_by_element(empty: Engine, clinic: Engine):
    bundle = copy.deepcopy(_bundles(clinic)[0])
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    at = next(n for n, e in enumerate(bundle["entry"]) if e["resource"] is patient)
    patient["birthDate"] = "not a date"
    problems = _rejected(empty, bundle)
    assert problems
    assert all(loc.startswith(f"Bundle.entry[{at}].resource.birthDate") for loc, _ in problems)


def test_two_entries_with_one_identifier_are_refused_as_duplicates(empty: Engine, clinic: Engine):
    bundle = copy.deepcopy(_bundles(clinic)[0])
    _at, lab = _entry(bundle, "lab-")
    twin = copy.deepcopy(lab)
    twin["id"] = "lab-twin"
    bundle["entry"].append({"resource": twin})
    problems = _rejected(empty, bundle)
    assert (
        f"Bundle.entry[{len(bundle['entry']) - 1}].resource.identifier[0]",
        "duplicate",
    ) in problems


def test_an_identifier_of_another_patients_record_is_a_conflict(clinic: Engine):
    bundles = copy.deepcopy(_bundles(clinic)[:2])
    _, theirs = _entry(bundles[0], "lab-")
    at, mine = _entry(bundles[1], "lab-")
    mine["identifier"] = theirs["identifier"]
    assert (f"Bundle.entry[{at}].resource.identifier[0]", "conflict") in _rejected(
        clinic, bundles[1]
    )


# ------------------------------------------------------------------------------ corrections


def test_corrections_follow_into_the_export_and_survive_a_round_trip(clinic: Engine, empty: Engine):
    from msinfuse.persistence.models import Administration, Lab, VitalSign
    from msinfuse.services import corrections

    with Session(clinic) as session:
        vital = session.scalars(select(VitalSign).order_by(VitalSign.id)).first()
        assert vital is not None
        adm = session.get(Administration, vital.administration_id)
        assert adm is not None
        lab = session.scalars(
            select(Lab).where(Lab.patient_id == adm.patient_id, Lab.value_num.is_not(None))
        ).first()
        assert lab is not None
        ctx = make_ctx()
        corrections.correct(
            session, ctx, "vital_sign", vital.id,
            {"action": "entered_in_error", "reason": "wrong patient"},
        )  # fmt: skip
        corrections.correct(
            session, ctx, "lab", lab.id,
            {"action": "amended", "reason": "transcription", "changes": {"value": lab.value_num + 1}},
        )  # fmt: skip
        corrections.correct(
            session, ctx, "administration", adm.id,
            {"action": "entered_in_error", "reason": "documented twice"},
        )  # fmt: skip
        patient_id, ids = adm.patient_id, (vital.id, lab.id, adm.id)
        bundle = exchange.export_bundle(session, make_ctx(), patient_id, UTC, BASE)
        session.commit()
    by_id = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    assert by_id[f"vital-{ids[0]}"]["status"] == "entered-in-error"
    assert by_id[f"lab-{ids[1]}"]["status"] == "amended"
    assert by_id[f"infusion-{ids[2]}"]["status"] == "entered-in-error"
    parts = [
        r
        for r in by_id.values()
        if r.get("partOf") == [{"reference": f"MedicationAdministration/infusion-{ids[2]}"}]
    ]
    assert parts
    assert {r["status"] for r in parts} == {"entered-in-error"}  # what hung on it too
    with Session(empty) as session:
        exchange.import_bundle(session, make_ctx(), bundle, UTC)
        session.commit()
    with Session(clinic) as a, Session(empty) as b:
        original = a.get(Patient, patient_id)
        copied = b.scalars(select(Patient)).one()
        assert original is not None
        assert content(b, copied) == content(a, original)
