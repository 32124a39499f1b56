"""Pure mappings from FHIR R4 resources (JSON, validated against the R4B models) back to
msinfuse's records: the ``from_fhir_*`` functions.

Each function reads one resource and returns the record's fields, with references to other
entries of the bundle kept as ``Type/id`` keys for the importer to resolve. Problems are
collected, never raised one at a time, each named by its FHIR path
(``Bundle.entry[3].resource.code``) so the sender can fix them all at once. Messages name
what is wrong and what msinfuse expects, never a value of the patient's record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from pydantic import ValidationError

from msinfuse.domain.knowledge.schema import CONDITION_CODES
from msinfuse.services.fhir.codes import AE_GRADE, UCUM, Vocabulary, code_system, extension_url
from msinfuse.services.fhir.mapping import (
    APPOINTMENT_STATUS,
    DOSE_STATUS,
    ENTERED_IN_ERROR,
    FLAG_INTERPRETATION,
    INFUSION_STATUS,
    KINDS,
    OBSERVATION_STATUS,
    PLAN_STATUS,
    build,
)

SUPPORTED = frozenset(KINDS.values())
VITAL_KINDS = frozenset(
    {"systolic", "diastolic", "heart_rate", "respiratory_rate", "temperature", "spo2", "weight"}
)
RATE_KINDS = frozenset({"start", "change", "pause", "resume", "stop"})
_AGENT_CONDITION = re.compile(r"^(hypersensitivity|life_threatening_irr):([a-z][a-z0-9-]*)$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem of an import, as an OperationOutcome issue."""

    location: str
    message: str
    code: str = "invalid"


@dataclass
class Parsed:
    """One bundle entry read back: its kind, the record's fields and its references."""

    index: int
    loc: str
    key: str
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    identifiers: list[tuple[str, str]] = field(default_factory=list)


