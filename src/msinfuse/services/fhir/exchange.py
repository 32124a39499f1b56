"""FHIR R4 exchange use cases: export a patient's record, read and search resources,
``$everything``, the CapabilityStatement, and the import of a transaction or batch Bundle.

The import is all-or-nothing: every entry is read and checked first, and the first write
happens only when no entry has a problem. It is idempotent: a record whose identifier is
already known (this installation's own, or one stored from an earlier import) is left as it
is and reported as unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy.orm import Session

import msinfuse
from msinfuse.errors import InvalidInput, NotFound
from msinfuse.persistence import exchange as xrepo
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import (
    Administration,
    Appointment,
    Chair,
    Condition,
    CourseHistory,
    ExchangeIdentifier,
    InfusionReaction,
    Lab,
    Patient,
    PlannedDose,
    PremedicationGiven,
    Procedure,
    RateEvent,
    Site,
    Therapy,
    TreatmentPlan,
    Vaccination,
    VitalSign,
)
from msinfuse.services import audit
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.fhir.codes import Vocabulary
from msinfuse.services.fhir.mapping import KINDS, Export, fhir_id, own_system, to_fhir_record
from msinfuse.services.fhir.parsing import (
    SUPPORTED,
    Parsed,
    Problem,
    Reader,
    classify,
    identifiers,
    parse_entry,
    validate_model,
)
from msinfuse.services.projections import refresh_patient

FHIR_VERSION = "4.0.1"
SEARCH_PARAMS = ("patient", "date", "code")

MODELS: dict[str, Any] = {
    "patient": Patient,
    "course": CourseHistory,
    "condition": Condition,
    "therapy": Therapy,
    "plan": TreatmentPlan,
    "dose": PlannedDose,
    "infusion": Administration,
    "segment": RateEvent,
    "premed": PremedicationGiven,
    "lab": Lab,
    "vital": VitalSign,
    "weight": Patient,
    "height": Patient,
    "reaction": InfusionReaction,
    "appointment": Appointment,
    "vaccination": Vaccination,
    "procedure": Procedure,
    "site": Site,
    "chair": Chair,
}


class ImportRejected(InvalidInput):
    """A bundle that cannot be imported; ``problems`` name each problem by location."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(f"the bundle was not imported: {len(self.problems)} problem(s)")


def operation_outcome(problems: Sequence[Problem], severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome with one issue per problem, located by FHIRPath."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": p.code,
                "diagnostics": p.message,
                "location": [p.location],
                "expression": [p.location],
            }
            for p in problems
        ]
        or [{"severity": "information", "code": "informational", "diagnostics": "ok"}],
    }


# ------------------------------------------------------------------------------- export


def _exporter(session: Session, ctx: ServiceContext, tz: tzinfo, patient_id: int) -> Export:
    return Export(
        Vocabulary(ctx.kb),
        tz,
        xrepo.instance_id(session),
        xrepo.external_identifiers(session, patient_id),
    )


def patient_resources(
    session: Session, ctx: ServiceContext, patient_id: int, tz: tzinfo
) -> list[dict[str, Any]]:
    """Every resource of one patient's record as FHIR JSON (audited as an export)."""
    require(ctx.actor, "fhir.export")
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    ex = _exporter(session, ctx, tz, patient.id)
    resources = to_fhir_record(ex, xrepo.patient_record(session, patient))
    audit.record(session, ctx, "fhir-export", "Patient", patient.id)
    return [r.model_dump(mode="json", exclude_none=True) for r in resources]


def _full_url(base: str, resource: dict[str, Any]) -> str:
    return f"{base.rstrip('/')}/{resource['resourceType']}/{resource['id']}"


