"""Fast-forward the book over a range of bars (hftbacktest's "advance until the next event").

For each bar i in [i0, i1), at its close instant t (DESIGN §3 order):
1. liquidation check on the bar's worst mark (high for a short, low for a long);
2. funding settlements of the bar, on the positions held;
3. lending interest over the bar, then transfers that have arrived by t;
4. mark to market at the close, records for the bar.
With partial liquidation on (a venue option), a breach in tier k > 0 first closes the part of the
position above the tier below's floor at the liquidation price; the rest is checked again over the
same bar (from that price) and closed whole if it breaches too. Stops after a bar with a liquidation (the strategy must hear of it) or before a bar when the
ledger buffer could overflow. Returns (next bar to process, stop code).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.kernels.arrays import Ledger, MarketArrays, Records, State, Tiers
from engine.kernels.book import book_equity, wallet_col, write_ledger
from engine.kernels.codes import (A_CASH, A_ENTRY, A_ISO, A_QTY, A_SPOT, C_HAIRCUT, C_ISOLATED, C_LIQ_FEE, C_PARTIAL,
                                  C_SPOT_COLL, K_FUNDING, K_INSURANCE, K_LENDING, K_LEND_SUPPLY, K_LIQ_FEE,
                                  K_REALIZED, K_TRANSFER_IN, N_LIQ, P_BASIS, P_FUNDING, P_LENDING,
                                  P_LIQUIDATION, P_PRICE, Q_BAR, Q_FEE, Q_INSURANCE, Q_PRICE, Q_QTY, Q_VENUE,
                                  R_LIQ_PX, R_MAINT, R_MARGIN, R_QTY, R_SPOT, STOP_END, STOP_LEDGER_FULL,
                                  STOP_LIQUIDATION, T_AMOUNT, T_ARRIVE_NS, T_DEST)
from engine.kernels.funding import funding_payment
from engine.kernels.lending import lending_interest
from engine.kernels.margin import (is_breached, liquidation_price, maintenance_margin, margin_balance,
                                   tier_index)


@njit(cache=True)
def collateral_base(acct: np.ndarray, vcfg: np.ndarray, v: int) -> float:
    """Spot base units that count as perp margin on venue v (0 unless cross with spot collateral)."""
    if vcfg[v, C_SPOT_COLL] > 0.5 and vcfg[v, C_ISOLATED] < 0.5:
        return acct[v, A_SPOT]
    return 0.0


@njit(cache=True)
def liquidation_fill_price(state: State, vcfg: np.ndarray, tiers: Tiers, mkt: MarketArrays, i: int,
                           v: int, m_start: float) -> float:
    """Mark price at which venue v's perp is liquidated during bar i (path starting at m_start), or NaN."""
    acct = state.acct
    q = acct[v, A_QTY]
    wallet = acct[v, wallet_col(vcfg, v)]
    coll = collateral_base(acct, vcfg, v)
    h = vcfg[v, C_HAIRCUT]
    fl, rt, am = tiers.floor[v], tiers.rate[v], tiers.amount[v]
    lo = mkt.mark_low[i, v]
    hi = mkt.mark_high[i, v]
    first, second = (hi, lo) if q < 0.0 else (lo, hi)
    for m_worst in (first, second):
        if is_breached(wallet, q, acct[v, A_ENTRY], coll, h, fl, rt, am, m_worst):
            if is_breached(wallet, q, acct[v, A_ENTRY], coll, h, fl, rt, am, m_start):
                return m_start                      # gapped through: closed where the path starts
            px = liquidation_price(wallet, q, acct[v, A_ENTRY], coll, h, fl, rt, am, m_start)
            if math.isnan(px) or px < lo or px > hi:
                return m_worst
            return px
    return np.nan


