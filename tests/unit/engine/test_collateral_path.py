"""Posted collateral is valued on its own price path inside a bar (issue 23 item 6): the audit's wick case.

Short 10 ETH at 2,000 with 4,000 USDT and 3 ETH posted as collateral (Binance: haircut 5 %, ETH tier 1 0.4 % to
50k notional, clearance fee 1.25 %). One bar: the MARK wicks 2,000 -> 4,000 -> 2,000 while SPOT stays at 2,000.
The venue values the posted ETH at its index (spot), so at every point of the bar it is worth 3 x 0.95 x 2,000 =
5,700, and the balance is 4,000 - 10 (M - 2,000) + 5,700 = 29,700 - 10 M against a level of 0.4 % x 10 M:
    29,700 - 10 M = 0.04 M  ->  M* = 29,700 / 10.04 = 2,958.1673
The old model moved the collateral with the mark (mark x the close's spot/mark ratio: 3 x 0.95 x M) and found
24,000 - 7.15 M = 0.04 M -> 3,337.97: a close 380 too late, for a loss the collateral could not cover (the audit's
run ended at -3,586 equity). At M* the balance left is the level, 0.04 M* = 118.33; the clearance fee (1.25 % of
29,581.67 = 369.77) takes that and no more: cash 4,000 - 10 x 958.1673 - 118.33 = -5,700, the 3 ETH are worth
6,000 at the close, equity 300 (the haircut, 5 % of 6,000) >= 0, and the insurance fund pays nothing.
"""
import numpy as np
import pandas as pd
import pytest

from basisbt.engine.config import RunConfig
from basisbt.engine.kernels.advance import advance
from basisbt.engine.kernels.arrays import Ledger, Records, State, VenueTables
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_ENTRY,
    A_FUND,
    A_QTY,
    A_SPOT,
    C_HAIRCUT,
    C_LIQ_FEE,
    C_SPOT_COLL,
    N_ACCT,
    N_CFG,
    N_LIQ,
    N_PNL,
    N_REC,
    Q_FEE,
    Q_INSURANCE,
    Q_PRICE,
    Q_SOCIAL,
    STOP_LIQUIDATION,
)
from basisbt.strategies.base import Strategy
from tests.helpers import bars, dataset, kernel_market
from tests.reference.advance import advance as ref_advance
from tests.runs import run_backtest

M_STAR = 29_700.0 / 10.04


def wick_bar(spot_low=2000.0):
    """One bar: mark 2,000 -> high 4,000 -> 2,000; spot (the index) 2,000 flat, or down to `spot_low`."""
    two = np.array([[2000.0]])
    return kernel_market(np.array([3_600_000_000_000]), two, two, two, two, np.array([[4000.0]]), two, two,
                         np.ones((1, 1)), np.ones((1, 1)), np.full((1, 1), np.nan), np.zeros((1, 1)),
                         np.zeros((1, 0)), np.zeros((1, 0), bool), np.array([1 / 8760]), np.full((1, 1), np.nan),
                         np.full((1, 1), np.nan), index_low=np.array([[spot_low]]))


def book():
    acct = np.zeros((1, N_ACCT))
    acct[0, A_CASH], acct[0, A_SPOT], acct[0, A_QTY], acct[0, A_ENTRY], acct[0, A_FUND] = 4000.0, 3.0, -10.0, \
        2000.0, 1e8
    cfg = np.zeros((1, N_CFG))
    cfg[0, C_LIQ_FEE], cfg[0, C_HAIRCUT], cfg[0, C_SPOT_COLL] = 0.0125, 0.05, 1.0
    tiers = (np.array([[0.0, 50_000.0, np.inf]]), np.array([[0.004, 0.005, 0.005]]), np.array([[0.0, 50.0, 50.0]]))
    return acct, VenueTables(cfg, *tiers, np.full((1, 3), 100.0))


def run_kernel(mkt):
    acct, vt = book()
    state = State(acct, np.zeros(0), np.zeros(0), np.zeros((1, 3)), mkt.spot_open[0].copy(), mkt.mark_open[0].copy())
    rec = Records(np.zeros(1), np.zeros((1, N_PNL)), np.zeros((1, 1, N_REC)), np.zeros((1, 0)), np.zeros(1),
                  np.zeros(1), np.zeros((2, N_PNL)))
    ledger = Ledger(np.zeros((64, 4), np.int64), np.zeros(64), np.zeros(1, np.int64))
    liq = np.full((2, N_LIQ), -1.0)
    _, code = advance(state, vt, mkt, rec, ledger, 0, 1, liq, 0)
    return code, state, rec, liq[0]


def run_twin(mkt):
    acct, vt = book()
    a = acct[0]
    r_acct = [dict(cash=a[A_CASH], spot=a[A_SPOT], qty=a[A_QTY], entry=a[A_ENTRY], iso=0.0, fund=a[A_FUND])]
    r_cfg = [dict(liq_fee=0.0125, taker=0.0, haircut=0.05, spot_coll=True, isolated=False)]
    r_mkt = {k: getattr(mkt, k).tolist() for k in ("mark_open", "mark_high", "mark_low", "mark_close", "spot_close",
                                                    "funding_rate", "lend_apy", "index_open", "index_low")}
    r_mkt.update(funding_px=mkt.mark_close.tolist(), dt_years=mkt.dt_years.tolist(), prev_spot=[2000.0],
                 prev_mark=[2000.0], lend=[])
    return ref_advance(r_acct, r_cfg, [(vt.floor[0], vt.rate[0], vt.amount[0])], r_mkt, 0, 1)


