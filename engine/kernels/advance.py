"""Fast-forward the book over a range of bars (hftbacktest's "advance until the next event").

For each bar i in [i0, i1), at its close instant t (docs/architecture.md §3 order):
1. liquidation check on the bar's worst mark (high for a short, low for a long), a collateral asset
   (A_COLL) at its bar low, breach at the venue's threshold x maintenance (C_MM_THRESHOLD);
2. funding settlements of the bar, on the positions held;
3. lending interest over the bar, then transfers that have arrived by t;
4. mark to market at the close, records for the bar.
With partial liquidation on (a venue option), a breach in a tier from C_PARTIAL_FROM up first
closes the part of the position above the cap of the tier C_PARTIAL_TIERS below, at the liquidation
price and with the taker fee; the rest is checked again over the same bar (from that price) and closed
whole if it breaches too: with the liquidation fee, or at the bankruptcy price (C_BANKRUPTCY: the
margin balance left is lost). Stops after a bar with a
liquidation (the strategy must hear of it) or before a bar when the ledger buffer could overflow.
Returns (next bar to process, stop code).

Speed: the per-bar work is written out in `advance`; the helpers it uses per bar are inlined
(inline="always") and take scalars or the arrays they read, with no `break` (see margin.py). A
real numba call passing arrays or tuples costs two atomic reference-count updates per array,
which was most of the per-bar time (1.4 us/bar before, 0.26 us after: `make bench`, case e).
Only the liquidation path, which runs on a breach, makes real calls.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from basisbt.engine.kernels.arrays import Ledger, MarketArrays, Records, State, VenueTables
from basisbt.engine.kernels.book import home_row, wallet_col, wallet_row, write_ledger
from basisbt.engine.kernels.codes import (A_CASH, A_COLL, A_ENTRY, A_ISO, A_QTY, A_SPOT, C_BANKRUPTCY, C_CLOSE_FEE,
                                  C_COLL_RATIO, C_HAIRCUT, C_HOME_OFF, C_ISOLATED, C_LIQ_FEE, C_MM_THRESHOLD, C_PARTIAL, C_PARTIAL_FROM,
                                  C_PARTIAL_TIERS, C_SPOT_COLL, C_TAKER, C_TIER_BASE, C_TRIGGER_FEE, K_COLL_TRADE,
                                  K_FUNDING, K_INSURANCE, K_LENDING, K_LEND_SUPPLY, K_LIQ_FEE,
                                  K_REALIZED, K_TRANSFER_IN, P_BASIS, P_FUNDING, P_LENDING,
                                  P_LIQUIDATION, P_PRICE, Q_BAR, Q_FEE, Q_INSURANCE, Q_PRICE, Q_QTY, Q_VENUE,
                                  R_CASH, R_COLL, R_ENTRY, R_ISO, R_LIQ_PX, R_MAINT, R_MARGIN, R_QTY, R_SPOT, STOP_END,
                                  STOP_LEDGER_FULL, STOP_LIQUIDATION, T_AMOUNT, T_ARRIVE_NS, T_DEST)
from basisbt.engine.kernels.funding import funding_payment
from basisbt.engine.kernels.lending import lending_interest
from basisbt.engine.kernels.margin import (is_breached_at, liquidation_level_at, liquidation_price_at,
                                           maintenance_margin_at, margin_balance, tier_index, tier_size)


@njit(cache=True, inline="always")
def collateral_base(acct: np.ndarray, vcfg: np.ndarray, v: int) -> float:
    """Spot base units that count as perp margin on venue v (0 unless cross with spot collateral)."""
    return acct[v, A_SPOT] if vcfg[v, C_SPOT_COLL] > 0.5 and vcfg[v, C_ISOLATED] < 0.5 else 0.0


@njit(cache=True, inline="always")
def collateral_value(acct: np.ndarray, vcfg: np.ndarray, v: int, px: float, cross: bool) -> float:
    """Margin value (quote) of the collateral-asset units held on row v at price `px`: units x px x ratio,
    for a cross position only (`cross`: the slot being valued is cross; an isolated perp never counts them)."""
    units = acct[v, A_COLL]
    if units == 0.0 or not cross:
        return 0.0
    return units * px * vcfg[v, C_COLL_RATIO]


@njit(cache=True, inline="always")
def mm_threshold(vcfg: np.ndarray, v: int) -> float:
    """Venue v's liquidation threshold on maintenance (1.0; 1.05 in Binance portfolio margin); 0 = unset = 1.0."""
    thr = vcfg[v, C_MM_THRESHOLD]
    return thr if thr > 0.0 else 1.0


