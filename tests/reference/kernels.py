"""Slow, obvious twins of engine.kernels.* (same names). No numba, no shared code with the kernels."""
from __future__ import annotations

import math


def funding_payment(qty, marks, rates):
    """Funding over several settlements, one at a time, as Binance states it ("Funding Fees", Binance FAQ):
    fee = nominal value of the position (|size| x mark price) x |funding rate|; when the rate is positive longs
    pay shorts, when it is negative shorts pay longs. Returns what the holder receives (+) or pays (-).
    Sign by cases, not by multiplying signed numbers as the kernel does."""
    total = 0.0
    for mark, rate in zip(marks, rates, strict=True):
        fee = abs(qty) * mark * abs(rate)
        if qty == 0 or rate == 0:
            continue
        longs_pay = rate > 0
        holder_pays = (qty > 0) == longs_pay
        total += -fee if holder_pays else fee
    return total


def lending_interest(balance, apy, dt_years):
    """Interest on `balance` over dt_years at a compounding yearly yield `apy`: the growth factor
    (1 + apy)^dt taken as exp(dt x ln(1 + apy)) (expm1/log1p: no power, no shared expression with the kernel)."""
    return balance * math.expm1(dt_years * math.log1p(apy))


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
    # a whole-position table makes the level jump at a tier floor, so the breached set can be a band narrower
    # than any step: probe both sides of every floor's price too (notional tiers; base-unit tiers do not move)
    edges = [] if model.get("base") else [f / abs(qty) for f in floor if math.isfinite(f) and f > 0]
    for direction in (1.0, -1.0):
        probes, step = [], ref_px * 1e-4
        m = ref_px + direction * step
        while 0 < m < ref_px * 1e12:   # a collateral-heavy book can have its root 1e5 x ref and beyond
            probes.append(m)
            step *= 1.5
            m = ref_px + direction * step
        probes += [e * (1 + d) for e in edges for d in (-1e-12, 1e-12) if (e - ref_px) * direction > 0]
        probes.sort(key=lambda x: abs(x - ref_px))
        lo, hi = ref_px, None
        for m in probes:
            if (gap(m) > 0) != (g0 > 0):
                hi = m
                break
            lo = m
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
    """docs/architecture.md §4 "Order checks": the adverse move is fixed + impact x sqrt(participation), the
    participation |qty| / bar volume capped at the whole bar (1), and a bar without volume counted as the whole
    bar. The square root through logs, exp(ln(x) / 2) (the square-root law of market impact, Almgren et al.)."""
    if abs(qty) == 0.0 or impact == 0.0:
        return fixed
    participation = 1.0 if not volume > 0 or abs(qty) >= volume else abs(qty) / volume
    return fixed + impact * math.exp(0.5 * math.log(participation))
