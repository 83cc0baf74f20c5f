"""Fast-forward the book over a range of bars (hftbacktest's "advance until the next event").

For each bar i in [i0, i1), at its close instant t (docs/architecture.md §3 order):
1. liquidation check over the bar. Every price walks from its bar open toward its adverse extreme, together
   (a bar does not say when each series made its extreme, so the worst case is that they made them at once):
   the perp's mark to its high (a short) or low (a long), and every posted asset on its OWN path to its low
   (posted spot on the venue's index, else its spot bars; a collateral asset A_COLL on its bars). The breach is
   margin balance <= the venue's threshold x its liquidation level at the end of that walk; the venue closes
   at the mark of the first point of the walk where it holds (the open when the book gapped through);
2. funding settlements of the bar, on the positions held;
3. lending interest over the bar, then transfers that have arrived by t;
4. mark to market at the close, records for the bar.
With partial liquidation on (a venue option), a breach in a tier from C_PARTIAL_FROM up first
closes the part of the position above the cap of the tier C_PARTIAL_TIERS below, at the liquidation
price and with the taker fee; the rest is checked again over the rest of the walk and closed whole if it
breaches too: with the liquidation fee (capped at the margin balance left), or at the bankruptcy price
(C_BANKRUPTCY: the margin balance left is lost). What the fee or the lost margin takes goes to the venue's
insurance fund of the symbol (A_FUND); a deficit beyond bankruptcy is drawn from that fund, and what the fund
cannot cover is socialized (ADL of other traders' opposite positions): the account ends at 0 either way.
Stops after a bar with a liquidation (the strategy must hear of it) or before a bar when the ledger buffer
could overflow. Returns (next bar to process, stop code).

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
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_COLL,
    A_ENTRY,
    A_FUND,
    A_ISO,
    A_LIQ_BASE,
    A_QTY,
    A_SPOT,
    A_WAIT,
    C_BACKSTOP,
    C_BANKRUPTCY,
    C_BOOK,
    C_CLOSE_FEE,
    C_COLL_RATIO,
    C_COOLDOWN_S,
    C_HAIRCUT,
    C_HOME_OFF,
    C_ISOLATED,
    C_LIQ_FEE,
    C_LIQ_TICK,
    C_MM_THRESHOLD,
    C_PARTIAL,
    C_PARTIAL_FROM,
    C_PARTIAL_TIERS,
    C_SLICE,
    C_SLICE_ABOVE,
    C_SLIP,
    C_SLIP_IMPACT,
    C_SPOT_COLL,
    C_SPOT_TAKER,
    C_TAKER,
    C_TIER_BASE,
    C_TRIGGER_FEE,
    K_BACKSTOP,
    K_COLL_TRADE,
    K_FEE,
    K_FUNDING,
    K_INSURANCE,
    K_LEND_SUPPLY,
    K_LENDING,
    K_LIQ_FEE,
    K_REALIZED,
    K_SOCIALIZED,
    K_TRANSFER_IN,
    LK_BACKSTOP,
    LK_BOOK,
    LK_BOOK_SLICE,
    LK_FULL,
    LK_PARTIAL,
    P_BASIS,
    P_FEES,
    P_FUNDING,
    P_LENDING,
    P_LIQUIDATION,
    P_PRICE,
    P_SLIPPAGE,
    Q_BAR,
    Q_FEE,
    Q_INSURANCE,
    Q_KIND,
    Q_PRICE,
    Q_QTY,
    Q_SOCIAL,
    Q_VENUE,
    R_CASH,
    R_COLL,
    R_ENTRY,
    R_ISO,
    R_LIQ_PX,
    R_MAINT,
    R_MARGIN,
    R_QTY,
    R_SPOT,
    STOP_END,
    STOP_LEDGER_FULL,
    STOP_LIQUIDATION,
    T_AMOUNT,
    T_ARRIVE_NS,
    T_DEST,
)
from basisbt.engine.kernels.fills import slippage_fraction
from basisbt.engine.kernels.funding import funding_payment
from basisbt.engine.kernels.lending import lending_interest
from basisbt.engine.kernels.margin import (
    liquidation_level_at,
    liquidation_price_at,
    maintenance_margin_at,
    margin_balance,
    reported_liq_price,
    tier_index,
    tier_size,
)


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
def spot_value(acct: np.ndarray, vcfg: np.ndarray, mkt: MarketArrays, i: int, v: int, lam: float) -> float:
    """Margin value (quote, net of the haircut) of slot v's posted spot a fraction `lam` of the way along bar i's
    walk of its own price: the index (or spot) from its open to its low."""
    units = collateral_base(acct, vcfg, v)
    o = mkt.index_open[i, v]
    val = units * (1.0 - vcfg[v, C_HAIRCUT]) * (o + lam * (mkt.index_low[i, v] - o))
    return val if units != 0.0 and not math.isnan(val) else 0.0      # no early return: see margin.py


@njit(cache=True, inline="always")
def asset_value(acct: np.ndarray, vcfg: np.ndarray, mkt: MarketArrays, i: int, home: int, lam: float) -> float:
    """Margin value of the collateral-asset units on `home` a fraction `lam` along bar i's walk of that asset's
    own bars (open to low), times the venue's collateral ratio."""
    units = acct[home, A_COLL]
    o = mkt.coll_open[i, home]
    val = units * vcfg[home, C_COLL_RATIO] * (o + lam * (mkt.coll_low[i, home] - o))
    return val if units != 0.0 else 0.0


