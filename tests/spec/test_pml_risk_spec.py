"""PML risk specification (clinical-decisions §6): Berger & Fox 2016 / Kuesters 2015 table."""

from __future__ import annotations

from datetime import date

import pytest

from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.risk import pml_risk, pml_risk_from_state
from tests.factories import doses, lab, make_state

# (jcv, index, months, prior IS) -> per 1,000, band   [UTD-PML graphic 55637 v8.0]
TABLE = [
    ("negative", None, 12, False, 0.02, "24 months or less"),
    ("negative", None, 30, False, 0.2, "25-48 months"),
    ("negative", None, 60, True, 0.9, "49-72 months"),
    ("positive", None, 24, False, 1, "24 months or less"),
    ("positive", None, 25, False, 3, "25-48 months"),
    ("positive", 1.5, 40, False, 1.1, "25-48 months"),
    ("positive", 1.51, 40, False, 8.8, "25-48 months"),
    ("positive", 0.4, 70, False, 1.4, "49-72 months"),
    ("positive", 3.0, 70, False, 10.1, "49-72 months"),
    ("positive", None, 10, True, 6, "24 months or less"),
    ("positive", 0.2, 50, True, 13, "49-72 months"),
]


@pytest.mark.parametrize(("jcv", "index", "months", "prior", "expected", "band"), TABLE)
def test_estimates_come_from_the_default_table(
    kb: KnowledgeBase, jcv, index, months, prior, expected, band
):
    risk = pml_risk(kb, jcv, index, months, prior)
    assert risk.risk_per_1000 == expected
    assert risk.band == band
    assert risk.table_id == "berger-fox-2016"
    assert risk.table_status == "literature"


def test_beyond_72_months_the_table_has_no_value_and_nothing_is_interpolated(kb: KnowledgeBase):
    risk = pml_risk(kb, "positive", 0.5, 80, False)
    assert risk.risk_per_1000 is None
    assert "72 months" in risk.band_note


def test_the_three_risk_factors_are_always_reported(kb: KnowledgeBase):
    risk = pml_risk(kb, "positive", None, 30, True)
    assert [(f.factor.split()[0], f.applies) for f in risk.risk_factors] == [
        ("anti-JCV", True),
        ("treatment", True),
        ("prior", True),
    ]
    none = pml_risk(kb, "negative", None, 3, False)
    assert [f.applies for f in none.risk_factors] == [False, False, False]


def test_higher_risk_means_mri_every_3_months(kb: KnowledgeBase):
    assert pml_risk(kb, "positive", 2.0, 30, False).mri_interval_months == 3
    assert pml_risk(kb, "positive", 1.0, 30, False).mri_interval_months == 12


def test_retest_every_6_months_while_negative(kb: KnowledgeBase):
    risk = pml_risk(kb, "negative", None, 10, False, last_jcv_test=date(2026, 5, 31))
    assert risk.retest_due == date(2026, 11, 30)
    assert pml_risk(kb, "positive", 2.0, 30, False).retest_due is None


def test_the_risk_report_dates_the_retest_from_the_last_valid_negative_test(kb: KnowledgeBase):
    """The same date as the monitoring list and the check (one source of truth, §6)."""
    state = make_state(
        administrations=doses("natalizumab", "2026-01-05", "2026-02-02", "2026-03-02"),
        labs=[lab("jcv_antibody", "negative", "2025-05-10")],
    )
    risk = pml_risk_from_state(kb, state, date(2026, 3, 20))
    assert risk.retest_due == date(2025, 11, 10)
    assert risk.retest_interval_months == 6


def test_low_index_retest_after_two_years_without_prior_immunosuppressant(kb: KnowledgeBase):
    assert pml_risk(kb, "positive", 1.0, 24, False).retest_interval_months == 6
    assert pml_risk(kb, "positive", 1.0, 12, False).retest_interval_months is None


def test_the_extended_interval_note_is_included(kb: KnowledgeBase):
    assert "off-label" in pml_risk(kb, "negative", None, 1, False).extended_interval_note


def test_from_a_patient_state_exposure_counts_months_from_the_first_infusion(kb: KnowledgeBase):
    state = make_state(
        administrations=doses("natalizumab", "2024-01-15", "2026-11-10"),
        labs=[lab("jcv_antibody", "positive", "2026-06-01"), lab("jcv_index", 0.9, "2026-06-01")],
        therapies=[{"agent": "azathioprine", "start": "2018-01-01", "end": "2020-01-01"}],
    )
    risk = pml_risk_from_state(kb, state, date(2026, 11, 24))
    assert risk.months_exposed == 34
    assert risk.prior_immunosuppressant is True
    assert risk.risk_per_1000 == 12


def test_a_sample_after_ivig_is_not_used(kb: KnowledgeBase):
    state = make_state(
        administrations=doses("natalizumab", "2026-01-05"),
        labs=[
            lab("jcv_antibody", "negative", "2026-02-01"),
            lab("jcv_antibody", "positive", "2026-06-01"),
        ],
        procedures=[{"procedure": "ivig", "date": "2026-05-01"}],
    )
    risk = pml_risk_from_state(kb, state, date(2026, 6, 10))
    assert risk.jcv_status == "negative"
    assert risk.invalid_sample is not None
