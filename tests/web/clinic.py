"""A small, deterministic infusion clinic for the web tests (views and browser).

Site NORTH with three chairs; on the test day (``TODAY``):

- Diaz (screened, a non-live vaccine a week ago; ocrelizumab infusion 1 booked at 09:00 on
  C01): her check has a warning only, so a nurse acknowledges them and infuses;
- Evans (not screened, ocrelizumab infusion 1 booked at 10:00 on C02): her check holds, so
  only a prescriber can clear it (override with a reason);
- Fischer (natalizumab for two years, anti-JCV index on file, MRIs): the PML risk panel,
  the timeline's labs and MRIs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from msinfuse.services import appointments, clinic, infusions, plans, records
from msinfuse.services.context import ServiceContext

SCREENING: list[tuple[str, Any]] = [
    ("hbsag", "negative"),
    ("anti_hbc", "negative"),
    ("igg", 10),
    ("igm", 1),
    ("iga", 2),
    ("alt", 20),
    ("ast", 20),
    ("alp", 70),
    ("bilirubin", 0.5),
]


@dataclass(frozen=True)
class SmallClinic:
    """Record ids of the small clinic."""

    site: str
    chairs: list[int]
    diaz: int
    diaz_dose: int
    diaz_appointment: int
    evans: int
    evans_dose: int
    evans_appointment: int
    fischer: int
    fischer_plan: int


def _patient(session: Session, ctx: ServiceContext, mrn: str, family: str, given: str) -> int:
    out = records.register_patient(
        session,
        ctx,
        {
            "mrn": mrn,
            "given_name": given,
            "family_name": family,
            "birth_date": "1985-02-01",
            "sex": "female",
            "ms_course": "RRMS",
            "pregnant": False,
            "childbearing_potential": False,
            "home_site": "NORTH",
            "height_cm": 168,
            "weight_kg": 64,
        },
    )
    return int(out["id"])


def build_small_clinic(session: Session, ctx: ServiceContext, today: date) -> SmallClinic:
    """Build the small clinic with the services (as a system actor)."""
    site = clinic.create_site(
        session, ctx, {"code": "NORTH", "name": "North Infusion Centre", "chairs": 3}
    )
    chairs = [c["id"] for c in site["chairs"]]
    screened_on = (today - timedelta(days=20)).isoformat()

    diaz = _patient(session, ctx, "M-1001", "Diaz", "Ana")
    for test, value in SCREENING:
        records.add_record(
            session, ctx, diaz, "lab", {"test": test, "value": value, "date": screened_on}
        )
    records.add_record(
        session,
        ctx,
        diaz,
        "vaccination",
        {"vaccine": "influenza", "live": False, "date": (today - timedelta(days=7)).isoformat()},
    )  # a non-live vaccine a week ago: a warning for the nurse to acknowledge
    plan = plans.start_plan(session, ctx, diaz, {"agent": "ocrelizumab", "start": today})
    diaz_dose = plan["doses"][0]["id"]
    diaz_appt = appointments.book(
        session,
        ctx,
        {
            "patient_id": diaz,
            "chair_id": chairs[0],
            "starts_at": datetime.combine(today, datetime.min.time()).replace(hour=9),
            "planned_dose_id": diaz_dose,
        },
    )

    evans = _patient(session, ctx, "M-1002", "Evans", "Beth")
    plan = plans.start_plan(session, ctx, evans, {"agent": "ocrelizumab", "start": today})
    evans_dose = plan["doses"][0]["id"]
    evans_appt = appointments.book(
        session,
        ctx,
        {
            "patient_id": evans,
            "chair_id": chairs[1],
            "starts_at": datetime.combine(today, datetime.min.time()).replace(hour=10),
            "planned_dose_id": evans_dose,
        },
    )

    fischer = _patient(session, ctx, "M-1003", "Fischer", "Carla")
    start = today - timedelta(days=730)
    records.add_record(
        session,
        ctx,
        fischer,
        "lab",
        {
            "test": "jcv_antibody",
            "value": "positive",
            "date": (today - timedelta(days=100)).isoformat(),
        },
    )
    for days, index in ((460, 0.4), (280, 0.7), (100, 0.9)):
        records.add_record(
            session,
            ctx,
            fischer,
            "lab",
            {
                "test": "jcv_index",
                "value": index,
                "date": (today - timedelta(days=days)).isoformat(),
            },
        )
    for days, count in ((400, 1.9), (200, 2.1), (50, 2.4)):
        records.add_record(
            session,
            ctx,
            fischer,
            "lab",
            {
                "test": "alc",
                "value": count,
                "unit": "10*9/L",
                "date": (today - timedelta(days=days)).isoformat(),
            },
        )
    for days in (700, 330):
        records.add_record(
            session,
            ctx,
            fischer,
            "procedure",
            {"procedure": "mri_brain", "date": (today - timedelta(days=days)).isoformat()},
        )
    fplan = plans.start_plan(session, ctx, fischer, {"agent": "natalizumab", "start": start})
    for n in range(26):  # every 4 weeks for two years, given before today's records began
        given = datetime.combine(start + timedelta(days=28 * n), datetime.min.time()).replace(
            hour=9
        )
        infusions.record_administration(
            session,
            ctx,
            fischer,
            {
                "plan_id": fplan["id"],
                "started_at": given,
                "ended_at": given + timedelta(hours=1),
                "historical": True,
                "reactions": [{"onset_minute": 20, "grade": 1}] if n == 3 else [],
            },
        )
    return SmallClinic(
        "NORTH",
        chairs,
        diaz,
        diaz_dose,
        diaz_appt["id"],
        evans,
        evans_dose,
        evans_appt["id"],
        fischer,
        fplan["id"],
    )
