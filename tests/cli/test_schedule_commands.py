"""``msinfuse schedule``: generate → solve → check → bound → capacity, and clear errors."""

from __future__ import annotations

import json


def test_generate_solve_check_and_bound_round_trip(run, tmp_path):
    inst = tmp_path / "s.json"
    sol = tmp_path / "s.sol.json"
    assert (
        run(
            "schedule", "generate", "--size", "S", "--load", "0.7", "--seed", "2", "-o", str(inst)
        ).code
        == 0
    )
    assert json.loads(inst.read_text())["meta"]["seed"] == 2
    result = run(
        "schedule",
        "solve",
        str(inst),
        "--solver",
        "cpsat",
        "--time-limit",
        "1",
        "--workers",
        "1",
        "-o",
        str(sol),
        "--json",
    )
    assert result.code == 0
    summary = result.json()
    assert summary["solver"]["name"] == "cpsat"
    assert {"rejected", "overtime_min", "pref_dev_min", "total"} <= set(summary["objective"])
    checked = run("schedule", "check", str(inst), str(sol), "--json")
    assert checked.code == 0
    assert checked.json() == {"feasible": True, "violations": []}
    bound = run("schedule", "bound", str(inst), "--json")
    assert bound.code == 0
    assert bound.json()["best"] <= summary["objective"]["total"]


def test_check_exits_1_and_names_each_violation(run, tmp_path):
    inst = tmp_path / "s.json"
    sol = tmp_path / "s.sol.json"
    run("schedule", "generate", "--size", "S", "--seed", "1", "-o", str(inst))
    run("schedule", "solve", str(inst), "--solver", "fcfs", "-o", str(sol))
    data = json.loads(sol.read_text())
    data["assignments"][0]["start"] = "06:00"
    sol.write_text(json.dumps(data))
    result = run("schedule", "check", str(inst), str(sol))
    assert result.code == 1
    assert "window" in result.out
    assert "duration" in result.out


def test_a_bad_file_is_a_one_line_error_naming_the_json_path(run, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"meta": {}, "days": ["2026-01-05"], "sites": [{"id": "A"}]}))
    result = run("schedule", "solve", str(bad))
    assert result.code == 2
    assert "$.sites[0]" in result.err
    missing = run("schedule", "bound", str(tmp_path / "nope.json"))
    assert missing.code == 2
    assert "file not found" in missing.err


def test_capacity_reports_the_fewest_nurses(run, tmp_path):
    inst = tmp_path / "s.json"
    run("schedule", "generate", "--size", "S", "--load", "0.7", "--seed", "1", "-o", str(inst))
    result = run(
        "schedule", "capacity", str(inst), "--resource", "nurses", "--time-limit", "1", "--json"
    )
    assert result.code == 0
    data = result.json()
    assert data["resource"] == "nurses"
    assert data["needed"] is not None
    assert any(t["count"] == data["needed"] and t["rejections"] == 0 for t in data["tried"])


def test_online_addons_run_and_check(run, tmp_path):
    inst = tmp_path / "sa.json"
    res = tmp_path / "sa.online.json"
    run(
        "schedule", "generate", "--size", "S", "--seed", "2", "--variant", "addons", "-o", str(inst)
    )
    assert json.loads(inst.read_text())["meta"]["addons"]["lead_min"] == 60
    result = run("schedule", "online", str(inst), "--solver", "fcfs", "-o", str(res), "--json")
    assert result.code == 0
    summary = result.json()["summary"]
    assert summary["addons"] == summary["accepted"] + summary["rejected_addons"] >= 1
    checked = run("schedule", "check", str(inst), str(res), "--json")
    assert checked.json() == {"feasible": True, "violations": []}
    data = json.loads(res.read_text())
    data["final"]["assignments"][0]["start"] = "06:00"
    res.write_text(json.dumps(data))
    bad = run("schedule", "check", str(inst), str(res), "--online")
    assert bad.code == 1
    assert "online-log" in bad.out
