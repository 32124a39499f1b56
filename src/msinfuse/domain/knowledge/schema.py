"""The typed schema of the knowledge-base data files.

The YAML files under ``data/`` are validated against these models when loaded. The models
are frozen: the loaded knowledge base is an immutable value that the pure engines receive
as an argument.

Conventions:

- every clinical number sits inside a :class:`~msinfuse.domain.knowledge.facts.Fact`
  (directly, or inside a value that a fact wraps), so it has a status and citations;
- list items that hold for one label profile only carry ``profiles: [us]`` or ``[eu]``;
- single values that differ by profile are :class:`ByProfile` values;
- field names carry their units (``dose_mg``, ``rate`` with ``rate_unit``, ``minutes``).
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from msinfuse.domain.knowledge.entry_limits import EntryLimits
from msinfuse.domain.knowledge.facts import (
    PROFILES,
    ByProfile,
    Citation,
    Cited,
    Duration,
    Fact,
    Frozen,
    ProfileId,
)

MsCourse = Literal["CIS", "RRMS", "SPMS-active", "SPMS-nonactive", "PPMS"]
MS_COURSES: tuple[str, ...] = get_args(MsCourse)

MechanismMode = Literal[
    "suppress_immune_activity", "deplete_or_block_immune_cells", "reduce_cns_inflammation"
]
MECHANISM_MODES: tuple[str, ...] = get_args(MechanismMode)

Route = Literal["IV", "SC", "IM", "oral"]
Severity = Literal["hold", "warn", "info"]

TestCode = Literal[
    "hbsag", "anti_hbc", "hbv_dna", "hcv_ab", "hiv", "igg", "igm", "iga", "jcv_antibody",
    "jcv_index", "cd4", "cd19", "alc", "neutrophils", "platelets", "cbc", "creatinine",
    "urinalysis", "tsh", "alt", "ast", "alp", "bilirubin", "hcg", "lvef", "vzv_igg", "tb_igra",
]  # fmt: skip
TEST_CODES: tuple[str, ...] = get_args(TestCode)

ProcedureCode = Literal[
    "mri_brain", "plasma_exchange", "ivig", "skin_exam", "ecg", "prescriber_evaluation",
    "hpv_screening",
]  # fmt: skip
PROCEDURE_CODES: tuple[str, ...] = get_args(ProcedureCode)

ConditionCode = Literal[
    "active_infection", "pml", "hiv", "active_malignancy", "hbv_active",
    "severely_immunocompromised", "autoimmune_disease", "uncontrolled_hypertension",
    "arterial_dissection", "stroke", "myocardial_infarction_or_angina", "coagulopathy",
    "heart_failure", "hypersensitivity", "life_threatening_irr", "relapse",
]  # fmt: skip
CONDITION_CODES: tuple[str, ...] = get_args(ConditionCode)

DerivedCondition = Literal["under_18", "concomitant_dmt", "prior_mitoxantrone"]
"""Contraindications the engines derive from the record (age, therapies) rather than read."""

DocType = Literal[
    "us_label", "eu_smpc", "eu_leaflet", "other_label", "manufacturer_page", "compendium", "trial",
    "review", "guideline", "regulatory_notice", "news", "terminology", "code_repository",
    "clinic_policy", "forum", "ai_summary",
]  # fmt: skip


# ------------------------------------------------------------------------------------ sources


SourceStrength = Literal["P", "C", "M", "S", "W", "D"]
"""How strong a source is (the label source check's grading, extended):

- ``P`` primary: FDA or EMA text, openFDA label JSON;
- ``C`` a verbatim copy of label text on a third-party site, or a non-US/non-EU label using
  the same text;
- ``M`` a manufacturer HCP page that cites the prescribing information;
- ``S`` a compendium, summary, guideline, trial or review;
- ``W`` weak: an AI-generated summary, a forum post, an unattributed repository quote, or
  nothing retrieved at all;
- ``D`` msinfuse's own decision and clinic-policy documents.

:data:`msinfuse.domain.knowledge.audit.STRONGEST_STATUS` maps each grade to the strongest
fact status it can carry.
"""
SOURCE_STRENGTHS: tuple[str, ...] = get_args(SourceStrength)


class Source(Frozen):
    """A document the knowledge base cites."""

    key: str
    title: str
    urls: tuple[str, ...] = ()
    doc_type: DocType
    strength: SourceStrength = Field(
        description="P primary, C label copy, M manufacturer page, S compendium or literature, "
        "W weak, D msinfuse decision or policy."
    )
    revision: str = Field(description="Label revision or publication / snapshot date.")
    jurisdiction: Literal["US", "EU", "UK", "CH", "HK", "SG", "MY", "NO", "SE", "BR", "ID", "intl"]
    note: str | None = None


# -------------------------------------------------------------------------------------- codes


class Code(Frozen):
    """A terminology code. ``status`` follows the terminology reference: ``ok`` (seen in an
    authoritative source), ``ok-2`` (seen in independent public code), ``unconfirmed``
    (not seen; exported as display text only)."""

    system: Literal[
        "rxnorm", "atc", "atc-previous", "snomed", "icd-10-cm", "loinc", "ndc", "hcpcs", "meddra"
    ]
    code: str | None
    display: str
    tty: str | None = None
    status: Literal["ok", "ok-2", "unconfirmed"]
    cite: tuple[Citation, ...] = ()
    note: str | None = None

    @field_validator("cite", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str | dict) else value

    @model_validator(mode="after")
    def _code_or_unconfirmed(self) -> Code:
        if self.code is None and self.status != "unconfirmed":
            raise ValueError("a code without a value must have status 'unconfirmed'")
        if self.status != "unconfirmed" and not self.cite:
            raise ValueError("a confirmed code needs a citation")
        return self

    @property
    def exportable(self) -> bool:
        """Whether the code value may be exported (unconfirmed codes export display only)."""
        return self.code is not None and self.status != "unconfirmed"


# ----------------------------------------------------------------------------------- products


class Product(Frozen):
    """A marketed product (brand or formulation) of an agent."""

    name: str
    nonproprietary_name: str
    manufacturer: str | None = None
    kind: Literal["originator", "biosimilar", "generic", "formulation"]
    route: Route
    infusion: bool
    profiles: tuple[ProfileId, ...] = PROFILES
    approval: tuple[Cited[str], ...] = ()
    note: str | None = None
    codes: tuple[Code, ...] = ()


class LabelRevision(Fact):
    """A label document version that the agent's facts reflect, per profile."""

    profile: ProfileId
    document: str
    revision: str


# ---------------------------------------------------------------------------------- mechanism


class Mechanism(Fact):
    """How the agent works: its target and the broad modes that apply."""

    drug_class: str
    target: str
    modes: tuple[MechanismMode, ...] = Field(min_length=1)
    summary: str


class IndicationValue(Frozen):
    """The on-label MS courses for one profile, and the restrictions that come with them."""

    ms_courses: tuple[MsCourse, ...]
    restrictions: tuple[str, ...] = ()
    other_indications: tuple[str, ...] = ()
    adults_only: bool = True


# ----------------------------------------------------------------------------------- regimens


class BlockDose(Frozen):
    """One dose inside a course: a day offset from the course's first dose, and the dose.

    ``day`` follows the label's counting: "day 15" in a label is ``day: 14`` here
    (clinical-decisions §2). Exactly one of ``dose_mg`` and ``dose_mg_per_m2`` is set.
    """

    day: int = Field(ge=0)
    dose_mg: float | None = Field(default=None, gt=0)
    dose_mg_per_m2: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_dose(self) -> BlockDose:
        if (self.dose_mg is None) == (self.dose_mg_per_m2 is None):
            raise ValueError("give exactly one of dose_mg and dose_mg_per_m2")
        return self


class DoseBlock(Fact):
    """A course: doses at day offsets from the course's first dose.

    ``consecutive`` marks a course whose doses run on consecutive days; a dose given late
    pushes the rest of the course back day by day (one infusion per day at most).
    """

    kind: Literal["initial", "maintenance", "course"]
    label: str
    doses: tuple[BlockDose, ...] = Field(min_length=1)
    consecutive: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> DoseBlock:
        days = [d.day for d in self.doses]
        if days[0] != 0:
            raise ValueError("the first dose of a course is on day offset 0 (label day 1)")
        if days != sorted(set(days)):
            raise ValueError("dose day offsets must increase")
        if self.consecutive and days != list(range(len(days))):
            raise ValueError("a consecutive course has doses on day offsets 0, 1, 2...")
        return self


class RepeatRule(Fact):
    """How courses repeat after the first block.

    The next course is planned ``interval`` after the ``anchor`` dose (first or last dose)
    of the previous course *as actually given*, never earlier than ``min_spacing`` after
    the last dose actually given (clinical-decisions §2). ``scheduled`` courses are planned
    automatically; beyond them (``None`` = no end) further courses are given only as
    needed, with ``max_courses`` (all courses, the first included) as a cap where the label
    sets one (``value: null`` = no cap).
    """

    block: DoseBlock
    interval: ByProfile[Duration]
    anchor: Literal["first_dose", "last_dose"]
    min_spacing: ByProfile[Duration]
    scheduled: int | None = Field(default=None, ge=0)
    max_courses: ByProfile[int | None] | None = None


class Regimen(Frozen):
    """A named dosing regimen of an agent."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    summary: str
    default: bool = False
    off_label: bool = False
    off_label_basis: Cited[str] | None = None
    route: Route = "IV"
    infusion: bool = True
    schedulable: bool = True
    profiles: tuple[ProfileId, ...] = PROFILES
    initial: DoseBlock
    repeat: RepeatRule | None = None
    cumulative_limit_mg_per_m2: ByProfile[float] | None = None
    evidence: tuple[Cited[str], ...] = ()

    @model_validator(mode="after")
    def _off_label_has_basis(self) -> Regimen:
        if self.off_label and self.off_label_basis is None:
            raise ValueError(
                "an off-label regimen needs off_label_basis (why and on what evidence)"
            )
        return self

    @property
    def uses_bsa(self) -> bool:
        """True when any dose is given per m² of body-surface area."""
        blocks = [self.initial] + ([self.repeat.block] if self.repeat else [])
        return any(d.dose_mg_per_m2 is not None for b in blocks for d in b.doses)


# ------------------------------------------------------------------------------- rate protocols


class RateStep(Frozen):
    """A pump step: a rate held for ``minutes``; ``minutes: null`` runs until the bag is empty."""

    rate: float = Field(gt=0)
    minutes: float | None = Field(default=None, gt=0)


class Escalation(Frozen):
    """A titration written as start rate, increment every N minutes, maximum rate."""

    start: float = Field(gt=0)
    increment: float = Field(gt=0)
    every_minutes: float = Field(gt=0)
    maximum: float = Field(gt=0)

    @model_validator(mode="after")
    def _max_at_least_start(self) -> Escalation:
        if self.maximum < self.start:
            raise ValueError("maximum rate is below the start rate")
        return self


class InfusionRange(Frozen):
    """Infusion numbers within a plan (1-based); ``last: null`` means every later one."""

    first: int = Field(ge=1)
    last: int | None = Field(default=None, ge=1)

    def contains(self, number: int) -> bool:
        """Whether infusion ``number`` falls in this range."""
        return number >= self.first and (self.last is None or number <= self.last)


class RateProtocol(Fact):
    """An infusion-rate protocol: steps or an escalation, for a dose in a bag."""

    id: str
    name: str
    protocol: Literal["standard", "shorter"] = "standard"
    regimens: tuple[str, ...] = Field(
        default=(), description="Regimen ids this protocol serves; empty = all."
    )
    profiles: tuple[ProfileId, ...] = PROFILES
    infusions: InfusionRange
    course_days: tuple[int, ...] = Field(
        default=(), description="1-based days of a course this applies to; empty = all days."
    )
    rate_unit: Literal["mL/h", "mg/h"] = "mL/h"
    steps: tuple[RateStep, ...] = ()
    escalation: Escalation | None = None
    dose_mg: float | None = Field(default=None, gt=0)
    bag_volume_ml: Cited[float] | None = None
    default_concentration_mg_per_ml: Cited[float] | None = None
    concentration_mg_per_ml: Cited[tuple[float, float]] | None = None
    minimum_minutes: Cited[float] | None = None
    label_duration_text: str | None = None
    eligibility: tuple[Cited[str], ...] = ()

    @model_validator(mode="after")
    def _steps_or_escalation(self) -> RateProtocol:
        if bool(self.steps) == (self.escalation is not None):
            raise ValueError("give either steps or an escalation, not both and not neither")
        if self.steps and any(s.minutes is None for s in self.steps[:-1]):
            raise ValueError("only the last step may run until the bag is empty")
        if (self.bag_volume_ml is None) == (self.default_concentration_mg_per_ml is None):
            raise ValueError("give either bag_volume_ml or default_concentration_mg_per_ml")
        if self.rate_unit == "mg/h" and self.concentration_mg_per_ml is None:
            raise ValueError("mg/h protocols need concentration_mg_per_ml (allowed range)")
        return self


# ------------------------------------------------------------------- premedication, observation


class Premedication(Fact):
    """A premedication given before an infusion."""

    id: str
    drug: str
    dose_mg: float | None = Field(default=None, gt=0)
    dose_text: str | None = None
    route: str
    minutes_before_min: float | None = Field(default=None, ge=0)
    minutes_before_max: float | None = Field(default=None, ge=0)
    required: bool = True
    course_days: tuple[int, ...] = Field(
        default=(), description="1-based days of each course; empty = every infusion."
    )
    profiles: tuple[ProfileId, ...] = PROFILES
    lead_from_protocol: str | None = Field(
        default=None,
        description="When the premedication is itself an infusion (alemtuzumab's "
        "methylprednisolone), the agent:protocol whose duration is its chair lead time.",
    )


class ObservationRule(Fact):
    """Post-infusion observation for a range of infusion numbers.

    ``minutes`` is the observation when no earlier infusion of this agent had a reaction;
    ``after_reaction_minutes`` (when set) applies once any earlier infusion had one.
    """

    profiles: tuple[ProfileId, ...] = PROFILES
    infusions: InfusionRange
    minutes: Cited[float]
    after_reaction_minutes: Cited[float] | None = None


class ReactionAction(Fact):
    """What to do for an infusion reaction of the given CTCAE grades."""

    grades: tuple[int, ...] = Field(min_length=1)
    action: Literal["slow", "stop_restart", "discontinue"]
    rate_factor: float | None = Field(default=None, gt=0, le=1)
    hold_minutes: float | None = Field(default=None, ge=0)
    text: str

    @field_validator("grades")
    @classmethod
    def _ctcae(cls, grades: tuple[int, ...]) -> tuple[int, ...]:
        if any(g < 1 or g > 5 for g in grades):
            raise ValueError("CTCAE grades run from 1 to 5")
        return grades


# --------------------------------------------------------------------------- screening, checks


class LabRequirement(Fact):
    """Results (all of ``tests``: lab tests or procedures) that must be on file before a dose.

    ``when``: ``first_dose`` (before the agent's first dose), ``every_dose``, ``course_start``
    (the first dose of every course) or ``later_course`` (the first dose of course 2 on).
    A result counts when it is no older than ``max_age`` (default: the clinic's screening
    window) and, for ``every_dose``, dated after the previous dose. With
    ``window_from_monitoring`` the agent's monitoring item for each test decides instead.
    """

    id: str
    when: Literal["first_dose", "every_dose", "course_start", "later_course"]
    tests: tuple[TestCode | ProcedureCode, ...] = Field(min_length=1)
    max_age: Cited[Duration] | None = None
    window_from_monitoring: bool = Field(
        default=False,
        description="A result counts while the agent's monitoring item for that test is not "
        "overdue on the day of the dose: the monitoring item's interval is the window, one "
        "source for the check and the monitoring list.",
    )
    severity_missing: Severity = "hold"
    text: str
    profiles: tuple[ProfileId, ...] = PROFILES
    only_if_childbearing_potential: bool = False

    @model_validator(mode="after")
    def _one_window(self) -> LabRequirement:
        if self.window_from_monitoring and self.max_age is not None:
            raise ValueError("give max_age or window_from_monitoring, not both")
        return self


class LabLimit(Fact):
    """A lab value that stops or flags a dose."""

    id: str
    test: TestCode
    comparator: Literal["lt", "le", "gt", "ge", "eq", "abnormal"]
    value: float | str | None = None
    unit: str | None = None
    severity: Severity
    text: str
    profiles: tuple[ProfileId, ...] = PROFILES
    cleared_by_vaccine: str | None = Field(
        default=None,
        description="The limit does not apply once a vaccine whose name contains this word was "
        "given at least the agent's live-vaccine lead time before the dose.",
    )


class SwitchRule(Fact):
    """A gap between an earlier therapy and this agent (switching).

    Applies when the last dose of one of ``after`` (agent, alternative or therapy ids) is more
    recent than the last dose of this agent: the dose is then due no earlier than ``min_gap``
    after it, else the rule's severity.
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    after: tuple[str, ...] = Field(min_length=1)
    min_gap: Duration
    severity: Severity
    text: str
    profiles: tuple[ProfileId, ...] = PROFILES


class VaccineRule(Fact):
    """Vaccines must be given at least ``min_before`` before a dose (or course)."""

    vaccine_kind: Literal["live", "non_live", "any"]
    min_before: Duration
    applies_before: Literal["first_dose", "every_dose", "course_start"]
    severity: Severity
    text: str
    profiles: tuple[ProfileId, ...] = PROFILES


ContraindicationWording = Literal["current", "history"]
"""How the label words a contraindication (clinical-decisions §5):

- ``current``: the condition must be present on the day of the dose ("active infection",
  "active malignancy"); a condition recorded as resolved no longer applies;
- ``history``: the label says "have or have had" or "history of" (natalizumab PML, EU
  alemtuzumab stroke): any record of the condition up to the day of the dose applies,
  resolved or not.
"""


class Contraindication(Fact):
    """A contraindication. ``condition`` is a coded condition where the engines can match
    it (a patient condition such as ``pml`` or ``hiv``, or one derived from the record such
    as ``under_18``); ``None`` for text-only items. ``wording`` records whether the label
    means a current condition or a history of it."""

    condition: ConditionCode | DerivedCondition | None = None
    wording: ContraindicationWording
    text: str
    profiles: tuple[ProfileId, ...] = PROFILES


class Incidence(Fact):
    """How often something happened, with its comparator where the source gives one."""

    what: str
    percent: float | None = Field(default=None, ge=0, le=100)
    percent_max: float | None = Field(default=None, ge=0, le=100)
    per_1000: float | None = Field(default=None, ge=0)
    comparator: str | None = None
    comparator_percent: float | None = Field(default=None, ge=0, le=100)
    text: str | None = None


class LabelWarning(Fact):
    """A boxed warning or a warning/precaution, with incidence figures where known."""

    id: str
    title: str
    text: str
    boxed: bool = False
    profiles: tuple[ProfileId, ...] = PROFILES
    incidences: tuple[Incidence, ...] = ()


SideEffectCategory = Literal[
    "infusion_reaction", "infection", "fatigue", "nausea", "headache", "liver", "other"
]


class SideEffect(Incidence):
    """A common side effect with its frequency."""

    category: SideEffectCategory


class Breastfeeding(Fact):
    """What a label says about breastfeeding.

    ``advice``: ``avoid`` (do not breastfeed during treatment and for ``after_last_dose``
    after it: a breastfeeding patient is a hold), ``allowed`` (shown as information) or
    ``weigh`` (the prescriber weighs benefit and risk: a warning).
    """

    advice: Literal["avoid", "allowed", "weigh"]
    text: str
    after_last_dose: Duration | None = None
    profiles: tuple[ProfileId, ...] = PROFILES


class Pregnancy(Frozen):
    """Pregnancy, contraception and breastfeeding facts."""

    contraception_after_last_dose: ByProfile[Duration] | None = None
    pregnancy_test_before_each_dose: Cited[bool] | None = None
    pregnancy_status_before_each_dose: Cited[bool] | None = None
    pregnancy: tuple[Cited[str], ...] = ()
    breastfeeding: tuple[Breastfeeding, ...] = ()


MonitoringCondition = Literal[
    "anti_hbc_positive",
    "jcv_negative",
    "jcv_low_index_no_prior_is",
    "pml_higher_risk",
    "pml_standard_risk",
    "childbearing_potential",
    "female",
]


class MonitoringItem(Fact):
    """A monitoring task with its cadence.

    ``start`` anchors the cadence: ``first_dose`` (from the first dose of the agent),
    ``last_dose`` (after stopping), ``each_dose`` (before every dose). ``offsets`` are
    one-off due points from the anchor (TOUCH evaluations at 3 and 6 months); then the task
    repeats every ``interval`` until ``until_after_last_dose`` after the last dose (``None``:
    no end date given).
    """

    id: str
    item: str
    kind: Literal["lab", "procedure", "authorization", "evaluation", "prophylaxis"]
    satisfied_by: tuple[str, ...] = Field(
        default=(), description="Test, procedure or programme codes that count as done."
    )
    start: Literal["first_dose", "last_dose", "each_dose", "course_end"]
    offsets: tuple[Duration, ...] = ()
    interval: Duration | None = None
    until_after_last_dose: Duration | None = None
    while_on_treatment: bool = Field(
        default=False, description="Only while the agent is being given (not after it is stopped)."
    )
    baseline: bool = Field(
        default=False,
        description="A result is expected before the first dose: with none on file the item is "
        "due at the first dose (otherwise one interval, or its first offset, after it).",
    )
    applies_if: MonitoringCondition | None = None
    profiles: tuple[ProfileId, ...] = PROFILES


AuthorizationProgram = Literal["TOUCH", "TYRUKO-REMS", "LEMTRADA-REMS"]
"""Programme codes of the authorizations a patient record holds."""


class Rems(Fact):
    """A risk-evaluation and mitigation programme (US) or equivalent.

    ``authorizations`` are the record's programme codes that show the patient is enrolled
    and authorized; the agent is given only through the programme, so a patient with none of
    them on file is a hold. Re-authorization intervals live in the agent's monitoring items
    (kind ``authorization``), the one place the check and the monitoring list read them.
    """

    program: str
    profiles: tuple[ProfileId, ...] = ("us",)
    authorizations: tuple[AuthorizationProgram, ...] = Field(min_length=1)
    requirements: tuple[str, ...]
    checklist_each_infusion: bool = False


class HerpesProphylaxis(Frozen):
    """Antiviral prophylaxis around a course (alemtuzumab)."""

    start: Cited[str]
    duration_after_course: ByProfile[Duration]
    or_until_cd4_at_least: Cited[float] | None = None


class PmlParameters(Frozen):
    """Natalizumab PML rules (clinical-decisions §6). The anti-JCV retest and MRI intervals
    are the agent's monitoring items (``applies_if`` ``jcv_negative``,
    ``jcv_low_index_no_prior_is``, ``pml_higher_risk``, ``pml_standard_risk``), read by the
    risk report, the monitoring list and the check alike."""

    risk_factors: tuple[Cited[str], ...]
    exposure_threshold_months: Cited[int]
    default_table: str
    high_index_threshold: Cited[float]
    invalid_after_plasma_exchange: Cited[Duration]
    invalid_after_ivig: Cited[Duration]
    extended_interval_note: Cited[str]


class PatientText(Frozen):
    """Plain-language text for patients. No digits: every number a patient sees is
    rendered from cited data (regimens, rate plans, observation), never typed here."""

    how_it_works: str
    how_given: str
    visit: str
    report_at_once: tuple[str, ...]
    monitoring: str
    pregnancy: str

    @model_validator(mode="after")
    def _no_numbers(self) -> PatientText:
        texts = [self.how_it_works, self.how_given, self.visit, self.monitoring, self.pregnancy]
        texts.extend(self.report_at_once)
        for text in texts:
            if any(ch.isdigit() for ch in text):
                raise ValueError(
                    "patient text must not contain digits; numbers come from cited data"
                )
        return self


# -------------------------------------------------------------------------------------- agent


class Agent(Frozen):
    """Everything the knowledge base knows about one infusion agent."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    drug_class: str
    off_label_in_ms: Cited[bool]
    boxed_warning: Cited[bool]
    labels: tuple[LabelRevision, ...] = Field(min_length=1)
    products: tuple[Product, ...] = Field(min_length=1)
    mechanism: Mechanism
    indications: ByProfile[IndicationValue]
    regimens: tuple[Regimen, ...] = Field(min_length=1)
    rate_protocols: tuple[RateProtocol, ...] = ()
    premedications: tuple[Premedication, ...] = ()
    observation: tuple[ObservationRule, ...] = ()
    reaction_management: tuple[ReactionAction, ...] = ()
    screening: tuple[LabRequirement, ...] = ()
    lab_limits: tuple[LabLimit, ...] = ()
    checks_before_each_dose: tuple[Cited[str], ...] = ()
    vaccination: tuple[VaccineRule, ...] = ()
    switching: tuple[SwitchRule, ...] = ()
    contraindications: tuple[Contraindication, ...] = ()
    warnings: tuple[LabelWarning, ...] = ()
    side_effects: tuple[SideEffect, ...] = ()
    pregnancy: Pregnancy
    monitoring: tuple[MonitoringItem, ...] = ()
    rems: tuple[Rems, ...] = ()
    herpes_prophylaxis: HerpesProphylaxis | None = None
    pml: PmlParameters | None = None
    codes: tuple[Code, ...] = ()
    notes: tuple[Cited[str], ...] = ()
    patient: PatientText

    @model_validator(mode="after")
    def _consistent(self) -> Agent:
        defaults = [r.id for r in self.regimens if r.default]
        if len(defaults) != 1:
            raise ValueError(f"exactly one regimen must be the default (found {len(defaults)})")
        ids = [r.id for r in self.regimens]
        if len(ids) != len(set(ids)):
            raise ValueError("regimen ids must be unique")
        protocol_ids = [p.id for p in self.rate_protocols]
        if len(protocol_ids) != len(set(protocol_ids)):
            raise ValueError("rate protocol ids must be unique")
        for protocol in self.rate_protocols:
            for regimen_id in protocol.regimens:
                if regimen_id not in ids:
                    raise ValueError(
                        f"rate protocol {protocol.id!r} names unknown regimen {regimen_id!r}"
                    )
        return self

    @property
    def default_regimen(self) -> Regimen:
        """The regimen used when none is named."""
        return next(r for r in self.regimens if r.default)

    def regimen(self, regimen_id: str) -> Regimen | None:
        """The regimen with this id, or ``None``."""
        return next((r for r in self.regimens if r.id == regimen_id), None)

    @property
    def brands(self) -> tuple[str, ...]:
        """Product names, infusion products first."""
        return tuple(p.name for p in sorted(self.products, key=lambda p: not p.infusion))

    def brand_names(self, profile: ProfileId) -> tuple[str, ...]:
        """Product names marketed under ``profile``, infusion products first."""
        products = [p for p in self.products if profile in p.profiles]
        return tuple(p.name for p in sorted(products, key=lambda p: not p.infusion))

    def label_revisions(self, profile: ProfileId) -> tuple[LabelRevision, ...]:
        """The label documents this agent's facts reflect under ``profile``."""
        return tuple(label for label in self.labels if label.profile == profile)


# ---------------------------------------------------------------------- other knowledge files


class Alternative(Fact):
    """A non-infusion MS disease-modifying therapy, listed so patients see what else exists."""

    id: str
    name: str
    brands: tuple[str, ...] = ()
    route: Route
    frequency: str
    drug_class: str


class LabTest(Frozen):
    """A lab test in msinfuse's controlled vocabulary, with its LOINC mapping."""

    code: TestCode
    name: str
    value_type: Literal["quantity", "qualitative"]
    unit: str | None = None
    loinc: Code | None = None


class PmlBand(Frozen):
    """A treatment-exposure band in months (inclusive)."""

    label: str
    from_month: int = Field(ge=0)
    to_month: int | None = Field(default=None, ge=0)

    def contains(self, months: int) -> bool:
        """Whether ``months`` of exposure falls in this band."""
        return months >= self.from_month and (self.to_month is None or months <= self.to_month)


class PmlRow(Frozen):
    """One row of a PML risk table: a patient group and a value per exposure band."""

    jcv: Literal["negative", "positive"]
    prior_immunosuppressant: bool | None
    index: Literal["not_available", "low", "high"] | None = None
    per_1000: tuple[float | None, ...]


class PmlTable(Fact):
    """A PML risk stratification table (estimates per 1,000 patients)."""

    id: str
    name: str
    index_threshold: float | None = None
    bands: tuple[PmlBand, ...] = Field(min_length=1)
    rows: tuple[PmlRow, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _row_widths(self) -> PmlTable:
        for row in self.rows:
            if len(row.per_1000) != len(self.bands):
                raise ValueError("every row needs one value (or null) per exposure band")
        return self


ReactionResume = Literal["rate_at_onset", "step_up_from_reduced"]
"""How an infusion continues after the reduced-rate hold of a grade 1-3 reaction:
``rate_at_onset`` returns to the protocol step that was running at onset and carries on along
the protocol; ``step_up_from_reduced`` climbs from the reduced rate by the protocol's own
increments (or through the protocol steps above it)."""


class ClinicPolicy(Frozen):
    """Clinic-wide defaults (status ``policy``; a clinic may change them)."""

    reaction_resume: Cited[ReactionResume]
    setup_minutes: Cited[float]
    disconnection_minutes: Cited[float]
    screening_max_age: Cited[Duration]
    due_soon_days: Cited[int]
    schedule_early_days: Cited[int]
    schedule_late_days: Cited[int]
    schedule_overtime_max_minutes: Cited[int]
    schedule_nurse_break_minutes: Cited[int]
    schedule_default_nurses_extra: Cited[int]


class TherapyTerm(Fact):
    """A therapy a patient may have had, and whether it counts as an immunosuppressant
    (natalizumab PML risk) or as a disease-modifying therapy (concomitant use)."""

    id: str
    display: str
    immunosuppressant: bool = False
    dmt: bool = False


class TermCode(Frozen):
    """Codes for a concept (MS course, condition, procedure, vital sign)."""

    id: str
    display: str
    codes: tuple[Code, ...] = ()
    unit: str | None = Field(default=None, description="UCUM unit of a measured concept.")


class ReactionGrade(Fact):
    """How a CTCAE grade of an infusion reaction is reported in FHIR R4 ``AdverseEvent``:
    its ``severity`` (mild/moderate/severe) and whether it counts as serious."""

    grade: int = Field(ge=1, le=5)
    severity: Literal["mild", "moderate", "severe"]
    serious: bool


class Terminology(Frozen):
    """Codes for MS courses, conditions, procedures and vital signs."""

    ms_courses: tuple[TermCode, ...]
    conditions: tuple[TermCode, ...]
    procedures: tuple[TermCode, ...]
    vital_signs: tuple[TermCode, ...]
    adverse_events: tuple[TermCode, ...]
    therapies: tuple[TherapyTerm, ...] = ()
    reaction_grades: tuple[ReactionGrade, ...] = ()


class KnowledgeBase(Frozen):
    """The whole knowledge base, as loaded and cross-checked."""

    version: str
    sources: dict[str, Source]
    agents: dict[str, Agent]
    alternatives: tuple[Alternative, ...]
    labs: dict[str, LabTest]
    pml_tables: tuple[PmlTable, ...]
    clinic: ClinicPolicy
    terminology: Terminology
    limits: EntryLimits

    def agent(self, agent_id: str) -> Agent | None:
        """The agent with this id, or ``None``."""
        return self.agents.get(agent_id)

    def pml_table(self, table_id: str) -> PmlTable | None:
        """The PML table with this id, or ``None``."""
        return next((t for t in self.pml_tables if t.id == table_id), None)
