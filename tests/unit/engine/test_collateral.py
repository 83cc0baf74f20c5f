"""Collateral valued as venues value it (issue 15 item 3): a liquidation threshold on maintenance (Binance
portfolio margin, uniMMR <= 1.05) and a collateral asset with its own price series, checked at the bar's
low and valued at the close. Hand-solved numbers, written out in the comments."""
import numpy as np
import pandas as pd
import pytest

from basisbt.engine.config import ConfigError, RunConfig
from basisbt.engine.kernels.advance import advance
from basisbt.engine.kernels.arrays import Ledger, Records, State, VenueTables
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_COLL,
    A_ENTRY,
    A_QTY,
    C_COLL_RATIO,
    C_HAIRCUT,
    C_LIQ_FEE,
    C_MM_THRESHOLD,
    K_COLL_TRADE,
    L_KIND,
    N_ACCT,
    N_CFG,
    N_LIQ,
    N_PNL,
    N_REC,
    P_LIQUIDATION,
    P_PRICE,
    Q_FEE,
    Q_INSURANCE,
    Q_PRICE,
    Q_VENUE,
    R_COLL,
    R_LIQ_PX,
    R_MARGIN,
    STOP_END,
    STOP_LIQUIDATION,
)
from basisbt.engine.kernels.margin import liquidation_price
from basisbt.engine.venue_setup import venue_arrays
from tests.helpers import kernel_market
from tests.reference import kernels as ref

# two tiers: 0.5 % to 100k, 1 % above (amount 500 keeps the maintenance continuous at 100k: 500 = 100k x 0.5 %)
FLOOR = np.array([0.0, 100_000.0, np.inf])
RATE = np.array([0.005, 0.01, 0.01])
AMOUNT = np.array([0.0, 500.0, 500.0])


def test_portfolio_threshold_moves_the_liquidation_price_by_hand():
    # short 100 ETH at 2,000 with 20,000 of margin: B(M) = 20,000 - 100 (M - 2,000); the root lies in tier 2
    # (notional ~218k): maintenance = 100 M x 1 % - 500.
    # thr 1.00: 220,000 - 100 M = M - 500          -> M = 220,500 / 101    = 2,183.1683
    # thr 1.05: 220,000 - 100 M = 1.05 (M - 500)   -> M = 220,525 / 101.05 = 2,182.3355
    lp_std = liquidation_price(20_000.0, -100.0, 2000.0, 0.0, 0.0, FLOOR, RATE, AMOUNT, 2000.0)
    lp_pm = liquidation_price(20_000.0, -100.0, 2000.0, 0.0, 0.0, FLOOR, RATE, AMOUNT, 2000.0, thr=1.05)
    assert lp_std == pytest.approx(220_500.0 / 101.0, rel=1e-12)
    assert lp_pm == pytest.approx(220_525.0 / 101.05, rel=1e-12)
    assert lp_pm < lp_std                      # a higher threshold liquidates a short earlier
    # the twin (bisection on the breach condition, no closed form) agrees
    r = ref.liquidation_price(20_000.0, -100.0, 2000.0, 0.0, 0.0, FLOOR, RATE, AMOUNT, 2000.0, thr=1.05)
    assert r == pytest.approx(lp_pm, rel=1e-9)
    # at 2,182.5 (between the two): margin 1,750 vs maintenance 1,682.5 -> alive at 1.00, dead at 1.05 (1,766.6)
    assert not ref.is_breached(20_000.0, -100.0, 2000.0, 0.0, 0.0, FLOOR, RATE, AMOUNT, 2182.5)
    assert ref.is_breached(20_000.0, -100.0, 2000.0, 0.0, 0.0, FLOOR, RATE, AMOUNT, 2182.5, thr=1.05)


