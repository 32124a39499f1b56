"""One test per hard constraint on the smallest instance that exercises it: the independent
checker names the broken rule, and every solver's schedule keeps the rule."""

from __future__ import annotations

import pytest

from msinfuse.domain.scheduling import Instance, Series, Solution, check, solve
from tests.unit.scheduling.helpers import at, instance, request, site, solution

SOLVERS = ("fcfs", "lpt", "cpsat")


def rules(inst: Instance, sol: Solution) -> set[str]:
    return {v.rule for v in check(inst, sol)}


def solved(inst: Instance) -> list[Solution]:
    """Each solver's schedule; each must pass the checker."""
    out = []
    for name in SOLVERS:
        sol = solve(inst, name, time_limit=2, workers=1, seed=0)
        assert check(inst, sol) == [], name
        out.append(sol)
    return out


def starts(sol: Solution) -> dict[str, int]:
    return {a.visit: a.start for a in sol.assignments}


class TestOpeningHoursAndOvertimeWindow:
    def test_checker_rejects_a_start_before_opening(self):
        inst = instance([request("R1")])
        assert "window" in rules(inst, solution(at("R1", 93)))

    def test_checker_rejects_an_end_after_close_plus_max_overtime(self):
        inst = instance([request("R1", type_="LONG")])
        assert "window" in rules(inst, solution(at("R1", 120, p=16)))

    def test_solvers_start_at_opening_even_when_the_patient_prefers_earlier(self):
        inst = instance([request("R1", pref=(84, 84))])
        for sol in solved(inst):
            assert starts(sol)["R1"] == 96

    def test_solvers_end_by_close_plus_overtime_even_when_the_patient_prefers_late(self):
        inst = instance([request("R1", type_="LONG", pref=(130, 130))])
        for sol in solved(inst):
            assert starts(sol)["R1"] + 16 <= 132


class TestStartGrid:
    def test_checker_rejects_a_start_off_the_15_minute_grid(self):
        assert "grid" in rules(instance([request("R1")]), solution(at("R1", 97)))

    def test_solvers_start_on_the_grid(self):
        for sol in solved(instance([request("R1", pref=(100, 100))])):
            assert starts(sol)["R1"] % 3 == 0

    def test_checker_rejects_an_end_that_is_not_start_plus_chair_time(self):
        assert "duration" in rules(instance([request("R1")]), solution(at("R1", 96, p=6)))


class TestChairs:
    inst = instance([request("R1"), request("R2")], [site(chairs=1, nurses=[(90, 200, 150)] * 2)])

    def test_checker_catches_two_visits_on_one_chair_at_once(self):
        assert {"chairs", "chair-overlap"} <= rules(self.inst, solution(at("R1", 96), at("R2", 96)))

    def test_checker_catches_a_chair_that_does_not_exist(self):
        assert "chair-id" in rules(self.inst, solution(at("R1", 96), at("R2", 105, chair="C2")))

    def test_solvers_never_use_more_chairs_than_the_site_has(self):
        for sol in solved(self.inst):
            s = starts(sol)
            assert abs(s["R1"] - s["R2"]) >= 7


class TestBeds:
    inst = instance(
        [request("R1", type_="BED"), request("R2", type_="BED")],
        [site(chairs=4, beds=1, nurses=[(90, 200, 150)] * 2)],
    )

    def test_checker_catches_two_bed_visits_on_one_bed(self):
        sol = solution(at("R1", 96, chair="B1"), at("R2", 99, chair="B1"))
        assert "beds" in rules(self.inst, sol)

    def test_checker_catches_a_bed_visit_in_a_chair(self):
        assert "chair-id" in rules(self.inst, solution(at("R1", 96), at("R2", 105, chair="B1")))

    def test_solvers_put_bed_visits_in_beds_one_at_a_time(self):
        for sol in solved(self.inst):
            assert {a.chair for a in sol.assignments} == {"B1"}
            s = starts(sol)
            assert abs(s["R1"] - s["R2"]) >= 7


