"""Worklists: monitoring due, doses without appointments, anti-JCV and TOUCH due, PML risk,
adherence. Each sortable, filterable and exportable as CSV (from the same service rows)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from msinfuse.domain.provenance import DECISION_SUPPORT
from msinfuse.errors import NotFound
from msinfuse.http.deps import DB
from msinfuse.services import clinic, worklists
from msinfuse.web.common import WebRequest, labels_for, render, web

router = APIRouter()
READ = web("worklists.read")


@dataclass(frozen=True)
class Worklist:
    """A worklist: its title, its columns (row key, heading) and how to fetch its rows."""

    title: str
    description: str
    columns: tuple[tuple[str, str], ...]
    fetch: Callable[[Session, WebRequest, str | None], list[dict[str, Any]]]
    default_sort: str


def _jcv_touch(session: Session, wr: WebRequest, site: str | None) -> list[dict[str, Any]]:
    rows = worklists.monitoring_due(session, wr.ctx, None, site)
    return [r for r in rows if r["item_id"].startswith(("jcv", "touch")) or "TOUCH" in r["item"]]


PATIENT = (("family_name", "Family name"), ("given_name", "Given name"), ("mrn", "Record"))
WORKLISTS: dict[str, Worklist] = {
    "monitoring": Worklist(
        "Monitoring due",
        "Monitoring items overdue or due soon, clinic-wide.",
        (
            *PATIENT,
            ("agent", "Agent"),
            ("item", "Item"),
            ("due_on", "Due"),
            ("status", "Status"),
            ("last_done", "Last done"),
            ("source", "Source"),
        ),
        lambda s, wr, site: worklists.monitoring_due(s, wr.ctx, None, site),
        "due_on",
    ),
    "due": Worklist(
        "Doses without appointments",
        "Doses overdue or due within 14 days that have no chair booked.",
        (
            *PATIENT,
            ("agent", "Agent"),
            ("number", "Infusion"),
            ("kind", "Kind"),
            ("planned_on", "Planned"),
            ("earliest_on", "Earliest"),
            ("status", "Status"),
            ("overdue", "Overdue"),
        ),
        lambda s, wr, site: worklists.due(s, wr.ctx, None, 14, site),
        "planned_on",
    ),
    "jcv-touch": Worklist(
        "Anti-JCV and TOUCH due",
        "Natalizumab anti-JCV retests, TOUCH re-authorizations and PML evaluations due.",
        (
            *PATIENT,
            ("item", "Item"),
            ("due_on", "Due"),
            ("status", "Status"),
            ("last_done", "Last done"),
            ("source", "Source"),
        ),
        _jcv_touch,
        "due_on",
    ),
    "pml": Worklist(
        "PML risk (natalizumab)",
        "Natalizumab patients by estimated PML risk, highest first.",
        (
            *PATIENT,
            ("risk_per_1000", "Risk per 1,000"),
            ("band", "Band"),
            ("category", "Category"),
            ("jcv_status", "Anti-JCV"),
            ("jcv_index", "Index"),
            ("months_exposed", "Months"),
            ("computed_on", "Computed"),
        ),
        lambda s, wr, site: worklists.pml(s, wr.ctx, site),
        "-risk_per_1000",
    ),
    "adherence": Worklist(
        "Adherence",
        "Doses given in the last year per agent and month: how many late, by how many days.",
        (
            ("agent", "Agent"),
            ("month", "Month"),
            ("given", "Given"),
            ("late", "Late"),
            ("mean_days_late", "Mean days late"),
            ("max_days_late", "Max days late"),
        ),
        lambda s, wr, site: worklists.adherence(s, wr.ctx, None, None, site),
        "month",
    ),
}


def _sort_key(column: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    def key(row: dict[str, Any]) -> tuple[int, Any]:
        value = row.get(column)
        if value is None:
            return (1, "")
        return (0, value if isinstance(value, int | float) else str(value).lower())

    return key


def _rows(
    rows: list[dict[str, Any]],
    columns: tuple[tuple[str, str], ...],
    q: str,
    agent: str,
    status: str,
    sort: str,
) -> list[dict[str, Any]]:
    if q:
        needle = q.lower()
        rows = [r for r in rows if any(needle in str(r.get(k, "")).lower() for k, _ in columns)]
    if agent:
        rows = [r for r in rows if r.get("agent") == agent]
    if status:
        rows = [r for r in rows if str(r.get("status")) == status]
    column = sort.lstrip("-")
    if column in {k for k, _ in columns}:
        rows = sorted(rows, key=_sort_key(column), reverse=sort.startswith("-"))
    return rows


@router.get("/worklists", response_class=HTMLResponse)
def index(wr: WebRequest = READ) -> HTMLResponse:
    """The worklists."""
    return render(wr, "worklists.html", worklists=WORKLISTS)


@router.get("/worklists/{kind}", response_class=HTMLResponse)
def worklist(
    kind: str,
    site: str | None = Query(default=None, max_length=20),
    q: str = Query(default="", max_length=100),
    agent: str = Query(default="", max_length=40),
    status: str = Query(default="", max_length=20),
    sort: str = Query(default="", max_length=40),
    export: str = Query(default="", alias="format", max_length=10),
    wr: WebRequest = READ,
    session: Session = DB,
) -> Response:
    """One worklist as a page, or as CSV (``format=csv``) with the same filters and order."""
    found = WORKLISTS.get(kind)
    if found is None:
        raise NotFound(f"no worklist {kind!r}; worklists: {', '.join(WORKLISTS)}")
    raw = found.fetch(session, wr, site or None)
    rows = _rows(raw, found.columns, q.strip(), agent, status, sort or found.default_sort)
    if export == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([heading for _, heading in found.columns])
        for row in rows:
            writer.writerow(["" if row.get(k) is None else row.get(k) for k, _ in found.columns])
        filename = f"msinfuse-{kind}-{date.today().isoformat()}.csv"
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )
    agents = sorted({str(r["agent"]) for r in raw if r.get("agent")})
    statuses = sorted({str(r["status"]) for r in raw if r.get("status") is not None})
    return render(
        wr,
        "worklist.html",
        kind=kind,
        worklist=found,
        rows=rows,
        total=len(raw),
        sites=clinic.list_sites(session, wr.ctx),
        site=site or "",
        q=q,
        agent=agent,
        status_filter=status,
        sort=sort or found.default_sort,
        agents=agents,
        statuses=statuses,
        labels=labels_for(wr, agents),
        decision_support=DECISION_SUPPORT,
    )
