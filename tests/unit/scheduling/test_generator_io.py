"""The MSINF v1 generator (§7) and the instance / solution file formats."""

from __future__ import annotations

import json
import math

import pytest

from msinfuse.domain.scheduling import (
    check,
    generate,
    instance_from_json,
    instance_to_json,
    solution_from_json,
    solution_to_dict,
    solution_to_json,
    solve,
)
from msinfuse.errors import InvalidInput


def test_the_generator_is_deterministic_for_a_seed():
    assert instance_to_json(generate("M", 0.85, 7)) == instance_to_json(generate("M", 0.85, 7))
    assert instance_to_json(generate("M", 0.85, 7)) != instance_to_json(generate("M", 0.85, 8))


def test_network_weeks_are_deterministic_for_a_seed():
    assert instance_to_json(generate("L", 0.70, 3)) == instance_to_json(generate("L", 0.70, 3))


@pytest.mark.parametrize(("size", "chairs", "low", "high"), [("S", 8, 15, 24), ("M", 36, 100, 130)])
def test_load_fills_chair_hours_up_to_rho_without_exceeding_it(size, chairs, low, high):
    for seed in range(3):
        inst = generate(size, 0.85, seed)
        site = inst.sites[0]
        total = sum(inst.phases(r).chair for r in inst.requests)
        assert total <= 0.85 * chairs * (site.close - site.open)
        assert low <= len(inst.requests) <= high


def test_every_parameter_is_written_into_the_instance_file():
    data = json.loads(instance_to_json(generate("S", 0.70, 1)))
    meta = data["meta"]
    for key in (
        "generator",
        "version",
        "size",
        "rho",
        "seed",
        "unit_min",
        "start_grid_units",
        "M",
        "weights",
        "mix",
        "pref_windows",
        "break_units",
    ):
        assert key in meta, key
    assert meta["weights"] == {
        "rejected": 10000,
        "overtime_min": 20,
        "pref_min": 1,
        "days_away": 60,
        "non_home": 30,
        "spread_min": 1,
    }
    assert data["visit_types"]["NTZ"] == {
        "setup": 3,
        "premed": 0,
        "infusion": 12,
        "obs": 12,
        "disc": 1,
        "acuity": 1,
        "prep": 4,
        "ondemand_p": 0.2,
        "bed": False,
    }
    site = data["sites"][0]
    assert (site["open"], site["close"], site["chairs"], site["start_cap"], site["hoods"]) == (
        96,
        204,
        8,
        2,
        1,
    )
    assert [(n["start"], n["end"], n["break"]) for n in site["nurses"]] == [
        (93, 195, 138),
        (96, 198, 144),
        (102, 204, 150),
    ]


def test_the_network_week_has_twelve_sites_200_chairs_and_near_alternatives():
    inst = generate("L", 0.85, 1)
    assert len(inst.sites) == 12
    assert len(inst.days) == 5
    assert sum(s.chairs for s in inst.sites) == 200
    where = {s.id: (s.x_km, s.y_km) for s in inst.sites}
    for r in inst.requests:
        assert r.sites[0] == r.home
        assert len(r.sites) <= 3
        for alt in r.sites[1:]:
            assert math.dist(where[r.home], where[alt]) <= 30


def test_series_run_on_consecutive_allowed_days():
    inst = generate("M", 0.85, 2, variants=["week"])
    members: dict[str, list] = {}
    for r in inst.requests:
        if r.series is not None:
            members.setdefault(r.series.id, []).append(r)
    assert members
    for group in members.values():
        group.sort(key=lambda r: r.series.index)
        assert len(group) == group[0].series.length
        for k, r in enumerate(group):
            assert r.days == tuple(d + k for d in group[0].days)


def test_instance_and_solution_files_round_trip():
    inst = generate("S", 0.85, 4, variants=["beds"])
    again = instance_from_json(instance_to_json(inst))
    assert instance_to_json(again) == instance_to_json(inst)
    sol = solve(inst, "fcfs")
    data = solution_to_dict(inst, sol)
    assert set(data) == {"assignments", "rejected", "objective", "metrics", "solver"}
    first = data["assignments"][0]
    assert {"visit", "site", "day", "start", "end", "chair"} <= set(first)
    assert first["day"] == "2026-01-05"
    assert len(first["start"]) == 5
    back = solution_from_json(solution_to_json(inst, sol), inst)
    assert check(inst, back) == []


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["requests"][2].pop("pref"), "$.requests[2].pref"),
        (lambda d: d["requests"][0].update(type="XYZ"), "$.requests[0].type"),
        (lambda d: d["sites"][0].update(chairs=-1), "$.sites[0].chairs"),
        (lambda d: d["sites"][0]["nurses"][1].update(start="08:00"), "$.sites[0].nurses[1].start"),
        (lambda d: d["requests"][1].update(days=[9]), "$.requests[1].days"),
    ],
)
def test_a_bad_instance_file_names_the_json_path(mutate, path):
    data = json.loads(instance_to_json(generate("S", 0.70, 1)))
    mutate(data)
    with pytest.raises(
        InvalidInput,
        match=r"x\.json: " + path.replace("$", r"\$").replace("[", r"\[").replace("]", r"\]"),
    ):
        instance_from_json(json.dumps(data), source="x.json")


def test_a_bad_solution_file_names_the_json_path():
    inst = generate("S", 0.70, 1)
    data = solution_to_dict(inst, solve(inst, "fcfs"))
    data["assignments"][0]["start"] = "8h00"
    with pytest.raises(InvalidInput, match=r"\$\.assignments\[0\]\.start"):
        solution_from_json(json.dumps(data), inst, source="s.json")