class TestNurseUnits:
    inst = instance([request("R1"), request("R2")])  # one nurse, M = 5

    def test_checker_catches_two_set_ups_with_one_nurse(self):
        assert "nurses" in rules(self.inst, solution(at("R1", 96), at("R2", 96, chair="C2")))

    def test_solvers_stagger_set_ups_with_one_nurse(self):
        for sol in solved(self.inst):
            s = starts(sol)
            assert abs(s["R1"] - s["R2"]) >= 3

    def test_checker_catches_a_visit_during_the_only_nurses_break(self):
        inst = instance([request("R1")], [site(nurses=[(90, 200, 96)])])
        assert "nurses" in rules(inst, solution(at("R1", 99)))

    def test_solvers_wait_for_the_nurse_to_return_from_break(self):
        inst = instance([request("R1")], [site(nurses=[(90, 200, 96)])])
        for sol in solved(inst):
            assert starts(sol)["R1"] >= 102

    def test_checker_counts_monitoring_against_the_ratio(self):
        # M = 2: one patient monitored (1) + one set-up (2) = 3 units > 2 at 08:15.
        inst = instance([request("R1"), request("R2")], m=2)
        assert "nurses" in rules(inst, solution(at("R1", 96), at("R2", 99, chair="C2")))


class TestStartCap:
    inst = instance(
        [request("R1"), request("R2")], [site(start_cap=1, nurses=[(90, 200, 150)] * 2)]
    )

    def test_checker_catches_two_starts_in_one_slot_over_the_cap(self):
        assert "start-cap" in rules(self.inst, solution(at("R1", 96), at("R2", 96, chair="C2")))

    def test_solvers_keep_one_start_per_slot(self):
        for sol in solved(self.inst):
            s = starts(sol)
            assert s["R1"] // 3 != s["R2"] // 3


class TestPharmacy:
    two = [(90, 200, 150)] * 2
    inst = instance(
        [request("R1", type_="LONG", ondemand=True), request("R2", type_="LONG", ondemand=True)],
        [site(hoods=1, nurses=two)],
    )

    def test_checker_catches_an_on_demand_dose_without_preparation(self):
        inst = instance([request("R1", type_="LONG", ondemand=True)])
        assert "prep-missing" in rules(inst, solution(at("R1", 96, p=16)))

    def test_checker_catches_preparation_ending_after_the_drug_is_hung(self):
        inst = instance([request("R1", type_="LONG", ondemand=True)])
        # hang = start + set-up 3 + premed 3 = 105; prep 100..104 ends at 104 (ok), 102 not.
        assert rules(inst, solution(at("R1", 99, p=16, prep=97))) == set()
        assert "prep-timing" in rules(inst, solution(at("R1", 99, p=16, prep=102)))

    def test_checker_catches_preparation_before_check_in(self):
        inst = instance([request("R1", type_="LONG", ondemand=True)])
        assert "prep-timing" in rules(inst, solution(at("R1", 102, p=16, prep=95)))

    def test_checker_catches_two_preparations_in_one_hood(self):
        sol = solution(at("R1", 96, p=16, prep=92), at("R2", 99, p=16, chair="C2", prep=93))
        assert "hoods" in rules(self.inst, sol)

    def test_solvers_share_one_hood_and_prepare_in_time(self):
        for sol in solved(self.inst):
            preps = sorted(a.prep for a in sol.assignments if a.prep is not None)
            assert len(preps) == 2
            assert preps[1] - preps[0] >= 4


class TestSeries:
    two_sites = (site("A", nurses=[(90, 200, 150)]), site("B", nurses=[(90, 200, 150)]))

    def series_instance(self) -> Instance:
        return instance(
            [
                request("R1", sites=("A", "B"), days=(0, 1), series=Series("S1", 0, 2)),
                request("R2", sites=("A", "B"), days=(1, 2), due=1, series=Series("S1", 1, 2)),
                request("R3", sites=("A",), days=(1,), due=1, pref=(96, 96)),
            ],
            self.two_sites,
            days=3,
        )

    def test_checker_catches_a_series_on_non_consecutive_days(self):
        inst = self.series_instance()
        sol = solution(at("R1", 96), at("R2", 96, day=2), at("R3", 105, day=1))
        assert "series" in rules(inst, sol)

    def test_checker_catches_a_series_split_across_sites(self):
        inst = self.series_instance()
        sol = solution(at("R1", 96), at("R2", 96, day=1, site_id="B"), at("R3", 105, day=1))
        assert "series" in rules(inst, sol)

    def test_checker_catches_a_partly_scheduled_series(self):
        inst = self.series_instance()
        sol = solution(at("R1", 96), at("R3", 105, day=1), rejected=["R2"])
        assert "series" in rules(inst, sol)

    def test_solvers_keep_series_on_consecutive_days_at_one_site(self):
        for sol in solved(self.series_instance()):
            placed = {a.visit: a for a in sol.assignments}
            assert placed["R2"].day == placed["R1"].day + 1
            assert placed["R2"].site == placed["R1"].site


