"""Plain-Python twin of engine.kernels.fills.allowed_qty: the venue takes an order whole or refuses it.

Written from the venues' rules (Binance refuses, never shrinks: -2010 insufficient balance, -2019 margin is
insufficient, -2027 above the position its leverage bracket allows): a spot buy needs cash for its cost and fee,
a spot sell at most the spot held, and a perp order that raises |position| needs a margin balance after the fill
(wallet + the old position's PnL at the fill price + posted spot - the fee) of at least the new notional over the
max leverage of the tier that notional falls in. Isolated margin: the fee is paid from the cash wallet, so the
isolated margin covers the initial margin alone and the cash must pay the fee.
"""
from __future__ import annotations

FILLED, REDUCED, REFUSED = 0, 1, 2
NONE, CASH, HOLDINGS, MARGIN = 0, 1, 2, 3


def spot_allowed(qty, cash, held, px, fee):
    if qty > 0:
        cost = qty * px + qty * px * fee
        return (qty, FILLED, NONE) if cost <= cash * (1 + 1e-12) else (0.0, REFUSED, CASH)
    if -qty <= held + 1e-12:
        return max(qty, -held), FILLED, NONE
    return 0.0, REFUSED, HOLDINGS


def _tier_of(notional, floor):
    k = 0
    for j, f in enumerate(floor):
        if f <= notional:
            k = j
    return k


def perp_allowed(qty, wallet, q0, e0, coll_value, px, fee, floor, max_lev, isolated=False, cash=0.0):
    """The order whole, or refused: reducing orders always pass."""
    new = q0 + qty
    if abs(new) <= abs(q0):
        return qty, FILLED, NONE
    notional = abs(new) * px
    paid = 0.0 if isolated else abs(qty) * px * fee
    balance = wallet + q0 * (px - e0) + coll_value - paid
    if balance < notional / max_lev[_tier_of(notional, floor)]:
        return 0.0, REFUSED, MARGIN
    if isolated and fee > 0 and abs(qty) * px * fee > max(cash, 0.0) * (1 + 1e-12):
        return 0.0, REFUSED, CASH
    return qty, FILLED, NONE


def first_fill_bar(high, low, limit, buy, i0, i1):
    """The first bar in [i0, i1) a resting limit order fills in: its trades go strictly through the limit (a buy
    needs a trade below it, a sell a trade above it); bars with no data (NaN) trade nothing. -1 if none."""
    for b in range(i0, min(i1, len(high))):
        traded = low[b] if buy else high[b]
        if traded != traded:            # NaN: no real bar
            continue
        if (buy and traded < limit) or (not buy and traded > limit):
            return b
    return -1
