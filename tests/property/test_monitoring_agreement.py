"""One source of truth for monitoring intervals: the pre-infusion check, the monitoring list,
the worklist projections and the PML risk report agree on generated patients.

Each property builds a patient on treatment before the check date ``D`` and compares what the
check says about a monitored task with what the monitoring list (and the worklist rows built
from it) says about the same task on the same day.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from msinfuse.domain.knowledge.facts import add_months
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.domain.monitoring import monitoring, monitoring_status
from msinfuse.domain.risk import pml_risk_from_state
from msinfuse.domain.safety import CheckRequest, check
from msinfuse.services.projections import projection_rows
from tests.factories import make_state

KB = default_knowledge_base()
D = date(2026, 11, 24)
PROFILES = st.sampled_from(["us", "eu"])
WINDOW = KB.clinic.due_soon_days.value


def _day(days_before: int) -> str:
    return str(D - timedelta(days=days_before))


def _entries(state: Any, profile: str) -> dict[str, Any]:
    return {e.item_id: e for e in monitoring(KB, state, D, profile).items}  # type: ignore[arg-type]


def _worklist_rows_agree(state: Any, profile: str) -> None:
    """The worklist projection holds exactly the monitoring list, and the worklist status of
    each row due within the window is the monitoring list's status."""
    entries = monitoring(KB, state, D, profile).items  # type: ignore[arg-type]
    rows, _ = projection_rows(KB, 1, state, profile, D)  # type: ignore[arg-type]
    assert [(r.agent, r.item_id, r.due_on, r.until_on, r.last_done) for r in rows] == [
        (e.agent, e.item_id, e.due, e.until, e.last_done) for e in entries
    ]
    for row, entry in zip(rows, entries, strict=True):
        if row.due_on <= D + timedelta(days=WINDOW):
            assert monitoring_status(row.due_on, D, WINDOW) == entry.status


# ------------------------------------------------------------------------------ natalizumab


@st.composite
def natalizumab_patients(draw: st.DrawFn) -> dict[str, Any]:
    first = draw(st.integers(60, 1500))
    doses, back = [], first
    while back > 0 and len(doses) < 60:
        doses.append({"agent": "natalizumab", "date": _day(back), "dose_mg": 300})
        back -= draw(st.integers(28, 42))
    # Anti-JCV samples on treatment, or around and long before the first infusion (a baseline
    # older than one retest interval is the case the monitoring list once dated wrongly).
    sample_day = st.one_of(st.integers(1, first), st.integers(max(1, first - 60), first + 600))
    labs = [
        {
            "test": "jcv_antibody",
            "value": draw(st.sampled_from(["negative", "negative", "positive", "equivocal"])),
            "date": _day(draw(sample_day)),
        }
        for _ in range(draw(st.integers(0, 3)))
    ]
    labs += [
        {
            "test": "jcv_index",
            "value": draw(st.sampled_from([0.3, 0.8, 1.2, 2.5])),
            "date": _day(draw(st.integers(1, first + 300))),
        }
        for _ in range(draw(st.integers(0, 2)))
    ]
    procedures = [
        {
            "procedure": draw(st.sampled_from(["plasma_exchange", "ivig", "mri_brain"])),
            "date": _day(draw(st.integers(1, first + 300))),
        }
        for _ in range(draw(st.integers(0, 2)))
    ]
    authorizations = [
        {
            "program": draw(st.sampled_from(["TOUCH", "TYRUKO-REMS"])),
            "date": _day(draw(st.integers(1, first + 200))),
        }
        for _ in range(draw(st.integers(0, 2)))
    ]
    therapies = (
        [{"agent": "azathioprine", "start": "2015-01-01", "end": "2016-01-01"}]
        if draw(st.booleans())
        else []
    )
    return {
        "administrations": doses,
        "labs": labs,
        "procedures": procedures,
        "authorizations": authorizations,
        "therapies": therapies,
    }


@given(natalizumab_patients(), PROFILES)
def test_the_check_and_the_monitoring_list_agree_on_the_anti_jcv_retest(record, profile):
    state = make_state(**record)
    result = check(KB, state, CheckRequest("natalizumab", D, profile))
    from_check = {f.data["due"] for f in result.findings if f.rule == "natalizumab.jcv-status"}
    overdue_by_check = {due for due in from_check if due < D}
    entries = _entries(state, profile)
    jcv = [e for e in entries.values() if e.item_id.startswith("jcv-")]
    assert overdue_by_check == {e.due for e in jcv if e.status == "overdue"}
    risk = pml_risk_from_state(KB, state, D)
    if risk.jcv_status == "unknown":
        assert from_check, "an unknown anti-JCV status is always a finding"
    if risk.retest_due is not None:
        assert risk.retest_due in {e.due for e in jcv}, "the risk report dates the same retest"
    _worklist_rows_agree(state, profile)


