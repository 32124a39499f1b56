"""Today's board: chairs × time at a site, refreshed by htmx polling."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from msinfuse.domain.provenance import DECISION_SUPPORT
from msinfuse.http.deps import DB
from msinfuse.services import clinic, visits, worklists
from msinfuse.web.common import WebRequest, labels_for, render, web

router = APIRouter()
READ = web("worklists.read")
SLOT_MIN = 15


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def board_data(
    wr: WebRequest, session: Session, site: str | None, on: date | None
) -> dict[str, Any]:
    """Everything the board shows: the site's chairs as lanes of 15-minute slots, each
    appointment placed on its lane with its check decision and live visit state."""
    sites = clinic.list_sites(session, wr.ctx)
    day = on or wr.ctx.today
    chosen = next((s for s in sites if s["code"] == site), sites[0] if sites else None)
    if chosen is None:
        return {"sites": [], "site": None, "day": day, "lanes": [], "hours": []}
    rows = worklists.today(session, wr.ctx, day, chosen["code"])
    live = visits.visits_of_appointments(session, wr.ctx, [r["appointment_id"] for r in rows])
    opens = _minutes(time.fromisoformat(chosen["opens"]))
    closes = _minutes(time.fromisoformat(chosen["closes"]))
    for r in rows:  # the board stretches to hold appointments outside opening hours
        start = datetime.fromisoformat(r["starts_at"])
        end = datetime.fromisoformat(r["ends_at"])
        opens = min(opens, (start.hour * 60 + start.minute) // 60 * 60)
        closes = max(closes, end.hour * 60 + end.minute if end.date() == day else 24 * 60)
    slots = max((closes - opens + SLOT_MIN - 1) // SLOT_MIN, 1)
    lanes: dict[str, list[dict[str, Any]]] = {c["name"]: [] for c in chosen["chairs"]}
    for r in rows:
        start = datetime.fromisoformat(r["starts_at"])
        end = datetime.fromisoformat(r["ends_at"])
        first = (start.hour * 60 + start.minute - opens) // SLOT_MIN
        last_min = end.hour * 60 + end.minute if end.date() == day else 24 * 60
        span = max((last_min - opens + SLOT_MIN - 1) // SLOT_MIN - first, 1)
        lanes.setdefault(r["chair"], []).append(
            {
                **r,
                "col": min(first, 96) + 1,
                "span": min(span, 96),
                "visit": live.get(r["appointment_id"]),
            }
        )
    hours = [
        {"label": f"{m // 60:02d}:00", "col": (m - opens) // SLOT_MIN + 1}
        for m in range((opens + 59) // 60 * 60, closes, 60)
    ]
    return {
        "sites": sites,
        "site": chosen,
        "day": day,
        "slots": slots,
        "hours": hours,
        "lanes": [{"chair": name, "appointments": appts} for name, appts in lanes.items()],
        "count": len(rows),
        "labels": labels_for(wr, {r["agent"] for r in rows}),
        "decision_support": DECISION_SUPPORT,
        "prev_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
    }


@router.get("/board", response_class=HTMLResponse)
def board(
    site: str | None = Query(default=None, max_length=20),
    on: date | None = Query(default=None, alias="date"),
    wr: WebRequest = READ,
    session: Session = DB,
) -> HTMLResponse:
    """Today's board."""
    return render(wr, "board.html", **board_data(wr, session, site, on))


@router.get("/board/grid", response_class=HTMLResponse)
def board_grid(
    site: str | None = Query(default=None, max_length=20),
    on: date | None = Query(default=None, alias="date"),
    wr: WebRequest = READ,
    session: Session = DB,
) -> HTMLResponse:
    """The board's grid alone (htmx polls it)."""
    return render(wr, "_board_grid.html", **board_data(wr, session, site, on))
