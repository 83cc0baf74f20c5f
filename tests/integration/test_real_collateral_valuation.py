"""The 2025-02-03 02:00 UTC bar on real Binance ETH/USDT 1h data (../shared/data, skipped when absent):
liquidation is on the mark, not the perp trade wick, and posted spot is valued on its own path (here the spot
bars: no index is imported), not at the mark.

The book is a LONG perp of 10 ETH with 20 ETH of spot posted: both legs lose on the way down, so inside the bar
its worst point is the mark at its low (2,157.66) with the posted spot at ITS low (2,125.01; docs/architecture.md
§4). Its cash is chosen so that, with the spot at its low, the mark that breaches lies between the bar's mark
low and its perp trade low (2,080.19): it survives the bar, which a trade-price check would not.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from basisbt.engine.kernels.advance import advance
from basisbt.engine.kernels.arrays import Ledger, Records, State, VenueTables
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_ENTRY,
    A_QTY,
    A_SPOT,
    C_COLL_RATIO,
    C_HAIRCUT,
    C_MM_THRESHOLD,
    C_SPOT_COLL,
    N_ACCT,
    N_CFG,
    N_LIQ,
    N_PNL,
    N_REC,
    Q_VENUE,
    R_MARGIN,
    STOP_END,
)
from basisbt.engine.market import build_market
from basisbt.regress.golden import GoldenCase, load_case_data

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "freqtrade" / "binance"
BAR = pd.Timestamp("2025-02-03 02:00", tz="UTC")
RATE, HAIRCUT, SPOT_UNITS, Q = 0.005, 0.05, 20.0, 10.0        # flat 0.5 % maintenance (hand-solvable)
LIQ_TARGET = 2120.0                                             # between the perp low and the mark low


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not present (fresh clone)")
def test_feb_3_wick_does_not_liquidate_on_the_mark_and_spot_collateral_is_valued_at_spot():
    ds = load_case_data(GoldenCase("real", "perp_short", f"freqtrade:{SHARED}", symbol="ETH/USDT"))
    ds = ds.with_venues(["binance"]).between(BAR - pd.Timedelta("2h"), BAR + pd.Timedelta("2h"))
    m = build_market(ds)
    i = int(np.flatnonzero(m.open_ns == BAR.value)[0])
    b = m.bars
    mark_lo, perp_lo = b["mark_low"][i, 0], b["perp_low"][i, 0]
    assert mark_lo == pytest.approx(2157.66, abs=0.005)                 # recorded facts (venue README)
    assert perp_lo == pytest.approx(2080.19, abs=0.005)
    s_c, m_c = b["spot_close"][i, 0], b["mark_close"][i, 0]
    s_lo = b["spot_low"][i, 0]
    assert s_lo == pytest.approx(2125.01, abs=0.005)
    entry = b["mark_close"][i - 1, 0]
    # with the spot at its low the balance is B(M) = W + q (M - entry) + 20 x 0.95 x S_lo; it equals |q| x 0.005 x M
    # at M* = 2,120 when W = |q| x 0.005 x M* - q (M* - entry) - 19 S_lo.
    coll_lo = SPOT_UNITS * (1 - HAIRCUT) * s_lo
    w = abs(Q) * RATE * LIQ_TARGET - Q * (LIQ_TARGET - entry) - coll_lo
    # a trade-price check would breach at the perp's wick (balance below maintenance at 2,080.19) ...
    assert w + Q * (perp_lo - entry) + coll_lo < abs(Q) * RATE * perp_lo
    # ... the mark low does not reach it, the posted spot at its own low included
    assert w + Q * (mark_lo - entry) + coll_lo > abs(Q) * RATE * mark_lo

    mk = m.arrays()
    acct = np.zeros((1, N_ACCT))
    acct[0, A_CASH], acct[0, A_SPOT], acct[0, A_QTY], acct[0, A_ENTRY] = w, SPOT_UNITS, Q, entry
    cfg = np.zeros((1, N_CFG))
    cfg[0, C_SPOT_COLL], cfg[0, C_HAIRCUT], cfg[0, C_COLL_RATIO], cfg[0, C_MM_THRESHOLD] = 1.0, HAIRCUT, 1.0, 1.0
    vt = VenueTables(cfg, np.array([[0.0, np.inf]]), np.array([[RATE, RATE]]), np.zeros((1, 2)),
                     np.full((1, 2), 100.0))
    n = m.n
    state = State(acct, np.zeros(0), np.zeros(0), np.zeros((1, 3)), mk.spot_close[i - 1].copy(),
                  mk.mark_close[i - 1].copy())
    rec = Records(np.zeros(n), np.zeros((n, N_PNL)), np.zeros((n, 1, N_REC)), np.zeros((n, 0)), np.zeros(n),
                  np.zeros(n), np.zeros((2, N_PNL)))
    ledger = Ledger(np.zeros((64, 4), np.int64), np.zeros(64), np.zeros(1, np.int64))
    liq = np.full((2, N_LIQ), -1.0)
    stop, code = advance(state, vt, mk, rec, ledger, i, i + 1, liq, 0)
    assert (stop, code) == (i + 1, STOP_END) and liq[0, Q_VENUE] == -1          # survived: liquidation on the mark
    # at the close, the margin balance values the 20 ETH at SPOT: W + q (M_c - entry) + 20 x 0.95 x S_c.
    at_spot = w + Q * (m_c - entry) + SPOT_UNITS * (1 - HAIRCUT) * s_c
    at_mark = w + Q * (m_c - entry) + SPOT_UNITS * (1 - HAIRCUT) * m_c
    assert rec.venue[i, 0, R_MARGIN] == pytest.approx(at_spot, rel=1e-12)
    # valued at the mark it would differ by exactly the premium: 20 x 0.95 x S_c x (M_c / S_c - 1)
    # (the 02:00 bar closes at spot 2,486.64, mark 2,485.27: premium -0.055 %, 19 x -1.37 = -26.0 quote)
    assert at_mark - rec.venue[i, 0, R_MARGIN] == pytest.approx(SPOT_UNITS * (1 - HAIRCUT) * s_c * (m_c / s_c - 1),
                                                                rel=1e-9)
