"""CSV exports of the worklists and the adherence report.

A CSV file holds one header row and the data rows, nothing else, so that spreadsheets and
scripts read it as it is. The decision-support statement and the knowledge-base version do
not fit in CSV; the API sends them as response headers (``X-Decision-Support``,
``X-Knowledge-Base``) and the command line prints them on standard error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.provenance import DECISION_SUPPORT

#: Column order of each worklist's CSV (the rows' keys; extra keys follow in row order).
COLUMNS: dict[str, tuple[str, ...]] = {
    "today": ("site", "chair", "starts_at", "ends_at", "patient_id", "mrn", "family_name",
              "given_name", "agent", "infusion_number", "decision"),
    "due": ("planned_on", "earliest_on", "overdue", "patient_id", "mrn", "family_name",
            "given_name", "agent", "number", "status"),
    "monitoring": ("due_on", "status", "patient_id", "mrn", "family_name", "given_name",
                   "agent", "item", "last_done", "source"),
    "pml": ("patient_id", "mrn", "family_name", "given_name", "category", "risk_per_1000",
            "band", "jcv_status", "jcv_index", "months_exposed"),
    "adherence": ("agent", "month", "given", "late", "mean_days_late", "max_days_late"),
}  # fmt: skip


def to_csv(kind: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows of worklist ``kind`` as CSV text (header first; empty values for None)."""
    columns = [c for c in COLUMNS[kind] if not rows or c in rows[0]]
    for row in rows[:1]:
        columns += [k for k in row if k not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()


def filename(kind: str, on: str) -> str:
    """The download name of a worklist export."""
    return f"msinfuse-{kind}-{on}.csv"


def provenance_headers(kb: KnowledgeBase) -> dict[str, str]:
    """The statement every clinician-facing output carries, as HTTP headers."""
    return {"X-Decision-Support": DECISION_SUPPORT, "X-Knowledge-Base": kb.version}
