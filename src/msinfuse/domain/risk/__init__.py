"""Natalizumab PML risk."""

from msinfuse.domain.risk.pml import PmlRisk, RiskFactor, pml_risk, pml_risk_from_state

__all__ = ["PmlRisk", "RiskFactor", "pml_risk", "pml_risk_from_state"]
