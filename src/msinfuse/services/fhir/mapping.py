"""Pure mappings from msinfuse's records to FHIR R4 resources (``fhir.resources`` R4B models).

Each ``to_fhir_*`` function reads persisted records (attribute access only, no queries) and
an :class:`Export` holding the knowledge base's vocabularies, the clinic's time zone and
the identifiers to print; it returns a validated R4B model. Every resource carries an
``identifier`` in this installation's namespace (and any identifier another system gave it
on import), which is what makes an import idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource

from msinfuse.domain.knowledge.facts import Duration
from msinfuse.domain.knowledge.schema import DoseBlock, Regimen
from msinfuse.persistence.exchange import PatientRecord
from msinfuse.persistence.models import (
    Administration,
    Appointment,
    Chair,
    Condition,
    CourseHistory,
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
from msinfuse.services.fhir.codes import (
    AE_GRADE,
    AE_SERIOUSNESS,
    AE_SEVERITY,
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    IDENTIFIER_TYPE,
    INTERPRETATION,
    OBSERVATION_CATEGORY,
    UCUM,
    Vocabulary,
    code_system,
    extension_url,
)

#: Record kinds and the FHIR resource type each is exchanged as. The FHIR id of a record is
#: ``<kind>-<id>`` (a patient's is its plain id).
KINDS: dict[str, str] = {
    "patient": "Patient",
    "course": "Condition",
    "condition": "Condition",
    "therapy": "MedicationStatement",
    "plan": "MedicationRequest",
    "dose": "MedicationRequest",
    "infusion": "MedicationAdministration",
    "segment": "MedicationAdministration",
    "premed": "MedicationAdministration",
    "lab": "Observation",
    "vital": "Observation",
    "weight": "Observation",
    "height": "Observation",
    "reaction": "AdverseEvent",
    "appointment": "Appointment",
    "vaccination": "Immunization",
    "procedure": "Procedure",
    "site": "Location",
    "chair": "Location",
}

PLAN_STATUS = {"active": "active", "paused": "on-hold", "stopped": "stopped"}
PLAN_STATUS["completed"] = "completed"
DOSE_STATUS = {
    "planned": "active",
    "scheduled": "active",
    "given": "completed",
    "held": "on-hold",
    "missed": "stopped",
    "cancelled": "cancelled",
}
INFUSION_STATUS = {
    "in_progress": "in-progress",
    "completed": "completed",
    "stopped": "stopped",
    "discontinued": "stopped",
    "cancelled": "not-done",
}
APPOINTMENT_STATUS = {
    "booked": "booked",
    "arrived": "arrived",
    "in_chair": "checked-in",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
}
FLAG_INTERPRETATION = {"normal": "N", "abnormal": "A", "high": "H", "low": "L"}
#: A documented entry's record status as FHIR Observation.status (corrections never delete).
OBSERVATION_STATUS = {
    "final": "final",
    "amended": "amended",
    "entered_in_error": "entered-in-error",
}
ENTERED_IN_ERROR = "entered-in-error"
PERIOD_UNITS = {"days": "d", "weeks": "wk", "months": "mo", "years": "a"}


def own_system(instance: str, kind: str) -> str:
    """The identifier system of this installation's records of ``kind``."""
    return f"urn:msinfuse:{instance}:{kind}"


def fhir_id(kind: str, record_id: int) -> str:
    """The FHIR id of a record."""
    return str(record_id) if kind == "patient" else f"{kind}-{record_id}"


def ref(kind: str, record_id: int) -> dict[str, str]:
    """A ``Reference`` to a record."""
    return {"reference": f"{KINDS[kind]}/{fhir_id(kind, record_id)}"}


