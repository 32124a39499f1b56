"""One list behaviour for every collection: ``limit``, ``offset`` and ``sort`` query
parameters and a page envelope ``{"items", "total", "limit", "offset", "sort"}``.

``sort`` names a field of the items, ``-field`` for descending; missing values sort last
either way. Filters are each route's own query parameters (site, date, search, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from msinfuse.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class Page(BaseModel, Generic[T]):
    """A page of a collection."""

    items: list[T]
    total: int
    limit: int
    offset: int
    sort: str | None = None


@dataclass(frozen=True)
class ListParams:
    """The list query parameters shared by every collection route."""

    limit: int
    offset: int
    sort: str | None


def list_params(
    limit: int = Query(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page (at most 1000)."
    ),
    offset: int = Query(default=0, ge=0, description="Items to skip."),
    sort: str | None = Query(
        default=None,
        max_length=40,
        pattern=r"^-?[a-z][a-z0-9_]*$",
        description="A field of the items to sort by; prefix with '-' for descending.",
    ),
) -> ListParams:
    """Read the list query parameters."""
    return ListParams(limit, offset, sort)


def paginate(rows: Sequence[dict[str, Any]], params: ListParams) -> dict[str, Any]:
    """Sort (when asked) and cut one page out of ``rows``.

    An unknown sort field is a 400 naming the fields that can be used.
    """
    items = list(rows)
    if params.sort:
        field = params.sort.lstrip("-")
        known = sorted({key for row in items for key in row}) if items else []
        if items and field not in known:
            raise InvalidInput(f"cannot sort by {field!r}; sortable fields: {', '.join(known)}")
        descending = params.sort.startswith("-")
        present = [r for r in items if r.get(field) is not None]
        absent = [r for r in items if r.get(field) is None]
        present.sort(key=lambda r: _key(r[field]), reverse=descending)
        items = present + absent
    return {
        "items": items[params.offset : params.offset + params.limit],
        "total": len(items),
        "limit": params.limit,
        "offset": params.offset,
        "sort": params.sort,
    }


def _key(value: Any) -> tuple[int, Any]:
    """Numbers before text; each compared within its kind (mixed columns never raise)."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    return (1, str(value))
