"""Code systems, extension URLs and knowledge-base code lookups for FHIR exchange.

Every standard code comes from the knowledge base (``domain/knowledge/data``). A code whose
status is ``unconfirmed`` is never exported as a code: the concept goes out with its display
text (and msinfuse's own code), and the documentation lists it (``docs/fhir.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from msinfuse.domain.knowledge.schema import PROCEDURE_CODES, Code, KnowledgeBase, TermCode

#: FHIR ``Coding.system`` URIs of the standard code systems (terminology reference).
SYSTEMS: dict[str, str] = {
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "snomed": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
    "icd-10-cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "meddra": "http://terminology.hl7.org/CodeSystem/MDRAE",
    "ndc": "http://hl7.org/fhir/sid/ndc",
}
UCUM = "http://unitsofmeasure.org"

#: msinfuse's canonical base for its own code systems and extensions.
BASE = "https://msinfuse.org/fhir"
AE_GRADE = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
AE_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
AE_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def code_system(name: str) -> str:
    """The URI of one of msinfuse's own code systems."""
    return f"{BASE}/CodeSystem/{name}"


def extension_url(name: str) -> str:
    """The URL of one of msinfuse's own extensions."""
    return f"{BASE}/StructureDefinition/{name}"


def coding(code: Code) -> dict[str, Any] | None:
    """A ``Coding`` for a knowledge-base code, or ``None`` when it must not be exported
    (unconfirmed, no value, or a system FHIR exchange does not use)."""
    if not code.exportable or code.system not in SYSTEMS:
        return None
    out: dict[str, Any] = {"system": SYSTEMS[code.system], "code": code.code}
    out["display"] = code.display
    return out


def concept(local: str, code: str, display: str, codes: Iterable[Code] = ()) -> dict[str, Any]:
    """A ``CodeableConcept``: msinfuse's own coding first, then every exportable standard
    code, with the display as text (all an unconfirmed code contributes)."""
    codings = [{"system": code_system(local), "code": code, "display": display}]
    codings.extend(c for c in (coding(x) for x in codes) if c is not None)
    return {"coding": codings, "text": display}


def unconfirmed(codes: Iterable[Code]) -> list[Code]:
    """The codes of a concept exported as display text only."""
    return [c for c in codes if not c.exportable]


@dataclass(frozen=True, slots=True)
class Term:
    """A concept msinfuse knows: its own code, display and standard codes."""

    code: str
    display: str
    codes: tuple[Code, ...] = ()
    unit: str | None = None


class Vocabulary:
    """The knowledge base's vocabularies, by kind, looked up both ways."""

    def __init__(self, kb: KnowledgeBase) -> None:
        t = kb.terminology
        self.kb = kb
        self.kinds: dict[str, dict[str, Term]] = {
            "ms-course": _terms(t.ms_courses),
            "condition": _terms(t.conditions),
            "procedure": {
                **{p: Term(p, p.replace("_", " ").capitalize()) for p in PROCEDURE_CODES},
                **_terms(t.procedures),
            },
            "vital-sign": _terms(t.vital_signs),
            "adverse-event": _terms(t.adverse_events),
            "lab": {
                lab.code: Term(lab.code, lab.name, (lab.loinc,) if lab.loinc else (), lab.unit)
                for lab in kb.labs.values()
            },
            "therapy": {
                **{a.id: Term(a.id, a.name) for a in kb.agents.values()},
                **{a.id: Term(a.id, a.name) for a in kb.alternatives},
                **{x.id: Term(x.id, x.display) for x in t.therapies},
            },
            "agent": {
                a.id: Term(
                    a.id,
                    a.name,
                    a.codes + tuple(c for p in a.products if p.infusion for c in p.codes),
                )
                for a in kb.agents.values()
            },
        }

    def term(self, kind: str, code: str) -> Term:
        """The term of ``kind`` with msinfuse code ``code`` (a plain term when unknown)."""
        found = self.kinds[kind].get(code)
        if found is not None:
            return found
        return Term(code, code.replace("_", " ").replace(":", ": "))

    def concept(self, kind: str, code: str) -> dict[str, Any]:
        """The ``CodeableConcept`` of a term."""
        term = self.term(kind, code)
        return concept(kind, term.code, term.display, term.codes)

    def match(self, kind: str, concept_json: dict[str, Any] | None) -> str | None:
        """msinfuse's code for a ``CodeableConcept``: its own coding first, then the one
        term whose standard codes include a coding of the concept; ``None`` when unknown
        or ambiguous."""
        if not concept_json:
            return None
        codings = concept_json.get("coding") or []
        own = code_system(kind)
        for c in codings:
            if c.get("system") == own and c.get("code") in self.kinds[kind]:
                return str(c["code"])
        for c in codings:
            if c.get("system") == own:
                continue
            hits = {
                term.code
                for term in self.kinds[kind].values()
                for x in term.codes
                if x.exportable
                and SYSTEMS.get(x.system) == c.get("system")
                and x.code == c.get("code")
            }
            if len(hits) == 1:
                return hits.pop()
        return None


def _terms(items: Iterable[TermCode]) -> dict[str, Term]:
    return {i.id: Term(i.id, i.display, i.codes, i.unit) for i in items}


def unconfirmed_codes(kb: KnowledgeBase) -> list[tuple[str, str, str, str]]:
    """Every unconfirmed code of the exchanged vocabularies, as (kind, concept, system,
    display): exported as display text only."""
    vocabulary = Vocabulary(kb)
    rows: list[tuple[str, str, str, str]] = []
    for kind, terms in vocabulary.kinds.items():
        for term in terms.values():
            for c in unconfirmed(term.codes):
                if c.system in SYSTEMS:
                    rows.append((kind, term.code, c.system, c.display))
    return rows