def _reverse(mapping: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for ours, theirs in mapping.items():
        out.setdefault(theirs, ours)
    return out


class Reader:
    """Reads one resource, collecting problems under its location."""

    def __init__(
        self,
        resource: dict[str, Any],
        loc: str,
        vocabulary: Vocabulary,
        tz: tzinfo,
        keys: dict[str, str],
        problems: list[Problem],
    ) -> None:
        self.res = resource
        self.loc = loc
        self.voc = vocabulary
        self.tz = tz
        self.keys = keys  # bundle key -> kind
        self.problems = problems

    def problem(self, path: str, message: str, code: str = "invalid") -> None:
        self.problems.append(Problem(f"{self.loc}.{path}" if path else self.loc, message, code))

    # -- values

    def ext(self, name: str, source: dict[str, Any] | None = None) -> dict[str, Any] | None:
        url = extension_url(name)
        for item in (source if source is not None else self.res).get("extension", []) or []:
            if item.get("url") == url:
                found: dict[str, Any] = item
                return found
        return None

    def ext_value(self, name: str, key: str, source: dict[str, Any] | None = None) -> Any:
        item = self.ext(name, source)
        return None if item is None else item.get(key)

    def moment(self, path: str, value: Any, required: bool = True) -> datetime | None:
        if value is None:
            if required:
                self.problem(path, "a date and time is required", "required")
            return None
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.problem(path, "not a FHIR dateTime", "value")
            return None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(self.tz).replace(tzinfo=None)
        return parsed

    def day(self, path: str, value: Any, required: bool = True) -> date | None:
        moment = self.moment(path, value, required)
        return None if moment is None else moment.date()

    def code(self, kind: str, path: str, required: bool = True) -> str | None:
        concept: Any = self.res
        for part in path.split("."):
            concept = concept.get(part) if isinstance(concept, dict) else None
        found = self.voc.match(kind, concept if isinstance(concept, dict) else None)
        if found is None and (required or concept):
            if concept:
                self.problem(
                    path,
                    f"unknown code: no coding matches msinfuse's {kind} vocabulary",
                    "code-invalid",
                )
            else:
                self.problem(path, "a code is required", "required")
        return found

    def quantity(self, path: str, value: Any, unit: str | None) -> float | None:
        if not isinstance(value, dict) or value.get("value") is None:
            self.problem(path, "a quantity with a value is required", "required")
            return None
        if unit is not None:
            code = value.get("code") or value.get("unit")
            system = value.get("system")
            if code != unit or (system is not None and system != UCUM):
                self.problem(
                    f"{path}.code", f"wrong unit: msinfuse records this in UCUM {unit!r}", "value"
                )
                return None
        return float(value["value"])

    def ref(
        self, path: str, value: Any, kinds: tuple[str, ...], required: bool = True
    ) -> str | None:
        reference = value.get("reference") if isinstance(value, dict) else None
        if not reference:
            if required:
                self.problem(path, "a reference is required", "required")
            return None
        key = _key_of(str(reference))
        kind = self.keys.get(key)
        if kind is None:
            self.problem(
                f"{path}.reference",
                "missing reference: no entry of the bundle has this resource type and id",
                "not-found",
            )
            return None
        if kind not in kinds:
            wanted = " or ".join(sorted({KINDS[k] for k in kinds}))
            self.problem(
                f"{path}.reference",
                f"wrong resource type: must refer to {wanted} ({', '.join(kinds)})",
                "invalid",
            )
            return None
        return key


def _key_of(reference: str) -> str:
    parts = reference.rstrip("/").split("/")
    return "/".join(parts[-2:])


def classify(resource: dict[str, Any], vocabulary: Vocabulary) -> str:
    """The record kind of a (supported) resource."""
    rtype = resource["resourceType"]
    if rtype == "Condition":
        return "course" if vocabulary.match("ms-course", resource.get("code")) else "condition"
    if rtype == "MedicationRequest":
        return "dose" if resource.get("intent") == "instance-order" else "plan"
    if rtype == "MedicationAdministration":
        category = resource.get("category") or {}
        codes = {c.get("code") for c in category.get("coding", []) or []}
        if "premedication" in codes:
            return "premed"
        return "segment" if resource.get("partOf") else "infusion"
    if rtype == "Observation":
        categories = {
            c.get("code")
            for cat in resource.get("category", []) or []
            for c in cat.get("coding", [])
        }
        if "vital-signs" in categories:
            if resource.get("partOf"):
                return "vital"
            measured = vocabulary.match("vital-sign", resource.get("code"))
            return measured if measured in ("weight", "height") else "vital"
        return "lab"
    if rtype == "Location":
        return "chair" if resource.get("partOf") else "site"
    return {
        "Patient": "patient",
        "MedicationStatement": "therapy",
        "AdverseEvent": "reaction",
        "Appointment": "appointment",
        "Immunization": "vaccination",
        "Procedure": "procedure",
    }[rtype]


def validate_model(resource: dict[str, Any], loc: str, problems: list[Problem]) -> bool:
    """Validate a resource against its R4B model; each error becomes a located problem."""
    try:
        build(resource)
    except ValidationError as exc:
        for error in exc.errors()[:20]:
            path = "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}"
                for p in error["loc"]
                if p not in ("root", "__root__")
            )
            problems.append(Problem(f"{loc}{path}", _message(error), "structure"))
        return False
    except (KeyError, TypeError, ValueError):
        problems.append(Problem(loc, "not a valid FHIR R4 resource", "structure"))
        return False
    return True


def _message(error: Any) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown element"
    if error.get("type") == "missing":
        return "required element missing"
    return str(error.get("msg", "invalid"))


