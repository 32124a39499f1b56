"""Monitoring schedules: labs, imaging, authorizations and evaluations due per patient."""

from msinfuse.domain.monitoring.engine import (
    MonitoringEntry,
    MonitoringResult,
    monitoring,
    monitoring_status,
)

__all__ = ["MonitoringEntry", "MonitoringResult", "monitoring", "monitoring_status"]
