"""Venue order checks (engine.kernels.fills.allowed_qty) against the closed-form twin, and hand cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basisbt.engine.config import RunConfig
from basisbt.engine.kernels.arrays import State, VenueTables
from basisbt.engine.kernels.codes import (A_CASH, A_ENTRY, A_ISO, A_QTY, A_SPOT, C_HAIRCUT, C_ISOLATED, C_SPOT_COLL,
                                  C_SPOT_TAKER, C_TAKER, N_ACCT, N_CFG, N_TRANSIT, O_FILLED, O_REDUCED, O_REFUSED,
                                  PERP, SPOT)
from basisbt.engine.kernels.fills import allowed_qty
from basisbt.engine.runner import run_backtest
from basisbt.strategies.base import Strategy
from tests.helpers import bars, dataset
from tests.reference import orders as ref

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
def test_perp_limit_matches_closed_form(cash, spot, q0, e0, qty, px, spot_coll, h):
    state, vt = book(cash, spot, q0, e0, spot_coll=spot_coll, h=h)
    got = allowed_qty(state, vt, 0, PERP, qty, px, px)
    coll = spot * (1 - h) * px if spot_coll else 0.0
    want = ref.perp_allowed(qty, cash, q0, e0, coll, px, 0.0005, FLOOR, MAX_LEV)
    assert got[1] == want[1] and got[2] == want[2], (got, want)
    assert math.isclose(got[0], want[0], rel_tol=1e-9, abs_tol=1e-9), (got, want)


@settings(max_examples=300, deadline=None)
@given(cash=st.floats(-1e4, 1e7), held=st.floats(0, 1e3), qty=st.floats(-2e3, 2e3).filter(lambda x: abs(x) > 1e-6),
       px=st.floats(100, 5000))
def test_spot_limit_matches_twin(cash, held, qty, px):
    state, vt = book(cash, held, 0.0, 0.0)
    got = allowed_qty(state, vt, 0, SPOT, qty, px, px)
    want = ref.spot_allowed(qty, cash, held, px, 0.001)
    assert got[1:] == want[1:] and math.isclose(got[0], want[0], rel_tol=1e-12, abs_tol=1e-12)


def test_hand_500x_short_refused_and_125x_fits():
    # 10,000 cash, 2000 ETH price: notional 40,000 is tier 0 (125x): IM 320 + fee 20 <= 10,000 -> filled
    state, vt = book(10_000.0, 0.0, 0.0, 0.0)
    assert allowed_qty(state, vt, 0, PERP, -20.0, 2000.0, 2000.0)[1] == O_FILLED
    # 500x: notional 5,000,000 is tier 3 (50x): IM 100,000 > 10,000 -> the largest size that fits:
    # tier 0: x <= 10,000 / (2000 * (0.0005 + 1/125)) = 588.235 ETH, but tier 0 ends at 25 ETH;
    # tier 1 (100x): x <= 10,000 / (2000 * (0.0005 + 0.01)) = 476.19 ETH, ends at 300 ETH -> 300 is not it:
    # tier 2 (75x) covers 300..1500 ETH: x <= 10,000 / (2000 * (0.0005 + 1/75)) = 361.45 ETH -> reduced to it
    q, status, _ = allowed_qty(state, vt, 0, PERP, -2500.0, 2000.0, 2000.0)
    assert status == O_REDUCED and q == pytest.approx(-10_000 / (2000 * (0.0005 + 1 / 75)), rel=1e-9)
    # no margin at all: refused
    state, vt = book(0.0, 0.0, 0.0, 0.0)
    assert allowed_qty(state, vt, 0, PERP, -1.0, 2000.0, 2000.0)[1] == O_REFUSED


class Greedy(Strategy):
    """Buys spot for 20x its cash and shorts a 500x perp: the venue must cut both and say so."""
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


def test_greedy_strategy_is_cut_never_below_zero_cash():
    n = 30
    close = np.linspace(2000.0, 2600.0, n)              # the short loses: equity must stay explained
    ds = dataset(bars(close))
    strat = Greedy()
    res = run_backtest(strat, ds, RunConfig(slippage=0.0, initial_capital=100_000.0))
    spot_fill = res.fills[res.fills["instrument"] == "spot"].iloc[0]
    # all the cash buys spot, fee included: 100,000 / (2000 * 1.001)
    assert spot_fill["qty"] == pytest.approx(100_000 / (2000 * 1.001), rel=1e-9)
    assert strat.rejects[0] == ("spot", "reduced", "not enough cash")
    # the perp then has only spot as margin if cross with spot collateral; here it is cash-only: refused
    assert strat.rejects[1] == ("perp", "refused", "initial margin above margin balance")
    assert res.metrics()["orders_rejected_total"] == 2
    assert res.timeline["binance:spot_qty"].min() >= 0
    assert (res.ledger.groupby("venue")["amount"].sum() >= -1e-6).all()     # no venue's cash went negative
    assert res.timeline["equity"].min() > 0
