"""Add-on (online) variant: generator, simulation and the online rules of the checker.

Each online rule has a smallest instance: one chair, one planned visit R1 offline at 11:00
(unit 132) and one add-on R2. Times are 5-minute units (126 = 10:30, 138 = 11:30).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msinfuse.domain import scheduling as sch
from msinfuse.domain.scheduling import (
    Instance,
    Move,
    OnlineResult,
    RevealEvent,
    Series,
    Solution,
)
from msinfuse.domain.scheduling.greedy import fcfs
from tests.unit.scheduling.helpers import at, instance, replace, request, site

ADDON_META = {"addons": {"lead_min": 60, "max_shift_min": 30}, "weights": {"pref_min": 10}}


def tiny(reveal: int, addon_pref: tuple[int, int], chairs: int = 1) -> Instance:
    """R1 (planned, any time) and add-on R2 revealed at ``reveal``; one nurse all day."""
    return instance(
        [
            request("R1", pref=(96, 200)),
            replace(request("R2", pref=addon_pref), reveal=reveal),
        ],
        [site(close=180, chairs=chairs, nurses=((90, 220, 200),))],
        **ADDON_META,
    )


def offline(start: int = 132) -> Solution:
    """The offline plan: R1 at ``start``."""
    return Solution([at("R1", start)], [])


def run(inst: Instance, solver: str = "cpsat") -> OnlineResult:
    result = sch.simulate(inst, solver, time_limit=2.0, workers=1, offline=offline())
    assert sch.check_online(inst, result) == []
    return result


def starts(result: OnlineResult) -> dict[str, int]:
    return {a.visit: a.start for a in result.final.assignments}


def rules(inst: Instance, result: OnlineResult) -> set[str]:
    return {v.rule for v in sch.check_online(inst, result)}


def hand(reveal: int, placed: int, moves: tuple[Move, ...], final_r1: int) -> OnlineResult:
    """A hand-written online result: R1 offline at 132, R2 placed at ``placed`` on chair C2."""
    event = RevealEvent(("R2",), "A", 0, reveal, True, "hand", (("R2", 0, placed),), moves)
    final = Solution([at("R1", final_r1), at("R2", placed, chair="C2")], [])
    return OnlineResult(offline(), final, [event])


# --- generator -------------------------------------------------------------------------


def test_generator_addons_deterministic_and_as_specified() -> None:
    a = sch.generate("S", 0.85, 3, variants=("addons",))
    assert a == sch.generate("S", 0.85, 3, variants=("addons",))
    base = sch.generate("S", 0.85, 3)
    assert [r for r in a.requests if r.reveal is None] == list(base.requests)
    addons = [r for r in a.requests if r.reveal is not None]
    assert 1 <= len(addons) <= 2
    assert all(96 <= (r.reveal or 0) <= 156 and r.type == "IVMP" for r in addons)
    assert all(r.pref[0] >= (r.reveal or 0) + 12 for r in addons)
    assert a.meta["addons"]["per_site_day"]["M"] == [5, 8]
    m = sch.generate("M", 0.85, 3, variants=("addons",))
    assert 5 <= sum(r.reveal is not None for r in m.requests) <= 8
    # The reveal times survive the file round trip, and a file without "reveal" still loads.
    assert sch.instance_from_json(sch.instance_to_json(a)) == a
    data = json.loads(sch.instance_to_json(base))
    for q in data["requests"]:
        q.pop("reveal")
    assert sch.instance_from_json(json.dumps(data)) == base


def test_generator_addons_week_are_series_from_the_reveal_day() -> None:
    inst = sch.generate("S", 0.70, 1, variants=("addons", "week"))
    addons = [r for r in inst.requests if r.reveal is not None]
    for r in addons:
        assert r.days == (r.due_day,)
        if r.series is not None:
            assert r.series.length == min(3, 5 - (r.due_day - r.series.index))


# --- simulation respects each rule ----------------------------------------------------


def test_reveal_rule_addon_not_before_reveal_plus_60() -> None:
    inst = tiny(reveal=108, addon_pref=(96, 96), chairs=2)  # wants 08:00, revealed 09:00
    result = run(inst)
    assert starts(result)["R2"] == 120  # 10:00 = reveal + 60 min
    assert result.summary["accepted"] == 1


def test_not_checked_in_visit_is_retimed_to_fit_the_addon() -> None:
    # Revealed 10:00; R1's check-in is 10:30, so R1 may move (earliest to 10:45, 129).
    result = run(tiny(reveal=120, addon_pref=(138, 138)))
    assert starts(result) == {"R1": 129, "R2": 138}
    assert result.events[0].moves == (Move("R1", 0, 132, 129),)
    assert result.summary["visits_moved"] == 1
    assert result.summary["minutes_moved"] == 15


def test_checked_in_visit_is_never_moved() -> None:
    # Revealed 10:30 = R1's check-in: R1 stays although moving it would pay.
    result = run(tiny(reveal=126, addon_pref=(138, 138)))
    assert starts(result) == {"R1": 132, "R2": 141}
    assert result.events[0].moves == ()


def test_a_move_cannot_bring_check_in_before_the_reveal() -> None:
    # Revealed 10:15; R1 (check-in 10:30) may move, but not to 10:45, whose check-in
    # (10:15) is not after the reveal, so R1 stays and R2 waits for it.
    result = run(tiny(reveal=123, addon_pref=(138, 138)))
    assert starts(result) == {"R1": 132, "R2": 141}


def test_moves_stay_within_30_minutes() -> None:
    # R2 would like 11:00 exactly; R1 would have to move 35 min, so R2 waits instead.
    result = run(tiny(reveal=96, addon_pref=(132, 132)))
    assert abs(starts(result)["R1"] - 132) <= 6


def test_addon_that_fits_nowhere_is_rejected() -> None:
    inst = instance(
        [request("R1", pref=(96, 200)), replace(request("R2", pref=(96, 200)), reveal=176)],
        [site(close=180, chairs=1, nurses=((90, 220, 200),))],
        **ADDON_META,
    )
    result = run(inst, "fcfs")
    assert result.final.rejected == ["R2"]
    assert result.summary["accepted"] == 0


# --- the checker catches each violation ----------------------------------------------


def test_checker_accepts_a_valid_hand_result() -> None:
    inst = tiny(reveal=120, addon_pref=(138, 138), chairs=2)
    assert sch.check_online(inst, hand(120, 138, (Move("R1", 0, 132, 129),), 129)) == []


def test_checker_catches_move_after_checkin() -> None:
    inst = tiny(reveal=126, addon_pref=(138, 138), chairs=2)
    assert "online-checkin" in rules(inst, hand(126, 138, (Move("R1", 0, 132, 129),), 129))


def test_checker_catches_move_beyond_30_minutes() -> None:
    inst = tiny(reveal=96, addon_pref=(138, 138), chairs=2)
    got = rules(inst, hand(96, 138, (Move("R1", 0, 132, 147),), 147))
    assert got == {"online-shift"}


def test_checker_catches_addon_before_reveal_plus_60() -> None:
    inst = tiny(reveal=126, addon_pref=(138, 138), chairs=2)
    assert rules(inst, hand(126, 120, (), 132)) == {"online-reveal"}


def test_checker_catches_unlogged_move_and_bad_order() -> None:
    inst = tiny(reveal=120, addon_pref=(138, 138), chairs=2)
    assert rules(inst, hand(120, 138, (), 129)) == {"online-log"}
    result = hand(120, 138, (), 132)
    result.events.append(RevealEvent(("R9",), "A", 0, 100, False, "none"))
    assert "online-order" in rules(inst, result)


def test_online_result_file_round_trip() -> None:
    inst = tiny(reveal=120, addon_pref=(138, 138))
    result = run(inst)
    text = sch.online_to_json(inst, result)
    assert sch.is_online(text)
    assert not sch.is_online(sch.solution_to_json(inst, result.final))
    back = sch.online_from_json(text, inst)
    assert back.events == result.events
    assert sch.check_online(inst, back) == []


# --- property --------------------------------------------------------------------------


@st.composite
def online_instances(draw) -> Instance:
    """One or two days, up to seven planned visits and up to three add-ons (on two days, an
    add-on revealed on day 0 may be a two-day series) at one site with 1-3 chairs; tight
    enough that some add-ons are rejected and some visits are re-timed."""
    n_days = draw(st.integers(1, 2))
    n = draw(st.integers(1, 7))
    k = draw(st.integers(1, 3))
    reqs = []
    for i in range(n):
        day = draw(st.integers(0, n_days - 1))
        p = draw(st.sampled_from([96, 108, 120, 132]))
        reqs.append(
            request(
                f"R{i + 1}",
                type_=draw(st.sampled_from(["SHORT", "LONG"])),
                days=(day,),
                due=day,
                pref=(p, p + 12),
                ondemand=draw(st.booleans()),
            )
        )
    rid = n
    for j in range(k):
        reveal = draw(st.integers(96, 156))
        pref_start = -(-(reveal + 12) // 3) * 3
        day = draw(st.integers(0, n_days - 1))
        length = 2 if day == 0 and n_days == 2 and draw(st.booleans()) else 1
        for index in range(length):
            rid += 1
            reqs.append(
                replace(
                    request(
                        f"R{rid}",
                        days=(day + index,),
                        due=day + index,
                        pref=(pref_start, pref_start),
                        series=Series(f"A{j}", index, length) if length > 1 else None,
                    ),
                    reveal=reveal,
                )
            )
    return instance(
        reqs,
        [
            site(
                close=draw(st.sampled_from([150, 180])),
                chairs=draw(st.integers(1, 3)),
                start_cap=draw(st.integers(1, 2)),
                hoods=1,
                nurses=((90, 220, 200),) * draw(st.integers(1, 2)),
            )
        ],
        days=n_days,
        addons={"lead_min": 60, "max_shift_min": 30},
        weights={"pref_min": draw(st.sampled_from([1, 10]))},
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(online_instances(), st.sampled_from(["cpsat", "fcfs"]))
def test_online_result_always_passes_the_checker(inst: Instance, solver: str) -> None:
    plan = fcfs(sch.planned_instance(inst))
    result = sch.simulate(inst, solver, time_limit=0.3, workers=1, offline=plan)
    assert sch.check_online(inst, result) == []
    assert (
        result.summary["accepted"] + result.summary["rejected_addons"] == result.summary["addons"]
    )
