"""Provenance: which facts an output rests on.

Every clinician-facing output carries the decision-support statement, the label revisions
of the profile it used, the source keys of every fact it used, and an ``info`` finding for
every ``policy`` or ``unconfirmed`` value it relied on (clinical-decisions §1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from msinfuse.domain.findings import Finding
from msinfuse.domain.knowledge.facts import Fact, ProfileId
from msinfuse.domain.knowledge.schema import Agent

DECISIONS_CITATION = "CD-MSINFUSE §1 rev 2026.11"
"""Cited when an output reports that a fact is not established for a profile."""

DECISION_SUPPORT = (
    "Decision support only: verify against the current prescribing information before acting. "
    "A clinician confirms every clinical action."
)


@dataclass(frozen=True, slots=True)
class LabelRef:
    """A label revision an output rests on."""

    agent: str
    profile: ProfileId
    document: str
    revision: str
    status: str

    def __str__(self) -> str:
        return f"{self.document}, revision {self.revision} ({self.profile.upper()})"


def label_refs(agent: Agent, profile: ProfileId) -> tuple[LabelRef, ...]:
    """The label revisions ``agent``'s facts reflect under ``profile``."""
    return tuple(
        LabelRef(agent.id, profile, label.document, label.revision, label.status)
        for label in agent.label_revisions(profile)
    )


@dataclass
class FactLog:
    """Collects the facts an engine used, for its sources and its weak-value findings."""

    _sources: dict[str, None] = field(default_factory=dict)
    _weak: dict[str, Finding] = field(default_factory=dict)

    def use(self, fact: Fact, what: str, value: object | None = None) -> None:
        """Record that the engine used ``fact`` (described as ``what``)."""
        for source in fact.sources:
            self._sources.setdefault(source, None)
        if fact.is_weak and what not in self._weak:
            shown = f" = {value}" if value is not None else ""
            self._weak[what] = Finding(
                "info",
                f"provenance.{fact.status}",
                f"Uses a {fact.status} value: {what}{shown}."
                + (f" {fact.note}" if fact.note else ""),
                fact.citation_text(),
            )

    def use_source(self, key: str) -> None:
        """Record a source key used indirectly (through another engine's output)."""
        self._sources.setdefault(key, None)

    def sources(self) -> tuple[str, ...]:
        """Source keys used, in first-use order."""
        return tuple(self._sources)

    def weak_findings(self) -> tuple[Finding, ...]:
        """One ``info`` finding per policy or unconfirmed value used."""
        return tuple(self._weak.values())