def test_mark_wick_with_spot_flat_closes_where_the_spot_valued_collateral_says():
    code, state, rec, liq = run_kernel(wick_bar())
    assert code == STOP_LIQUIDATION
    assert liq[Q_PRICE] == pytest.approx(M_STAR, rel=1e-12)
    assert M_STAR == pytest.approx(2958.1673, abs=1e-4)
    assert liq[Q_FEE] == pytest.approx(0.04 * M_STAR, rel=1e-9)              # capped at the balance left
    assert liq[Q_INSURANCE] == 0.0 and liq[Q_SOCIAL] == 0.0
    assert state.acct[0, A_CASH] == pytest.approx(-5700.0, rel=1e-9)          # the 3 ETH still cover it
    assert rec.equity[0] == pytest.approx(300.0, rel=1e-9)                    # >= 0: the haircut is left
    (equity, _, liqs), = run_twin(wick_bar())
    assert equity == pytest.approx(300.0, rel=1e-9)
    assert liqs[0][2] == pytest.approx(M_STAR, rel=1e-9) and liqs[0][3] == pytest.approx(0.04 * M_STAR, rel=1e-9)


def test_spot_falling_in_the_same_bar_closes_earlier():
    # the same bar with the index down to 1,800 at its low: every price walks from its open to its adverse extreme
    # together, so at a fraction lam the mark is 2,000 + 2,000 lam and the collateral 2.85 x (2,000 - 200 lam):
    #   4,000 - 10 x 2,000 lam + 5,700 - 570 lam = 0.04 (2,000 + 2,000 lam)  ->  lam = 9,620 / 20,650
    lam = 9_620.0 / 20_650.0
    _, _, _, liq = run_kernel(wick_bar(spot_low=1800.0))
    assert liq[Q_PRICE] == pytest.approx(2000.0 + 2000.0 * lam, rel=1e-12)
    (_, _, liqs), = run_twin(wick_bar(spot_low=1800.0))
    assert liqs[0][2] == pytest.approx(2000.0 + 2000.0 * lam, rel=1e-9)


class WickShort(Strategy):
    """Buys 3 ETH, posts them as collateral and shorts 10 ETH: the audit's book."""
    name = "wick-short"

    def initial_allocation(self, venues):
        return {"binance": 1.0}

    def on_start(self, ctx, ev):
        ctx.configure("binance", spot_collateral=True)

    def on_bar(self, ctx, ev):
        if ev.bar == 0:
            ctx.order("binance", "spot", 3.0)
            ctx.order("binance", "perp", -10.0)


def test_the_audit_run_ends_at_the_haircut_not_below_zero():
    # capital 10,016 = 3 x 2,000 + 0.1 % spot fee (6) + 0.05 % perp fee on 20,000 (10) + 4,000 of USDT margin
    n = 8
    flat = np.full(n, 2000.0)
    mark_high = flat.copy()
    mark_high[4] = 4000.0
    ds = dataset(bars(flat), perp=bars(flat), mark=bars(flat, high=mark_high))
    res = run_backtest(WickShort(), ds, RunConfig(slippage=0.0, initial_capital=10_016.0))
    liq = res.liquidations.iloc[0]
    assert liq.ts == pd.Timestamp("2025-01-01 05:00", tz="UTC")               # the close of the wick bar
    assert liq.price == pytest.approx(M_STAR, rel=1e-9)
    assert liq.fee == pytest.approx(0.04 * M_STAR, rel=1e-6) and liq.insurance_loss == 0.0
    assert res.timeline["equity"].iloc[-1] >= 0.0
    assert res.timeline["equity"].iloc[-1] == pytest.approx(300.0, rel=1e-6)


def test_an_imported_index_values_posted_spot_not_the_venue_spot_trades():
    # the same book and mark; this time the venue's SPOT trades wick to 1,000 in the wick bar (a thin book), while
    # its imported index (what the venue values collateral at) stays 2,000: with the index the run closes at M*
    # exactly as above; without it the posted spot walks to 1,000 with the mark and the book dies earlier
    from dataclasses import replace
    n = 8
    flat = np.full(n, 2000.0)
    mark_high, spot_low = flat.copy(), flat.copy()
    mark_high[4], spot_low[4] = 4000.0, 1000.0
    base = dataset(bars(flat, low=spot_low), perp=bars(flat), mark=bars(flat, high=mark_high))
    with_index = replace(base, index={"binance": bars(flat).drop(columns="volume")})
    res = run_backtest(WickShort(), with_index, RunConfig(slippage=0.0, initial_capital=10_016.0))
    assert res.liquidations.iloc[0].price == pytest.approx(M_STAR, rel=1e-9)
    assert any("index bars value posted spot" in line for line in res.log)
    spot_only = run_backtest(WickShort(), base, RunConfig(slippage=0.0, initial_capital=10_016.0))
    # the walk: mark 2,000 + 2,000 lam, posted ETH 2.85 x (2,000 - 1,000 lam):
    #   9,700 - 20,000 lam - 2,850 lam = 80 + 80 lam  ->  lam = 9,620 / 22,930
    assert spot_only.liquidations.iloc[0].price == pytest.approx(2000.0 + 2000.0 * 9_620.0 / 22_930.0, rel=1e-9)
