"""Worked cases: every expected number is computed by hand in the comments (freqtrade style)."""
import numpy as np
import pandas as pd
import pytest

from basisbt.data.venues import load_venue
from basisbt.engine.config import RunConfig
from basisbt.strategies.base import Strategy
from basisbt.strategies.perp_short import PerpShort
from tests.helpers import T0, bars, dataset, funding
from tests.runs import run_backtest

BN = load_venue("binance", at=T0)
NOSLIP = RunConfig(slippage=0.0, initial_capital=100_000.0)


def flat_case(rate: float, n_settle: int = 3, px: float = 2000.0):
    # 30 hourly bars at a flat 2000; funding at 08:00, 16:00, 24:00 (bar closes 8, 16, 24)
    n = 30
    ds = dataset(bars(np.full(n, px)),
                 fund=funding([T0 + pd.Timedelta(hours=8 * (k + 1)) for k in range(n_settle)],
                              [rate] * n_settle))
    return run_backtest(PerpShort(cash_buffer=0.01), ds, NOSLIP)


@pytest.mark.parametrize("rate", [0.0001, -0.0001])
def test_flat_price_constant_funding(rate):
    res = flat_case(rate)
    # decision at the close of bar 0 (01:00), fill at the open of bar 1 at 2000:
    # spot qty q = 100_000 * 0.99 / 2000 = 49.5 ETH, perp -49.5
    q, px = 49.5, 2000.0
    fees = q * px * BN.spot_taker_fee + q * px * BN.taker_fee      # taker on spot and perp
    income = 3 * q * px * rate                                     # 3 settlements: +-29.70 at 0.01 %
    assert res.timeline["pnl_funding"].sum() == pytest.approx(income, rel=1e-12)
    assert res.timeline["pnl_fees"].sum() == pytest.approx(-fees, rel=1e-12)
    assert res.timeline["equity"].iloc[-1] == pytest.approx(100_000 + income - fees, rel=1e-12)
    # a flat price leaves nothing to price or basis
    assert res.timeline["pnl_price"].abs().max() == 0.0
    assert res.timeline["pnl_basis"].abs().max() == 0.0


def test_fill_at_next_open_pays_taker_fee_on_that_price():
    # closes 2000, 2010, 2020...; the open of bar 1 is set to 2005 (differs from the close 2000 of bar 0)
    close = np.array([2000.0, 2010, 2020, 2030, 2040])
    open_ = np.array([2000.0, 2005, 2010, 2020, 2030])
    ds = dataset(bars(close, open_=open_))
    res = run_backtest(PerpShort(cash_buffer=0.01), ds, NOSLIP)
    f = res.fills
    assert list(f["ts"]) == [T0 + pd.Timedelta(hours=1)] * 2            # open of bar 1
    assert list(f["price"]) == [2005.0, 2005.0]
    q = 100_000 * 0.99 / 2000.0                                         # sized on the close it saw: 49.5
    assert f["fee"].iloc[0] == pytest.approx(q * 2005.0 * BN.spot_taker_fee, rel=1e-12)
    assert f["fee"].iloc[1] == pytest.approx(q * 2005.0 * BN.taker_fee, rel=1e-12)


def test_fill_close_mode_fills_at_decision_close():
    close = np.array([2000.0, 2010, 2020, 2030, 2040])
    ds = dataset(bars(close, open_=np.array([2000.0, 2005, 2015, 2025, 2035])))
    res = run_backtest(PerpShort(), ds, RunConfig(slippage=0.0, fill="close"))
    assert list(res.fills["price"]) == [2000.0, 2000.0]


class Recorder(Strategy):
    """Opens a 1 ETH short at the first close and records the hook order."""
    name = "recorder"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls = []

    def initial_allocation(self, venues):
        return {"binance": 1.0}

    def on_funding(self, ctx, ev):
        self.calls.append(("funding", ev.ts, ctx.perp_qty("binance")))

    def on_bar(self, ctx, ev):
        self.calls.append(("bar", ev.ts, ctx.perp_qty("binance")))
        if ev.bar == 7:   # decision at 08:00, the same instant as a funding settlement
            ctx.order("binance", "perp", -1.0)


def test_event_order_at_one_instant():
    # funding at 08:00 and 09:00; the order placed at the 08:00 close fills at the 08:00 open of bar 8,
    # after the 08:00 settlement: no funding at 08:00, one at 09:00 on 1 ETH at 2000: 2000 * 0.001 = 2.00
    ds = dataset(bars(np.full(12, 2000.0)),
                 fund=funding([T0 + pd.Timedelta(hours=8), T0 + pd.Timedelta(hours=9)], [0.001, 0.001]))
    s = Recorder()
    res = run_backtest(s, ds, NOSLIP)
    at8 = [c for c in s.calls if c[1] == T0 + pd.Timedelta(hours=8)]
    assert [c[0] for c in at8] == ["funding", "bar"]            # funding hook before the bar hook
    assert res.timeline["pnl_funding"].sum() == pytest.approx(2.0, rel=1e-12)
    ledger_f = res.ledger[res.ledger.kind == "funding"]
    assert list(ledger_f["ts"]) == [T0 + pd.Timedelta(hours=9)]


def test_liquidation_before_funding_at_one_instant():
    # 5x USDT short of 10 ETH at 2000; a wick to 2500 in the bar closing at 08:00 liquidates it;
    # the 08:00 settlement then finds no position and pays nothing
    n = 10
    close = np.full(n, 2000.0)
    high = close.copy()
    high[7] = 2500.0
    ds = dataset(bars(close, high=high), fund=funding([T0 + pd.Timedelta(hours=8)], [0.01]))
    res = run_backtest(PerpShort(collateral="usdt", leverage=5.0), ds, NOSLIP)
    assert len(res.liquidations) == 1
    assert res.liquidations["ts"].iloc[0] == T0 + pd.Timedelta(hours=8)
    assert res.timeline["pnl_funding"].sum() == 0.0