@njit(cache=True)
def sell_collateral(state: State, rec: Records, ledger: Ledger, i: int, ts_ns: int, v: int, px: float,
                    prev_px: float) -> None:
    """A liquidation on venue v first sells all its collateral-asset units at `px` (the bar's low) into cash.

    The venue converts collateral to cover the loss; the units' price change since the last close
    (`prev_px`) goes to the price part, so a depeg loss shows there and in the ledger (collateral_trade).
    """
    units = state.acct[v, A_COLL]
    if units == 0.0 or math.isnan(px):
        return
    proceeds = units * px
    state.acct[v, A_COLL] = 0.0
    state.acct[v, A_CASH] += proceeds
    write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_COLL_TRADE, proceeds, -1)
    part = units * (px - prev_px) if not math.isnan(prev_px) else 0.0
    rec.pnl[i, P_PRICE] += part
    rec.attr[v, P_PRICE] += part


@njit(cache=True, inline="always")
def spot_per_mark(mkt: MarketArrays, i: int, v: int) -> float:
    """Spot close / mark close of bar i: collateral is valued at spot (the index), not at the perp's mark.

    Venues value posted spot at the spot index x collateral ratio; the perp mark carries the basis
    (1.1 % in the squeeze scenario, more than the whole maintenance margin). Within the bar the basis is
    taken as at its close, so collateral worth `coll` at spot counts as `coll * spot/mark` mark units.
    """
    s = mkt.spot_close[i, v]
    m = mkt.mark_close[i, v]
    if s > 0.0 and m > 0.0:
        return s / m
    return 1.0


@njit(cache=True)
def liquidation_fill_price(wallet: float, q: float, entry: float, coll: float, h: float, vt: VenueTables,
                           v: int, lo: float, hi: float, m_start: float) -> float:
    """Mark price at which a perp (q, entry) is liquidated in a bar whose mark spans [lo, hi] and
    starts at m_start, or NaN. The venue's threshold (mm_threshold) applies to the check and the solve."""
    thr = mm_threshold(vt.cfg, v)
    first, second = (hi, lo) if q < 0.0 else (lo, hi)
    trig, close, base = vt.cfg[v, C_TRIGGER_FEE], vt.cfg[v, C_CLOSE_FEE], vt.cfg[v, C_TIER_BASE] > 0.5
    for m_worst in (first, second):
        if is_breached_at(wallet, q, entry, coll, h, vt.floor, vt.rate, vt.amount, v, m_worst, trig, close, base, thr):
            if is_breached_at(wallet, q, entry, coll, h, vt.floor, vt.rate, vt.amount, v, m_start, trig, close, base,
                              thr):
                return m_start                      # gapped through: closed where the path starts
            px = liquidation_price_at(wallet, q, entry, coll, h, vt.floor, vt.rate, vt.amount, v, m_start, trig, close,
                                      base, thr)
            if math.isnan(px) or px < lo or px > hi:
                return m_worst
            return px
    return np.nan


