"""Reports of runs over several base assets ('venue:ASSET' slots): per-asset attribution and allocation in
metrics.json, the "Allocation by asset and venue" and "Attribution per asset" sections, allocation.png, the
per-asset panels of the per-venue charts, and nothing of it in a single-asset run.

Expected numbers come from the hand-built schedule in conftest.TWO_ASSET_SCHEDULE (constant prices, so a
share is notional / total) or, for a real engine run, from the run's own attribution frame summed here.
"""
from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from basisbt.data.dataset import Dataset
from basisbt.data.scenarios import load_scenario
from basisbt.engine.results import PNL_PARTS
from basisbt.reports import assets, plots
from basisbt.reports.markdown import render_markdown
from basisbt.reports.metrics import compute_metrics, split_slot
from basisbt.reports.render import render_run
from basisbt.reports.writers import render_html, write_run
from basisbt.results import Results
from basisbt.strategies.registry import builtin_strategies
from tests.runs import run_backtest
from tests.unit.reports.conftest import make_multi_results
from tests.unit.reports.test_reports_writers import DPI, _assert_png_has_content, _imgs

PARTS_TOTAL = (*PNL_PARTS, "total")


# ---- metrics.json ----

def test_split_slot_takes_the_first_colon() -> None:
    assert split_slot("binance:BTC") == ("binance", "BTC")
    assert split_slot("binance") == ("binance", "")


def test_attribution_by_asset_sums_the_slot_rows(multi_results: Results) -> None:
    m = compute_metrics(multi_results)
    by = m["attribution_by_asset"]
    assert set(by) == {"ETH", "BTC", "lending"}
    attr = multi_results.attribution
    for asset in ("ETH", "BTC"):
        rows = attr.loc[[s for s in attr.index if s.endswith(f":{asset}")]]
        assert len(rows) == 3
        for p in PNL_PARTS:
            assert by[asset][p] == pytest.approx(float(rows[p].sum()), abs=1e-9)
        assert by[asset]["total"] == pytest.approx(float(rows.to_numpy().sum()), abs=1e-9)
    # slots (venue, asset) are binance, bybit, okx x ETH, BTC with funding 1000 x (k + 1): ETH is k = 0, 2, 4
    assert by["ETH"]["funding"] == pytest.approx(1000.0 + 3000.0 + 5000.0)
    assert by["BTC"]["funding"] == pytest.approx(2000.0 + 4000.0 + 6000.0)
    assert by["lending"] == {**{p: 0.0 for p in PNL_PARTS}, "lending": 321.0, "total": 321.0}
    total = sum(row["total"] for row in by.values())
    assert total == pytest.approx(m["pnl"]["total"], abs=1e-6)
    assert total == pytest.approx(sum(m["pnl"][p] for p in PNL_PARTS), abs=1e-6)


def test_allocation_by_asset_shares_from_the_schedule(multi_results: Results) -> None:
    alloc = compute_metrics(multi_results)["allocation_by_asset"]
    # hedged bars 1..89: 39 at ETH 60 %, 20 at 20 %, 10 at 26 %, 20 at 32 %
    assert alloc["bars_with_hedge"] == 89
    eth, btc = alloc["by_asset"]["ETH"], alloc["by_asset"]["BTC"]
    assert eth["mean_share"] == pytest.approx((39 * 0.6 + 20 * 0.2 + 10 * 0.26 + 20 * 0.32) / 89)
    assert eth["last_share"] == pytest.approx(0.32) and btc["last_share"] == pytest.approx(0.68)
    assert eth["mean_notional"] == pytest.approx((39 * 600e3 + 20 * 200e3 + 10 * 260e3 + 20 * 320e3) / 96)
    assert eth["last_notional"] == pytest.approx(320e3)
    assert alloc["last_ts"] == str(multi_results.timeline.index[89].isoformat())
    binance = alloc["by_venue"]["binance"]
    assert binance["mean_share"] == pytest.approx((39 * 0.5 + 20 * 0.5 + 10 * 0.53 + 20 * 0.56) / 89)
    assert alloc["by_slot"]["okx:ETH"]["last_share"] == pytest.approx(0.05)
    for group in ("by_asset", "by_venue", "by_slot"):
        for key in ("mean_share", "last_share"):
            assert sum(d[key] for d in alloc[group].values()) == pytest.approx(1.0, abs=1e-12), (group, key)


