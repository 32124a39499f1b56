"""Tiny hand-built scheduling instances for unit tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from msinfuse.domain.scheduling import (
    Assignment,
    Instance,
    Nurse,
    Phases,
    Request,
    Series,
    Site,
    Solution,
    VisitType,
)

# 5-minute units: 96 = 08:00, 108 = 09:00.
SHORT = VisitType("SHORT", Phases(3, 0, 3, 0, 1), acuity=1, prep=4, ondemand_p=0.0)  # 35 min
LONG = VisitType("LONG", Phases(3, 3, 6, 3, 1), acuity=2, prep=4, ondemand_p=1.0)  # 80 min
BED = VisitType("BED", Phases(3, 0, 3, 0, 1), acuity=1, prep=4, ondemand_p=0.0, bed=True)


def site(
    sid: str = "A",
    *,
    open_: int = 96,
    close: int = 120,
    ot_max: int = 12,
    chairs: int = 4,
    beds: int = 0,
    start_cap: int = 4,
    hoods: int = 2,
    nurses: Sequence[tuple[int, int, int]] = ((90, 200, 150),),
) -> Site:
    """A site open 08:00-10:00 by default with one nurse on all day (break at 12:30)."""
    return Site(
        sid,
        open_,
        close,
        ot_max,
        chairs,
        beds,
        start_cap,
        hoods,
        open_ - 6,
        tuple(Nurse(f"{sid}N{i}", a, b, c) for i, (a, b, c) in enumerate(nurses)),
    )


def request(
    rid: str,
    *,
    type_: str = "SHORT",
    sites: Sequence[str] = ("A",),
    days: Sequence[int] = (0,),
    due: int = 0,
    pref: tuple[int, int] = (96, 96),
    ondemand: bool = False,
    rank: int = 0,
    series: Series | None = None,
    window: tuple[int, int] | None = None,
) -> Request:
    """One request (booking rank defaults to its number)."""
    return Request(
        rid,
        f"P{rid}",
        type_,
        tuple(sites),
        sites[0],
        tuple(days),
        due,
        pref,
        ondemand,
        rank or int(rid.lstrip("R")),
        series,
        None,
        window,
    )


def instance(
    requests: Sequence[Request],
    sites: Sequence[Site] = (),
    *,
    days: int = 1,
    m: int = 5,
    **meta: Any,
) -> Instance:
    """An instance over the tiny catalogue."""
    return Instance(
        {"M": m, "unit_min": 5, "start_grid_units": 3, **meta},
        tuple(f"2026-01-0{5 + d}" for d in range(days)),
        tuple(sites) or (site(),),
        {"SHORT": SHORT, "LONG": LONG, "BED": BED},
        tuple(requests),
    )


def solution(*assignments: Assignment, rejected: Sequence[str] = ()) -> Solution:
    """A hand-written solution."""
    return Solution(list(assignments), list(rejected))


def at(
    visit: str,
    start: int,
    *,
    p: int = 7,
    chair: str = "C1",
    site_id: str = "A",
    day: int = 0,
    prep: int | None = None,
) -> Assignment:
    """An assignment of a visit of chair time ``p`` units."""
    return Assignment(visit, site_id, day, start, start + p, chair, prep)


def replace(obj: Any, **changes: Any) -> Any:
    """dataclasses.replace, re-exported for brevity."""
    return dataclasses.replace(obj, **changes)
