"""Held-out style check on real multi-venue funding (../shared/data; skipped when absent).

The 7-venue funding file is imported as it comes (one CSV, venue and symbol columns) through the CLI;
a 1 ETH short is held on binance and bybit over two months of hand-made hourly bars (close = 2000 + i,
so every settlement has its own price); the engine's funding per venue must equal an independent
recomputation: sum over settlements after the fill of rate x the close of the bar ending at it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from basisbt.cli.app import app
from basisbt.data import cache
from basisbt.data.dataset import Dataset
from basisbt.engine.config import RunConfig
from basisbt.strategies.base import Strategy
from tests.helpers import bars
from tests.runs import run_backtest

SRC = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "multi-venue-funding" / \
    "funding_btc_eth_7venues_utc.csv"
pytestmark = pytest.mark.skipif(not SRC.is_file(), reason="../shared/data not present")
START, END = pd.Timestamp("2022-06-01", tz="UTC"), pd.Timestamp("2022-08-01", tz="UTC")
VENUES = ("binance", "bybit")


class ShortOne(Strategy):
    """Short 1 ETH perp on each venue at the first decision, then hold."""
    name = "short_one"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.done = False

    def on_bar(self, ctx, ev):
        if not self.done:
            for v in ctx.venues:
                ctx.order(v, "perp", -1.0)
            self.done = True


def test_one_eth_short_funding_matches_independent_recomputation(tmp_path):
    r = CliRunner().invoke(app, ["import", "csv", str(SRC), "--stream", "funding", "--time", "timestamp_utc",
                                 "--venue-column", "exchange", "--symbol-column", "symbol",
                                 "--col", "rate=funding_rate", "--col", "interval_h=interval_hours",
                                 "--cache", str(tmp_path)])
    assert r.exit_code == 0, r.output
    fund = {}
    for v in VENUES:
        f = cache.read(tmp_path, cache.key_for("funding", v, "ETH/USDT:USDT", "settle"))
        fund[v] = f[(f["ts"] > START) & (f["ts"] < END)].reset_index(drop=True)
        assert len(fund[v]) > 150
    n = int((END - START) / pd.Timedelta(hours=1))
    close = 2000.0 + np.arange(n)
    b = bars(close, start=START)
    ds = Dataset("real-funding", "ETH/USDT", "1h", {v: b for v in VENUES}, {v: b for v in VENUES},
                 funding={v: fund[v][["ts", "rate"]] for v in VENUES})
    res = run_backtest(ShortOne(), ds, RunConfig(slippage=0.0, initial_capital=1e6))
    fill_ts = res.fills["ts"].iloc[0]                                    # open of bar 1
    got = res.metrics()["pnl_by_venue"]
    for v in VENUES:
        f = fund[v][fund[v]["ts"] > fill_ts]
        bar = ((f["ts"] - START) / pd.Timedelta(hours=1)).astype(int).to_numpy() - 1   # the bar closing at ts
        expected = float(np.sum(f["rate"].to_numpy() * close[bar]))    # a short receives rate x price
        assert got[v]["funding"] == pytest.approx(expected, rel=1e-6), v
    # the data have no holes in these two months: nothing priced stale
    assert res.data_quality["funding_priced_stale_total"] == 0