def test_allocation_without_any_hedge_has_null_shares() -> None:
    res = make_multi_results([(0, {})], n_bars=24)
    alloc = compute_metrics(res)["allocation_by_asset"]
    assert alloc["bars_with_hedge"] == 0 and alloc["last_ts"] is None
    assert alloc["by_asset"]["ETH"] == {"mean_share": None, "last_share": None, "mean_notional": 0.0,
                                        "last_notional": 0.0}


def test_time_hedged_does_not_net_one_asset_against_another() -> None:
    # from bar 10 binance:ETH holds 30 % of its spot and binance:BTC the missing ETH units as extra BTC: base
    # units summed over both assets balance, but ETH's perp is 54 % over its spot and BTC's spot 10x its perp
    res = make_multi_results()
    tl = res.timeline.copy()
    tl.loc[tl.index[10:], "binance:ETH:spot_qty"] *= 0.3
    tl.loc[tl.index[10:], "binance:BTC:spot_qty"] += (tl["binance:ETH:perp_qty"].abs() * 0.7).iloc[10:]
    bad = replace(res, timeline=tl)
    assert compute_metrics(bad)["time_hedged"] == pytest.approx(9 / 96)
    assert compute_metrics(res)["time_hedged"] == pytest.approx(89 / 96)


# ---- switches ----

def test_switches_follow_the_schedule(multi_results: Results) -> None:
    sw = assets.allocation_switches(multi_results)
    ts = multi_results.timeline.index
    assert list(sw["ts"]) == [ts[1], ts[40], ts[70], ts[90]]
    assert list(sw["what"]) == ["opened", "moved", "moved", "closed"]
    # the 6-point step at bar 60 is not listed; the switch at bar 70 is measured from the 20 % of bar 40
    assert sw.loc[2, "ETH from"] == pytest.approx(0.2) and sw.loc[2, "ETH to"] == pytest.approx(0.32)
    assert sw.loc[1, "BTC from"] == pytest.approx(0.4) and sw.loc[1, "BTC to"] == pytest.approx(0.8)
    assert np.isnan(sw.loc[0, "ETH from"]) and np.isnan(sw.loc[3, "ETH to"])
    assert list(assets.allocation_switches(multi_results, threshold=0.05)["ts"]) == [ts[1], ts[40], ts[60], ts[70], ts[90]]


def test_price_moves_alone_are_no_switch(multi_results: Results) -> None:
    tl = multi_results.timeline.copy()
    tl.loc[tl.index[20:], [c for c in tl.columns if c.endswith("BTC:mark_px")]] *= 3.0   # BTC triples, no trade
    sw = assets.allocation_switches(replace(multi_results, timeline=tl))
    ts = tl.index
    # ETH falls from 60 % to 1/3 at bar 20 without a trade: no row there; bar 40 trades to 200 / (200 + 2400);
    # bars 60 and 70 move ETH to 10.5 % and 13.6 %, under 10 points from 7.7 %: no rows
    assert list(sw["ts"]) == [ts[1], ts[40], ts[90]]
    assert sw.loc[1, "ETH from"] == pytest.approx(0.6) and sw.loc[1, "ETH to"] == pytest.approx(200 / 2600)


# ---- reports ----

def test_multi_asset_run_dir_has_the_sections_and_the_chart(tmp_path: Path, multi_results: Results) -> None:
    d = write_run(multi_results, tmp_path / "run", dpi=DPI)
    chart = (d / "allocation.png").read_bytes()
    _assert_png_has_content(chart)
    md = (d / "report.md").read_text()
    for text in ("## Attribution per asset (quote)", "## Allocation by asset and venue", "](allocation.png)",
                 "### Switches between assets (4)", "| 2025-03-03 23:00 | moved | 20.0 % → 32.0 % | 80.0 % → 68.0 % |",
                 "| ETH | 40.9 % | 32.0 % |", "| lending | 0 | 0 | 0 | 0 | 0 | 321 | 0 | 321 |"):
        assert text in md, text
    html = (d / "report.html").read_text()
    for text in ('id="allocation-assets"', "Allocation by asset and venue", 'id="attribution-assets"',
                 "Attribution per asset (quote)", "Switches between assets (4)", "20.0 % → 32.0 %"):
        assert text in html, text
    imgs = _imgs(html)
    assert imgs[0] == chart                                     # the same chart, embedded first
    for img in imgs:
        _assert_png_has_content(img)
    before = (d / "metrics.json").read_bytes()
    render_run(d, dpi=DPI)                                      # `basisbt report` on a several-asset run
    assert (d / "metrics.json").read_bytes() == before and (d / "allocation.png").is_file()


