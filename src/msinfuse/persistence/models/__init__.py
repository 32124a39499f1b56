"""ORM models, one module per aggregate. Importing this package registers every table."""

from msinfuse.persistence.models.audit import AuditEvent
from msinfuse.persistence.models.auth import ApiToken, SigninAttempt
from msinfuse.persistence.models.checks import CheckAcknowledgement, CheckOverride, CheckResult
from msinfuse.persistence.models.clinic import Chair, NurseShift, Site, User
from msinfuse.persistence.models.corrections import Correction
from msinfuse.persistence.models.exchange import CalendarFeed, ExchangeIdentifier, InstanceSetting
from msinfuse.persistence.models.infusions import (
    Administration,
    Appointment,
    InfusionReaction,
    PremedicationGiven,
    RateEvent,
    VitalSign,
)
from msinfuse.persistence.models.limits import VitalSignLimitChange
from msinfuse.persistence.models.patients import (
    Authorization,
    Condition,
    CourseHistory,
    Lab,
    Patient,
    Procedure,
    Therapy,
    Vaccination,
)
from msinfuse.persistence.models.plans import PlannedDose, PlanReview, TreatmentPlan
from msinfuse.persistence.models.projections import MonitoringDue, PmlRiskSnapshot
from msinfuse.persistence.models.scheduling import ScheduleProposal

__all__ = [
    "Administration",
    "ApiToken",
    "Appointment",
    "AuditEvent",
    "Authorization",
    "CalendarFeed",
    "Chair",
    "CheckAcknowledgement",
    "CheckOverride",
    "CheckResult",
    "Condition",
    "Correction",
    "CourseHistory",
    "ExchangeIdentifier",
    "InfusionReaction",
    "InstanceSetting",
    "Lab",
    "MonitoringDue",
    "NurseShift",
    "Patient",
    "PlanReview",
    "PlannedDose",
    "PmlRiskSnapshot",
    "PremedicationGiven",
    "Procedure",
    "RateEvent",
    "ScheduleProposal",
    "SigninAttempt",
    "Site",
    "Therapy",
    "TreatmentPlan",
    "User",
    "Vaccination",
    "VitalSign",
    "VitalSignLimitChange",
]