@njit(cache=True)
def liquidate(state: State, vcfg: np.ndarray, rec: Records, ledger: Ledger, i: int, ts_ns: int, v: int,
              px: float, q: float, liq_id: int, liq_out: np.ndarray, slot: int) -> None:
    """Close `q` (signed, part or all of venue v's perp) at `px`, charge the liquidation fee on it,
    let the insurance fund absorb a deficit."""
    acct = state.acct
    col = wallet_col(vcfg, v)
    entry = acct[v, A_ENTRY]
    realized = q * (px - entry)
    fee = abs(q) * px * vcfg[v, C_LIQ_FEE]
    acct[v, col] += realized - fee
    rest = acct[v, A_QTY] - q
    if abs(rest) < 1e-12 * max(abs(q), 1.0):
        rest = 0.0
    acct[v, A_QTY] = rest
    acct[v, A_ENTRY] = entry if rest != 0.0 else 0.0
    balance = acct[v, col] + rest * (px - entry) + collateral_base(acct, vcfg, v) * (1.0 - vcfg[v, C_HAIRCUT]) * px
    insurance = -balance if balance < 0.0 else 0.0
    acct[v, col] += insurance
    if col == A_ISO and rest == 0.0:
        acct[v, A_CASH] += acct[v, A_ISO]
        acct[v, A_ISO] = 0.0
    write_ledger(ledger.li, ledger.lf, ledger.count, ts_ns, v, K_REALIZED, realized, liq_id)
    write_ledger(ledger.li, ledger.lf, ledger.count, ts_ns, v, K_LIQ_FEE, -fee, liq_id)
    if insurance > 0.0:
        write_ledger(ledger.li, ledger.lf, ledger.count, ts_ns, v, K_INSURANCE, insurance, liq_id)
    # the position left at px: same correction as a fill of -q (spot assumed to keep its basis)
    prev_s = state.prev_spot[v]
    prev_m = state.prev_mark[v]
    spot_ref = px * prev_s / prev_m
    dq = -q
    price_part = dq * (prev_s - spot_ref)
    basis_part = dq * ((prev_m - prev_s) - (px - spot_ref))
    liq_part = insurance - fee
    rec.pnl[i, P_PRICE] += price_part
    rec.pnl[i, P_BASIS] += basis_part
    rec.pnl[i, P_LIQUIDATION] += liq_part
    rec.attr[v, P_PRICE] += price_part
    rec.attr[v, P_BASIS] += basis_part
    rec.attr[v, P_LIQUIDATION] += liq_part
    liq_out[slot, Q_VENUE] = v
    liq_out[slot, Q_QTY] = q
    liq_out[slot, Q_PRICE] = px
    liq_out[slot, Q_FEE] = fee
    liq_out[slot, Q_INSURANCE] = insurance
    liq_out[slot, Q_BAR] = i


@njit(cache=True)
def record_bar(state: State, vcfg: np.ndarray, tiers: Tiers, mkt: MarketArrays, rec: Records, i: int) -> None:
    """Mark to market at bar i's close: price/basis parts, equity and per-venue margin records."""
    acct = state.acct
    n_v = acct.shape[0]
    for v in range(n_v):
        s = mkt.spot_close[i, v]
        m = mkt.mark_close[i, v]
        ds = s - state.prev_spot[v]
        dm = m - state.prev_mark[v]
        qs = acct[v, A_SPOT]
        qp = acct[v, A_QTY]
        price_part = (qs + qp) * ds
        basis_part = qp * (dm - ds)
        rec.pnl[i, P_PRICE] += price_part
        rec.pnl[i, P_BASIS] += basis_part
        rec.attr[v, P_PRICE] += price_part
        rec.attr[v, P_BASIS] += basis_part
        state.prev_spot[v] = s
        state.prev_mark[v] = m
        wallet = acct[v, wallet_col(vcfg, v)]
        coll = collateral_base(acct, vcfg, v)
        h = vcfg[v, C_HAIRCUT]
        r = rec.venue[i, v]
        r[R_SPOT] = qs
        r[R_QTY] = qp
        r[R_MARGIN] = margin_balance(wallet, qp, acct[v, A_ENTRY], coll, h, m)
        r[R_MAINT] = maintenance_margin(qp * m, tiers.floor[v], tiers.rate[v], tiers.amount[v])
        r[R_LIQ_PX] = liquidation_price(wallet, qp, acct[v, A_ENTRY], coll, h, tiers.floor[v],
                                        tiers.rate[v], tiers.amount[v], m)
    for p in range(state.lend.shape[0]):
        rec.lend[i, p] = state.lend[p]
    in_transit = 0.0
    for k in range(state.transit.shape[0]):
        in_transit += state.transit[k, T_AMOUNT]
    rec.transit[i] = in_transit
    rec.equity[i] = book_equity(acct, state.lend, state.transit, state.prev_spot, state.prev_mark)


