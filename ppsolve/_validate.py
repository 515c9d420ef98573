"""Checks of scalar arguments, with errors that name the argument, what was expected and what came."""
from __future__ import annotations

import math


def real_number(value, name: str, positive: bool = False) -> float:
    """``value`` as a float; ``TypeError`` unless it is a real number (not a bool), ``ValueError`` unless it is
    finite and ``>= 0`` (``> 0`` with ``positive``)."""
    bound = "> 0" if positive else ">= 0"
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a number {bound}, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number {bound}, got {value!r}") from None
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ValueError(f"{name}: expected a finite number {bound}, got {value!r}")
    return number