@dataclass(frozen=True)
class Export:
    """What the mappings need besides the records."""

    vocabulary: Vocabulary
    tz: tzinfo
    instance: str
    external: dict[tuple[str, int], list[tuple[str, str]]] = field(default_factory=dict)

    def identifiers(self, kind: str, record_id: int) -> list[dict[str, str]]:
        """This installation's identifier of the record, then any imported ones."""
        out = [{"system": own_system(self.instance, kind), "value": str(record_id)}]
        out.extend({"system": s, "value": v} for s, v in self.external.get((kind, record_id), []))
        return out

    def moment(self, value: datetime) -> str:
        """A stored (clinic wall-clock) time as a FHIR dateTime with its zone."""
        aware = value if value.tzinfo else value.replace(tzinfo=self.tz)
        return aware.isoformat()


def build(resource: dict[str, Any]) -> Resource:
    """Validate a resource dict against its R4B model."""
    model = get_fhir_model_class(resource["resourceType"])
    built = model.model_validate(resource)
    assert isinstance(built, Resource)
    return built


def _base(ex: Export, kind: str, record_id: int) -> dict[str, Any]:
    return {
        "resourceType": KINDS[kind],
        "id": fhir_id(kind, record_id),
        "identifier": ex.identifiers(kind, record_id),
    }


def _ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": extension_url(name), **value}


def _qty(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _in_error(row: Any, adm: Administration | None = None) -> bool:
    """An entry entered in error (or part of an infusion entered in error)."""
    return row.record_status == "entered_in_error" or (
        adm is not None and adm.record_status == "entered_in_error"
    )


def _record_status(out: dict[str, Any], row: Any, adm: Administration | None = None) -> None:
    """The entry's own record status in the ``record-status`` extension when its FHIR status
    cannot say it: an amended entry, any entry of a resource without a status element, and
    an entry of an infusion entered in error (whose status says entered-in-error;
    ``infusion-entered-in-error`` marks it where there is no status element)."""
    own = row.record_status
    parent_in_error = adm is not None and adm.record_status == "entered_in_error"
    extensions = out.setdefault("extension", [])
    if own != "final" or parent_in_error:
        extensions.append(_ext("record-status", valueCode=OBSERVATION_STATUS[own]))
    if parent_in_error and "status" not in out:
        extensions.append(_ext("infusion-entered-in-error", valueBoolean=True))
    if not extensions:
        del out["extension"]


# ------------------------------------------------------------------------------- patient


def to_fhir_patient(ex: Export, patient: Patient, site: Site | None = None) -> Resource:
    """A patient: record number, name, sex, birth date, label profile, pregnancy status."""
    out = _base(ex, "patient", patient.id)
    out["identifier"] = [
        {
            "use": "usual",
            "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "MR"}], "text": "MRN"},
            "system": own_system(ex.instance, "mrn"),
            "value": patient.mrn,
        },
        *out["identifier"],
    ]
    out["name"] = [{"family": patient.family_name, "given": [patient.given_name]}]
    if patient.sex:
        out["gender"] = patient.sex
    if patient.birth_date:
        out["birthDate"] = patient.birth_date.isoformat()
    extensions = [_ext("label-profile", valueCode=patient.profile)]
    for name, flag in (
        ("pregnant", patient.pregnant),
        ("breastfeeding", patient.breastfeeding),
        ("childbearing-potential", patient.childbearing_potential),
    ):
        if flag is not None:
            extensions.append(_ext(name, valueBoolean=flag))
    if site is not None:
        extensions.append(_ext("home-site", valueReference=ref("site", site.id)))
    out["extension"] = extensions
    return build(out)


def to_fhir_body_measure(ex: Export, patient: Patient, what: str) -> Resource | None:
    """The patient's recorded weight or height (for dosing) as a vital-sign Observation
    without ``partOf``; ``None`` when not recorded."""
    value = patient.weight_kg if what == "weight" else patient.height_cm
    if value is None:
        return None
    term = ex.vocabulary.term("vital-sign", what)
    out = _base(ex, what, patient.id)
    out.update(
        status="final",
        category=[_category("vital-signs")],
        code=ex.vocabulary.concept("vital-sign", what),
        subject=ref("patient", patient.id),
        valueQuantity=_qty(value, term.unit or ""),
    )
    return build(out)


def _category(code: str) -> dict[str, Any]:
    return {"coding": [{"system": OBSERVATION_CATEGORY, "code": code}]}


# ---------------------------------------------------------------------------- conditions


def to_fhir_course(
    ex: Export, course: CourseHistory, until: date | None, current: bool
) -> Resource:
    """The patient's MS with its course from a date (ICD-10-CM G35 subcode and SNOMED CT
    from the knowledge base); ``until`` is when the next course began."""
    out = _base(ex, "course", course.id)
    out.update(
        clinicalStatus={
            "coding": [{"system": CONDITION_CLINICAL, "code": "active" if current else "inactive"}]
        },
        verificationStatus={"coding": [{"system": CONDITION_VERIFICATION, "code": "confirmed"}]},
        category=[{"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item"}]}],
        code=ex.vocabulary.concept("ms-course", course.ms_course),
        subject=ref("patient", course.patient_id),
        onsetDateTime=course.since.isoformat(),
    )
    if until is not None:
        out["abatementDateTime"] = until.isoformat()
    return build(out)


