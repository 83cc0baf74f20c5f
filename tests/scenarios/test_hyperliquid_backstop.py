"""scenario:hyperliquid-backstop: the same hedged book (long spot, short perp at 10x on quote margin) through a +20 %
squeeze of the perps, on Hyperliquid (book liquidation in 20 % orders 30 s apart, the vault's backstop below 2/3 of
maintenance) and on Binance (liquidation at the price with a clearance fee). What each does is the venue's rule,
read off the ledger and the records of the squeeze bar."""
from __future__ import annotations

import pandas as pd
import pytest

import basisbt as bb
from basisbt.data.scenarios import list_scenarios, load_scenario

PARAMS = {"collateral": "usdt", "leverage": 10.0}


def run(venue: str, timeframe: str):
    return bb.run("perp_short", load_scenario("hyperliquid-backstop", timeframe), params={**PARAMS, "venue": venue})


def at(res, kind: str, venue: str) -> pd.DataFrame:
    led = res.ledger
    return led[(led["kind"] == kind) & (led["venue"] == venue)]


def test_listed_only_with_other_venues():
    assert "hyperliquid-backstop" not in {s.name for s in list_scenarios()}          # goldens iterate this
    info = {s.name: s for s in list_scenarios(other_venues=True)}["hyperliquid-backstop"]
    assert info.venues == ("binance", "hyperliquid") and info.timeframe == "1m"
    ds = load_scenario("hyperliquid-backstop")
    assert ds.venues == ["binance", "hyperliquid"] and ds.timeframe == "1m"
    # the squeeze is the perps': at 12:05 the mark is far above spot, which has not moved
    t = pd.Timestamp("2025-10-10 12:05", tz="UTC")
    mark = ds.mark["hyperliquid"].set_index("ts")["close"][t]
    spot = ds.spot["hyperliquid"].set_index("ts")["close"][t]
    assert mark / spot - 1 > 0.12 and abs(spot / 4000 - 1) < 0.05


def test_at_1m_bars_the_vault_takes_the_short_and_the_cross_margin():
    res = run("hyperliquid", "1m")
    liq = res.liquidations
    assert len(liq) == 2 and liq["ts"].nunique() == 1               # one bar: an order, then the vault
    assert liq["qty"].iloc[0] == pytest.approx(liq["qty"].iloc[1] / 4, rel=1e-12)   # 20 % of it, then the 80 %
    taken = at(res, "backstop", "hyperliquid")
    assert len(taken) == 1 and taken["amount"].iloc[0] < 0
    assert at(res, "liquidation_fee", "hyperliquid").empty          # no clearance fee on Hyperliquid
    t = liq["ts"].iloc[0]
    tl = res.timeline.loc[t]
    assert tl["hyperliquid:perp_qty"] == 0.0 and tl["hyperliquid:margin_balance"] == pytest.approx(0.0, abs=1e-6)
    assert tl["hyperliquid:spot_qty"] > 0                            # the spot is no margin there: it stays
    assert any("BACKSTOP hyperliquid" in line for line in res.log)


def test_the_same_book_on_binance_loses_its_perp_to_a_liquidation_with_a_fee():
    res = run("binance", "1m")
    liq = res.liquidations
    assert len(liq) == 1 and at(res, "backstop", "binance").empty
    fee = -at(res, "liquidation_fee", "binance")["amount"].sum()
    notional = abs(liq["qty"].iloc[0]) * liq["price"].iloc[0]
    assert 0 < fee < 0.0125 * notional                               # the clearance fee, capped at what was left
    tl = res.timeline.loc[liq["ts"].iloc[0]]
    assert tl["binance:perp_qty"] == 0.0 and tl["binance:spot_qty"] > 0


def test_at_1h_bars_the_book_keeps_up_and_the_trader_keeps_the_rest():
    # 30 s is 1/120 of an hour's walk: each 20 % order goes where the account breaches again, before the vault's line
    res = run("hyperliquid", "1h")
    liq = res.liquidations
    assert len(liq) == 5 and liq["qty"].round(9).nunique() == 1     # five orders of 20 % of the short
    assert liq["price"].is_monotonic_increasing                     # each further up the squeeze
    assert at(res, "backstop", "hyperliquid").empty and res.metrics()["pnl"]["liquidation"] == 0.0
    assert res.metrics()["pnl"]["slippage"] < 0
    tl = res.timeline.loc[liq["ts"].iloc[0]]
    # the last order leaves the account at about the maintenance of its 20 % (0.02 x 44.9 x 4,542.6 = 4,081), less
    # its slippage: the trader keeps it (Binance's clearance fee would have taken it)
    assert tl["hyperliquid:perp_qty"] == 0.0 and 3_500 < tl["hyperliquid:margin_balance"] < 4_081