def export_bundle(
    session: Session, ctx: ServiceContext, patient_id: int, tz: tzinfo, base: str
) -> dict[str, Any]:
    """A patient's record as a transaction Bundle that ``POST /fhir`` (or ``msinfuse fhir
    import``) accepts: each entry is a conditional create on its identifier."""
    resources = patient_resources(session, ctx, patient_id, tz)
    entries = []
    for resource in resources:
        idents = resource.get("identifier")
        first = idents[0] if isinstance(idents, list) and idents else idents
        request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
        if isinstance(first, dict):
            request["ifNoneExist"] = f"identifier={first['system']}|{first['value']}"
        entries.append(
            {"fullUrl": _full_url(base, resource), "resource": resource, "request": request}
        )
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "timestamp": ctx.now.isoformat(),
        "meta": {"tag": [{"code": "decision-support", "display": _provenance(ctx)}]},
        "entry": entries,
    }


def _provenance(ctx: ServiceContext) -> str:
    return (
        f"msinfuse {msinfuse.__version__}, knowledge base {ctx.kb.version}. Decision support "
        "only: verify against the current prescribing information."
    )


def searchset(resources: Sequence[dict[str, Any]], base: str) -> dict[str, Any]:
    """A searchset Bundle of ``resources``."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": _full_url(base, r), "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


def _parse_id(resource_type: str, value: str) -> tuple[str, int]:
    if resource_type == "Patient":
        kind, number = "patient", value
    else:
        kind, _, number = value.partition("-")
        if KINDS.get(kind) != resource_type:
            raise NotFound(f"{resource_type} not found")
    if not number.isdigit() or int(number) > repo.MAX_ID:
        raise NotFound(f"{resource_type} not found")
    return kind, int(number)


def _owner(session: Session, kind: str, record_id: int) -> int:
    """The patient a record belongs to (404 when it does not exist)."""
    row = session.get(MODELS[kind], record_id)
    if row is None:
        raise NotFound(f"{KINDS[kind]} not found")
    if kind in ("patient", "weight", "height"):
        return int(row.id)
    if hasattr(row, "patient_id"):
        return int(row.patient_id)
    adm = session.get(Administration, row.administration_id)
    assert adm is not None
    return adm.patient_id


def read(
    session: Session, ctx: ServiceContext, resource_type: str, value: str, tz: tzinfo
) -> dict[str, Any]:
    """One resource by type and id."""
    require(ctx.actor, "fhir.export")
    if resource_type not in SUPPORTED or resource_type == "Location":
        raise NotFound(f"{resource_type} is not served here")
    kind, record_id = _parse_id(resource_type, value)
    patient_id = _owner(session, kind, record_id)
    for resource in patient_resources(session, ctx, patient_id, tz):
        if resource["resourceType"] == resource_type and resource["id"] == fhir_id(kind, record_id):
            return resource
    raise NotFound(f"{resource_type} not found")


def _resource_dates(resource: dict[str, Any]) -> list[str]:
    for key in (
        "effectiveDateTime",
        "onsetDateTime",
        "occurrenceDateTime",
        "performedDateTime",
        "date",
        "start",
        "birthDate",
    ):
        if resource.get(key):
            return [str(resource[key])[:10]]
    for key in ("effectivePeriod", "dispenseRequest"):
        period = resource.get(key) or {}
        period = period.get("validityPeriod", period)
        if period.get("start"):
            return [str(period["start"])[:10]]
    events = (
        [
            e
            for line in resource.get("dosageInstruction", [])
            for e in line["timing"].get("event", [])
        ]
        if resource.get("dosageInstruction")
        else []
    )
    return [str(e)[:10] for e in events]


_PREFIXES = ("eq", "ne", "ge", "le", "gt", "lt")


def _date_matches(dates: list[str], spec: str) -> bool:
    prefix, value = ("eq", spec)
    if spec[:2] in _PREFIXES:
        prefix, value = spec[:2], spec[2:]
    try:
        wanted = date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise InvalidInput("date must be [eq|ne|ge|le|gt|lt]YYYY-MM-DD") from None
    tests = {
        "eq": lambda d: d == wanted,
        "ne": lambda d: d != wanted,
        "ge": lambda d: d >= wanted,
        "le": lambda d: d <= wanted,
        "gt": lambda d: d > wanted,
        "lt": lambda d: d < wanted,
    }
    return any(tests[prefix](d) for d in dates)


def _codes(resource: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    out = []
    for key in ("code", "medicationCodeableConcept", "vaccineCode", "event"):
        concept = resource.get(key)
        if isinstance(concept, dict):
            out += [(c.get("system"), c.get("code")) for c in concept.get("coding", []) or []]
    return out


def _code_matches(codes: list[tuple[str | None, str | None]], spec: str) -> bool:
    for token in spec.split(","):
        system, bar, code = token.rpartition("|")
        for have_system, have_code in codes:
            if have_code == code and (not bar or system == "" or system == have_system):
                return True
    return False


def search(
    session: Session,
    ctx: ServiceContext,
    resource_type: str,
    params: dict[str, str],
    tz: tzinfo,
) -> list[dict[str, Any]]:
    """Resources of one type of one patient, filtered by ``date`` and ``code``."""
    require(ctx.actor, "fhir.export")
    if resource_type not in SUPPORTED or resource_type == "Location":
        raise NotFound(f"{resource_type} is not served here")
    unknown = sorted(set(params) - {*SEARCH_PARAMS, "_id", "identifier"})
    if unknown:
        raise InvalidInput("unsupported search parameter(s): " + ", ".join(unknown))
    patient_ref = params.get("patient") or (
        params.get("_id") if resource_type == "Patient" else None
    )
    if resource_type == "Patient" and params.get("identifier"):
        found = repo.find_patient_by_mrn(session, params["identifier"].rpartition("|")[2])
        if found is None:
            return []
        patient_ref = str(found.id)
    if not patient_ref:
        raise InvalidInput("search needs the patient parameter (Patient/<id> or <id>)")
    number = patient_ref.rpartition("/")[2]
    if not number.isdigit() or int(number) > repo.MAX_ID:
        raise InvalidInput("patient must be Patient/<id>")
    if session.get(Patient, int(number)) is None:
        return []
    out = []
    for resource in patient_resources(session, ctx, int(number), tz):
        if resource["resourceType"] != resource_type:
            continue
        if "date" in params and not _date_matches(_resource_dates(resource), params["date"]):
            continue
        if "code" in params and not _code_matches(_codes(resource), params["code"]):
            continue
        out.append(resource)
    return out


def capability_statement(ctx: ServiceContext, base: str) -> dict[str, Any]:
    """The server's CapabilityStatement (what is read, searched and imported)."""
    types = sorted(SUPPORTED - {"Location"})
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": ctx.today.isoformat(),
        "kind": "instance",
        "software": {"name": "msinfuse", "version": msinfuse.__version__},
        "implementation": {
            "description": "msinfuse FHIR R4 endpoint. " + _provenance(ctx),
            "url": base,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Bearer token from POST /api/v1/auth/token, as for the API."
                },
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
                "resource": [
                    {
                        "type": t,
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            {"name": "patient", "type": "reference"},
                            {"name": "date", "type": "date"},
                            {"name": "code", "type": "token"},
                        ],
                        **(
                            {
                                "operation": [
                                    {
                                        "name": "everything",
                                        "definition": (
                                            "http://hl7.org/fhir/OperationDefinition/Patient-everything"
                                        ),
                                    }
                                ]
                            }
                            if t == "Patient"
                            else {}
                        ),
                    }
                    for t in types
                ],
            }
        ],
    }


