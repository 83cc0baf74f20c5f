"""basisbt.reports.metrics against quantstats (an independent implementation) and against hand arithmetic."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import quantstats as qs

from basisbt.engine.results import PNL_PARTS
from basisbt.reports import metrics as M
from basisbt.results import Results


def _five_point() -> Results:
    """Daily equity 100, 110, 99, 108.9, 119.79 from a starting equity of 100, all PnL as funding."""
    ts = pd.date_range("2025-01-01", periods=5, freq="D", tz="UTC", name="ts")
    eq = np.array([100.0, 110.0, 99.0, 108.9, 119.79])
    tl = pd.DataFrame({"equity": eq}, index=ts)
    for p in PNL_PARTS:
        tl[f"pnl_{p}"] = 0.0
    tl["pnl_funding"] = np.diff(eq, prepend=100.0)
    empty = pd.DataFrame()
    return Results(strategy="hand", dataset="five-point", venues=(), protocols=(),
                   initial_equity=100.0, timeline=tl, ledger=empty, fills=empty,
                   liquidations=empty, attribution=empty, config={}, config_id="c",
                   data_fingerprint="d")


def test_five_point_series_by_hand() -> None:
    m = M.compute_metrics(_five_point())
    # daily returns r = [100/100-1, 110/100-1, 99/110-1, 108.9/99-1, 119.79/108.9-1] = [0, .1, -.1, .1, .1]
    # mean = 0.2 / 5 = 0.04
    # deviations -.04 .06 -.14 .06 .06 -> squares sum .0016+.0036+.0196+.0036+.0036 = .032
    # std (ddof=1) = sqrt(.032 / 4) = sqrt(.008) = 0.0894427191
    # volatility = 0.0894427191 * sqrt(365) = 0.0894427191 * 19.1049731745 = 1.7088007490
    assert m["volatility"] == pytest.approx(1.7088007490, rel=1e-9)
    # sharpe = 0.04 / 0.0894427191 * 19.1049731745 = 0.4472135955 * 19.1049731745 = 8.5440037453
    assert m["sharpe"] == pytest.approx(8.5440037453, rel=1e-9)
    # downside dev = sqrt((-.1)^2 / 5) = sqrt(.002) = 0.0447213595
    # sortino = 0.04 / 0.0447213595 * 19.1049731745 = 0.894427191 * 19.1049731745 = 17.0880074906
    assert m["sortino"] == pytest.approx(17.0880074906, rel=1e-9)
    # peak 110 (day 1), trough 99 (day 2): 99/110 - 1 = -0.1; back above 110 on day 4 -> 3 days
    assert m["max_drawdown"] == pytest.approx(-0.1, rel=1e-12)
    assert m["max_drawdown_days"] == pytest.approx(3.0)
    assert m["max_drawdown_peak"] == "2025-01-02T00:00:00+00:00"
    assert m["max_drawdown_trough"] == "2025-01-03T00:00:00+00:00"
    assert m["max_drawdown_recovery"] == "2025-01-05T00:00:00+00:00"
    # total return 119.79 / 100 - 1 = 0.1979 over 4 days; APY = 1.1979 ** (365 / 4) - 1
    assert m["total_return"] == pytest.approx(0.1979, rel=1e-12)
    assert m["days"] == 4.0
    assert m["apy"] == pytest.approx(1.1979 ** 91.25 - 1, rel=1e-9)
    assert m["calmar"] == pytest.approx((1.1979 ** 91.25 - 1) / 0.1, rel=1e-9)
    # pnl.total = 119.79 - 100 = 19.79, all of it funding
    assert m["pnl"]["total"] == pytest.approx(19.79, rel=1e-12)
    assert m["pnl"]["funding"] == pytest.approx(19.79, rel=1e-12)
    assert m["liquidations"] == 0 and m["n_fills"] == 0
    assert m["funding_capture_ratio"] is None  # no funding payments in the ledger -> nothing available
    # 4 days < 90: the annualized figures above are marked as extrapolations
    assert m["window"]["short"] is True and m["window"]["days"] == 4.0


@pytest.mark.parametrize("run", ["crash_run", "liq_run"])
def test_against_quantstats(run: str, request: pytest.FixtureRequest) -> None:
    res: Results = request.getfixturevalue(run)
    m = M.compute_metrics(res)
    eq = M.equity_series(res)
    r = M.daily_returns(eq, res.initial_equity)
    # closes run from day 1 01:00 to the last day's 00:00: one return per calendar day of (close - 1 ns)
    assert len(r) == len(set((eq.index - pd.Timedelta(1, "ns")).date)) and len(r) >= 21
    assert m["sharpe"] == pytest.approx(qs.stats.sharpe(r, rf=0.0, periods=365), rel=1e-9)
    assert m["sortino"] == pytest.approx(qs.stats.sortino(r, rf=0.0, periods=365), rel=1e-9)
    assert m["volatility"] == pytest.approx(qs.stats.volatility(r, periods=365), rel=1e-9)
    # max drawdown is per bar: feed quantstats the bar returns, the first measured from the start
    bar_r = eq / eq.shift(1).fillna(res.initial_equity) - 1
    assert m["max_drawdown"] == pytest.approx(qs.stats.max_drawdown(bar_r), rel=1e-9)
    assert m["max_drawdown"] < -0.002


def test_daily_returns_resample_independently(crash_run: Results) -> None:
    # recompute daily closes by grouping on the calendar date of (close time - 1 ns): a bar closing
    # at 00:00 is the last bar of the previous day; compound back to the end equity
    eq = M.equity_series(crash_run)
    closes = eq.groupby((eq.index - pd.Timedelta(1, "ns")).date).last().to_numpy()
    expected = closes / np.r_[crash_run.initial_equity, closes[:-1]] - 1
    got = M.daily_returns(eq, crash_run.initial_equity).to_numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    assert np.prod(1 + got) * crash_run.initial_equity == pytest.approx(eq.iloc[-1], rel=1e-12)


def test_pnl_parts_sum_to_total(crash_run: Results, synth_run: Results, liq_run: Results) -> None:
    for res in (crash_run, synth_run, liq_run):
        m = M.compute_metrics(res)
        pnl = m["pnl"]
        assert set(pnl) == {*PNL_PARTS, "total"}
        flows = float(res.timeline["flows"].sum())            # mints and redemptions are not PnL
        assert m["net_flows"] == pytest.approx(flows, abs=1e-9)
        assert pnl["total"] == pytest.approx(m["equity_end"] - m["equity_start"] - flows, rel=1e-12, abs=1e-9)
        assert math.fsum(pnl[p] for p in PNL_PARTS) == pytest.approx(pnl["total"], rel=1e-9)
        # per-venue attribution adds up to the same parts
        for p in PNL_PARTS:
            assert math.fsum(v[p] for v in m["pnl_by_venue"].values()) == pytest.approx(
                pnl[p], rel=1e-9, abs=1e-6)
    assert M.compute_metrics(synth_run)["net_flows"] != 0.0      # the flows branch above was taken


def test_design_keys_present_and_json_safe(synth_run: Results) -> None:
    m = M.compute_metrics(synth_run)
    for k in ("equity_start", "equity_end", "total_return", "apy", "volatility", "sharpe", "sortino",
              "max_drawdown", "max_drawdown_days", "liquidations", "n_fills", "pnl", "config_id",
              "data_fingerprint", "calmar", "funding_captured", "funding_available", "time_hedged",
              "min_dist_liq", "turnover", "fees_paid", "liquidation_cost"):
        assert k in m, k
    json.dumps(m, allow_nan=False)
    assert m["n_fills"] == len(synth_run.fills) > 0 and m["liquidations"] == 0
    sd, ex = m["synthetic_dollar"], synth_run.extras
    assert sd["backing_ratio_min"] == ex["backing_ratio"].min() and sd["backing_ratio_mean"] == pytest.approx(
        ex["backing_ratio"].mean(), rel=1e-12)
    assert sd["reserve_fund_min"] == ex["reserve_fund"].min() and sd["reserve_fund_end"] == ex["reserve_fund"].iloc[-1]
    for v in synth_run.venues:                 # the closest the book came to liquidation, per venue
        assert m["min_dist_liq"][v]["min"] == pytest.approx(synth_run.timeline[f"{v}:dist_liq"].min(), rel=1e-12)


def test_liquidation_metrics_from_the_ledger(liq_run: Results) -> None:
    m = M.compute_metrics(liq_run)
    liq, led = liq_run.liquidations, liq_run.ledger
    assert m["liquidations"] == 1 and m["liquidations_by_venue"] == {"binance": 1}
    assert m["n_fills"] == len(liq_run.fills)
    fee = -led.loc[led["kind"] == "liquidation_fee", "amount"].sum()
    insurance = led.loc[led["kind"] == "insurance", "amount"].sum()
    assert fee == pytest.approx(float(liq["fee"].iloc[0]), rel=1e-12) and fee > 0
    assert m["insurance_loss"] == pytest.approx(float(liq["insurance_loss"].iloc[0]), rel=1e-12)
    # the clearance fee (1.25 % of the notional) takes what is left at the liquidation price and no more: nothing
    # is owed, so nothing for the insurance fund (issue 23)
    assert m["insurance_loss"] == 0.0
    assert fee < 0.0125 * abs(float(liq["qty"].iloc[0])) * float(liq["price"].iloc[0])
    assert m["pnl"]["liquidation"] == pytest.approx(insurance - fee, rel=1e-12)
    # the short came within 1 % of its liquidation price at a close before the bar that took it
    assert m["min_dist_liq"]["binance"]["min"] == pytest.approx(liq_run.timeline["binance:dist_liq"].min(),
                                                                 rel=1e-12)
    assert m["min_dist_liq"]["binance"]["min"] < 0.01 and m["min_dist_liq"]["bybit"]["min"] is None


def test_funding_available_definition(crash_run: Results) -> None:
    tl, led, venues = crash_run.timeline, crash_run.ledger, crash_run.venues
    # passive benchmark: constant short of the average book, equal-weighted over venues
    notional = sum((-tl[f"{v}:perp_qty"]).clip(lower=0) * tl[f"{v}:mark_px"] for v in venues)
    n_avg = notional.mean()
    passive = np.mean([n_avg * tl[f"{v}:funding_rate"].sum() for v in venues])
    # available = gross of the funding payments actually made on the book's perps
    pays = led.loc[led["kind"] == "funding", "amount"]
    m = M.compute_metrics(crash_run)
    assert m["funding_passive"] == pytest.approx(passive, rel=1e-12)
    assert m["funding_available"] == pytest.approx(pays.abs().sum(), rel=1e-12)
    assert m["funding_received"] == pytest.approx(pays[pays > 0].sum(), rel=1e-12)
    assert m["funding_paid"] == pytest.approx(-pays[pays < 0].sum(), rel=1e-12)
    assert m["funding_captured"] == pytest.approx(tl["pnl_funding"].sum(), rel=1e-12)
    assert m["funding_capture_ratio"] == pytest.approx(pays.sum() / pays.abs().sum(), rel=1e-12)
    # funding turns negative in the crash: the short pays some of it, so the ratio is strictly inside (-1, 1)
    assert m["funding_paid"] > 0 and -1 < m["funding_capture_ratio"] < 1


def test_nan_becomes_null() -> None:
    assert M.json_safe({"a": float("nan"), "b": [np.float64(np.inf), np.int64(3)]}) == {
        "a": None, "b": [None, 3]}
