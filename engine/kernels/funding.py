"""Funding settlement (docs/architecture.md §4): payment = -qty * mark * rate; a short earns when rate > 0."""
from __future__ import annotations

from numba import njit


@njit(cache=True)
def funding_payment(qty: float, rate_x_mark: float) -> float:
    """Quote cash the position holder receives (+) or pays (-) for the settlements of one bar.

    `rate_x_mark` is the sum over those settlements of rate x the mark price known at each one,
    so two settlements in one bar (or a rate that flips sign) are each priced at their own time.
    """
    return -qty * rate_x_mark