# ------------------------------------------------------------------------------- import


@dataclass
class _Plan:
    """The checked bundle, ready to write."""

    entries: list[Parsed]
    existing: dict[str, int]  # bundle key -> id of the record already there
    patient: Parsed


def _read_bundle(
    bundle: Any, vocabulary: Vocabulary, tz: tzinfo
) -> tuple[list[Parsed], list[Problem]]:
    problems: list[Problem] = []
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return [], [Problem("Bundle", "wrong resource type: POST a Bundle", "invalid")]
    if bundle.get("type") not in ("transaction", "batch"):
        problems.append(Problem("Bundle.type", "must be transaction or batch", "invalid"))
    raw_entries = bundle.get("entry")
    if not isinstance(raw_entries, list) or not raw_entries:
        problems.append(Problem("Bundle.entry", "the bundle has no entries", "required"))
        return [], problems
    candidates: list[tuple[int, dict[str, Any], str]] = []
    keys: dict[str, str] = {}
    for index, entry in enumerate(raw_entries):
        loc = f"Bundle.entry[{index}].resource"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            problems.append(Problem(loc, "the entry has no resource", "required"))
            continue
        rtype = resource.get("resourceType")
        if rtype not in SUPPORTED:
            problems.append(
                Problem(
                    f"{loc}.resourceType",
                    "wrong resource type: msinfuse imports " + ", ".join(sorted(SUPPORTED)),
                    "not-supported",
                )
            )
            continue
        method = (entry.get("request") or {}).get("method", "POST")
        if method not in ("POST", "PUT"):
            problems.append(
                Problem(
                    f"Bundle.entry[{index}].request.method", "only POST and PUT", "not-supported"
                )
            )
        valid = validate_model(resource, loc, problems)
        if not resource.get("id"):
            problems.append(Problem(f"{loc}.id", "every entry needs an id", "required"))
            continue
        key = f"{rtype}/{resource['id']}"
        if key in keys:
            problems.append(
                Problem(f"{loc}.id", "duplicate: two entries have this id", "duplicate")
            )
            continue
        try:
            keys[key] = classify(resource, vocabulary)
        except (AttributeError, KeyError, TypeError):
            keys[key] = "unknown"
        full = entry.get("fullUrl")
        if isinstance(full, str) and full.startswith("urn:"):
            keys[full] = keys[key]
        if not valid:
            continue
        candidates.append((index, resource, key))
    parsed = []
    for index, resource, key in candidates:
        loc = f"Bundle.entry[{index}].resource"
        item = Parsed(index, loc, key, keys[key], identifiers=identifiers(resource))
        parse_entry(Reader(resource, loc, vocabulary, tz, keys, problems), item)
        parsed.append(item)
    return parsed, problems