def test_single_asset_report_has_none_of_it(tmp_path: Path, crash_run: Results) -> None:
    m = compute_metrics(crash_run)
    assert "attribution_by_asset" not in m and "allocation_by_asset" not in m
    d = write_run(crash_run, tmp_path / "run", dpi=DPI)
    assert not (d / "allocation.png").exists()
    md, html = (d / "report.md").read_text(), (d / "report.html").read_text()
    for text in ("Allocation by asset", "Attribution per asset", "allocation.png", "Switches", "venue:asset"):
        assert text not in md and text not in html, text


def test_the_per_venue_charts_get_one_panel_per_asset() -> None:
    three = make_multi_results([(0, {}), (1, {f"{v}:{a}": 100e3 for v in ("binance", "bybit", "okx")
                                              for a in ("ETH", "BTC", "SOL")})],
                               assets=("ETH", "BTC", "SOL"), n_bars=48)
    assert len(three.venues) == 9
    for fig in (plots.fig_funding(three, DPI), plots.fig_basis(three, DPI)):
        axes = fig.get_axes()
        assert len(axes) == 3
        for ax, asset in zip(axes, ("ETH", "BTC", "SOL"), strict=True):
            assert asset in ax.get_title(loc="left")
            assert [t.get_text() for t in ax.get_legend().get_texts()] == ["binance", "bybit", "okx"]
    risk = plots.fig_liquidation_risk(three, DPI).get_axes()
    assert len(risk) == 4                                       # three assets, then the margin ratio
    # each venue's three slots share one cross wallet: one margin-ratio line per venue, not per slot
    assert [t.get_text() for t in risk[-1].get_legend().get_texts()] == ["binance", "bybit", "okx"]
    _assert_png_has_content(plots.png_bytes(plots.fig_asset_allocation(three, dpi=DPI), DPI))


def test_a_nearly_flat_slot_does_not_flatten_the_distance_panel(multi_results: Results) -> None:
    tl = multi_results.timeline.copy()
    # okx:ETH shrinks to 0.5 % of the hedge from bar 20, its liquidation price 10^20 % away
    tl.loc[tl.index[20:40], "okx:ETH:perp_qty"] = -5e3 / 2000.0
    tl.loc[tl.index[20:40], "okx:ETH:dist_liq"] = 1e18
    axes = plots.fig_liquidation_risk(replace(multi_results, timeline=tl), DPI).get_axes()
    eth = axes[0]
    assert eth.get_ylim()[1] < 100.0                            # distances 40-60 % stay readable
    okx = [ln for ln in eth.get_lines() if ln.get_label() == "okx"][0]
    y = np.asarray(okx.get_ydata(), dtype=float)
    assert np.isnan(y[20:40]).all() and np.isfinite(y[1:20]).all()


def test_robust_top_cuts_only_a_far_tail() -> None:
    assert plots.robust_top([np.linspace(10.0, 20.0, 100)]) is None
    with_tail = np.r_[np.linspace(10.0, 20.0, 100), 1e20]
    top = plots.robust_top([with_tail])
    assert top is not None and 20.0 < top < 30.0


def test_slot_colours_hue_by_asset_shade_by_venue(multi_results: Results) -> None:
    c = plots.slot_colors(multi_results.venues)
    assert len(set(c.values())) == 6
    assert c["binance:ETH"] == plots.asset_color(0) and c["binance:BTC"] == plots.asset_color(1)
    assert c["bybit:ETH"] == plots.shade(plots.asset_color(0), 1) != c["binance:ETH"]
    assert plots.slot_colors(("binance", "bybit")) == {"binance": plots.venue_color(0), "bybit": plots.venue_color(1)}


