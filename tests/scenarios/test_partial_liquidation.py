"""A liquidation that leaves the short open (a Hyperliquid book slice, an OKX tier step-down) is followed by selling
only the spot the closed part hedged: the book stays delta-neutral at its smaller size. Only a liquidation that
closes the short unwinds the spot (perp_short) or rebuilds the hedge. Hand-worked books on tiny tables: spot flat at
2,000, one perp wick, no fees and no slippage, so every number below is arithmetic on the venue's written rule.
"""
from __future__ import annotations

import pandas as pd
import pytest

import basisbt as bb
from tests.helpers import bars, dataset

T0 = pd.Timestamp("2025-06-02", tz="UTC")
NO_COSTS = {"taker_fee": 0.0, "spot_taker_fee": 0.0}


def wick(venue: str, high: float):
    """8 hourly bars, everything at 2,000 but the perp's (and so the mark's) high of bar 3 (closing 04:00)."""
    spot = bars([2000.0] * 8, start=T0)
    perp = bars([2000.0] * 8, high=[2000.0] * 3 + [high] + [2000.0] * 4, start=T0)
    return dataset(spot, perp=perp, venues=(venue,))


def run(strategy: str, venue: str, high: float, params: dict, capital: float = 1_000_000.0):
    return bb.run(strategy, wick(venue, high), params=params, slippage=0.0, initial_capital=capital,
                  venue_overrides={venue: NO_COSTS})


def book_end(res, venue: str) -> tuple[float, float]:
    last = res.timeline.iloc[-1]
    return float(last[f"{venue}:spot_qty"]), float(last[f"{venue}:perp_qty"])


HL_PARAMS = {"venue": "hyperliquid", "collateral": "usdt", "leverage": 10.0, "hedge_ratio": 0.5}


@pytest.mark.parametrize("reopen", [False, True])
def test_perp_short_after_one_hyperliquid_slice_sells_only_the_spot_it_hedged(reopen):
    # Open (bar 0's decision, filled at 01:00): spot notional 1,000,000 / (1 + 0.5 / 10) x 0.99 = 942,857.142857, i.e.
    #   471.428571 ETH; short 0.5 x that = 235.714286 ETH (471,428.57 notional > 100k: Hyperliquid slices it);
    #   the wallet keeps 1,000,000 - 942,857.14 = 57,142.857 as the short's margin (USDC only on Hyperliquid).
    # Bar 3's wick: maintenance 2 % (ETH 25x). Breach: 57,142.857 - 235.714286 (M - 2,000) = 0.02 x 235.714286 M
    #   -> M = 528,571.43 / 240.428571 = 2,198.4550: one order of 20 % x 235.714286 = 47.142857 goes into the book.
    #   Left: 188.571429 short, wallet 57,142.857 - 47.142857 x 198.4550 = 47,787.11; its next breach is
    #   (47,787.11 + 377,142.86) / (188.571429 x 1.02) = 2,209.23, above the wick's 2,200: no second order; the
    #   vault's line (528,571.43 / (235.714286 x (1 + 0.02 x 2/3)) = 2,212.92) is never reached.
    # The strategy then sells the spot those 47.142857 hedged: 47.142857 / 0.5 = 94.285714 ETH, keeping
    #   471.428571 - 94.285714 = 377.142857 = 0.8 of it against the 188.571429 short (still half of the spot).
    res = run("perp_short", "hyperliquid", 2_200.0, {**HL_PARAMS, "reopen_after_liquidation": reopen})
    liq = res.liquidations
    assert len(liq) == 1 and liq["kind"].tolist() == ["book_slice"]
    assert liq["qty"].iloc[0] == pytest.approx(-47.142857142857, rel=1e-9)
    assert liq["price"].iloc[0] == pytest.approx(528_571.428571 / 240.428571, rel=1e-8)
    spot, perp = book_end(res, "hyperliquid")
    assert spot == pytest.approx(377.142857142857, rel=1e-9)
    assert perp == pytest.approx(-188.571428571429, rel=1e-9)
    after = res.fills[res.fills["ts"] > liq["ts"].iloc[0] - pd.Timedelta("1ns")]
    assert after["instrument"].tolist() == ["spot"]                   # no perp shorted back, no unwind
    assert after["qty"].iloc[0] == pytest.approx(-94.285714285714, rel=1e-9)


