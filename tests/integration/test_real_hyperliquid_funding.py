"""A 1-ETH short held over real hourly Hyperliquid funding records (../shared/data; skipped when absent).

The shared fundingHistory file is imported as it comes (`basisbt import hyperliquid`); the prices are real Binance
ETH/USDT hourly bars standing in for Hyperliquid's (perp and mark: Binance's perp and mark; the oracle: Binance spot,
one venue standing in for the weighted median, chosen with RunConfig.oracle). The window holds one of the records'
nine-day holes and the 2025-02-02/03 crash. The engine's funding must equal an independent recomputation: each
record after the fill settles at its own hour on rate x the oracle (spot) close of the bar ending then, never the
mark; the hole pays nothing and is counted as missing settlements.
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
from tests.helpers import ShortOnce, binance_real
from tests.runs import run_backtest

SRC = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "hyperliquid" / \
    "fundingHistory_ETH_2024-2025.json"
pytestmark = pytest.mark.skipif(not SRC.is_file(), reason="../shared/data not present")
START, END = "2025-01-10", "2025-02-14"


def test_one_eth_short_is_paid_rate_times_the_oracle_known_at_each_hour(tmp_path):
    r = CliRunner().invoke(app, ["import", "hyperliquid", str(SRC), "--cache", str(tmp_path)])
    assert r.exit_code == 0, r.output
    f = cache.read(tmp_path, cache.key_for("funding", "hyperliquid", "ETH/USDC:USDC", "settle"))
    t0, t1 = pd.Timestamp(START, tz="UTC"), pd.Timestamp(END, tz="UTC")
    fund = f[(f["ts"] > t0) & (f["ts"] <= t1)].reset_index(drop=True)
    bn = binance_real(("ETH/USDT",), START, END)
    spot, perp, mark = bn.spot["binance"], bn.perp["binance"], bn.mark["binance"]
    assert (spot["close"] != mark["close"]).mean() > 0.9                 # the oracle is not the mark here
    ds = Dataset("hl-real", "ETH/USDT", "1h", {"binance": spot, "hyperliquid": spot}, {"hyperliquid": perp},
                 {"hyperliquid": mark}, {"hyperliquid": fund[["ts", "rate", "interval_h"]]})
    res = run_backtest(ShortOnce("hyperliquid"), ds, RunConfig(slippage=0.0, initial_capital=1e6,
                                                   oracle={"hyperliquid": "binance"}))
    fill_ts = res.fills["ts"].iloc[0]                                    # open of bar 1
    paid = fund[fund["ts"] > fill_ts]
    close_at = dict(zip(spot["ts"] + pd.Timedelta(hours=1), spot["close"], strict=True))   # close of the bar ending at t
    expected = float(np.sum([r * close_at[t] for t, r in zip(paid["ts"], paid["rate"], strict=True)]))
    got = res.metrics()["pnl_by_venue"]["hyperliquid"]["funding"]
    assert got == pytest.approx(expected, abs=1e-6)
    on_mark = dict(zip(mark["ts"] + pd.Timedelta(hours=1), mark["close"], strict=True))
    assert abs(got - float(np.sum([r * on_mark[t] for t, r in zip(paid["ts"], paid["rate"], strict=True)]))) > 1e-3
    q = res.data_quality["venues"]["hyperliquid"]["funding"]
    assert q["intervals_missing"] == 220 and q["priced_stale"] == 0      # 2025-01-15 20:00 .. 01-24 23:00
    assert q["oracle"] == "binance spot (a single venue standing in for the oracle)"
    assert any("hyperliquid: funding paid on size x oracle price" in line for line in res.log)