@njit(cache=True)
def liquidate(state: State, vt: VenueTables, rec: Records, ledger: Ledger, i: int, ts_ns: int, v: int,
              px: float, q: float, liq_id: int, liq_out: np.ndarray, slot: int, ratio: float,
              fee_rate: float, bankrupt: bool, extra: float = 0.0) -> None:
    """Close `q` (signed, part or all of venue v's perp) at `px`, charge the fee on it, let the
    insurance fund absorb a deficit.

    The fee is |q| * px * fee_rate; with `bankrupt` (a whole close on a venue that takes the position
    over at its bankruptcy price) it is the margin balance left after closing at px instead, floored at
    0: closing at px and losing that balance is closing at the bankruptcy price (booked as
    `liquidation_fee`; for isolated margin it is |q * (px - M_b)|, the isolated margin left).
    `extra` is the rest of a cross account's margin balance at the liquidation prices (its other perps'
    unrealized PnL and other slots' spot collateral, 0 with one asset): the insurance fund covers only a
    deficit of the whole account."""
    acct = state.acct
    col = wallet_col(vt.cfg, v)
    w = wallet_row(vt.cfg, v)
    entry = acct[v, A_ENTRY]
    realized = q * (px - entry)
    rest = acct[v, A_QTY] - q
    if abs(rest) < 1e-12 * max(abs(q), 1.0):
        rest = 0.0
    coll = collateral_base(acct, vt.cfg, v) * ratio
    coll_value = coll * (1.0 - vt.cfg[v, C_HAIRCUT]) * px
    fee = abs(q) * px * fee_rate
    if bankrupt:
        left = acct[w, col] + realized + rest * (px - entry) + coll_value + extra
        fee = left if left > 0.0 else 0.0
    acct[w, col] += realized - fee
    acct[v, A_QTY] = rest
    acct[v, A_ENTRY] = entry if rest != 0.0 else 0.0
    balance = acct[w, col] + rest * (px - entry) + coll_value + extra
    insurance = -balance if balance < 0.0 else 0.0
    acct[w, col] += insurance
    if col == A_ISO and rest == 0.0:
        acct[home_row(vt.cfg, v), A_CASH] += acct[v, A_ISO]
        acct[v, A_ISO] = 0.0
    write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_REALIZED, realized, liq_id)
    write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_LIQ_FEE, -fee, liq_id)
    if insurance > 0.0:
        write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_INSURANCE, insurance, liq_id)
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


# -- several assets: a venue's cross account over its slots (docs/architecture.md §4, "several assets") ------
@njit(cache=True, inline="always")
def path_mark(mkt: MarketArrays, i: int, u: int, q: float, lam: float, favorable: bool) -> float:
    """Slot u's mark a fraction `lam` of the way from bar i's open to its extreme: the adverse one (high for
    a short, low for a long or spot alone) or, with `favorable`, the other. All marks of an account move
    together along this path: a bar does not say when each asset made its extreme, so the worst case."""
    down = q >= 0.0
    if favorable:
        down = not down
    x = mkt.mark_low[i, u] if down else mkt.mark_high[i, u]
    o = mkt.mark_open[i, u]
    return o + lam * (x - o)


@njit(cache=True, inline="always")
def account_margin(acct: np.ndarray, vt: VenueTables, mkt: MarketArrays, i: int, home: int, lam: float,
                   favorable: bool) -> tuple:
    """(margin balance, liquidation level) of the cross account held on slot `home`, its marks at `lam`
    along the bar's path (path_mark). Levels add over the perps, each from its own symbol's tiers; the fee
    to close is taken at the mark (a bankruptcy price per position does not exist in a shared wallet)."""
    cfg = vt.cfg
    n = acct.shape[0]
    bal = acct[home, A_CASH] + collateral_value(acct, cfg, home, mkt.coll_low[i, home], True)
    level = 0.0
    u = home
    while u < n and home_row(cfg, u) == home:
        if cfg[u, C_ISOLATED] < 0.5 and not math.isnan(mkt.mark_low[i, u]):
            q = acct[u, A_QTY]
            m = path_mark(mkt, i, u, q, lam, favorable)
            bal += q * (m - acct[u, A_ENTRY]) + collateral_base(acct, cfg, u) * spot_per_mark(mkt, i, u) * (
                1.0 - cfg[u, C_HAIRCUT]) * m
            if q != 0.0:
                level += mm_threshold(cfg, u) * (
                    maintenance_margin_at(q, m, vt.floor, vt.rate, vt.amount, u, cfg[u, C_TIER_BASE] > 0.5)
                    + abs(q * m) * (cfg[u, C_TRIGGER_FEE] + cfg[u, C_CLOSE_FEE]))
        u += 1
    return bal, level


