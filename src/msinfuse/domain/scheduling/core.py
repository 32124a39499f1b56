"""Solver-side building blocks shared by the greedy, CP-SAT and bound code.

Nurse capacity profiles, candidate starts, a mutable site-day resource state for
earliest-fit, chair assignment by interval partitioning, and the objective and metrics of a
schedule. The independent checker (``checker.py``) deliberately uses none of this.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from msinfuse.domain.scheduling.model import (
    GRID,
    UNIT_MIN,
    Assignment,
    Instance,
    Request,
    Site,
    Solution,
)

DAY_UNITS = 24 * 60 // UNIT_MIN
CHECKIN_UNITS = 6


def nurses_on_duty(instance: Instance, site: Site, day: int) -> list[int]:
    """N(t) for each 5-minute unit of day index ``day``: on duty and not on break.

    A nurse whose shift ends within ``nurse_stay_within_units`` of closing stays available
    until the hard end of the day (close + maximum overtime).
    """
    profile = [0] * DAY_UNITS
    for nurse in site.nurses:
        if not nurse.works(day):
            continue
        end = nurse.end
        if end >= site.close - instance.stay_within_units:
            end = max(end, site.latest_end)
        for t in range(nurse.start, min(end, DAY_UNITS)):
            if not nurse.break_start <= t < nurse.break_start + instance.break_units:
                profile[t] += 1
    return profile


def checkin_units(instance: Instance) -> int:
    """How long before the start a patient checks in (earliest prep start)."""
    return int(instance.meta.get("checkin_before_units", CHECKIN_UNITS))


def candidate_starts(instance: Instance, request: Request, site: Site) -> list[int]:
    """Grid starts allowed by the site's hours and the request's own hard window."""
    p = instance.phases(request).chair
    lo, hi = site.open, site.latest_end - p
    if request.window is not None:
        lo, hi = max(lo, request.window[0]), min(hi, request.window[1])
    first = -(-lo // GRID) * GRID
    return list(range(first, hi + 1, GRID))


def fcfs_order(instance: Instance, request: Request, site: Site) -> list[int]:
    """§7.10 order: preferred window starts first, then the rest of the hard window."""
    starts = candidate_starts(instance, request, site)
    a, b = request.pref
    inside = [t for t in starts if a <= t <= b]
    return inside + [t for t in starts if not a <= t <= b]


def nurse_demand(instance: Instance, request: Request) -> list[int]:
    """Nurse units used in each unit of the visit (exclusive tasks M, monitoring 1 or acuity)."""
    ph = instance.phases(request)
    m = instance.ratio
    mon = instance.monitoring_demand(request)
    return [m] * ph.setup + [mon] * (ph.chair - ph.setup - ph.disc) + [m] * ph.disc


def pref_dev(request: Request, start: int) -> int:
    """Units between a start and the preferred start window."""
    a, b = request.pref
    return max(0, a - start, start - b)


def placement_cost(instance: Instance, request: Request, site: Site, day: int, start: int) -> int:
    """Objective contribution of one placement (excluding series spread)."""
    w = instance.weights
    p = instance.phases(request).chair
    return (
        w.overtime_min * UNIT_MIN * max(0, start + p - site.close)
        + w.pref_min * UNIT_MIN * pref_dev(request, start)
        + w.days_away * abs(day - request.due_day)
        + w.non_home * (site.id != request.home)
    )


def site_day_options(instance: Instance, request: Request) -> list[tuple[str, int]]:
    """Allowed (site, day) pairs ordered by their fixed cost (due day and home first)."""
    w = instance.weights
    options = [(s, d) for s in request.sites for d in request.days]
    return sorted(
        options,
        key=lambda o: (
            w.days_away * abs(o[1] - request.due_day) + w.non_home * (o[0] != request.home),
            request.sites.index(o[0]),
            o[1],
        ),
    )


class SiteDayState:
    """Resource use of one site-day for earliest-fit placement."""

    def __init__(self, instance: Instance, site: Site, day: int) -> None:
        self.instance = instance
        self.site = site
        self.cap = [instance.ratio * n for n in nurses_on_duty(instance, site, day)]
        self.chairs = [0] * DAY_UNITS
        self.beds = [0] * DAY_UNITS
        self.nurse = [0] * DAY_UNITS
        self.starts = [0] * (DAY_UNITS // GRID + 1)
        self.hoods = [0] * DAY_UNITS
        self.checkin = checkin_units(instance)

    def prep_slot(self, request: Request, start: int) -> int | None:
        """Earliest feasible prep start for an on-demand dose (None if none fits)."""
        prep = self.instance.prep_units(request)
        if prep == 0:
            return None
        hang = start + self.instance.phases(request).hang
        q = max(self.site.pharmacy_open, start - self.checkin)
        while q + prep <= hang:
            if all(self.hoods[u] < self.site.hoods for u in range(q, q + prep)):
                return q
            q += 1
        return -1

    def fits(self, request: Request, start: int) -> tuple[bool, int | None]:
        """Whether the visit fits at ``start`` and, if so, its prep start."""
        p = self.instance.phases(request).chair
        if start + p > self.site.latest_end or start < self.site.open:
            return (False, None)
        if self.starts[start // GRID] >= self.site.start_cap:
            return (False, None)
        bed = self.instance.needs_bed(request)
        use, cap = (self.beds, self.site.beds) if bed else (self.chairs, self.site.chairs)
        if any(use[u] >= cap for u in range(start, start + p)):
            return (False, None)
        demand = nurse_demand(self.instance, request)
        if any(self.nurse[start + k] + d > self.cap[start + k] for k, d in enumerate(demand)):
            return (False, None)
        prep = self.prep_slot(request, start)
        if prep == -1:
            return (False, None)
        return (True, prep)

    def place(self, request: Request, start: int, prep: int | None, sign: int = 1) -> None:
        """Add (or with ``sign=-1`` remove) a visit's resource use."""
        p = self.instance.phases(request).chair
        use = self.beds if self.instance.needs_bed(request) else self.chairs
        for u in range(start, start + p):
            use[u] += sign
        for k, d in enumerate(nurse_demand(self.instance, request)):
            self.nurse[start + k] += sign * d
        self.starts[start // GRID] += sign
        if prep is not None:
            for u in range(prep, prep + self.instance.prep_units(request)):
                self.hoods[u] += sign


@dataclass(frozen=True)
class Placement:
    """A visit placed at a site-day before chairs are assigned."""

    request: Request
    site: str
    day: int
    start: int
    prep: int | None


def assign_chairs(instance: Instance, placements: Iterable[Placement]) -> list[Assignment]:
    """Chairs by interval partitioning: by start time, the lowest-index free chair or bed."""
    by_site_day: dict[tuple[str, int], list[Placement]] = defaultdict(list)
    for pl in placements:
        by_site_day[(pl.site, pl.day)].append(pl)
    result: list[Assignment] = []
    for (site_id, day), group in sorted(by_site_day.items()):
        free_at: dict[str, list[int]] = {"C": [], "B": []}
        for pl in sorted(group, key=lambda x: (x.start, x.request.id)):
            kind = "B" if instance.needs_bed(pl.request) else "C"
            ends = free_at[kind]
            end = pl.start + instance.phases(pl.request).chair
            for index, free in enumerate(ends):
                if free <= pl.start:
                    ends[index] = end
                    break
            else:
                ends.append(end)
                index = len(ends) - 1
            result.append(
                Assignment(
                    pl.request.id, site_id, day, pl.start, end, f"{kind}{index + 1}", pl.prep
                )
            )
    return result


def _p90(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)])


