"""Monitoring specification (clinical-decisions §7): what is due, when, and until when."""

from __future__ import annotations

from datetime import date

import pytest

from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.monitoring import monitoring
from tests.factories import doses, lab, make_state

ALEM = doses("alemtuzumab", *[f"2025-03-0{d}" for d in range(3, 8)], dose_mg=12)


def _items(kb, state, on, profile="us"):
    return {(e.agent, e.item_id): e for e in monitoring(kb, state, on, profile).items}


class TestAlemtuzumab:
    """DM-LEM / OFDA-LEM boxed warning; ISI-LEM; clinical decisions §7."""

    def test_monthly_cbc_is_due_a_month_after_the_last_one(self, kb: KnowledgeBase):
        state = make_state(administrations=ALEM, labs=[lab("cbc", "normal", "2026-10-20")])
        item = _items(kb, state, date(2026, 11, 10))[("alemtuzumab", "cbc-monthly")]
        assert (item.due, item.status, item.last_done) == (
            date(2026, 11, 20),
            "due",
            date(2026, 10, 20),
        )

    def test_a_cbc_never_done_after_the_course_is_overdue(self, kb: KnowledgeBase):
        item = _items(kb, make_state(administrations=ALEM), date(2026, 11, 10))[
            ("alemtuzumab", "cbc-monthly")
        ]
        assert item.status == "overdue"
        assert item.due == date(2025, 4, 3)

    def test_tsh_is_every_3_months(self, kb: KnowledgeBase):
        state = make_state(administrations=ALEM, labs=[lab("tsh", 1.2, "2026-09-01")])
        item = _items(kb, state, date(2026, 11, 10))[("alemtuzumab", "tsh-3-monthly")]
        assert (item.due, item.status) == (date(2026, 12, 1), "upcoming")

    def test_labs_run_until_48_months_after_the_last_infusion(self, kb: KnowledgeBase):
        both = make_state(
            administrations=ALEM + doses("alemtuzumab", "2026-03-09", "2026-03-10", "2026-03-11")
        )
        items = _items(kb, both, date(2030, 3, 11))
        assert items[("alemtuzumab", "cbc-monthly")].until == date(2030, 3, 11)
        after = _items(kb, both, date(2030, 3, 12))
        assert ("alemtuzumab", "cbc-monthly") not in after
        assert ("alemtuzumab", "skin-exam") in after  # yearly, no stop date

    def test_while_course_2_is_planned_the_end_date_stays_open(self, kb: KnowledgeBase):
        item = _items(kb, make_state(administrations=ALEM), date(2025, 6, 1))[
            ("alemtuzumab", "cbc-monthly")
        ]
        assert item.until is None

    def test_herpes_prophylaxis_ends_2_months_after_the_course_us_and_1_month_eu(
        self, kb: KnowledgeBase
    ):
        state = make_state(administrations=ALEM)
        us = _items(kb, state, date(2025, 3, 20), "us")[("alemtuzumab", "herpes-prophylaxis")]
        eu = _items(kb, state, date(2025, 3, 20), "eu")[("alemtuzumab", "herpes-prophylaxis")]
        assert us.due == date(2025, 5, 7)
        assert "CD4" in (us.note or "")
        assert eu.due == date(2025, 4, 7)


