"""Natalizumab PML risk (clinical-decisions §6).

The three established risk factors are always reported. The estimate per 1,000 patients
comes from a table in the knowledge base (default: Berger & Fox 2016 / Kuesters 2015,
status literature); a cell the table does not have is reported as missing, never
interpolated. The anti-JCV retest date, the MRI cadence and the extended-interval-dosing
note come from the knowledge base too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from msinfuse.domain.due import rolling_due
from msinfuse.domain.knowledge.facts import Duration
from msinfuse.domain.knowledge.schema import (
    Agent,
    KnowledgeBase,
    MonitoringItem,
    PmlParameters,
    PmlRow,
    PmlTable,
)
from msinfuse.domain.patient import PatientState
from msinfuse.domain.provenance import DECISION_SUPPORT
from msinfuse.errors import InvalidInput

JcvStatus = Literal["positive", "negative", "unknown"]
Category = Literal["lower", "intermediate", "higher", "unknown"]


@dataclass(frozen=True, slots=True)
class RiskFactor:
    """One of the three established PML risk factors and whether it applies."""

    factor: str
    applies: bool | None
    source: str


@dataclass(frozen=True, slots=True)
class PmlRisk:
    """A PML risk estimate with everything needed to explain it."""

    jcv_status: JcvStatus
    index: float | None
    months_exposed: int
    prior_immunosuppressant: bool
    risk_per_1000: float | None
    band: str | None
    band_note: str
    table_id: str
    table_name: str
    table_status: str
    category: Category
    risk_factors: tuple[RiskFactor, ...]
    retest_interval_months: int | None
    retest_due: date | None
    mri_interval_months: int
    extended_interval_note: str
    source: str
    invalid_sample: str | None = None
    decision_support: str = DECISION_SUPPORT


def _agent(kb: KnowledgeBase) -> Agent:
    agent = kb.agent("natalizumab")
    if agent is None or agent.pml is None:  # pragma: no cover - shipped data has it
        raise InvalidInput("the knowledge base has no natalizumab PML parameters")
    return agent


def _params(kb: KnowledgeBase) -> PmlParameters:
    params = _agent(kb).pml
    assert params is not None
    return params


def pml_monitoring_item(kb: KnowledgeBase, condition: str) -> MonitoringItem:
    """The natalizumab monitoring item for ``condition`` (``jcv_negative``,
    ``jcv_low_index_no_prior_is``, ``pml_higher_risk``, ``pml_standard_risk``): the one
    place the retest and MRI intervals live."""
    item = next((m for m in _agent(kb).monitoring if m.applies_if == condition), None)
    if item is None or item.interval is None:  # pragma: no cover - shipped data has them
        raise InvalidInput(f"the knowledge base has no natalizumab monitoring item for {condition}")
    return item


def _months(duration: Duration) -> int:
    return duration.amount * 12 if duration.unit == "years" else duration.amount


def _row(table: PmlTable, jcv: JcvStatus, index_band: str | None, prior: bool) -> PmlRow | None:
    for row in table.rows:
        if row.jcv != jcv:
            continue
        if row.prior_immunosuppressant is not None and row.prior_immunosuppressant != prior:
            continue
        if jcv == "positive" and not prior and row.index != index_band:
            continue
        return row
    return None


def _months_between(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return max(months, 0)


def pml_risk(
    kb: KnowledgeBase,
    jcv_status: JcvStatus,
    index: float | None,
    months_exposed: int,
    prior_immunosuppressant: bool,
    *,
    last_jcv_test: date | None = None,
    table_id: str | None = None,
) -> PmlRisk:
    """The PML risk estimate for the given risk factors.

    ``months_exposed`` counts months of natalizumab treatment; ``index`` is the anti-JCV
    antibody index (only used for anti-JCV-positive patients without prior
    immunosuppressants); ``last_jcv_test`` dates the retest.
    """
    if months_exposed < 0:
        raise InvalidInput("months of exposure cannot be negative")
    if index is not None and index < 0:
        raise InvalidInput("the anti-JCV index cannot be negative")
    params = _params(kb)
    table = kb.pml_table(table_id or params.default_table)
    if table is None:
        raise InvalidInput(f"unknown PML table {table_id!r}")
    threshold = params.high_index_threshold.value
    band = next((b for b in table.bands if b.contains(months_exposed)), None)
    index_band: str | None = None
    if jcv_status == "positive" and not prior_immunosuppressant:
        index_band = "not_available" if index is None else ("high" if index > threshold else "low")
    value: float | None = None
    band_note = ""
    if jcv_status == "unknown":
        band_note = "anti-JCV status unknown: test before estimating"
    elif band is None:
        band_note = f"the table has no value beyond {table.bands[-1].to_month} months of exposure"
    else:
        row = _row(table, jcv_status, index_band, prior_immunosuppressant)
        if row is None:
            band_note = "the table has no row for this combination"
        else:
            value = row.per_1000[table.bands.index(band)]
            if value is None:
                band_note = "the table has no value for this cell"
    over = months_exposed > params.exposure_threshold_months.value
    factors = (
        RiskFactor(
            "anti-JCV antibody positive",
            None if jcv_status == "unknown" else jcv_status == "positive",
            params.risk_factors[0].citation_text(),
        ),
        RiskFactor(
            f"treatment for more than {params.exposure_threshold_months.value} months",
            over,
            params.risk_factors[1].citation_text(),
        ),
        RiskFactor(
            "prior immunosuppressant use",
            prior_immunosuppressant,
            params.risk_factors[2].citation_text(),
        ),
    )
    category: Category
    if jcv_status == "unknown":
        category = "unknown"
    elif jcv_status == "negative":
        category = "lower"
    elif (over and prior_immunosuppressant) or (over and index is not None and index > threshold):
        category = "higher"
    else:
        category = "intermediate"
    retest = _retest_item(kb, jcv_status, index, threshold, prior_immunosuppressant)
    if retest is not None and retest.offsets and months_exposed < _months(retest.offsets[0]):
        retest = None  # low-index retesting starts at the 2-year point
    retest_months = (
        _months(retest.interval) if retest is not None and retest.interval is not None else None
    )
    retest_due = None
    if retest is not None and retest.interval is not None and last_jcv_test is not None:
        retest_due = rolling_due(None, (), retest.interval, last_jcv_test)
    mri = pml_monitoring_item(
        kb, "pml_higher_risk" if category == "higher" else "pml_standard_risk"
    )
    assert mri.interval is not None
    return PmlRisk(
        jcv_status=jcv_status,
        index=index,
        months_exposed=months_exposed,
        prior_immunosuppressant=prior_immunosuppressant,
        risk_per_1000=value,
        band=band.label if band else None,
        band_note=band_note,
        table_id=table.id,
        table_name=table.name,
        table_status=table.status,
        category=category,
        risk_factors=factors,
        retest_interval_months=retest_months,
        retest_due=retest_due,
        mri_interval_months=_months(mri.interval),
        extended_interval_note=params.extended_interval_note.value,
        source=table.citation_text(),
    )


def _retest_item(
    kb: KnowledgeBase,
    jcv_status: JcvStatus,
    index: float | None,
    threshold: float,
    prior_immunosuppressant: bool,
) -> MonitoringItem | None:
    if jcv_status in ("negative", "unknown"):
        return pml_monitoring_item(kb, "jcv_negative")
    if not prior_immunosuppressant and index is not None and index <= threshold:
        return pml_monitoring_item(kb, "jcv_low_index_no_prior_is")
    return None


def pml_risk_from_state(kb: KnowledgeBase, state: PatientState, on: date) -> PmlRisk:
    """The PML risk of a patient on ``on``, from the record.

    Exposure counts whole months from the first natalizumab infusion to ``on``; prior
    immunosuppressant use is any therapy classed as an immunosuppressant that started
    before the first natalizumab infusion (or before ``on`` when none was given). The newest
    anti-JCV antibody result sets the status; a sample taken within the invalid window after
    plasma exchange or IVIG is reported and not used.
    """
    params = _params(kb)
    given = state.administrations_of("natalizumab", before=on + timedelta(days=1))
    first = given[0].date if given else on
    months = _months_between(first, on)
    prior = any(
        t.immunosuppressant and t.agent != "natalizumab" and (t.start is None or t.start < first)
        for t in state.therapies
    )
    invalid = None
    jcv: JcvStatus = "unknown"
    index: float | None = None
    last_test: date | None = None
    for lab in state.labs_of("jcv_antibody", on):
        reason = invalid_sample_reason(state, lab.date, params)
        if reason:
            invalid = invalid or reason
            continue
        jcv = (
            "positive"
            if lab.text == "positive"
            else "negative"
            if lab.text == "negative"
            else "unknown"
        )
        last_test = lab.date
        break
    for lab in state.labs_of("jcv_index", on):
        if invalid_sample_reason(state, lab.date, params):
            continue
        index = lab.number
        break
    risk = pml_risk(kb, jcv, index, months, prior, last_jcv_test=last_test)
    if risk.retest_interval_months is not None:
        item = _retest_item(kb, jcv, index, params.high_index_threshold.value, prior)
        assert item is not None
        valid = [
            lab.date
            for lab in state.labs
            if lab.test in item.satisfied_by
            and lab.date <= on
            and invalid_sample_reason(state, lab.date, params) is None
        ]
        risk = replace(
            risk,
            retest_due=rolling_due(
                given[0].date if given else None,
                item.offsets,
                item.interval,
                max(valid) if valid else None,
                baseline=item.baseline,
            ),
        )
    if invalid:
        risk = replace(risk, invalid_sample=invalid)
    return risk


def invalid_sample_reason(state: PatientState, sample: date, params: PmlParameters) -> str | None:
    """Why an anti-JCV sample taken on ``sample`` is not valid (within the window after plasma
    exchange or IVIG), or ``None`` when it is."""
    for procedure in state.procedures:
        if procedure.date > sample:
            continue
        if (
            procedure.procedure == "plasma_exchange"
            and sample < params.invalid_after_plasma_exchange.value.after(procedure.date)
        ):
            return (
                f"The anti-JCV sample of {sample.isoformat()} was taken within "
                f"{params.invalid_after_plasma_exchange.value} after plasma exchange and is not valid: retest."
            )
        if procedure.procedure == "ivig" and sample < params.invalid_after_ivig.value.after(
            procedure.date
        ):
            return (
                f"The anti-JCV sample of {sample.isoformat()} was taken within "
                f"{params.invalid_after_ivig.value} after IVIG and is not valid: retest."
            )
    return None