def test_portfolio_margin_mode_is_a_venue_override():
    ts = pd.Timestamp("2025-10-10", tz="UTC")
    std, _ = venue_arrays(["binance", "bybit"], "ETH", ts, 0.0, 0.0, {}, collateral_asset="USDe")
    # standard: 1.00 x maintenance; USDe at binance.toml's ratio (1.0), not collateral on bybit (not listed)
    assert std.cfg[0, C_MM_THRESHOLD] == 1.0 and std.cfg[0, C_COLL_RATIO] == 1.0 and std.cfg[1, C_COLL_RATIO] == 0.0
    pm, _ = venue_arrays(["binance", "bybit"], "ETH", ts, 0.0, 0.0, {"binance": {"margin_mode": "portfolio"}},
                         collateral_asset="USDe")
    # Binance PM (docs/venue-facts.md): uniMMR <= 1.05, ETH rate 0.95, stable rate 0.9999
    assert pm.cfg[0, C_MM_THRESHOLD] == 1.05
    assert pm.cfg[0, C_HAIRCUT] == pytest.approx(0.05)
    assert pm.cfg[0, C_COLL_RATIO] == 0.9999
    assert pm.cfg[1, C_MM_THRESHOLD] == 1.0                                  # other venues untouched
    own, _ = venue_arrays(["binance"], "ETH", ts, 0.0, 0.0,
                          {"binance": {"margin_mode": "portfolio", "liquidation_threshold": 1.1}})
    assert own.cfg[0, C_MM_THRESHOLD] == 1.1                                 # an explicit key wins
    usde, _ = venue_arrays(["binance"], "ETH", ts, 0.0, 0.0, {"binance": {"margin_mode": "portfolio",
                                                                        "collateral": {"USDe": 0.9}}},
                           collateral_asset="USDe")
    assert usde.cfg[0, C_COLL_RATIO] == 0.9 and usde.cfg[0, C_HAIRCUT] == pytest.approx(0.05)   # merged per asset
    with pytest.raises(ConfigError, match="'collateral_ratio' is no longer read; use collateral"):
        RunConfig(venue_overrides={"binance": {"collateral_ratio": 0.9}})
    with pytest.raises(ConfigError, match="margin_mode"):
        RunConfig(venue_overrides={"binance": {"margin_mode": "unified"}})
    with pytest.raises(ConfigError, match="liquidation_threshold"):
        RunConfig(venue_overrides={"binance": {"liquidation_threshold": 0.9}})


def _one_bar_book(coll_low: float, thr: float = 1.0):
    """Short 1 ETH at 2,000, no cash, 100 USDe-like units (ratio 1) as margin; flat 0.5 % maintenance.
    Bar 0 flat at 2,000 (collateral 1.0); bar 1: mark 2,000 -> high 2,040 -> close 2,000, collateral low
    `coll_low`, close 1.0."""
    n = 2
    px = np.full((n, 1), 2000.0)
    high = np.array([[2000.0], [2040.0]])
    c_low = np.array([[1.0], [coll_low]])
    c_close = np.ones((n, 1))
    mkt = kernel_market(np.array([3600, 7200], np.int64) * 10**9, px, px, px, px, high, px, px,
                       np.ones((n, 1)), np.ones((n, 1)), np.full((n, 1), np.nan), px, np.zeros((n, 0)),
                       np.zeros((n, 0), bool), np.full(n, 1 / 8760), c_low, c_close)
    acct = np.zeros((1, N_ACCT))
    acct[0, A_CASH], acct[0, A_QTY], acct[0, A_ENTRY], acct[0, A_COLL] = 0.0, -1.0, 2000.0, 100.0
    cfg = np.zeros((1, N_CFG))
    cfg[0, C_LIQ_FEE], cfg[0, C_COLL_RATIO], cfg[0, C_MM_THRESHOLD] = 0.01, 1.0, thr
    vt = VenueTables(cfg, np.array([[0.0, np.inf]]), np.array([[0.005, 0.005]]), np.array([[0.0, 0.0]]),
                     np.array([[100.0, 100.0]]))
    state = State(acct, np.zeros(0), np.zeros(0), np.zeros((1, 3)), px[0].copy(), px[0].copy())
    rec = Records(np.zeros(n), np.zeros((n, N_PNL)), np.zeros((n, 1, N_REC)), np.zeros((n, 0)), np.zeros(n),
                  np.zeros(n), np.zeros((2, N_PNL)))
    ledger = Ledger(np.zeros((64, 4), np.int64), np.zeros(64), np.zeros(1, np.int64))
    liq = np.full((2, N_LIQ), -1.0)
    stop, code = advance(state, vt, mkt, rec, ledger, 0, n, liq, 0)
    return stop, code, state, rec, ledger, liq


def test_collateral_counts_at_the_bar_low_in_the_check_and_at_the_close_in_the_records():
    # collateral low 0.65: at the mark high 2,040 the balance is 100 x 0.65 - (2,040 - 2,000) = 25 > 0.5 % x
    # 2,040 = 10.2 -> no liquidation. At the close the units count at 1.0: balance 100 + 0 = 100, equity 100,
    # liquidation price (100 + 2,000) / 1.005 = 2,089.5522 (the low only matters inside the bar).
    stop, code, state, rec, _, liq = _one_bar_book(0.65)
    assert (stop, code) == (2, STOP_END) and liq[0, Q_VENUE] == -1
    assert rec.venue[1, 0, R_MARGIN] == pytest.approx(100.0, rel=1e-12)
    assert rec.equity[1] == pytest.approx(100.0, rel=1e-12)
    assert rec.venue[1, 0, R_LIQ_PX] == pytest.approx(2100.0 / 1.005, rel=1e-12)
    assert rec.venue[1, 0, R_COLL] == 100.0
    # the same bar with threshold 1.05: 25 > 1.05 x 10.2 = 10.71, alive; liquidation price at the close
    # 100 + 2,000 - M = 1.05 x 0.005 M -> M = 2,100 / 1.00525 = 2,089.0326
    _, _, _, rec_pm, _, liq_pm = _one_bar_book(0.65, thr=1.05)
    assert liq_pm[0, Q_VENUE] == -1
    assert rec_pm.venue[1, 0, R_LIQ_PX] == pytest.approx(2100.0 / 1.00525, rel=1e-12)


