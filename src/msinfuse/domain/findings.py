"""Findings: what an engine wants a clinician to see, with its severity and source.

Every engine (calendar, rates, checks, monitoring, risk) reports expected clinical outcomes
as :class:`Finding` values, never as exceptions:

- ``hold``: do not proceed; only a prescriber may override, with a recorded reason;
- ``warn``: the nurse must acknowledge it before proceeding;
- ``info``: shown, nothing required.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from msinfuse.domain.knowledge.facts import Fact

Severity = Literal["hold", "warn", "info"]
Decision = Literal["go", "caution", "hold"]

_ORDER: dict[str, int] = {"hold": 0, "warn": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding: a stable rule id, a severity, a plain message and its citation.

    ``facts`` are the knowledge-base facts the finding was made from (not shown, not
    compared): the test that every checked fact is read by a rule looks at them.
    """

    severity: Severity
    rule: str
    message: str
    source: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    facts: tuple[Fact, ...] = field(default=(), compare=False, repr=False)

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
        return cls.from_facts(severity, rule, message, (fact,), data)

    @classmethod
    def from_facts(
        cls,
        severity: Severity,
        rule: str,
        message: str,
        facts: Sequence[Fact],
        data: Mapping[str, Any] | None = None,
    ) -> Finding:
        """A finding citing every fact of ``facts`` (citations joined, repeats dropped). It
        says it rests on a policy or unconfirmed value when no stronger fact backs it."""
        if not facts:
            raise ValueError("a finding made from facts needs at least one fact")
        if all(f.is_weak for f in facts):
            weakest = "unconfirmed" if any(f.status == "unconfirmed" for f in facts) else "policy"
            message = f"{message} [rests on a {weakest} value]"
        citations = list(dict.fromkeys(str(c) for f in facts for c in f.cite))
        return cls(severity, rule, message, "; ".join(citations), dict(data or {}), tuple(facts))


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
