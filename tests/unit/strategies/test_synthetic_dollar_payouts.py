"""synthetic_dollar pays stakers the protocol's way (issue 25): a hand-built three-week schedule, every number
worked out by hand.

Set-up: 100,000 USD on binance only, every price 2,000 all the time, slippage 0, spot fee 0.1 %, perp fee
0.05 %, no flows. reserve_seed 1 % -> supply 99,000, reserve 1,000; staked_share 0.3 -> 29,700 staked (price 1);
reserve_share 0.2; cash_buffer 1 %. Bars 1h from Monday 2025-03-03 00:00; weeks are ISO weeks (Monday 00:00
UTC); a bar closing at Monday 00:00 belongs to the week it ends.

01:00 Mon 03-03  open: cash 100,000 x (1 - 1 %) = 99,000 -> 49.5 ETH spot and -49.5 perp
                 (fills at 01:00: spot fee 99.00 + perp fee 49.50 = 148.50, week 1)
funding          every 8h (08:00, 16:00, 24:00), 21 prints a week, each -q x 2,000 x rate = 99,000 x rate
week 1 (03-03)   rate +0.01 %: 21 x 9.90 = 207.90; revenue 207.90 - 148.50 = 59.40
                 -> stakers 0.8 x 59.40 = 47.52, reserve 1,000 + 11.88 = 1,011.88
                 APY published for week 2 = (1 + 47.52 / 29,700)^(365/7) - 1
week 2 (03-10)   47.52 vests linearly over the week (21 transfers of 8h, each vesting over 8h):
                 supply 99,047.52 and staked 29,747.52 at 03-17 00:00; share price 29,747.52 / 29,700
                 rate -0.005 %: revenue 21 x -4.95 = -103.95 -> all paid by the reserve: 907.93; stakers 0
week 3 (03-17)   APY published 0, share price flat all week
                 rate +0.02 %: revenue 21 x 19.80 = 415.80 -> stakers 332.64, reserve + 83.16 = 991.09
                 APY published for week 4 = (1 + 332.64 / 29,747.52)^(365/7) - 1
06:00 Mon 03-24  the last bar: 6 of week 4's 168 hours have vested: 332.64 x 6 / 168 = 11.88
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from basisbt.data.dataset import Dataset
from basisbt.engine.config import ConfigError, RunConfig
from basisbt.strategies.synthetic_dollar import SyntheticDollar
from tests.runs import run_backtest

T0 = pd.Timestamp("2025-03-03", tz="UTC")             # a Monday
H = pd.Timedelta(hours=1)
W = pd.Timedelta(days=7)
PX = 2000.0
RATES = (0.0001, -0.00005, 0.0002)                    # per 8h, weeks 1-3


def flat(n: int) -> pd.DataFrame:
    return pd.DataFrame({"ts": [T0 + i * H for i in range(n)], "open": PX, "high": PX, "low": PX, "close": PX,
                         "volume": 1e6})


def three_weeks() -> Dataset:
    n = 21 * 24 + 6                                    # to Monday 03-24 06:00
    ts = [T0 + 8 * H * k for k in range(1, 3 * 21 + 1)]
    rates = [RATES[min((t - T0 - pd.Timedelta(seconds=1)) // W, 2)] for t in ts]
    funding = pd.DataFrame({"ts": ts, "rate": rates, "interval_h": 8.0})
    return Dataset("three-weeks", "ETH/USDT", "1h", spot={"binance": flat(n)}, perp={"binance": flat(n)},
                   mark={"binance": flat(n)}, funding={"binance": funding}, lending={})


def run(**params):
    cfg = RunConfig(initial_capital=100_000.0, slippage=0.0,
                    venue_overrides={"binance": {"taker_fee": 0.0005, "spot_taker_fee": 0.001}})
    p = dict(reserve_seed=0.01, staked_share=0.3, reserve_share=0.2, cash_buffer=0.01, reference_supply=0.0)
    return run_backtest(SyntheticDollar(**{**p, **params}), three_weeks(), cfg)


@pytest.fixture(scope="module")
def res():
    return run()


def apy(paid: float, staked: float) -> float:
    return (1.0 + paid / staked) ** (365.0 / 7.0) - 1.0


def test_each_week_is_split_at_its_close(res) -> None:
    x = res.extras
    closes = [T0 + W, T0 + 2 * W, T0 + 3 * W]
    assert list(x["period_revenue"].index) == closes
    assert x["period_revenue"].to_numpy() == pytest.approx([59.40, -103.95, 415.80], abs=1e-9)
    assert x["period_staker_payout"].to_numpy() == pytest.approx([47.52, 0.0, 332.64], abs=1e-9)
    assert x["period_reserve_take"].to_numpy() == pytest.approx([11.88, -103.95, 83.16], abs=1e-9)
    reserve = x["reserve_fund"]
    assert reserve.loc[:closes[0] - H].eq(1_000.0).all()
    assert reserve.loc[closes[0]] == pytest.approx(1_011.88)
    assert reserve.loc[closes[1]] == pytest.approx(907.93)            # the negative week: paid by the reserve
    assert reserve.iloc[-1] == pytest.approx(991.09)


def test_staker_apy_of_week_w_is_week_w_minus_1_over_the_staked_supply(res) -> None:
    a = res.extras["staker_apy"]
    assert a.loc[:T0 + W - H].isna().all()                            # nothing published before week 1 closes
    assert a.loc[T0 + W:T0 + 2 * W - H].to_numpy() == pytest.approx(apy(47.52, 29_700.0), rel=1e-12)
    assert (a.loc[T0 + 2 * W:T0 + 3 * W - H] == 0.0).all()            # week 2 lost money: stakers get 0
    assert a.loc[T0 + 3 * W:].to_numpy() == pytest.approx(apy(332.64, 29_747.52), rel=1e-12)


def test_payouts_vest_through_the_next_week_and_the_share_price_never_falls(res) -> None:
    x = res.extras
    supply, price = x["supply"], x["share_price"]
    assert np.all(np.diff(price.to_numpy()) >= 0.0)
    assert supply.loc[T0 + W] == pytest.approx(99_000.0)              # the payout starts vesting at the close
    for hours in (1, 4, 8, 13, 84, 167):                              # 8h transfers, each linear: linear overall
        t = T0 + W + hours * H
        assert supply.loc[t] == pytest.approx(99_000.0 + 47.52 * hours / 168.0, rel=1e-12), hours
    assert supply.loc[T0 + 2 * W] == pytest.approx(99_047.52, rel=1e-12)
    assert price.loc[T0 + 2 * W] == pytest.approx(29_747.52 / 29_700.0, rel=1e-12)
    assert (price.loc[T0 + 2 * W:T0 + 3 * W] == price.loc[T0 + 2 * W]).all()   # the negative week: flat
    assert supply.iloc[-1] == pytest.approx(99_047.52 + 332.64 * 6 / 168, rel=1e-12)
    # the book never changed: no flows, no trades after the open, so assets = equity
    assert res.metrics()["equity_end"] == pytest.approx(100_000.0 - 148.5 + 59.4 + 148.5 - 103.95 + 415.8)


def test_cadence_is_a_parameter(res) -> None:
    # all at once at the close (one transfer, no vesting): the whole 47.52 is in the supply at week 2's start
    once = run(payout_step_h=168.0, payout_vest_h=0.0)
    assert once.extras["supply"].loc[T0 + W] == pytest.approx(99_047.52)
    # daily periods: day 1 (03-03) = 3 prints - the opening fees = 29.70 - 148.50 < 0: the reserve pays, day 2
    # publishes 0; day 2 earns 29.70: day 3 publishes (1 + 0.8 x 29.70 / 29,700)^365 - 1
    daily = run(payout_period_h=24.0)
    days = daily.extras["period_revenue"]
    assert days.index[0] == T0 + pd.Timedelta(days=1)
    assert days.iloc[:2].to_numpy() == pytest.approx([29.7 - 148.5, 29.7])
    a = daily.extras["staker_apy"]
    assert a.loc[T0 + pd.Timedelta(days=1)] == 0.0
    assert a.loc[T0 + pd.Timedelta(days=2)] == pytest.approx((1.0 + 0.8 * 29.7 / 29_700.0) ** 365.0 - 1.0,
                                                              rel=1e-12)


def test_the_unstaked_rule_gives_the_revenue_rate_on_the_whole_supply(res) -> None:
    u = run(reserve_rule="unstaked")
    # week 1: stakers get 59.40 x 29,700 / 99,000 = 17.82, the reserve the rest
    assert u.extras["period_staker_payout"].iloc[0] == pytest.approx(17.82)
    assert u.extras["staker_apy"].loc[T0 + W] == pytest.approx(apy(59.40 / 99_000.0 * 29_700.0, 29_700.0))
    assert math.isclose(u.extras["staker_apy"].loc[T0 + W], (1 + 59.40 / 99_000.0) ** (365 / 7) - 1,
                        rel_tol=1e-12)


def test_reserve_cap_stops_the_take() -> None:
    # the reserve starts at 1,000 = 1.0101 % of 99,000; capped at 1.01 % it takes nothing, stakers get it all
    capped = run(reserve_cap=0.0101)
    assert capped.extras["period_reserve_take"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    assert capped.extras["period_staker_payout"].iloc[0] == pytest.approx(59.40)
    # the cap never stops the reserve paying a negative week
    assert capped.extras["period_reserve_take"].iloc[1] == pytest.approx(-103.95)


def test_parameters_are_checked() -> None:
    with pytest.raises(ConfigError, match="payout_step_h"):
        SyntheticDollar(payout_period_h=24.0, payout_step_h=48.0)
    with pytest.raises(ConfigError, match="perp_share_low"):
        SyntheticDollar(perp_share_low=0.9, perp_share_high=0.5)
    with pytest.raises(ConfigError, match="preset must be one of none, ethena"):
        SyntheticDollar(preset="ethna")
    with pytest.raises(ConfigError, match="reserve_rule"):
        SyntheticDollar(reserve_rule="half")
    with pytest.raises(ConfigError, match="did you mean 'payout_period_h'"):
        SyntheticDollar(payout_periods_h=24.0)