def test_a_depeg_inside_the_bar_liquidates_and_the_loss_shows_in_price_and_ledger():
    # collateral low 0.5 (open 1.0): every price walks from its open to its adverse extreme together, a fraction
    # lam of the way: the mark 2,000 + 40 lam, the units 1 - 0.5 lam. Balance 100 (1 - 0.5 lam) - 40 lam =
    # 100 - 90 lam; level 0.5 % x (2,000 + 40 lam) = 10 + 0.2 lam. At the end of the walk 10 <= 10.2: breached
    # (not at the open: 100 > 10). It breaches at lam* = 90 / 90.2: mark 2,000 + 40 lam* = 2,039.9113, units at
    # 1 - 0.5 lam* = 0.501109. The venue first sells the 100 units there (+50.1109 cash, ledger collateral_trade;
    # price part 100 x (0.501109 - 1.0)), then closes the short: realized -(2,039.9113 - 2,000); the clearance
    # fee (1 % = 20.40) is capped at what is left, the balance at lam* = the level 0.5 % x 2,039.9113 = 10.1996:
    # the account ends at exactly 0 and the insurance fund pays nothing (it was not bankrupt).
    stop, code, state, rec, ledger, liq = _one_bar_book(0.5)
    lam = 90.0 / 90.2
    lp = 2000.0 + 40.0 * lam
    units_px = 1.0 - 0.5 * lam
    assert (stop, code) == (2, STOP_LIQUIDATION)
    assert liq[0, Q_PRICE] == pytest.approx(lp, rel=1e-12)
    assert liq[0, Q_FEE] == pytest.approx(0.005 * lp, rel=1e-9)
    assert liq[0, Q_INSURANCE] == 0.0
    assert state.acct[0, A_COLL] == 0.0 and state.acct[0, A_CASH] == pytest.approx(0.0, abs=1e-9)
    kinds = ledger.keys[: ledger.count[0], L_KIND]
    sale = ledger.amounts[: ledger.count[0]][kinds == K_COLL_TRADE]
    assert sale.tolist() == [pytest.approx(100.0 * units_px, rel=1e-12)]
    assert rec.equity[1] == pytest.approx(0.0, abs=1e-9)
    assert rec.pnl[1].sum() == pytest.approx(0.0 - 100.0, abs=1e-9)           # parts explain the change
    assert rec.pnl[1, P_LIQUIDATION] == pytest.approx(-0.005 * lp, rel=1e-9)
    # price part: the depeg to the sale, and the short's move to the fill, 1 x (2,000 - lp) (spot = mark here)
    assert rec.pnl[1, P_PRICE] == pytest.approx(100.0 * (units_px - 1.0) - (lp - 2000.0), rel=1e-12)


def test_collateral_conversions_pay_the_spot_taker_fee_each_way():
    # issue 23: a conversion is a spot trade. Binance's spot taker fee is 0.1 %: buying 5,000 of USDe costs
    # 5,000 + 5.00, selling 5,000 worth back brings 5,000 - 5.00; both fees are ledger rows `fee`. USDe flat at 1.
    from basisbt.data.dataset import Dataset
    from basisbt.strategies.base import Strategy
    from tests.helpers import bars
    from tests.runs import run_backtest

    class Convert(Strategy):
        name = "convert"

        def on_bar(self, ctx, ev):
            if ev.bar == 0:
                ctx.buy_collateral("binance", 5000.0)
            if ev.bar == 2:
                ctx.buy_collateral("binance", -5000.0)

    flat = bars(np.full(5, 2000.0))
    coll = bars(np.ones(5))
    ds = Dataset("conv", "ETH/USDT", "1h", {"binance": flat}, {"binance": flat}, {}, {}, {}, None,
                 collateral={"binance": coll}, collateral_asset="USDe")
    res = run_backtest(Convert(), ds, RunConfig(slippage=0.0, initial_capital=10_000.0))
    led = res.ledger
    trades = led[led.kind == "collateral_trade"]["amount"].tolist()
    fees = led[led.kind == "fee"]["amount"].tolist()
    assert trades == [pytest.approx(-5000.0), pytest.approx(5000.0)]
    assert fees == [pytest.approx(-5.0, abs=1e-12), pytest.approx(-5.0, abs=1e-12)]
    assert res.timeline["equity"].iloc[-1] == pytest.approx(10_000.0 - 10.0, abs=1e-9)
    assert res.timeline["pnl_fees"].sum() == pytest.approx(-10.0, abs=1e-9)