def spread_free_units(instance: Instance) -> int:
    """Series start-time spread that costs nothing (minutes in meta, default 60)."""
    series = instance.meta.get("series") or {}
    return int(series.get("spread_free_min", 60)) // UNIT_MIN


def evaluate(
    instance: Instance, assignments: Sequence[Assignment], rejected: Sequence[str]
) -> tuple[dict[str, float], dict[str, object]]:
    """Objective terms (§7.7) and metrics (§7.8) of a schedule."""
    w = instance.weights
    req = {r.id: r for r in instance.requests}
    sites = {s.id: s for s in instance.sites}
    overtime = pref = days_away = non_home = 0
    devs: list[float] = []
    for a in assignments:
        r, s = req[a.visit], sites[a.site]
        overtime += max(0, a.end - s.close) * UNIT_MIN
        dev = pref_dev(r, a.start) * UNIT_MIN
        devs.append(dev)
        pref += dev
        days_away += abs(a.day - r.due_day)
        non_home += a.site != r.home
    spread = 0
    series_total = series_ok = 0
    by_series: dict[str, list[Assignment]] = defaultdict(list)
    members: dict[str, int] = {}
    for r in instance.requests:
        if r.series is not None:
            members[r.series.id] = r.series.length
    placed = {a.visit: a for a in assignments}
    for r in instance.requests:
        if r.series is not None and r.id in placed:
            by_series[r.series.id].append(placed[r.id])
    for sid, length in members.items():
        series_total += 1
        group = by_series.get(sid, [])
        if len(group) == length:
            series_ok += 1
            starts = [g.start for g in group]
            spread += max(0, max(starts) - min(starts) - spread_free_units(instance)) * UNIT_MIN
    objective: dict[str, float] = {
        "rejected": len(rejected),
        "overtime_min": overtime,
        "pref_dev_min": pref,
        "days_away": days_away,
        "non_home": non_home,
        "spread_min": spread,
    }
    objective["total"] = (
        w.rejected * len(rejected)
        + w.overtime_min * overtime
        + w.pref_min * pref
        + w.days_away * days_away
        + w.non_home * non_home
        + w.spread_min * spread
    )
    metrics = _metrics(instance, assignments, rejected, devs)
    metrics["series_adherence"] = (series_ok / series_total) if series_total else None
    return objective, metrics


