"""The seed's Feb 2025 window (issue 25): the Binance perp's 5.8 % flash discount shows in the backing ratio at
once, and in realized revenue only when a close buys perps back during it.

feb-2025-crash at 1-minute bars, 01:00-04:00 on Feb 3: the flash is at the 02:20 close (Binance perp / spot - 1
= -5.8 %, Bybit and OKX about -1 %). Without flows nothing is closed; with one redemption row stamped 02:19
(known at 02:20) the hedge is unwound at 02:20's prices (the seed: Ethena realized about 500k from it).
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from basisbt.data.sources import resolve_data
from basisbt.engine.config import RunConfig
from basisbt.strategies.synthetic_dollar import SyntheticDollar
from tests.runs import run_backtest

FLASH = pd.Timestamp("2025-02-03T02:20", tz="UTC")
CFG = RunConfig(start="2025-02-03T01:00", end="2025-02-03T04:00")


@pytest.fixture(scope="module")
def data():
    return resolve_data("scenario:feb-2025-crash", timeframe="1m")


@pytest.fixture(scope="module")
def held(data):
    return run_backtest(SyntheticDollar(reference_supply=0.0), data, CFG)


@pytest.fixture(scope="module")
def redeemed(data):
    flows = pd.DataFrame({"ts": [FLASH - pd.Timedelta(minutes=1)], "mint": [0.0], "redeem": [50e6]})
    return run_backtest(SyntheticDollar(), dataclasses.replace(data, flows=flows), CFG)


def test_the_discount_shows_in_the_backing_ratio_but_realizes_nothing_while_held(held) -> None:
    basis = held.timeline["binance:basis"]
    assert basis.loc[FLASH] == pytest.approx(-0.058, abs=0.001)
    backing = held.extras["backing_ratio"]
    before = backing.loc[FLASH - pd.Timedelta(minutes=5):FLASH - pd.Timedelta(minutes=1)]
    # the short gains as the perp's mark falls below spot: a third of the book on binance, marked
    assert backing.loc[FLASH:FLASH + pd.Timedelta(minutes=5)].max() > before.max() + 0.005
    assert held.extras["revenue_basis"].iloc[-1] == 0.0          # no close, no realized basis
    assert (held.extras["supply"] == held.extras["supply"].iloc[0]).all()   # and nothing reaches stakers


def test_a_close_during_the_discount_realizes_it(redeemed) -> None:
    f = redeemed.fills
    opened = f[f["reason"] == "open"].set_index(["venue", "instrument"])["ref_price"]
    closed = f[f["reason"] == "redeem"]
    assert set(closed["ts"]) == {FLASH}
    closed = closed.set_index(["venue", "instrument"])
    realized = {}
    for v in ("binance", "bybit", "okx"):        # q x ((entry perp - spot) - (exit perp - spot)), from the fills
        entry = opened[(v, "perp")] - opened[(v, "spot")]
        exit_ = closed.loc[(v, "perp"), "ref_price"] - closed.loc[(v, "spot"), "ref_price"]
        realized[v] = closed.loc[(v, "perp"), "qty"] * (entry - exit_)
    assert redeemed.extras["revenue_basis"].iloc[-1] == pytest.approx(sum(realized.values()), rel=1e-12)
    units, spot = closed.loc[("binance", "perp"), "qty"], closed.loc[("binance", "spot"), "ref_price"]
    assert realized["binance"] / (units * spot) == pytest.approx(0.058, abs=0.002)   # the seed's 5.8 %
    assert 0.005 < realized["bybit"] / (units * spot) < 0.015                         # about 1 % there
