"""Pre-infusion check specification (clinical-decisions §5).

Each rule has a row where it fires and the nearest row where it does not, citing its
source. A row reads: agent, date, profile and the patient-state fields that matter ->
whether rule ``rule`` appears with severity ``severity`` (``None``: must not appear).
Every other part of the record is complete, so only the rule under test can fire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.safety import CheckRequest, check
from msinfuse.errors import InvalidInput
from tests.factories import anti_cd20_screening, doses, lab, make_state

D = date(2026, 11, 24)


def _natalizumab_ok() -> dict[str, Any]:
    """A natalizumab patient on treatment with everything current."""
    return {
        "labs": [
            lab("jcv_antibody", "negative", date(2026, 9, 1)),
            lab("cbc", "normal", date(2025, 11, 1)),
        ],
        "administrations": doses("natalizumab", date(2025, 12, 1), date(2026, 10, 27), dose_mg=300),
        "authorizations": [{"program": "TOUCH", "date": "2026-08-01"}],
        "procedures": [{"procedure": "mri_brain", "date": "2025-11-15"}],
    }


def _alemtuzumab_first(day: date = D) -> dict[str, Any]:
    return {
        "labs": [
            lab("cbc", "normal", day),
            lab("creatinine", 0.8, day),
            lab("urinalysis", "normal", day),
            lab("tsh", 1.5, day),
            lab("vzv_igg", "positive", date(2026, 1, 1)),
            lab("tb_igra", "negative", date(2026, 10, 1)),
            lab("hiv", "negative", date(2026, 10, 1)),
        ],
    }


def _mitoxantrone_ok(day: date = D) -> dict[str, Any]:
    return {
        "weight_kg": 70,
        "height_cm": 170,
        "childbearing_potential": False,
        "ms_course": "SPMS-active",
        "labs": [
            lab("lvef", 60, day),
            lab("neutrophils", 2000, day),
            lab("platelets", 250, day),
            lab("alt", 20, day, flag="normal"),
            lab("ast", 20, day, flag="normal"),
            lab("bilirubin", 0.5, day, flag="normal"),
        ],
        "procedures": [{"procedure": "ecg", "date": str(day)}],
    }


@dataclass(frozen=True)
class Row:
    why: str
    source: str
    agent: str
    state: dict[str, Any]
    rule: str
    severity: str | None
    on: date = D
    profile: str = "us"
    protocol: str = "standard"
    minutes: float | None = None
    message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


CD20 = {"labs": anti_cd20_screening(date(2026, 11, 1))}

ROWS = [
    # -------------------------------------------------------------- all agents
    Row(
        "an active infection holds the infusion",
        "S06 administration; S03 §2.2",
        "ocrelizumab",
        {**CD20, "conditions": [{"condition": "active_infection", "onset": "2026-11-20"}]},
        "infection.active",
        "hold",
    ),
    Row(
        "an infection resolved before the day does not hold",
        "S06 administration",
        "ocrelizumab",
        {
            **CD20,
            "conditions": [
                {"condition": "active_infection", "onset": "2026-11-01", "resolved": "2026-11-23"}
            ],
        },
        "infection.active",
        None,
    ),
    Row(
        "unknown pregnancy status before ublituximab is a warning",
        "S31 §2.2; S34",
        "ublituximab",
        {**CD20, "pregnant": None},
        "pregnancy.status",
        "warn",
    ),
    Row(
        "no pregnancy warning when the patient cannot become pregnant",
        "S31 §2.2",
        "ublituximab",
        {**CD20, "pregnant": None, "childbearing_potential": False},
        "pregnancy.status",
        None,
    ),
    Row(
        "a recorded pregnancy holds an agent that needs contraception",
        "S15; S41",
        "ocrelizumab",
        {**CD20, "pregnant": True},
        "pregnancy.status",
        "hold",
    ),
    Row(
        "ocrelizumab earlier than 20 weeks after the last dose is a hold (US)",
        "S06; clinical decisions §2",
        "ocrelizumab",
        {**CD20, "administrations": doses("ocrelizumab", "2025-11-10", "2025-11-24", "2026-05-11")},
        "spacing.too-early",
        "hold",
        on=date(2026, 9, 27),
        message="2026-09-28",
    ),
    Row(
        "ocrelizumab exactly 20 weeks after the last dose is allowed (US)",
        "S06; clinical decisions §2",
        "ocrelizumab",
        {**CD20, "administrations": doses("ocrelizumab", "2025-11-10", "2025-11-24", "2026-05-11")},
        "spacing.too-early",
        None,
        on=date(2026, 9, 28),
    ),
    Row(
        "ocrelizumab earlier than 5 months after the last dose is a hold (EU)",
        "S19 §4.2",
        "ocrelizumab",
        {**CD20, "administrations": doses("ocrelizumab", "2025-11-10", "2025-11-24", "2026-05-11")},
        "spacing.too-early",
        "hold",
        on=date(2026, 10, 10),
        profile="eu",
        message="2026-10-11",
    ),
    Row(
        "ocrelizumab 5 months after the last dose is allowed (EU)",
        "S19 §4.2",
        "ocrelizumab",
        {**CD20, "administrations": doses("ocrelizumab", "2025-11-10", "2025-11-24", "2026-05-11")},
        "spacing.too-early",
        None,
        on=date(2026, 10, 11),
        profile="eu",
    ),
    Row(
        "the second ublituximab dose before day 15 is a warning",
        "S33; clinical decisions §2",
        "ublituximab",
        {**CD20, "administrations": doses("ublituximab", "2026-11-12")},
        "spacing.too-early",
        "warn",
    ),
    Row(
        "natalizumab less than 3 weeks after the last dose is a hold (policy)",
        "MSINFUSE-POLICY; DRUGS-NTZ §2.1",
        "natalizumab",
        {**_natalizumab_ok(), "administrations": doses("natalizumab", "2025-12-01", "2026-11-04")},
        "spacing.too-early",
        "hold",
        message="policy",
    ),
    Row(
        "natalizumab 3 weeks after the last dose is allowed",
        "MSINFUSE-POLICY",
        "natalizumab",
        {**_natalizumab_ok(), "administrations": doses("natalizumab", "2025-12-01", "2026-11-03")},
        "spacing.too-early",
        None,
    ),
    Row(
        "an alemtuzumab course before 12 months after the last dose of course 1 is a hold",
        "HL-LEM-2014 §2.1; clinical decisions §3",
        "alemtuzumab",
        {
            **_alemtuzumab_first(),
            "administrations": doses("alemtuzumab", *[f"2025-11-{d}" for d in range(25, 30)]),
        },
        "spacing.too-early",
        "hold",
        message="2026-11-29",
    ),
    Row(
        "an alemtuzumab course 12 months after the last dose of course 1 is allowed",
        "HL-LEM-2014 §2.1",
        "alemtuzumab",
        {
            **_alemtuzumab_first(),
            "administrations": doses("alemtuzumab", *[f"2025-11-{d}" for d in range(20, 25)]),
        },
        "spacing.too-early",
        None,
    ),
    Row(
        "mitoxantrone that would pass 140 mg/m2 is a hold (US)",
        "GH-MITO; clinical decisions §3",
        "mitoxantrone",
        {**_mitoxantrone_ok(), "prior_cumulative_mg_per_m2": {"mitoxantrone": 132}},
        "spacing.limit",
        "hold",
        message="140",
    ),
    Row(
        "mitoxantrone reaching exactly 140 mg/m2 is allowed (US)",
        "GH-MITO; clinical decisions §3",
        "mitoxantrone",
        {**_mitoxantrone_ok(), "prior_cumulative_mg_per_m2": {"mitoxantrone": 128}},
        "spacing.limit",
        None,
    ),
    Row(
        "mitoxantrone that would pass 72 mg/m2 is a hold (EU)",
        "RXR-MITO-EU; clinical decisions §3",
        "mitoxantrone",
        {
            **_mitoxantrone_ok(),
            "ms_course": "RRMS",
            "prior_cumulative_mg_per_m2": {"mitoxantrone": 61},
        },
        "spacing.limit",
        "hold",
        profile="eu",
    ),
    Row(
        "mitoxantrone without height and weight cannot check the limit",
        "clinical decisions §3",
        "mitoxantrone",
        {**_mitoxantrone_ok(), "weight_kg": None},
        "spacing.bsa-missing",
        "warn",
    ),
    Row(
        "natalizumab is off-label for PPMS (warning)",
        "DM-NTZ §1",
        "natalizumab",
        {**_natalizumab_ok(), "ms_course": "PPMS"},
        "indication.off-label-course",
        "warn",
    ),
    Row(
        "natalizumab is on-label for active SPMS in the US",
        "DM-NTZ §1",
        "natalizumab",
        {**_natalizumab_ok(), "ms_course": "SPMS-active"},
        "indication.off-label-course",
        None,
    ),
    Row(
        "natalizumab is not on-label for active SPMS in the EU",
        "SMPC-NTZ-IV §4.1",
        "natalizumab",
        {**_natalizumab_ok(), "ms_course": "SPMS-active"},
        "indication.off-label-course",
        "warn",
        profile="eu",
    ),
    Row(
        "ublituximab is off-label for PPMS",
        "S31 §1",
        "ublituximab",
        {**CD20, "ms_course": "PPMS"},
        "indication.off-label-course",
        "warn",
    ),
    Row(
        "ocrelizumab is on-label for PPMS in the US",
        "S02 §1",
        "ocrelizumab",
        {**CD20, "ms_course": "PPMS"},
        "indication.off-label-course",
        None,
    ),
    Row(
        "rituximab is always off-label in MS",
        "S61; clinical decisions §3",
        "rituximab",
        {**CD20},
        "indication.off-label-course",
        "warn",
    ),
    Row(
        "an unrecorded MS course is a finding",
        "clinical decisions §5",
        "ocrelizumab",
        {**CD20, "ms_course": None},
        "indication.course-missing",
        "warn",
    ),
    Row(
        "every later dose is held after a grade 4 reaction",
        "S04; clinical decisions §4",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "administrations": doses("natalizumab", "2025-12-01")
            + doses("natalizumab", "2026-10-27", grade=4),
        },
        "reaction.discontinued",
        "hold",
    ),
    Row(
        "a grade 3 reaction does not discontinue the agent",
        "clinical decisions §4",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "administrations": doses("natalizumab", "2025-12-01")
            + doses("natalizumab", "2026-10-27", grade=3),
        },
        "reaction.discontinued",
        None,
    ),
    Row(
        "hypersensitivity to the agent holds",
        "OLD-NTZ-HL §4",
        "natalizumab",
        {**_natalizumab_ok(), "conditions": [{"condition": "hypersensitivity:natalizumab"}]},
        "hypersensitivity.history",
        "hold",
    ),
    Row(
        "hypersensitivity to another agent does not hold",
        "OLD-NTZ-HL §4",
        "natalizumab",
        {**_natalizumab_ok(), "conditions": [{"condition": "hypersensitivity:ocrelizumab"}]},
        "hypersensitivity.history",
        None,
    ),
    Row(
        "PML is a natalizumab contraindication",
        "OLD-NTZ-HL §4; EPI-TYS §2",
        "natalizumab",
        {**_natalizumab_ok(), "conditions": [{"condition": "pml", "onset": "2026-01-01"}]},
        "contraindication.pml",
        "hold",
    ),
    Row(
        "under 18 is a natalizumab contraindication in the EU",
        "EPI-TYS §2",
        "natalizumab",
        {**_natalizumab_ok(), "birth_date": "2010-01-01"},
        "contraindication.under_18",
        "hold",
        profile="eu",
    ),
    Row(
        "under 18 is a warning (adults-only indication) in the US",
        "DM-NTZ §1",
        "natalizumab",
        {**_natalizumab_ok(), "birth_date": "2010-01-01"},
        "age.adult",
        "warn",
    ),
    Row(
        "an unrecorded birth date is a finding",
        "clinical decisions §5",
        "natalizumab",
        {**_natalizumab_ok(), "birth_date": None},
        "age.missing",
        "warn",
    ),
    Row(
        "HIV infection is an alemtuzumab contraindication",
        "ISI-LEM; EPI-LEM §2",
        "alemtuzumab",
        {**_alemtuzumab_first(), "conditions": [{"condition": "hiv"}]},
        "contraindication.hiv",
        "hold",
    ),
    Row(
        "a history of stroke is an alemtuzumab contraindication in the EU",
        "EPI-LEM §2",
        "alemtuzumab",
        {**_alemtuzumab_first(), "conditions": [{"condition": "stroke", "onset": "2019-01-01"}]},
        "contraindication.stroke",
        "hold",
        profile="eu",
    ),
    Row(
        "a history of stroke is not a US alemtuzumab contraindication",
        "ISI-LEM",
        "alemtuzumab",
        {**_alemtuzumab_first(), "conditions": [{"condition": "stroke", "onset": "2019-01-01"}]},
        "contraindication.stroke",
        None,
    ),
    # "current" versus "history of" (clinical decisions §5)
    Row(
        "a resolved PML still contraindicates natalizumab (US: have or have had PML)",
        "OLD-NTZ-HL §4; clinical decisions §5",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "conditions": [{"condition": "pml", "onset": "2019-03-01", "resolved": "2020-01-15"}],
        },
        "contraindication.pml",
        "hold",
        message="resolved 2020-01-15",
    ),
    Row(
        "a resolved PML still contraindicates natalizumab in the EU",
        "EPI-TYS §2; NTZ-CH; clinical decisions §5",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "conditions": [{"condition": "pml", "onset": "2019-03-01", "resolved": "2020-01-15"}],
        },
        "contraindication.pml",
        "hold",
        profile="eu",
    ),
    Row(
        "a stroke in 2020, resolved, contraindicates alemtuzumab in the EU",
        "EPI-LEM §2; LEM-BR; clinical decisions §5",
        "alemtuzumab",
        {
            **_alemtuzumab_first(),
            "conditions": [
                {"condition": "stroke", "onset": "2020-05-01", "resolved": "2020-06-01"}
            ],
        },
        "contraindication.stroke",
        "hold",
        profile="eu",
    ),
    Row(
        "a resolved cervicocephalic arterial dissection contraindicates alemtuzumab in the EU",
        "EPI-LEM §2; LEM-BR",
        "alemtuzumab",
        {
            **_alemtuzumab_first(),
            "conditions": [
                {
                    "condition": "arterial_dissection",
                    "onset": "2021-02-01",
                    "resolved": "2021-04-01",
                }
            ],
        },
        "contraindication.arterial_dissection",
        "hold",
        profile="eu",
    ),
    Row(
        "a past myocardial infarction or angina contraindicates alemtuzumab in the EU",
        "EPI-LEM §2; LEM-BR",
        "alemtuzumab",
        {
            **_alemtuzumab_first(),
            "conditions": [
                {
                    "condition": "myocardial_infarction_or_angina",
                    "onset": "2018-09-01",
                    "resolved": "2018-10-01",
                }
            ],
        },
        "contraindication.myocardial_infarction_or_angina",
        "hold",
        profile="eu",
    ),
    Row(
        "a resolved stroke is not a US alemtuzumab contraindication (US §4 not confirmed)",
        "ISI-LEM; label source check §2",
        "alemtuzumab",
        {
            **_alemtuzumab_first(),
            "conditions": [
                {"condition": "stroke", "onset": "2020-05-01", "resolved": "2020-06-01"}
            ],
        },
        "contraindication.stroke",
        None,
    ),
    Row(
        "hypertension brought under control no longer contraindicates alemtuzumab (current wording)",
        "EPI-LEM §2",
        "alemtuzumab",
        {
            **_alemtuzumab_first(),
            "conditions": [
                {
                    "condition": "uncontrolled_hypertension",
                    "onset": "2025-01-01",
                    "resolved": "2025-06-01",
                }
            ],
        },
        "contraindication.uncontrolled_hypertension",
        None,
        profile="eu",
    ),
    Row(
        "uncontrolled hypertension on the day contraindicates alemtuzumab in the EU",
        "EPI-LEM §2",
        "alemtuzumab",
        {
            **_alemtuzumab_first(),
            "conditions": [{"condition": "uncontrolled_hypertension", "onset": "2026-10-01"}],
        },
        "contraindication.uncontrolled_hypertension",
        "hold",
        profile="eu",
    ),
    Row(
        "a malignancy in remission is not an active malignancy (EU ublituximab, current wording)",
        "S36 §4.3",
        "ublituximab",
        {
            **CD20,
            "conditions": [
                {"condition": "active_malignancy", "onset": "2015-01-01", "resolved": "2016-01-01"}
            ],
        },
        "contraindication.active_malignancy",
        None,
        profile="eu",
    ),
    Row(
        "an active malignancy contraindicates ublituximab in the EU",
        "S36 §4.3",
        "ublituximab",
        {**CD20, "conditions": [{"condition": "active_malignancy", "onset": "2026-09-01"}]},
        "contraindication.active_malignancy",
        "hold",
        profile="eu",
    ),
    Row(
        "a past life-threatening ocrelizumab reaction stays a contraindication once resolved",
        "S02 §4",
        "ocrelizumab",
        {
            **CD20,
            "conditions": [
                {
                    "condition": "life_threatening_irr:ocrelizumab",
                    "onset": "2025-06-01",
                    "resolved": "2025-06-02",
                }
            ],
        },
        "contraindication.life_threatening_irr",
        "hold",
    ),
    Row(
        "a resolved hypersensitivity reaction to the agent still holds",
        "OLD-NTZ-HL §4",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "conditions": [
                {
                    "condition": "hypersensitivity:natalizumab",
                    "onset": "2025-12-01",
                    "resolved": "2025-12-02",
                }
            ],
        },
        "hypersensitivity.history",
        "hold",
    ),
    Row(
        "EU: mitoxantrone is not started after earlier mitoxantrone treatment",
        "RXR-MITO-EU §4.1",
        "mitoxantrone",
        {
            **_mitoxantrone_ok(),
            "ms_course": "RRMS",
            "therapies": [{"agent": "mitoxantrone", "start": "2015-01-01", "end": "2016-01-01"}],
        },
        "contraindication.prior_mitoxantrone",
        "hold",
        profile="eu",
    ),
    Row(
        "EU: a prior cumulative mitoxantrone dose on record means it must not be initiated",
        "RXR-MITO-EU §4.2; label source check §1; clinical decisions §5",
        "mitoxantrone",
        {
            **_mitoxantrone_ok(),
            "ms_course": "RRMS",
            "prior_cumulative_mg_per_m2": {"mitoxantrone": 36},
        },
        "contraindication.prior_mitoxantrone",
        "hold",
        profile="eu",
        message="prior cumulative dose of 36 mg/m2",
    ),
    Row(
        "EU: mitoxantrone infusions before the current plan count as earlier treatment",
        "RXR-MITO-EU §4.2",
        "mitoxantrone",
        {
            **_mitoxantrone_ok(),
            "ms_course": "RRMS",
            "administrations": doses("mitoxantrone", "2019-01-10", dose_mg=21.8),
            "plans": [{"agent": "mitoxantrone", "start": "2026-11-24"}],
        },
        "contraindication.prior_mitoxantrone",
        "hold",
        profile="eu",
    ),
    Row(
        "US: a prior cumulative mitoxantrone dose is counted against 140 mg/m2, not a contraindication",
        "NOV-LBL-COPY; clinical decisions §3",
        "mitoxantrone",
        {**_mitoxantrone_ok(), "prior_cumulative_mg_per_m2": {"mitoxantrone": 36}},
        "contraindication.prior_mitoxantrone",
        None,
    ),
    Row(
        "EU: later doses of a course begun after earlier mitoxantrone are flagged",
        "RXR-MITO-EU §4.2",
        "mitoxantrone",
        {
            **_mitoxantrone_ok(),
            "ms_course": "RRMS",
            "prior_cumulative_mg_per_m2": {"mitoxantrone": 24},
            "administrations": doses("mitoxantrone", "2026-08-24", dose_mg=21.8),
        },
        "spacing.prior-treatment",
        "warn",
        profile="eu",
    ),
    # ------------------------------------------------------------- REMS and monitored tasks
    Row(
        "US alemtuzumab without a LEMTRADA REMS enrolment on file is a hold",
        "DM-LEM boxed warning; LEM-HL-2014; clinical decisions §5 (missing data is a finding)",
        "alemtuzumab",
        _alemtuzumab_first(),
        "rems.enrolment",
        "hold",
        message="LEMTRADA REMS",
    ),
    Row(
        "a LEMTRADA REMS authorization on file satisfies the enrolment check",
        "DM-LEM boxed warning",
        "alemtuzumab",
        {
            **_alemtuzumab_first(),
            "authorizations": [{"program": "LEMTRADA-REMS", "date": "2026-11-01"}],
        },
        "rems.enrolment",
        None,
    ),
    Row(
        "the EU profile has no REMS enrolment check",
        "EPI-LEM; clinical decisions §1",
        "alemtuzumab",
        _alemtuzumab_first(),
        "rems.enrolment",
        None,
        profile="eu",
    ),
    Row(
        "the anti-JCV retest is dated from the last negative test, as on the monitoring list",
        "MIMS-SG-NTZ; clinical decisions §6",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "labs": [
                lab("jcv_antibody", "negative", date(2025, 5, 10)),
                lab("cbc", "normal", date(2025, 11, 1)),
            ],
        },
        "natalizumab.jcv-status",
        "warn",
        message="due 2025-11-10",
    ),
    Row(
        "a TYRUKO REMS authorization counts for re-authorization",
        "TYR-APPR; R2",
        "natalizumab",
        {**_natalizumab_ok(), "authorizations": [{"program": "TYRUKO-REMS", "date": "2026-08-01"}]},
        "natalizumab.touch-authorization",
        None,
    ),
    Row(
        "a TOUCH authorization older than the 6-month re-authorization item holds",
        "PDR-NTZ; R2",
        "natalizumab",
        {**_natalizumab_ok(), "authorizations": [{"program": "TOUCH", "date": "2026-05-01"}]},
        "natalizumab.touch-authorization",
        "hold",
        message="re-authorization was due 2026-11-01",
    ),
    # ------------------------------------------------------------- clinic policies (unsettled)
    Row(
        "natalizumab 3 months after the last ocrelizumab dose is a warning (clinic washout 6 months)",
        "MSINFUSE-POLICY switching; MIMS-SG-NTZ precautions",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "administrations": doses("ocrelizumab", "2026-08-24", dose_mg=600),
            "authorizations": [{"program": "TOUCH", "date": "2026-11-01"}],
            "procedures": [{"procedure": "mri_brain", "date": "2026-11-01"}],
            "labs": [
                lab("jcv_antibody", "negative", date(2026, 11, 1)),
                lab("cbc", "normal", date(2026, 11, 1)),
            ],
        },
        "switch.anti-cd20-washout",
        "warn",
        message="rests on a policy value",
    ),
    Row(
        "natalizumab 7 months after the last anti-CD20 dose needs no washout warning",
        "MSINFUSE-POLICY switching",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "administrations": doses("rituximab", "2026-04-20", dose_mg=500),
            "authorizations": [{"program": "TOUCH", "date": "2026-11-01"}],
        },
        "switch.anti-cd20-washout",
        None,
    ),
    Row(
        "a patient already on natalizumab after the switch has no washout warning",
        "MSINFUSE-POLICY switching",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "therapies": [{"agent": "ocrelizumab", "start": "2024-01-01", "end": "2025-11-01"}],
        },
        "switch.anti-cd20-washout",
        None,
    ),
    Row(
        "an IgG older than the 6-month immunoglobulin item before a maintenance dose is a policy warning",
        "MSINFUSE-POLICY anti-CD20 immunoglobulins; S03 §5.4",
        "ocrelizumab",
        {
            "labs": [*anti_cd20_screening(date(2025, 10, 20)), lab("igg", 9, date(2026, 3, 1))],
            "administrations": doses("ocrelizumab", "2025-11-03", "2025-11-17", "2026-04-20"),
        },
        "screening.immunoglobulins-before-dose",
        "warn",
        on=date(2026, 10, 5),
        message="rests on a policy value",
    ),
    Row(
        "a recent IgG before a maintenance dose satisfies the immunoglobulin policy",
        "MSINFUSE-POLICY anti-CD20 immunoglobulins",
        "ocrelizumab",
        {
            "labs": [*anti_cd20_screening(date(2025, 10, 20)), lab("igg", 9, date(2026, 9, 1))],
            "administrations": doses("ocrelizumab", "2025-11-03", "2025-11-17", "2026-04-20"),
        },
        "screening.immunoglobulins-before-dose",
        None,
        on=date(2026, 10, 5),
    ),
    # ------------------------------------------------------------- pregnancy and breastfeeding
    Row(
        "a breastfeeding patient is a hold before alemtuzumab (EU: not during a course and 4 months after)",
        "EPI-LEM §2; LEM-MIMS-MY §4.6; label source check §2",
        "alemtuzumab",
        {**_alemtuzumab_first(), "breastfeeding": True},
        "breastfeeding",
        "hold",
        profile="eu",
        message="4 months",
    ),
    Row(
        "a breastfeeding patient is a hold before alemtuzumab (US, secondary sources)",
        "CIGNA-ALEM; LACTMED-LEM; label source check §2",
        "alemtuzumab",
        {**_alemtuzumab_first(), "breastfeeding": True},
        "breastfeeding",
        "hold",
    ),
    Row(
        "a patient who does not breastfeed has no breastfeeding finding",
        "EPI-LEM §2",
        "alemtuzumab",
        {**_alemtuzumab_first(), "breastfeeding": False},
        "breastfeeding",
        None,
        profile="eu",
    ),
    Row(
        "an unrecorded breastfeeding status before alemtuzumab is a reminder to ask",
        "EPI-LEM §2; clinical decisions §5 (missing data is a finding)",
        "alemtuzumab",
        {**_alemtuzumab_first(), "breastfeeding": None},
        "breastfeeding.status",
        "info",
        profile="eu",
    ),
    Row(
        "breastfeeding is allowed with ocrelizumab under the EU SmPC",
        "S13 §SmPC 4.6",
        "ocrelizumab",
        {**CD20, "breastfeeding": True},
        "breastfeeding",
        "info",
        profile="eu",
    ),
    Row(
        "breastfeeding without an established rule for the agent is left to the prescriber",
        "clinical decisions §1, §5",
        "natalizumab",
        {**_natalizumab_ok(), "breastfeeding": True},
        "breastfeeding",
        "warn",
    ),
    Row(
        "a pregnant patient before EU alemtuzumab is a hold naming the 4-month contraception period",
        "EPI-LEM §2",
        "alemtuzumab",
        {**_alemtuzumab_first(), "pregnant": True},
        "pregnancy.status",
        "hold",
        profile="eu",
        message="4 months after the last dose",
    ),
    Row(
        "a pregnant patient before rituximab cites the label's embryo-fetal toxicity",
        "S67 ISI; S56",
        "rituximab",
        {**CD20, "pregnant": True},
        "pregnancy.status",
        "hold",
        message="Embryo-fetal toxicity",
    ),
    # ------------------------------------------------------------- labs
    Row(
        "HBsAg positive holds an anti-CD20 dose",
        "S02 §4; S03 §2.1",
        "ocrelizumab",
        {
            "labs": [
                *anti_cd20_screening(date(2026, 11, 1)),
                lab("hbsag", "positive", date(2026, 11, 2)),
            ]
        },
        "labs.hbsag-positive",
        "hold",
    ),
    Row(
        "anti-HBc positive with HBsAg negative is a warning to involve hepatology",
        "S03 §2.1",
        "ocrelizumab",
        {
            "labs": [
                *anti_cd20_screening(date(2026, 11, 1)),
                lab("anti_hbc", "positive", date(2026, 11, 2)),
            ]
        },
        "labs.anti-hbc-positive",
        "warn",
    ),
    Row(
        "HBsAg negative does not hold",
        "S03 §2.1",
        "ocrelizumab",
        {**CD20},
        "labs.hbsag-positive",
        None,
    ),
    Row(
        "LVEF below 50% holds mitoxantrone",
        "GH-MITO; FDA-MITO-2008",
        "mitoxantrone",
        {**_mitoxantrone_ok(), "labs": [*_mitoxantrone_ok()["labs"], lab("lvef", 49, D)]},
        "labs.lvef-below-50",
        "hold",
    ),
    Row(
        "LVEF of 50% does not hold mitoxantrone",
        "GH-MITO; FDA-MITO-2008",
        "mitoxantrone",
        {**_mitoxantrone_ok(), "labs": [lab("lvef", 50, D), *_mitoxantrone_ok()["labs"][1:]]},
        "labs.lvef-below-50",
        None,
    ),
    Row(
        "neutrophils below 1,500/uL hold mitoxantrone",
        "PFZ-MITO; DM-MITO",
        "mitoxantrone",
        {**_mitoxantrone_ok(), "labs": [*_mitoxantrone_ok()["labs"], lab("neutrophils", 1400, D)]},
        "labs.neutrophils-below-1500",
        "hold",
    ),
    Row(
        "neutrophils of 1,500/uL do not hold mitoxantrone",
        "PFZ-MITO; DM-MITO",
        "mitoxantrone",
        {**_mitoxantrone_ok(), "labs": [*_mitoxantrone_ok()["labs"], lab("neutrophils", 1500, D)]},
        "labs.neutrophils-below-1500",
        None,
    ),
    Row(
        "abnormal liver tests hold mitoxantrone",
        "GH-MITO; MEDALG-MITO",
        "mitoxantrone",
        {
            **_mitoxantrone_ok(),
            "labs": [*_mitoxantrone_ok()["labs"], lab("alt", 140, D, flag="high")],
        },
        "labs.alt-abnormal",
        "hold",
    ),
    Row(
        "a positive pregnancy test holds mitoxantrone",
        "GH-MITO",
        "mitoxantrone",
        {
            **_mitoxantrone_ok(),
            "childbearing_potential": True,
            "labs": [*_mitoxantrone_ok()["labs"], lab("hcg", "positive", D)],
        },
        "labs.hcg-positive",
        "hold",
    ),
    Row(
        "an LVEF lower than the previous one is a warning",
        "GH-MITO; clinical decisions C8",
        "mitoxantrone",
        {
            **_mitoxantrone_ok(),
            "labs": [lab("lvef", 62, date(2026, 8, 1)), *_mitoxantrone_ok()["labs"]],
        },
        "mitoxantrone.lvef-fall",
        "warn",
    ),
    Row(
        "a stable or higher LVEF is not a warning",
        "GH-MITO",
        "mitoxantrone",
        {
            **_mitoxantrone_ok(),
            "labs": [lab("lvef", 58, date(2026, 8, 1)), *_mitoxantrone_ok()["labs"]],
        },
        "mitoxantrone.lvef-fall",
        None,
    ),
    Row(
        "no varicella immunity holds alemtuzumab",
        "EPI-LEM §2",
        "alemtuzumab",
        {"labs": [*_alemtuzumab_first()["labs"], lab("vzv_igg", "negative", date(2026, 11, 1))]},
        "labs.vzv-negative",
        "hold",
    ),
    Row(
        "varicella vaccination at least 6 weeks earlier clears the varicella hold",
        "EPI-LEM §2",
        "alemtuzumab",
        {
            "labs": [*_alemtuzumab_first()["labs"], lab("vzv_igg", "negative", date(2026, 8, 1))],
            "vaccinations": [{"vaccine": "varicella", "live": True, "date": "2026-09-01"}],
        },
        "labs.vzv-negative",
        None,
    ),
    # ------------------------------------------------------------- screening
    Row(
        "no hepatitis B screening before a first anti-CD20 dose is a hold",
        "S03 §2.1; clinical decisions §5",
        "ocrelizumab",
        {"labs": anti_cd20_screening(date(2026, 11, 1))[2:]},
        "screening.hbv-screening",
        "hold",
    ),
    Row(
        "hepatitis B screening within the window passes",
        "S03 §2.1",
        "ocrelizumab",
        {**CD20},
        "screening.hbv-screening",
        None,
    ),
    Row(
        "hepatitis B screening older than the 6-month window is a hold (policy window)",
        "MSINFUSE-POLICY; S03 §2.1",
        "ocrelizumab",
        {
            "labs": [
                *anti_cd20_screening(date(2026, 11, 1))[2:],
                lab("hbsag", "negative", "2026-05-01"),
                lab("anti_hbc", "negative", "2026-05-01"),
            ]
        },
        "screening.hbv-screening",
        "hold",
        message="policy",
    ),
    Row(
        "no immunoglobulins before a first rituximab dose is a hold (class policy)",
        "MSINFUSE-POLICY",
        "rituximab",
        {
            "labs": [
                x
                for x in anti_cd20_screening(date(2026, 11, 1))
                if x["test"] not in ("igg", "igm", "iga")
            ]
        },
        "screening.immunoglobulins",
        "hold",
    ),
    Row(
        "EU anti-CD20 screening is applied and flagged unconfirmed",
        "S03 §2.1 (US) applied to EU",
        "ublituximab",
        {"labs": anti_cd20_screening(date(2026, 11, 1))[2:]},
        "screening.hbv-screening",
        "hold",
        profile="eu",
        message="unconfirmed",
    ),
    Row(
        "alemtuzumab baseline labs older than 30 days hold the first course (US REMS)",
        "R3; R7",
        "alemtuzumab",
        _alemtuzumab_first(date(2026, 10, 24)),
        "screening.rems-baseline-labs",
        "hold",
    ),
    Row(
        "alemtuzumab baseline labs 30 days old pass (US REMS)",
        "R3; R7",
        "alemtuzumab",
        _alemtuzumab_first(date(2026, 10, 25)),
        "screening.rems-baseline-labs",
        None,
    ),
    Row(
        "monthly alemtuzumab labs not current before course 2 hold",
        "DM-LEM boxed warning",
        "alemtuzumab",
        {
            "labs": [
                lab("cbc", "normal", "2026-10-10"),
                lab("creatinine", 0.8, "2026-11-10"),
                lab("urinalysis", "normal", "2026-11-10"),
            ],
            "administrations": doses("alemtuzumab", *[f"2025-11-{d}" for d in range(17, 22)]),
        },
        "screening.monthly-labs-current",
        "hold",
    ),
    Row(
        "monthly alemtuzumab labs within a month pass before course 2",
        "DM-LEM boxed warning",
        "alemtuzumab",
        {
            "labs": [
                lab("cbc", "normal", "2026-11-10"),
                lab("creatinine", 0.8, "2026-11-10"),
                lab("urinalysis", "normal", "2026-11-10"),
            ],
            "administrations": doses("alemtuzumab", *[f"2025-11-{d}" for d in range(17, 22)]),
        },
        "screening.monthly-labs-current",
        None,
    ),
    Row(
        "an LVEF measured before the previous mitoxantrone dose is not enough",
        "GH-MITO; FDA-MITO-2008",
        "mitoxantrone",
        {
            **_mitoxantrone_ok(date(2026, 8, 1)),
            "administrations": doses("mitoxantrone", "2026-08-20", dose_mg=21.8),
        },
        "screening.lvef-before-each-dose",
        "hold",
    ),
    Row(
        "an LVEF measured since the previous mitoxantrone dose passes",
        "GH-MITO; FDA-MITO-2008",
        "mitoxantrone",
        {
            **_mitoxantrone_ok(),
            "administrations": doses("mitoxantrone", "2026-08-20", dose_mg=21.8),
        },
        "screening.lvef-before-each-dose",
        None,
    ),
    Row(
        "no pregnancy test before mitoxantrone in a patient who may become pregnant is a hold",
        "GH-MITO",
        "mitoxantrone",
        {**_mitoxantrone_ok(), "childbearing_potential": True},
        "screening.pregnancy-test-each-dose",
        "hold",
    ),
    Row(
        "no pregnancy test is needed when the patient cannot become pregnant",
        "GH-MITO",
        "mitoxantrone",
        {**_mitoxantrone_ok()},
        "screening.pregnancy-test-each-dose",
        None,
    ),
    Row(
        "no brain MRI before the first natalizumab dose is a hold",
        "OLD-NTZ-HL §5.1",
        "natalizumab",
        {
            "labs": [
                lab("jcv_antibody", "negative", "2026-11-01"),
                lab("cbc", "normal", "2026-11-01"),
            ],
            "authorizations": [{"program": "TOUCH", "date": "2026-11-01"}],
        },
        "screening.baseline-mri",
        "hold",
    ),
    Row(
        "an infection not excluded before a relapse course is a warning",
        "S73; S71",
        "methylprednisolone",
        {},
        "screening.infection-excluded",
        "warn",
    ),
    Row(
        "a recent urinalysis before a relapse course passes",
        "S73",
        "methylprednisolone",
        {"labs": [lab("urinalysis", "normal", "2026-11-23")]},
        "screening.infection-excluded",
        None,
    ),
    # ------------------------------------------------------------- vaccines
    Row(
        "a live vaccine less than 4 weeks before ocrelizumab holds (US)",
        "S03 §2.1",
        "ocrelizumab",
        {**CD20, "vaccinations": [{"vaccine": "MMR", "live": True, "date": "2026-10-28"}]},
        "vaccines.live",
        "hold",
    ),
    Row(
        "a live vaccine 4 weeks before ocrelizumab passes (US)",
        "S03 §2.1",
        "ocrelizumab",
        {**CD20, "vaccinations": [{"vaccine": "MMR", "live": True, "date": "2026-10-27"}]},
        "vaccines.live",
        None,
    ),
    Row(
        "a non-live vaccine less than 2 weeks before ocrelizumab is a warning (US)",
        "S03 §2.1",
        "ocrelizumab",
        {**CD20, "vaccinations": [{"vaccine": "influenza", "live": False, "date": "2026-11-11"}]},
        "vaccines.non_live",
        "warn",
    ),
    Row(
        "a non-live vaccine 2 weeks before ocrelizumab passes (US)",
        "S03 §2.1",
        "ocrelizumab",
        {**CD20, "vaccinations": [{"vaccine": "influenza", "live": False, "date": "2026-11-10"}]},
        "vaccines.non_live",
        None,
    ),
    Row(
        "EU: a live vaccine 5 weeks before ocrelizumab holds under the older 6-week rule",
        "S16 (older wording), unconfirmed for EU",
        "ocrelizumab",
        {**CD20, "vaccinations": [{"vaccine": "MMR", "live": True, "date": "2026-10-20"}]},
        "vaccines.live",
        "hold",
        profile="eu",
        message="unconfirmed",
    ),
    Row(
        "a vaccine within 6 weeks before an alemtuzumab course is flagged",
        "EPI-LEM §2",
        "alemtuzumab",
        {
            **_alemtuzumab_first(),
            "vaccinations": [{"vaccine": "influenza", "live": False, "date": "2026-11-01"}],
        },
        "vaccines.non_live",
        "warn",
    ),
    # ------------------------------------------------------------- infusion rate
    Row(
        "methylprednisolone over less than 30 minutes holds",
        "S72; clinical decisions §4",
        "methylprednisolone",
        {"labs": [lab("urinalysis", "normal", "2026-11-23")]},
        "rate.minimum-duration",
        "hold",
        minutes=20,
    ),
    Row(
        "methylprednisolone over 30 minutes passes",
        "S72",
        "methylprednisolone",
        {"labs": [lab("urinalysis", "normal", "2026-11-23")]},
        "rate.minimum-duration",
        None,
        minutes=30,
    ),
    # ------------------------------------------------------------- ocrelizumab shorter protocol
    Row(
        "the shorter protocol is held after a grade 3 ocrelizumab reaction",
        "S09; S05; S08",
        "ocrelizumab",
        {
            **CD20,
            "administrations": doses("ocrelizumab", "2025-11-10", "2025-11-24")
            + doses("ocrelizumab", "2026-05-11", grade=3),
        },
        "ocrelizumab.shorter-protocol",
        "hold",
        protocol="shorter",
    ),
    Row(
        "the shorter protocol is eligible without a serious reaction",
        "S09; S05; S08",
        "ocrelizumab",
        {
            **CD20,
            "administrations": doses("ocrelizumab", "2025-11-10", "2025-11-24")
            + doses("ocrelizumab", "2026-05-11", grade=2),
        },
        "ocrelizumab.shorter-protocol",
        "info",
        protocol="shorter",
    ),
    Row(
        "the shorter protocol is held for an initial 300 mg infusion",
        "S07",
        "ocrelizumab",
        {**CD20},
        "ocrelizumab.shorter-protocol",
        "hold",
        protocol="shorter",
    ),
    # ------------------------------------------------------------- natalizumab
    Row(
        "another ongoing disease-modifying therapy holds natalizumab",
        "DM-NTZ §1 (monotherapy); EPI-TYS §2",
        "natalizumab",
        {**_natalizumab_ok(), "therapies": [{"agent": "fingolimod", "start": "2026-01-01"}]},
        "natalizumab.concomitant-therapy",
        "hold",
    ),
    Row(
        "a stopped disease-modifying therapy does not hold natalizumab",
        "DM-NTZ §1",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "therapies": [{"agent": "fingolimod", "start": "2020-01-01", "end": "2025-11-01"}],
        },
        "natalizumab.concomitant-therapy",
        None,
    ),
    Row(
        "no TOUCH authorization holds natalizumab (US)",
        "R1; OFDA-NTZ boxed warning",
        "natalizumab",
        {**_natalizumab_ok(), "authorizations": []},
        "natalizumab.touch-authorization",
        "hold",
    ),
    Row(
        "a TOUCH authorization older than 6 months holds natalizumab (US)",
        "PDR-NTZ; R2",
        "natalizumab",
        {**_natalizumab_ok(), "authorizations": [{"program": "TOUCH", "date": "2026-05-23"}]},
        "natalizumab.touch-authorization",
        "hold",
    ),
    Row(
        "a TOUCH authorization exactly 6 months old passes (US)",
        "PDR-NTZ; R2",
        "natalizumab",
        {**_natalizumab_ok(), "authorizations": [{"program": "TOUCH", "date": "2026-05-24"}]},
        "natalizumab.touch-authorization",
        None,
    ),
    Row(
        "TOUCH is not required under the EU profile",
        "EU SmPC (no TOUCH programme)",
        "natalizumab",
        {**_natalizumab_ok(), "authorizations": []},
        "natalizumab.touch-authorization",
        None,
        profile="eu",
    ),
    Row(
        "unknown anti-JCV status is a warning",
        "MIMS-SG-NTZ; clinical decisions §6",
        "natalizumab",
        {**_natalizumab_ok(), "labs": [lab("cbc", "normal", "2025-11-01")]},
        "natalizumab.jcv-status",
        "warn",
    ),
    Row(
        "a negative anti-JCV result older than 6 months is a warning",
        "MIMS-SG-NTZ; clinical decisions §6",
        "natalizumab",
        {**_natalizumab_ok(), "labs": [lab("jcv_antibody", "negative", "2026-05-23")]},
        "natalizumab.jcv-status",
        "warn",
    ),
    Row(
        "a negative anti-JCV result within 6 months passes",
        "MIMS-SG-NTZ; clinical decisions §6",
        "natalizumab",
        {**_natalizumab_ok(), "labs": [lab("jcv_antibody", "negative", "2026-05-24")]},
        "natalizumab.jcv-status",
        None,
    ),
    Row(
        "an anti-JCV sample within 2 weeks after plasma exchange is not valid",
        "MIMS-SG-NTZ; clinical decisions §6",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "procedures": [
                {"procedure": "mri_brain", "date": "2025-11-15"},
                {"procedure": "plasma_exchange", "date": "2026-08-20"},
            ],
        },
        "natalizumab.jcv-sample-invalid",
        "warn",
    ),
    Row(
        "an anti-JCV sample 2 weeks after plasma exchange is valid",
        "MIMS-SG-NTZ; clinical decisions §6",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "procedures": [
                {"procedure": "mri_brain", "date": "2025-11-15"},
                {"procedure": "plasma_exchange", "date": "2026-08-18"},
            ],
        },
        "natalizumab.jcv-sample-invalid",
        None,
    ),
    Row(
        "an anti-JCV sample within 6 months after IVIG is not valid",
        "MIMS-SG-NTZ; clinical decisions §6",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "procedures": [
                {"procedure": "mri_brain", "date": "2025-11-15"},
                {"procedure": "ivig", "date": "2026-04-01"},
            ],
        },
        "natalizumab.jcv-sample-invalid",
        "warn",
    ),
    Row(
        "higher PML risk (index above 1.5, more than 24 months) is a warning with the estimate",
        "UTD-PML; clinical decisions §6",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "labs": [
                lab("jcv_antibody", "positive", "2026-09-01"),
                lab("jcv_index", 2.0, "2026-09-01"),
            ],
            "administrations": doses("natalizumab", "2023-09-01", "2026-10-27"),
        },
        "natalizumab.pml-risk",
        "warn",
        message="8.8 per 1,000",
    ),
    Row(
        "a low-index anti-JCV-positive patient is reported for information",
        "UTD-PML; clinical decisions §6",
        "natalizumab",
        {
            **_natalizumab_ok(),
            "labs": [
                lab("jcv_antibody", "positive", "2026-09-01"),
                lab("jcv_index", 1.0, "2026-09-01"),
            ],
            "administrations": doses("natalizumab", "2023-09-01", "2026-10-27"),
        },
        "natalizumab.pml-risk",
        "info",
        message="1.1 per 1,000",
    ),
    Row(
        "no brain MRI on file for a natalizumab patient is a warning",
        "OLD-NTZ-HL §5.1",
        "natalizumab",
        {**_natalizumab_ok(), "procedures": []},
        "natalizumab.baseline-mri",
        "warn",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.why)
def test_check_rule(row: Row, kb: KnowledgeBase):
    state = make_state(**row.state)
    result = check(
        kb,
        state,
        CheckRequest(row.agent, row.on, row.profile, row.protocol, row.minutes),  # type: ignore[arg-type]
    )
    matching = [f for f in result.findings if f.rule == row.rule]
    if row.severity is None:
        assert matching == [], [f.message for f in matching]
        return
    assert matching, f"{row.rule} did not fire; got {[f.rule for f in result.findings]}"
    finding = matching[0]
    assert finding.severity == row.severity
    assert finding.source, "every finding names its source"
    if row.message:
        assert row.message in finding.message
    if row.severity == "hold":
        assert result.decision == "hold"


def test_an_infusion_recorded_after_the_check_date_is_refused(kb: KnowledgeBase):
    """Clinical decisions §5: administrations dated after the check date are bad input."""
    state = make_state(**{**CD20, "administrations": doses("ocrelizumab", "2026-12-01")})
    with pytest.raises(InvalidInput, match="after the check date"):
        check(kb, state, CheckRequest("ocrelizumab", D))


def test_an_infusion_on_the_check_date_itself_is_accepted(kb: KnowledgeBase):
    state = make_state(**{**CD20, "administrations": doses("ocrelizumab", D)})
    assert check(kb, state, CheckRequest("ocrelizumab", D)).infusion_number == 1


class TestDecisions:
    def test_a_complete_first_ocrelizumab_dose_is_go(self, kb: KnowledgeBase):
        result = check(kb, make_state(**CD20), CheckRequest("ocrelizumab", D))
        assert result.decision == "go", [
            (f.rule, f.message) for f in result.findings if f.severity != "info"
        ]

    def test_the_decision_is_caution_when_only_warnings(self, kb: KnowledgeBase):
        labs = [
            *anti_cd20_screening(date(2026, 11, 1)),
            lab("anti_hbc", "positive", date(2026, 11, 2)),
        ]
        result = check(kb, make_state(labs=labs), CheckRequest("ocrelizumab", D))
        assert result.decision == "caution"

    def test_every_check_names_its_label_revisions_and_is_decision_support(self, kb: KnowledgeBase):
        result = check(kb, make_state(**CD20), CheckRequest("ublituximab", D, "eu"))
        assert result.labels
        assert all(label.profile == "eu" for label in result.labels)
        assert "Decision support" in result.decision_support

    def test_a_hold_resting_on_a_policy_value_says_so(self, kb: KnowledgeBase):
        state = make_state(
            **{
                **_natalizumab_ok(),
                "administrations": doses("natalizumab", "2025-12-01", "2026-11-10"),
            }
        )
        result = check(kb, state, CheckRequest("natalizumab", D))
        hold = next(f for f in result.findings if f.rule == "spacing.too-early")
        assert "policy" in hold.message
