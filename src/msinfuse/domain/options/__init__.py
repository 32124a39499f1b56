"""Treatment options and practical burden."""

from msinfuse.domain.options.burden import Burden, InfusionTime, burden
from msinfuse.domain.options.engine import FRAMING, AgentOption, Options, Risk, options

__all__ = [
    "FRAMING",
    "AgentOption",
    "Burden",
    "InfusionTime",
    "Options",
    "Risk",
    "burden",
    "options",
]
