"""Every built-in on every embedded scenario (1h bars), and the directions the seed says they must take.

Each directional test states why the direction must hold. Runs are cached per (strategy,
params, scenario) for the module, so the whole file stays a few seconds of simulation.
"""
from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from basisbt.data.scenarios import load_scenario
from basisbt.engine.results import PNL_PARTS
from basisbt.strategies.registry import builtin_strategies
from tests.runs import run_backtest

SCENARIOS = ("bull-carry", "feb-2025-crash", "death-spiral", "squeeze", "adl-crash", "venue-default",
             "collateral-depeg")
BUILTINS = ("perp_short", "funding_allocator", "lending_rebalance", "synthetic_dollar")


@cache
def scenario(name: str):
    return load_scenario(name, timeframe="1h")


@cache
def run(strategy: str, data: str, **params):
    return run_backtest(builtin_strategies()[strategy](**params), scenario(data))


def test_all_four_builtins_are_registered() -> None:
    assert set(BUILTINS) <= set(builtin_strategies())


@pytest.mark.parametrize("data", SCENARIOS)
@pytest.mark.parametrize("strategy", BUILTINS)
def test_builtin_runs_on_scenario(strategy: str, data: str) -> None:
    res = run(strategy, data)
    tl = res.timeline
    assert np.isfinite(tl["equity"]).all()
    assert len(res.fills) > 0
    # PnL parts + external flows explain every equity change (docs/architecture.md §4)
    parts = tl[[f"pnl_{p}" for p in PNL_PARTS]].sum(axis=1) + tl["flows"]
    change = tl["equity"].diff().fillna(tl["equity"].iloc[0] - res.initial_equity)
    assert np.allclose(parts, change, rtol=1e-9, atol=1e-6 * res.initial_equity)
    # delta-neutral at the end: spot and perp cancel on every venue (within the re-hedge band)
    for v in res.venues:
        spot, perp = tl[f"{v}:spot_qty"].iloc[-1], tl[f"{v}:perp_qty"].iloc[-1]
        assert abs(spot + perp) <= 0.05 * max(abs(spot), 1e-9) + 1e-9, (v, spot, perp)


def test_perp_short_earns_funding_in_bull_carry() -> None:
    # positive funding on ~96 % of prints (2024-like): a short perp receives it, equity ends up
    res = run("perp_short", "bull-carry")
    assert res.timeline["pnl_funding"].sum() > 0.03 * res.initial_equity      # ~5.9 % over 120 days
    assert res.timeline["equity"].iloc[-1] > res.initial_equity


def test_lending_rebalance_beats_perp_short_in_death_spiral() -> None:
    # funding is negative on every venue for months while lending still pays 6 % -> 1.5 %:
    # rotating most of the book to lending stops the bleed and earns interest instead
    lr, ps = run("lending_rebalance", "death-spiral"), run("perp_short", "death-spiral")
    assert lr.timeline["equity"].iloc[-1] > ps.timeline["equity"].iloc[-1]
    assert lr.timeline["pnl_lending"].sum() > 0
    assert lr.timeline["pnl_funding"].sum() > ps.timeline["pnl_funding"].sum()


def test_squeeze_liquidates_5x_usdt_short_but_not_spot_collateral() -> None:
    # +40 % in two days: a 5x USDT-margined short (20 % margin) dies near +19 % on the mark,
    # while spot posted as collateral rises with the short's loss and keeps the margin whole
    usdt = run("perp_short", "squeeze", collateral="usdt", leverage=5.0)
    spot = run("perp_short", "squeeze", collateral="spot")
    assert len(usdt.liquidations) >= 1
    assert len(spot.liquidations) == 0
    assert spot.timeline["equity"].iloc[-1] > usdt.timeline["equity"].iloc[-1]


def test_synthetic_dollar_stays_backed_through_feb_2025_crash_while_reserve_shrinks() -> None:
    # the book is delta-neutral, so the -25 % crash barely moves assets; funding turning negative
    # (to -0.025 %/8h) is paid by the reserve fund, which shrinks but does not run out
    res = run("synthetic_dollar", "feb-2025-crash")
    backing, reserve = res.extras["backing_ratio"], res.extras["reserve_fund"]
    assert backing.min() >= 1.0
    crash = pd.Timestamp("2025-02-03", tz="UTC")
    before, after = reserve[reserve.index < crash], reserve[reserve.index >= crash]
    assert after.min() < before.max()
    assert len(res.liquidations) == 0


