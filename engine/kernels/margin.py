"""Tiered maintenance margin, margin balance and liquidation price (docs/architecture.md §4, §10).

Tiers are arrays (floor, rate, amount) padded with floor=+inf: tier k covers sizes in
[floor[k], floor[k+1]), where the size is the |notional| (quote), or |qty| (base units) on a venue
whose tiers count contracts (cfg C_TIER_BASE, OKX). Tier k's maintenance margin is
notional*rate[k] - amount[k]; `amount` is the running-sum deduction (Binance, Bybit) or 0 for a
venue that applies the rate to the whole position (OKX, zeroed when the spec is read).
The venue liquidates when margin balance <= the liquidation level
    level = notional*(rate[k] + trigger) - amount[k] + close_rate*|qty|*M_b,
with `trigger` = cfg C_TRIGGER_FEE (OKX: the taker fee) and the last term Bybit's fee to close at
the bankruptcy price M_b of the perp (where wallet + qty*(M - entry) = 0), a constant of the state;
the whole level is scaled by the venue's threshold thr (cfg C_MM_THRESHOLD: 1.0, Binance portfolio
margin 1.05, which liquidates at uniMMR <= 1.05).
Margin balance is linear in the mark price M: B(M) = A + c*M, with
A = wallet - qty*entry and c = qty + collateral_base*(1 - haircut): collateral_base is what of the posted
collateral moves with the mark (advance.py passes posted spot x spot/mark at the close for the reported price,
and the collateral's slope along a bar's walk for the liquidation inside the bar). Binance's one-way isolated
formula is the special case c = qty.

Kernels call the `*_at` forms, which read row v of the (V, K) tier tables in place and take the
venue's model terms (trigger, close_rate, base: cfg columns C_TRIGGER_FEE, C_CLOSE_FEE, C_TIER_BASE)
as scalars. They are inlined into the caller and written without `break` or early returns: numba
then emits no reference-count updates for their array arguments (a row slice, a `break`, a branch
around an array argument or a non-inlined call costs two atomic updates per array per call, which was
most of the per-bar time of `advance`; passing the cfg array in did too). The 1-D forms are for tests
and the Python layer.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

INLINE = dict(cache=True, inline="always")


@njit(**INLINE)
def tier_index(size: float, floor: np.ndarray, v: int) -> int:
    """Index of venue v's tier (row v of the (V, K) `floor` table, ascending) that holds |size|."""
    n = abs(size)
    k = 0
    j = 1
    while j < floor.shape[1] and floor[v, j] <= n:
        k = j
        j += 1
    return k


@njit(**INLINE)
def tier_size(qty: float, mark_px: float, base: bool) -> float:
    """What a venue's tier floors measure: |qty| (base-unit tiers) or |qty * mark_px| (notional)."""
    return abs(qty) if base else abs(qty * mark_px)


@njit(**INLINE)
def maintenance_margin_at(qty: float, mark_px: float, floor: np.ndarray, rate: np.ndarray, amount: np.ndarray,
                          v: int, base: bool) -> float:
    """Maintenance margin (quote) of a perp of `qty` at `mark_px` under venue v's tier table."""
    k = tier_index(tier_size(qty, mark_px, base), floor, v)
    return abs(qty * mark_px) * rate[v, k] - amount[v, k]


@njit(**INLINE)
def close_fee(wallet: float, qty: float, entry: float, close_rate: float) -> float:
    """Fee to close the perp at its bankruptcy price (Bybit's term of maintenance; close_rate 0 elsewhere).

    The perp's bankruptcy price M_b solves wallet + qty*(M_b - entry) = 0, so |qty|*M_b =
    max(-sign(qty)*(wallet - qty*entry), 0): a constant of the state (spot collateral is left out,
    so a spot-hedged short is not charged for a bankruptcy price its collateral puts far away).
    """
    a = wallet - qty * entry
    s = -a if qty > 0.0 else a
    return close_rate * max(s, 0.0)


@njit(**INLINE)
def liquidation_level_at(wallet: float, qty: float, entry: float, mark_px: float, floor: np.ndarray,
                         rate: np.ndarray, amount: np.ndarray, v: int, trigger: float, close_rate: float,
                         base: bool, thr: float = 1.0) -> float:
    """Margin balance at or below which venue v liquidates: thr x (maintenance + trigger fee + fee to close).

    thr is the venue's liquidation threshold: 1.0, or 1.05 for Binance portfolio margin (uniMMR <= 1.05)."""
    return thr * (maintenance_margin_at(qty, mark_px, floor, rate, amount, v, base)
                  + abs(qty * mark_px) * trigger + close_fee(wallet, qty, entry, close_rate))


@njit(**INLINE)
def margin_balance(wallet: float, qty: float, entry: float, coll_base: float, haircut: float,
                   mark_px: float) -> float:
    """Wallet + unrealized PnL + haircut value of spot collateral, at mark price `mark_px`."""
    return wallet + qty * (mark_px - entry) + coll_base * (1.0 - haircut) * mark_px


