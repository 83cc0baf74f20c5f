"""Binance tiers as they were (issue 15): dated blocks from recorded brackets, and a run that crosses a change.

The liquidation moves quoted in the issue (a 3x and a 10x isolated 5M short in 2022) come from the
recorded 2022-05 and 2022-08 brackets, computed independently of this code; the 2024 table gave +32.2 %.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from basisbt.data.venues import load_venue
from basisbt.engine.config import RunConfig
from basisbt.engine.kernels.margin import liquidation_price
from basisbt.engine.runner import Engine
from basisbt.results import Results
from basisbt.strategies.perp_short import PerpShort
from tests.helpers import bars, dataset


def move_to_liquidation(at: str, leverage: float, notional: float = 5e6, entry: float = 1000.0) -> float:
    t = load_venue("binance", at=at).tier_table("ETH")
    q = -notional / entry
    floor, rate, amount = (np.atleast_2d(a) for a in (t.floor, t.rate, t.amount))
    px = liquidation_price(notional / leverage, q, entry, 0.0, 0.0, floor, rate, amount, entry)
    return px / entry - 1.0


@pytest.mark.parametrize("at, leverage, move", [("2022-06-01", 3.0, 0.258), ("2022-09-01", 3.0, 0.301)])
def test_2022_liquidation_moves_match_the_recorded_brackets(at, leverage, move):
    assert move_to_liquidation(at, leverage) == pytest.approx(move, abs=0.0006)


def test_2022_10x_short_is_liquidated_near_4_6_percent():
    assert move_to_liquidation("2022-06-01", 10.0) == pytest.approx(0.046, abs=0.0006)
    assert move_to_liquidation("2024-07-01", 10.0) == pytest.approx(0.091, abs=0.0006)   # the table we had


def test_tier_one_is_0_5_percent_until_2024_02_and_0_4_after():
    assert load_venue("binance", at="2022-03-01").tier_table("ETH").floor[1] == 10_000.0     # 0.5 % to 10k
    assert load_venue("binance", at="2023-06-01").tier_table("ETH").rate[0] == 0.005
    assert load_venue("binance", at="2024-03-01").tier_table("ETH").rate[0] == 0.004
    assert load_venue("binance", at="2025-09-01").tier_table("ETH").max_leverage[0] == 150


def test_a_run_across_a_spec_change_switches_tables_at_that_bar():
    # hourly bars from 2024-02-01 to 2024-02-06: the 2024-02-03 block starts inside the run
    start = pd.Timestamp("2024-02-01", tz="UTC")
    ds = dataset(bars(np.full(24 * 5, 2000.0), start=start))
    eng = Engine(PerpShort(collateral="usdt", leverage=3.0), ds, RunConfig(slippage=0.0))
    assert eng.tables.rate[0, 0] == 0.005                        # the 2023-12-12 table at the first bar
    res = Results.of(eng.run())
    assert eng.tables.rate[0, 0] == 0.004                        # the 2024-02-03 table after it
    assert any("spec block of 2024-02-03 in force" in line for line in res.log)
    # maintenance margin recorded before and after the change follows each table (same position, same price)
    mm = res.timeline["binance:maint_margin"]
    before, after = mm[mm.index < pd.Timestamp("2024-02-03", tz="UTC")].iloc[-1], mm.iloc[-1]
    notional = abs(res.timeline["binance:perp_qty"].iloc[-1]) * 2000.0
    t_old = load_venue("binance", at="2024-02-02").tier_table("ETH")
    t_new = load_venue("binance", at="2024-02-04").tier_table("ETH")
    k_old = np.searchsorted(t_old.floor, notional, side="right") - 1
    k_new = np.searchsorted(t_new.floor, notional, side="right") - 1
    assert before == pytest.approx(notional * t_old.rate[k_old] - t_old.amount[k_old], rel=1e-12)
    assert after == pytest.approx(notional * t_new.rate[k_new] - t_new.amount[k_new], rel=1e-12)
    assert before != after
    # metrics.json, run.toml and the reports say which block was in force when
    first_open, switch = "2024-02-01T00:00:00+00:00", "2024-02-03T00:00:00+00:00"
    assert res.venue_blocks == {"binance": [
        {"block": "2023-12-12", "from": first_open, "to": switch},
        {"block": "2024-02-03", "from": switch, "to": res.timeline.index[-1].isoformat()}]}
    assert res.metrics()["venue_blocks"] == res.venue_blocks
    import tomllib

    from basisbt.reports.writers import run_toml
    assert tomllib.loads(run_toml(res))["venue_blocks"] == res.venue_blocks
    from basisbt.reports.markdown import render_markdown
    assert "| binance | 2024-02-03 | 2024-02-03 00:00 |" in render_markdown(res, res.metrics())