def to_fhir_condition(ex: Export, condition: Condition) -> Resource:
    """A condition of the record (PML, infection, hypersensitivity to an agent...)."""
    out = _base(ex, "condition", condition.id)
    status = "resolved" if condition.resolved else "active"
    out.update(
        clinicalStatus={"coding": [{"system": CONDITION_CLINICAL, "code": status}]},
        code=ex.vocabulary.concept("condition", condition.condition),
        subject=ref("patient", condition.patient_id),
    )
    if condition.onset:
        out["onsetDateTime"] = condition.onset.isoformat()
    if condition.resolved:
        out["abatementDateTime"] = condition.resolved.isoformat()
    return build(out)


def to_fhir_therapy(ex: Export, therapy: Therapy) -> Resource:
    """A prior or current therapy as a MedicationStatement."""
    out = _base(ex, "therapy", therapy.id)
    period = {}
    if therapy.started_on:
        period["start"] = therapy.started_on.isoformat()
    if therapy.ended_on:
        period["end"] = therapy.ended_on.isoformat()
    out.update(
        status="completed" if therapy.ended_on else "active",
        medicationCodeableConcept=ex.vocabulary.concept("therapy", therapy.agent),
        subject=ref("patient", therapy.patient_id),
        extension=[_ext("immunosuppressant", valueBoolean=therapy.immunosuppressant)],
    )
    if period:
        out["effectivePeriod"] = period
    return build(out)


# --------------------------------------------------------------------------------- plans


def _dose_amount(mg: float | None, per_m2: float | None) -> dict[str, Any]:
    if per_m2 is not None:
        return {"doseQuantity": _qty(per_m2, "mg/m2")}
    return {"doseQuantity": _qty(mg or 0.0, "mg")}


def _block_dosages(block: DoseBlock, start: int, repeat: Duration | None) -> list[dict[str, Any]]:
    """Dosage lines of one dose block, numbered from ``start``."""
    doses = block.doses
    days = [d.day for d in doses]
    same = len({(d.dose_mg, d.dose_mg_per_m2) for d in doses}) == 1
    gaps = {b - a for a, b in pairwise(days)}
    lines: list[dict[str, Any]] = []
    if same and len(gaps) <= 1:
        timing: dict[str, Any] = {"count": len(doses)}
        if gaps:
            timing.update(frequency=1, period=gaps.pop(), periodUnit="d")
        groups = [(doses[0], timing, f"{block.label}: {len(doses)} dose(s)")]
    else:
        groups = [(d, {"count": 1}, f"{block.label}: day {d.day + 1}") for d in doses]
    for number, (dose, timing, text) in enumerate(groups, start=start):
        line: dict[str, Any] = {"sequence": number, "text": text}
        line["timing"] = {"repeat": timing}
        if repeat is not None:
            line["text"] = f"{text}, every {repeat.amount} {repeat.unit}"
            line["timing"] = {
                "repeat": {
                    "frequency": 1,
                    "period": repeat.amount,
                    "periodUnit": PERIOD_UNITS[repeat.unit],
                },
                "code": {"text": "course" if len(doses) > 1 else "dose"},
            }
        line["doseAndRate"] = [_dose_amount(dose.dose_mg, dose.dose_mg_per_m2)]
        lines.append(line)
    return lines