def test_synthetic_dollar_reserve_lifetime_in_death_spiral() -> None:
    # negative funding every day with no lending income: every week's realized revenue is negative, so stakers
    # are never paid and the reserve (1 % seed of 1M) pays each week at its close until it is gone
    res = run("synthetic_dollar", "death-spiral", reference_supply=3e9)   # the scenario's ~3 B supply
    reserve, backing = res.extras["reserve_fund"], res.extras["backing_ratio"]
    gone = reserve[reserve <= 0]
    assert len(gone) > 0
    lasted = gone.index[0] - reserve.index[0]
    print(f"death-spiral: reserve fund lasted {lasted} (exhausted {gone.index[0]}), "
          f"backing at end {backing.iloc[-1]:.4f}")
    # independently of the strategy's revenue book: each week's revenue is the engine's realized PnL parts
    # (funding, lending, fees, slippage, liquidation: the timeline's own columns) over the week's bars, plus the
    # basis realized by closes (cumulative revenue_basis; no LST or stables yield by default); the reserve at
    # each weekly close is the seed plus all of it
    closes = res.extras["period_revenue"].index
    realized = res.timeline[[f"pnl_{p}" for p in ("funding", "lending", "fees", "slippage", "liquidation")]]
    cum_engine = realized.sum(axis=1).cumsum()
    basis = res.extras["revenue_basis"].reindex(closes).ffill().fillna(0.0)
    expected = 0.01 * 1e6 + cum_engine.reindex(closes).to_numpy() + basis.to_numpy()
    np.testing.assert_allclose(reserve.reindex(closes).to_numpy(), expected, rtol=0, atol=1e-6)
    assert (reserve.diff().fillna(0.0)[~reserve.index.isin(closes)] == 0).all()   # debited at closes only
    first = closes[expected <= 0][0]
    assert gone.index[0] == first
    assert lasted == pd.Timedelta("87 days 23:00:00")     # the week closing 2026-03-30, from the 01:00 first close
    assert backing.iloc[-1] < 1.0
    # within the week that exhausts it the backing can dip below 1 first; a week earlier the reserve still
    # covered every loss realized so far
    assert backing[backing.index < gone.index[0] - pd.Timedelta(days=7)].min() >= 1.0


def test_adl_crash_deleverages_the_short_and_every_hedger_restores_it_at_the_next_decision() -> None:
    # at 2025-03-04 06:00 (a bar open) binance closes half of every profitable short at 1,640; the hedgers
    # hear it at that bar's close and short the same amount again at the next open (one bar unhedged)
    t = pd.Timestamp("2025-03-04 06:00", tz="UTC")
    for name in ("perp_short", "synthetic_dollar", "funding_allocator", "lending_rebalance"):
        res = run(name, "adl-crash")
        tl, led = res.timeline, res.ledger
        before, at, after = tl["binance:perp_qty"].asof(t), tl.loc[t + pd.Timedelta("1h"), "binance:perp_qty"], \
            tl.loc[t + pd.Timedelta("2h"), "binance:perp_qty"]
        closed = res.venue_events                  # applied at the open, before that bar's own fills (mints)
        assert list(closed["kind"]) == ["adl"] and closed["qty"].iloc[0] == pytest.approx(-0.5 * before, rel=1e-12)
        if name == "perp_short":                   # no other trade at that open
            assert at == pytest.approx(0.5 * before, rel=1e-12)
        assert after == pytest.approx(-tl.loc[t + pd.Timedelta("2h"), "binance:spot_qty"], rel=0.02), name
        adl = led[led["kind"] == "adl"]
        assert len(adl) == 1 and adl["amount"].iloc[0] > 0, name                  # a short in profit at 1,640
        print(f"adl-crash {name}: short {before:.2f} -> {at:.2f} (ADL) -> {after:.2f} one bar later; "
              f"realized {adl['amount'].iloc[0]:,.0f}")


def test_venue_default_costs_synthetic_dollar_the_unrecovered_part_and_no_more() -> None:
    # bybit holds a third of synthetic_dollar's book; it halts withdrawals, defaults and returns 60 %:
    # the loss is 40 % of what bybit held at the default, the backing ratio falls below 1 by about
    # 0.4 / 3 and stays there (the reserve seed is 1 %); nothing else is written off
    res = run("synthetic_dollar", "venue-default")
    led, tl = res.ledger, res.timeline
    t = pd.Timestamp("2022-11-10", tz="UTC")
    at = led[(led["ts"] == t) & (led["venue"] == "bybit")]
    lost = -at.loc[at["kind"] == "default_loss", "amount"].sum()
    recovered = -at.loc[at["kind"] == "transfer_out", "amount"].sum()
    balance = lost + recovered
    assert lost == pytest.approx(0.4 * balance, rel=1e-12) and recovered == pytest.approx(0.6 * balance, rel=1e-12)
    assert res.metrics()["pnl"]["liquidation"] == pytest.approx(-lost, rel=1e-12)
    arrived = led[(led["kind"] == "transfer_in") & (led["venue"] == "binance")]
    assert arrived["amount"].sum() == pytest.approx(recovered, rel=1e-12)
    backing = res.extras["backing_ratio"]
    assert backing[backing.index < t].min() >= 1.0 and backing.iloc[-1] < 0.9
    print(f"venue-default synthetic_dollar: bybit balance {balance:,.0f} at the default, lost {lost:,.0f} "
          f"({lost / res.initial_equity:.2%} of capital), backing {backing[backing.index < t].min():.4f} -> "
          f"{backing.iloc[-1]:.4f}; equity end {tl['equity'].iloc[-1]:,.0f}")
