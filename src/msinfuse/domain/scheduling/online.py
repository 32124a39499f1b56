"""Add-on (online) simulation of the MSINF benchmark (reference §7.4).

Start from an offline schedule of the planned visits (requests without ``reveal``), then
process the add-ons in reveal order (day, time). At a reveal at time ``t`` on day ``d`` the
visits of that site-day that have not checked in (check-in = start - 30 min > t) may be
re-timed, each within ±30 min of its offline start (an add-on's own reference is where it was
first placed), to a start whose check-in is also after ``t``; checked-in visits keep their
start and pharmacy prep. The add-on's first visit starts no earlier than reveal + 60 min; a
series' later visits go on the following days at the same site (their days have not begun, so
every visit there may move within the same ±30 min). Re-timing uses CP-SAT on the site-day
with those bounds and a per-reveal time limit (one minute of objective per minute moved, so it
moves only what pays), then earliest-fit insertion without moves as a fallback; the ``fcfs``
and ``lpt`` solvers use earliest-fit insertion only. An add-on that fits nowhere is rejected
whole.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable, Mapping

from msinfuse.domain.scheduling.api import solve
from msinfuse.domain.scheduling.core import (
    Placement,
    SiteDayState,
    checkin_units,
    fcfs_order,
    make_solution,
)
from msinfuse.domain.scheduling.model import (
    UNIT_MIN,
    Instance,
    Move,
    OnlineResult,
    Request,
    RevealEvent,
    Solution,
)

# visit -> (site, day, start, prep)
_State = dict[str, tuple[str, int, int, int | None]]
_FAR = 24 * 60 // UNIT_MIN


def lead_units(instance: Instance) -> int:
    """Earliest start of an add-on after its reveal (meta ``addons.lead_min``, default 60)."""
    return int((instance.meta.get("addons") or {}).get("lead_min", 60)) // UNIT_MIN


def max_shift_units(instance: Instance) -> int:
    """How far a visit may be re-timed from its reference start (default ±30 min)."""
    return int((instance.meta.get("addons") or {}).get("max_shift_min", 30)) // UNIT_MIN


def planned_instance(instance: Instance) -> Instance:
    """The instance without its add-ons (what the offline schedule plans)."""
    return dataclasses.replace(
        instance, requests=tuple(r for r in instance.requests if r.reveal is None)
    )


def addon_units(instance: Instance) -> list[list[Request]]:
    """Add-ons in reveal order: single visits, or a series' members in index order."""
    groups: dict[str, list[Request]] = defaultdict(list)
    for r in instance.requests:
        if r.reveal is not None:
            groups[r.series.id if r.series else r.id].append(r)
    units = [sorted(g, key=lambda r: r.series.index if r.series else 0) for g in groups.values()]
    return sorted(units, key=lambda u: (u[0].due_day, int(u[0].reveal or 0), u[0].booking_rank))


def _window(r: Request, lo: int, hi: int) -> Request:
    if r.window is not None:
        lo, hi = max(lo, r.window[0]), min(hi, r.window[1])
    return dataclasses.replace(r, window=(lo, hi))


def _bounded(
    instance: Instance,
    requests: Mapping[str, Request],
    state: _State,
    ref: Mapping[str, int],
    site: str,
    day: int,
    now: int | None,
) -> tuple[list[Request], dict[str, int]]:
    """The site-day's placed visits with their re-timing bounds, and the pinned preps."""
    checkin, shift = checkin_units(instance), max_shift_units(instance)
    out: list[Request] = []
    pinned: dict[str, int] = {}
    for vid, (s, d, start, prep) in state.items():
        if s != site or d != day:
            continue
        r = requests[vid]
        if now is not None and start - checkin <= now:
            out.append(dataclasses.replace(r, window=(start, start)))
            if prep is not None:
                pinned[vid] = prep
            continue
        lo, hi = ref[vid] - shift, ref[vid] + shift
        if now is not None:
            lo = max(lo, now + checkin + 1)
        lo, hi = min(lo, start), max(hi, start)  # the current start is always allowed
        out.append(dataclasses.replace(r, window=(lo, hi)))
    return out, pinned


def _greedy_insert(
    instance: Instance, site: str, day: int, placed: list[Request], state: _State, addon: Request
) -> tuple[int, int | None] | None:
    st = SiteDayState(instance, instance.site(site), day)
    for r in placed:
        st.place(r, state[r.id][2], state[r.id][3])
    for start in fcfs_order(instance, addon, st.site):
        fits, prep = st.fits(addon, start)
        if fits:
            return (start, prep)
    return None


