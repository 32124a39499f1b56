"""The demo clinic's generator parameters: every number the generator uses that is *not* a
clinical fact.

Clinical facts (doses, intervals, rates, observation times, monitoring cadences, reaction
incidences, the PML index threshold, lab limits) come only from the knowledge base. What is
left is how the synthetic clinic is composed: the visit mix, how often doses are late, how
many monitoring items are left overdue, the ranges synthetic lab values are drawn from,
name syllables. Those choices live here, in one object, with the source of each; the
summary of every build repeats them (``DemoParameters.describe()``) and
``docs/demo-clinic.md`` documents them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Where each parameter comes from (printed with every build and in the docs).
SPEC = "infusion-scheduling reference §7.2 (visit catalogue: share of visits)"
SPEC_REQ = "infusion-scheduling reference §7.4 (requests: windows, day tolerance)"
SPEC_SIZE = "infusion-scheduling reference §7.5 (size S: opening hours)"
DEMO = "demo assumption (not a clinical fact; change freely)"


@dataclass(frozen=True, slots=True)
class DemoParameters:
    """Everything the generator may vary that is not a clinical fact.

    Visit shares are *shares of visits* (spec §7.2). The generator turns them into shares of
    patients by dividing by each agent's visits per patient-year, which it computes from the
    knowledge-base regimen (natalizumab every 4 weeks, anti-CD20 every 24 weeks...): see
    :func:`msinfuse.services.demo_model.patient_mix`.
    """

    # ------------------------------------------------------------------ mix (spec §7.2)
    visit_shares: dict[str, float] = field(
        default_factory=lambda: {
            # code: share of visits (spec §7.2; normalised by the generator)
            "NTZ": 0.42,
            "OCR_I": 0.03,
            "OCR_M_STD": 0.10,
            "OCR_M_SHORT": 0.10,
            "UBL_1": 0.01,
            "UBL_2": 0.01,
            "UBL_M": 0.06,
            "RTX_1": 0.02,
            "RTX_M": 0.05,
            "ALZ_D1_3": 0.03,
            "ALZ_D4_5": 0.01,
            "IVMP": 0.14,
        }
    )
    #: Mitoxantrone is not in the spec's catalogue: a small share of patients (with height
    #: and weight, dosed by body-surface area).
    mitoxantrone_patient_share: float = 0.01
    #: Share of relapse courses given over 5 days instead of 3 (both regimens in the KB).
    five_day_relapse_share: float = 0.2
    #: Share of current anti-CD20 patients who came from natalizumab (switched after an
    #: anti-JCV antibody test turned positive): their first plan is natalizumab.
    switch_from_natalizumab_share: float = 0.2
    #: Months on natalizumab before such a switch, and the gap before the new agent (days).
    switch_after_months: tuple[int, int] = (12, 36)
    switch_gap_days: tuple[int, int] = (28, 56)

    # --------------------------------------------------------------------- history
    history_years: tuple[float, float] = (2.0, 6.0)
    #: Most patients start their infusion agent soon after their first visit; this share
    #: (and every alemtuzumab and mitoxantrone patient, whose treatment is time-limited)
    #: starts at any time in their history, up to the booking horizon.
    new_start_share: float = 0.2
    #: Share of maintenance doses given late, and by how many days (a late dose resets the
    #: schedule, as the calendar engine does). Doses inside a course (day 15) slip less.
    late_dose_share: float = 0.08
    late_days: tuple[int, int] = (3, 35)
    late_in_course_days: tuple[int, int] = (1, 5)
    #: An overdue dose on the build date is marked missed (did not attend) or held (active
    #: infection) with these shares; the rest stay planned.
    overdue_missed_share: float = 0.4
    overdue_held_share: float = 0.2
    #: Share of monitoring items whose latest due test or visit was not done (left overdue).
    overdue_item_share: float = 0.12
    #: Tests are done up to this many days before they fall due.
    test_early_days: int = 10
    #: Rate events, premedication and vital signs are stored for infusions of the last N
    #: months (older infusions were "imported" without pump details); vital signs for this
    #: share of them.
    detail_months: int = 12
    vital_signs_share: float = 0.5

    # ------------------------------------------------------------ infusion reactions
    #: A patient reacts at least once to an agent with the KB incidence of that agent (the
    #: label figures are shares of patients). The reaction falls on the first infusion with
    #: this share (the labels say reactions are most frequent at the first infusion), else
    #: on one of infusions 2..N.
    reaction_first_infusion_share: float = 0.7
    reaction_later_infusions: int = 4
    #: Non-serious reactions: share of CTCAE grade 1 (the rest grade 2).
    grade1_share: float = 0.6
    #: Serious reactions (grade >= 3) come at the KB's serious-reaction incidence; of those,
    #: this share is grade 4 (life-threatening, discontinues the agent).
    grade4_share_of_serious: float = 0.1
    #: Multiplies the KB serious-reaction incidence (1 = the KB figure; tests raise it).
    serious_share_multiplier: float = 1.0
    #: Reaction incidence for an agent whose KB entry gives no rate (natalizumab,
    #: rituximab, mitoxantrone, methylprednisolone): none is invented.
    reaction_share_when_kb_silent: float = 0.0

    # ----------------------------------------------------------------- lab results
    jcv_positive_at_baseline: float = 0.35
    jcv_seroconversion_per_test: float = 0.04
    jcv_index_positive_range: tuple[float, float] = (0.4, 4.0)
    anti_hbc_positive_share: float = 0.05
    prior_immunosuppressant_share: float = 0.08
    prior_dmt_share: float = 0.6
    influenza_vaccine_share: float = 0.4
    #: Synthetic values for quantitative tests (value range, unit from the KB), all flagged
    #: normal; they never trigger a KB lab limit unless a scenario says so.
    lab_value_ranges: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {
            "igg": (7.0, 15.0),
            "igm": (0.5, 2.5),
            "iga": (0.8, 3.5),
            "alt": (10.0, 40.0),
            "ast": (10.0, 35.0),
            "alp": (40.0, 120.0),
            "bilirubin": (0.2, 1.1),
            "creatinine": (0.6, 1.1),
            "tsh": (0.5, 4.0),
            "lvef": (56.0, 68.0),
            "neutrophils": (2000.0, 6000.0),
            "platelets": (150.0, 400.0),
            "cd4": (500.0, 1200.0),
        }
    )

    # ----------------------------------------------------------------- patients
    female_share: float = 0.72
    age_years: tuple[int, int] = (20, 62)
    childbearing_age_limit: int = 50
    height_cm: tuple[float, float] = (152.0, 192.0)
    weight_kg: tuple[float, float] = (50.0, 105.0)
    #: Share of patients on an agent whose on-label courses include RRMS who have RRMS; the
    #: others get another on-label course of the agent (KB indications).
    rrms_share: float = 0.85
    prior_mitoxantrone_mg_m2: tuple[float, ...] = (0.0, 0.0, 0.0, 24.0, 48.0)

    # -------------------------------------------------------------- appointments
    opens: str = "08:00"
    closes: str = "17:00"
    start_grid_minutes: int = 15
    booking_working_days: int = 10
    #: Share of due doses in the booking horizon that already have an appointment (the rest
    #: are on the "due" worklist).
    booking_share: float = 0.85
    #: Preferred start windows (share, from, to) as in spec §7.4.
    start_windows: tuple[tuple[float, str, str], ...] = (
        (0.55, "08:00", "11:30"),
        (0.20, "10:00", "14:00"),
        (0.10, "12:00", "17:00"),
        (0.15, "08:00", "17:00"),
    )
    #: Business days a maintenance dose may move from its planned day (spec §7.4: NTZ ±3,
    #: day-15 doses ±2, consecutive courses exact).
    day_tolerance: int = 3
    in_course_day_tolerance: int = 2

    # ----------------------------------------------------------------------- names
    given_syllables: tuple[str, ...] = (
        "ka", "lo", "mi", "ra", "te", "vo", "sa", "ri", "no", "da", "be", "lu", "fe", "ni",
        "ta", "zo", "el", "an", "is", "or",
    )  # fmt: skip
    family_syllables: tuple[str, ...] = (
        "brim", "cal", "dor", "fen", "gal", "hol", "kem", "lan", "mor", "nel", "pol", "quin",
        "ros", "sel", "tam", "vel", "wik", "yar",
    )  # fmt: skip
    family_endings: tuple[str, ...] = ("ton", "by", "wick", "ford", "ley", "mere", "stead")

    def sources(self) -> dict[str, str]:
        """Where each parameter comes from."""
        spec_fields = {"visit_shares"}
        req_fields = {"start_windows", "day_tolerance", "in_course_day_tolerance"}
        size_fields = {"opens", "closes", "start_grid_minutes"}
        out = {}
        for name in asdict(self):
            if name in spec_fields:
                out[name] = SPEC
            elif name in req_fields:
                out[name] = SPEC_REQ
            elif name in size_fields:
                out[name] = SPEC_SIZE
            else:
                out[name] = DEMO
        return out

    def describe(self) -> dict[str, Any]:
        """Every parameter with its value and source (JSON-ready)."""
        values = asdict(self)
        sources = self.sources()
        return {name: {"value": values[name], "source": sources[name]} for name in values}