def _check_identity(
    session: Session, parsed: list[Parsed], problems: list[Problem]
) -> _Plan | None:
    patients = [p for p in parsed if p.kind == "patient"]
    if len(patients) != 1:
        problems.append(
            Problem("Bundle.entry", "a bundle imports exactly one patient's record", "invalid")
        )
        return None
    patient = patients[0]
    instance = xrepo.instance_id(session)
    existing: dict[str, int] = {}
    found = repo.find_patient_by_mrn(session, patient.fields.get("mrn") or "")
    if found is not None:
        existing[patient.key] = found.id
    seen: dict[tuple[str, str, str], str] = {}
    for item in parsed:
        if item.kind in ("patient", "site", "chair", "weight", "height"):
            continue
        if not item.identifiers:
            problems.append(
                Problem(
                    f"{item.loc}.identifier",
                    "an identifier is required, so that a repeated import changes nothing",
                    "required",
                )
            )
            continue
        for number, (system, value) in enumerate(item.identifiers):
            mark = (item.kind, system, value)
            if mark in seen:
                problems.append(
                    Problem(
                        f"{item.loc}.identifier[{number}]",
                        "duplicate: another entry of the bundle has this identifier",
                        "duplicate",
                    )
                )
            seen[mark] = item.key
            record_id = _known(session, instance, item.kind, system, value)
            if record_id is None:
                continue
            owner = _owner_or_none(session, item.kind, record_id)
            if found is None or owner != found.id:
                problems.append(
                    Problem(
                        f"{item.loc}.identifier[{number}]",
                        "conflict: this identifier belongs to a record of another patient",
                        "conflict",
                    )
                )
            else:
                existing[item.key] = record_id
    if found is None and any(k != patient.key for k in existing):
        problems.append(Problem("Bundle.entry", "conflict with existing records", "conflict"))
    return _Plan(parsed, existing, patient)


def _known(session: Session, instance: str, kind: str, system: str, value: str) -> int | None:
    if (
        system == own_system(instance, kind)
        and value.isdigit()
        and int(value) <= repo.MAX_ID
        and session.get(MODELS[kind], int(value)) is not None
    ):
        return int(value)
    row = xrepo.find_identifier(session, kind, system, value)
    return row.record_id if row is not None else None


