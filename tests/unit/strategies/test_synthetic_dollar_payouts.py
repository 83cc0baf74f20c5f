"""synthetic_dollar's payout cadence, reserve cap and daily staker APY (issue 16 item 4). Flows are switched off
(reference_supply=0) so the supply moves only by staker payouts and every check is exact bookkeeping."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import basisbt as bb

DATA = "scenario:feb-2025-crash"          # 2025-01-27 (a Monday) .. 02-17, hourly


def _run(**params):
    return bb.run("synthetic_dollar", DATA, params={"reference_supply": 0.0, **params})


@pytest.fixture(scope="module")
def runs():
    return {d: _run(distribute=d) for d in ("decision", "daily", "weekly")}


def test_weekly_payouts_land_on_the_first_decision_of_each_week(runs):
    supply = runs["weekly"].extras["supply"]
    up = supply.index[1:][np.diff(supply.to_numpy()) > 0]
    assert len(up) >= 2
    assert all(t.weekday() == 0 and t.hour == 0 for t in up)     # Monday 00:00, the first decision of the week
    daily = runs["daily"].extras["supply"]
    d_up = daily.index[1:][np.diff(daily.to_numpy()) > 0]
    assert len(set(t.floor("D") for t in d_up)) == len(d_up)    # at most one payout a day
    # paying later never pays more: the income not paid yet is still in the reserve at the end
    end = {k: r.extras["supply"].iloc[-1] for k, r in runs.items()}
    assert end["weekly"] <= end["daily"] + 1e-6 <= end["decision"] + 2e-6
    # the book is the same whatever the cadence: payouts are a split of one equity, not trades
    assert runs["weekly"].metrics()["equity_end"] == pytest.approx(runs["decision"].metrics()["equity_end"], rel=1e-12)


def test_staker_apy_per_day_is_zero_between_weekly_payouts(runs):
    day = runs["weekly"].extras["staker_apy_day"]
    # stamped when known: the first decision of the next day (00:00), never inside the day it describes
    assert (day.index == day.index.floor("D")).all()
    paid_days = day[day > 0].index - pd.Timedelta(days=1)          # the day each value describes
    assert len(paid_days) >= 2 and all(t.weekday() == 0 for t in paid_days)
    hourly = runs["decision"].extras["staker_apy_day"]
    assert (hourly > 0).sum() > len(paid_days)                     # paid every day when paid at once


def test_reserve_cap_stops_the_reserve_and_pays_stakers_the_rest():
    # all income to the reserve (reserve_share 1) until it is 1.1 % of supply (it starts at 1/99 = 1.01 %);
    # above that, stakers get it all. Without the cap stakers are never paid.
    capped = _run(reserve_share=1.0, reserve_cap=0.011)
    uncapped = _run(reserve_share=1.0)
    assert uncapped.extras["supply"].iloc[-1] == uncapped.extras["supply"].iloc[0]
    ratio = capped.extras["reserve_fund"] / capped.extras["supply"]
    assert ratio.max() <= 0.011 + 1e-12
    grew = capped.extras["supply"].diff() > 0
    first_pay = grew[grew].index[0]
    # the step that first pays stakers fills the reserve to exactly 1.1 % of the supply before the payout
    # (990,000 x 0.011 = 10,890), so reserve / supply after is a hair under the cap
    supply, reserve = capped.extras["supply"], capped.extras["reserve_fund"]
    before = float(supply.shift(1).loc[first_pay])
    assert before == pytest.approx(990_000.0, rel=1e-12)
    assert float(reserve.loc[first_pay]) == pytest.approx(0.011 * before, rel=1e-12)
    assert ratio.loc[first_pay] < 0.011
    assert (ratio.loc[:first_pay].iloc[:-1] < 0.011).all()


def test_new_parameters_are_checked():
    from basisbt.engine.config import ConfigError
    with pytest.raises(ConfigError, match="distribute"):
        bb.run("synthetic_dollar", DATA, params={"distribute": "monthly"})
    with pytest.raises(ConfigError, match="reserve_cap"):
        bb.run("synthetic_dollar", DATA, params={"reserve_cap": 1.5})