@njit(cache=True, inline="always")
def group_pass(acct: np.ndarray, cfg: np.ndarray, floor: np.ndarray, rate: np.ndarray, amount: np.ndarray,
               m_open: np.ndarray, m_high: np.ndarray, m_low: np.ndarray, s_close: np.ndarray, m_close: np.ndarray,
               i: int, h: int) -> tuple:
    """One pass over the cross slots of the venue whose first slot is h, for bar i: (open perps, spot
    collateral valued at the bar lows, and balance less wallet / level with every mark at its adverse
    extreme, then at its favourable one). The per-bar test of an account; the same sums as account_margin
    at lam = 1, written flat (arrays, not the market tuple) because it runs every bar."""
    n = acct.shape[0]
    n_open = 0
    csum = 0.0
    b1 = 0.0
    l1 = 0.0
    b2 = 0.0
    l2 = 0.0
    u = h
    while u < n and (u == h or cfg[u, C_HOME_OFF] != 0.0):
        lo = m_low[i, u]
        if cfg[u, C_ISOLATED] < 0.5 and not math.isnan(lo):
            q = acct[u, A_QTY]
            hi = m_high[i, u]
            s = s_close[i, u]
            m = m_close[i, u]
            ratio = s / m if s > 0.0 and m > 0.0 else 1.0
            sc = 0.0
            if cfg[u, C_SPOT_COLL] > 0.5:
                sc = acct[u, A_SPOT] * ratio * (1.0 - cfg[u, C_HAIRCUT])
            csum += sc * lo
            adv = lo if q >= 0.0 else hi
            fav = hi if q >= 0.0 else lo
            e = acct[u, A_ENTRY]
            b1 += q * (adv - e) + sc * adv
            b2 += q * (fav - e) + sc * fav
            if q != 0.0:
                n_open += 1
                base = cfg[u, C_TIER_BASE] > 0.5
                thr = mm_threshold(cfg, u)
                tf = cfg[u, C_TRIGGER_FEE] + cfg[u, C_CLOSE_FEE]
                l1 += thr * (maintenance_margin_at(q, adv, floor, rate, amount, u, base) + abs(q * adv) * tf)
                l2 += thr * (maintenance_margin_at(q, fav, floor, rate, amount, u, base) + abs(q * fav) * tf)
        u += 1
    return n_open, csum, b1, l1, b2, l2


@njit(cache=True)
def liquidate_account(state: State, vt: VenueTables, mkt: MarketArrays, rec: Records, ledger: Ledger, i: int,
                      ts_ns: int, home: int, liq_id0: int, liq_out: np.ndarray, n_liq: int) -> int:
    """Close every perp of a breached cross account with several open perps, all at once (the venues'
    rule as our specs state it, docs/architecture.md §4): at the first point of the bar's path where the
    margin balance meets the level (bisection on the path; the open if it gapped through). Collateral-asset
    units are sold first. Returns the liquidation count after these."""
    acct, cfg = state.acct, vt.cfg
    n = acct.shape[0]
    b1, l1 = account_margin(acct, vt, mkt, i, home, 1.0, False)
    b2, l2 = account_margin(acct, vt, mkt, i, home, 1.0, True)
    if b1 > l1 and b2 > l2:                         # not breached either way (the caller's test, to rounding)
        return n_liq
    fav = b1 > l1                                   # not breached the adverse way: it is the other way
    b0, l0 = account_margin(acct, vt, mkt, i, home, 0.0, fav)
    lam = 0.0
    if b0 > l0:
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            bm, lm = account_margin(acct, vt, mkt, i, home, mid, fav)
            if bm <= lm:
                hi = mid
            else:
                lo = mid
        lam = hi
    px = np.full(n, np.nan)
    u = home
    while u < n and home_row(cfg, u) == home:
        if cfg[u, C_ISOLATED] < 0.5 and not math.isnan(mkt.mark_low[i, u]):
            px[u] = path_mark(mkt, i, u, acct[u, A_QTY], lam, fav)
        u += 1
    if acct[home, A_COLL] != 0.0:
        sell_collateral(state, rec, ledger, i, ts_ns, home, mkt.coll_low[i, home], mkt.coll_close[max(i - 1, 0), home])
    end = u
    for u in range(home, end):
        q = acct[u, A_QTY]
        if math.isnan(px[u]) or q == 0.0:
            continue
        extra = 0.0                                 # the rest of the account at these prices
        for x in range(home, end):
            if x != u and not math.isnan(px[x]):
                extra += acct[x, A_QTY] * (px[x] - acct[x, A_ENTRY]) + collateral_base(acct, cfg, x) * \
                    spot_per_mark(mkt, i, x) * (1.0 - cfg[x, C_HAIRCUT]) * px[x]
        liquidate(state, vt, rec, ledger, i, ts_ns, u, px[u], q, liq_id0 + n_liq, liq_out, n_liq,
                  spot_per_mark(mkt, i, u), cfg[u, C_LIQ_FEE], cfg[u, C_BANKRUPTCY] > 0.5, extra)
        n_liq += 1
    return n_liq