@njit(cache=True, inline="always")
def mm_threshold(vcfg: np.ndarray, v: int) -> float:
    """Venue v's liquidation threshold on maintenance (1.0; 1.05 in Binance portfolio margin); 0 = unset = 1.0."""
    thr = vcfg[v, C_MM_THRESHOLD]
    return thr if thr > 0.0 else 1.0


@njit(cache=True)
def sell_collateral(state: State, vt: VenueTables, rec: Records, ledger: Ledger, i: int, ts_ns: int, v: int,
                    px: float, prev_px: float) -> None:
    """A liquidation on venue v first sells all its collateral-asset units at `px` (their price at the breach
    point of the bar's walk) into cash, paying the venue's spot taker fee on the proceeds (a forced sale is a
    spot trade). The units' price change since the last close (`prev_px`) goes to the price part, so a depeg
    loss shows there and in the ledger (collateral_trade, fee)."""
    units = state.acct[v, A_COLL]
    if units == 0.0 or math.isnan(px):
        return
    proceeds = units * px
    fee = proceeds * vt.cfg[v, C_SPOT_TAKER]
    state.acct[v, A_COLL] = 0.0
    state.acct[v, A_CASH] += proceeds - fee
    write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_COLL_TRADE, proceeds, -1)
    write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_FEE, -fee, -1)
    part = units * (px - prev_px) if not math.isnan(prev_px) else 0.0
    rec.pnl[i, P_PRICE] += part
    rec.attr[v, P_PRICE] += part
    rec.pnl[i, P_FEES] -= fee
    rec.attr[v, P_FEES] -= fee


@njit(cache=True)
def slot_gap(wallet: float, w_cf: float, q: float, entry: float, m_open: float, m_worst: float, c0: float,
             c1: float, vt: VenueTables, v: int, lam: float) -> float:
    """Margin balance less the liquidation level of one perp a fraction `lam` along the bar's walk: the mark
    from m_open to m_worst, the posted collateral's value from c0 to c1 (quote). `w_cf`: the wallet that sets
    the fee to close at the bankruptcy price (margin.close_fee)."""
    m = m_open + lam * (m_worst - m_open)
    bal = wallet + q * (m - entry) + c0 + lam * (c1 - c0)
    return bal - liquidation_level_at(w_cf, q, entry, m, vt.floor, vt.rate, vt.amount, v, vt.cfg[v, C_TRIGGER_FEE],
                                      vt.cfg[v, C_CLOSE_FEE], vt.cfg[v, C_TIER_BASE] > 0.5, mm_threshold(vt.cfg, v))


@njit(cache=True)
def breach_point(wallet: float, w_cf: float, q: float, entry: float, m_open: float, m_worst: float, c0: float,
                 c1: float, vt: VenueTables, v: int) -> float:
    """The first fraction lam in [0, 1] of the bar's walk (slot_gap) where the perp is breached; NaN if it is not
    at the walk's end. 0 when it opens breached (gapped through). Along the walk the collateral is linear in the
    mark, c = c0 + g (M - m_open), so the root is margin.liquidation_price_at with slope g; a root off the walk
    (several tier roots) falls back to bisection on lam."""
    if slot_gap(wallet, w_cf, q, entry, m_open, m_worst, c0, c1, vt, v, 1.0) > 0.0:
        return np.nan
    if slot_gap(wallet, w_cf, q, entry, m_open, m_worst, c0, c1, vt, v, 0.0) <= 0.0:
        return 0.0
    if m_worst != m_open:
        g = (c1 - c0) / (m_worst - m_open)
        px = liquidation_price_at(w_cf, q, entry, g, 0.0, vt.floor, vt.rate, vt.amount, v, m_open,
                                  vt.cfg[v, C_TRIGGER_FEE], vt.cfg[v, C_CLOSE_FEE], vt.cfg[v, C_TIER_BASE] > 0.5,
                                  mm_threshold(vt.cfg, v), wallet + c0 - g * m_open - w_cf)
        lam = (px - m_open) / (m_worst - m_open)
        if lam >= 0.0 and lam <= 1.0:
            return lam
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if slot_gap(wallet, w_cf, q, entry, m_open, m_worst, c0, c1, vt, v, mid) <= 0.0:
            hi = mid
        else:
            lo = mid
    return hi