class TestAllowedDaysSitesAndWindows:
    def test_checker_catches_a_day_that_is_not_allowed(self):
        inst = instance([request("R1", days=(1,), due=1)], days=2)
        assert "day-not-allowed" in rules(inst, solution(at("R1", 96, day=0)))

    def test_checker_catches_a_site_that_is_not_allowed(self):
        inst = instance([request("R1")], [site("A"), site("B")])
        assert "site-not-allowed" in rules(inst, solution(at("R1", 96, site_id="B")))

    def test_checker_catches_a_start_outside_the_visits_own_window(self):
        inst = instance([request("R1", window=(102, 105))])
        assert "window" in rules(inst, solution(at("R1", 96)))

    def test_solvers_keep_allowed_days_and_windows(self):
        inst = instance([request("R1", days=(1,), due=1, window=(102, 105))], days=2)
        for sol in solved(inst):
            (a,) = sol.assignments
            assert a.day == 1
            assert 102 <= a.start <= 105


class TestEachVisitAtMostOnce:
    inst = instance([request("R1"), request("R2")], [site(nurses=[(90, 200, 150)] * 2)])

    def test_checker_catches_a_visit_scheduled_twice(self):
        sol = solution(at("R1", 96), at("R1", 105, chair="C2"), rejected=["R2"])
        assert "duplicate" in rules(self.inst, sol)

    def test_checker_catches_a_visit_both_scheduled_and_rejected(self):
        assert "duplicate" in rules(self.inst, solution(at("R1", 96), rejected=["R1", "R2"]))

    def test_checker_catches_a_visit_neither_scheduled_nor_rejected(self):
        assert "unaccounted" in rules(self.inst, solution(at("R1", 96)))

    @pytest.mark.parametrize("name", SOLVERS)
    def test_solvers_account_for_every_visit_exactly_once(self, name):
        sol = solve(self.inst, name, time_limit=1, workers=1)
        ids = [a.visit for a in sol.assignments] + sol.rejected
        assert sorted(ids) == ["R1", "R2"]


def test_checker_flags_a_reported_objective_that_does_not_match_the_schedule():
    inst = instance([request("R1", pref=(96, 96))])
    sol = solution(at("R1", 99))
    sol.objective = {"total": 0}
    assert rules(inst, sol) == {"objective"}
    sol.objective = {"total": 15}  # 15 minutes after the preferred start
    assert rules(inst, sol) == set()


class TestNurseDays:
    """A shift limited to some days (a clinic's recorded shifts) counts only on those days."""

    @staticmethod
    def _inst() -> Instance:
        from msinfuse.domain.scheduling import Nurse
        from tests.unit.scheduling.helpers import replace

        # Day 0: one nurse; day 1: nobody on duty.
        base = site(nurses=[])
        roster = replace(base, nurses=(Nurse("N1", 90, 200, 150, (0,)),))
        return instance([request("R1", days=(0, 1), due=1)], [roster], days=2)

    def test_checker_finds_no_nurse_on_a_day_the_shift_does_not_work(self):
        assert "nurses" in rules(self._inst(), solution(at("R1", 96, day=1)))
        assert "nurses" not in rules(self._inst(), solution(at("R1", 96, day=0)))

    def test_solvers_use_only_the_day_with_a_nurse(self):
        for sol in solved(self._inst()):
            assert [a.day for a in sol.assignments] == [0]

    def test_the_days_survive_the_instance_file(self):
        from msinfuse.domain.scheduling import instance_from_json, instance_to_json

        again = instance_from_json(instance_to_json(self._inst()))
        assert again.sites[0].nurses[0].days == (0,)