@njit(cache=True, inline="always")
def account_records(acct: np.ndarray, cfg: np.ndarray, floor: np.ndarray, rate: np.ndarray, amount: np.ndarray,
                    s_close: np.ndarray, m_close: np.ndarray, coll_close: np.ndarray, out: np.ndarray, own: np.ndarray,
                    i: int, home: int) -> None:
    """Margin records of a cross account with several slots, at bar i's close (`out` = rec.venue): every slot
    shows the account's balance and level; a perp's liquidation price is the mark at which the account
    breaches with the other marks held at their close. `own` is scratch (each slot's level)."""
    n = acct.shape[0]
    bal = acct[home, A_CASH] + collateral_value(acct, cfg, home, coll_close[i, home], True)
    level = 0.0
    u = home
    while u < n and (u == home or cfg[u, C_HOME_OFF] != 0.0):
        m = m_close[i, u]
        own[u] = 0.0
        if cfg[u, C_ISOLATED] < 0.5 and not math.isnan(m):
            q = acct[u, A_QTY]
            s = s_close[i, u]
            ratio = s / m if s > 0.0 and m > 0.0 else 1.0
            coll = acct[u, A_SPOT] * ratio if cfg[u, C_SPOT_COLL] > 0.5 else 0.0
            bal += q * (m - acct[u, A_ENTRY]) + coll * (1.0 - cfg[u, C_HAIRCUT]) * m
            if q != 0.0:
                own[u] = mm_threshold(cfg, u) * (
                    maintenance_margin_at(q, m, floor, rate, amount, u, cfg[u, C_TIER_BASE] > 0.5)
                    + abs(q * m) * (cfg[u, C_TRIGGER_FEE] + cfg[u, C_CLOSE_FEE]))
                level += own[u]
        u += 1
    end = u
    for u in range(home, end):
        m = m_close[i, u]
        if cfg[u, C_ISOLATED] > 0.5 or math.isnan(m):
            continue
        out[i, u, R_MARGIN] = bal
        out[i, u, R_MAINT] = level
        q = acct[u, A_QTY]
        if q == 0.0:
            out[i, u, R_LIQ_PX] = np.nan
            continue
        s = s_close[i, u]
        ratio = s / m if s > 0.0 and m > 0.0 else 1.0
        coll = acct[u, A_SPOT] * ratio if cfg[u, C_SPOT_COLL] > 0.5 else 0.0
        h = cfg[u, C_HAIRCUT]
        # the rest of the account as a constant wallet: its balance less its level
        rest = bal - q * (m - acct[u, A_ENTRY]) - coll * (1.0 - h) * m - (level - own[u])
        out[i, u, R_LIQ_PX] = liquidation_price_at(rest, q, acct[u, A_ENTRY], coll, h, floor, rate, amount, u, m,
                                                   cfg[u, C_TRIGGER_FEE] + cfg[u, C_CLOSE_FEE], 0.0,
                                                   cfg[u, C_TIER_BASE] > 0.5, mm_threshold(cfg, u))


