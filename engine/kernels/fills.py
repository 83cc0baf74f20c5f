"""Order fills with fees and slippage, booked so that the bar's PnL parts still sum to its equity change.

Valuation runs from the previous close (prev_spot / prev_mark). A fill at `ref_px` adds the
correction dq * (prev - ref): its price part uses the spot move, its basis part the rest.
"""
from __future__ import annotations

import math

from numba import njit

from basisbt.engine.kernels.arrays import Ledger, Records, State, VenueTables
from basisbt.engine.kernels.book import update_position, wallet_col, write_ledger
from basisbt.engine.kernels.codes import (A_CASH, A_ENTRY, A_ISO, A_QTY, A_SPOT, C_SLIP, C_SLIP_IMPACT, C_SPOT_TAKER,
                                  C_TAKER, K_FEE, K_REALIZED, K_SPOT_TRADE, P_BASIS, P_FEES, P_PRICE,
                                  P_SLIPPAGE, SPOT)


@njit(cache=True)
def slippage_fraction(qty: float, volume: float, fixed: float, impact: float) -> float:
    """Adverse price move as a fraction: fixed + impact * sqrt(participation), participation <= 1."""
    if impact == 0.0:
        return fixed
    part = 1.0 if volume <= 0.0 else min(abs(qty) / volume, 1.0)
    return fixed + impact * math.sqrt(part)


@njit(cache=True)
def fill_order(state: State, vt: VenueTables, rec: Records, ledger: Ledger, bar: int, ts_ns: int,
               v: int, instrument: int, qty: float, ref_px: float, spot_ref_px: float, volume: float,
               fill_id: int) -> tuple:
    """Execute `qty` (signed base) of spot or perp on venue v at ref_px +/- slippage, taker fee.

    Books cash, position, ledger rows and the PnL parts of bar `bar`. Returns
    (exec_px, fee, slippage_cost), costs as positive quote amounts.
    """
    acct = state.acct
    slip = slippage_fraction(qty, volume, vt.cfg[v, C_SLIP], vt.cfg[v, C_SLIP_IMPACT])
    exec_px = ref_px * (1.0 + slip) if qty > 0.0 else ref_px * (1.0 - slip)
    slip_cost = qty * (exec_px - ref_px)          # >= 0: what slippage took
    prev_s = state.prev_spot[v]
    if instrument == SPOT:
        fee = abs(qty) * exec_px * vt.cfg[v, C_SPOT_TAKER]
        acct[v, A_CASH] -= qty * exec_px + fee
        acct[v, A_SPOT] += qty
        write_ledger(ledger.li, ledger.lf, ledger.count, ts_ns, v, K_SPOT_TRADE, -qty * exec_px, fill_id)
        price_part = qty * (prev_s - ref_px)
        basis_part = 0.0
    else:
        fee = abs(qty) * exec_px * vt.cfg[v, C_TAKER]
        col = wallet_col(vt.cfg, v)
        new_q, new_e, realized = update_position(acct[v, A_QTY], acct[v, A_ENTRY], qty, exec_px)
        acct[v, A_QTY] = new_q
        acct[v, A_ENTRY] = new_e
        acct[v, col] += realized - fee
        if realized != 0.0:
            write_ledger(ledger.li, ledger.lf, ledger.count, ts_ns, v, K_REALIZED, realized, fill_id)
        if new_q == 0.0 and col == A_ISO:         # closed: isolated margin returns to the wallet
            acct[v, A_CASH] += acct[v, A_ISO]
            acct[v, A_ISO] = 0.0
        prev_m = state.prev_mark[v]
        price_part = qty * (prev_s - spot_ref_px)
        basis_part = qty * ((prev_m - prev_s) - (ref_px - spot_ref_px))
    write_ledger(ledger.li, ledger.lf, ledger.count, ts_ns, v, K_FEE, -fee, fill_id)
    rec.pnl[bar, P_PRICE] += price_part
    rec.pnl[bar, P_BASIS] += basis_part
    rec.pnl[bar, P_FEES] -= fee
    rec.pnl[bar, P_SLIPPAGE] -= slip_cost
    rec.attr[v, P_PRICE] += price_part
    rec.attr[v, P_BASIS] += basis_part
    rec.attr[v, P_FEES] -= fee
    rec.attr[v, P_SLIPPAGE] -= slip_cost
    return exec_px, fee, slip_cost