def test_perp_short_after_the_book_closes_the_whole_short_sells_the_spot_and_stops():
    # A wick to 2,600 at 1h bars: each 20 % order goes at the account's next breach (30 s is 1/120 of the walk) and
    # the book sells all of the short in that bar (the vault's line stays ahead of it): nothing is left open, so
    # the full-liquidation rule applies: every unit of spot is sold and the strategy stops
    res = run("perp_short", "hyperliquid", 2_600.0, HL_PARAMS)
    liq = res.liquidations
    assert liq["kind"].iloc[-1] == "book" and set(liq["kind"].iloc[:-1]) == {"book_slice"}
    assert liq["qty"].sum() == pytest.approx(-235.714285714286, rel=1e-9)
    assert book_end(res, "hyperliquid") == (0.0, 0.0)
    after = res.fills[res.fills["ts"] > liq["ts"].iloc[0] - pd.Timedelta("1ns")]
    assert after["instrument"].tolist() == ["spot"] and after["qty"].iloc[0] == pytest.approx(-471.428571428571)


def test_perp_short_after_an_okx_tier_step_down_keeps_the_rest_hedged():
    # OKX (tiers in ETH, whole-position rates; partial from tier 3, two tiers at a time). Capital 10,000,000, usdt
    #   margin at 10x, hedge 1: spot 10,000,000 / 1.1 x 0.99 / 2,000 = 4,500 ETH, short 4,500 (tier 4: 4,000-10,000
    #   ETH, 1.5 %), wallet 1,000,000. The trigger fee follows the taker fee (0 here). Breach:
    #   1,000,000 - 4,500 (M - 2,000) = 0.015 x 4,500 M -> M = 10,000,000 / 4,567.5 = 2,189.3815.
    # Step down two tiers, to tier 2 (500-1,500 ETH): keep 1,500 x (1 - 1e-9), close 3,000.0000015 at that price.
    #   The rest (tier 2, 0.65 %) breaches at (1,000,000 - 3,000 x 189.3815 + 3,000,000) / (1,500 x 1.0065)
    #   = 2,273.1, above the wick's 2,200: it stays open.
    # The strategy sells the 3,000.0000015 ETH of spot that hedged it: 1,499.9999985 left against the same short.
    res = run("perp_short", "okx", 2_200.0, {"venue": "okx", "collateral": "usdt", "leverage": 10.0},
              capital=10_000_000.0)
    liq = res.liquidations
    assert liq["kind"].tolist() == ["partial"]
    assert liq["price"].iloc[0] == pytest.approx(10_000_000 / 4_567.5, rel=1e-9)
    assert liq["qty"].iloc[0] == pytest.approx(-3_000.0000015, rel=1e-12)
    spot, perp = book_end(res, "okx")
    assert spot == pytest.approx(1_499.9999985, rel=1e-12) and perp == pytest.approx(-1_499.9999985, rel=1e-12)


def test_synthetic_dollar_after_one_hyperliquid_slice_sells_the_spot_instead_of_shorting_back():
    # Hyperliquid takes no spot as margin: the hedge keeps perp notional / 3 as USDC (strategies/hedge.py). Open:
    #   990,000 (1 % cash buffer) / (2,000 x (1 + 0.5 / 3)) = 424.285714 ETH, short 212.142857 (424,285.71 notional),
    #   wallet 1,000,000 - 848,571.43 = 151,428.57. Breach: (151,428.57 + 424,285.71) / (212.142857 x 1.02)
    #   = 2,660.5929: one 20 % order, 42.428571 ETH. Left: 169.714286 short, wallet 151,428.57 - 42.428571 x
    #   660.5929 = 123,400.56, next breach (123,400.56 + 339,428.57) / (169.714286 x 1.02) = 2,673.6 > 2,665.
    # Then 42.428571 / 0.5 = 84.857143 ETH of spot is sold: 339.428571 left, still twice the short. (Before, the
    #   rehedge shorted the 42.43 back into the same squeeze and kept all the spot.)
    res = run("synthetic_dollar", "hyperliquid", 2_665.0, {"hedge_ratio": 0.5})
    liq = res.liquidations
    assert liq["kind"].tolist() == ["book_slice"]
    assert liq["price"].iloc[0] == pytest.approx(575_714.285714 / 216.385714, rel=1e-8)
    spot, perp = book_end(res, "hyperliquid")
    assert spot == pytest.approx(339.428571428571, rel=1e-9)
    assert perp == pytest.approx(-169.714285714286, rel=1e-9)
    after = res.fills[res.fills["ts"] > liq["ts"].iloc[0] - pd.Timedelta("1ns")]
    assert after["instrument"].tolist() == ["spot"]