@njit(cache=True)
def advance(state: State, vcfg: np.ndarray, tiers: Tiers, mkt: MarketArrays, rec: Records, ledger: Ledger,
            i0: int, i1: int, liq_out: np.ndarray, liq_id0: int) -> tuple:
    """Process bars i0..i1-1; returns (next bar, STOP_END | STOP_LIQUIDATION | STOP_LEDGER_FULL)."""
    acct = state.acct
    n_v = acct.shape[0]
    n_p = state.lend.shape[0]
    n_t = state.transit.shape[0]
    cap = ledger.lf.shape[0]
    for s in range(liq_out.shape[0]):
        liq_out[s, Q_VENUE] = -1.0
    for i in range(i0, i1):
        if cap - ledger.count[0] < 3 * n_v + n_p + n_t + 1:
            return i, STOP_LEDGER_FULL
        t = mkt.close_ns[i]
        # 1. liquidations over the bar, on the worst mark
        n_liq = 0
        for v in range(n_v):
            q = acct[v, A_QTY]
            if q == 0.0:
                continue
            px = liquidation_fill_price(state, vcfg, tiers, mkt, i, v, mkt.mark_open[i, v])
            if math.isnan(px):
                continue
            k = tier_index(q * px, tiers.floor[v])
            if vcfg[v, C_PARTIAL] > 0.5 and k > 0:
                keep = tiers.floor[v, k] / px * (1.0 - 1e-9)          # what fits under the tier's floor
                part = q - keep if q > 0.0 else q + keep
                liquidate(state, vcfg, rec, ledger, i, t, v, px, part, liq_id0 + n_liq, liq_out, n_liq)
                n_liq += 1
                px = liquidation_fill_price(state, vcfg, tiers, mkt, i, v, px)
                if math.isnan(px):
                    continue
            liquidate(state, vcfg, rec, ledger, i, t, v, px, acct[v, A_QTY], liq_id0 + n_liq, liq_out, n_liq)
            n_liq += 1
        # 2. funding on the positions held
        for v in range(n_v):
            rate = mkt.funding_rate[i, v]
            q = acct[v, A_QTY]
            if q != 0.0 and not math.isnan(rate):
                pay = funding_payment(q, mkt.funding_px[i, v], rate)
                acct[v, wallet_col(vcfg, v)] += pay
                write_ledger(ledger.li, ledger.lf, ledger.count, t, v, K_FUNDING, pay, -1)
                rec.pnl[i, P_FUNDING] += pay
                rec.attr[v, P_FUNDING] += pay
        # 3. lending interest over the bar, then arrivals
        for p in range(n_p):
            g = lending_interest(state.lend[p], mkt.lend_apy[i, p], mkt.dt_years[i])
            state.lend[p] += g
            state.lend_accrued[p] += g
            rec.pnl[i, P_LENDING] += g
            rec.attr[n_v, P_LENDING] += g
            if mkt.lend_update[i, p] and state.lend_accrued[p] != 0.0:
                write_ledger(ledger.li, ledger.lf, ledger.count, t, n_v + p, K_LENDING,
                             state.lend_accrued[p], -1)
                state.lend_accrued[p] = 0.0
        for k in range(n_t):
            amt = state.transit[k, T_AMOUNT]
            if amt != 0.0 and state.transit[k, T_ARRIVE_NS] <= t:
                dest = int(state.transit[k, T_DEST])
                if dest < n_v:
                    acct[dest, A_CASH] += amt
                    write_ledger(ledger.li, ledger.lf, ledger.count, t, dest, K_TRANSFER_IN, amt, -1)
                else:
                    state.lend[dest - n_v] += amt
                    write_ledger(ledger.li, ledger.lf, ledger.count, t, dest, K_LEND_SUPPLY, amt, -1)
                state.transit[k, T_AMOUNT] = 0.0
        # 4. mark to market and records
        record_bar(state, vcfg, tiers, mkt, rec, i)
        if n_liq > 0:
            return i + 1, STOP_LIQUIDATION
    return i1, STOP_END