@given(natalizumab_patients())
def test_the_check_and_the_monitoring_list_agree_on_touch_re_authorization(record):
    state = make_state(**record)
    result = check(KB, state, CheckRequest("natalizumab", D, "us"))
    holds = [f for f in result.findings if f.rule == "natalizumab.touch-authorization"]
    entry = _entries(state, "us").get("touch-reauthorization")
    assert bool(holds) == (entry is not None and entry.status == "overdue")
    for finding in holds:
        if "due" in finding.data:
            assert finding.data["due"] == entry.due  # type: ignore[union-attr]


# ------------------------------------------------------------------------------ alemtuzumab


@st.composite
def alemtuzumab_course_2(draw: st.DrawFn) -> tuple[dict[str, Any], date]:
    """Course 1 given, and the first day of course 2 (at least 12 months later) as the check
    date; monthly labs on random dates."""
    gap = draw(st.integers(0, 300))
    day_1 = add_months(D - timedelta(days=gap), -12)
    doses = [
        {"agent": "alemtuzumab", "date": str(day_1 + timedelta(days=i)), "dose_mg": 12}
        for i in range(5)
    ]
    since = (D - day_1).days + 60
    labs = [
        {
            "test": draw(st.sampled_from(["cbc", "creatinine", "urinalysis"])),
            "value": "normal",
            "date": _day(draw(st.integers(0, since))),
        }
        for _ in range(draw(st.integers(0, 8)))
    ]
    return {
        "administrations": doses,
        "labs": labs,
        "authorizations": [{"program": "LEMTRADA-REMS", "date": str(day_1)}],
    }, D


ALEMTUZUMAB_ITEMS = {
    "cbc": "cbc-monthly",
    "creatinine": "creatinine-monthly",
    "urinalysis": "urinalysis-monthly",
}


@given(alemtuzumab_course_2(), PROFILES)
def test_monthly_labs_before_a_later_alemtuzumab_course_match_the_monitoring_list(case, profile):
    record, on = case
    state = make_state(**record)
    result = check(KB, state, CheckRequest("alemtuzumab", on, profile))
    assert result.course == 2
    assert result.course_day == 1
    finding = next((f for f in result.findings if f.rule == "screening.monthly-labs-current"), None)
    missing = set(finding.data["missing"]) if finding else set()
    entries = _entries(state, profile)
    overdue = {
        code for code, item in ALEMTUZUMAB_ITEMS.items() if entries[item].status == "overdue"
    }
    assert missing == overdue
    _worklist_rows_agree(state, profile)


# ----------------------------------------------------------------------------- mitoxantrone


@st.composite
def mitoxantrone_patients(draw: st.DrawFn) -> dict[str, Any]:
    """Up to four doses, the last before the check date; LVEF results on random dates."""
    back = draw(st.integers(30, 250))
    dates = [back]
    for _ in range(draw(st.integers(0, 3))):
        dates.append(dates[-1] + draw(st.integers(60, 200)))
    doses = [
        {"agent": "mitoxantrone", "date": _day(b), "dose_mg": 21.8} for b in sorted(dates)[::-1]
    ]
    labs = [
        {"test": "lvef", "value": 60, "date": _day(draw(st.integers(0, dates[-1] + 100)))}
        for _ in range(draw(st.integers(0, 4)))
    ]
    return {
        "administrations": doses,
        "labs": labs,
        "height_cm": 170,
        "weight_kg": 70,
        "childbearing_potential": False,
        "ms_course": "SPMS-active",
    }


@given(mitoxantrone_patients(), PROFILES)
def test_lvef_before_each_mitoxantrone_dose_matches_the_monitoring_list(record, profile):
    state = make_state(**record)
    result = check(KB, state, CheckRequest("mitoxantrone", D, profile))
    missing = any(f.rule == "screening.lvef-before-each-dose" for f in result.findings)
    listed = "lvef-before-dose" in _entries(state, profile)
    assert missing == listed
    _worklist_rows_agree(state, profile)
