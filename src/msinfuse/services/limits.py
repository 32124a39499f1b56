"""The infusion record's limits in force at this clinic: the knowledge base's ``limits.yaml``
with the clinic's own vital-sign ranges (clinic policy, changed by an administrator with a
reason, kept as a history of changes).

:func:`entry_limits` is what every documented vital sign is checked against; a change applies
to entries made after it (a stored entry keeps the flag it was given).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from msinfuse.domain.knowledge.entry_limits import VITAL_KINDS, EntryLimits, VitalSignRange
from msinfuse.domain.knowledge.facts import Cited
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.rates.limits import shown_unit
from msinfuse.errors import InvalidInput
from msinfuse.persistence.models import VitalSignLimitChange
from msinfuse.services import audit
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.validation import validate

SOURCE = "MSINFUSE-POLICY"


class VitalSignLimitsIn(BaseModel):
    """A clinic's ranges for one vital sign, in its unit; a range left out is the knowledge
    base's default again."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    possible: tuple[float, float] | None = Field(
        default=None, description="[lowest, highest] a measurement can be; outside: refused."
    )
    usual: tuple[float, float] | None = Field(
        default=None, description="[lowest, highest] without a flag; outside: flagged."
    )
    reason: str = Field(min_length=1, max_length=1000, description="Why the clinic changes it.")


def _latest(session: Session) -> dict[str, VitalSignLimitChange]:
    rows = session.scalars(
        select(VitalSignLimitChange).order_by(
            VitalSignLimitChange.changed_at, VitalSignLimitChange.id
        )
    ).all()
    return {row.kind: row for row in rows}


def _cited(
    value: tuple[float, float], row: VitalSignLimitChange, default: Cited[tuple[float, float]]
) -> Cited[tuple[float, float]]:
    when = row.changed_at.date().isoformat() if row.changed_at else "n/a"
    return Cited[tuple[float, float]](
        value=value,
        status="policy",
        cite=(f"{SOURCE} §vital-sign limits set by the clinic rev {when}",),
        note=f"Set by {row.changed_by_name or 'an administrator'}: {row.reason} "
        f"(knowledge-base default {default.value[0]:g}-{default.value[1]:g}).",
    )


def _apply(default: VitalSignRange, row: VitalSignLimitChange | None) -> VitalSignRange:
    if row is None:
        return default
    changes: dict[str, Any] = {}
    if row.possible_low is not None and row.possible_high is not None:
        changes["possible"] = _cited((row.possible_low, row.possible_high), row, default.possible)
    if row.usual_low is not None and row.usual_high is not None and default.usual is not None:
        changes["usual"] = _cited((row.usual_low, row.usual_high), row, default.usual)
    return default.model_copy(update=changes)


def entry_limits(session: Session, kb: KnowledgeBase) -> EntryLimits:
    """The limits in force: the knowledge base's, with the clinic's vital-sign ranges."""
    latest = _latest(session)
    if not latest:
        return kb.limits
    signs = tuple(_apply(v, latest.get(v.kind)) for v in kb.limits.vital_signs)
    return kb.limits.model_copy(update={"vital_signs": signs})


def _range_json(value: Cited[tuple[float, float]] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "low": value.value[0],
        "high": value.value[1],
        "status": value.status,
        "source": value.citation_text(),
    }


def vital_sign_limits(session: Session, ctx: ServiceContext) -> list[dict[str, Any]]:
    """Each vital sign's ranges in force, the knowledge base's defaults, and who last changed
    them."""
    require(ctx.actor, "knowledge.read")
    latest = _latest(session)
    effective = entry_limits(session, ctx.kb)
    out = []
    for default in ctx.kb.limits.vital_signs:
        now = effective.vital(default.kind)
        assert now is not None
        row = latest.get(default.kind)
        out.append(
            {
                "kind": default.kind,
                "unit": default.unit,
                "unit_shown": shown_unit(default.unit),
                "possible": _range_json(now.possible),
                "usual": _range_json(now.usual),
                "default_possible": _range_json(default.possible),
                "default_usual": _range_json(default.usual),
                "changed": row is not None
                and (row.possible_low is not None or row.usual_low is not None),
                "changed_by": row.changed_by_name if row else None,
                "changed_at": row.changed_at.isoformat(timespec="seconds")
                if row and row.changed_at
                else None,
                "reason": row.reason if row else None,
            }
        )
    return out


def _check(kind: str, default: VitalSignRange, body: VitalSignLimitsIn) -> None:
    possible = body.possible or default.possible.value
    if possible[0] >= possible[1]:
        raise InvalidInput("the lowest possible value must be below the highest", field="possible")
    if possible[0] < 0:
        raise InvalidInput("a vital sign cannot be negative", field="possible")
    if kind == "spo2" and possible[1] > 100:
        raise InvalidInput("oxygen saturation cannot be above 100 %", field="possible")
    if body.usual is not None and default.usual is None:
        raise InvalidInput(f"{kind.replace('_', ' ')} has no usual range to flag", field="usual")
    usual = body.usual or (default.usual.value if default.usual else None)
    if usual is not None:
        if usual[0] > usual[1]:
            raise InvalidInput("the usual range runs from its lowest to its highest", field="usual")
        if usual[0] < possible[0] or usual[1] > possible[1]:
            raise InvalidInput("the usual range must lie inside the possible range", field="usual")


def set_vital_sign_limits(
    session: Session, ctx: ServiceContext, kind: str, data: VitalSignLimitsIn | dict[str, Any]
) -> dict[str, Any]:
    """Change the clinic's ranges of one vital sign, with a reason (an administrator); a
    range left out is the knowledge base's default again."""
    require(ctx.actor, "sites.manage")
    if kind not in VITAL_KINDS:
        raise InvalidInput(f"choose a vital sign: {', '.join(VITAL_KINDS)}", field="kind")
    body: VitalSignLimitsIn = validate(VitalSignLimitsIn, data)
    default = ctx.kb.limits.vital(kind)
    assert default is not None
    _check(kind, default, body)
    row = VitalSignLimitChange(
        kind=kind,
        possible_low=body.possible[0] if body.possible else None,
        possible_high=body.possible[1] if body.possible else None,
        usual_low=body.usual[0] if body.usual else None,
        usual_high=body.usual[1] if body.usual else None,
        reason=body.reason,
        changed_by=ctx.actor.user_id,
        changed_by_name=ctx.actor.username,
        changed_at=ctx.now,
    )
    session.add(row)
    session.flush()
    audit.record(session, ctx, "update", "VitalSignLimits", kind)
    return next(v for v in vital_sign_limits(session, ctx) if v["kind"] == kind)


__all__ = [
    "VitalSignLimitsIn",
    "entry_limits",
    "set_vital_sign_limits",
    "vital_sign_limits",
]