@njit(cache=True)
def advance(state: State, vt: VenueTables, mkt: MarketArrays, rec: Records, ledger: Ledger,
            i0: int, i1: int, liq_out: np.ndarray, liq_id0: int) -> tuple:
    """Process bars i0..i1-1; returns (next bar, STOP_END | STOP_LIQUIDATION | STOP_LEDGER_FULL)."""
    n_v = state.acct.shape[0]
    n_p = state.lend.shape[0]
    n_t = state.transit.shape[0]
    cap = ledger.amounts.shape[0]
    for s in range(liq_out.shape[0]):
        liq_out[s, Q_VENUE] = -1.0
    multi = False                                   # several assets: some venue has more than one slot
    for v in range(n_v):
        if vt.cfg[v, C_HOME_OFF] != 0.0:
            multi = True
    # per venue with several slots (indexed by its first slot): open perps now, and other collateral at the lows
    g_multi = np.zeros(n_v if multi else 0, np.bool_)
    g_open = np.zeros(n_v if multi else 0, np.int64)
    g_coll = np.zeros(n_v if multi else 0)
    own_level = np.zeros(n_v if multi else 0)
    for v in range(g_multi.shape[0]):
        g_multi[v] = vt.cfg[v, C_HOME_OFF] == 0.0 and v + 1 < n_v and vt.cfg[v + 1, C_HOME_OFF] != 0.0
    for i in range(i0, i1):
        if cap - ledger.count[0] < 4 * n_v + n_p + n_t + 1:
            return i, STOP_LEDGER_FULL
        t = mkt.close_ns[i]
        # 1. liquidations over the bar, on the worst mark
        n_liq = 0
        for hv in range(g_multi.shape[0]):         # several assets: cross accounts with several perps, whole
            if not g_multi[hv]:
                continue
            n_open, csum, b1, l1, b2, l2 = group_pass(state.acct, vt.cfg, vt.floor, vt.rate, vt.amount, mkt.mark_open,
                                                      mkt.mark_high, mkt.mark_low, mkt.spot_close, mkt.mark_close,
                                                      i, hv)
            g_open[hv] = n_open
            g_coll[hv] = csum
            if n_open > 1:
                wal = state.acct[hv, A_CASH] + collateral_value(state.acct, vt.cfg, hv, mkt.coll_low[i, hv], True)
                if wal + b1 <= l1 or wal + b2 <= l2:
                    n_liq = liquidate_account(state, vt, mkt, rec, ledger, i, t, hv, liq_id0, liq_out, n_liq)
        for v in range(n_v):
            q = state.acct[v, A_QTY]
            if q == 0.0:
                continue
            lo, hi = mkt.mark_low[i, v], mkt.mark_high[i, v]
            if math.isnan(lo):
                continue                            # not listed: no position can be open
            w = wallet_row(vt.cfg, v)
            extra = 0.0
            if multi and vt.cfg[v, C_ISOLATED] < 0.5 and g_multi[w]:
                if g_open[w] > 1:
                    continue                        # checked above as an account
                # its one open perp alone, the account's other spot collateral (at the lows) as a constant
                extra = g_coll[w] - collateral_base(state.acct, vt.cfg, v) * spot_per_mark(mkt, i, v) * (
                    1.0 - vt.cfg[v, C_HAIRCUT]) * lo
            h = vt.cfg[v, C_HAIRCUT]
            # a collateral asset counts at its bar LOW here (worst case within the bar, docs/architecture.md §4)
            wallet = state.acct[w, wallet_col(vt.cfg, v)] + collateral_value(
                state.acct, vt.cfg, w, mkt.coll_low[i, w], vt.cfg[v, C_ISOLATED] < 0.5) + extra
            ratio = spot_per_mark(mkt, i, v)
            coll = collateral_base(state.acct, vt.cfg, v) * ratio
            entry = state.acct[v, A_ENTRY]
            trig, close, base = vt.cfg[v, C_TRIGGER_FEE], vt.cfg[v, C_CLOSE_FEE], vt.cfg[v, C_TIER_BASE] > 0.5
            thr = mm_threshold(vt.cfg, v)
            if not (is_breached_at(wallet, q, entry, coll, h, vt.floor, vt.rate, vt.amount, v, lo, trig, close, base, thr)
                    or is_breached_at(wallet, q, entry, coll, h, vt.floor, vt.rate, vt.amount, v, hi, trig, close, base,
                                      thr)):
                continue                            # the common case, decided without a call
            px = liquidation_fill_price(wallet, q, entry, coll, h, vt, v, lo, hi, mkt.mark_open[i, v])
            if state.acct[w, A_COLL] != 0.0 and vt.cfg[v, C_ISOLATED] < 0.5:
                sell_collateral(state, rec, ledger, i, t, w, mkt.coll_low[i, w],
                                mkt.coll_close[max(i - 1, 0), w])
            k = tier_index(tier_size(q, px, base), vt.floor, v)
            if vt.cfg[v, C_PARTIAL] > 0.5 and k > 0 and k + 1 >= vt.cfg[v, C_PARTIAL_FROM]:
                j = max(k - max(int(vt.cfg[v, C_PARTIAL_TIERS]), 1), 0)     # the tier stepped down to
                cap = vt.floor[v, j + 1]
                keep = (cap if base else cap / px) * (1.0 - 1e-9)   # what fits in it
                part = q - keep if q > 0.0 else q + keep
                # the step down is an order to the book and pays the taker fee (Bybit's and OKX's rule), the
                # rest closes with the liquidation fee or at the bankruptcy price
                liquidate(state, vt, rec, ledger, i, t, v, px, part, liq_id0 + n_liq, liq_out, n_liq, ratio,
                          vt.cfg[v, C_TAKER], False, extra)
                n_liq += 1
                wallet = state.acct[w, wallet_col(vt.cfg, v)] + extra
                px = liquidation_fill_price(wallet, state.acct[v, A_QTY], state.acct[v, A_ENTRY], coll, h, vt, v,
                                            lo, hi, px)
                if math.isnan(px):
                    continue
            liquidate(state, vt, rec, ledger, i, t, v, px, state.acct[v, A_QTY], liq_id0 + n_liq, liq_out, n_liq,
                      ratio, vt.cfg[v, C_LIQ_FEE], vt.cfg[v, C_BANKRUPTCY] > 0.5, extra)
            n_liq += 1
        # 2. funding on the positions held
        for v in range(n_v):
            rate = mkt.funding_rate[i, v]
            q = state.acct[v, A_QTY]
            if q != 0.0 and not math.isnan(rate):
                pay = funding_payment(q, mkt.funding_value[i, v])
                state.acct[wallet_row(vt.cfg, v), wallet_col(vt.cfg, v)] += pay
                write_ledger(ledger.keys, ledger.amounts, ledger.count, t, v, K_FUNDING, pay, -1)
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
                write_ledger(ledger.keys, ledger.amounts, ledger.count, t, n_v + p, K_LENDING, state.lend_accrued[p], -1)
                state.lend_accrued[p] = 0.0
        in_transit = 0.0
        for k in range(n_t):
            amt = state.transit[k, T_AMOUNT]
            if amt == 0.0:
                continue
            if state.transit[k, T_ARRIVE_NS] <= t:
                dest = int(state.transit[k, T_DEST])
                if dest < n_v:
                    state.acct[dest, A_CASH] += amt
                    write_ledger(ledger.keys, ledger.amounts, ledger.count, t, dest, K_TRANSFER_IN, amt, -1)
                else:
                    state.lend[dest - n_v] += amt
                    write_ledger(ledger.keys, ledger.amounts, ledger.count, t, dest, K_LEND_SUPPLY, amt, -1)
                state.transit[k, T_AMOUNT] = 0.0
            else:
                in_transit += amt
        # 4. mark to market at the close: price/basis parts, equity and per-venue margin records
        equity = 0.0
        for v in range(n_v):
            s = mkt.spot_close[i, v]
            m = mkt.mark_close[i, v]
            if math.isnan(s):                   # spot not listed (none can be held): the mark is the reference
                s = m
            if math.isnan(m):                   # perp not listed (none can be held)
                m = s
            if math.isnan(s):                   # venue not listed at all yet: only its cash counts
                equity += state.acct[v, A_CASH] + state.acct[v, A_ISO]
                rec.venue[i, v, R_CASH] = state.acct[v, A_CASH]
                rec.venue[i, v, R_ISO] = state.acct[v, A_ISO]
                rec.venue[i, v, R_COLL] = state.acct[v, A_COLL]
                rec.venue[i, v, R_LIQ_PX] = np.nan
                continue
            if math.isnan(state.prev_spot[v]):  # first listed bar: nothing was held before it
                state.prev_spot[v] = s
                state.prev_mark[v] = m
            ds = s - state.prev_spot[v]
            qs = state.acct[v, A_SPOT]
            qp = state.acct[v, A_QTY]
            entry = state.acct[v, A_ENTRY]
            price_part = (qs + qp) * ds
            basis_part = qp * ((m - state.prev_mark[v]) - ds)
            rec.pnl[i, P_PRICE] += price_part
            rec.pnl[i, P_BASIS] += basis_part
            rec.attr[v, P_PRICE] += price_part
            rec.attr[v, P_BASIS] += basis_part
            state.prev_spot[v] = s
            state.prev_mark[v] = m
            equity += state.acct[v, A_CASH] + state.acct[v, A_ISO] + qs * s
            equity += qp * (m - entry)
            units = state.acct[v, A_COLL]
            c_close = 0.0
            if units != 0.0:                    # the collateral asset at its close; its move is in the price part
                c_close = mkt.coll_close[i, v]
                equity += units * c_close
                c_part = units * (c_close - mkt.coll_close[max(i - 1, 0), v])
                rec.pnl[i, P_PRICE] += c_part
                rec.attr[v, P_PRICE] += c_part
            rec.venue[i, v, R_SPOT] = qs
            rec.venue[i, v, R_QTY] = qp
            rec.venue[i, v, R_CASH] = state.acct[v, A_CASH]
            rec.venue[i, v, R_ENTRY] = entry
            rec.venue[i, v, R_ISO] = state.acct[v, A_ISO]
            rec.venue[i, v, R_COLL] = units
            w = wallet_row(vt.cfg, v)
            if multi and vt.cfg[v, C_ISOLATED] < 0.5 and g_multi[w]:
                continue                            # the account's records: account_records below
            wallet = state.acct[w, wallet_col(vt.cfg, v)] + collateral_value(state.acct, vt.cfg, w, mkt.coll_close[i, w],
                                                                             vt.cfg[v, C_ISOLATED] < 0.5)
            coll = collateral_base(state.acct, vt.cfg, v) * (s / m)      # at spot (see spot_per_mark)
            h = vt.cfg[v, C_HAIRCUT]
            rec.venue[i, v, R_MARGIN] = margin_balance(wallet, qp, entry, coll, h, m)
            trig, close, base = vt.cfg[v, C_TRIGGER_FEE], vt.cfg[v, C_CLOSE_FEE], vt.cfg[v, C_TIER_BASE] > 0.5
            thr = mm_threshold(vt.cfg, v)
            rec.venue[i, v, R_MAINT] = liquidation_level_at(wallet, qp, entry, m, vt.floor, vt.rate, vt.amount, v, trig,
                                                            close, base, thr)
            rec.venue[i, v, R_LIQ_PX] = liquidation_price_at(wallet, qp, entry, coll, h, vt.floor, vt.rate, vt.amount,
                                                             v, m, trig, close, base, thr)
        for v in range(g_multi.shape[0]):          # cross accounts over several slots: the account's margin
            if g_multi[v]:
                account_records(state.acct, vt.cfg, vt.floor, vt.rate, vt.amount, mkt.spot_close, mkt.mark_close,
                                mkt.coll_close, rec.venue, own_level, i, v)
        for p in range(n_p):
            rec.lend[i, p] = state.lend[p]
            equity += state.lend[p]
        for k in range(n_t):                   # equity: venues, then lending, then transit slots in order
            equity += state.transit[k, T_AMOUNT]
        rec.transit[i] = in_transit
        rec.equity[i] = equity
        if n_liq > 0:
            return i + 1, STOP_LIQUIDATION
    return i1, STOP_END