def _owner_or_none(session: Session, kind: str, record_id: int) -> int | None:
    try:
        return _owner(session, kind, record_id)
    except NotFound:
        return None


def import_bundle(session: Session, ctx: ServiceContext, bundle: Any, tz: tzinfo) -> dict[str, Any]:
    """Import one patient's history from a transaction or batch Bundle, all or nothing.

    Raises :class:`ImportRejected` (nothing written) when any entry has a problem; returns
    the transaction-response Bundle otherwise (``201 Created`` or ``200 OK`` unchanged)."""
    require(ctx.actor, "fhir.import")
    vocabulary = Vocabulary(ctx.kb)
    parsed, problems = _read_bundle(bundle, vocabulary, tz)
    plan = _check_identity(session, parsed, problems) if not problems else None
    if problems or plan is None:
        raise ImportRejected(problems)
    ids, created = _write(session, ctx, plan)
    patient = session.get(Patient, ids[plan.patient.key])
    assert patient is not None
    if created:
        refresh_patient(session, ctx.kb, patient, ctx.today)
    entries = []
    for item in sorted(plan.entries, key=lambda p: p.index):
        rtype = item.key.split("/")[0]
        record_id = (
            ids[plan.patient.key] if item.kind in ("weight", "height") else ids.get(item.key)
        )
        location = f"{rtype}/{fhir_id(item.kind, record_id)}" if record_id else rtype
        fresh = plan.patient.key if item.kind in ("weight", "height") else item.key
        if fresh not in created:
            outcome = operation_outcome(
                [Problem(item.loc, "already present: unchanged", "duplicate")], "information"
            )
            entries.append(
                {"response": {"status": "200 OK", "location": location, "outcome": outcome}}
            )
        else:
            entries.append({"response": {"status": "201 Created", "location": location}})
    return {"resourceType": "Bundle", "type": f"{bundle['type']}-response", "entry": entries}


# -- writing


def _write(session: Session, ctx: ServiceContext, plan: _Plan) -> tuple[dict[str, int], set[str]]:
    """Write the new records; return every entry's record id and the keys created."""
    ids: dict[str, int] = dict(plan.existing)
    fresh: set[str] = set()
    by_kind: dict[str, list[Parsed]] = {}
    kinds = {item.key: item.kind for item in plan.entries}
    for item in plan.entries:
        by_kind.setdefault(item.kind, []).append(item)
    for item in by_kind.get("site", []):
        ids[item.key] = _site(session, item, fresh)
    for item in by_kind.get("chair", []):
        ids[item.key] = _chair(session, item, ids, fresh)
    patient_item = plan.patient
    if patient_item.key not in plan.existing:
        patient = _new_patient(session, ctx, plan, by_kind, ids)
        ids[patient_item.key] = patient.id
        fresh.add(patient_item.key)
    patient_id = ids[patient_item.key]
    order = (
        "course", "condition", "therapy", "lab", "vaccination", "procedure", "plan", "dose",
        "appointment", "infusion", "segment", "premed", "vital", "reaction",
    )  # fmt: skip
    created: list[tuple[Parsed, Any]] = []
    for kind in order:
        for item in by_kind.get(kind, []):
            if item.key in ids:
                continue
            row = _row(session, kind, item, ids, patient_id, kinds)
            if row is None:
                continue
            session.add(row)
            session.flush()
            ids[item.key] = row.id
            fresh.add(item.key)
            created.append((item, row))
            for system, value in item.identifiers:
                session.add(
                    ExchangeIdentifier(
                        patient_id=patient_id,
                        kind=kind,
                        system=system,
                        value=value,
                        record_id=row.id,
                    )
                )
    for item in by_kind.get("plan", []):
        target = item.refs.get("switched_to_id")
        if target and item.key not in plan.existing:
            row = session.get(TreatmentPlan, ids[item.key])
            assert row is not None
            row.switched_to_id = ids[target]
    for item, row in created:
        audit.record(session, ctx, "fhir-import", KINDS[item.kind], row.id)
    return ids, fresh


