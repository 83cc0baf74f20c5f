"""collateral-depeg: a short margined with USDe is liquidated when USDe trades at 0.65 during the rebound of
10 October 2025; the same short margined with USDT, or with its spot as collateral, survives.

The scenario's own defaults (issue 23 item 10): from its start (21:00 UTC) at its default bar size (15m), the
hedge opens at the 21:15 bar's open, 10x: margin = notional / 10, converted into USDe (0.1 % spot fee). The
arithmetic below reads only the scenario's bars, the fills and ledger (entry, cash) and the Binance tier table.
"""
from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from basisbt.data.scenarios import collateral_depeg as cd
from basisbt.data.scenarios import load_scenario
from basisbt.data.sources import resolve_data
from basisbt.data.venues import load_venue
from basisbt.strategies.perp_short import PerpShort
from tests.runs import run_backtest


@cache
def data():
    return load_scenario(cd.NAME)                       # the scenario's default: 15m bars


@cache
def run(collateral: str):
    return run_backtest(PerpShort(collateral=collateral, leverage=10.0), data())


def test_scenario_defaults_and_a_40_minute_depeg_on_binance_only():
    ds = data()
    assert ds.timeframe == "15m" and resolve_data("scenario:collateral-depeg").timeframe == "15m"
    assert ds.perp["binance"]["ts"].iloc[0] == pd.Timestamp("2025-10-10 21:00", tz="UTC")
    assert ds.collateral_asset == "USDe"
    c = ds.collateral["binance"]
    low = c[c["low"] < 0.9]
    # 15m bars 21:30 .. 22:15 hold the minutes 21:36 .. 22:15 at 0.65
    assert low["ts"].min() == pd.Timestamp("2025-10-10 21:30", tz="UTC")
    assert low["ts"].max() == pd.Timestamp("2025-10-10 22:15", tz="UTC")
    assert low["low"].min() == pytest.approx(0.65)
    for v in ("bybit", "okx"):
        assert ds.collateral[v]["low"].min() > 0.99
    # other bar sizes still load: 1h bars 21:00 and 22:00 both touch 0.65 (exact aggregation of the 1m bars)
    h = load_scenario(cd.NAME, timeframe="1h").collateral["binance"]
    assert (h["low"] < 0.9).sum() == 2


def test_usde_margined_short_is_liquidated_usdt_and_spot_are_not():
    usde, usdt, spot = run("usde"), run("usdt"), run("spot")
    assert len(usdt.liquidations) == 0
    assert len(spot.liquidations) == 0
    assert len(usde.liquidations) == 1
    liq = usde.liquidations.iloc[0]
    assert liq["ts"] == pd.Timestamp("2025-10-10 22:30", tz="UTC")           # the 22:15 bar, USDe at 0.65 then
    # hand arithmetic at the liquidation bar. Every price walks from its bar open to its adverse extreme together,
    # a fraction lam of the way: the mark Mo -> H (its high), USDe Uo -> 0.65 (its low). The short q at entry e,
    # the venue's cash W after the buys (ledger), u units bought at the 21:00 close. Balance and level there:
    #   B(lam) = W + u (Uo + lam (0.65 - Uo)) + q (Mo + lam (H - Mo) - e)
    #   L(lam) = |q| M(lam) rate_k - amount_k            (Binance tier of |q| M)
    # linear in lam within a tier, so the breach point is
    #   lam* = (W + u Uo + q (Mo - e) - |q| Mo r + a) / (u (Uo - 0.65) + |q| (H - Mo) (1 + r))
    ds, fills, led = data(), usde.fills, usde.ledger
    perp = fills[fills["instrument"] == "perp"].iloc[0]
    q, e = float(perp["qty"]), float(perp["price"])
    assert perp["ts"] == pd.Timestamp("2025-10-10 21:15", tz="UTC")
    coll = ds.collateral["binance"].set_index("ts")
    units = 90_000.0 / float(coll.loc[pd.Timestamp("2025-10-10 21:00", tz="UTC"), "close"])
    trades = led[led["kind"] == "collateral_trade"]["amount"]
    # planned spot notional 1,000,000 / (1 + 1/10) x (1 - 1 % buffer) = 900,000; margin = 900,000 / 10 into USDe,
    # paying the 0.1 % spot taker fee: 90.00 (ledger `fee` at the open)
    assert trades.iloc[0] == pytest.approx(-90_000.0, rel=1e-12)
    opened = led[(led["venue"] == "binance") & (led["ts"] <= perp["ts"])]
    assert (opened["kind"] == "fee").sum() == 3 and opened["amount"].min() <= -90.0
    w = float(opened["amount"].sum())              # deposit - spot cost - fees - 90,000 into USDe - its fee
    bar_open = liq["ts"] - pd.Timedelta("15min")
    mark = ds.mark["binance"].set_index("ts").loc[bar_open]
    u_o = float(coll.loc[bar_open, "open"])
    assert float(coll.loc[bar_open, "low"]) == pytest.approx(0.65)
    spec = load_venue("binance", at=pd.Timestamp("2025-10-10", tz="UTC")).tier_table("ETH")
    m_o, h = float(mark["open"]), float(mark["high"])
    k = int(np.searchsorted(spec.floor, abs(q) * float(liq["price"]), side="right") - 1)
    r, a = float(spec.rate[k]), float(spec.amount[k])
    lam = (w + units * u_o + q * (m_o - e) - abs(q) * m_o * r + a) / (units * (u_o - 0.65) + abs(q) * (h - m_o) * (1 + r))
    assert 0.0 < lam <= 1.0                                     # not gapped through at the open
    assert float(liq["price"]) == pytest.approx(m_o + lam * (h - m_o), rel=1e-9)
    # with the same margin held as USDT the book had room to spare at the end of the walk
    bal_par = w + 90_000.0 + q * (h - e)
    assert bal_par > abs(q) * h * r - a + 0.01 * abs(q) * h
    # the venue sold the USDe where the walk breached, paying the spot fee; the depeg loss is realized (ledger)
    sale = trades[trades > 0]
    px_u = u_o + lam * (0.65 - u_o)
    assert sale.tolist() == [pytest.approx(units * px_u, rel=1e-9)]
    at = led[(led["ts"] == liq["ts"]) & (led["kind"] == "fee")]["amount"]
    assert at.tolist()[0] == pytest.approx(-0.001 * units * px_u, rel=1e-9)
    # the clearance fee takes what was left at the breach, no more: the level there less the sale's fee. No
    # insurance loss (the book was not bankrupt; the old model booked the fee above that, 7,278, as insurance)
    left = abs(q) * liq["price"] * r - a - 0.001 * units * px_u
    assert liq["insurance_loss"] == 0.0 and liq["fee"] == pytest.approx(left, rel=1e-9)
    # equity: the USDe short ends far (~a third of its 90k margin and more) below the USDT one
    gap = usdt.timeline["equity"].iloc[-1] - usde.timeline["equity"].iloc[-1]
    assert gap > 0.3 * 90_000.0


def test_pnl_parts_explain_equity_with_collateral():
    res = run("usde")
    tl = res.timeline
    parts = tl[[c for c in tl.columns if c.startswith("pnl_")]].sum(axis=1) + tl["flows"]
    change = tl["equity"].diff().fillna(tl["equity"].iloc[0] - res.initial_equity)
    assert np.allclose(parts, change, rtol=1e-9, atol=1e-6 * res.initial_equity)
    assert "binance:coll_qty" in tl.columns and "binance:coll_px" in tl.columns
