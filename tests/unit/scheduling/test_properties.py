"""Hypothesis: every solver's schedule passes the independent checker; CP-SAT is never worse
than its hint; on tiny instances CP-SAT equals brute-force enumeration and the lower bound
never exceeds the optimum."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msinfuse.domain.scheduling import Instance, Solution, check, solve
from msinfuse.domain.scheduling.bound import lower_bound
from msinfuse.domain.scheduling.core import Placement, candidate_starts, make_solution
from msinfuse.domain.scheduling.cpsat import solve_cpsat
from msinfuse.domain.scheduling.greedy import fcfs, lpt
from tests.unit.scheduling.helpers import instance, request, site

SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@st.composite
def small_instances(draw, max_requests: int = 6, ondemand: bool = True) -> Instance:
    """One or two sites, one or two days, up to ``max_requests`` short/long visits."""
    n_sites = draw(st.integers(1, 2))
    n_days = draw(st.integers(1, 2))
    sites = [
        site(
            chr(ord("A") + i),
            close=draw(st.sampled_from([108, 120])),
            ot_max=draw(st.sampled_from([6, 12])),
            chairs=draw(st.integers(1, 3)),
            start_cap=draw(st.integers(1, 2)),
            hoods=draw(st.integers(1, 2)),
            nurses=[(90, 200, draw(st.sampled_from([105, 150])))] * draw(st.integers(1, 2)),
        )
        for i in range(n_sites)
    ]
    ids = [s.id for s in sites]
    requests = []
    for k in range(draw(st.integers(1, max_requests))):
        a = draw(st.sampled_from(range(96, 124, 3)))
        requests.append(
            request(
                f"R{k + 1}",
                type_=draw(st.sampled_from(["SHORT", "LONG"])),
                sites=draw(st.permutations(ids)),
                days=tuple(range(n_days)),
                due=draw(st.integers(0, n_days - 1)),
                pref=(a, a + draw(st.sampled_from([0, 6, 12]))),
                ondemand=ondemand and draw(st.booleans()),
                rank=k + 1,
            )
        )
    return instance(requests, sites, days=n_days, m=draw(st.sampled_from([2, 5])))


@SETTINGS
@given(small_instances())
def test_every_solver_schedule_passes_the_checker(inst):
    for name in ("fcfs", "lpt", "cpsat"):
        sol = solve(inst, name, time_limit=0.5, workers=1, seed=0)
        assert check(inst, sol) == [], name


@SETTINGS
@given(small_instances())
def test_cpsat_is_never_worse_than_the_hint_it_was_given(inst):
    for hint in (fcfs(inst), lpt(inst)):
        sol = solve_cpsat(inst, time_limit=0.3, workers=1, hint=hint)
        assert sol.objective["total"] <= hint.objective["total"]
        assert check(inst, sol) == []


def brute_force(inst: Instance) -> Solution:
    """Enumerate every (site, day, start) or rejection per visit; keep the best feasible."""
    choices = []
    for r in inst.requests:
        options: list[tuple[str, int, int] | None] = [None]
        for s in r.sites:
            for d in r.days:
                options += [(s, d, t) for t in candidate_starts(inst, r, inst.site(s))]
        choices.append(options)
    best: Solution | None = None
    for combo in itertools.product(*choices):
        placements = [
            Placement(r, c[0], c[1], c[2], None)
            for r, c in zip(inst.requests, combo, strict=True)
            if c is not None
        ]
        rejected = [r.id for r, c in zip(inst.requests, combo, strict=True) if c is None]
        sol = make_solution(inst, placements, rejected, {"name": "brute"})
        if best is not None and sol.objective["total"] >= best.objective["total"]:
            continue
        if check(inst, sol) == []:
            best = sol
    assert best is not None
    return best


@st.composite
def tiny_instances(draw) -> Instance:
    """One site-day, up to 3 pre-made visits, few grid starts (brute force stays small)."""
    s = site(
        close=draw(st.sampled_from([102, 105])),
        ot_max=6,
        chairs=draw(st.integers(1, 2)),
        start_cap=draw(st.integers(1, 2)),
        nurses=[(90, 200, 150)] * draw(st.integers(1, 2)),
    )
    requests = []
    for k in range(draw(st.integers(1, 3))):
        a = draw(st.sampled_from([96, 99, 102, 105]))
        requests.append(
            request(f"R{k + 1}", type_=draw(st.sampled_from(["SHORT", "LONG"])), pref=(a, a))
        )
    return instance(requests, [s], m=draw(st.sampled_from([2, 5])))


@settings(max_examples=15, deadline=None, derandomize=True)
@given(tiny_instances())
def test_cpsat_matches_brute_force_and_the_bound_never_exceeds_it(inst):
    optimum = brute_force(inst).objective["total"]
    sol = solve_cpsat(inst, time_limit=2, workers=1, seed=0)
    assert sol.objective["total"] == optimum
    assert lower_bound(inst, mip_time=1).best <= optimum