def regimen_dosages(regimen: Regimen, profile: str) -> list[dict[str, Any]]:
    """The regimen's dosage instructions in sequence: the initial block, then the
    maintenance (repeat) block with its interval for the profile."""
    lines = _block_dosages(regimen.initial, 1, None)
    if regimen.repeat is not None:
        interval = regimen.repeat.interval.get(profile)  # type: ignore[arg-type]
        lines += _block_dosages(
            regimen.repeat.block, len(lines) + 1, interval.value if interval else None
        )
    for line in lines:
        line["route"] = {"text": regimen.route}
    return lines


def to_fhir_plan(ex: Export, plan: TreatmentPlan, reason_course_id: int | None) -> Resource:
    """A treatment plan as one MedicationRequest: the agent (RxNorm where known), the
    regimen's dosage instructions in sequence, and its status."""
    kb = ex.vocabulary.kb
    out = _base(ex, "plan", plan.id)
    agent = kb.agent(plan.agent)
    regimen = agent.regimen(plan.regimen) if agent else None
    extensions = [
        _ext("regimen", valueCode=plan.regimen),
        _ext("label-profile", valueCode=plan.profile),
        _ext("rate-protocol", valueCode=plan.protocol),
        _ext("plan-status", valueCode=plan.status),
    ]
    if plan.stopped_on:
        extensions.append(_ext("stopped-on", valueDate=plan.stopped_on.isoformat()))
    if plan.switched_to_id:
        extensions.append(_ext("switched-to", valueReference=ref("plan", plan.switched_to_id)))
    if plan.prior_cumulative_mg_per_m2:
        extensions.append(
            _ext(
                "prior-cumulative-dose",
                valueQuantity=_qty(plan.prior_cumulative_mg_per_m2, "mg/m2"),
            )
        )
    out.update(
        extension=extensions,
        status=PLAN_STATUS[plan.status],
        intent="order",
        medicationCodeableConcept=ex.vocabulary.concept("agent", plan.agent),
        subject=ref("patient", plan.patient_id),
        dispenseRequest={"validityPeriod": {"start": plan.starts_on.isoformat()}},
    )
    if regimen is not None:
        out["dosageInstruction"] = regimen_dosages(regimen, plan.profile)
        out["note"] = [{"text": f"{regimen.name}: {regimen.summary}"}]
    if plan.stop_reason:
        out["statusReason"] = {"text": plan.stop_reason}
    if reason_course_id is not None:
        out["reasonReference"] = [ref("course", reason_course_id)]
    return build(out)


def to_fhir_dose(ex: Export, dose: PlannedDose) -> Resource:
    """A dose of a plan as an instance order based on the plan's MedicationRequest."""
    out = _base(ex, "dose", dose.id)
    parts = [
        _ext("number", valueInteger=dose.number),
        _ext("course", valueInteger=dose.course),
        _ext("course-day", valueInteger=dose.course_day),
        _ext("kind", valueCode=dose.kind),
        _ext("status", valueCode=dose.status),
        _ext("earliest", valueDate=dose.earliest_on.isoformat()),
    ]
    if dose.given_on:
        parts.append(_ext("given", valueDate=dose.given_on.isoformat()))
    if dose.reason:
        parts.append(_ext("reason", valueString=dose.reason))
    out.update(
        extension=[{"url": extension_url("planned-dose"), "extension": parts}],
        status=DOSE_STATUS[dose.status],
        intent="instance-order",
        medicationCodeableConcept=ex.vocabulary.concept("agent", dose.agent),
        subject=ref("patient", dose.patient_id),
        basedOn=[ref("plan", dose.plan_id)],
        dosageInstruction=[
            {
                "sequence": 1,
                "text": f"Dose {dose.number} ({dose.kind})",
                "timing": {"event": [dose.planned_on.isoformat()]},
                "doseAndRate": [{"doseQuantity": _qty(dose.dose_mg, "mg")}],
            }
        ],
    )
    return build(out)