@njit(cache=True)
def liquidate(state: State, vt: VenueTables, rec: Records, ledger: Ledger, i: int, ts_ns: int, v: int,
              px: float, q: float, liq_id: int, liq_out: np.ndarray, slot: int, coll_value: float,
              fee_rate: float, bankrupt: bool, to_fund: bool, extra: float = 0.0, slip: float = 0.0,
              cover: bool = True, kind: int = LK_FULL) -> None:
    """Close `q` (signed, part or all of venue v's perp) at `px` and charge the fee on it; the venue's insurance
    fund of the symbol (A_FUND) takes the fee and covers a deficit beyond bankruptcy.

    The fee is |q| * px * fee_rate, capped at the margin balance left after closing at px (a clearance fee
    takes what is left, never more: a fee above it is not an insurance loss); with `bankrupt` (a whole close on
    a venue that takes the position over at its bankruptcy price) it is that balance left, floored at 0:
    closing at px and losing that balance is closing at the bankruptcy price (booked as `liquidation_fee`).
    With `to_fund` (a full liquidation; not a partial step's trading fee) the fee goes to the fund. A balance
    below zero (closed past the bankruptcy price) is a deficit: the fund pays it while it can (`insurance`),
    the rest is socialized by auto-deleveraging other traders (`socialized`); the account ends at 0 either way.
    `coll_value`: the margin value of the slot's posted spot at the liquidation point; `extra`: the rest of a
    cross account's margin balance there (its other perps' unrealized PnL and other slots' posted spot, 0 with
    one asset): the fund covers only a deficit of the whole account. `slip`: a close sold into the book (C_BOOK
    venues) fills at px moved against the position by that fraction; the difference is the slippage part. `cover`
    False (a book liquidation's slice, the position still open): a balance below zero stays the account's until
    the rest is closed or taken over. `kind`: the mechanism, written to the row (a LIQ_KIND code: LK_PARTIAL for a
    tier step-down, LK_BOOK / LK_BOOK_SLICE for an order into the book, LK_FULL otherwise)."""
    acct = state.acct
    col = wallet_col(vt.cfg, v)
    w = wallet_row(vt.cfg, v)
    entry = acct[v, A_ENTRY]
    fill = px * (1.0 - slip) if q > 0.0 else px * (1.0 + slip)    # selling a long, buying back a short
    realized = q * (fill - entry)
    rest = acct[v, A_QTY] - q
    if abs(rest) < 1e-12 * max(abs(q), 1.0):
        rest = 0.0
    left = acct[w, col] + realized + rest * (px - entry) + coll_value + extra
    fee = abs(q) * px * fee_rate
    if bankrupt or fee > left:
        fee = left if left > 0.0 else 0.0
    acct[w, col] += realized - fee
    acct[v, A_QTY] = rest
    acct[v, A_ENTRY] = entry if rest != 0.0 else 0.0
    deficit = fee - left if left - fee < 0.0 and cover else 0.0
    fund = acct[v, A_FUND]
    from_fund = deficit if deficit <= fund else max(fund, 0.0)
    social = deficit - from_fund
    acct[v, A_FUND] = fund - from_fund + (fee if to_fund else 0.0)
    acct[w, col] += deficit
    if col == A_ISO and rest == 0.0:
        acct[home_row(vt.cfg, v), A_CASH] += acct[v, A_ISO]
        acct[v, A_ISO] = 0.0
    write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_REALIZED, realized, liq_id)
    if fee_rate > 0.0 or bankrupt:                 # a book liquidation (fee rate 0) has no fee row
        write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_LIQ_FEE, -fee, liq_id)
    if from_fund > 0.0:
        write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_INSURANCE, from_fund, liq_id)
    if social > 0.0:
        write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, v, K_SOCIALIZED, social, liq_id)
    close_parts(state, rec, i, v, q, px)
    liq_part = deficit - fee
    rec.pnl[i, P_LIQUIDATION] += liq_part
    rec.attr[v, P_LIQUIDATION] += liq_part
    if slip != 0.0:
        slip_part = q * (fill - px)
        rec.pnl[i, P_SLIPPAGE] += slip_part
        rec.attr[v, P_SLIPPAGE] += slip_part
    liq_row(liq_out, slot, v, q, fill, fee, from_fund, social, i, kind)


@njit(cache=True, inline="always")
def close_parts(state: State, rec: Records, i: int, v: int, q: float, px: float) -> None:
    """The price and basis parts of closing `q` of slot v's perp at `px` in bar i: the same correction as a fill of
    -q, the spot assumed to keep its basis (spot reference px x prev spot / prev mark)."""
    prev_s = state.prev_spot[v]
    prev_m = state.prev_mark[v]
    spot_ref = px * prev_s / prev_m
    dq = -q
    price_part = dq * (prev_s - spot_ref)
    basis_part = dq * ((prev_m - prev_s) - (px - spot_ref))
    rec.pnl[i, P_PRICE] += price_part
    rec.pnl[i, P_BASIS] += basis_part
    rec.attr[v, P_PRICE] += price_part
    rec.attr[v, P_BASIS] += basis_part


@njit(cache=True, inline="always")
def liq_row(liq_out: np.ndarray, slot: int, v: int, q: float, px: float, fee: float, from_fund: float,
            social: float, i: int, kind: int) -> None:
    """Write liquidation row `slot` (codes.LIQ columns)."""
    liq_out[slot, Q_VENUE] = v
    liq_out[slot, Q_QTY] = q
    liq_out[slot, Q_PRICE] = px
    liq_out[slot, Q_FEE] = fee
    liq_out[slot, Q_INSURANCE] = from_fund
    liq_out[slot, Q_SOCIAL] = social
    liq_out[slot, Q_BAR] = i
    liq_out[slot, Q_KIND] = kind


# -- several assets: a venue's cross account over its slots (docs/architecture.md §4, "several assets") ------
@njit(cache=True, inline="always")
def path_mark(mkt: MarketArrays, i: int, u: int, q: float, lam: float) -> float:
    """Slot u's mark a fraction `lam` of the way from bar i's open to its adverse extreme (the high for a short,
    the low for a long). All prices of an account walk together: a bar does not say when each made its
    extreme, so the worst case."""
    x = mkt.mark_low[i, u] if q >= 0.0 else mkt.mark_high[i, u]
    o = mkt.mark_open[i, u]
    return o + lam * (x - o)


