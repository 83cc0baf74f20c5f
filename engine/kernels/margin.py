"""Tiered maintenance margin, margin balance and liquidation price (DESIGN §4, §10).

Tiers are arrays (floor, rate, amount) padded with floor=+inf: tier k covers notional in
[floor[k], floor[k+1]) and its maintenance margin is notional*rate[k] - amount[k].
Margin balance is linear in the mark price M: B(M) = A + c*M, with
A = wallet - qty*entry and c = qty + collateral_base*(1 - haircut) (spot posted as margin is
valued at the mark). Binance's one-way isolated formula is the special case c = qty.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def tier_index(notional: float, floor: np.ndarray) -> int:
    """Index of the tier that holds |notional|."""
    n = abs(notional)
    k = 0
    for j in range(floor.shape[0]):
        if floor[j] <= n:
            k = j
        else:
            break
    return k


@njit(cache=True)
def maintenance_margin(notional: float, floor: np.ndarray, rate: np.ndarray, amount: np.ndarray) -> float:
    """Maintenance margin (quote) for a position of |notional| under the tier table."""
    k = tier_index(notional, floor)
    return abs(notional) * rate[k] - amount[k]


@njit(cache=True)
def margin_balance(wallet: float, qty: float, entry: float, coll_base: float, haircut: float,
                   mark_px: float) -> float:
    """Wallet + unrealized PnL + haircut value of spot collateral, at mark price `mark_px`."""
    return wallet + qty * (mark_px - entry) + coll_base * (1.0 - haircut) * mark_px


@njit(cache=True)
def liquidation_price(wallet: float, qty: float, entry: float, coll_base: float, haircut: float,
                      floor: np.ndarray, rate: np.ndarray, amount: np.ndarray, ref_px: float) -> float:
    """Mark price at which margin balance equals maintenance margin; NaN if none exists.

    Solves A + c*M = |qty|*rate_k*M - amount_k in every tier and keeps roots that fall in their
    tier; of those, the one nearest `ref_px` on the side that hurts the position. Isolated
    margin: pass the isolated margin as `wallet` and coll_base=0.
    """
    if qty == 0.0:
        return np.nan
    a = wallet - qty * entry
    c = qty + coll_base * (1.0 - haircut)
    q = abs(qty)
    best = np.nan
    best_dist = np.inf
    for k in range(floor.shape[0]):
        if not math.isfinite(floor[k]):
            break
        denom = q * rate[k] - c
        if denom == 0.0:
            continue
        m = (a + amount[k]) / denom
        if not (m > 0.0):
            continue
        notional = q * m
        hi = floor[k + 1] if k + 1 < floor.shape[0] else np.inf
        if notional < floor[k] or notional >= hi:
            continue
        # a short dies above, a long below; a collateral-heavy book may die on either side
        dist = abs(m - ref_px)
        if dist < best_dist:
            best = m
            best_dist = dist
    return best


@njit(cache=True)
def is_breached(wallet: float, qty: float, entry: float, coll_base: float, haircut: float,
                floor: np.ndarray, rate: np.ndarray, amount: np.ndarray, mark_px: float) -> bool:
    """True when margin balance <= maintenance margin at `mark_px` (the liquidation condition)."""
    if qty == 0.0:
        return False
    bal = margin_balance(wallet, qty, entry, coll_base, haircut, mark_px)
    return bal <= maintenance_margin(qty * mark_px, floor, rate, amount)