def _metrics(
    instance: Instance,
    assignments: Sequence[Assignment],
    rejected: Sequence[str],
    devs: list[float],
) -> dict[str, object]:
    req = {r.id: r for r in instance.requests}
    groups: dict[tuple[str, int], list[Assignment]] = defaultdict(list)
    for a in assignments:
        groups[(a.site, a.day)].append(a)
    used_chair = offered_chair = 0
    peak_chairs = peak_starts = peak_hoods = 0
    peak_nurse = 0.0
    makespan_past = 0
    for site in instance.sites:
        for day in range(len(instance.days)):
            cap = [instance.ratio * n for n in nurses_on_duty(instance, site, day)]
            group = groups.get((site.id, day), [])
            offered_chair += site.chairs * (site.close - site.open)
            chairs = [0] * DAY_UNITS
            nurse = [0] * DAY_UNITS
            hoods = [0] * DAY_UNITS
            starts: dict[int, int] = defaultdict(int)
            for a in group:
                r = req[a.visit]
                for u in range(a.start, a.end):
                    chairs[u] += 1
                for k, d in enumerate(nurse_demand(instance, r)):
                    nurse[a.start + k] += d
                starts[a.start // GRID] += 1
                if a.prep is not None:
                    for u in range(a.prep, a.prep + instance.prep_units(r)):
                        hoods[u] += 1
                used_chair += max(0, min(a.end, site.close) - max(a.start, site.open))
                makespan_past = max(makespan_past, a.end - site.close)
            peak_chairs = max(peak_chairs, max(chairs))
            peak_hoods = max(peak_hoods, max(hoods))
            peak_starts = max(peak_starts, max(starts.values(), default=0))
            for t in range(DAY_UNITS):
                if nurse[t]:
                    load = nurse[t] / cap[t] if cap[t] else math.inf
                    peak_nurse = max(peak_nurse, load)
    n = len(instance.requests)
    return {
        "visits": n,
        "scheduled": len(assignments),
        "rejections": len(rejected),
        "rejection_pct": round(100.0 * len(rejected) / n, 2) if n else 0.0,
        "overtime_min": sum(max(0, a.end - instance.site(a.site).close) for a in assignments)
        * UNIT_MIN,
        "makespan_past_close_min": max(0, makespan_past) * UNIT_MIN,
        "pref_dev_mean_min": round(sum(devs) / len(devs), 2) if devs else 0.0,
        "pref_dev_p90_min": _p90(devs),
        "chair_utilisation": round(used_chair / offered_chair, 4) if offered_chair else 0.0,
        "peak_chairs": peak_chairs,
        "peak_nurse_load": round(peak_nurse, 4),
        "max_starts_per_slot": peak_starts,
        "peak_hoods": peak_hoods,
    }


def make_solution(
    instance: Instance,
    placements: Sequence[Placement],
    rejected: Sequence[str],
    solver: dict[str, object],
) -> Solution:
    """Assign chairs, compute objective and metrics, and wrap up a solution."""
    assignments = assign_chairs(instance, placements)
    objective, metrics = evaluate(instance, assignments, rejected)
    return Solution(assignments, sorted(rejected), objective, metrics, dict(solver))
