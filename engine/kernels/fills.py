"""Order fills with fees and slippage, booked so that the bar's PnL parts still sum to its equity change.

Valuation runs from the previous close (prev_spot / prev_mark). A fill at `ref_px` adds the
correction dq * (prev - ref): its price part uses the spot move, its basis part the rest.

Orders are checked the way a venue checks them (issue 13, issue 23 item 9): a spot buy must be paid by the
venue's cash (fee included), a spot sell must not exceed the spot held (no spot shorting), and a perp order
that raises exposure must leave a margin balance that covers its initial margin (notional / the max leverage
of the tier holding the new notional). An order that fails is REFUSED whole (codes.O_*), as Binance refuses
it (-2010 insufficient balance, -2019 margin is insufficient, -2027 above the bracket's position cap): a venue
never fills a smaller order than the one sent. Orders that only reduce the position always pass.

Maker fills (`maker`): a resting limit order traded through at its limit price (engine/runner.py decides
when): no slippage, the maker fee (negative: a rebate). Isolated margin: trading fees are paid from the
venue's cash wallet, not from the isolated margin (OKX books them in realized PnL and keeps `margin`).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from basisbt.engine.kernels.arrays import Ledger, Records, State, VenueTables
from basisbt.engine.kernels.book import home_row, update_position, wallet_col, wallet_row, write_ledger
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_ENTRY,
    A_ISO,
    A_QTY,
    A_SPOT,
    C_HAIRCUT,
    C_HOME_OFF,
    C_ISOLATED,
    C_MAKER,
    C_SLIP,
    C_SLIP_IMPACT,
    C_SPOT_COLL,
    C_SPOT_MAKER,
    C_SPOT_TAKER,
    C_TAKER,
    C_TIER_BASE,
    K_FEE,
    K_REALIZED,
    K_SPOT_TRADE,
    O_FILLED,
    O_REFUSED,
    P_BASIS,
    P_FEES,
    P_PRICE,
    P_SLIPPAGE,
    SPOT,
    WHY_CASH,
    WHY_HOLDINGS,
    WHY_MARGIN,
    WHY_NONE,
)
from basisbt.engine.kernels.margin import tier_index, tier_size


@njit(cache=True)
def slippage_fraction(qty: float, volume: float, fixed: float, impact: float) -> float:
    """Adverse price move as a fraction: fixed + impact * sqrt(participation), participation <= 1."""
    if impact == 0.0:
        return fixed
    part = 1.0 if volume <= 0.0 else min(abs(qty) / volume, 1.0)
    return fixed + impact * math.sqrt(part)


@njit(cache=True)
def first_fill_bar(high: np.ndarray, low: np.ndarray, limit: float, buy: bool, i0: int, i1: int) -> int:
    """The first bar in [i0, i1) whose trades go STRICTLY through a resting limit order's price (a buy: the bar's
    low below the limit; a sell: its high above it), -1 if none. NaN bars (no real bar) never fill."""
    end = min(i1, high.shape[0])
    b = i0
    found = -1
    while b < end and found < 0:
        if (low[b] < limit) if buy else (high[b] > limit):
            found = b
        b += 1
    return found


@njit(cache=True)
def perp_margin_ok(wallet: float, q0: float, e0: float, coll_value: float, dq: float, px: float, fee_rate: float,
                   floor: np.ndarray, max_lev: np.ndarray, v: int, tier_base: float = 0.0, other_im: float = 0.0) -> bool:
    """True if trading dq at px leaves margin balance >= initial margin (or does not raise exposure).

    Margin balance after the fill: wallet + q0 * (px - e0) (realized or not, the old position's
    PnL at px stays in it) + collateral value - the fee; the new position itself has no PnL at px.
    `other_im`: initial margin of the cross account's other perps (several assets; their PnL is in wallet).
    """
    new_q = q0 + dq
    if abs(new_q) <= abs(q0):
        return True
    notional = abs(new_q) * px
    k = tier_index(abs(new_q) if tier_base > 0.5 else notional, floor, v)    # OKX tiers count contracts
    balance = wallet + q0 * (px - e0) + coll_value - abs(dq) * px * fee_rate
    return balance >= notional / max_lev[v, k] + other_im


@njit(cache=True, inline="always")
def account_others(state: State, vt: VenueTables, v: int) -> tuple:
    """(margin value, initial margin) of the other slots of slot v's cross account at the last valuation:
    their perps' unrealized PnL and spot collateral, and their perps' initial margin. (0, 0) with one asset."""
    acct, cfg = state.acct, vt.cfg
    n = acct.shape[0]
    value = 0.0
    im = 0.0
    home = home_row(cfg, v)
    if cfg[v, C_ISOLATED] > 0.5 or (home == v and (v + 1 >= n or cfg[v + 1, C_HOME_OFF] == 0.0)):
        return value, im
    u = home
    while u < n and home_row(cfg, u) == home:
        if u != v and cfg[u, C_ISOLATED] < 0.5:
            q, m, s = acct[u, A_QTY], state.prev_mark[u], state.prev_spot[u]
            if q != 0.0 and not math.isnan(m):
                value += q * (m - acct[u, A_ENTRY])
                k = tier_index(tier_size(q, m, cfg[u, C_TIER_BASE] > 0.5), vt.floor, u)
                im += abs(q) * m / vt.max_lev[u, k]
            if cfg[u, C_SPOT_COLL] > 0.5 and not math.isnan(s):
                value += acct[u, A_SPOT] * (1.0 - cfg[u, C_HAIRCUT]) * s
        u += 1
    return value, im


@njit(cache=True)
def allowed_qty(state: State, vt: VenueTables, v: int, instrument: int, qty: float, exec_px: float,
                spot_px: float, fee_rate: float) -> tuple:
    """(qty the venue accepts, status O_*, reason WHY_*) for an order of `qty` at exec_px paying `fee_rate`:
    the whole order, or nothing (the venue refuses what it cannot take whole)."""
    acct = state.acct
    cash = acct[home_row(vt.cfg, v), A_CASH]
    if instrument == SPOT:
        if qty > 0.0:
            if qty * exec_px * (1.0 + fee_rate) <= cash * (1.0 + 1e-12):
                return qty, O_FILLED, WHY_NONE
            return 0.0, O_REFUSED, WHY_CASH
        held = acct[v, A_SPOT]
        if -qty <= held + 1e-12:
            return max(qty, -held), O_FILLED, WHY_NONE
        return 0.0, O_REFUSED, WHY_HOLDINGS
    iso = vt.cfg[v, C_ISOLATED] > 0.5
    others, other_im = account_others(state, vt, v)
    wallet = acct[v, A_ISO] if iso else cash + others
    coll = 0.0
    if not iso and vt.cfg[v, C_SPOT_COLL] > 0.5:
        coll = acct[v, A_SPOT] * (1.0 - vt.cfg[v, C_HAIRCUT]) * spot_px
    q0, e0 = acct[v, A_QTY], acct[v, A_ENTRY]
    # isolated: the fee is paid from the cash wallet, so the isolated margin must cover the initial margin alone
    if not perp_margin_ok(wallet, q0, e0, coll, qty, exec_px, 0.0 if iso else fee_rate, vt.floor, vt.max_lev, v,
                          vt.cfg[v, C_TIER_BASE], other_im):
        return 0.0, O_REFUSED, WHY_MARGIN
    if iso and abs(qty) * exec_px * fee_rate > max(cash, 0.0) * (1.0 + 1e-12) and fee_rate > 0.0:
        return 0.0, O_REFUSED, WHY_CASH
    return qty, O_FILLED, WHY_NONE


@njit(cache=True)
def fill_order(state: State, vt: VenueTables, rec: Records, ledger: Ledger, bar: int, ts_ns: int,
               v: int, instrument: int, qty: float, ref_px: float, spot_ref_px: float, volume: float,
               fill_id: int, maker: bool = False) -> tuple:
    """Execute `qty` (signed base) of spot or perp on venue v at ref_px +/- slippage with the taker fee, or,
    `maker`, at ref_px (the limit price) with the maker fee and no slippage.

    Checks the order first (module docstring): a refused one books nothing. Books cash, position, ledger rows
    and the PnL parts of bar `bar`. Returns (filled qty, exec_px, fee, slippage_cost, status O_*, reason WHY_*),
    costs as quote amounts (a maker rebate is a negative fee).
    """
    acct = state.acct
    if maker:
        slip = 0.0
        fee_rate = vt.cfg[v, C_SPOT_MAKER] if instrument == SPOT else vt.cfg[v, C_MAKER]
    else:
        slip = slippage_fraction(qty, volume, vt.cfg[v, C_SLIP], vt.cfg[v, C_SLIP_IMPACT])
        fee_rate = vt.cfg[v, C_SPOT_TAKER] if instrument == SPOT else vt.cfg[v, C_TAKER]
    exec_px = ref_px * (1.0 + slip) if qty > 0.0 else ref_px * (1.0 - slip)
    qty, status, reason = allowed_qty(state, vt, v, instrument, qty, exec_px, spot_ref_px, fee_rate)
    if status == O_REFUSED:
        return 0.0, exec_px, 0.0, 0.0, status, reason
    slip_cost = qty * (exec_px - ref_px)          # >= 0: what slippage took
    prev_s = state.prev_spot[v]
    home = home_row(vt.cfg, v)
    fee = abs(qty) * exec_px * fee_rate
    if instrument == SPOT:
        acct[home, A_CASH] -= qty * exec_px + fee
        acct[v, A_SPOT] += qty
        write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_SPOT_TRADE, -qty * exec_px, fill_id)
        price_part = qty * (prev_s - ref_px)
        basis_part = 0.0
    else:
        col = wallet_col(vt.cfg, v)
        new_q, new_e, realized = update_position(acct[v, A_QTY], acct[v, A_ENTRY], qty, exec_px)
        acct[v, A_QTY] = new_q
        acct[v, A_ENTRY] = new_e
        acct[wallet_row(vt.cfg, v), col] += realized
        acct[home, A_CASH] -= fee                # isolated too: the fee is the wallet's, not the isolated margin's
        if realized != 0.0:
            write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_REALIZED, realized, fill_id)
        if new_q == 0.0 and col == A_ISO:         # closed: isolated margin returns to the wallet
            acct[home, A_CASH] += acct[v, A_ISO]
            acct[v, A_ISO] = 0.0
        prev_m = state.prev_mark[v]
        price_part = qty * (prev_s - spot_ref_px)
        basis_part = qty * ((prev_m - prev_s) - (ref_px - spot_ref_px))
    write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_FEE, -fee, fill_id)
    rec.pnl[bar, P_PRICE] += price_part
    rec.pnl[bar, P_BASIS] += basis_part
    rec.pnl[bar, P_FEES] -= fee
    rec.pnl[bar, P_SLIPPAGE] -= slip_cost
    rec.attr[v, P_PRICE] += price_part
    rec.attr[v, P_BASIS] += basis_part
    rec.attr[v, P_FEES] -= fee
    rec.attr[v, P_SLIPPAGE] -= slip_cost
    return qty, exec_px, fee, slip_cost, status, reason