# --------------------------------------------------------------------------- infusions


def to_fhir_infusion(ex: Export, adm: Administration) -> Resource:
    """A whole infusion: period, total dose, outcome; the rate segments point at it."""
    out = _base(ex, "infusion", adm.id)
    parts = [
        _ext("protocol", valueCode=adm.protocol),
        _ext("outcome", valueCode=adm.outcome),
        _ext("max-reaction-grade", valueInteger=adm.max_reaction_grade),
    ]
    if adm.started_at is not None:
        parts.append(_ext("started-at", valueDateTime=ex.moment(adm.started_at)))
    if adm.observation_until is not None:
        parts.append(_ext("observation-until", valueDateTime=ex.moment(adm.observation_until)))
    if adm.volume_ml is not None:
        parts.append(_ext("volume", valueQuantity=_qty(adm.volume_ml, "mL")))
    if adm.volume_infused_ml is not None:
        parts.append(_ext("volume-infused", valueQuantity=_qty(adm.volume_infused_ml, "mL")))
    if adm.dose_given_mg is not None and adm.dose_mg is not None:
        parts.append(_ext("bag-dose", valueQuantity=_qty(adm.dose_mg, "mg")))
    period = {"start": ex.moment(adm.given_on)}
    if adm.ended_at is not None:
        period["end"] = ex.moment(adm.ended_at)
    out.update(
        extension=[{"url": extension_url("infusion"), "extension": parts}],
        status=ENTERED_IN_ERROR if _in_error(adm) else INFUSION_STATUS[adm.outcome],
        medicationCodeableConcept=ex.vocabulary.concept("agent", adm.agent),
        subject=ref("patient", adm.patient_id),
        effectivePeriod=period,
    )
    _record_status(out, adm)
    if adm.completion_reason:
        out["statusReason"] = [{"text": adm.completion_reason}]
    if adm.planned_dose_id is not None:
        out["request"] = ref("dose", adm.planned_dose_id)
    elif adm.plan_id is not None:
        out["request"] = ref("plan", adm.plan_id)
    if adm.plan_id is not None:
        out["supportingInformation"] = [ref("plan", adm.plan_id)]
    if adm.appointment_id is not None:
        out["extension"].append(
            _ext("appointment", valueReference=ref("appointment", adm.appointment_id))
        )
    dosage: dict[str, Any] = {"route": {"text": "IV"}}
    if adm.dose_actual_mg is not None:
        dosage["dose"] = _qty(adm.dose_actual_mg, "mg")  # a partial dose when one was recorded
    out["dosage"] = dosage
    return build(out)


def to_fhir_segments(
    ex: Export, adm: Administration, events: Sequence[RateEvent]
) -> list[Resource]:
    """One MedicationAdministration per pump rate event (the segment it starts, up to the
    next event), ``partOf`` the whole infusion, with ``dosage.rateRatio`` in mL per hour."""
    start = adm.started_at or adm.given_on
    ordered = sorted(events, key=lambda e: (e.minute, e.id))
    resources = []
    for index, event in enumerate(ordered):
        out = _base(ex, "segment", event.id)
        begin = start + timedelta(minutes=event.minute)
        period = {"start": ex.moment(begin)}
        if index + 1 < len(ordered):
            period["end"] = ex.moment(start + timedelta(minutes=ordered[index + 1].minute))
        out.update(
            extension=[
                _ext("rate-event", valueCode=event.kind),
                _ext("minute", valueDecimal=event.minute),
            ],
            status=ENTERED_IN_ERROR
            if _in_error(event, adm)
            else ("stopped" if event.kind == "stop" else INFUSION_STATUS[adm.outcome]),
            medicationCodeableConcept=ex.vocabulary.concept("agent", adm.agent),
            subject=ref("patient", adm.patient_id),
            partOf=[ref("infusion", adm.id)],
            effectivePeriod=period,
            dosage={
                "route": {"text": "IV"},
                "rateRatio": {
                    "numerator": _qty(event.rate_ml_per_h, "mL"),
                    "denominator": _qty(1, "h"),
                },
            },
        )
        if event.reason:
            out["statusReason"] = [{"text": event.reason}]
        _record_status(out, event, adm)
        if adm.planned_dose_id is not None:
            out["request"] = ref("dose", adm.planned_dose_id)
        resources.append(build(out))
    return resources


