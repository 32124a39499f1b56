"""Body-surface area for mg/m² dosing (clinical-decisions §3)."""

from __future__ import annotations

import math

from msinfuse.errors import InvalidInput


def bsa_mosteller(height_cm: float, weight_kg: float) -> float:
    """Body-surface area in m² by Mosteller, sqrt(height cm × weight kg / 3600), to 2 decimals."""
    if height_cm <= 0 or weight_kg <= 0:
        raise InvalidInput("height and weight must be positive")
    return round(math.sqrt(height_cm * weight_kg / 3600.0), 2)


def dose_for_bsa(dose_mg_per_m2: float, bsa_m2: float) -> float:
    """The dose in mg for ``bsa_m2``, rounded to 0.1 mg (clinical-decisions §3)."""
    return round(dose_mg_per_m2 * bsa_m2, 1)