@njit(cache=True, inline="always")
def account_margin(acct: np.ndarray, vt: VenueTables, mkt: MarketArrays, i: int, home: int, lam: float) -> tuple:
    """(margin balance, liquidation level) of the cross account held on slot `home`, every price `lam` along
    the bar's walk (path_mark; posted spot and the collateral asset on their own paths to their lows). Levels
    add over the perps, each from its own symbol's tiers; the fee to close is taken at the mark (a bankruptcy
    price per position does not exist in a shared wallet)."""
    cfg = vt.cfg
    n = acct.shape[0]
    bal = acct[home, A_CASH] + asset_value(acct, cfg, mkt, i, home, lam)
    level = 0.0
    u = home
    while u < n and home_row(cfg, u) == home:
        if cfg[u, C_ISOLATED] < 0.5 and not math.isnan(mkt.mark_low[i, u]):
            q = acct[u, A_QTY]
            m = path_mark(mkt, i, u, q, lam)
            bal += q * (m - acct[u, A_ENTRY]) + spot_value(acct, cfg, mkt, i, u, lam)
            if q != 0.0:
                level += mm_threshold(cfg, u) * (
                    maintenance_margin_at(q, m, vt.floor, vt.rate, vt.amount, u, cfg[u, C_TIER_BASE] > 0.5)
                    + abs(q * m) * (cfg[u, C_TRIGGER_FEE] + cfg[u, C_CLOSE_FEE]))
        u += 1
    return bal, level


@njit(cache=True, inline="always")
def group_pass(acct: np.ndarray, cfg: np.ndarray, floor: np.ndarray, rate: np.ndarray, amount: np.ndarray,
               m_open: np.ndarray, m_high: np.ndarray, m_low: np.ndarray, x_open: np.ndarray, x_low: np.ndarray,
               i: int, h: int) -> tuple:
    """One pass over the cross slots of the venue whose first slot is h, for bar i: (open perps, posted spot
    value at the index opens and at the index lows, balance less wallet and level with every price at the end of
    the walk). The per-bar test of an account; the same sums as account_margin at lam = 1 (the collateral
    asset aside), written flat (arrays, not the market tuple) because it runs every bar."""
    n = acct.shape[0]
    n_open = 0
    c0 = 0.0
    c1 = 0.0
    b1 = 0.0
    l1 = 0.0
    u = h
    while u < n and (u == h or cfg[u, C_HOME_OFF] != 0.0):
        lo = m_low[i, u]
        if cfg[u, C_ISOLATED] < 0.5 and not math.isnan(lo):
            q = acct[u, A_QTY]
            if cfg[u, C_SPOT_COLL] > 0.5 and not math.isnan(x_open[i, u]):
                k = acct[u, A_SPOT] * (1.0 - cfg[u, C_HAIRCUT])
                c0 += k * x_open[i, u]
                c1 += k * x_low[i, u]
            adv = lo if q >= 0.0 else m_high[i, u]
            b1 += q * (adv - acct[u, A_ENTRY])
            if q != 0.0:
                n_open += 1
                thr = mm_threshold(cfg, u)
                tf = cfg[u, C_TRIGGER_FEE] + cfg[u, C_CLOSE_FEE]
                l1 += thr * (maintenance_margin_at(q, adv, floor, rate, amount, u, cfg[u, C_TIER_BASE] > 0.5)
                             + abs(q * adv) * tf)
        u += 1
    return n_open, c0, c1, b1 + c1, l1


@njit(cache=True)
def liquidate_account(state: State, vt: VenueTables, mkt: MarketArrays, rec: Records, ledger: Ledger, i: int,
                      ts_ns: int, home: int, liq_id0: int, liq_out: np.ndarray, n_liq: int) -> int:
    """Close every perp of a breached cross account with several open perps, all at once (the venues'
    rule as our specs state it, docs/architecture.md §4): at the first point of the bar's walk where the
    margin balance meets the level (bisection on the walk; the open if it gapped through). Collateral-asset
    units are sold first, at their price on the walk there. Returns the liquidation count after these."""
    acct, cfg = state.acct, vt.cfg
    n = acct.shape[0]
    b1, l1 = account_margin(acct, vt, mkt, i, home, 1.0)
    if b1 > l1:                                     # not breached (the caller's test, to rounding)
        return n_liq
    b0, l0 = account_margin(acct, vt, mkt, i, home, 0.0)
    lam = 0.0
    if b0 > l0:
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            bm, lm = account_margin(acct, vt, mkt, i, home, mid)
            if bm <= lm:
                hi = mid
            else:
                lo = mid
        lam = hi
    px = np.full(n, np.nan)
    u = home
    while u < n and home_row(cfg, u) == home:
        if cfg[u, C_ISOLATED] < 0.5 and not math.isnan(mkt.mark_low[i, u]):
            px[u] = path_mark(mkt, i, u, acct[u, A_QTY], lam)
        u += 1
    if acct[home, A_COLL] != 0.0:
        c_o = mkt.coll_open[i, home]
        sell_collateral(state, vt, rec, ledger, i, ts_ns, home, c_o + lam * (mkt.coll_low[i, home] - c_o),
                        mkt.coll_close[max(i - 1, 0), home])
    end = u
    for u in range(home, end):
        q = acct[u, A_QTY]
        if math.isnan(px[u]) or q == 0.0:
            continue
        extra = 0.0                                 # the rest of the account at these prices
        for x in range(home, end):
            if x != u and not math.isnan(px[x]):
                extra += acct[x, A_QTY] * (px[x] - acct[x, A_ENTRY]) + spot_value(acct, cfg, mkt, i, x, lam)
        liquidate(state, vt, rec, ledger, i, ts_ns, u, px[u], q, liq_id0 + n_liq, liq_out, n_liq,
                  spot_value(acct, cfg, mkt, i, u, lam), cfg[u, C_LIQ_FEE], cfg[u, C_BANKRUPTCY] > 0.5, True, extra)
        n_liq += 1
    return n_liq


