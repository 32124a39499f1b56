"""CP-SAT solver: one model per site-day, and a feasible decomposition for weeks and networks.

Site-day model (reference §6): one optional fixed-size interval per visit for the chair in a
cumulative of capacity C (beds separately); nurse units as one cumulative of capacity
M·max N(t) with set-up and disconnection demanding M, monitoring 1 (or the acuity), and fixed
dummy intervals removing capacity where fewer nurses are on duty; a one-slot interval per
start in a cumulative of capacity S (start cap); an optional prep interval per on-demand dose
in a cumulative of capacity = hoods. Starts are 3·k for an integer slot k (15-minute grid).
Chairs are assigned afterwards by interval partitioning (exact for identical chairs).

Week / network: the best greedy schedule fixes each visit's site and day (stage 1); every
site-day is then solved with that schedule as a complete hint (stage 2, days in order so a
series' later days can stay near its first day's start); visits the greedy rejected are
offered to their cheapest site-day; finally, while time remains, rejected visits are retried
on their other site-days (stage 3). Each site-day keeps the better of the CP-SAT answer and its
hint, so the result is never worse than the best greedy schedule.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from msinfuse.domain.scheduling.bound import time_indexed
from msinfuse.domain.scheduling.core import (
    Placement,
    SiteDayState,
    candidate_starts,
    checkin_units,
    fcfs_order,
    make_solution,
    nurses_on_duty,
    placement_cost,
    spread_free_units,
)
from msinfuse.domain.scheduling.greedy import fcfs, lpt, place_unit, units
from msinfuse.domain.scheduling.model import GRID, UNIT_MIN, Instance, Request, Site, Solution

MIP_MIN_VISITS = 40  # below this CP-SAT alone does better than a HiGHS warm start


@dataclass
class SiteDayResult:
    """What one site-day solve returned."""

    placed: dict[str, tuple[int, int | None]]
    objective: int
    bound: float
    status: str
    log: list[tuple[float, float]] = field(default_factory=list)
    used_hint: bool = False


class _Recorder(cp_model.CpSolverSolutionCallback):
    """Records (seconds, objective) at each improving solution."""

    def __init__(self, began: float) -> None:
        super().__init__()
        self.began = began
        self.log: list[tuple[float, float]] = []

    def on_solution_callback(self) -> None:
        self.log.append((round(time.perf_counter() - self.began, 3), self.objective_value))


def _cost_constant(instance: Instance, request: Request, site: Site, day: int) -> int:
    w = instance.weights
    return w.days_away * abs(day - request.due_day) + w.non_home * (site.id != request.home)


def site_day_cost(
    instance: Instance,
    site: Site,
    day: int,
    requests: Sequence[Request],
    placed: Mapping[str, tuple[int, int | None]],
    spread_ref: Mapping[str, int],
    anchor: Mapping[str, int] | None = None,
) -> int:
    """The site-day objective the CP-SAT model minimises, for a given placement.

    ``anchor`` (online re-timing) adds one per minute a visit starts away from its anchor.
    """
    w = instance.weights
    free = spread_free_units(instance)
    total = 0
    for r in requests:
        if r.id not in placed:
            total += w.rejected
            continue
        start = placed[r.id][0]
        total += placement_cost(instance, r, site, day, start)
        if r.id in spread_ref:
            total += w.spread_min * UNIT_MIN * max(0, abs(start - spread_ref[r.id]) - free)
        if anchor and r.id in anchor:
            total += UNIT_MIN * abs(start - anchor[r.id])
    return total


def solve_site_day(
    instance: Instance,
    site: Site,
    day: int,
    requests: Sequence[Request],
    *,
    hint: Mapping[str, tuple[int, int | None]] | None = None,
    forced: frozenset[str] = frozenset(),
    spread_ref: Mapping[str, int] | None = None,
    anchor: Mapping[str, int] | None = None,
    fixed_prep: Mapping[str, int] | None = None,
    time_limit: float = 10.0,
    workers: int = 2,
    seed: int = 0,
) -> SiteDayResult:
    """Solve one site-day; visits may be rejected unless ``forced``.

    Online re-timing: ``anchor`` charges one per minute of moving a visit from its anchor
    start, and ``fixed_prep`` pins the pharmacy prep start of visits already checked in.
    """
    began = time.perf_counter()
    hint = dict(hint or {})
    spread_ref = dict(spread_ref or {})
    anchor_map = dict(anchor or {})
    w = instance.weights
    m = instance.ratio
    model = cp_model.CpModel()
    nurse_cap = [m * n for n in nurses_on_duty(instance, site, day)]
    cap_max = max(nurse_cap[site.open : site.latest_end] or [0])
    checkin = checkin_units(instance)
    free = spread_free_units(instance)

    chair_iv: list[cp_model.IntervalVar] = []
    bed_iv: list[cp_model.IntervalVar] = []
    nurse_iv: list[cp_model.IntervalVar] = []
    nurse_dem: list[int] = []
    start_iv: list[cp_model.IntervalVar] = []
    hood_iv: list[cp_model.IntervalVar] = []
    terms: list[cp_model.LinearExprT] = []
    presence: dict[str, cp_model.IntVar] = {}
    slot: dict[str, cp_model.IntVar] = {}
    prep_var: dict[str, cp_model.IntVar] = {}
    hint_values: list[tuple[cp_model.IntVar, int]] = []
    constant = 0

    for r in requests:
        ph = instance.phases(r)
        p = ph.chair
        starts = candidate_starts(instance, r, site)
        h = hint.get(r.id)
        if not starts:
            if r.id in forced:
                raise ValueError("a forced visit has no allowed start")
            constant += w.rejected
            continue
        x = model.new_constant(1) if r.id in forced else model.new_bool_var(f"x_{r.id}")
        k = model.new_int_var(starts[0] // GRID, starts[-1] // GRID, f"k_{r.id}")
        presence[r.id], slot[r.id] = x, k
        s = GRID * k
        chair = model.new_optional_fixed_size_interval_var(s, p, x, f"c_{r.id}")
        (bed_iv if instance.needs_bed(r) else chair_iv).append(chair)
        mon = instance.monitoring_demand(r)
        for offset, size, demand in (
            (0, ph.setup, m),
            (ph.setup, p - ph.setup - ph.disc, mon),
            (p - ph.disc, ph.disc, m),
        ):
            if size > 0:
                nurse_iv.append(
                    model.new_optional_fixed_size_interval_var(s + offset, size, x, f"n_{r.id}")
                )
                nurse_dem.append(demand)
        start_iv.append(model.new_optional_fixed_size_interval_var(s, GRID, x, f"s_{r.id}"))
        prep = instance.prep_units(r)
        if prep:
            q = model.new_int_var(
                max(site.pharmacy_open, starts[0] - checkin),
                starts[-1] + ph.hang - prep,
                f"q_{r.id}",
            )
            prep_var[r.id] = q
            model.add(q >= s - checkin)
            model.add(q >= site.pharmacy_open)
            model.add(q + prep <= s + ph.hang)
            if fixed_prep and r.id in fixed_prep:
                model.add(q == fixed_prep[r.id])
            hood_iv.append(model.new_optional_fixed_size_interval_var(q, prep, x, f"h_{r.id}"))
        ot = model.new_int_var(0, site.ot_max, f"ot_{r.id}")
        model.add(ot >= s + p - site.close).only_enforce_if(x)
        a, b = r.pref
        dev = model.new_int_var(0, site.latest_end, f"dev_{r.id}")
        model.add(dev >= a - s).only_enforce_if(x)
        model.add(dev >= s - b).only_enforce_if(x)
        fixed = _cost_constant(instance, r, site, day)
        terms += [
            w.overtime_min * UNIT_MIN * ot,
            w.pref_min * UNIT_MIN * dev,
            fixed * x,
            w.rejected * (1 - x),
        ]
        spread = None
        if r.id in spread_ref:
            ref = spread_ref[r.id]
            spread = model.new_int_var(0, site.latest_end, f"sp_{r.id}")
            model.add(spread >= s - ref - free).only_enforce_if(x)
            model.add(spread >= ref - s - free).only_enforce_if(x)
            terms.append(w.spread_min * UNIT_MIN * spread)
        moved = None
        if anchor and r.id in anchor:
            moved = model.new_int_var(0, site.latest_end, f"mv_{r.id}")
            model.add(moved >= s - anchor[r.id])
            model.add(moved >= anchor[r.id] - s)
            terms.append(UNIT_MIN * moved)
        if h is not None:
            hs, hq = h
            hint_values += [(k, hs // GRID), (ot, max(0, hs + p - site.close))]
            hint_values.append((dev, max(0, a - hs, hs - b)))
            if r.id not in forced:
                hint_values.append((x, 1))
            if prep and hq is not None:
                hint_values.append((prep_var[r.id], hq))
            if spread is not None:
                hint_values.append((spread, max(0, abs(hs - spread_ref[r.id]) - free)))
            if moved is not None and r.id in anchor_map:
                hint_values.append((moved, abs(hs - anchor_map[r.id])))
        elif r.id not in forced:
            hint_values += [(x, 0), (k, starts[0] // GRID), (ot, 0), (dev, 0)]
            if spread is not None:
                hint_values.append((spread, 0))
            if prep:
                hint_values.append((prep_var[r.id], max(site.pharmacy_open, starts[0] - checkin)))

    if chair_iv:
        model.add_cumulative(chair_iv, [1] * len(chair_iv), site.chairs)
    if bed_iv:
        model.add_cumulative(bed_iv, [1] * len(bed_iv), site.beds)
    if nurse_iv:
        lo, hi = site.pharmacy_open, site.latest_end
        t = lo
        while t < hi:
            deficit = cap_max - nurse_cap[t]
            end = t
            while end < hi and cap_max - nurse_cap[end] == deficit:
                end += 1
            if deficit > 0:
                nurse_iv.append(model.new_fixed_size_interval_var(t, end - t, f"gap_{t}"))
                nurse_dem.append(deficit)
            t = end
        model.add_cumulative(nurse_iv, nurse_dem, cap_max)
    if start_iv:
        model.add_cumulative(start_iv, [1] * len(start_iv), site.start_cap)
    if hood_iv:
        model.add_cumulative(hood_iv, [1] * len(hood_iv), site.hoods)
    model.minimize(sum(terms) + constant)
    for var, value in hint_values:
        model.add_hint(var, value)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit)
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    recorder = _Recorder(began)
    status = solver.solve(model, recorder)
    hint_cost = (
        site_day_cost(instance, site, day, requests, hint, spread_ref, anchor_map)
        if set(forced) <= set(hint)
        else None
    )
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        placed: dict[str, tuple[int, int | None]] = {}
        for rid, x in presence.items():
            if solver.value(x):
                qv = prep_var.get(rid)
                placed[rid] = (
                    GRID * solver.value(slot[rid]),
                    None if qv is None else solver.value(qv),
                )
        cost = round(solver.objective_value)
        if hint_cost is None or cost <= hint_cost:
            return SiteDayResult(
                placed,
                cost,
                solver.best_objective_bound,
                "optimal" if status == cp_model.OPTIMAL else "feasible",
                recorder.log,
            )
        return SiteDayResult(
            dict(hint), hint_cost, solver.best_objective_bound, "hint", recorder.log, True
        )
    if hint_cost is None:
        raise RuntimeError("CP-SAT found no schedule and there is no complete hint to fall back on")
    bound = solver.best_objective_bound if status != cp_model.INFEASIBLE else float(hint_cost)
    return SiteDayResult(dict(hint), hint_cost, bound, "hint", recorder.log, True)


def mip_hint(
    instance: Instance,
    site: Site,
    day: int,
    requests: Sequence[Request],
    *,
    forced: frozenset[str],
    time_limit: float,
    threads: int,
) -> dict[str, tuple[int, int | None]] | None:
    """A feasible site-day schedule from HiGHS' time-indexed MIP (pharmacy rows dropped).

    The MIP's starts are replayed by earliest-fit in start order (its start first, else the
    §7.10 order), which adds the pharmacy preparation; None if a forced visit does not fit.
    """
    model, _ = time_indexed(instance, requests, only=(site.id, day))
    _status, primal, _dual = model.solve(integral=True, time_limit=time_limit, threads=threads)
    if primal is None:
        return None
    chosen = {
        tag[0]: tag[3]
        for tag, value in zip(model.tags, model.values, strict=True)
        if tag is not None and value > 0.5
    }
    state = SiteDayState(instance, site, day)
    placed: dict[str, tuple[int, int | None]] = {}
    order = sorted(requests, key=lambda r: (r.id not in forced, chosen.get(r.id, 10**6), r.id))
    for r in order:
        if r.id not in chosen and r.id not in forced:
            continue
        tries = ([chosen[r.id]] if r.id in chosen else []) + fcfs_order(instance, r, site)
        for start in tries:
            fits, prep = state.fits(r, start)
            if fits:
                state.place(r, start, prep)
                placed[r.id] = (start, prep)
                break
        else:
            if r.id in forced:
                return None
    return placed


def solve_cpsat(
    instance: Instance,
    *,
    time_limit: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    hint: Solution | None = None,
    mip_share: float = 0.4,
    progress: Callable[[int, int], None] | None = None,
) -> Solution:
    """CP-SAT with the best greedy schedule as hint (or ``hint``); see the module docstring."""
    began = time.perf_counter()
    deadline = began + time_limit
    if hint is None:
        candidates = [fcfs(instance), lpt(instance)]
        hint = min(candidates, key=lambda s: s.objective["total"])
    hint_name = str(hint.solver.get("name", "hint"))
    req = {r.id: r for r in instance.requests}
    sites = {s.id: s for s in instance.sites}

    assigned: dict[tuple[str, int], list[Request]] = defaultdict(list)
    hints: dict[tuple[str, int], dict[str, tuple[int, int | None]]] = defaultdict(dict)
    for a in hint.assignments:
        assigned[(a.site, a.day)].append(req[a.visit])
        hints[(a.site, a.day)][a.visit] = (a.start, a.prep)
    # Visits the hint rejected go to the allowed site-day with the least chair load (ties:
    # cheapest), longest first, so they spread instead of piling onto their due day.
    load: dict[tuple[str, int], float] = defaultdict(float)
    for key, group in assigned.items():
        load[key] = sum(instance.phases(r).chair for r in group)
    rejected_set = set(hint.rejected)
    rejected_units = [u for u in units(instance) if u[0].id in rejected_set]
    rejected_units.sort(key=lambda u: -instance.phases(u[0]).chair)
    for unit in rejected_units:
        first = unit[0]
        if first.series is None:

            def pressure(o: tuple[str, int], r: Request = first) -> tuple[float, int]:
                site = sites[o[0]]
                capacity = (site.chairs + site.beds) * (site.close - site.open)
                return (load[o] / capacity, _cost_constant(instance, r, site, o[1]))

            best = min(((s, d) for s in first.sites for d in first.days), key=pressure)
            assigned[best].append(first)
            load[best] += instance.phases(first).chair
    forced: set[str] = {
        a.visit for a in hint.assignments if req[a.visit].series is not None
    }  # keep whole series

    keys = sorted(assigned, key=lambda k: (k[1], k[0]))
    # Time goes to site-days by size plus, heavily, by the visits the hint could not place.
    weight = {
        k: len(assigned[k]) + 10 * sum(r.id in rejected_set for r in assigned[k]) for k in keys
    }
    total_visits = sum(weight.values()) or 1
    placed: dict[str, tuple[str, int, int, int | None]] = {}
    results: dict[tuple[str, int], SiteDayResult] = {}
    log: list[tuple[float, float]] = []
    statuses: dict[str, int] = defaultdict(int)
    hint_sources: dict[str, int] = defaultdict(int)
    bound_sum = 0.0
    first_start: dict[str, int] = {}
    remaining_visits = total_visits
    for index, key in enumerate(keys):
        site_id, day = key
        group = assigned[key]
        budget = max(0.05, (deadline - time.perf_counter()) * weight[key] / remaining_visits)
        remaining_visits -= weight[key]
        refs = {
            r.id: first_start[r.series.id]
            for r in group
            if r.series is not None and r.series.index > 0 and r.series.id in first_start
        }
        site_hint, source = hints[key], hint_name
        if mip_share > 0 and len(group) >= MIP_MIN_VISITS and budget * mip_share >= 2.0:
            started = time.perf_counter()
            candidate = mip_hint(
                instance,
                sites[site_id],
                day,
                group,
                forced=frozenset(r.id for r in group if r.id in forced),
                time_limit=budget * mip_share,
                threads=workers,
            )
            budget = max(0.05, budget - (time.perf_counter() - started))
            if candidate is not None:
                refs_now = {
                    r.id: first_start[r.series.id]
                    for r in group
                    if r.series is not None and r.series.index > 0 and r.series.id in first_start
                }
                old = site_day_cost(instance, sites[site_id], day, group, site_hint, refs_now)
                new = site_day_cost(instance, sites[site_id], day, group, candidate, refs_now)
                if new < old:
                    site_hint, source = candidate, "mip"
        hint_sources[source] += 1
        result = solve_site_day(
            instance,
            sites[site_id],
            day,
            group,
            hint=site_hint,
            forced=frozenset(r.id for r in group if r.id in forced),
            spread_ref=refs,
            time_limit=budget,
            workers=workers,
            seed=seed,
        )
        results[key] = result
        statuses[result.status] += 1
        bound_sum += result.bound
        for rid, (start, prep) in result.placed.items():
            placed[rid] = (site_id, day, start, prep)
            r = req[rid]
            if r.series is not None and r.series.index == 0:
                first_start[r.series.id] = start
        if len(keys) == 1:
            log = [(t, v) for t, v in result.log]
        else:
            log.append((round(time.perf_counter() - began, 3), float(index + 1)))
        if progress is not None:
            progress(index + 1, len(keys))

    # Stage 2b: earliest-fit insertion of still-rejected visits (and whole series) into any
    # allowed site-day around the CP-SAT schedules; each insertion only lowers Z.
    inserted = 0
    if len(keys) > 1:
        states: dict[tuple[str, int], SiteDayState] = {}
        for rid, (site_id, day, start, prep) in placed.items():
            key = (site_id, day)
            if key not in states:
                states[key] = SiteDayState(instance, sites[site_id], day)
            states[key].place(req[rid], start, prep)
        todo = [u for u in units(instance) if u[0].id not in placed]
        todo.sort(key=lambda u: -sum(instance.phases(r).chair for r in u))
        for unit in todo:
            result_unit = place_unit(instance, unit, states)
            if result_unit is not None:
                inserted += len(result_unit)
                for pl in result_unit:
                    placed[pl.request.id] = (pl.site, pl.day, pl.start, pl.prep)

    # Stage 3: retry rejected single visits on their other site-days while time remains.
    retried = 0
    if len(keys) > 1:
        for r in instance.requests:
            if time.perf_counter() > deadline - 0.5:
                break
            if r.id in placed or r.series is not None:
                continue
            for site_id in r.sites:
                for day in r.days:
                    key = (site_id, day)
                    if time.perf_counter() > deadline - 0.5 or r.id in placed:
                        break
                    group = [req[rid] for rid, v in placed.items() if (v[0], v[1]) == key]
                    current = {
                        rid: (placed[rid][2], placed[rid][3]) for rid in (q.id for q in group)
                    }
                    fixed_series = frozenset(q.id for q in group if q.series is not None)
                    old = site_day_cost(instance, sites[site_id], day, group, current, {})
                    retried += 1
                    result = solve_site_day(
                        instance,
                        sites[site_id],
                        day,
                        [*group, r],
                        hint=current,
                        forced=fixed_series,
                        time_limit=min(2.0, max(0.05, deadline - time.perf_counter() - 0.2)),
                        workers=workers,
                        seed=seed,
                    )
                    improves = result.objective < old + instance.weights.rejected
                    keeps_all = all(q.id in result.placed for q in group)
                    if r.id in result.placed and improves and keeps_all:
                        for rid, (start, prep) in result.placed.items():
                            placed[rid] = (site_id, day, start, prep)

    placements = [
        Placement(req[rid], site_id, day, start, prep)
        for rid, (site_id, day, start, prep) in placed.items()
    ]
    rejected = [r.id for r in instance.requests if r.id not in placed]
    wall = round(time.perf_counter() - began, 3)
    solution = make_solution(
        instance,
        placements,
        rejected,
        {
            "name": "cpsat",
            "time_limit_s": time_limit,
            "workers": workers,
            "seed": seed,
            "wall_s": wall,
            "hint": hint_name,
            "site_day_hints": dict(hint_sources),
            "mip_share": mip_share,
            "hint_objective": hint.objective.get("total"),
            "site_days": len(keys),
            "statuses": dict(statuses),
            "retries": retried,
            "inserted": inserted,
            "cpsat_bound": round(bound_sum, 3) if len(keys) == 1 else None,
            "objective_log": log if len(keys) == 1 else [],
            "progress_log": log if len(keys) > 1 else [],
        },
    )
    if solution.objective["total"] > float(hint.objective["total"]):
        # Never worse than the hint (the stage-3 merge is checked site-day by site-day, but the
        # series spread is only fully known here).
        fallback = Solution(
            hint.assignments, hint.rejected, hint.objective, hint.metrics, dict(solution.solver)
        )
        fallback.solver["fell_back_to_hint"] = True
        return fallback
    return solution
