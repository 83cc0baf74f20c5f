"""Slow, obvious twins of engine.kernels.* (same names). No numba, no shared code with the kernels."""
from __future__ import annotations

import math


def funding_payment(qty, mark_px, rate):
    # a short (qty < 0) receives qty_abs * px * rate when rate > 0
    return -qty * mark_px * rate


def lending_interest(balance, apy, dt_years):
    return balance * (1.0 + apy) ** dt_years - balance


def tier_index(notional, floor):
    k = 0
    for j, f in enumerate(floor):
        if math.isfinite(f) and abs(notional) >= f:
            k = j
    return k


def maintenance_margin(notional, floor, rate, amount):
    k = tier_index(notional, floor)
    return abs(notional) * rate[k] - amount[k]


def liquidation_level(wallet, qty, entry, mark_px, floor, rate, amount, trigger=0.0, close_fee=0.0, base=False,
                      thr=1.0):
    """Maintenance in the tier the venue counts (|qty| if base else notional), plus the trigger fee on the
    notional, plus the fee to close at the perp's bankruptcy price (where wallet + qty*(M - entry) hits 0),
    all times the venue's threshold (1.0; 1.05 for Binance portfolio margin; 0 means unset = 1.0)."""
    notional = abs(qty * mark_px)
    k = tier_index(abs(qty) if base else notional, floor)
    bankrupt_px = max(entry - wallet / qty, 0.0)
    level = notional * rate[k] - amount[k] + notional * trigger + close_fee * abs(qty) * bankrupt_px
    return (thr if thr > 0 else 1.0) * level


def margin_balance(wallet, qty, entry, coll_base, haircut, mark_px):
    return wallet + qty * (mark_px - entry) + coll_base * (1 - haircut) * mark_px


def is_breached(wallet, qty, entry, coll_base, haircut, floor, rate, amount, mark_px, **model):
    if qty == 0:
        return False
    return margin_balance(wallet, qty, entry, coll_base, haircut, mark_px) <= \
        liquidation_level(wallet, qty, entry, mark_px, floor, rate, amount, **model)


def liquidation_price(wallet, qty, entry, coll_base, haircut, floor, rate, amount, ref_px, **model):
    """By bisection on the breach condition, walking away from ref_px on each side (independent of the
    kernel's closed form). Returns the nearest crossing, or NaN. `model`: liquidation_level's keywords."""
    if qty == 0:
        return math.nan

    def gap(m):
        return margin_balance(wallet, qty, entry, coll_base, haircut, m) - \
            liquidation_level(wallet, qty, entry, m, floor, rate, amount, **model)

    best = math.nan
    g0 = gap(ref_px)
    for direction in (1.0, -1.0):
        lo, step = ref_px, ref_px * 1e-4
        hi = None
        m = ref_px
        while 0 < m < ref_px * 1e12:   # a collateral-heavy book can have its root 1e5 x ref and beyond
            m = lo + direction * step
            if m <= 0:
                break
            if (gap(m) > 0) != (g0 > 0):
                hi = m
                break
            lo, step = m, step * 1.5
        if hi is None:
            continue
        a, b = lo, hi
        for _ in range(200):
            mid = 0.5 * (a + b)
            if (gap(mid) > 0) == (g0 > 0):
                a = mid
            else:
                b = mid
        root = 0.5 * (a + b)
        if math.isnan(best) or abs(root - ref_px) < abs(best - ref_px):
            best = root
    return best


def update_position(qty, entry, dq, px):
    """(qty, entry, realized) after trading dq at px, by splitting the trade into close and open legs."""
    closing = 0.0
    if qty != 0 and (qty > 0) != (dq > 0):
        closing = -min(abs(dq), abs(qty)) * (1 if qty > 0 else -1)   # signed change that closes
    opening = dq - closing
    realized = -closing * (px - entry)
    q = qty + closing
    e = entry if q != 0 else 0.0
    if opening != 0:
        e = (q * e + opening * px) / (q + opening)
        q = q + opening
    return q, e, realized


def slippage_fraction(qty, volume, fixed, impact):
    if impact == 0:
        return fixed
    part = 1.0 if volume <= 0 else min(abs(qty) / volume, 1.0)
    return fixed + impact * part ** 0.5