# -- book liquidation (C_BOOK venues: Hyperliquid; docs/architecture.md §4) ------------------------------------
@njit(cache=True)
def book_gap(acct: np.ndarray, vt: VenueTables, mkt: MarketArrays, i: int, h: int, iso: bool, lam: float,
             k: float) -> float:
    """Margin balance less k x the liquidation level of a book venue's account a fraction `lam` along bar i's walk:
    the cross account whose wallet is on slot h (account_margin: every cross perp at its path mark, posted assets on
    their paths), or slot h's isolated perp (`iso`: its isolated margin and its own level). k = 1: the breach;
    k = the backstop threshold: the liquidator vault's line."""
    if not iso:
        bal, level = account_margin(acct, vt, mkt, i, h, lam)
        return bal - k * level
    q = acct[h, A_QTY]
    m = path_mark(mkt, i, h, q, lam)
    cfg = vt.cfg
    level = mm_threshold(cfg, h) * (maintenance_margin_at(q, m, vt.floor, vt.rate, vt.amount, h,
                                                          cfg[h, C_TIER_BASE] > 0.5)
                                    + abs(q * m) * (cfg[h, C_TRIGGER_FEE] + cfg[h, C_CLOSE_FEE]))
    return acct[h, A_ISO] + q * (m - acct[h, A_ENTRY]) - k * level


@njit(cache=True)
def book_root(acct: np.ndarray, vt: VenueTables, mkt: MarketArrays, i: int, h: int, iso: bool, k: float,
              a: float, b: float) -> float:
    """The first lam in [a, b] where book_gap(.., k) <= 0 (a when it already holds there), NaN if it does not hold at
    b: prices only walk against the book along a bar, so bisection finds the crossing."""
    if b < a or book_gap(acct, vt, mkt, i, h, iso, b, k) > 0.0:
        return np.nan
    if book_gap(acct, vt, mkt, i, h, iso, a, k) <= 0.0:
        return a
    lo, hi = a, b
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if book_gap(acct, vt, mkt, i, h, iso, mid, k) <= 0.0:
            hi = mid
        else:
            lo = mid
    return hi


@njit(cache=True, inline="always")
def book_leg(acct: np.ndarray, cfg: np.ndarray, mkt: MarketArrays, i: int, u: int, iso: bool, n_liq: int,
             cap: int) -> bool:
    """Whether slot u is a leg the book liquidation closes: an open perp, cross unless `iso` (then the loop is the
    isolated slot alone), priced in bar i, with room left in the liquidation rows."""
    return not (acct[u, A_QTY] == 0.0 or (not iso and cfg[u, C_ISOLATED] > 0.5) or math.isnan(mkt.mark_low[i, u])
                or n_liq >= cap)


@njit(cache=True)
def book_backstop(state: State, vt: VenueTables, mkt: MarketArrays, rec: Records, ledger: Ledger, i: int,
                  ts_ns: int, h: int, iso: bool, end: int, lam: float, liq_id0: int, liq_out: np.ndarray,
                  n_liq: int) -> int:
    """The venue's liquidator vault takes over the account at `lam` on the walk: every perp of it (cross: every cross
    slot's; isolated: slot h's) at its path mark, no fee and no slippage, and the margin left (cross: the wallet after
    that, collateral-asset units sold first; isolated: the isolated margin): nothing is returned (ledger `backstop`,
    the liquidation part). A balance below zero there is a deficit: the fund (A_FUND), then socialized (ADL of
    others); the account ends at 0. Returns the liquidation count after its rows."""
    acct, cfg = state.acct, vt.cfg
    if not iso and acct[h, A_COLL] != 0.0:
        c_o = mkt.coll_open[i, h]
        sell_collateral(state, vt, rec, ledger, i, ts_ns, h, c_o + lam * (mkt.coll_low[i, h] - c_o),
                        mkt.coll_close[max(i - 1, 0), h])
    col = A_ISO if iso else A_CASH
    first = n_liq
    for u in range(h, end):
        q = acct[u, A_QTY]
        if not book_leg(acct, cfg, mkt, i, u, iso, n_liq, liq_out.shape[0]):
            continue
        m = path_mark(mkt, i, u, q, lam)
        realized = q * (m - acct[u, A_ENTRY])
        acct[h, col] += realized
        acct[u, A_QTY] = 0.0
        acct[u, A_ENTRY] = 0.0
        acct[u, A_LIQ_BASE] = 0.0
        write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, u, K_REALIZED, realized, liq_id0 + n_liq)
        close_parts(state, rec, i, u, q, m)
        liq_row(liq_out, n_liq, u, q, m, 0.0, 0.0, 0.0, i, LK_BACKSTOP)
        n_liq += 1
    left = acct[h, col]
    taken = left if left > 0.0 else 0.0
    deficit = -left if left < 0.0 else 0.0
    fund = acct[h, A_FUND]
    from_fund = deficit if deficit <= fund else max(fund, 0.0)
    social = deficit - from_fund
    acct[h, A_FUND] = fund - from_fund
    acct[h, col] = 0.0
    ref = liq_id0 + first
    write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, h, K_BACKSTOP, -taken, ref)
    if from_fund > 0.0:
        write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, h, K_INSURANCE, from_fund, ref)
    if social > 0.0:
        write_ledger(ledger.keys, ledger.amounts, ledger.count, ts_ns, h, K_SOCIALIZED, social, ref)
    rec.pnl[i, P_LIQUIDATION] += deficit - taken
    rec.attr[h, P_LIQUIDATION] += deficit - taken
    if n_liq > first:
        liq_out[first, Q_FEE] = taken
        liq_out[first, Q_INSURANCE] = from_fund
        liq_out[first, Q_SOCIAL] = social
    return n_liq


