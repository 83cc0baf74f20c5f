"""Funding settlement (DESIGN §4): payment = -qty * mark * rate; a short earns when rate > 0."""
from __future__ import annotations

from numba import njit


@njit(cache=True)
def funding_payment(qty: float, mark_px: float, rate: float) -> float:
    """Quote cash the position holder receives (+) or pays (-) at one settlement."""
    return -qty * mark_px * rate