def test_markdown_and_html_render_without_a_run_dir(multi_results: Results) -> None:
    m = compute_metrics(multi_results)
    assert "## Allocation by asset and venue" in render_markdown(multi_results, m)
    assert 'id="fig-allocation-assets"' in render_html(multi_results, m, dpi=DPI)


# ---- a real engine run over two assets ----

@lru_cache(maxsize=1)
def rotation() -> Dataset:
    """ETH and BTC on three venues; ETH's funding is negative 2025-06-11 to 06-21 while BTC's stays positive."""
    return load_scenario("btc-eth-rotation")


@pytest.fixture(scope="module")
def real_multi() -> Results:
    return run_backtest(builtin_strategies()["funding_allocator"](), rotation())


def test_real_run_attribution_and_allocation(real_multi: Results) -> None:
    assert real_multi.venues == ("binance:ETH", "binance:BTC", "bybit:ETH", "bybit:BTC", "okx:ETH", "okx:BTC")
    m = compute_metrics(real_multi)
    attr = real_multi.attribution
    asset = [s.split(":")[1] if ":" in s else s for s in attr.index]
    summed = attr.groupby(asset).sum()
    for key, row in m["attribution_by_asset"].items():
        for p in PNL_PARTS:
            assert row[p] == pytest.approx(float(summed.loc[key, p]), rel=1e-12, abs=1e-9)
    total = sum(row["total"] for row in m["attribution_by_asset"].values())
    assert total == pytest.approx(m["pnl"]["total"], rel=1e-9, abs=1e-6)
    alloc = m["allocation_by_asset"]
    assert alloc["bars_with_hedge"] > 0
    for group in ("by_asset", "by_venue", "by_slot"):
        assert sum(d["mean_share"] for d in alloc[group].values()) == pytest.approx(1.0, abs=1e-9)
        assert sum(d["last_share"] for d in alloc[group].values()) == pytest.approx(1.0, abs=1e-9)
    tl = real_multi.timeline
    eth = sum((tl[f"{v}:ETH:perp_qty"].abs() * tl[f"{v}:ETH:mark_px"]).fillna(0.0) for v in ("binance", "bybit", "okx"))
    assert alloc["by_asset"]["ETH"]["mean_notional"] == pytest.approx(float(eth.mean()), rel=1e-12)


def test_real_run_metrics_only_path_agrees(real_multi: Results) -> None:
    lean = run_backtest(builtin_strategies()["funding_allocator"](), rotation(), frames=False)
    a, b = compute_metrics(real_multi), lean.metrics()
    assert a["attribution_by_asset"] == b["attribution_by_asset"]
    assert a["allocation_by_asset"] == b["allocation_by_asset"]
    assert a["time_hedged"] == b["time_hedged"]


def test_real_run_switches_show_the_rotation(real_multi: Results) -> None:
    # the book opens about even, moves out of ETH once ETH's funding turns negative, and back after the spell
    sw = assets.allocation_switches(real_multi)
    assert sw.loc[0, "what"] == "opened" and (sw["what"] != "closed").all()
    spell = sw[(sw["ts"] >= pd.Timestamp("2025-06-11", tz="UTC")) & (sw["ts"] < pd.Timestamp("2025-06-22", tz="UTC"))]
    assert len(spell) and (spell["ETH to"] < spell["ETH from"] - assets.SWITCH_THRESHOLD).all()
    after = sw[sw["ts"] >= pd.Timestamp("2025-06-22", tz="UTC")]
    assert len(after) and (after["ETH to"] > after["ETH from"]).all()


def test_real_run_dir_renders(tmp_path: Path, real_multi: Results) -> None:
    d = write_run(real_multi, tmp_path / "run", dpi=DPI)
    _assert_png_has_content((d / "allocation.png").read_bytes())
    m = json.loads((d / "metrics.json").read_text())
    assert set(m["attribution_by_asset"]) == {"ETH", "BTC", "lending"}
    before = (d / "metrics.json").read_bytes()
    render_run(d, dpi=DPI)
    assert (d / "metrics.json").read_bytes() == before
    html = (d / "report.html").read_text()
    assert "Allocation by asset and venue" in html and "Switches between assets" in html
    for img in _imgs(html):
        _assert_png_has_content(img)