@njit(cache=True)
def book_liquidate(state: State, vt: VenueTables, mkt: MarketArrays, rec: Records, ledger: Ledger, i: int,
                   ts_ns: int, h: int, iso: bool, liq_id0: int, liq_out: np.ndarray, n_liq: int) -> int:
    """Bar i's liquidation of a book venue's account (Hyperliquid), walking every price from its open toward its
    adverse extreme as everywhere: at the first point where margin balance <= the liquidation level, each perp is
    sold into the book at its mark there less the run's slippage (fills.slippage_fraction on the bar's perp volume),
    no fee: whole, or, above C_SLICE_ABOVE notional, a C_SLICE share of the position the liquidation began with.
    The next slice goes C_COOLDOWN_S later (a fraction f of the walk is f x the bar's length: a 1h bar holds 120
    slice times at 30 s, a 1m bar two), if the account is breached then, and what is left of the wait carries into
    the next bar (A_WAIT). If margin balance falls below C_BACKSTOP x the level before the book is done, the
    liquidator vault takes the account over (book_backstop). Returns the liquidation count."""
    acct, cfg = state.acct, vt.cfg
    n = acct.shape[0]
    end = h + 1
    if not iso:
        while end < n and home_row(cfg, end) == h:
            end += 1
    wrow = h                                      # where the account keeps its wait: its first member
    while not iso and wrow < end - 1 and cfg[wrow, C_ISOLATED] > 0.5:
        wrow += 1
    bt = cfg[h, C_BACKSTOP]
    secs = mkt.dt_years[i] * 365.0 * 86400.0
    step = cfg[h, C_COOLDOWN_S] / secs if secs > 0.0 else 0.0
    wait = acct[wrow, A_WAIT]
    lam1 = book_root(acct, vt, mkt, i, h, iso, 1.0, 0.0, 1.0)
    if math.isnan(lam1):                           # not breached over the bar: any liquidation under way is over
        acct[wrow, A_WAIT] = max(wait - 1.0, 0.0)
        for u in range(h, end):
            if iso or cfg[u, C_ISOLATED] < 0.5:
                acct[u, A_LIQ_BASE] = 0.0
        return n_liq
    t = max(lam1, wait)
    while n_liq < liq_out.shape[0]:
        if bt > 0.0:                               # the vault's line, crossed before the next order can go
            lb = book_root(acct, vt, mkt, i, h, iso, bt, lam1, min(t, 1.0))
            if not math.isnan(lb):
                acct[wrow, A_WAIT] = 0.0
                return book_backstop(state, vt, mkt, rec, ledger, i, ts_ns, h, iso, end, lb, liq_id0, liq_out,
                                     n_liq)
        if t > 1.0:
            break
        if book_gap(acct, vt, mkt, i, h, iso, t, 1.0) > 0.0:     # not breached at t: the next breach, if any
            lam1 = book_root(acct, vt, mkt, i, h, iso, 1.0, t, 1.0)
            if math.isnan(lam1):
                break
            t = lam1
            continue
        # nothing left (a millionth of a quote unit is float residue, e.g. of a deficit just covered to 0): a slice
        # cannot help, the rest is closed whole
        whole = book_gap(acct, vt, mkt, i, h, iso, t, 0.0) <= 1e-6
        still_open = False
        for u in range(h, end):
            q = acct[u, A_QTY]
            if not book_leg(acct, cfg, mkt, i, u, iso, n_liq, liq_out.shape[0]):
                continue
            m = path_mark(mkt, i, u, q, t)
            part = q
            if not whole and cfg[u, C_SLICE] > 0.0 and abs(q * m) > cfg[u, C_SLICE_ABOVE]:
                if acct[u, A_LIQ_BASE] == 0.0:
                    acct[u, A_LIQ_BASE] = abs(q)
                size = min(cfg[u, C_SLICE] * acct[u, A_LIQ_BASE], abs(q))
                part = size if q > 0.0 else -size
            slip = slippage_fraction(part, mkt.perp_volume[i, u], cfg[u, C_SLIP], cfg[u, C_SLIP_IMPACT])
            own_spot = 0.0 if iso else spot_value(acct, cfg, mkt, i, u, t)
            extra = 0.0
            if not iso:                            # the rest of the account there (other perps, posted assets)
                bal, _ = account_margin(acct, vt, mkt, i, h, t)
                extra = bal - acct[h, A_CASH] - q * (m - acct[u, A_ENTRY]) - own_spot
            liquidate(state, vt, rec, ledger, i, ts_ns, u, m, part, liq_id0 + n_liq, liq_out, n_liq, own_spot,
                      0.0, False, True, extra, slip, part == q, LK_BOOK)
            if acct[u, A_QTY] != 0.0:
                liq_out[n_liq, Q_KIND] = LK_BOOK_SLICE     # the rest stays open for the next order
                still_open = True
            else:
                acct[u, A_LIQ_BASE] = 0.0
            n_liq += 1
        if not still_open:
            break
        lam1 = t
        t = t + step
    acct[wrow, A_WAIT] = max(t - 1.0, 0.0)
    return n_liq


