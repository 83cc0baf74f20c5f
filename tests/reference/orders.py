"""Plain-Python twin of engine.kernels.fills.allowed_qty: the same venue rules, solved in closed form.

The kernel bisects on the perp margin condition; here, within each tier the condition is linear in
the order size x (margin balance falls by x * px * fee, initial margin is |q0 + s x| * px / lev_k),
so the largest x of each tier is solved exactly and the best feasible one kept.
"""
from __future__ import annotations

import math

FILLED, REDUCED, REFUSED = 0, 1, 2
NONE, CASH, HOLDINGS, MARGIN = 0, 1, 2, 3


def spot_allowed(qty, cash, held, px, fee):
    if qty > 0:
        most = max(cash, 0.0) / (px * (1 + fee))
        if qty <= most:
            return qty, FILLED, NONE
        return (most, REDUCED, CASH) if most > 1e-12 * qty else (0.0, REFUSED, CASH)
    if -qty <= held + 1e-12:
        return max(qty, -held), FILLED, NONE
    return (-held, REDUCED, HOLDINGS) if held > 1e-12 else (0.0, REFUSED, HOLDINGS)


def perp_allowed(qty, wallet, q0, e0, coll_value, px, fee, floor, max_lev):
    """Largest |x| <= |qty| in the order's direction with balance(x) >= IM(x), or the part that only reduces."""
    s = 1.0 if qty > 0 else -1.0
    base = wallet + q0 * (px - e0) + coll_value

    def ok(x):
        new = q0 + s * x
        if abs(new) <= abs(q0):
            return True
        n = abs(new) * px
        k = max(j for j, f in enumerate(floor) if n >= f)
        return base - x * px * fee >= n / max_lev[k]

    if ok(abs(qty)):
        return qty, FILLED, NONE
    # x where the order stops reducing and starts adding exposure
    x0 = 2 * abs(q0) if q0 * s < 0 else 0.0
    best = min(x0, abs(qty)) if q0 * s < 0 else 0.0
    for k, f in enumerate(floor):
        if not math.isfinite(f):
            break
        hi_n = floor[k + 1] if k + 1 < len(floor) else math.inf
        # on the adding side |new| = s*(q0 + s x) = s*q0 + x, so N(x) = (s*q0 + x) * px
        # base - x px fee >= (s q0 + x) px / lev  <=>  x <= (base - s q0 px / lev) / (px fee + px / lev)
        lev = max_lev[k]
        x_max = (base - s * q0 * px / lev) / (px * fee + px / lev)
        lo_x = max(f / px - s * q0, x0)
        hi_x = min(hi_n / px - s * q0, abs(qty))
        x = min(x_max, hi_x)
        if x >= lo_x and x > best:
            best = x
    if best <= 1e-9 * abs(qty) or best <= 1e-12:
        return 0.0, REFUSED, MARGIN
    return s * best, REDUCED, MARGIN
