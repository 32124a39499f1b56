"""Small SQL constructs that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class days_between(FunctionElement[int]):
    """Whole days from the second date to the first (``later - earlier``)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"

    def __init__(self, later: Any, earlier: Any) -> None:
        super().__init__(later, earlier)


@compiles(days_between, "postgresql")
def _days_pg(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(days_between, "sqlite")
def _days_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"CAST(julianday({compiler.process(later, **kw)}) - "
        f"julianday({compiler.process(earlier, **kw)}) AS INTEGER)"
    )
