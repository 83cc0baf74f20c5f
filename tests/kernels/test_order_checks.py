"""Venue order checks (engine.kernels.fills.allowed_qty) against the twin, and hand cases: a venue takes an order
whole or refuses it (issue 23 item 9), as Binance does."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basisbt.engine.config import RunConfig
from basisbt.engine.kernels.arrays import State, VenueTables
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_ENTRY,
    A_ISO,
    A_QTY,
    A_SPOT,
    C_HAIRCUT,
    C_ISOLATED,
    C_SPOT_COLL,
    C_SPOT_TAKER,
    C_TAKER,
    N_ACCT,
    N_CFG,
    N_TRANSIT,
    O_FILLED,
    O_REFUSED,
    PERP,
    SPOT,
    WHY_CASH,
    WHY_MARGIN,
)
from basisbt.engine.kernels.fills import allowed_qty
from basisbt.strategies.base import Strategy
from tests.helpers import bars, dataset
from tests.reference import orders as ref
from tests.runs import run_backtest

FLOOR = np.array([0.0, 50_000.0, 600_000.0, 3_000_000.0, np.inf])
MAX_LEV = np.array([125.0, 100.0, 75.0, 50.0, 50.0])


def book(cash, spot, q0, e0, iso=0.0, isolated=False, spot_coll=False, h=0.0):
    acct = np.zeros((1, N_ACCT))
    acct[0, A_CASH], acct[0, A_SPOT], acct[0, A_QTY], acct[0, A_ENTRY], acct[0, A_ISO] = cash, spot, q0, e0, iso
    cfg = np.zeros((1, N_CFG))
    cfg[0, C_TAKER], cfg[0, C_SPOT_TAKER], cfg[0, C_HAIRCUT] = 0.0005, 0.001, h
    cfg[0, C_ISOLATED], cfg[0, C_SPOT_COLL] = float(isolated), float(spot_coll)
    state = State(acct, np.zeros(0), np.zeros(0), np.zeros((1, N_TRANSIT)), np.ones(1), np.ones(1))
    vt = VenueTables(cfg, FLOOR[None, :], np.zeros((1, 5)), np.zeros((1, 5)), MAX_LEV[None, :])
    return state, vt


@settings(max_examples=400, deadline=None)
@given(cash=st.floats(-1e5, 1e7), spot=st.floats(0, 2000), q0=st.floats(-3000, 3000), e0=st.floats(500, 5000),
       qty=st.floats(-5000, 5000).filter(lambda x: abs(x) > 1e-6), px=st.floats(500, 5000),
       spot_coll=st.booleans(), h=st.floats(0, 0.2))
def test_perp_check_matches_twin(cash, spot, q0, e0, qty, px, spot_coll, h):
    state, vt = book(cash, spot, q0, e0, spot_coll=spot_coll, h=h)
    got = allowed_qty(state, vt, 0, PERP, qty, px, px, 0.0005)
    coll = spot * (1 - h) * px if spot_coll else 0.0
    want = ref.perp_allowed(qty, cash, q0, e0, coll, px, 0.0005, FLOOR, MAX_LEV)
    assert got[1] == want[1] and got[2] == want[2], (got, want)
    assert got[0] == want[0] and got[1] in (O_FILLED, O_REFUSED)       # whole or nothing


@settings(max_examples=300, deadline=None)
@given(cash=st.floats(0, 1e5), iso=st.floats(0, 1e5), qty=st.floats(-500, 500).filter(lambda x: abs(x) > 1e-6),
       px=st.floats(500, 5000))
def test_isolated_check_matches_twin(cash, iso, qty, px):
    state, vt = book(cash, 0.0, 0.0, 0.0, iso=iso, isolated=True)
    got = allowed_qty(state, vt, 0, PERP, qty, px, px, 0.0005)
    want = ref.perp_allowed(qty, iso, 0.0, 0.0, 0.0, px, 0.0005, FLOOR, MAX_LEV, isolated=True, cash=cash)
    assert got == want


@settings(max_examples=300, deadline=None)
@given(cash=st.floats(-1e4, 1e7), held=st.floats(0, 1e3), qty=st.floats(-2e3, 2e3).filter(lambda x: abs(x) > 1e-6),
       px=st.floats(100, 5000))
def test_spot_limit_matches_twin(cash, held, qty, px):
    state, vt = book(cash, held, 0.0, 0.0)
    got = allowed_qty(state, vt, 0, SPOT, qty, px, px, 0.001)
    want = ref.spot_allowed(qty, cash, held, px, 0.001)
    assert got[1:] == want[1:] and math.isclose(got[0], want[0], rel_tol=1e-12, abs_tol=1e-12)


def test_hand_500x_short_refused_whole_and_125x_fits():
    # 10,000 cash, 2000 ETH price: notional 40,000 is tier 0 (125x): IM 320 + fee 20 <= 10,000 -> filled
    state, vt = book(10_000.0, 0.0, 0.0, 0.0)
    assert allowed_qty(state, vt, 0, PERP, -20.0, 2000.0, 2000.0, 0.0005)[1] == O_FILLED
    # 500x: notional 5,000,000 is tier 3 (50x): IM 100,000 > 10,000 - fee 2,500. A venue refuses the order (it
    # used to be cut to the 361.45 ETH that fit); nothing fills
    assert allowed_qty(state, vt, 0, PERP, -2500.0, 2000.0, 2000.0, 0.0005) == (0.0, O_REFUSED, WHY_MARGIN)
    # reducing always passes, even without margin: a short of 10 bought back by 4
    state, vt = book(0.0, 0.0, -10.0, 2000.0)
    assert allowed_qty(state, vt, 0, PERP, 4.0, 2500.0, 2500.0, 0.0005) == (4.0, O_FILLED, 0)
    # a flip whose new side does not fit is refused whole (the reducing part does not go through alone)
    assert allowed_qty(state, vt, 0, PERP, 30.0, 2000.0, 2000.0, 0.0005)[1] == O_REFUSED


def test_binance_2022_ten_x_five_million_is_refused_not_cut_to_four():
    """Binance ETHUSDT brackets of 2022-05-21 (data/venues/binance.toml): 1.5M-4M at 10x, 4M-10M at 5x. A 5M short
    with 500,000 of margin (10x) needs 5,000,000 / 5 = 1,000,000 of initial margin: Binance refuses it (-2027,
    above the position the bracket allows at 10x). The old check cut it to the 4M that fits at 10x."""
    import pandas as pd

    from basisbt.engine.venue_setup import venue_arrays
    vt, _ = venue_arrays(["binance"], "ETH", pd.Timestamp("2022-06-01", tz="UTC"), 0.0, 0.0, {})
    acct = np.zeros((1, N_ACCT))
    acct[0, A_CASH] = 500_000.0
    state = State(acct, np.zeros(0), np.zeros(0), np.zeros((1, N_TRANSIT)), np.ones(1), np.ones(1))
    px = 2000.0
    fee = vt.cfg[0, C_TAKER]                                            # 0.05 %
    assert allowed_qty(state, vt, 0, PERP, -5_000_000 / px, px, px, fee) == (0.0, O_REFUSED, WHY_MARGIN)
    # 3.9M (in the 10x bracket): IM 390,000 <= 500,000 - 3.9M x 0.05 % = 498,050 -> filled whole
    assert allowed_qty(state, vt, 0, PERP, -3_900_000 / px, px, px, fee)[1] == O_FILLED
    # and the spot side: a buy costing more than the cash (fee included) is refused, not shrunk
    assert allowed_qty(state, vt, 0, SPOT, 500_000 / px, px, px, 0.001) == (0.0, O_REFUSED, WHY_CASH)


class Greedy(Strategy):
    """Buys spot for 20x its cash and shorts a 500x perp: the venue must refuse both and say so."""
    name = "greedy"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.rejects = []

    def on_bar(self, ctx, ev):
        if ev.bar == 0:
            cash, px = ctx.cash("binance"), ctx.price("binance")
            ctx.order("binance", "spot", 20 * cash / px)
            ctx.order("binance", "perp", -500 * cash / px)

    def on_reject(self, ctx, ev):
        self.rejects.append((ev.instrument, ev.status, ev.why))


def test_greedy_strategy_is_refused_never_below_zero_cash():
    n = 30
    close = np.linspace(2000.0, 2600.0, n)
    ds = dataset(bars(close))
    strat = Greedy()
    res = run_backtest(strat, ds, RunConfig(slippage=0.0, initial_capital=100_000.0))
    # nothing fills: the spot buy costs 20x the cash, the 500x short needs 4x the cash as initial margin
    assert res.fills.empty
    assert strat.rejects == [("spot", "refused", "not enough cash"),
                             ("perp", "refused", "initial margin above margin balance")]
    assert res.metrics()["orders_rejected_total"] == 2
    assert res.timeline["equity"].iloc[-1] == pytest.approx(100_000.0, rel=1e-12)