def _insert(
    instance: Instance,
    requests: Mapping[str, Request],
    state: _State,
    ref: Mapping[str, int],
    addon: Request,
    site: str,
    day: int,
    now: int | None,
    spread_ref: int | None,
    solver: str,
    time_limit: float,
    workers: int,
    seed: int,
) -> tuple[_State, str] | None:
    """``state`` with ``addon`` placed at (site, day), or None when it does not fit."""
    placed, pinned = _bounded(instance, requests, state, ref, site, day, now)
    target = addon
    if now is not None:
        target = _window(addon, now + lead_units(instance), _FAR)
    if solver == "cpsat":
        from msinfuse.domain.scheduling.cpsat import solve_site_day

        hint = {r.id: (state[r.id][2], state[r.id][3]) for r in placed}
        result = solve_site_day(
            instance,
            instance.site(site),
            day,
            [*placed, target],
            hint=hint,
            forced=frozenset(hint),
            spread_ref={addon.id: spread_ref} if spread_ref is not None else None,
            anchor={r.id: state[r.id][2] for r in placed},
            fixed_prep=pinned,
            time_limit=time_limit,
            workers=workers,
            seed=seed,
        )
        if addon.id in result.placed:
            new = dict(state)
            for vid, (start, prep) in result.placed.items():
                new[vid] = (site, day, start, prep)
            return new, "cpsat"
    spot = _greedy_insert(instance, site, day, placed, state, target)
    if spot is None:
        return None
    new = dict(state)
    new[addon.id] = (site, day, spot[0], spot[1])
    return new, "greedy"


def simulate(
    instance: Instance,
    solver: str = "cpsat",
    *,
    time_limit: float = 1.0,
    offline_time_limit: float = 10.0,
    workers: int = 1,
    seed: int = 0,
    offline: Solution | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> OnlineResult:
    """Run the online variant: offline plan, then each add-on at its reveal (see module doc)."""
    began = time.perf_counter()
    base = planned_instance(instance)
    if offline is None:
        offline = solve(base, solver, time_limit=offline_time_limit, workers=workers, seed=seed)
    requests = {r.id: r for r in instance.requests}
    state: _State = {a.visit: (a.site, a.day, a.start, a.prep) for a in offline.assignments}
    ref = {vid: v[2] for vid, v in state.items()}
    rejected = list(offline.rejected)
    events: list[RevealEvent] = []
    units = addon_units(instance)
    methods: dict[str, int] = defaultdict(int)
    for index, unit in enumerate(units):
        first = unit[0]
        site, day, now = first.home, first.due_day, int(first.reveal or 0)
        trial: _State = state
        method = "none"
        fitted = True
        for k, member in enumerate(unit):
            spread = trial[first.id][2] if k > 0 else None
            got = _insert(
                instance,
                requests,
                trial,
                ref,
                member,
                site,
                member.days[0],
                now if k == 0 else None,
                spread,
                solver,
                time_limit,
                workers,
                seed,
            )
            if got is None:
                fitted = False
                break
            trial, how = got
            method = how if method in ("none", how) else "mixed"
        if not fitted:
            rejected += [r.id for r in unit]
            events.append(RevealEvent(tuple(r.id for r in unit), site, day, now, False, "none"))
        else:
            moves = tuple(
                Move(vid, v[1], state[vid][2], v[2])
                for vid, v in sorted(trial.items())
                if vid in state and v[2] != state[vid][2]
            )
            placed = tuple((r.id, trial[r.id][1], trial[r.id][2]) for r in unit)
            for r in unit:
                ref[r.id] = trial[r.id][2]
            state = trial
            methods[method] += 1
            events.append(
                RevealEvent(tuple(r.id for r in unit), site, day, now, True, method, placed, moves)
            )
        if progress is not None:
            progress(index + 1, len(units))
    placements = [
        Placement(requests[vid], s, d, start, prep) for vid, (s, d, start, prep) in state.items()
    ]
    wall = round(time.perf_counter() - began, 3)
    final = make_solution(
        instance,
        placements,
        rejected,
        {"name": f"online-{solver}", "per_reveal_limit_s": time_limit, "wall_s": wall},
    )
    offline_start = {a.visit: a.start for a in offline.assignments}
    moved = [
        (vid, abs(v[2] - offline_start[vid])) for vid, v in state.items() if vid in offline_start
    ]
    accepted = [e for e in events if e.accepted]
    summary = {
        "addons": len(units),
        "addon_visits": sum(len(u) for u in units),
        "accepted": len(accepted),
        "accepted_visits": sum(len(e.addon) for e in accepted),
        "rejected_addons": len(units) - len(accepted),
        "visits_moved": sum(1 for _v, d in moved if d),
        "minutes_moved": sum(d for _v, d in moved) * UNIT_MIN,
        "moves": sum(len(e.moves) for e in events),
        "methods": dict(methods),
        "offline_total": offline.objective.get("total"),
        "final_objective": dict(final.objective),
        "wall_s": wall,
    }
    return OnlineResult(offline, final, events, summary)
