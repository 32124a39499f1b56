"""Greedy baselines: FCFS earliest-fit (§7.10) and LPT earliest-fit.

Both walk requests in an order (booking order, or longest chair time first) and give each the
first start that fits: preferred-window grid starts first, then the rest of the hard window
earliest to latest; the (site, day) options are tried cheapest first (due day at the home
site, then by days away and site). A series is placed whole (consecutive days, one site) or
rejected whole.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from msinfuse.domain.scheduling.core import (
    Placement,
    SiteDayState,
    fcfs_order,
    make_solution,
)
from msinfuse.domain.scheduling.model import Instance, Request, Solution


def units(instance: Instance) -> list[list[Request]]:
    """Booking units: single requests, and each series as its members in index order."""
    series: dict[str, list[Request]] = defaultdict(list)
    result: list[list[Request]] = []
    for r in instance.requests:
        if r.series is None:
            result.append([r])
        else:
            if r.series.id not in series:
                result.append(series[r.series.id])
            series[r.series.id].append(r)
    for group in series.values():
        group.sort(key=lambda r: r.series.index if r.series else 0)
    return result


def series_start_days(unit: Sequence[Request]) -> list[int]:
    """Start days d such that member k may run on day d + k."""
    first = unit[0]
    return [d for d in first.days if all(d + k in r.days for k, r in enumerate(unit))]


def place_unit(
    instance: Instance,
    unit: Sequence[Request],
    states: dict[tuple[str, int], SiteDayState],
) -> list[Placement] | None:
    """Place a booking unit by earliest-fit into ``states`` (mutated), or None if it fails."""

    def state(site_id: str, day: int) -> SiteDayState:
        key = (site_id, day)
        if key not in states:
            states[key] = SiteDayState(instance, instance.site(site_id), day)
        return states[key]

    first = unit[0]
    w = instance.weights
    if len(unit) == 1 and first.series is None:
        options = sorted(
            ((s, d) for s in first.sites for d in first.days),
            key=lambda o: (
                w.days_away * abs(o[1] - first.due_day) + w.non_home * (o[0] != first.home),
                first.sites.index(o[0]),
                o[1],
            ),
        )
    else:
        starts = series_start_days(unit)
        options = sorted(
            ((s, d) for s in first.sites for d in starts),
            key=lambda o: (
                w.days_away * abs(o[1] - first.due_day) + w.non_home * (o[0] != first.home),
                first.sites.index(o[0]),
                o[1],
            ),
        )
    for site_id, day in options:
        placed: list[Placement] = []
        ok = True
        for k, request in enumerate(unit):
            st = state(site_id, day + k)
            for start in fcfs_order(instance, request, st.site):
                fits, prep = st.fits(request, start)
                if fits:
                    st.place(request, start, prep)
                    placed.append(Placement(request, site_id, day + k, start, prep))
                    break
            else:
                ok = False
                break
        if ok:
            return placed
        for pl in placed:
            states[(pl.site, pl.day)].place(pl.request, pl.start, pl.prep, sign=-1)
    return None


def earliest_fit(
    instance: Instance,
    key: Callable[[list[Request]], tuple[float, ...]],
    name: str,
) -> Solution:
    """Earliest-fit over booking units sorted by ``key``."""
    began = time.perf_counter()
    states: dict[tuple[str, int], SiteDayState] = {}
    placements: list[Placement] = []
    rejected: list[str] = []
    for unit in sorted(units(instance), key=key):
        placed = place_unit(instance, unit, states)
        if placed is None:
            rejected.extend(r.id for r in unit)
        else:
            placements.extend(placed)
    return make_solution(
        instance,
        placements,
        rejected,
        {"name": name, "wall_s": round(time.perf_counter() - began, 3), "threads": 1},
    )


def fcfs(instance: Instance) -> Solution:
    """First come, first served: booking order (a series at its first member's rank)."""
    return earliest_fit(instance, lambda u: (min(r.booking_rank for r in u),), "fcfs")


def lpt(instance: Instance) -> Solution:
    """Longest processing time first (total chair time of the unit), ties by booking rank."""
    return earliest_fit(
        instance,
        lambda u: (
            -sum(instance.phases(r).chair for r in u),
            min(r.booking_rank for r in u),
        ),
        "lpt",
    )
