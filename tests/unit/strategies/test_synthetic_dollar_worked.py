"""A worked synthetic_dollar case: two venues, flat prices, one mint, one redemption, three funding prints.

Set-up: 100,000 USD, binance and okx (50,000 each), every price 2,000 all the time, slippage 0,
spot fee 0.1 %, perp fee 0.05 %. reserve_seed 1 % -> supply 99,000, reserve 1,000.
reference_supply 99e6 -> flows are scaled by 99,000 / 99e6 = 1/1000. reserve_share 0.2,
staked_share 0.3, cash_buffer 1 %. Bars are 1h; bar i opens at i:00 and closes at (i+1):00;
orders placed at a close fill at the next bar's open. Flows rows are hourly totals, so the row
stamped h:00 is known at (h+1):00.

close  what happens (per venue unless said)                                   equity after
01:00  open: buy 24.75 ETH spot (49,500), short 24.75 perp                     100,000.00
       (fills 01:00: spot fee 49.50, perp fee 24.75 -> 74.25 x 2 = 148.50)
02:00  mint row 01:00 (10,000,000 -> 10,000 USD) known: supply 109,000;        99,851.50
       +5,000 cash each, hedge 4,950 -> 2.475 ETH each
       (fills 02:00: fees 4.95 + 2.475 = 7.425 x 2 = 14.85)
03:00  funding +0.01 % on 27.225 short: +27.225 x 2,000 x 0.0001 = 5.445 x 2   109,847.54
       = +10.89 (equity 99,851.50 + 10,000 - 14.85 + 10.89)
05:00  funding -0.02 %: -10.89 x 2 = -21.78;                                   109,825.76
       redeem row 04:00 (4,000,000 -> 4,000) known: supply 105,000;
       unwind 2,000 = 1.0 ETH each, pay out 2,000 each
06:00  fills 05:00: spot fee 2.00 + perp fee 1.00 = 3.00 x 2 = 6.00            105,819.76
       (109,825.76 - 4,000 - 6.00)
07:00  funding +0.5 % on 26.225 short: 26.225 x 2,000 x 0.005 = 262.25 x 2     106,344.26
       = +524.50.
08:00  last bar: nothing new.

The product's books (the week of Monday 2025-02-24 never closes here, so nothing is paid yet):
supply 99,000 -> 109,000 (mint) -> 105,000 (redemption), no staker payout; the reserve fund stays at its
1,000 seed (it is debited or credited only when a week closes); backing = assets / supply. Realized
revenue so far: funding 10.89 - 21.78 + 524.50 = 513.61; fees -(148.50 + 14.85 + 6.00) = -169.35; basis 0
(flat prices: every perp is opened and bought back at the spot price); slippage 0.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from basisbt.data.dataset import Dataset
from basisbt.engine.config import RunConfig
from basisbt.strategies.synthetic_dollar import SyntheticDollar
from tests.runs import run_backtest

T0 = pd.Timestamp("2025-03-01", tz="UTC")
H = pd.Timedelta(hours=1)
PX = 2000.0


def flat_bars(n: int) -> pd.DataFrame:
    return pd.DataFrame({"ts": [T0 + i * H for i in range(n)], "open": PX, "high": PX, "low": PX, "close": PX,
                         "volume": 1e6})


def tiny_dataset() -> Dataset:
    n = 8
    funding = pd.DataFrame({"ts": [T0 + 3 * H, T0 + 5 * H, T0 + 7 * H], "rate": [0.0001, -0.0002, 0.005],
                            "interval_h": [2.0, 2.0, 2.0], "mark_price": PX})
    mint = np.zeros(n)
    redeem = np.zeros(n)
    mint[1] = 10_000_000.0       # row 01:00, known at 02:00
    redeem[4] = 4_000_000.0      # row 04:00, known at 05:00
    flows = pd.DataFrame({"ts": [T0 + i * H for i in range(n)], "mint": mint, "redeem": redeem})
    venues = ("binance", "okx")
    return Dataset("tiny-flat", "ETH/USDT", "1h", spot={v: flat_bars(n) for v in venues},
                   perp={v: flat_bars(n) for v in venues}, mark={v: flat_bars(n) for v in venues},
                   funding={v: funding.copy() for v in venues}, lending={}, flows=flows)


@pytest.fixture(scope="module")
def res():
    fees = {"taker_fee": 0.0005, "spot_taker_fee": 0.001}
    cfg = RunConfig(initial_capital=100_000.0, slippage=0.0, venue_overrides={"binance": fees, "okx": fees})
    strat = SyntheticDollar(reserve_seed=0.01, reference_supply=99e6, reserve_share=0.2, staked_share=0.3,
                            cash_buffer=0.01)
    return run_backtest(strat, tiny_dataset(), cfg)


def at(series: pd.Series, hour: int) -> float:
    return float(series.loc[T0 + hour * H])


def test_equity_after_each_cash_flow(res) -> None:
    eq = res.timeline["equity"]
    for hour, want in ((1, 100_000.0), (2, 99_851.5), (3, 109_847.54), (5, 109_825.76), (6, 105_819.76),
                       (7, 106_344.26), (8, 106_344.26)):
        assert at(eq, hour) == pytest.approx(want, abs=1e-6), hour


def test_fills_by_hand(res) -> None:
    f = res.fills
    assert list(f.groupby("ts").size()) == [4, 4, 4]          # open, mint, redeem; 2 venues x spot/perp
    for ts, qty in ((T0 + H, 24.75), (T0 + 2 * H, 2.475), (T0 + 5 * H, -1.0)):
        rows = f[f["ts"] == ts]
        assert np.allclose(rows[rows.instrument == "spot"]["qty"], qty)
        assert np.allclose(rows[rows.instrument == "perp"]["qty"], -qty)
    assert f["fee"].sum() == pytest.approx(148.5 + 14.85 + 6.0, abs=1e-9)
    assert res.timeline["pnl_funding"].sum() == pytest.approx(10.89 - 21.78 + 524.5, abs=1e-9)
    assert res.timeline["flows"].sum() == pytest.approx(10_000 - 4_000, abs=1e-9)


def test_supply_reserve_backing_and_revenue(res) -> None:
    x = res.extras
    for hour, supply in ((1, 99_000.0), (2, 109_000.0), (5, 105_000.0), (7, 105_000.0), (8, 105_000.0)):
        assert at(x["supply"], hour) == pytest.approx(supply), hour
        assert at(x["reserve_fund"], hour) == 1_000.0, hour
    assert at(x["backing_ratio"], 2) == pytest.approx((99_851.5 + 10_000.0) / 109_000.0)   # + the mint ordered now
    assert at(x["backing_ratio"], 7) == pytest.approx(106_344.26 / 105_000.0)
    assert x["staker_apy"].isna().all()                                              # no week closed: no APY
    assert (x["share_price"] == 1.0).all()
    end = {k[len("revenue_"):]: float(s.iloc[-1]) for k, s in x.items() if k.startswith("revenue_")}
    assert end["funding"] == pytest.approx(10.89 - 21.78 + 524.5, abs=1e-9)
    assert end["fees"] == pytest.approx(-(148.5 + 14.85 + 6.0), abs=1e-9)
    assert end["basis"] == pytest.approx(0.0, abs=1e-9)
    assert end["slippage"] == 0.0 and end["lst"] == 0.0 and end["stables"] == 0.0
    assert "period_revenue" not in x