def identifiers(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """The (system, value) identifiers of a resource (AdverseEvent has one, others a list)."""
    raw = resource.get("identifier")
    items = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
    return [
        (str(i["system"]), str(i["value"]))
        for i in items
        if isinstance(i, dict) and i.get("system") and i.get("value")
    ]


# --------------------------------------------------------------------------- per resource


def from_fhir_patient(r: Reader) -> dict[str, Any]:
    """Patient → patient fields (``home_site`` is a reference key)."""
    res = r.res
    mrn = None
    for item in res.get("identifier", []) or []:
        codes = {c.get("code") for c in (item.get("type") or {}).get("coding", []) or []}
        if "MR" in codes or str(item.get("system", "")).endswith(":mrn"):
            mrn = item.get("value")
            break
    if not mrn:
        r.problem(
            "identifier", "a medical record number (identifier of type MR) is required", "required"
        )
    names = res.get("name") or [{}]
    family = names[0].get("family")
    given = (names[0].get("given") or [None])[0]
    if not family:
        r.problem("name[0].family", "a family name is required", "required")
    if not given:
        r.problem("name[0].given", "a given name is required", "required")
    gender = res.get("gender")
    if gender not in (None, "female", "male", "other", "unknown"):
        r.problem("gender", "must be female, male, other or unknown", "code-invalid")
    profile = r.ext_value("label-profile", "valueCode") or "us"
    if profile not in ("us", "eu"):
        r.problem("extension", "label-profile must be us or eu", "code-invalid")
    return {
        "mrn": mrn,
        "given_name": given,
        "family_name": family,
        "sex": gender if gender in ("female", "male", "other") else None,
        "birth_date": r.day("birthDate", res.get("birthDate"), required=False),
        "profile": profile,
        "pregnant": r.ext_value("pregnant", "valueBoolean"),
        "breastfeeding": r.ext_value("breastfeeding", "valueBoolean"),
        "childbearing_potential": r.ext_value("childbearing-potential", "valueBoolean"),
    }


def from_fhir_body_measure(r: Reader, kind: str) -> dict[str, Any]:
    """A weight or height Observation without partOf → the patient's weight_kg / height_cm."""
    unit = r.voc.term("vital-sign", kind).unit
    value = r.quantity("valueQuantity", r.res.get("valueQuantity"), unit)
    return {"weight_kg" if kind == "weight" else "height_cm": value}


def from_fhir_course(r: Reader) -> dict[str, Any]:
    """MS Condition → one course-history entry (``current`` when it has not abated)."""
    return {
        "ms_course": r.code("ms-course", "code"),
        "since": r.day("onsetDateTime", r.res.get("onsetDateTime"), required=False),
        "current": r.res.get("abatementDateTime") is None,
    }


def from_fhir_condition(r: Reader) -> dict[str, Any]:
    """Condition → condition code, onset and resolution."""
    concept = r.res.get("code") or {}
    value = None
    for c in concept.get("coding", []) or []:
        if c.get("system") == code_system("condition"):
            value = c.get("code")
    if value is None:
        value = r.voc.match("condition", concept)
    agents = set(r.voc.kb.agents)
    match = _AGENT_CONDITION.match(value or "")
    if value not in CONDITION_CODES and not (match and match.group(2) in agents):
        r.problem(
            "code",
            "unknown code: no coding matches msinfuse's condition vocabulary",
            "code-invalid",
        )
    return {
        "condition": value,
        "onset": r.day("onsetDateTime", r.res.get("onsetDateTime"), required=False),
        "resolved": r.day("abatementDateTime", r.res.get("abatementDateTime"), required=False),
    }


def from_fhir_therapy(r: Reader) -> dict[str, Any]:
    """MedicationStatement → a prior or current therapy."""
    period = r.res.get("effectivePeriod") or {}
    return {
        "agent": r.code("therapy", "medicationCodeableConcept"),
        "started_on": r.day("effectivePeriod.start", period.get("start"), required=False),
        "ended_on": r.day("effectivePeriod.end", period.get("end"), required=False),
        "immunosuppressant": bool(r.ext_value("immunosuppressant", "valueBoolean")),
    }


def from_fhir_plan(r: Reader) -> tuple[dict[str, Any], dict[str, str]]:
    """MedicationRequest (intent order) → a treatment plan."""
    res = r.res
    agent_id = r.code("agent", "medicationCodeableConcept")
    agent = r.voc.kb.agent(agent_id) if agent_id else None
    regimen = r.ext_value("regimen", "valueCode")
    if agent is not None and (regimen is None or agent.regimen(regimen) is None):
        r.problem(
            "extension",
            "regimen: unknown code: not a regimen of this agent in the knowledge base",
            "code-invalid",
        )
    status = r.ext_value("plan-status", "valueCode") or _reverse(PLAN_STATUS).get(
        res.get("status", "")
    )
    if status not in PLAN_STATUS:
        r.problem("status", "a plan status msinfuse knows is required", "code-invalid")
    profile = r.ext_value("label-profile", "valueCode") or "us"
    protocol = r.ext_value("rate-protocol", "valueCode") or "standard"
    start = (res.get("dispenseRequest") or {}).get("validityPeriod", {}).get("start")
    prior = r.ext_value("prior-cumulative-dose", "valueQuantity")
    refs = {}
    switched = r.ext_value("switched-to", "valueReference")
    if switched is not None:
        key = r.ref("extension", switched, ("plan",))
        if key:
            refs["switched_to_id"] = key
    fields = {
        "agent": agent_id,
        "regimen": regimen,
        "profile": profile,
        "protocol": protocol,
        "status": status,
        "starts_on": r.day("dispenseRequest.validityPeriod.start", start),
        "stopped_on": r.day("extension", r.ext_value("stopped-on", "valueDate"), required=False),
        "stop_reason": (res.get("statusReason") or {}).get("text"),
        "prior_cumulative_mg_per_m2": (
            r.quantity("extension", prior, "mg/m2") if prior is not None else 0.0
        ),
    }
    return fields, refs


def from_fhir_dose(r: Reader) -> tuple[dict[str, Any], dict[str, str]]:
    """MedicationRequest (intent instance-order, basedOn a plan) → a planned dose."""
    res = r.res
    refs = {}
    based = (res.get("basedOn") or [None])[0]
    key = r.ref("basedOn[0]", based, ("plan",))
    if key:
        refs["plan_id"] = key
    part = r.ext("planned-dose")
    if part is None:
        r.problem(
            "extension", "msinfuse's planned-dose extension is required on a dose", "required"
        )
        part = {}

    def sub(name: str, key: str) -> Any:
        return r.ext_value(name, key, part)

    status = sub("status", "valueCode") or _reverse(DOSE_STATUS).get(res.get("status", ""))
    if status not in DOSE_STATUS:
        r.problem("status", "a dose status msinfuse knows is required", "code-invalid")
    lines = res.get("dosageInstruction") or [{}]
    events = (lines[0].get("timing") or {}).get("event") or [None]
    amounts = lines[0].get("doseAndRate") or [{}]
    number = sub("number", "valueInteger")
    if part and number is None:
        r.problem("extension", "planned-dose: number is required", "required")
    fields = {
        "agent": r.code("agent", "medicationCodeableConcept"),
        "number": number,
        "course": sub("course", "valueInteger") or 1,
        "course_day": sub("course-day", "valueInteger") or 0,
        "kind": sub("kind", "valueCode") or "maintenance",
        "status": status,
        "planned_on": r.day("dosageInstruction[0].timing.event[0]", events[0]),
        "given_on": r.day("extension", sub("given", "valueDate"), required=False),
        "reason": sub("reason", "valueString"),
        "dose_mg": r.quantity(
            "dosageInstruction[0].doseAndRate[0].doseQuantity",
            amounts[0].get("doseQuantity"),
            "mg",
        ),
    }
    earliest = sub("earliest", "valueDate")
    fields["earliest_on"] = (
        r.day("extension", earliest, required=False) if earliest else fields["planned_on"]
    )
    return fields, refs


def _record_status(r: Reader) -> str:
    """A documented entry's record status: from ``status`` (entered-in-error, amended) or,
    for resources whose status cannot say it, the ``record-status`` extension."""
    marked = r.ext_value("record-status", "valueCode")
    if marked is not None:  # the entry's own status (its infusion may be in error)
        return _reverse(OBSERVATION_STATUS).get(marked, "final")
    status = r.res.get("status")
    if status == ENTERED_IN_ERROR:
        return "entered_in_error"
    return _reverse(OBSERVATION_STATUS).get(status or "", "final")


def _flag(r: Reader) -> str | None:
    flag = None
    for index, item in enumerate(r.res.get("interpretation") or []):
        codes = [c.get("code") for c in item.get("coding", []) or []]
        flag = next((_reverse(FLAG_INTERPRETATION).get(c) for c in codes if c), None)
        if flag is None:
            r.problem(f"interpretation[{index}]", "unknown code: use N, A, H or L", "code-invalid")
    return flag


def _period(r: Reader) -> tuple[datetime | None, datetime | None]:
    res = r.res
    if res.get("effectivePeriod"):
        period = res["effectivePeriod"]
        return (
            r.moment("effectivePeriod.start", period.get("start")),
            r.moment("effectivePeriod.end", period.get("end"), required=False),
        )
    return r.moment("effectiveDateTime", res.get("effectiveDateTime")), None


def from_fhir_infusion(r: Reader) -> tuple[dict[str, Any], dict[str, str]]:
    """MedicationAdministration (the whole infusion) → an administration."""
    res = r.res
    part = r.ext("infusion") or {}
    start, end = _period(r)
    record_status = _record_status(r)
    outcome = r.ext_value("outcome", "valueCode", part) or _reverse(INFUSION_STATUS).get(
        res.get("status", "")
    )
    if outcome is None and record_status == "entered_in_error":
        outcome = "completed"  # how it ended does not matter: it does not count
    if outcome not in INFUSION_STATUS:
        r.problem("status", "an infusion status msinfuse knows is required", "code-invalid")
    dosage = res.get("dosage") or {}
    volume = r.ext_value("volume", "valueQuantity", part)
    infused = r.ext_value("volume-infused", "valueQuantity", part)
    bag_dose = r.ext_value("bag-dose", "valueQuantity", part)
    dose = r.quantity("dosage.dose", dosage["dose"], "mg") if dosage.get("dose") else None
    started = r.ext_value("started-at", "valueDateTime", part)
    until = r.ext_value("observation-until", "valueDateTime", part)
    fields = {
        "agent": r.code("agent", "medicationCodeableConcept"),
        "protocol": r.ext_value("protocol", "valueCode", part) or "standard",
        "outcome": outcome,
        "max_reaction_grade": r.ext_value("max-reaction-grade", "valueInteger", part) or 0,
        "given_on": start,
        "started_at": r.moment("extension", started) if started else (None if part else start),
        "ended_at": end,
        "observation_until": r.moment("extension", until) if until else None,
        "dose_mg": r.quantity("extension", bag_dose, "mg") if bag_dose else dose,
        "dose_given_mg": dose if bag_dose else None,
        "volume_ml": r.quantity("extension", volume, "mL") if volume else None,
        "volume_infused_ml": r.quantity("extension", infused, "mL") if infused else None,
        "completion_reason": next(
            (x.get("text") for x in res.get("statusReason") or [] if x.get("text")), None
        ),
        "record_status": record_status,
    }
    refs = {}
    request = res.get("request")
    if request:
        key = r.ref("request", request, ("dose", "plan"))
        if key and r.keys[key] == "dose":
            refs["planned_dose_id"] = key
        elif key:
            refs["plan_id"] = key
    for index, info in enumerate(res.get("supportingInformation") or []):
        key = r.ref(f"supportingInformation[{index}]", info, ("plan",))
        if key:
            refs["plan_id"] = key
    appointment = r.ext_value("appointment", "valueReference")
    if appointment is not None:
        key = r.ref("extension", appointment, ("appointment",))
        if key:
            refs["appointment_id"] = key
    return fields, refs


def from_fhir_segment(r: Reader) -> tuple[dict[str, Any], dict[str, str]]:
    """MedicationAdministration partOf an infusion → a pump rate event (mL/h)."""
    res = r.res
    refs = {}
    key = r.ref("partOf[0]", (res.get("partOf") or [None])[0], ("infusion",))
    if key:
        refs["administration_id"] = key
    dosage = res.get("dosage") or {}
    rate = None
    if dosage.get("rateRatio"):
        ratio = dosage["rateRatio"]
        numerator = r.quantity("dosage.rateRatio.numerator", ratio.get("numerator"), "mL")
        denominator = r.quantity("dosage.rateRatio.denominator", ratio.get("denominator"), "h")
        if numerator is not None and denominator:
            rate = numerator / denominator
    elif dosage.get("rateQuantity"):
        rate = r.quantity("dosage.rateQuantity", dosage["rateQuantity"], "mL/h")
    else:
        r.problem("dosage", "a rate (rateRatio in mL per h) is required", "required")
    kind = r.ext_value("rate-event", "valueCode") or "change"
    if kind not in RATE_KINDS:
        r.problem(
            "extension", "rate-event must be start, change, pause, resume or stop", "code-invalid"
        )
    start, _ = _period(r)
    return {
        "rate_ml_per_h": rate,
        "kind": kind,
        "minute": r.ext_value("minute", "valueDecimal"),
        "begins": start,
        "reason": next(
            (x.get("text") for x in res.get("statusReason") or [] if x.get("text")), None
        ),
        "record_status": _record_status(r),
    }, refs


def from_fhir_premedication(r: Reader) -> tuple[dict[str, Any], dict[str, str]]:
    """MedicationAdministration (category premedication) → a premedication given."""
    res = r.res
    refs = {}
    key = r.ref("partOf[0]", (res.get("partOf") or [None])[0], ("infusion",))
    if key:
        refs["administration_id"] = key
    drug = (res.get("medicationCodeableConcept") or {}).get("text")
    if not drug:
        r.problem("medicationCodeableConcept.text", "the drug's name is required", "required")
    dosage = res.get("dosage") or {}
    not_recorded = r.ext_value("time-not-recorded", "valueBoolean")
    start, _ = _period(r)
    return {
        "drug": drug,
        "dose": dosage.get("text"),
        "dose_mg": r.quantity("dosage.dose", dosage["dose"], "mg") if dosage.get("dose") else None,
        "route": (dosage.get("route") or {}).get("text"),
        "given_at": None if not_recorded else start,
        "record_status": _record_status(r),
    }, refs


def from_fhir_lab(r: Reader) -> dict[str, Any]:
    """Observation (laboratory) → a lab result; the unit must be the knowledge base's."""
    res = r.res
    test = r.code("lab", "code")
    entry = r.voc.kb.labs.get(test or "")
    value_num = value_text = unit = None
    if res.get("valueQuantity") is not None:
        if entry is not None and entry.value_type == "qualitative":
            r.problem(
                "valueQuantity",
                "this test is qualitative: send valueString or valueCodeableConcept",
                "value",
            )
        else:
            unit = entry.unit if entry is not None else None
            value_num = r.quantity("valueQuantity", res["valueQuantity"], unit)
    elif res.get("valueString") is not None:
        value_text = res["valueString"]
    elif res.get("valueCodeableConcept") is not None:
        value_text = res["valueCodeableConcept"].get("text")
    if (
        value_num is None
        and value_text is None
        and not any(p.location.startswith(f"{r.loc}.value") for p in r.problems)
    ):
        r.problem("value[x]", "a result value is required", "required")
    flag = _flag(r)
    loinc = entry.loinc if entry is not None else None
    return {
        "test": test,
        "loinc": loinc.code if loinc is not None and loinc.exportable else None,
        "value_num": value_num,
        "value_text": value_text,
        "unit": unit,
        "flag": flag,
        "taken_on": r.day("effectiveDateTime", res.get("effectiveDateTime")),
        "record_status": _record_status(r),
    }


def from_fhir_vital(r: Reader) -> tuple[dict[str, Any], dict[str, str]]:
    """Observation (vital-signs, partOf an infusion) → a vital sign in its UCUM unit."""
    res = r.res
    refs = {}
    key = r.ref("partOf[0]", (res.get("partOf") or [None])[0], ("infusion",))
    if key:
        refs["administration_id"] = key
    kind = r.code("vital-sign", "code")
    if kind is not None and kind not in VITAL_KINDS:
        r.problem(
            "code",
            "msinfuse records this vital sign on the patient, not at an infusion",
            "code-invalid",
        )
    unit = r.voc.term("vital-sign", kind).unit if kind else None
    return {
        "kind": kind,
        "value": r.quantity("valueQuantity", res.get("valueQuantity"), unit),
        "unit": unit,
        "taken_at": r.moment("effectiveDateTime", res.get("effectiveDateTime")),
        "flag": flag if (flag := _flag(r)) in ("low", "high") else None,
        "record_status": _record_status(r),
    }, refs


def from_fhir_reaction(r: Reader) -> tuple[dict[str, Any], dict[str, str]]:
    """AdverseEvent → an infusion reaction with its CTCAE grade."""
    res = r.res
    refs = {}
    suspects = res.get("suspectEntity") or [{}]
    key = r.ref("suspectEntity[0].instance", suspects[0].get("instance"), ("infusion", "segment"))
    if key:
        refs["suspect"] = key
    grade = None
    for item in res.get("extension", []) or []:
        if item.get("url") == AE_GRADE:
            concept = item.get("valueCodeableConcept") or {}
            for c in concept.get("coding", []) or []:
                if str(c.get("code", "")).isdigit():
                    grade = int(c["code"])
    if grade is None or not 1 <= grade <= 5:
        r.problem("extension", "a CTCAE grade 1 to 5 (ae-grade extension) is required", "required")
    return {
        "grade": grade,
        "onset_minute": r.ext_value("onset-minute", "valueDecimal"),
        "onset_at": r.moment("date", res.get("date")),
        "resume_minute": r.ext_value("resume-minute", "valueDecimal"),
        "actions": r.ext_value("actions", "valueString"),
        "outcome": (res.get("outcome") or {}).get("text"),
        "record_status": _record_status(r),
    }, refs


def from_fhir_appointment(r: Reader) -> tuple[dict[str, Any], dict[str, str]]:
    """Appointment → a chair booking (the chair is the participating Location)."""
    res = r.res
    refs = {}
    for index, participant in enumerate(res.get("participant") or []):
        actor = participant.get("actor")
        key = r.ref(f"participant[{index}].actor", actor, ("patient", "chair"))
        if key and r.keys[key] == "chair":
            refs["chair_id"] = key
    if "chair_id" not in refs:
        r.problem("participant", "a chair (Location) must take part", "required")
    status = _reverse(APPOINTMENT_STATUS).get(res.get("status", ""))
    if status is None:
        r.problem("status", "an appointment status msinfuse knows is required", "code-invalid")
    dose = r.ext_value("planned-dose", "valueReference")
    if dose is not None:
        key = r.ref("extension", dose, ("dose",))
        if key:
            refs["planned_dose_id"] = key
    starts = r.moment("start", res.get("start"))
    ends = r.moment("end", res.get("end"))
    if starts and ends and ends <= starts:
        r.problem("end", "the appointment must end after it starts", "invariant")
    return {
        "status": status,
        "starts_at": starts,
        "ends_at": ends,
        "notes": res.get("comment"),
    }, refs


def from_fhir_vaccination(r: Reader) -> dict[str, Any]:
    """Immunization → a vaccine given (msinfuse must know whether it is live)."""
    res = r.res
    concept = res.get("vaccineCode") or {}
    name = concept.get("text") or next(
        (c.get("display") or c.get("code") for c in concept.get("coding", []) or []), None
    )
    if not name:
        r.problem("vaccineCode", "the vaccine's name is required", "required")
    live = r.ext_value("live-vaccine", "valueBoolean")
    if live is None:
        r.problem(
            "extension", "live-vaccine (true or false) is required: checks depend on it", "required"
        )
    return {
        "vaccine": name,
        "live": live,
        "given_on": r.day("occurrenceDateTime", res.get("occurrenceDateTime")),
    }


def from_fhir_procedure(r: Reader) -> dict[str, Any]:
    """Procedure → a procedure done on a date."""
    res = r.res
    performed = res.get("performedDateTime") or (res.get("performedPeriod") or {}).get("start")
    return {
        "procedure": r.code("procedure", "code"),
        "done_on": r.day("performedDateTime", performed),
    }


def from_fhir_site(r: Reader) -> dict[str, Any]:
    """Location (no partOf) → a site, by its code."""
    res = r.res
    code = next(
        (v for s, v in identifiers(res) if s == code_system("site")),
        None,
    )
    if not code:
        r.problem(
            "identifier",
            "the site's code (identifier in msinfuse's site system) is required",
            "required",
        )
    hours = (res.get("hoursOfOperation") or [{}])[0]
    return {
        "code": code,
        "name": res.get("name") or code,
        "opens": hours.get("openingTime") or "08:00:00",
        "closes": hours.get("closingTime") or "18:00:00",
        "start_cap": r.ext_value("start-cap", "valueInteger") or 2,
        "nurse_ratio": r.ext_value("nurse-ratio", "valueInteger") or 5,
        "active": res.get("status", "active") == "active",
    }


def from_fhir_chair(r: Reader) -> tuple[dict[str, Any], dict[str, str]]:
    """Location partOf a site → a chair, by its name."""
    res = r.res
    refs = {}
    key = r.ref("partOf", res.get("partOf"), ("site",))
    if key:
        refs["site_id"] = key
    if not res.get("name"):
        r.problem("name", "the chair's name is required", "required")
    kind = (res.get("physicalType") or {}).get("text") or "chair"
    return {
        "name": res.get("name"),
        "kind": kind if kind in ("chair", "bed") else "chair",
        "active": res.get("status", "active") == "active",
    }, refs


PLAIN: dict[str, Callable[[Reader], dict[str, Any]]] = {
    "patient": from_fhir_patient,
    "course": from_fhir_course,
    "condition": from_fhir_condition,
    "therapy": from_fhir_therapy,
    "lab": from_fhir_lab,
    "vaccination": from_fhir_vaccination,
    "procedure": from_fhir_procedure,
    "site": from_fhir_site,
}
LINKED: dict[str, Callable[[Reader], tuple[dict[str, Any], dict[str, str]]]] = {
    "plan": from_fhir_plan,
    "dose": from_fhir_dose,
    "infusion": from_fhir_infusion,
    "segment": from_fhir_segment,
    "premed": from_fhir_premedication,
    "vital": from_fhir_vital,
    "reaction": from_fhir_reaction,
    "appointment": from_fhir_appointment,
    "chair": from_fhir_chair,
}


def parse_entry(r: Reader, parsed: Parsed) -> None:
    """Fill ``parsed`` from its resource (problems go to the reader's list)."""
    kind = parsed.kind
    if kind in ("weight", "height"):
        parsed.fields = from_fhir_body_measure(r, kind)
    elif kind in PLAIN:
        parsed.fields = PLAIN[kind](r)
    else:
        parsed.fields, parsed.refs = LINKED[kind](r)
    if kind == "patient":
        home = r.ext_value("home-site", "valueReference")
        if home is not None:
            key = r.ref("extension", home, ("site",))
            if key:
                parsed.refs["home_site_id"] = key
    subject = r.res.get("subject") or r.res.get("patient")
    if kind not in ("patient", "site", "chair", "appointment"):
        key = r.ref("patient" if "patient" in r.res else "subject", subject, ("patient",))
        if key:
            parsed.refs["patient_id"] = key