@njit(**INLINE)
def liquidation_price_at(wallet: float, qty: float, entry: float, coll_base: float, haircut: float,
                         floor: np.ndarray, rate: np.ndarray, amount: np.ndarray, v: int, ref_px: float,
                         trigger: float, close_rate: float, base: bool, thr: float = 1.0,
                         shift: float = 0.0) -> float:
    """Mark price at which margin balance equals the liquidation level; NaN if none exists (or qty == 0).

    Solves A + c*M = thr*(|qty|*(rate_k + trigger)*M - amount_k + close_fee) in every tier and keeps roots
    that fall in their tier; of those, the one nearest `ref_px` on the side that hurts the position.
    With whole-position notional tiers the level jumps up at a floor: the floor's price is a
    crossing too when the book is breached just above it and not just below. Base-unit tiers do
    not depend on the mark (one tier holds every root). Isolated margin: pass the isolated margin
    as `wallet` and coll_base=0. `shift` is added to the balance only (not to the wallet that sets the fee to
    close): the liquidation inside a bar passes collateral walking along the bar's path this way (advance.py).
    """
    a = wallet + shift - qty * entry
    c = qty + coll_base * (1.0 - haircut)
    q = abs(qty)
    trig = trigger
    cf = close_fee(wallet, qty, entry, close_rate)
    n_k = floor.shape[1]
    jumps = not base and amount[v, n_k - 1] == 0.0     # whole-position notional tiers (a deduction table has
    best = np.nan                                      # amount > 0 at the top unless every rate is the same)
    best_dist = np.inf
    k = 0
    while qty != 0.0 and k < n_k and math.isfinite(floor[v, k]):
        r = rate[v, k] + trig
        denom = thr * q * r - c
        # balance and level parallel in this tier (a collateral-heavy book whose net exposure equals the tier's
        # rate x size): no crossing, not a root at 1e20 from the last bits of the subtraction
        flat = abs(denom) <= 1e-12 * max(thr * q * r, abs(c))
        m = (a + thr * (amount[v, k] - cf)) / denom if not flat else np.nan
        hi = floor[v, k + 1] if k + 1 < n_k else np.inf
        size = q if base else q * m
        # a root counts in its own tier only; a short dies above, a long below, and a
        # collateral-heavy book may die on either side: keep the root nearest ref_px
        if m > 0.0 and size >= floor[v, k] and size < hi and abs(m - ref_px) < best_dist:
            best = m
            best_dist = abs(m - ref_px)
        if jumps and k > 0:
            mf = floor[v, k] / q                  # a jump of the whole-position level at this floor
            bal = a + c * mf
            if (bal <= thr * (q * mf * r - amount[v, k] + cf)
                    and bal > thr * (q * mf * (rate[v, k - 1] + trig) - amount[v, k - 1] + cf)
                    and abs(mf - ref_px) < best_dist):
                best = mf
                best_dist = abs(mf - ref_px)
        k += 1
    return best


@njit(**INLINE)
def reported_liq_price(px: float, qty: float, tick: float) -> float:
    """The liquidation price as the venue REPORTS it (records, ctx.margin, distance metrics), not where it
    liquidates: with a tick (OKX, cfg C_LIQ_TICK) the root moved one tick toward the mark and onto the tick
    grid: a long's ceil(px / tick) * tick + tick (OKX's recorded ETH-USDT-SWAP long: root 2,722.1497 is
    reported 2,722.16), a short's floor(px / tick) * tick - tick (the mirror; no recorded short). 0: exact."""
    if tick <= 0.0 or not math.isfinite(px) or qty == 0.0:
        return px
    if qty > 0.0:
        return (math.ceil(px / tick - 1e-9) + 1.0) * tick
    return (math.floor(px / tick + 1e-9) - 1.0) * tick


@njit(**INLINE)
def leverage_pnl(wallet: float, upnl: float, maint: float) -> float:
    """Binance's ADL ranking of a position ("LeveragePnl", FAQ 360033525471): PnL percent x margin ratio, with
    PnL percent = max(0, unrealized profit) / max(1, wallet balance) and margin ratio = maintenance margin /
    (wallet balance + unrealized profit), 0 when that balance is <= 0. Higher is deleveraged first."""
    pct = max(0.0, upnl) / max(1.0, wallet)
    bal = wallet + upnl
    return pct * (maint / bal) if bal > 0.0 else 0.0


# -- 1-D tier tables (one venue): tests and the Python layer --------------------------------------------
@njit(cache=True)
def maintenance_margin(notional: float, floor: np.ndarray, rate: np.ndarray, amount: np.ndarray) -> float:
    """maintenance_margin_at of |notional| for a single (K,) notional tier table."""
    return maintenance_margin_at(notional, 1.0, floor.reshape((1, -1)), rate.reshape((1, -1)),
                                 amount.reshape((1, -1)), 0, False)


@njit(cache=True)
def liquidation_price(wallet: float, qty: float, entry: float, coll_base: float, haircut: float,
                      floor: np.ndarray, rate: np.ndarray, amount: np.ndarray, ref_px: float,
                      trigger_fee: float = 0.0, close_fee: float = 0.0, tier_base: bool = False,
                      thr: float = 1.0) -> float:
    """liquidation_price_at for a single (K,) tier table and the given liquidation-model terms."""
    return liquidation_price_at(wallet, qty, entry, coll_base, haircut, floor.reshape((1, -1)),
                                rate.reshape((1, -1)), amount.reshape((1, -1)), 0, ref_px, trigger_fee, close_fee,
                                tier_base, thr)
