"""Cited facts, citations and label-interval arithmetic (clinical-decisions §2)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from msinfuse.domain.knowledge.facts import ByProfile, Citation, Cited, Duration


class TestDurations:
    def test_weeks_are_seven_days(self):
        assert Duration.parse("24 weeks").after(date(2026, 1, 5)) == date(2026, 6, 22)

    def test_months_keep_the_day_of_month(self):
        assert Duration.parse("6 months").after(date(2026, 1, 5)) == date(2026, 7, 5)

    def test_months_clamp_to_the_end_of_a_shorter_month(self):
        assert Duration.parse("6 months").after(date(2026, 8, 31)) == date(2027, 2, 28)

    def test_months_clamp_to_29_february_in_a_leap_year(self):
        assert Duration.parse("6 months").after(date(2027, 8, 31)) == date(2028, 2, 29)

    def test_years_are_twelve_calendar_months(self):
        assert Duration.parse("1 year").after(date(2024, 2, 29)) == date(2025, 2, 28)

    def test_before_is_the_inverse_for_days_and_weeks(self):
        assert Duration.parse("2 weeks").before(date(2026, 1, 19)) == date(2026, 1, 5)

    @pytest.mark.parametrize("text", ["a while", "6", "weeks", "-3 days", "3 fortnights"])
    def test_unreadable_durations_are_rejected(self, text):
        with pytest.raises(ValueError, match="duration"):
            Duration.parse(text)

    def test_singular_units_print_without_plural(self):
        assert str(Duration.parse("1 month")) == "1 month"
        assert str(Duration.parse("12 months")) == "12 months"


class TestCitations:
    def test_a_citation_string_is_parsed(self):
        citation = Citation.model_validate("S04 §2.3 rev 1/2024")
        assert (citation.source, citation.section, citation.revision) == ("S04", "2.3", "1/2024")

    def test_a_citation_without_revision_is_rejected(self):
        with pytest.raises(ValidationError, match="must read"):
            Citation.model_validate("S04 §2.3")


class TestByProfile:
    def test_a_single_value_applies_to_both_profiles(self):
        value = ByProfile[int].model_validate(
            {"value": 5, "status": "label", "cite": "S01 §1 rev x"}
        )
        assert value.get("us").value == value.get("eu").value == 5
        assert not value.differs()

    def test_a_value_given_for_one_profile_is_not_established_for_the_other(self):
        value = ByProfile[int].model_validate(
            {"us": {"value": 5, "status": "label", "cite": "S01 §1 rev x"}}
        )
        assert value.get("eu") is None
        assert value.differs()

    def test_weak_statuses_are_flagged(self):
        fact = Cited[int].model_validate({"value": 1, "status": "policy", "cite": "S01 §1 rev x"})
        assert fact.is_weak
