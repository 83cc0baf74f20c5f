"""Maker fills (issue 23 item 4): a post-only limit order rests at its price and fills whole, at that price, with
the maker fee (or rebate) and no slippage, when a later bar trades strictly through it (engine/resting.py)."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basisbt.engine.config import RunConfig
from basisbt.engine.kernels.fills import first_fill_bar
from basisbt.strategies.base import Strategy
from tests.helpers import T0, bars, dataset
from tests.reference import orders as ref
from tests.runs import run_backtest

MAKER = 0.0002      # Binance USD-M regular maker fee (data/venues/binance.toml)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(1900, 2100), min_size=1, max_size=30), st.floats(1900, 2100), st.booleans(),
       st.integers(0, 30), st.integers(0, 30), st.integers(0, 5))
def test_first_fill_bar_matches_twin(closes, limit, buy, i0, span, gaps):
    c = np.array(closes)
    high, low = c + 5.0, c - 5.0
    for g in range(min(gaps, len(c))):
        high[g * 3 % len(c)] = low[g * 3 % len(c)] = np.nan          # bars with no data trade nothing
    assert first_fill_bar(high, low, limit, buy, i0, i0 + span) == ref.first_fill_bar(high, low, limit, buy, i0,
                                                                                       i0 + span)


class Maker(Strategy):
    """Places limit orders at bar 0 (`orders`: (instrument, qty, price, expire)) and records what comes back."""
    name = "maker"

    def __init__(self, orders=(), cancel_at=None, **kw):
        super().__init__(**kw)
        self.orders, self.cancel_at, self.ids = orders, cancel_at, []
        self.fills, self.rejects, self.open_seen = [], [], []

    def on_bar(self, ctx, ev):
        if ev.bar == 0:
            self.ids = [ctx.limit_order("binance", ins, q, px, "rest", expire=exp) for ins, q, px, exp in self.orders]
        elif ev.bar == 1:
            self.open_seen = [(o.id, o.qty, o.price) for o in ctx.open_orders("binance")]
        if self.cancel_at is not None and ev.bar == self.cancel_at:
            for oid in self.ids:
                ctx.cancel(oid)

    def on_fill(self, ctx, ev):
        self.fills.append((ctx.bar, ev.instrument, ev.qty, ev.price, ev.fee, ev.slippage, ev.liquidity, ev.order_id))

    def on_reject(self, ctx, ev):
        self.rejects.append((ev.status, ev.why, ev.order_id))


def flat_with_highs(highs: dict[int, float], lows: dict[int, float] | None = None, n: int = 8):
    close = np.full(n, 2000.0)
    hi, lo = close.copy(), close.copy()
    for b, x in highs.items():
        hi[b] = x
    for b, x in (lows or {}).items():
        lo[b] = x
    return dataset(bars(close), perp=bars(close, high=hi, low=lo))


def test_sell_limit_fills_when_a_bar_trades_through_not_when_it_touches():
    # a sell of 1 ETH at 2,010 placed at bar 1's open (2,000: it rests). Bar 2's high is 2,010 (a touch: the queue
    # at 2,010 may not have been reached, no fill); bar 3's high 2,015 trades through: filled whole at 2,010, maker
    # fee 0.02 % x 2,010 = 0.402, no slippage (even with 5 bps configured for market orders). Booked at bar 3's open;
    # the strategy hears of it at bar 3's close.
    ds = flat_with_highs({2: 2010.0, 3: 2015.0})
    s = Maker(orders=[("perp", -1.0, 2010.0, None)])
    res = run_backtest(s, ds, RunConfig(slippage=0.0005, initial_capital=10_000.0))
    assert s.fills == [(3, "perp", -1.0, 2010.0, pytest.approx(2010.0 * MAKER), 0.0, "maker", s.ids[0])]
    assert s.open_seen == [(s.ids[0], -1.0, 2010.0)]
    f = res.fills.iloc[0]
    assert f.ts == T0 + pd.Timedelta("3h") and f.liquidity == "maker" and f.price == 2010.0
    # the short sold at 2,010 and marked at 2,000: +10, less the fee; equity explained by its parts
    assert res.timeline["equity"].iloc[-1] == pytest.approx(10_000.0 + 10.0 - 2010.0 * MAKER, abs=1e-9)
    parts = res.timeline[[c for c in res.timeline if c.startswith("pnl_")]].sum().sum()
    assert parts == pytest.approx(res.timeline["equity"].iloc[-1] - 10_000.0, abs=1e-9)


def test_a_declared_maker_rebate_is_paid():
    ds = flat_with_highs({3: 2015.0})
    s = Maker(orders=[("perp", -1.0, 2010.0, None)])
    res = run_backtest(s, ds, RunConfig(slippage=0.0, initial_capital=10_000.0,
                                        venue_overrides={"binance": {"maker_rebate": 0.0001}}))
    assert s.fills[0][4] == pytest.approx(-2010.0 * 0.0001, abs=1e-12)                    # a negative fee
    assert res.timeline["pnl_fees"].sum() == pytest.approx(+0.201, abs=1e-12)


def test_post_only_refuses_a_limit_that_would_trade_at_once():
    # a sell at 1,990 when bar 1 opens at 2,000 would take the bid: refused, nothing rests
    ds = flat_with_highs({3: 2015.0})
    s = Maker(orders=[("perp", -1.0, 1990.0, None)])
    res = run_backtest(s, ds, RunConfig(slippage=0.0, initial_capital=10_000.0))
    assert s.fills == [] and s.rejects == [("refused", "would take liquidity (post-only)", s.ids[0])]
    assert res.fills.empty


def test_expiry_and_cancel_take_an_order_off_the_book_unfilled():
    # a spot buy at 1,995 expiring at 04:00: bar 4 (04:00-05:00) would fill it (low 1,990) but closes after the
    # expiry: cancelled at its open, on_reject says "expired"
    ds = dataset(bars(np.full(8, 2000.0), low=np.r_[np.full(4, 2000.0), 1990.0, np.full(3, 2000.0)]))
    s = Maker(orders=[("spot", 1.0, 1995.0, T0 + pd.Timedelta("4h"))])
    run_backtest(s, ds, RunConfig(slippage=0.0, initial_capital=10_000.0))
    assert s.fills == [] and s.rejects == [("cancelled", "expired", s.ids[0])]
    # without the expiry it fills at bar 4, at 1,995 (spot maker fee 0.1 %)
    s = Maker(orders=[("spot", 1.0, 1995.0, None)])
    run_backtest(s, ds, RunConfig(slippage=0.0, initial_capital=10_000.0))
    assert s.fills == [(4, "spot", 1.0, 1995.0, pytest.approx(1.995), 0.0, "maker", s.ids[0])]
    # a strategy's own cancel (at bar 2's close, effective at bar 3's open) takes it off before bar 4
    s = Maker(orders=[("spot", 1.0, 1995.0, None)], cancel_at=2)
    run_backtest(s, ds, RunConfig(slippage=0.0, initial_capital=10_000.0))
    assert s.fills == [] and s.rejects == []
