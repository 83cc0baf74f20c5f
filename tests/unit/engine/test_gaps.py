"""Real data as it comes (issue 12): late listings, gaps, early ends. Every expected number is worked by hand.

One venue, hourly bars whose close at bar i is 2000 + i, funding 0.01 % every 8 h. Bars 48..119
(a 3-day hole) are missing from spot and perp; settlements keep coming through the hole.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from basisbt.cli.options import FLAGS
from basisbt.engine.config import RunConfig
from basisbt.engine.market import FALLBACK, LIVE, STALE, UNLISTED, build_market
from basisbt.engine.runner import DataQualityError
from basisbt.strategies.base import Strategy
from basisbt.strategies.perp_short import PerpShort
from tests.helpers import T0, bars, dataset, funding
from tests.runs import run_backtest

N = 240
HOLE = range(48, 120)
RATE = 0.0001
NOSLIP = RunConfig(slippage=0.0, initial_capital=100_000.0)


def gappy(n: int = N, hole: range = HOLE, lending: dict | None = None):
    close = 2000.0 + np.arange(n)
    b = bars(close)
    b = b[~b.index.isin(list(hole))].reset_index(drop=True)
    settle = [T0 + pd.Timedelta(hours=8 * (k + 1)) for k in range(n // 8 - 1)]
    return dataset(b, fund=funding(settle, [RATE] * len(settle)), lending=lending), close, settle


class Hold(Strategy):
    """Buys 1 ETH spot and shorts 1 ETH perp at the first decision, then holds."""
    name = "hold"

    def __init__(self, lend: float = 0.0, **kw):
        super().__init__(**kw)
        self.done, self.lend_amt = False, lend

    def initial_allocation(self, venues):
        return {"binance": 1.0}

    def on_bar(self, ctx, ev):
        if not self.done:
            ctx.order("binance", "spot", 1.0)
            ctx.order("binance", "perp", -1.0)
            if self.lend_amt:
                ctx.lend("aave", self.lend_amt, "binance")
            self.done = True


def test_gap_bars_are_explicit_and_stale_not_skipped():
    ds, close, _ = gappy()
    m = build_market(ds)
    assert m.n == N                                     # the hole is 72 explicit bars, not skipped time
    st = m.state["perp"][:, 0]
    assert (st[list(HOLE)] == STALE).all() and (st[:48] == LIVE).all() and (st[120:] == LIVE).all()
    # inside the hole the price is the last close known (bar 47's), never a later one
    assert (m.bars["perp_close"][list(HOLE), 0] == close[47]).all()
    assert (m.bars["perp_volume"][list(HOLE), 0] == 0.0).all()
    q = m.quality["venues"]["binance"]["perp"]
    assert q["bars_missing"] == 72 and q["longest_gap"] == "3d 0h"


def test_each_settlement_paid_at_its_time_on_the_last_known_close():
    ds, close, settle = gappy()
    res = run_backtest(Hold(), ds, NOSLIP)
    # the short is opened at the open of bar 1 (01:00); every settlement after that is earned,
    # priced at the close of the bar ending at the settlement, or the last close before the hole
    expected, stale = 0.0, 0
    for t in settle:
        bar = int((t - T0) / pd.Timedelta(hours=1)) - 1        # the bar closing at t
        known = bar if bar not in HOLE else HOLE.start - 1
        stale += bar in HOLE
        expected += RATE * close[known]
    assert stale == 9                                        # 56h, 64h, ..., 120h
    assert res.timeline["pnl_funding"].sum() == pytest.approx(expected, rel=1e-12)
    assert len(res.ledger[res.ledger["kind"] == "funding"]) == len(settle)   # no lumps: one row each
    assert res.data_quality["venues"]["binance"]["funding"]["priced_stale"] == 9


def test_lending_accrues_over_real_elapsed_time_across_a_gap():
    lend = {"aave": pd.DataFrame({"ts": pd.DatetimeIndex([T0]).astype("datetime64[ns, UTC]"),
                                  "supply_apy": [0.05]})}
    ds, _, _ = gappy(lending=lend)
    res = run_backtest(Hold(lend=10_000.0), ds, NOSLIP)
    s = res.timeline["aave:supply"].to_numpy()
    assert s[HOLE.start - 1] > 0
    # 72 hourly bars = 3 days at 5 % APY, compounding: (1.05)^(3/365) - 1
    assert s[HOLE.stop - 1] / s[HOLE.start - 1] - 1 == pytest.approx(1.05 ** (3 / 365) - 1, rel=1e-9)


def test_orders_on_missing_bars_are_refused_logged_and_counted():
    class Trader(Hold):
        def on_bar(self, ctx, ev):
            if ev.bar in (46, 47, 50):          # fills at bars 47 (real), 48 and 51 (missing)
                ctx.order("binance", "perp", -0.1)

    ds, _, _ = gappy()
    res = run_backtest(Trader(), ds, NOSLIP)
    assert len(res.fills) == 1
    assert res.data_quality["orders_refused"] == {"binance perp bar missing (data gap)": 2}
    assert sum("order refused" in line for line in res.log) == 1           # once per kind


def test_a_late_venue_is_not_listed_before_its_first_bar():
    close = 2000.0 + np.arange(48)
    late = bars(close[24:], start=T0 + pd.Timedelta(hours=24))
    settle = [T0 + pd.Timedelta(hours=8 * (k + 1)) for k in range(5)]
    ds = dataset({"binance": bars(close), "bybit": late}, venues=("binance", "bybit"),
                 fund=funding(settle, [RATE] * 5))
    seen = []

    class Probe(Strategy):
        name = "probe"

        def on_bar(self, ctx, ev):
            seen.append((ev.bar, ctx.listed("bybit"), ctx.price("bybit", "spot")))
            if ev.bar == 0:
                ctx.order("bybit", "perp", -1.0)
                ctx.order("binance", "perp", -1.0)

    res = run_backtest(Probe(), ds, NOSLIP)
    m = build_market(ds)
    assert (m.state["spot"][:24, 1] == UNLISTED).all() and (m.state["spot"][24:, 1] == LIVE).all()
    assert np.isnan(m.bars["spot_close"][:24, 1]).all()                     # nothing back-filled
    assert seen[0][1] is False and math.isnan(seen[0][2]) and seen[24] == (24, True, close[24])
    assert list(res.fills["venue"]) == ["binance"]
    assert res.data_quality["orders_refused"] == {"bybit perp not listed yet": 1}
    assert np.isfinite(res.timeline["equity"]).all()                       # cash on bybit still counts
    assert res.timeline["equity"].iloc[0] == pytest.approx(100_000.0 + res.timeline["pnl_fees"].iloc[0])


def test_mark_starting_late_falls_back_to_perp_bars_exactly():
    # a rally that liquidates a 5x short within the first month, mark data only from day 31
    n = 24 * 45
    close = 2000.0 * (1 + 0.35 * np.minimum(np.arange(n) / (24 * 20), 1.0))
    perp = bars(close)
    mark_full = perp[["ts", "open", "high", "low", "close"]].copy()
    mark_late = mark_full[mark_full["ts"] >= T0 + pd.Timedelta(days=31)].reset_index(drop=True)
    cfg = RunConfig(slippage=0.0, initial_capital=100_000.0)
    strat = dict(collateral="usdt", leverage=5.0, min_liq_distance=0.0)
    full = run_backtest(PerpShort(**strat), dataset(perp, mark=mark_full), cfg)
    late = run_backtest(PerpShort(**strat), dataset(perp, mark=mark_late), cfg)
    assert len(full.liquidations) >= 1
    pd.testing.assert_frame_equal(full.liquidations, late.liquidations)
    assert full.timeline["equity"].equals(late.timeline["equity"])
    m = build_market(dataset(perp, mark=mark_late))
    assert (m.state["mark"][:24 * 31, 0] == FALLBACK).all()
    assert m.quality["venues"]["binance"]["mark"]["perp_fallback_bars"] == 24 * 31


def test_strict_refuses_gaps_with_one_line():
    ds, _, _ = gappy()
    with pytest.raises(DataQualityError, match=r"^strict: binance spot has 72 missing bars \(longest gap 3d 0h\)") as e:
        run_backtest(Hold(), ds, RunConfig(strict=True))
    assert e.value.spelled(FLAGS).startswith("--strict: binance spot has 72 missing bars")     # as the CLI says it


def test_settlement_at_the_first_open_is_not_earned():
    close = 2000.0 + np.arange(24)
    ds = dataset(bars(close), fund=funding([T0, T0 + pd.Timedelta(hours=8)], [RATE, RATE]))
    m = build_market(ds)
    assert m.funding_ts[0].tolist() == [int((T0 + pd.Timedelta(hours=8)).value)]


def test_reports_show_the_data_quality_table():
    from basisbt.reports.markdown import render_markdown
    ds, _, _ = gappy()
    res = run_backtest(Hold(), ds, NOSLIP)
    md = render_markdown(res, res.metrics())
    assert "## Data quality" in md
    assert "| binance | perp | 240 | 72 | 3d 0h | 0 | priced stale at the last close; orders refused |" in md
    assert res.metrics()["data_quality"]["funding_priced_stale_total"] == 9


def test_choose_venues_and_share_one_spot():
    from basisbt.data.scenarios import load_scenario
    ds = load_scenario("squeeze")
    two = ds.with_venues(["binance", "okx"])
    assert two.venues == ["binance", "okx"] and set(two.spot) == {"binance", "okx"}
    with pytest.raises(ValueError, match="only_venues: kraken not in the data; valid: binance, bybit, okx") as e:
        ds.with_venues(["kraken"])
    assert e.value.spelled(FLAGS).startswith("--venues: kraken not in the data")
    # perps only on bybit/okx, spot held in custody and priced from binance: runs, spot legs at binance's price
    perps_only = replace(ds, spot={"binance": ds.spot["binance"]}, perp={k: ds.perp[k] for k in ("bybit", "okx")})
    with pytest.raises(Exception, match="no spot bars; price its spot leg from another venue with spot_from"):
        build_market(perps_only)
    shared = perps_only.with_shared_spot("binance")
    m = build_market(shared)
    assert (m.bars["spot_close"][:, 0] == m.bars["spot_close"][:, 1]).all()
    assert (m.bars["spot_close"][:, 0] == ds.spot["binance"]["close"].to_numpy()).all()


def test_funding_apr_uses_the_history_that_exists():
    # 0.01 % every 8 h is 10.95 % a year; at the first settlement only 8 h of history exist (the run
    # starts at T0, one interval before it): the trailing 7-day APR must say 10.95 %, not 7 days' worth / 21
    close = np.full(24 * 10, 2000.0)
    settle = [T0 + pd.Timedelta(hours=8 * (k + 1)) for k in range(29)]
    ds = dataset(bars(close), fund=funding(settle, [RATE] * 29))
    seen = {}

    class Probe(Strategy):
        name = "probe"

        def on_bar(self, ctx, ev):
            seen[ev.bar] = ctx.funding_apr("binance", 7.0)

    run_backtest(Probe(), ds, NOSLIP)
    assert math.isnan(seen[6])                                    # before the first settlement
    for bar in (7, 23, 24 * 9 - 1):                               # 8 h, 1 day, 9 days (window full)
        assert seen[bar] == pytest.approx(RATE * 3 * 365, rel=1e-12), bar


# ---------------------------------------------------------------- expected settlements (issue 15 item 7)

H = 3_600 * 10**9


def test_missing_settlements_use_each_rows_interval_then_the_spec():
    from basisbt.engine.market import missing_settlements
    t = np.array([0, 8, 16, 40, 48], dtype=np.int64) * H            # a 24 h gap: 16 -> 40 misses 24 and 32
    nan = np.full(t.size, np.nan)
    assert missing_settlements(t, nan, np.full(t.size, 8.0)) == 2
    # Binance after a capped print: 1 h rows, then back to 8 h; each row says its interval: nothing missing,
    # although the median gap (1 h) would call every 8 h gap 7 missing settlements
    hours = np.array([8.0] + [1.0] * 20 + [8.0, 8.0])
    t = np.cumsum(hours).astype(np.int64) * H
    assert missing_settlements(t, hours, np.full(t.size, 8.0)) == 0
    assert missing_settlements(t, np.full(t.size, np.nan), np.full(t.size, np.nan)) == 14   # median: 2 x 7
    # without interval_h the spec's interval decides: 4 h data under an 8 h spec misses nothing, a 16 h hole
    # in it misses one 8 h settlement (16 / 8 - 1)
    t = np.array([0, 4, 8, 24, 28], dtype=np.int64) * H
    assert missing_settlements(t, np.full(t.size, np.nan), np.full(t.size, 8.0)) == 1


def test_data_quality_counts_a_missing_day_of_settlements_against_the_spec():
    # 8 h settlements with 2025-01-03 00:00..16:00 absent (3 settlements); binance's spec says 8 h
    settle = [T0 + pd.Timedelta(hours=8 * (k + 1)) for k in range(N // 8 - 1)]
    kept = [s for s in settle if not (pd.Timestamp("2025-01-03", tz="UTC") <= s < pd.Timestamp("2025-01-04", tz="UTC"))]
    assert len(settle) - len(kept) == 3
    m = build_market(dataset(bars(2000.0 + np.arange(N)), fund=funding(kept, [RATE] * len(kept))))
    q = m.quality["venues"]["binance"]["funding"]
    assert (q["intervals_missing"], q["missing_before_first"], q["missing_after_last"]) == (3, 0, 0)
    # the stream starting a day late misses 3 settlements before its first row (T0 + 8 h and 16 h and 24 h); one
    # at the window's last close (T0 + N h) is the window's cut, not a hole
    m = build_market(dataset(bars(2000.0 + np.arange(N)), fund=funding(settle[3:], [RATE] * (len(settle) - 3))))
    q = m.quality["venues"]["binance"]["funding"]
    assert (q["intervals_missing"], q["missing_before_first"], q["missing_after_last"]) == (3, 3, 0)
    m = build_market(dataset(bars(2000.0 + np.arange(N)), fund=funding(settle[:-2], [RATE] * (len(settle) - 2))))
    assert m.quality["venues"]["binance"]["funding"]["missing_after_last"] == 2