def _site(session: Session, item: Parsed, fresh: set[str]) -> int:
    found = repo.find_site(session, item.fields["code"])
    if found is not None:
        return found.id
    f = dict(item.fields)
    site = Site(
        **{**f, "opens": time.fromisoformat(f["opens"]), "closes": time.fromisoformat(f["closes"])}
    )
    session.add(site)
    session.flush()
    fresh.add(item.key)
    return site.id


def _chair(session: Session, item: Parsed, ids: dict[str, int], fresh: set[str]) -> int:
    site_id = ids[item.refs["site_id"]]
    for chair in session.query(Chair).filter(Chair.site_id == site_id):
        if chair.name == item.fields["name"]:
            return chair.id
    chair = Chair(site_id=site_id, **item.fields)
    session.add(chair)
    session.flush()
    fresh.add(item.key)
    return chair.id


def _new_patient(
    session: Session,
    ctx: ServiceContext,
    plan: _Plan,
    by_kind: dict[str, list[Parsed]],
    ids: dict[str, int],
) -> Patient:
    fields = dict(plan.patient.fields)
    for kind in ("weight", "height"):
        for item in by_kind.get(kind, []):
            fields.update(item.fields)
    courses = sorted(
        (c for c in by_kind.get("course", [])),
        key=lambda c: (c.fields["since"] or date.min, c.index),
    )
    current = [c for c in courses if c.fields["current"]] or courses[-1:]
    fields["ms_course"] = current[-1].fields["ms_course"] if current else None
    home = plan.patient.refs.get("home_site_id")
    patient = Patient(**fields, home_site_id=ids[home] if home else None)
    session.add(patient)
    session.flush()
    audit.record(session, ctx, "fhir-import", "Patient", patient.id)
    return patient


def _start_of(session: Session, adm_id: int) -> datetime:
    adm = session.get(Administration, adm_id)
    assert adm is not None
    return adm.started_at or adm.given_on


def _minutes(later: datetime | None, start: datetime) -> float:
    return 0.0 if later is None else (later - start) / timedelta(minutes=1)


def _row(
    session: Session,
    kind: str,
    item: Parsed,
    ids: dict[str, int],
    patient_id: int,
    kinds: dict[str, str],
) -> Any:
    f = dict(item.fields)
    refs = {name: ids[key] for name, key in item.refs.items() if key in ids}
    refs.pop("patient_id", None)
    refs.pop("switched_to_id", None)
    if kind == "course":
        if f["since"] is None:
            return None
        return CourseHistory(patient_id=patient_id, ms_course=f["ms_course"], since=f["since"])
    if kind in ("condition", "therapy", "lab", "vaccination", "procedure", "plan", "dose"):
        return MODELS[kind](patient_id=patient_id, **f, **refs)
    if kind == "appointment":
        chair = session.get(Chair, refs["chair_id"])
        assert chair is not None
        return Appointment(patient_id=patient_id, site_id=chair.site_id, **f, **refs)
    if kind == "infusion":
        return Administration(patient_id=patient_id, **f, **refs)
    if kind == "segment":
        adm_id = refs["administration_id"]
        minute = f.pop("minute")
        begins = f.pop("begins")
        if minute is None:
            minute = _minutes(begins, _start_of(session, adm_id))
        return RateEvent(administration_id=adm_id, minute=float(minute), **f)
    if kind in ("premed", "vital"):
        return MODELS[kind](**f, **refs)
    if kind == "reaction":
        suspect = item.refs["suspect"]
        if ids.get(suspect) is None:
            return None
        if kinds[suspect] == "segment":
            event = session.get(RateEvent, ids[suspect])
            assert event is not None
            adm_id = event.administration_id
        else:
            adm_id = ids[suspect]
        onset = f.pop("onset_minute")
        onset_at = f.pop("onset_at")
        if onset is None:
            onset = _minutes(onset_at, _start_of(session, adm_id))
        return InfusionReaction(administration_id=adm_id, onset_minute=float(onset), **f)
    raise AssertionError(kind)