def to_fhir_premedication(ex: Export, adm: Administration, premed: PremedicationGiven) -> Resource:
    """A premedication given before an infusion (free-text drug, dose and route)."""
    out = _base(ex, "premed", premed.id)
    dosage: dict[str, Any] = {}
    if premed.dose:
        dosage["text"] = premed.dose
    if premed.dose_mg is not None:
        dosage["dose"] = _qty(premed.dose_mg, "mg")
    if premed.route:
        dosage["route"] = {"text": premed.route}
    out.update(
        status=ENTERED_IN_ERROR if _in_error(premed, adm) else "completed",
        category={"coding": [{"system": code_system("administration"), "code": "premedication"}]},
        medicationCodeableConcept={"text": premed.drug},
        subject=ref("patient", adm.patient_id),
        partOf=[ref("infusion", adm.id)],
    )
    if premed.given_at is not None:
        out["effectiveDateTime"] = ex.moment(premed.given_at)
    else:
        out["extension"] = [_ext("time-not-recorded", valueBoolean=True)]
        out["effectiveDateTime"] = ex.moment(adm.given_on)
    if dosage:
        out["dosage"] = dosage
    _record_status(out, premed, adm)
    return build(out)


def to_fhir_vital(ex: Export, adm: Administration, vital: VitalSign) -> Resource:
    """A vital sign taken during an infusion visit, ``partOf`` the infusion."""
    out = _base(ex, "vital", vital.id)
    out.update(
        status=ENTERED_IN_ERROR
        if _in_error(vital, adm)
        else OBSERVATION_STATUS[vital.record_status],
        category=[_category("vital-signs")],
        code=ex.vocabulary.concept("vital-sign", vital.kind),
        subject=ref("patient", adm.patient_id),
        partOf=[ref("infusion", adm.id)],
        effectiveDateTime=ex.moment(vital.taken_at),
        valueQuantity=_qty(vital.value, vital.unit),
    )
    if _in_error(vital, adm) and vital.record_status != "entered_in_error":
        _record_status(out, vital, adm)
    if vital.flag:
        out["interpretation"] = [
            {
                "coding": [{"system": INTERPRETATION, "code": FLAG_INTERPRETATION[vital.flag]}],
                "text": vital.flag,
            }
        ]
    return build(out)


def to_fhir_reaction(
    ex: Export, adm: Administration, reaction: InfusionReaction, segment_id: int | None
) -> Resource:
    """An infusion reaction: CTCAE v5 grade (HL7 backport ``ae-grade`` extension), the
    severity and seriousness the knowledge base maps it to, and the suspected infusion
    (the rate segment running at onset when known)."""
    grades = {g.grade: g for g in ex.vocabulary.kb.terminology.reaction_grades}
    mapped = grades.get(reaction.grade)
    start = adm.started_at or adm.given_on
    out = _base(ex, "reaction", reaction.id)
    # AdverseEvent has one identifier in R4: the original one of an imported reaction.
    out["identifier"] = out["identifier"][-1]
    extensions: list[dict[str, Any]] = [
        {
            "url": AE_GRADE,
            "valueCodeableConcept": {
                "coding": [
                    {
                        "system": code_system("ctcae-grade"),
                        "code": str(reaction.grade),
                        "display": f"Grade {reaction.grade}",
                    }
                ],
                "text": f"CTCAE v5.0 grade {reaction.grade}",
            },
        },
        _ext("onset-minute", valueDecimal=reaction.onset_minute),
    ]
    if reaction.resume_minute is not None:
        extensions.append(_ext("resume-minute", valueDecimal=reaction.resume_minute))
    if reaction.actions:
        extensions.append(_ext("actions", valueString=reaction.actions))
    suspect = ref("segment", segment_id) if segment_id is not None else ref("infusion", adm.id)
    out.update(
        extension=extensions,
        actuality="actual",
        event=ex.vocabulary.concept("adverse-event", "infusion_related_reaction"),
        subject=ref("patient", adm.patient_id),
        date=ex.moment(start + timedelta(minutes=reaction.onset_minute)),
        suspectEntity=[{"instance": suspect}],
    )
    if mapped is not None:
        out["severity"] = {"coding": [{"system": AE_SEVERITY, "code": mapped.severity}]}
        code = "serious" if mapped.serious else "non-serious"
        out["seriousness"] = {"coding": [{"system": AE_SERIOUSNESS, "code": code}]}
    if reaction.outcome:
        out["outcome"] = {"text": reaction.outcome}
    _record_status(out, reaction, adm)  # R4 AdverseEvent has no status element
    return build(out)


