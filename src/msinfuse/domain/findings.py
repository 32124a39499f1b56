"""Findings: what an engine wants a clinician to see, with its severity and source.

Every engine (calendar, rates, checks, monitoring, risk) reports expected clinical outcomes
as :class:`Finding` values, never as exceptions:

- ``hold``: do not proceed; only a prescriber may override, with a recorded reason;
- ``warn``: the nurse must acknowledge it before proceeding;
- ``info``: shown, nothing required.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from msinfuse.domain.knowledge.facts import Fact

Severity = Literal["hold", "warn", "info"]
Decision = Literal["go", "caution", "hold"]

_ORDER: dict[str, int] = {"hold": 0, "warn": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding: a stable rule id, a severity, a plain message and its citation."""

    severity: Severity
    rule: str
    message: str
    source: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_fact(
        cls,
        severity: Severity,
        rule: str,
        message: str,
        fact: Fact,
        data: Mapping[str, Any] | None = None,
    ) -> Finding:
        """A finding citing ``fact``; a finding resting on a policy or unconfirmed value says so."""
        if fact.is_weak:
            message = f"{message} [rests on a {fact.status} value]"
        return cls(severity, rule, message, fact.citation_text(), dict(data or {}))


def decide(findings: Iterable[Finding]) -> Decision:
    """``hold`` if any finding holds, else ``caution`` if any warns, else ``go``."""
    severities = {f.severity for f in findings}
    if "hold" in severities:
        return "hold"
    if "warn" in severities:
        return "caution"
    return "go"


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Holds first, then warnings, then information; stable within a severity."""
    return tuple(sorted(findings, key=lambda f: _ORDER[f.severity]))
