"""Cited facts: the building block of the knowledge base.

Every clinical number in msinfuse lives in a :class:`Cited` value: the value itself, its
``status`` (how strongly it is sourced) and one or more citations (source key, section,
label revision). A fact that differs between the US (FDA) and EU (EMA) label profiles is a
:class:`ByProfile` value holding one fact per profile; a profile without a value reports
the fact as *not established* rather than borrowing the other profile's value.

Citation strings in the YAML files read like the reference notes they come from::

    "S04 §2.3 rev 1/2024"        source S04, section 2.3, label revision 1/2024
    "OFDA-LEM §boxed warning rev 2026-09-15"

Durations are written in words (``"24 weeks"``, ``"6 months"``, ``"14 days"``) and parsed
into :class:`Duration`.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, field_validator, model_validator
from pydantic_core import core_schema

Status = Literal["label", "secondary", "literature", "policy", "unconfirmed"]
"""How a fact is sourced (clinical-decisions §1):

- ``label``: seen in label text or a faithful copy of it;
- ``secondary``: seen only in a compendium or a manufacturer page;
- ``literature``: a trial or a review, not a label;
- ``policy``: a clinic default the label leaves open (configurable);
- ``unconfirmed``: not seen in any retrieved source.
"""

WEAK_STATUSES: frozenset[str] = frozenset({"policy", "unconfirmed"})
"""Statuses an engine must call out in its output when it uses such a value."""

ProfileId = Literal["us", "eu"]
PROFILES: tuple[ProfileId, ...] = ("us", "eu")

T = TypeVar("T")


class Frozen(BaseModel):
    """Base for knowledge-base models: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


_CITATION = re.compile(
    r"^(?P<source>[A-Za-z0-9][A-Za-z0-9._-]*)\s+§(?P<section>.+?)\s+rev\s+(?P<revision>.+)$"
)


class Citation(Frozen):
    """Where a fact was seen: a source key from ``sources.yaml``, a section, a revision."""

    source: str
    section: str
    revision: str

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, str):
            match = _CITATION.match(data.strip())
            if match is None:
                raise ValueError(
                    f"citation {data!r} must read 'SOURCE §section rev revision', "
                    "e.g. 'S04 §2.3 rev 1/2024'"
                )
            return match.groupdict()
        return data

    def __str__(self) -> str:
        return f"{self.source} §{self.section} rev {self.revision}"


class Fact(Frozen):
    """Anything the knowledge base asserts: a status and at least one citation."""

    status: Status
    cite: tuple[Citation, ...]
    note: str | None = None

    @field_validator("cite", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str | dict):
            return (value,)
        return value

    @field_validator("cite")
    @classmethod
    def _not_empty(cls, value: tuple[Citation, ...]) -> tuple[Citation, ...]:
        if not value:
            raise ValueError("a fact needs at least one citation")
        return value

    @property
    def is_weak(self) -> bool:
        """True for ``policy`` and ``unconfirmed`` facts, which outputs must call out."""
        return self.status in WEAK_STATUSES

    @property
    def sources(self) -> tuple[str, ...]:
        """The source keys cited, primary first."""
        return tuple(c.source for c in self.cite)

    def citation_text(self) -> str:
        """All citations, joined for display."""
        return "; ".join(str(c) for c in self.cite)


class Cited(Fact, Generic[T]):
    """A value with its status and citations."""

    value: T


def add_months(start: date, months: int) -> date:
    """Calendar-month arithmetic: same day of month, clamped to the month's last day."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last_day))


_DURATION = re.compile(r"^(?P<amount>\d+)\s*(?P<unit>day|week|month|year)s?$")
DurationUnit = Literal["days", "weeks", "months", "years"]


@dataclass(frozen=True, slots=True)
class Duration:
    """A label interval: "N weeks" is 7·N days; "N months" is calendar months.

    Calendar months keep the day of month and clamp to the last day of a shorter month
    (clinical-decisions §2: 2026-08-31 + 6 months = 2027-02-28).
    """

    amount: int
    unit: DurationUnit

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("a duration cannot be negative")

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse ``"24 weeks"``, ``"6 months"``, ``"1 day"``..."""
        match = _DURATION.match(text.strip().lower())
        if match is None:
            raise ValueError(f"duration {text!r} must read like '24 weeks' or '6 months'")
        unit: DurationUnit = f"{match['unit']}s"  # type: ignore[assignment]
        return cls(int(match["amount"]), unit)

    def after(self, start: date) -> date:
        """The date this duration after ``start``."""
        if self.unit == "days":
            return start + timedelta(days=self.amount)
        if self.unit == "weeks":
            return start + timedelta(weeks=self.amount)
        months = self.amount if self.unit == "months" else 12 * self.amount
        return add_months(start, months)

    def before(self, end: date) -> date:
        """The date this duration before ``end``."""
        if self.unit == "days":
            return end - timedelta(days=self.amount)
        if self.unit == "weeks":
            return end - timedelta(weeks=self.amount)
        months = self.amount if self.unit == "months" else 12 * self.amount
        return add_months(end, -months)

    def approx_days(self) -> float:
        """Average length in days, for per-year burden estimates only (never for dates)."""
        per_unit = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}
        return self.amount * per_unit[self.unit]

    def __str__(self) -> str:
        unit = self.unit[:-1] if self.amount == 1 else self.unit
        return f"{self.amount} {unit}"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Duration:
            if isinstance(value, Duration):
                return value
            if not isinstance(value, str):
                raise ValueError("a duration is written like '24 weeks' or '6 months'")
            return cls.parse(value)

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


class ByProfile(Frozen, Generic[T]):
    """One cited value per label profile; a missing profile means *not established*.

    In YAML, a plain cited value (with ``value``) applies to both profiles; a mapping with
    ``us`` and/or ``eu`` keys gives each profile its own value.
    """

    us: Cited[T] | None = None
    eu: Cited[T] | None = None

    @model_validator(mode="before")
    @classmethod
    def _same_for_both(cls, data: Any) -> Any:
        if isinstance(data, dict) and "value" in data:
            return {"us": data, "eu": data}
        return data

    @model_validator(mode="after")
    def _at_least_one(self) -> ByProfile[T]:
        if self.us is None and self.eu is None:
            raise ValueError("give a value for at least one profile (us or eu)")
        return self

    def get(self, profile: ProfileId) -> Cited[T] | None:
        """The fact for ``profile``, or ``None`` when it is not established there."""
        return self.us if profile == "us" else self.eu

    def differs(self) -> bool:
        """True when the two profiles hold different values (or only one holds one)."""
        if self.us is None or self.eu is None:
            return True
        return bool(self.us.value != self.eu.value)