class TestNatalizumab:
    """PDR-NTZ; R2; MIMS-SG-NTZ; clinical decisions §6–§7."""

    def test_touch_evaluations_at_3_and_6_months_then_every_6_months(self, kb: KnowledgeBase):
        state = make_state(
            administrations=doses(
                "natalizumab", "2026-01-05", "2026-02-02", "2026-03-02", "2026-03-30"
            )
        )
        first = _items(kb, state, date(2026, 3, 30))[("natalizumab", "prescriber-evaluation")]
        assert first.due == date(2026, 4, 5)
        state = make_state(
            administrations=doses("natalizumab", "2026-01-05", "2026-06-22"),
            procedures=[
                {"procedure": "prescriber_evaluation", "date": "2026-04-05"},
                {"procedure": "prescriber_evaluation", "date": "2026-07-05"},
            ],
        )
        later = _items(kb, state, date(2026, 7, 10))[("natalizumab", "prescriber-evaluation")]
        assert later.due == date(2027, 1, 5)

    def test_touch_reauthorization_every_6_months_us_only(self, kb: KnowledgeBase):
        state = make_state(
            administrations=doses("natalizumab", "2026-01-05", "2026-10-27"),
            authorizations=[{"program": "TOUCH", "date": "2026-06-01"}],
        )
        assert _items(kb, state, date(2026, 11, 24))[
            ("natalizumab", "touch-reauthorization")
        ].due == date(2026, 12, 1)
        assert ("natalizumab", "touch-reauthorization") not in _items(
            kb, state, date(2026, 11, 24), "eu"
        )

    def test_jcv_retest_every_6_months_while_negative(self, kb: KnowledgeBase):
        state = make_state(
            administrations=doses("natalizumab", "2026-01-05", "2026-10-27"),
            labs=[lab("jcv_antibody", "negative", "2026-05-01")],
        )
        item = _items(kb, state, date(2026, 11, 24))[("natalizumab", "jcv-retest-negative")]
        assert (item.due, item.status) == (date(2026, 11, 1), "overdue")

    def test_the_retest_is_dated_from_the_last_negative_test_even_one_before_infusion_1(
        self, kb: KnowledgeBase
    ):
        """Clinical decisions §6: every 6 months while negative, from the last test (the check
        dates it the same way)."""
        state = make_state(
            administrations=doses("natalizumab", "2026-01-05", "2026-02-02", "2026-03-02"),
            labs=[lab("jcv_antibody", "negative", "2025-05-10")],
        )
        item = _items(kb, state, date(2026, 3, 20))[("natalizumab", "jcv-retest-negative")]
        assert (item.due, item.status, item.last_done) == (
            date(2025, 11, 10),
            "overdue",
            date(2025, 5, 10),
        )

    def test_without_a_valid_anti_jcv_result_the_test_is_due_at_the_first_infusion(
        self, kb: KnowledgeBase
    ):
        """Clinical decisions §6 and MIMS-SG-NTZ: test before starting (or if status unknown)."""
        state = make_state(administrations=doses("natalizumab", "2026-01-05", "2026-02-02"))
        item = _items(kb, state, date(2026, 3, 1))[("natalizumab", "jcv-retest-negative")]
        assert (item.due, item.status) == (date(2026, 1, 5), "overdue")

    def test_a_sample_taken_within_2_weeks_of_plasma_exchange_does_not_count(
        self, kb: KnowledgeBase
    ):
        """MIMS-SG-NTZ; clinical decisions §6."""
        state = make_state(
            administrations=doses("natalizumab", "2026-01-05", "2026-10-27"),
            labs=[
                lab("jcv_antibody", "negative", "2026-03-01"),
                lab("jcv_antibody", "negative", "2026-09-10"),
            ],
            procedures=[{"procedure": "plasma_exchange", "date": "2026-09-01"}],
        )
        item = _items(kb, state, date(2026, 11, 24))[("natalizumab", "jcv-retest-negative")]
        assert (item.due, item.last_done) == (date(2026, 9, 1), date(2026, 3, 1))

    def test_a_tyruko_rems_authorization_counts_as_re_authorization(self, kb: KnowledgeBase):
        state = make_state(
            administrations=doses("natalizumab", "2026-01-05", "2026-10-27"),
            authorizations=[{"program": "TYRUKO-REMS", "date": "2026-07-01"}],
        )
        item = _items(kb, state, date(2026, 11, 24))[("natalizumab", "touch-reauthorization")]
        assert item.due == date(2027, 1, 1)

    def test_mri_every_3_months_at_higher_pml_risk_and_yearly_otherwise(self, kb: KnowledgeBase):
        base = {
            "administrations": doses("natalizumab", "2023-09-01", "2026-10-27"),
            "procedures": [{"procedure": "mri_brain", "date": "2026-09-01"}],
        }
        high = make_state(
            **base,
            labs=[
                lab("jcv_antibody", "positive", "2026-09-01"),
                lab("jcv_index", 2.0, "2026-09-01"),
            ],
        )
        low = make_state(**base, labs=[lab("jcv_antibody", "negative", "2026-09-01")])
        assert _items(kb, high, date(2026, 11, 24))[("natalizumab", "mri-higher-risk")].due == date(
            2026, 12, 1
        )
        assert ("natalizumab", "mri-standard") not in _items(kb, high, date(2026, 11, 24))
        assert _items(kb, low, date(2026, 11, 24))[("natalizumab", "mri-standard")].due == date(
            2027, 9, 1
        )

    def test_no_reauthorization_once_natalizumab_is_stopped(self, kb: KnowledgeBase):
        state = make_state(
            administrations=doses("natalizumab", "2022-01-05", "2025-06-01"),
            plans=[{"agent": "natalizumab", "stopped": "2025-06-15"}],
            labs=[
                lab("jcv_antibody", "positive", "2025-05-01"),
                lab("jcv_index", 2.0, "2025-05-01"),
            ],
            procedures=[{"procedure": "mri_brain", "date": "2025-08-01"}],
        )
        items = _items(kb, state, date(2025, 10, 15))
        assert ("natalizumab", "touch-reauthorization") not in items
        # PML vigilance: the 3-monthly MRI continues until 6 months after the last dose.
        assert items[("natalizumab", "mri-higher-risk")].due == date(2025, 11, 1)
        assert ("natalizumab", "mri-higher-risk") not in _items(kb, state, date(2025, 12, 2))


