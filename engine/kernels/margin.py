"""Tiered maintenance margin, margin balance and liquidation price (docs/architecture.md §4, §10).

Tiers are arrays (floor, rate, amount) padded with floor=+inf: tier k covers notional in
[floor[k], floor[k+1]) and its maintenance margin is notional*rate[k] - amount[k].
Margin balance is linear in the mark price M: B(M) = A + c*M, with
A = wallet - qty*entry and c = qty + collateral_base*(1 - haircut) (spot posted as margin is
valued at the mark). Binance's one-way isolated formula is the special case c = qty.

Kernels call the `*_at` forms, which read row v of the (V, K) tier tables in place. They are
inlined into the caller and written without `break` or early returns: numba then emits no
reference-count updates for their array arguments (a row slice, a `break` or a non-inlined call
costs two atomic updates per array per call, which was most of the per-bar time of `advance`).
The 1-D forms are for tests and the Python layer.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


INLINE = dict(cache=True, inline="always")


@njit(**INLINE)
def tier_index(notional: float, floor: np.ndarray, v: int) -> int:
    """Index of venue v's tier (row v of the (V, K) `floor` table, ascending) that holds |notional|."""
    n = abs(notional)
    k = 0
    j = 1
    while j < floor.shape[1] and floor[v, j] <= n:
        k = j
        j += 1
    return k


@njit(**INLINE)
def maintenance_margin_at(notional: float, floor: np.ndarray, rate: np.ndarray, amount: np.ndarray,
                          v: int) -> float:
    """Maintenance margin (quote) of |notional| under venue v's tier table."""
    k = tier_index(notional, floor, v)
    return abs(notional) * rate[v, k] - amount[v, k]


@njit(**INLINE)
def margin_balance(wallet: float, qty: float, entry: float, coll_base: float, haircut: float,
                   mark_px: float) -> float:
    """Wallet + unrealized PnL + haircut value of spot collateral, at mark price `mark_px`."""
    return wallet + qty * (mark_px - entry) + coll_base * (1.0 - haircut) * mark_px


@njit(**INLINE)
def liquidation_price_at(wallet: float, qty: float, entry: float, coll_base: float, haircut: float,
                         floor: np.ndarray, rate: np.ndarray, amount: np.ndarray, v: int, ref_px: float,
                         thr: float = 1.0) -> float:
    """Mark price at which margin balance equals thr x maintenance margin; NaN if none exists (or qty == 0).

    Solves A + c*M = thr*(|qty|*rate_k*M - amount_k) in every tier (thr: the venue's liquidation
    threshold, 1.0; Binance portfolio margin liquidates at uniMMR <= 1.05) and keeps roots that fall in their
    tier; of those, the one nearest `ref_px` on the side that hurts the position. Isolated
    margin: pass the isolated margin as `wallet` and coll_base=0.
    """
    a = wallet - qty * entry
    c = qty + coll_base * (1.0 - haircut)
    q = abs(qty)
    n_k = floor.shape[1]
    best = np.nan
    best_dist = np.inf
    k = 0
    while qty != 0.0 and k < n_k and math.isfinite(floor[v, k]):
        denom = thr * q * rate[v, k] - c
        m = (a + thr * amount[v, k]) / denom if denom != 0.0 else np.nan
        hi = floor[v, k + 1] if k + 1 < n_k else np.inf
        # a root counts in its own tier only; a short dies above, a long below, and a
        # collateral-heavy book may die on either side: keep the root nearest ref_px
        if m > 0.0 and q * m >= floor[v, k] and q * m < hi and abs(m - ref_px) < best_dist:
            best = m
            best_dist = abs(m - ref_px)
        k += 1
    return best


@njit(**INLINE)
def is_breached_at(wallet: float, qty: float, entry: float, coll_base: float, haircut: float,
                   floor: np.ndarray, rate: np.ndarray, amount: np.ndarray, v: int, mark_px: float,
                   thr: float = 1.0) -> bool:
    """True when margin balance <= thr x maintenance margin at `mark_px` (the liquidation condition)."""
    bal = margin_balance(wallet, qty, entry, coll_base, haircut, mark_px)
    return qty != 0.0 and bal <= thr * maintenance_margin_at(qty * mark_px, floor, rate, amount, v)


# -- 1-D tier tables (one venue): tests and the Python layer --------------------------------------------
@njit(cache=True)
def maintenance_margin(notional: float, floor: np.ndarray, rate: np.ndarray, amount: np.ndarray) -> float:
    """maintenance_margin_at for a single (K,) tier table."""
    return maintenance_margin_at(notional, floor.reshape((1, -1)), rate.reshape((1, -1)),
                                 amount.reshape((1, -1)), 0)


@njit(cache=True)
def liquidation_price(wallet: float, qty: float, entry: float, coll_base: float, haircut: float,
                      floor: np.ndarray, rate: np.ndarray, amount: np.ndarray, ref_px: float,
                      thr: float = 1.0) -> float:
    """liquidation_price_at for a single (K,) tier table."""
    return liquidation_price_at(wallet, qty, entry, coll_base, haircut, floor.reshape((1, -1)),
                                rate.reshape((1, -1)), amount.reshape((1, -1)), 0, ref_px, thr)
