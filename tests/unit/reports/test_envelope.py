"""Charts are drawn from each pixel column's min/max envelope (reports/envelope.py): every extreme survives,
first and last points and gaps too, and a long run's charts hold a few thousand points, not every bar."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from basisbt.reports import plots
from basisbt.reports.envelope import columns_for, envelope_index


def _slices(x: np.ndarray, columns: int) -> list[np.ndarray]:
    """Indices of each of `columns` equal slices of [x0, x_last] (the last slice closed)."""
    x = x.astype(float)
    k = np.minimum(np.floor((x - x[0]) / (x[-1] - x[0]) * columns), columns - 1)
    return [np.flatnonzero(k == j) for j in range(columns) if (k == j).any()]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(3, 600), columns=st.integers(1, 60), data=st.data())
def test_every_slice_keeps_its_first_last_min_max_and_a_gap(n: int, columns: int, data: st.DataObject) -> None:
    steps = data.draw(arrays(np.int64, n - 1, elements=st.integers(0, 5)))       # repeated times allowed
    x = np.r_[0, np.cumsum(steps)].astype(np.int64)
    if x[-1] == x[0]:
        x[-1] += 1
    ys = [data.draw(arrays(np.float64, n, elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan))))
          for _ in range(data.draw(st.integers(1, 3)))]
    kept = envelope_index(x, ys, columns)
    assert np.all(np.diff(kept) > 0) and kept[0] == 0 and kept[-1] == n - 1
    if n <= 4 * columns:
        assert len(kept) == n
        return
    k = set(kept.tolist())
    for idx in _slices(x, columns):
        assert idx[0] in k and idx[-1] in k
        for y in ys:
            seg = y[idx]
            got = y[[i for i in idx if i in k]]
            if np.isnan(seg).any():
                assert np.isnan(got).any()                  # a gap in the slice stays drawn as a gap
            if np.isfinite(seg).any() or (~np.isnan(seg)).any():
                assert np.nanmax(got) == np.nanmax(seg) and np.nanmin(got) == np.nanmin(seg)


def test_short_series_are_kept_whole() -> None:
    x = np.arange(100)
    assert np.array_equal(envelope_index(x, [np.sin(x)], 25), x)
    assert columns_for(10.0, 110) == 2200


def test_a_one_bar_spike_survives_in_a_long_series() -> None:
    n = 500_000
    x = np.arange(n, dtype=np.int64) * 60_000_000_000
    y = np.sin(np.arange(n) / 5000.0)
    y[123_457] = 40.0                                  # one bar, e.g. a margin ratio at liquidation
    kept = envelope_index(x, [y], 2200)
    assert len(kept) <= 4 * 2200 and 123_457 in kept
    assert y[kept].max() == 40.0 and y[kept].min() == y.min()


@pytest.fixture(scope="module")
def long_run():
    """perp_short at 5x on USDT margin over the squeeze scenario in 1-minute bars (43,200 bars; binance is
    liquidated), with binance's distance to liquidation dipped to 0.01 % for one bar and one funding print of
    -0.3 %, both in the middle of their series."""
    import basisbt as bb
    res = bb.run("perp_short", bb.load("scenario:squeeze", timeframe="1m"),
                 params={"collateral": "usdt", "leverage": 5.0})
    tl = res.timeline.copy()
    for col, value in (("binance:dist_liq", 0.0001), ("binance:funding_rate", -0.003)):
        live = np.flatnonzero(np.isfinite(tl[col].to_numpy()))
        tl.iloc[live[len(live) // 2], tl.columns.get_loc(col)] = value
    return dataclasses.replace(res, timeline=tl)


def _lines(fig):
    return {(i, ln.get_label()): np.asarray(ln.get_ydata(), dtype=float)
            for i, ax in enumerate(fig.axes) for ln in ax.get_lines() if ln.get_label()[:1] != "_"}


def test_liquidation_chart_keeps_the_extremes(long_run) -> None:
    tl = long_run.timeline
    assert len(long_run.liquidations) and len(tl) == 43_200
    fig = plots.fig_liquidation_risk(long_run, dpi=40)
    lines = _lines(fig)
    assert np.nanmin(lines[(0, "binance")]) == pytest.approx(0.01)          # the one-bar dip, in %
    bal = tl["binance:margin_balance"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bal > 0, tl["binance:maint_margin"].to_numpy() / bal, np.nan) * 100.0
    assert np.nanmax(lines[(1, "binance")]) == np.nanmax(ratio)            # the run-up to the liquidation
    assert all(len(y) < len(tl) / 4 for y in lines.values())


def test_equity_and_funding_charts_keep_the_extremes(long_run) -> None:
    from basisbt.reports.metrics import drawdown, nav_series
    fig = plots.fig_equity(long_run, dpi=40)
    eq = np.asarray(fig.axes[0].get_lines()[0].get_ydata(), dtype=float)
    assert eq.max() == long_run.timeline["equity"].max() and eq.min() == long_run.timeline["equity"].min()
    dd = np.asarray(fig.axes[1].get_lines()[0].get_ydata(), dtype=float)
    assert dd.min() == (drawdown(nav_series(long_run), long_run.initial_equity).to_numpy() * 100.0).min()
    funding = _lines(plots.fig_funding(long_run, dpi=40))[(0, "binance")]
    assert funding.min() == pytest.approx(-0.3)
