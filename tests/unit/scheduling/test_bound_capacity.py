"""Lower bounds (time-indexed LP / MIP, energetic LP) and the capacity what-if."""

from __future__ import annotations

from msinfuse.domain.scheduling import generate, solve
from msinfuse.domain.scheduling.bound import lower_bound, rejections_needed
from msinfuse.domain.scheduling.capacity import capacity, nurse_roster
from tests.unit.scheduling.helpers import instance, request, site


def test_the_bound_is_below_every_schedule_of_a_generated_clinic_day():
    inst = generate("S", 1.0, 2)
    bound = lower_bound(inst)
    assert bound.lp is not None
    assert bound.energy is not None
    assert bound.best == max(bound.lp, bound.energy)
    for name in ("fcfs", "lpt", "cpsat"):
        assert bound.best <= solve(inst, name, time_limit=1, workers=1).objective["total"]


def test_an_overloaded_day_has_a_positive_energetic_bound():
    # One chair, 08:00-09:00 (+30 min overtime), four 35-minute visits: at least one must go.
    reqs = [request(f"R{k}", pref=(96, 96)) for k in range(1, 5)]
    inst = instance(reqs, [site(chairs=1, close=108, ot_max=6)])
    bound = lower_bound(inst)
    assert bound.energy is not None
    assert bound.energy >= 10_000
    assert rejections_needed(inst) >= 1


def test_capacity_finds_the_fewest_chairs_and_proves_one_fewer_is_not_enough():
    # Four 35-minute visits, one hour open + 30 min overtime: one chair holds two, so 2 needed.
    reqs = [request(f"R{k}") for k in range(1, 5)]
    inst = instance(reqs, [site(chairs=5, close=108, ot_max=6, nurses=[(90, 200, 150)] * 3)])
    result = capacity(inst, "chairs", time_limit=1, workers=1)
    assert result.needed == 2
    assert result.proven


def test_capacity_of_nurses_grows_the_roster_round_robin_over_shift_patterns():
    s = generate("S", 0.7, 1).sites[0]
    assert [n.id for n in nurse_roster(s, 2)] == ["AN1", "AN2"]
    grown = nurse_roster(s, 5)
    assert len(grown) == 5
    assert (grown[3].start, grown[3].end) == (s.nurses[0].start, s.nurses[0].end)