class TestMitoxantrone:
    """GH-MITO; FDA-MITO-2008; clinical decisions §7."""

    def test_lvef_is_due_before_the_next_dose_until_measured(self, kb: KnowledgeBase):
        state = make_state(
            weight_kg=70,
            height_cm=170,
            administrations=doses("mitoxantrone", "2026-08-25", dose_mg=21.8),
        )
        item = _items(kb, state, date(2026, 11, 10))[("mitoxantrone", "lvef-before-dose")]
        assert item.due == date(2026, 11, 25)
        done = make_state(
            weight_kg=70,
            height_cm=170,
            administrations=doses("mitoxantrone", "2026-08-25", dose_mg=21.8),
            labs=[lab("lvef", 60, "2026-11-09")],
        )
        assert ("mitoxantrone", "lvef-before-dose") not in _items(kb, done, date(2026, 11, 10))

    def test_lvef_yearly_after_stopping(self, kb: KnowledgeBase):
        state = make_state(
            administrations=doses("mitoxantrone", "2024-01-10", "2024-04-10", dose_mg=21.8),
            plans=[{"agent": "mitoxantrone", "stopped": "2024-05-01"}],
            labs=[lab("lvef", 60, "2025-04-01")],
        )
        item = _items(kb, state, date(2026, 1, 1))[("mitoxantrone", "lvef-yearly-after-stop")]
        assert (item.due, item.status) == (date(2026, 4, 1), "upcoming")


class TestAntiCd20:
    """Clinic policy (clinical decisions §7): immunoglobulins and hepatitis B follow-up."""

    def test_immunoglobulins_every_6_months_as_clinic_policy(self, kb: KnowledgeBase):
        state = make_state(
            administrations=doses("ocrelizumab", "2026-01-05", "2026-01-19"),
            labs=[lab("igg", 9, "2026-06-01")],
        )
        item = _items(kb, state, date(2026, 11, 24))[("ocrelizumab", "immunoglobulins")]
        assert item.due == date(2026, 12, 1)
        assert item.fact_status == "policy"

    def test_hbv_follow_up_only_for_anti_hbc_positive_patients(self, kb: KnowledgeBase):
        given = doses("ocrelizumab", "2026-01-05", "2026-01-19")
        positive = make_state(
            administrations=given, labs=[lab("anti_hbc", "positive", "2025-12-01")]
        )
        negative = make_state(
            administrations=given, labs=[lab("anti_hbc", "negative", "2025-12-01")]
        )
        assert ("ocrelizumab", "hbv-follow-up") in _items(kb, positive, date(2026, 6, 1))
        assert ("ocrelizumab", "hbv-follow-up") not in _items(kb, negative, date(2026, 6, 1))


def test_no_agent_on_record_means_nothing_to_monitor(kb: KnowledgeBase):
    assert monitoring(kb, make_state(), date(2026, 11, 24), "us").items == ()


@pytest.mark.parametrize("profile", ["us", "eu"])
def test_monitoring_names_label_revisions(kb: KnowledgeBase, profile):
    result = monitoring(kb, make_state(administrations=ALEM), date(2026, 1, 1), profile)
    assert result.labels
    assert "Decision support" in result.decision_support
