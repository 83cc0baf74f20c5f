"""Several assets on one venue (issue 16): one cross wallet over two perps, isolated perps apart. Hand cases.

One tier everywhere (maintenance 0.5 %, no deduction), liquidation fee 0.5 %, no trigger or close fee.
Venue cash 2,000 USDT; an ETH short of 10 @ 2,000 and a BTC short of 0.5 @ 40,000; BTC's mark sits at
40,400 for the whole bar (a 200 loss), ETH's rallies from 2,000 to 2,400 within the bar.
"""
import math

import numpy as np
import pytest

from basisbt.engine.kernels.advance import advance
from basisbt.engine.kernels.arrays import Ledger, Records, State, VenueTables
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_ENTRY,
    A_ISO,
    A_QTY,
    C_HOME_OFF,
    C_ISOLATED,
    C_LIQ_FEE,
    N_ACCT,
    N_CFG,
    N_LIQ,
    N_PNL,
    N_REC,
    Q_PRICE,
    Q_QTY,
    Q_VENUE,
    R_LIQ_PX,
    R_MAINT,
    R_MARGIN,
    STOP_END,
    STOP_LIQUIDATION,
)
from tests.helpers import kernel_market

RATE = 0.005
ETH, BTC = 0, 1


def book(btc_isolated: bool = False):
    acct = np.zeros((2, N_ACCT))
    acct[ETH, A_CASH] = 2000.0                      # the venue's wallet, on its first slot
    acct[ETH, A_QTY], acct[ETH, A_ENTRY] = -10.0, 2000.0
    acct[BTC, A_QTY], acct[BTC, A_ENTRY] = -0.5, 40000.0
    cfg = np.zeros((2, N_CFG))
    cfg[:, C_LIQ_FEE] = RATE
    cfg[BTC, C_HOME_OFF] = 1.0                      # BTC's cash is ETH's slot's: one venue
    if btc_isolated:
        cfg[BTC, C_ISOLATED] = 1.0
        acct[BTC, A_ISO] = 1000.0
    tiers = (np.array([[0.0, np.inf]] * 2), np.full((2, 2), RATE), np.zeros((2, 2)), np.full((2, 2), 20.0))
    return acct, VenueTables(cfg, *tiers)


def market(eth_high: float = 2400.0, eth_close: float = 2000.0):
    """One bar: ETH open 2,000, high eth_high; BTC flat at 40,400."""
    row = lambda eth, btc: np.array([[eth, btc]])       # noqa: E731
    m_open, m_high, m_low, m_close = row(2000.0, 40400.0), row(eth_high, 40400.0), row(2000.0, 40400.0), \
        row(eth_close, 40400.0)
    return kernel_market(np.array([3_600_000_000_000]), m_open, m_close, m_open, m_open, m_high, m_low, m_close,
                        np.ones((1, 2)), np.ones((1, 2)), np.full((1, 2), np.nan), np.zeros((1, 2)),
                        np.zeros((1, 0)), np.zeros((1, 0), bool), np.array([1 / 8760]), np.full((1, 2), np.nan),
                        np.full((1, 2), np.nan))


def run(acct, vt, mkt):
    state = State(acct, np.zeros(0), np.zeros(0), np.zeros((1, 3)), mkt.spot_open[0].copy(), mkt.mark_open[0].copy())
    rec = Records(np.full(1, np.nan), np.zeros((1, N_PNL)), np.zeros((1, 2, N_REC)), np.zeros((1, 0)), np.zeros(1),
                  np.zeros(1), np.zeros((3, N_PNL)))
    ledger = Ledger(np.zeros((64, 4), np.int64), np.zeros(64), np.zeros(1, np.int64))
    liq = np.full((4, N_LIQ), -1.0)
    stop, code = advance(state, vt, mkt, rec, ledger, 0, 1, liq, 0)
    return state, rec, liq[liq[:, Q_VENUE] >= 0], code


def test_btc_loss_consumes_eth_margin_account_liquidated_where_hand_calculation_says():
    # balance(M) = 2000 - 10 (M - 2000) - 0.5 * 400 = 21,800 - 10 M
    # level(M)   = 0.005 (10 M + 0.5 * 40,400)     = 0.05 M + 101
    # equal at M = 21,699 / 10.05 = 2,159.1045 (ETH alone, with BTC's loss and margin gone: 22,000 / 10.05
    # = 2,189.05; BTC's loss and maintenance bring the account's end 29.95 lower)
    m_star = 21_699 / 10.05
    acct, vt = book()
    state, rec, liqs, code = run(acct, vt, market())
    assert code == STOP_LIQUIDATION
    assert sorted(int(v) for v in liqs[:, Q_VENUE]) == [ETH, BTC]           # the whole account, at once
    eth = liqs[liqs[:, Q_VENUE] == ETH][0]
    btc = liqs[liqs[:, Q_VENUE] == BTC][0]
    assert eth[Q_PRICE] == pytest.approx(m_star, abs=1e-6)
    assert btc[Q_PRICE] == pytest.approx(40400.0, abs=1e-9)                 # BTC's mark did not move
    assert eth[Q_QTY] == -10.0 and btc[Q_QTY] == -0.5
    # the fee equals the level (fee rate = maintenance rate), so nothing is left and nothing is owed
    assert state.acct[ETH, A_CASH] == pytest.approx(0.0, abs=1e-6)
    assert state.acct[:, A_QTY].tolist() == [0.0, 0.0]


def test_account_not_liquidated_below_the_hand_price():
    acct, vt = book()
    state, rec, liqs, code = run(acct, vt, market(eth_high=2159.0))        # 0.1 below M*
    assert code == STOP_END and len(liqs) == 0
    # records at the close (ETH 2,000): the account's balance and level on both slots
    assert rec.venue[0, ETH, R_MARGIN] == pytest.approx(2000.0 - 200.0)
    assert rec.venue[0, BTC, R_MARGIN] == pytest.approx(2000.0 - 200.0)
    assert rec.venue[0, ETH, R_MAINT] == pytest.approx(0.05 * 2000 + 101)
    # ETH's liquidation price with BTC held at its close is M* itself
    assert rec.venue[0, ETH, R_LIQ_PX] == pytest.approx(21_699 / 10.05, abs=1e-6)
    # BTC's, with ETH at 2,000: 2000 - 0.5 (B - 40,000) = 0.005 (20,000 + 0.5 B) -> B = 21,900 / 0.5025
    assert rec.venue[0, BTC, R_LIQ_PX] == pytest.approx(21_900 / 0.5025, abs=1e-6)


def test_isolated_btc_is_unaffected_by_the_eth_loss():
    # BTC isolated with 1,000 of its own margin: the cross wallet (2,000) backs ETH alone,
    # 2000 - 10 (M - 2000) = 0.05 M  ->  M = 22,000 / 10.05 = 2,189.05
    acct, vt = book(btc_isolated=True)
    state, rec, liqs, code = run(acct, vt, market())
    assert code == STOP_LIQUIDATION
    assert [int(v) for v in liqs[:, Q_VENUE]] == [ETH]
    assert liqs[0, Q_PRICE] == pytest.approx(22_000 / 10.05, abs=1e-6)
    assert state.acct[BTC, A_QTY] == -0.5 and state.acct[BTC, A_ISO] == 1000.0     # untouched
    assert math.isclose(state.acct[ETH, A_CASH], 0.0, abs_tol=1e-6)