@njit(cache=True, inline="always")
def account_records(acct: np.ndarray, cfg: np.ndarray, floor: np.ndarray, rate: np.ndarray, amount: np.ndarray,
                    s_close: np.ndarray, m_close: np.ndarray, coll_close: np.ndarray, out: np.ndarray, own: np.ndarray,
                    i: int, home: int) -> None:
    """Margin records of a cross account with several slots, at bar i's close (`out` = rec.venue): every slot
    shows the account's balance and level; a perp's liquidation price is the mark at which the account
    breaches with the other marks held at their close and its own posted spot moving with its mark at the
    close's basis (reported as the venue reports it, margin.reported_liq_price). `s_close` is the price posted
    spot is valued at (the index close, else spot). `own` is scratch (each slot's level)."""
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
        lp = liquidation_price_at(rest, q, acct[u, A_ENTRY], coll, h, floor, rate, amount, u, m,
                                  cfg[u, C_TRIGGER_FEE] + cfg[u, C_CLOSE_FEE], 0.0, cfg[u, C_TIER_BASE] > 0.5,
                                  mm_threshold(cfg, u))
        out[i, u, R_LIQ_PX] = reported_liq_price(lp, q, cfg[u, C_LIQ_TICK])


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
    # per venue with several slots (indexed by its first slot): open perps now, posted spot at the opens and lows
    g_multi = np.zeros(n_v if multi else 0, np.bool_)
    g_open = np.zeros(n_v if multi else 0, np.int64)
    g_c0 = np.zeros(n_v if multi else 0)
    g_c1 = np.zeros(n_v if multi else 0)
    own_level = np.zeros(n_v if multi else 0)
    for v in range(g_multi.shape[0]):
        g_multi[v] = vt.cfg[v, C_HOME_OFF] == 0.0 and v + 1 < n_v and vt.cfg[v + 1, C_HOME_OFF] != 0.0
    for i in range(i0, i1):
        if cap - ledger.count[0] < 12 * n_v + n_p + n_t + 1:
            return i, STOP_LEDGER_FULL
        t = mkt.close_ns[i]
        # 1. liquidations over the bar: marks to their adverse extremes, posted assets to their lows, together
        n_liq = 0
        for v in range(n_v):                        # venues that sell into the book (Hyperliquid): per account
            if vt.cfg[v, C_BOOK] < 0.5:
                continue
            if vt.cfg[v, C_ISOLATED] > 0.5 and state.acct[v, A_QTY] != 0.0:
                n_liq = book_liquidate(state, vt, mkt, rec, ledger, i, t, v, True, liq_id0, liq_out, n_liq)
            if vt.cfg[v, C_HOME_OFF] != 0.0:
                continue                            # a cross account is checked once, from its home slot
            u = v
            held = False
            while u < n_v and (u == v or vt.cfg[u, C_HOME_OFF] != 0.0):
                if vt.cfg[u, C_ISOLATED] < 0.5 and state.acct[u, A_QTY] != 0.0:
                    held = True
                u += 1
            if held:
                n_liq = book_liquidate(state, vt, mkt, rec, ledger, i, t, v, False, liq_id0, liq_out, n_liq)
        for hv in range(g_multi.shape[0]):         # several assets: cross accounts with several perps, whole
            if not g_multi[hv] or vt.cfg[hv, C_BOOK] > 0.5:
                continue
            n_open, c0, c1, b1, l1 = group_pass(state.acct, vt.cfg, vt.floor, vt.rate, vt.amount, mkt.mark_open,
                                                mkt.mark_high, mkt.mark_low, mkt.index_open, mkt.index_low, i, hv)
            g_open[hv] = n_open
            g_c0[hv] = c0
            g_c1[hv] = c1
            if n_open > 1:
                wal = state.acct[hv, A_CASH] + asset_value(state.acct, vt.cfg, mkt, i, hv, 1.0)
                if wal + b1 <= l1:
                    n_liq = liquidate_account(state, vt, mkt, rec, ledger, i, t, hv, liq_id0, liq_out, n_liq)
        for v in range(n_v):
            q = state.acct[v, A_QTY]
            if q == 0.0 or vt.cfg[v, C_BOOK] > 0.5:
                continue
            m_worst = mkt.mark_high[i, v] if q < 0.0 else mkt.mark_low[i, v]
            if math.isnan(m_worst):
                continue                            # not listed: no position can be open
            w = wallet_row(vt.cfg, v)
            cross = vt.cfg[v, C_ISOLATED] < 0.5
            o0 = 0.0                                # the account's other posted spot (several assets), at open / low
            o1 = 0.0
            if multi and cross and g_multi[w]:
                if g_open[w] > 1:
                    continue                        # checked above as an account
                o0 = g_c0[w] - spot_value(state.acct, vt.cfg, mkt, i, v, 0.0)
                o1 = g_c1[w] - spot_value(state.acct, vt.cfg, mkt, i, v, 1.0)
            # posted assets at the end of the walk (their lows), read flat: the common path makes no helper call
            # and reads every array unconditionally (branches only on scalars: see margin.py on reference counts)
            x_lo = mkt.index_low[i, v]
            c_lo = mkt.coll_low[i, w]
            k_spot = collateral_base(state.acct, vt.cfg, v) * (1.0 - vt.cfg[v, C_HAIRCUT])
            k_units = state.acct[w, A_COLL] * vt.cfg[w, C_COLL_RATIO] if cross else 0.0
            own1 = k_spot * x_lo if k_spot != 0.0 and not math.isnan(x_lo) else 0.0
            u1 = k_units * c_lo if k_units != 0.0 else 0.0
            wallet = state.acct[w, wallet_col(vt.cfg, v)]
            w_cf = wallet + u1 + o1                 # sets Bybit's fee to close (own posted spot left out)
            entry = state.acct[v, A_ENTRY]
            trig, close, base = vt.cfg[v, C_TRIGGER_FEE], vt.cfg[v, C_CLOSE_FEE], vt.cfg[v, C_TIER_BASE] > 0.5
            if wallet + q * (m_worst - entry) + own1 + u1 + o1 > liquidation_level_at(
                    w_cf, q, entry, m_worst, vt.floor, vt.rate, vt.amount, v, trig, close, base, mm_threshold(vt.cfg, v)):
                continue                            # the common case, decided without a call
            m_open = mkt.mark_open[i, v]
            u0 = asset_value(state.acct, vt.cfg, mkt, i, w, 0.0) if cross else 0.0
            own0 = spot_value(state.acct, vt.cfg, mkt, i, v, 0.0)
            lam = breach_point(wallet, w_cf, q, entry, m_open, m_worst, own0 + u0 + o0, own1 + u1 + o1, vt, v)
            if math.isnan(lam):
                continue                            # breached only to rounding at the test
            px = m_open + lam * (m_worst - m_open)
            if state.acct[w, A_COLL] != 0.0 and cross:
                c_o = mkt.coll_open[i, w]
                sell_collateral(state, vt, rec, ledger, i, t, w, c_o + lam * (mkt.coll_low[i, w] - c_o),
                                mkt.coll_close[max(i - 1, 0), w])
            k = tier_index(tier_size(q, px, base), vt.floor, v)
            if vt.cfg[v, C_PARTIAL] > 0.5 and k > 0 and k + 1 >= vt.cfg[v, C_PARTIAL_FROM]:
                j = max(k - max(int(vt.cfg[v, C_PARTIAL_TIERS]), 1), 0)     # the tier stepped down to
                tier_cap = vt.floor[v, j + 1]
                keep = (tier_cap if base else tier_cap / px) * (1.0 - 1e-9)   # what fits in it
                part = q - keep if q > 0.0 else q + keep
                # the step down is an order to the book and pays the taker fee (Bybit's and OKX's rule), the
                # rest closes with the liquidation fee or at the bankruptcy price
                liquidate(state, vt, rec, ledger, i, t, v, px, part, liq_id0 + n_liq, liq_out, n_liq,
                          spot_value(state.acct, vt.cfg, mkt, i, v, lam), vt.cfg[v, C_TAKER], False, False,
                          o0 + lam * (o1 - o0), 0.0, True, LK_PARTIAL)
                n_liq += 1
                # the rest walks on from this point (the collateral asset, if any, is cash now)
                wallet = state.acct[w, wallet_col(vt.cfg, v)]
                c_at = spot_value(state.acct, vt.cfg, mkt, i, v, lam) + o0 + lam * (o1 - o0)
                lam2 = breach_point(wallet, wallet + o1, state.acct[v, A_QTY], state.acct[v, A_ENTRY], px, m_worst,
                                    c_at, own1 + o1, vt, v)
                if math.isnan(lam2):
                    continue
                lam = lam + lam2 * (1.0 - lam)
                px = m_open + lam * (m_worst - m_open)
            liquidate(state, vt, rec, ledger, i, t, v, px, state.acct[v, A_QTY], liq_id0 + n_liq, liq_out, n_liq,
                      spot_value(state.acct, vt.cfg, mkt, i, v, lam), vt.cfg[v, C_LIQ_FEE],
                      vt.cfg[v, C_BANKRUPTCY] > 0.5, True, o0 + lam * (o1 - o0))
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
            # posted spot at the index (else spot) close; the liquidation price moves it with the mark at the
            # close's basis (a move of the asset, not a mark wick: docs/architecture.md §4)
            x = mkt.index_close[i, v]
            coll = collateral_base(state.acct, vt.cfg, v) * ((x if x > 0.0 else s) / m)
            h = vt.cfg[v, C_HAIRCUT]
            rec.venue[i, v, R_MARGIN] = margin_balance(wallet, qp, entry, coll, h, m)
            trig, close, base = vt.cfg[v, C_TRIGGER_FEE], vt.cfg[v, C_CLOSE_FEE], vt.cfg[v, C_TIER_BASE] > 0.5
            thr = mm_threshold(vt.cfg, v)
            rec.venue[i, v, R_MAINT] = liquidation_level_at(wallet, qp, entry, m, vt.floor, vt.rate, vt.amount, v, trig,
                                                            close, base, thr)
            lp = liquidation_price_at(wallet, qp, entry, coll, h, vt.floor, vt.rate, vt.amount, v, m, trig, close, base,
                                      thr)
            rec.venue[i, v, R_LIQ_PX] = reported_liq_price(lp, qp, vt.cfg[v, C_LIQ_TICK])
        for v in range(g_multi.shape[0]):          # cross accounts over several slots: the account's margin
            if g_multi[v]:
                account_records(state.acct, vt.cfg, vt.floor, vt.rate, vt.amount, mkt.index_close, mkt.mark_close,
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