# ------------------------------------------------------------------ appointments and places


def to_fhir_site(ex: Export, site: Site) -> Resource:
    """An infusion centre as a Location with its opening hours."""
    out = _base(ex, "site", site.id)
    out["identifier"] = [{"system": code_system("site"), "value": site.code}]
    out["extension"] = [
        _ext("start-cap", valueInteger=site.start_cap),
        _ext("nurse-ratio", valueInteger=site.nurse_ratio),
    ]
    out.update(
        status="active" if site.active else "inactive",
        name=site.name,
        mode="instance",
        physicalType={"text": "site"},
        hoursOfOperation=[
            {
                "daysOfWeek": ["mon", "tue", "wed", "thu", "fri"],
                "openingTime": site.opens.isoformat(),
                "closingTime": site.closes.isoformat(),
            }
        ],
    )
    return build(out)


def to_fhir_chair(ex: Export, chair: Chair, site: Site) -> Resource:
    """An infusion chair (or bed) as a Location, part of its site."""
    out = _base(ex, "chair", chair.id)
    out["identifier"] = [{"system": code_system("chair"), "value": f"{site.code}/{chair.name}"}]
    out.update(
        status="active" if chair.active else "inactive",
        name=chair.name,
        mode="instance",
        physicalType={"text": chair.kind},
        partOf=ref("site", site.id),
    )
    return build(out)


def to_fhir_appointment(ex: Export, appt: Appointment) -> Resource:
    """A chair booking: the patient and the chair (a Location) take part."""
    out = _base(ex, "appointment", appt.id)
    minutes = round((appt.ends_at - appt.starts_at).total_seconds() / 60)
    out.update(
        status=APPOINTMENT_STATUS[appt.status],
        serviceType=[{"text": "MS infusion"}],
        start=ex.moment(appt.starts_at),
        end=ex.moment(appt.ends_at),
        minutesDuration=minutes,
        participant=[
            {"actor": ref("patient", appt.patient_id), "status": "accepted"},
            {"actor": ref("chair", appt.chair_id), "status": "accepted"},
        ],
    )
    if appt.notes:
        out["comment"] = appt.notes
    if appt.planned_dose_id is not None:
        out["extension"] = [_ext("planned-dose", valueReference=ref("dose", appt.planned_dose_id))]
    return build(out)


# ------------------------------------------------------------------- labs, vaccines, procedures


def to_fhir_lab(ex: Export, lab: Lab) -> Resource:
    """A lab result: LOINC from the knowledge base (display text only when unconfirmed),
    the value with its UCUM unit, and the laboratory's flag as the interpretation."""
    out = _base(ex, "lab", lab.id)
    out.update(
        status=OBSERVATION_STATUS[lab.record_status],
        category=[_category("laboratory")],
        code=ex.vocabulary.concept("lab", lab.test),
        subject=ref("patient", lab.patient_id),
        effectiveDateTime=lab.taken_on.isoformat(),
    )
    if lab.value_num is not None:
        out["valueQuantity"] = (
            _qty(lab.value_num, lab.unit) if lab.unit else {"value": lab.value_num}
        )
    elif lab.value_text is not None:
        out["valueString"] = lab.value_text
    if lab.flag:
        out["interpretation"] = [
            {
                "coding": [{"system": INTERPRETATION, "code": FLAG_INTERPRETATION[lab.flag]}],
                "text": lab.flag,
            }
        ]
    return build(out)


