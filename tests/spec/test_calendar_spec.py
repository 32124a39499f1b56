"""Dose-calendar specification: inputs -> expected dates, one row per clinical rule.

Each row reads: agent, profile, regimen, start, doses already given, today -> the doses the
calendar must show (number, date, earliest, mg, status), and the label or decision it
checks. Dates follow clinical-decisions §2: "N weeks" = 7·N days, months are calendar
months clamped to the month end, minimum spacing counts from the dose actually given, and a
late dose resets the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from msinfuse.domain.calendar import CalendarRequest, GivenDose, build_calendar
from msinfuse.domain.knowledge.schema import KnowledgeBase


def d(text: str) -> date:
    return date.fromisoformat(text)


def given(*items: str) -> tuple[GivenDose, ...]:
    out = []
    for item in items:
        day, _, mg = item.partition(":")
        out.append(GivenDose(d(day), float(mg) if mg else None))
    return tuple(out)


@dataclass(frozen=True)
class Row:
    why: str
    source: str
    agent: str
    start: str
    today: str
    expect: list[tuple[int, str, str, float, str]]  # number, date, earliest, mg, status
    given: tuple[GivenDose, ...] = ()
    profile: str = "us"
    regimen: str | None = None
    count: int = 3
    height_cm: float | None = None
    weight_kg: float | None = None
    cumulative: float = 0.0
    rules: set[str] = field(default_factory=set)


ROWS = [
    Row(
        "first maintenance ocrelizumab dose is 24 weeks after infusion 1 (US)",
        "S06 §dosing; clinical decisions §3",
        "ocrelizumab",
        "2026-01-05",
        "2026-01-20",
        [
            (1, "2026-01-05", "2026-01-05", 300, "given"),
            (2, "2026-01-19", "2026-01-19", 300, "given"),
            (3, "2026-06-22", "2026-06-08", 600, "planned"),
            (4, "2026-12-07", "2026-11-09", 600, "planned"),
        ],
        given=given("2026-01-05:300", "2026-01-19:300"),
        count=2,
    ),
    Row(
        "first maintenance ocrelizumab dose is 6 months after infusion 1, at least 5 months after the last (EU)",
        "S19 §4.2 (EMA 2020); clinical decisions §3",
        "ocrelizumab",
        "2026-01-05",
        "2026-01-20",
        [
            (1, "2026-01-05", "2026-01-05", 300, "given"),
            (2, "2026-01-19", "2026-01-19", 300, "given"),
            (3, "2026-07-05", "2026-06-19", 600, "planned"),
            (4, "2027-01-05", "2026-12-05", 600, "planned"),
        ],
        given=given("2026-01-05:300", "2026-01-19:300"),
        profile="eu",
        count=2,
    ),
    Row(
        "ocrelizumab infusion 2 is on day 15, fourteen days after day 1",
        "S02 §2.3; clinical decisions §2",
        "ocrelizumab",
        "2026-03-02",
        "2026-03-02",
        [
            (1, "2026-03-02", "2026-03-02", 300, "due"),
            (2, "2026-03-16", "2026-03-16", 300, "planned"),
        ],
        count=2,
    ),
    Row(
        "a late ocrelizumab dose resets the schedule to 24 weeks after the dose actually given",
        "S04 §missed dose; clinical decisions §2",
        "ocrelizumab",
        "2026-01-05",
        "2026-09-01",
        [
            (3, "2026-08-01", "2026-06-08", 600, "given"),
            (4, "2027-01-16", "2026-12-19", 600, "planned"),
        ],
        given=given("2026-01-05:300", "2026-01-19:300", "2026-08-01:600"),
        count=1,
        rules={"calendar.late-dose"},
    ),
    Row(
        "6 months after 31 August is 28 February (month-end clamp)",
        "clinical decisions §2",
        "ocrelizumab",
        "2026-08-31",
        "2026-09-15",
        [(3, "2027-02-28", "2027-02-14", 600, "planned")],
        given=given("2026-08-31:300", "2026-09-14:300"),
        profile="eu",
        count=1,
    ),
    Row(
        "minimum spacing counts from the last dose given: a late infusion 2 pushes the first 600 mg dose",
        "S06 §dosing ('at least 20 weeks'); clinical decisions §2",
        "ocrelizumab",
        "2026-01-05",
        "2026-03-01",
        [(3, "2026-07-10", "2026-07-10", 600, "planned")],
        given=given("2026-01-05:300", "2026-02-20:300"),
        count=1,
    ),
    Row(
        "an overdue dose is given as soon as possible and the next is counted from that day",
        "S04 §missed dose; clinical decisions §2",
        "ocrelizumab",
        "2026-01-05",
        "2026-08-01",
        [
            (3, "2026-06-22", "2026-06-08", 600, "overdue"),
            (4, "2027-01-16", "2026-12-19", 600, "planned"),
        ],
        given=given("2026-01-05:300", "2026-01-19:300"),
        count=2,
        rules={"calendar.overdue"},
    ),
    Row(
        "ublituximab maintenance is 24 weeks after infusion 1, at least 5 months after infusion 2",
        "S33 §dosage; S35 §4.2; clinical decisions §3",
        "ublituximab",
        "2026-01-05",
        "2026-01-20",
        [
            (1, "2026-01-05", "2026-01-05", 150, "given"),
            (2, "2026-01-19", "2026-01-19", 450, "given"),
            (3, "2026-06-22", "2026-06-19", 450, "planned"),
            (4, "2026-12-07", "2026-11-22", 450, "planned"),
        ],
        given=given("2026-01-05:150", "2026-01-19:450"),
        count=2,
    ),
    Row(
        "natalizumab is given every 28 days",
        "DRUGS-NTZ §2.1; clinical decisions §3",
        "natalizumab",
        "2026-01-05",
        "2026-01-06",
        [
            (2, "2026-02-02", "2026-01-26", 300, "planned"),
            (3, "2026-03-02", "2026-02-23", 300, "planned"),
        ],
        given=given("2026-01-05:300"),
        count=2,
    ),
    Row(
        "natalizumab extended-interval dosing every 6 weeks is flagged off-label",
        "NOVA; clinical decisions §3",
        "natalizumab",
        "2026-01-05",
        "2026-01-06",
        [(2, "2026-02-16", "2026-01-26", 300, "planned")],
        given=given("2026-01-05:300"),
        regimen="q6w-extended",
        count=1,
        rules={"calendar.off-label"},
    ),
    Row(
        "alemtuzumab course 2 starts 12 months after the last dose of course 1, on 3 consecutive days",
        "HL-LEM-2014 §2.1; SMPC-LEM §4.2; clinical decisions §3",
        "alemtuzumab",
        "2025-03-03",
        "2025-06-01",
        [
            (5, "2025-03-07", "2025-03-07", 12, "given"),
            (6, "2026-03-07", "2026-03-07", 12, "planned"),
            (7, "2026-03-08", "2026-03-08", 12, "planned"),
            (8, "2026-03-09", "2026-03-09", 12, "planned"),
        ],
        given=given(*(f"2025-03-0{n}:12" for n in range(3, 8))),
        count=3,
        rules={"calendar.course-not-yet", "calendar.further-course"},
    ),
    Row(
        "a missed alemtuzumab day moves the rest of the course: never two infusions on one day",
        "SMPC-LEM §4.2",
        "alemtuzumab",
        "2025-03-03",
        "2025-03-06",
        [
            (3, "2025-03-06", "2025-03-06", 12, "due"),
            (4, "2025-03-07", "2025-03-07", 12, "planned"),
        ],
        given=given("2025-03-03:12", "2025-03-05:12"),
        count=2,
    ),
    Row(
        "under the EU label no fifth alemtuzumab course is offered",
        "EPI-LEM §3; clinical decisions §3",
        "alemtuzumab",
        "2020-03-02",
        "2024-06-01",
        [(14, "2023-03-25", "2023-03-25", 12, "given")],
        given=given(
            *(f"2020-03-0{n}:12" for n in range(2, 7)),
            "2021-03-10:12",
            "2021-03-11:12",
            "2021-03-12:12",
            "2022-03-14:12",
            "2022-03-15:12",
            "2022-03-16:12",
            "2023-03-23:12",
            "2023-03-24:12",
            "2023-03-25:12",
        ),
        profile="eu",
        count=3,
        rules={"calendar.course-cap-reached"},
    ),
    Row(
        "under the US label a further alemtuzumab course remains possible after four courses",
        "HCP-LEM §dosing; clinical decisions §3",
        "alemtuzumab",
        "2020-03-02",
        "2024-06-01",
        [(14, "2023-03-25", "2023-03-25", 12, "given")],
        given=given(
            *(f"2020-03-0{n}:12" for n in range(2, 7)),
            "2021-03-10:12",
            "2021-03-11:12",
            "2021-03-12:12",
            "2022-03-14:12",
            "2022-03-15:12",
            "2022-03-16:12",
            "2023-03-23:12",
            "2023-03-24:12",
            "2023-03-25:12",
        ),
        profile="us",
        count=3,
        rules={"calendar.further-course"},
    ),
    Row(
        "mitoxantrone is 12 mg/m2 by Mosteller BSA every 3 months and stops before 140 mg/m2 (US)",
        "GH-MITO §dosing; clinical decisions §3",
        "mitoxantrone",
        "2026-01-05",
        "2026-01-05",
        [
            (1, "2026-01-05", "2026-01-05", 21.8, "due"),
            (2, "2026-04-05", "2026-04-05", 21.8, "planned"),
            (3, "2026-07-05", "2026-07-05", 21.8, "planned"),
        ],
        height_cm=170,
        weight_kg=70,
        cumulative=100,
        count=10,
        rules={"calendar.cumulative-limit"},
    ),
    Row(
        "mitoxantrone stops at the EU lifetime limit of 72 mg/m2",
        "RXR-MITO-EU §4.2; clinical decisions §3",
        "mitoxantrone",
        "2026-01-05",
        "2026-01-05",
        [(1, "2026-01-05", "2026-01-05", 21.8, "due")],
        height_cm=170,
        weight_kg=70,
        cumulative=60,
        count=10,
        profile="eu",
        rules={"calendar.cumulative-limit"},
    ),
    Row(
        "a methylprednisolone relapse course runs on 3 consecutive days",
        "S70 NICE NG220; clinical decisions §3",
        "methylprednisolone",
        "2026-11-24",
        "2026-11-24",
        [
            (1, "2026-11-24", "2026-11-24", 1000, "due"),
            (2, "2026-11-25", "2026-11-25", 1000, "planned"),
            (3, "2026-11-26", "2026-11-26", 1000, "planned"),
        ],
        count=10,
    ),
    Row(
        "the 5-day methylprednisolone option runs on 5 consecutive days",
        "S70 NICE NG220; clinical decisions §3",
        "methylprednisolone",
        "2026-11-24",
        "2026-11-24",
        [(5, "2026-11-28", "2026-11-28", 1000, "planned")],
        regimen="5-day",
        count=10,
    ),
    Row(
        "rituximab RIFUND regimen: 1000 mg, then 500 mg every 6 months (off-label)",
        "S61 RIFUND-MS; clinical decisions §3",
        "rituximab",
        "2026-01-05",
        "2026-01-05",
        [
            (1, "2026-01-05", "2026-01-05", 1000, "due"),
            (2, "2026-07-05", "2026-04-27", 500, "planned"),
        ],
        count=2,
        rules={"calendar.off-label"},
    ),
    Row(
        "rituximab RA template: 1000 mg on day 1 and 15, repeated every 24 weeks, not sooner than 16 weeks",
        "S53 §6-month interval; clinical decisions §3",
        "rituximab",
        "2026-01-05",
        "2026-01-05",
        [
            (2, "2026-01-19", "2026-01-19", 1000, "planned"),
            (3, "2026-06-22", "2026-05-11", 1000, "planned"),
            (4, "2026-07-06", "2026-07-06", 1000, "planned"),
        ],
        regimen="ra-template",
        count=4,
        rules={"calendar.off-label"},
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.why)
def test_calendar(row: Row, kb: KnowledgeBase):
    calendar = build_calendar(
        kb,
        CalendarRequest(
            agent=row.agent,
            start=d(row.start),
            today=d(row.today),
            regimen=row.regimen,
            profile=row.profile,  # type: ignore[arg-type]
            given=row.given,
            count=row.count,
            height_cm=row.height_cm,
            weight_kg=row.weight_kg,
            prior_cumulative_mg_per_m2=row.cumulative,
        ),
    )
    by_number = {dose.number: dose for dose in calendar.doses}
    for number, on, earliest, mg, status in row.expect:
        dose = by_number[number]
        assert (dose.date.isoformat(), dose.earliest.isoformat(), dose.dose_mg, dose.status) == (
            on,
            earliest,
            mg,
            status,
        ), f"dose {number}"
    rules = {f.rule for f in calendar.findings}
    assert row.rules <= rules
    assert calendar.labels, "every calendar names its label revisions"
    assert "Decision support" in calendar.decision_support


class TestEuMitoxantroneAfterEarlierTreatment:
    """RXR-MITO-EU §4.2 (secondary copy): "must not be initiated in patients who have been
    previously treated with mitoxantrone"; clinical decisions §5."""

    def _calendar(self, kb: KnowledgeBase, profile: str, given: tuple[GivenDose, ...] = ()):
        return build_calendar(
            kb,
            CalendarRequest(
                "mitoxantrone",
                d("2026-01-05"),
                d("2026-01-05") if not given else given[-1].date,
                profile=profile,  # type: ignore[arg-type]
                given=given,
                height_cm=170,
                weight_kg=70,
                prior_cumulative_mg_per_m2=24,
            ),
        )

    def test_a_prior_cumulative_dose_flags_the_eu_calendar_as_not_to_be_initiated(
        self, kb: KnowledgeBase
    ):
        calendar = self._calendar(kb, "eu")
        flag = next(f for f in calendar.findings if f.rule == "calendar.prior-treatment")
        assert flag.severity == "hold"
        assert "must not be initiated" in flag.message.lower()
        assert "RXR-MITO-EU" in flag.source

    def test_a_course_already_started_after_earlier_treatment_is_still_flagged(
        self, kb: KnowledgeBase
    ):
        calendar = self._calendar(kb, "eu", (GivenDose(d("2026-01-05"), 21.8),))
        flag = next(f for f in calendar.findings if f.rule == "calendar.prior-treatment")
        assert flag.severity == "warn"

    def test_the_us_label_has_no_such_rule(self, kb: KnowledgeBase):
        calendar = self._calendar(kb, "us")
        assert all(f.rule != "calendar.prior-treatment" for f in calendar.findings)


def test_mitoxantrone_shows_no_dose_past_the_lifetime_limit(kb: KnowledgeBase):
    calendar = build_calendar(
        kb,
        CalendarRequest(
            "mitoxantrone",
            d("2026-01-05"),
            d("2026-01-05"),
            height_cm=170,
            weight_kg=70,
            prior_cumulative_mg_per_m2=100,
            count=10,
        ),
    )
    assert len(calendar.doses) == 3  # 100 + 3 x 12 = 136; a fourth dose would reach 148
    assert calendar.cumulative_mg_per_m2 == 136.0


def test_a_dose_given_before_the_minimum_spacing_is_reported(kb: KnowledgeBase):
    calendar = build_calendar(
        kb,
        CalendarRequest(
            "ocrelizumab",
            d("2026-01-05"),
            d("2026-06-10"),
            given=given("2026-01-05:300", "2026-01-19:300", "2026-05-01:600"),
        ),
    )
    finding = next(f for f in calendar.findings if f.rule == "calendar.given-too-early")
    assert "2026-06-08" in finding.message
    assert "S06" in finding.source
