"""Pre-infusion checks: findings with severities, rule ids and citations."""

from msinfuse.domain.safety.context import CheckContext, CheckRequest
from msinfuse.domain.safety.engine import CheckResult, check
from msinfuse.domain.safety.rules import RULES, Rule

__all__ = ["RULES", "CheckContext", "CheckRequest", "CheckResult", "Rule", "check"]
