"""Lending accrual (docs/architecture.md §4): balance grows by (1 + APY) ** (dt / 365 days)."""
from __future__ import annotations

from numba import njit


@njit(cache=True)
def lending_interest(balance: float, apy: float, dt_years: float) -> float:
    """Interest (quote) earned by `balance` over dt_years at a compounding annual yield `apy`."""
    if balance == 0.0:
        return 0.0
    return balance * ((1.0 + apy) ** dt_years - 1.0)