# funding_allocator and lending_rebalance on Hyperliquid alone, hedge_ratio 0.5, no funding or lending yield in the
# data: both open the same book as synthetic_dollar above (990,000 = 99 % of the capital: 424.285714 ETH of spot,
# 212.142857 short, 151,428.57 of USDC left), so the same wick to 2,665 takes the same one slice of 42.428571 at
# M = 575,714.2857 / 216.385714 = 2,660.5929 and leaves 169.714286 short. The closed slice realized
# 42.428571 x (M - 2,000) = 28,028.01 of loss; equity is 1,000,000 less that (spot flat, the rest marked at 2,000).
# Before, neither had an on_liquidation: the next decision's rehedge shorted the 42.43 back into the same squeeze.
LIQ_M = 575_714.285714286 / 216.385714286
LEFT_EQUITY = 1_000_000.0 - 42.428571428571 * (LIQ_M - 2000.0)
LEND0 = {"aave": pd.DataFrame({"ts": pd.DatetimeIndex([T0]).astype("datetime64[ns, UTC]"), "supply_apy": [0.0]})}


def run_hl(strategy: str, high: float, params: dict, lending: bool = False):
    ds = wick("hyperliquid", high)
    if lending:
        ds = dataset(ds.spot["hyperliquid"], perp=ds.perp["hyperliquid"], venues=("hyperliquid",), lending=LEND0)
    return bb.run(strategy, ds, params=params, slippage=0.0, initial_capital=1_000_000.0,
                  venue_overrides={"hyperliquid": NO_COSTS})


@pytest.mark.parametrize("strategy, params, lending", [
    ("funding_allocator", {"hedge_ratio": 0.5}, False),
    ("lending_rebalance", {"venue": "hyperliquid", "hedge_ratio": 0.5}, True)])
def test_multi_venue_books_follow_one_hyperliquid_slice_and_hold_the_rest(strategy, params, lending):
    # The spot the slice hedged, 42.428571 / 0.5 = 84.857143 ETH, is sold; 339.428571 ETH stays against the
    #   169.714286 short. The hedge left is worth 339.428571 x 2,000 + the short's USDC margin 169.714286 x 2,000 / 3
    #   = 678,857.14 + 113,142.86 = 792,000.00, and the target is held there: no perp is shorted back and steer does
    #   not buy the spot back for the rest of the run (flat prices: the target stays 792,000).
    res = run_hl(strategy, 2_665.0, params, lending)
    liq = res.liquidations
    assert liq["kind"].tolist() == ["book_slice"]
    assert liq["price"].iloc[0] == pytest.approx(LIQ_M, rel=1e-9)
    assert res.timeline["equity"].iloc[-1] == pytest.approx(LEFT_EQUITY, rel=1e-9)
    spot, perp = book_end(res, "hyperliquid")
    assert spot == pytest.approx(339.428571428571, rel=1e-9)
    assert perp == pytest.approx(-169.714285714286, rel=1e-9)
    after = res.fills[res.fills["ts"] > liq["ts"].iloc[0] - pd.Timedelta("1ns")]
    assert after["instrument"].tolist() == ["spot"]
    assert after["qty"].iloc[0] == pytest.approx(-84.857142857143, rel=1e-9)
    if strategy == "funding_allocator":       # the weight: 792,000 of 99 % of the equity left
        w = res.extras["weight:hyperliquid"]
        assert w.iloc[-1] == pytest.approx(792_000.0 / (0.99 * LEFT_EQUITY), rel=1e-9)


@pytest.mark.parametrize("strategy, params, lending", [
    ("funding_allocator", {"hedge_ratio": 0.5}, False),
    ("lending_rebalance", {"venue": "hyperliquid", "hedge_ratio": 0.5}, True)])
def test_multi_venue_books_sell_the_spot_when_the_whole_short_is_liquidated(strategy, params, lending):
    # A wick to 3,200: the book sells the short slice by slice (or the vault takes the rest) and nothing is left
    # open. The 424.285714 ETH of spot is sold at the next open and the slot's target is 0: nothing is rebuilt.
    # (Before: rehedge tried to short all 212.14 back at every decision, the venue refused it for margin each time,
    # and 424.29 ETH stayed long and unhedged to the end.)
    res = run_hl(strategy, 3_200.0, params, lending)
    liq = res.liquidations
    assert liq["qty"].sum() == pytest.approx(-212.142857142857, rel=1e-9)
    assert book_end(res, "hyperliquid") == (0.0, 0.0)
    after = res.fills[res.fills["ts"] > liq["ts"].iloc[0] - pd.Timedelta("1ns")]
    assert after["instrument"].tolist() == ["spot"]
    assert after["qty"].iloc[0] == pytest.approx(-424.285714285714, rel=1e-9)
    if strategy == "funding_allocator":
        assert res.extras["weight:hyperliquid"].iloc[-1] == 0.0