def to_fhir_vaccination(ex: Export, vaccination: Vaccination) -> Resource:
    """A vaccine given (by name; msinfuse keeps no CVX codes), and whether it is live."""
    out = _base(ex, "vaccination", vaccination.id)
    out.update(
        extension=[_ext("live-vaccine", valueBoolean=vaccination.live)],
        status="completed",
        vaccineCode={
            "coding": [{"system": code_system("vaccine"), "code": vaccination.vaccine}],
            "text": vaccination.vaccine,
        },
        patient=ref("patient", vaccination.patient_id),
        occurrenceDateTime=vaccination.given_on.isoformat(),
    )
    return build(out)


def to_fhir_procedure(ex: Export, procedure: Procedure) -> Resource:
    """A procedure: MRI, plasma exchange, IVIG, skin exam, ECG..."""
    out = _base(ex, "procedure", procedure.id)
    out.update(
        status="completed",
        code=ex.vocabulary.concept("procedure", procedure.procedure),
        subject=ref("patient", procedure.patient_id),
        performedDateTime=procedure.done_on.isoformat(),
    )
    return build(out)


# ------------------------------------------------------------------------- a whole record


def _segment_at(events: Sequence[RateEvent], minute: float) -> int | None:
    running = [e for e in sorted(events, key=lambda e: (e.minute, e.id)) if e.minute <= minute]
    return running[-1].id if running else None


def to_fhir_record(ex: Export, rec: PatientRecord) -> list[Resource]:
    """Every resource of one patient's record, places first, then the patient, then the
    record in dependency order (what an import needs to resolve every reference)."""
    sites = {s.id: s for s in rec.sites}
    patient = rec.patient
    out: list[Resource] = [to_fhir_site(ex, s) for s in rec.sites]
    out += [to_fhir_chair(ex, c, sites[c.site_id]) for c in rec.chairs]
    out.append(to_fhir_patient(ex, patient, sites.get(patient.home_site_id or 0)))
    out += [m for m in (to_fhir_body_measure(ex, patient, w) for w in ("weight", "height")) if m]
    courses = sorted(rec.courses, key=lambda c: (c.since, c.id))
    for index, course in enumerate(courses):
        later = courses[index + 1].since if index + 1 < len(courses) else None
        out.append(to_fhir_course(ex, course, later, later is None))
    current = courses[-1].id if courses else None
    out += [to_fhir_condition(ex, c) for c in rec.conditions]
    out += [to_fhir_therapy(ex, t) for t in rec.therapies]
    out += [to_fhir_plan(ex, p, current) for p in rec.plans]
    out += [to_fhir_dose(ex, d) for d in rec.doses]
    out += [to_fhir_appointment(ex, a) for a in rec.appointments]
    events: dict[int, list[RateEvent]] = {}
    for event in rec.rate_events:
        events.setdefault(event.administration_id, []).append(event)
    by_adm = {a.id: a for a in rec.administrations}
    for adm in rec.administrations:
        out.append(to_fhir_infusion(ex, adm))
        out += to_fhir_segments(ex, adm, events.get(adm.id, []))
    out += [to_fhir_premedication(ex, by_adm[p.administration_id], p) for p in rec.premedications]
    out += [to_fhir_vital(ex, by_adm[v.administration_id], v) for v in rec.vital_signs]
    for reaction in rec.reactions:
        adm = by_adm[reaction.administration_id]
        segment = _segment_at(events.get(adm.id, []), reaction.onset_minute)
        out.append(to_fhir_reaction(ex, adm, reaction, segment))
    out += [to_fhir_lab(ex, lab) for lab in rec.labs]
    out += [to_fhir_vaccination(ex, v) for v in rec.vaccinations]
    out += [to_fhir_procedure(ex, p) for p in rec.procedures]
    return out
