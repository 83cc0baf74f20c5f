"""Report charts with matplotlib's object API (Figure + Agg canvas; no pyplot, no display, no global state).

Every `fig_*` function returns a `matplotlib.figure.Figure`; `png_bytes` renders one to PNG.
Times are drawn in UTC; percentages are converted at this edge only. Long series are thinned to the
min/max envelope of each pixel column before matplotlib sees them (reports/envelope.py): the same
picture, every extreme kept, a year of 1-minute bars drawn in milliseconds.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from basisbt.engine.results import PNL_PARTS, RunResult
from basisbt.reports.attribution import over_time
from basisbt.reports.envelope import columns_for, envelope_index
from basisbt.reports.metrics import drawdown, is_multi_asset, split_slot
from basisbt.reports.series import equity_series, nav_series, timeline_index

# one palette for every chart: PnL parts, venues (in order), lending and markers
PART_COLORS = {
    "funding": "#2a9d8f", "basis": "#8ab17d", "price": "#e9c46a", "fees": "#f4a261",
    "slippage": "#bc6c25", "lending": "#457b9d", "liquidation": "#d62828",
}
VENUE_COLORS = ("#264653", "#e76f51", "#7b2cbf", "#2a9d8f", "#f4a261", "#6c757d")
LENDING_COLOR = "#457b9d"
TRANSIT_COLOR = "#adb5bd"
EQUITY_COLOR = "#1d3557"
DRAWDOWN_COLOR = "#d62828"
LIQ_COLOR = "#d62828"
FIGSIZE = (10.0, 3.6)


# several-asset runs: one hue per asset (in slot order), one shade per venue (darkest the first venue)
ASSET_COLORS = ("#1f5fa8", "#e07b00", "#2a9d6f", "#8e44ad", "#c0392b", "#6c757d")
VENUE_SHADES = (0.0, 0.38, 0.62, 0.78, 0.2, 0.5)   # how far each venue's shade is mixed toward white
VENUE_GREYS = ("#343a40", "#868e96", "#ced4da", "#e9ecef", "#495057", "#adb5bd")


def venue_color(i: int) -> str:
    """The palette colour of the i-th venue."""
    return VENUE_COLORS[i % len(VENUE_COLORS)]


def asset_color(i: int) -> str:
    """The palette colour of the i-th base asset of a several-asset run."""
    return ASSET_COLORS[i % len(ASSET_COLORS)]


def shade(color: str, j: int) -> str:
    """`color` mixed toward white by the j-th venue's amount: one hue per asset, one shade per venue."""
    f = VENUE_SHADES[j % len(VENUE_SHADES)]
    r, g, b = to_rgb(color)
    return to_hex((r + (1.0 - r) * f, g + (1.0 - g) * f, b + (1.0 - b) * f))


def slot_colors(labels: Sequence[str]) -> dict[str, str]:
    """A colour per slot label: the venue palette in a single-asset run; in a several-asset run the
    asset's hue in the venue's shade, so a stack reads by colour as assets and by shade as venues."""
    if not is_multi_asset(list(labels)):
        return {v: venue_color(i) for i, v in enumerate(labels)}
    assets = list(dict.fromkeys(split_slot(v)[1] for v in labels))
    venues = list(dict.fromkeys(split_slot(v)[0] for v in labels))
    return {v: shade(asset_color(assets.index(split_slot(v)[1])), venues.index(split_slot(v)[0])) for v in labels}


def asset_groups(labels: Sequence[str]) -> list[tuple[str, list[tuple[str, str, int]]]]:
    """[(asset, [(slot label, venue, venue index)])] in slot order: the panels of a per-asset chart."""
    venues = list(dict.fromkeys(split_slot(v)[0] for v in labels))
    assets = list(dict.fromkeys(split_slot(v)[1] for v in labels))
    return [(a, [(v, split_slot(v)[0], venues.index(split_slot(v)[0])) for v in labels if split_slot(v)[1] == a])
            for a in assets]


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes (no timestamp metadata, so output is reproducible)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """A report chart's PNG bytes; the figure is cleared afterwards (its memory freed before the next one)."""
    data = png_bytes(fig, dpi=dpi)
    fig.clear()
    return data


def _naive(idx: pd.Index) -> np.ndarray:
    """UTC times as naive datetime64 for matplotlib's date axis."""
    di = pd.DatetimeIndex(idx)
    if di.tz is not None:
        di = di.tz_convert("UTC").tz_localize(None)
    return di.to_numpy()


def _thin(ax: Axes, t: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, ...]:
    """t and every y cut to the points the chart of ax can show: per pixel column each series' first,
    last, lowest and highest point (reports/envelope.py), so the drawn picture and its extremes are kept."""
    fig = ax.get_figure()
    idx = envelope_index(t, ys, columns_for(fig.get_figwidth(), fig.dpi))   # type: ignore[union-attr]
    if len(idx) == len(t):
        return (t, *ys)
    return (t[idx], *(np.asarray(y)[idx] for y in ys))


def _stack(ax: Axes, t: np.ndarray, series: Sequence[np.ndarray], **kw) -> None:
    """A stackplot of long series, thinned on the stacked boundaries it draws (their envelope, together)."""
    ys = [np.asarray(y, dtype=float) for y in series]
    if ys:
        bounds = np.cumsum(np.vstack(ys), axis=0)
        fig = ax.get_figure()
        idx = envelope_index(t, list(bounds), columns_for(fig.get_figwidth(), fig.dpi))  # type: ignore[union-attr]
        if len(idx) < len(t):
            t, ys = t[idx], [y[idx] for y in ys]
    ax.stackplot(t, *ys, **kw)


def _style(ax: Axes, title: str, ylabel: str, *, time_axis: bool = True) -> None:
    """Common axis style: title, y label with units, light grid, concise UTC date ticks."""
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.set_ylabel(ylabel, fontsize=9)
    ax.grid(True, color="#e5e5e5", linewidth=0.7)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)
    if time_axis:
        loc = mdates.AutoDateLocator(minticks=4, maxticks=10)
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _money_fmt(ax: Axes) -> None:
    """Thousands separators on the y axis."""
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))


def _liq_marks(ax: Axes, results: RunResult, *, label: bool = True) -> None:
    """Dashed vertical lines at each liquidation (red), labelled once in the legend."""
    liq = results.liquidations
    if liq is None or len(liq) == 0 or "ts" not in liq.columns:
        return
    for k, t in enumerate(_naive(pd.DatetimeIndex(liq["ts"]))):
        ax.axvline(t, color=LIQ_COLOR, linestyle="--", linewidth=1.0, alpha=0.8,
                   label="liquidation" if (label and k == 0) else None)


def _legend(ax: Axes, empty_note: str | None = None, **kw) -> None:
    """A legend only when something is labelled: matplotlib warns on an empty one (runs without a perp)."""
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, frameon=False, **kw)
    elif empty_note:
        ax.text(0.5, 0.5, empty_note, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.4")


def _has_data(tl: pd.DataFrame, col: str) -> bool:
    """True when the column exists and has a finite, non-zero value somewhere."""
    if col not in tl.columns:
        return False
    x = tl[col].to_numpy(dtype=float)
    return bool(np.any(np.isfinite(x) & (x != 0)))


def _new(nrows: int = 1, height: float = FIGSIZE[1], ratios: Sequence[float] | None = None,
         dpi: int = 110) -> tuple[Figure, list[Axes]]:
    """A Figure with nrows stacked axes sharing the time axis."""
    fig = Figure(figsize=(FIGSIZE[0], height), dpi=dpi, layout="constrained")
    axes = fig.subplots(nrows, 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": list(ratios)} if ratios else None)[:, 0]
    return fig, list(axes)


def draw_equity(ax: Axes, ax_dd: Axes, results: RunResult) -> None:
    """Equity (quote) on ax and per-bar drawdown (%) on ax_dd, with liquidation markers."""
    eq = equity_series(results)
    t = _naive(eq.index)
    ax.plot(*_thin(ax, t, eq.to_numpy()), color=EQUITY_COLOR, linewidth=1.4, label="equity")
    ax.axhline(results.initial_equity, color="#999999", linewidth=0.8, linestyle=":",
               label="starting equity")
    _liq_marks(ax, results)
    _style(ax, "Equity", "equity (quote)")
    _money_fmt(ax)
    nav = nav_series(results)
    if not np.allclose(nav.to_numpy(), eq.to_numpy(), rtol=0, atol=1e-9, equal_nan=True):
        ax.plot(*_thin(ax, t, nav.to_numpy()), color=EQUITY_COLOR, linewidth=1.0, linestyle="--",
                label="flow-adjusted NAV")
    _legend(ax, loc="best")
    t_dd, dd = _thin(ax_dd, t, drawdown(nav, results.initial_equity).to_numpy() * 100.0)
    ax_dd.fill_between(t_dd, dd, 0.0, color=DRAWDOWN_COLOR, alpha=0.35, linewidth=0)
    ax_dd.plot(t_dd, dd, color=DRAWDOWN_COLOR, linewidth=0.9)
    _liq_marks(ax_dd, results, label=False)
    _style(ax_dd, "Drawdown from running peak", "drawdown (%)")
    ax_dd.yaxis.set_major_formatter(PercentFormatter(decimals=None))


def fig_equity(results: RunResult, dpi: int = 110) -> Figure:
    """Equity curve over drawdown (two panels)."""
    fig, (ax, ax_dd) = _new(2, 5.0, (2.2, 1.0), dpi)
    draw_equity(ax, ax_dd, results)
    return fig


def draw_attribution(ax: Axes, results: RunResult) -> None:
    """Cumulative PnL by part, stacked (gains above zero, losses below) with the total as a line."""
    cum = over_time(results)
    t = _naive(cum.index)
    parts = [p for p in PNL_PARTS if np.any(cum[p].to_numpy() != 0.0)]
    if parts:
        pos = [cum[p].clip(lower=0).to_numpy() for p in parts]
        neg = [cum[p].clip(upper=0).to_numpy() for p in parts]
        colors = [PART_COLORS[p] for p in parts]
        _stack(ax, t, pos, colors=colors, labels=parts, alpha=0.85, linewidth=0)
        _stack(ax, t, neg, colors=colors, alpha=0.85, linewidth=0)
    ax.plot(*_thin(ax, t, cum.sum(axis=1).to_numpy()), color="black", linewidth=1.3, label="total")
    ax.axhline(0.0, color="#555555", linewidth=0.8)
    _liq_marks(ax, results)
    _style(ax, "Cumulative PnL attribution", "PnL (quote)")
    _money_fmt(ax)
    _legend(ax, loc="upper left", ncol=5)


def fig_attribution(results: RunResult, dpi: int = 110) -> Figure:
    """Stacked cumulative attribution chart."""
    fig, (ax,) = _new(1, 4.2, dpi=dpi)
    draw_attribution(ax, results)
    return fig


def _asset_panels(results: RunResult, dpi: int, draw, extra: int = 0,
                  ratios: Sequence[float] | None = None) -> tuple[Figure, list[Axes]]:
    """One panel per base asset (plus `extra` panels below), each drawn by draw(ax, asset, slots):
    a several-asset run's 6-9 slots as a few readable panels of one line per venue."""
    groups = asset_groups(results.venues)
    n = len(groups) + extra
    fig, axes = _new(n, 2.4 * n + 0.6, ratios, dpi)
    for ax, (asset, slots) in zip(axes[:len(groups)], groups, strict=True):     # the `extra` panels follow
        draw(ax, asset, slots)
    return fig, axes


def _draw_funding(ax: Axes, results: RunResult, slots: Sequence[tuple[str, str, int]], title: str) -> None:
    """Funding rate of each (label, legend name, venue index) slot at each settlement, % per interval."""
    tl = results.timeline
    t_all = timeline_index(tl)
    for v, name, i in slots:
        col = f"{v}:funding_rate"
        if not _has_data(tl, col):
            continue
        r = tl[col].to_numpy(dtype=float)
        ok = np.isfinite(r)
        ax.plot(*_thin(ax, _naive(t_all[ok]), r[ok] * 100.0), color=venue_color(i), marker="o", markersize=2.5,
                linewidth=1.0, label=name)
    ax.axhline(0.0, color="#555555", linewidth=0.8)
    _liq_marks(ax, results)
    _style(ax, title, "rate (% per interval)")
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=None))
    _legend(ax, loc="best")


def _per_venue(results: RunResult, dpi: int, draw, title: str, asset_title: str) -> Figure:
    """One panel of a line per venue, or with several assets one such panel per asset: draw(ax, results,
    slots, title), `asset_title` formatted with the asset."""
    if is_multi_asset(results.venues):
        fig, _ = _asset_panels(results, dpi, lambda ax, a, slots: draw(ax, results, slots, asset_title.format(a)))
        return fig
    fig, (ax,) = _new(1, dpi=dpi)
    draw(ax, results, [(v, v, i) for i, v in enumerate(results.venues)], title)
    return fig


def fig_funding(results: RunResult, dpi: int = 110) -> Figure:
    """Funding rate per venue at each settlement, % per funding interval (one panel per asset when several)."""
    return _per_venue(results, dpi, _draw_funding, "Funding rate per venue (short receives when positive)",
                      "Funding rate per venue: {} perp (short receives when positive)")


def _draw_basis(ax: Axes, results: RunResult, slots: Sequence[tuple[str, str, int]], title: str) -> None:
    """Basis of each (label, legend name, venue index) slot, perp close / spot close - 1, in %."""
    tl = results.timeline
    t = _naive(timeline_index(tl))
    for v, name, i in slots:
        col = f"{v}:basis"
        if col in tl.columns:
            ax.plot(*_thin(ax, t, tl[col].to_numpy(dtype=float) * 100.0), color=venue_color(i), linewidth=1.1,
                    label=name)
    ax.axhline(0.0, color="#555555", linewidth=0.8)
    _liq_marks(ax, results)
    _style(ax, title, "basis (%)")
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=None))
    _legend(ax, loc="best")


def fig_basis(results: RunResult, dpi: int = 110) -> Figure:
    """Basis per venue, perp close / spot close - 1 (the traded basis, not the mark's), in % (a panel per asset)."""
    return _per_venue(results, dpi, _draw_basis, "Basis per venue (perp close / spot close − 1)",
                      "Basis per venue: {} (perp close / spot close − 1)")


# several-asset runs: a slot's distance to liquidation is drawn only while it holds this share of the hedge
# notional; a nearly flat slot's liquidation price is meaninglessly far (10^4 - 10^20 % away)
DIST_MIN_SHARE = 0.02


def robust_top(values: Sequence[np.ndarray], q: float = 95.0, spread: float = 2.0) -> float | None:
    """An axis top that keeps a few far outliers from flattening every other line: 1.2 x the q-th
    percentile of the finite values when their maximum exceeds `spread` times it; None (no cut) otherwise.
    A several-asset book's nearly-flat slot has its liquidation price absurdly far (10^20 % away)."""
    vals = np.concatenate([np.asarray(v, dtype=float).ravel() for v in values]) if values else np.zeros(0)
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        return None
    hi = float(np.percentile(vals, q))
    return 1.2 * hi if hi > 0 and float(vals.max()) > spread * hi else None


def _liq_rows(results: RunResult, label: str) -> np.ndarray:
    """Times (naive UTC) of the liquidations of one slot or venue label."""
    liq = results.liquidations
    if liq is None or not len(liq) or "venue" not in liq.columns:
        return np.zeros(0, dtype="datetime64[ns]")
    return _naive(pd.DatetimeIndex(liq[liq["venue"].astype(str) == label]["ts"]))


def _liq_x(ax: Axes, times: np.ndarray, y: float, name: str) -> None:
    """Red X markers at the liquidations' times on the line y."""
    if len(times):
        ax.scatter(times, np.full(len(times), y), marker="X", s=70, color=LIQ_COLOR, edgecolor="white",
                   linewidth=0.6, zorder=5, clip_on=False, label=f"liquidation ({name})")


def _multi_liquidation_risk(results: RunResult, dpi: int) -> Figure:
    """Distance to liquidation one panel per asset (venues as lines, axis capped at DIST_CAP), then the
    margin ratio per venue: the slots of a venue share its cross wallet, so their ratio is one line."""
    from basisbt.reports.assets import shares, slot_notional
    tl = results.timeline
    t = _naive(timeline_index(tl))
    held = shares(slot_notional(results)).fillna(0.0)

    def draw(ax: Axes, asset: str, slots: Sequence[tuple[str, str, int]]) -> None:
        drawn = []
        for v, name, i in slots:
            if _has_data(tl, f"{v}:dist_liq"):
                d = tl[f"{v}:dist_liq"].to_numpy(dtype=float) * 100.0
                d = np.where(held[v].to_numpy() >= DIST_MIN_SHARE, d, np.nan)
                if np.isfinite(d).any():
                    ax.plot(*_thin(ax, t, d), color=venue_color(i), linewidth=1.1, label=name)
                    drawn.append(d)
            _liq_x(ax, _liq_rows(results, v), 0.0, name)
        ax.axhline(0.0, color=LIQ_COLOR, linewidth=0.8)
        top = robust_top(drawn)
        _style(ax, f"Distance to liquidation: {asset} (slots with ≥ {DIST_MIN_SHARE:.0%} of the hedge"
               + (f"; axis cut at {top:,.0f} %)" if top else ")"), "distance (%)")
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=None))
        ax.set_ylim(0.0, top)
        _legend(ax, "no perp position", loc="best")

    fig, axes = _asset_panels(results, dpi, draw, extra=1)
    ax_mr = axes[-1]
    top = 0.0
    venues = list(dict.fromkeys(split_slot(v)[0] for v in results.venues))
    for j, venue in enumerate(venues):
        lines: dict[bytes, tuple[str, np.ndarray]] = {}
        for v in (v for v in results.venues if split_slot(v)[0] == venue):
            mb, mm = f"{v}:margin_balance", f"{v}:maint_margin"
            if mb not in tl.columns or mm not in tl.columns:
                continue
            bal = tl[mb].to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(bal > 0, tl[mm].to_numpy(dtype=float) / bal, np.nan)
            lines.setdefault(ratio.tobytes(), (v, ratio))        # a shared cross wallet: one line, not one per slot
        for v, ratio in lines.values():
            if np.nansum(np.abs(ratio)) > 0:
                ax_mr.plot(*_thin(ax_mr, t, ratio * 100.0), color=venue_color(j), linewidth=1.1,
                           label=venue if len(lines) == 1 else v)
                top = max(top, float(np.nanmax(ratio)))
        for v in (v for v in results.venues if split_slot(v)[0] == venue):
            _liq_x(ax_mr, _liq_rows(results, v), 100.0, v)
    liq = results.liquidations
    if top > 0.5 or (liq is not None and len(liq)):
        ax_mr.axhline(100.0, color=LIQ_COLOR, linewidth=0.8, linestyle="--")
    _style(ax_mr, "Margin ratio per venue wallet (maintenance / margin balance; 100 % = liquidation)", "ratio (%)")
    ax_mr.yaxis.set_major_formatter(PercentFormatter(decimals=None))
    ax_mr.set_ylim(bottom=0.0)
    _legend(ax_mr, "no perp position", loc="best")
    return fig


def fig_liquidation_risk(results: RunResult, dpi: int = 110) -> Figure:
    """Distance to liquidation (%) and margin ratio (maintenance / margin balance, %) per venue
    (per asset and per venue wallet in a several-asset run)."""
    if is_multi_asset(results.venues):
        return _multi_liquidation_risk(results, dpi)
    fig, (ax, ax_mr) = _new(2, 5.0, (1.0, 1.0), dpi)
    tl = results.timeline
    t = _naive(timeline_index(tl))
    liq = results.liquidations
    top = 0.0
    for i, v in enumerate(results.venues):
        c = venue_color(i)
        if _has_data(tl, f"{v}:dist_liq"):
            ax.plot(*_thin(ax, t, tl[f"{v}:dist_liq"].to_numpy(dtype=float) * 100.0), color=c, linewidth=1.1,
                    label=v)
        mb, mm = f"{v}:margin_balance", f"{v}:maint_margin"
        if mb in tl.columns and mm in tl.columns:
            bal = tl[mb].to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(bal > 0, tl[mm].to_numpy(dtype=float) / bal, np.nan)
            if np.nansum(np.abs(ratio)) > 0:
                ax_mr.plot(*_thin(ax_mr, t, ratio * 100.0), color=c, linewidth=1.1, label=v)
                top = max(top, float(np.nanmax(ratio)))
        if liq is not None and len(liq) and "venue" in liq.columns:
            lv = liq[liq["venue"].astype(str) == v]
            if len(lv):
                lt = _naive(pd.DatetimeIndex(lv["ts"]))
                for a, y in ((ax, 0.0), (ax_mr, 100.0)):
                    a.scatter(lt, np.full(len(lt), y), marker="X", s=70, color=LIQ_COLOR,
                              edgecolor="white", linewidth=0.6, zorder=5, clip_on=False,
                              label=f"liquidation ({v})")
    ax.axhline(0.0, color=LIQ_COLOR, linewidth=0.8)
    if top > 0.5 or (liq is not None and len(liq)):
        ax_mr.axhline(100.0, color=LIQ_COLOR, linewidth=0.8, linestyle="--")
    _style(ax, "Distance to liquidation (|mark − liq. price| / mark)", "distance (%)")
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=None))
    ax.set_ylim(bottom=0.0)
    _style(ax_mr, "Margin ratio (maintenance / margin balance; 100 % = liquidation)", "ratio (%)")
    ax_mr.yaxis.set_major_formatter(PercentFormatter(decimals=None))
    ax_mr.set_ylim(bottom=0.0)
    _legend(ax, "no perp position", loc="best")
    _legend(ax_mr, "no perp position", loc="best")
    return fig


def fig_allocation(results: RunResult, dpi: int = 110) -> Figure:
    """Capital allocation, stacked: spot value held per venue, lending supply per protocol, in transit."""
    fig, (ax,) = _new(1, 4.0, dpi=dpi)
    tl = results.timeline
    t = _naive(timeline_index(tl))
    series, labels, colors = [], [], []
    palette = slot_colors(results.venues)
    order = [v for _, slots in asset_groups(results.venues) for v, _, _ in slots]   # asset by asset
    for v in order:
        q, px = f"{v}:spot_qty", f"{v}:spot_px"
        if q in tl.columns and px in tl.columns:
            val = np.nan_to_num(tl[q].to_numpy(dtype=float) * tl[px].to_numpy(dtype=float))
            if np.any(val != 0):
                series.append(val)
                labels.append(f"{v} spot")
                colors.append(palette[v])
    lend_cols = [f"{p}:supply" for p in results.protocols if f"{p}:supply" in tl.columns]
    for j, c in enumerate(lend_cols):
        if not np.any(np.nan_to_num(tl[c].to_numpy(dtype=float)) != 0):
            continue
        series.append(np.nan_to_num(tl[c].to_numpy(dtype=float)))
        labels.append(f"{c.split(':')[0]} lending")
        colors.append(LENDING_COLOR if j == 0 else VENUE_COLORS[-1 - j % len(VENUE_COLORS)])
    if not lend_cols and _has_data(tl, "lending_value"):
        series.append(np.nan_to_num(tl["lending_value"].to_numpy(dtype=float)))
        labels.append("lending")
        colors.append(LENDING_COLOR)
    if "in_transit" in tl.columns and np.any(tl["in_transit"].to_numpy(dtype=float) != 0):
        series.append(np.nan_to_num(tl["in_transit"].to_numpy(dtype=float)))
        labels.append("in transit")
        colors.append(TRANSIT_COLOR)
    if series:
        _stack(ax, t, series, labels=labels, colors=colors, alpha=0.85, linewidth=0)
    _liq_marks(ax, results)
    _style(ax, "Allocation across venues and lending", "value (quote)")
    _money_fmt(ax)
    if is_multi_asset(results.venues):      # 6-9 slots: the legend beside the chart, not over the stack
        _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        _legend(ax, loc="upper left", ncol=4)
    return fig


def fig_asset_allocation(results: RunResult, switches: pd.DataFrame | None = None, dpi: int = 110) -> Figure:
    """Several-asset runs: hedge notional (|perp qty| x mark) stacked per (venue, asset) slot, coloured by
    asset and shaded by venue; below it the share held in each asset and on each venue, with the
    listed switches (reports.assets.allocation_switches) as dotted lines."""
    from basisbt.reports.assets import grouped_notional, shares, slot_notional
    fig, (ax, ax_a, ax_v) = _new(3, 8.2, (2.0, 1.0, 1.0), dpi)
    per = slot_notional(results)
    t = _naive(per.index)
    palette = slot_colors(list(per.columns))
    order = [v for _, slots in asset_groups(list(per.columns)) for v, _, _ in slots]   # asset by asset
    keep = [v for v in order if np.any(per[v].to_numpy() != 0)]
    if keep:
        _stack(ax, t, [per[v].to_numpy() for v in keep], colors=[palette[v] for v in keep],
               labels=[f"{split_slot(v)[1]} · {split_slot(v)[0]}" for v in keep],
               edgecolor="white", linewidth=0.3)
    _liq_marks(ax, results)
    _style(ax, "Hedge notional per asset and venue (|perp qty| × mark)", "notional (quote)")
    _money_fmt(ax)
    _legend(ax, "no perp position", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for a, frame, colors, title in (
            (ax_a, shares(grouped_notional(results, "asset")),
             [asset_color(i) for i in range(len(per.columns))], "Share by asset"),
            (ax_v, shares(grouped_notional(results, "venue")),
             [VENUE_GREYS[i % len(VENUE_GREYS)] for i in range(len(per.columns))], "Share by venue")):
        cols = list(frame.columns)
        if frame.notna().any().any():
            _stack(a, t, [frame[c].fillna(0.0).to_numpy() * 100.0 for c in cols], colors=colors[:len(cols)],
                   labels=cols, edgecolor="white", linewidth=0.3)
        if switches is not None and len(switches) and a is ax_a:
            moved = switches[switches["what"] == "moved"]
            for k, ts in enumerate(_naive(pd.DatetimeIndex(moved["ts"]))):
                a.axvline(ts, color="black", linestyle=":", linewidth=0.9, label="switch" if k == 0 else None)
        _style(a, title, "share (%)")
        a.set_ylim(0.0, 100.0)
        a.yaxis.set_major_formatter(PercentFormatter(decimals=None))
        _legend(a, "no perp position", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


SYNTH_PANELS = (   # (record, title, y label, x 100 for percent)
    ("backing_ratio", "Backing ratio (assets / synthetic dollars outstanding)", "backing (%)", True),
    ("reserve_fund", "Reserve fund (pays negative periods)", "reserve (quote)", False),
    ("staker_apy", "Staker APY as published (the period being paid; weekly compounding)", "APY (%)", True),
    ("perp_share", "Perp share of backing (short notional / assets)", "share (%)", True),
)
REVENUE_COLORS = {**PART_COLORS, "lst": "#9c6644", "stables": "#adb5bd"}


def fig_synthetic(results: RunResult, dpi: int = 110) -> Figure | None:
    """Backing ratio, reserve fund, published staker APY and perp share of backing for synthetic-dollar runs;
    None when absent."""
    ex = results.extras or {}
    have = [row for row in SYNTH_PANELS if row[0] in ex and ex[row[0]].notna().any()]
    if not have:
        return None
    fig, axes = _new(len(have), 2.6 * len(have) + 0.6, dpi=dpi)
    for ax, (key, title, ylabel, percent) in zip(axes, have, strict=True):
        s = ex[key].dropna()
        t = _naive(s.index)
        y = s.to_numpy() * (100.0 if percent else 1.0)
        if key == "staker_apy":
            ax.step(t, y, where="post", color=EQUITY_COLOR, linewidth=1.2, label="staker APY")
        else:
            ax.plot(*_thin(ax, t, y), color=LENDING_COLOR if key == "reserve_fund" else EQUITY_COLOR,
                    linewidth=1.2, label=key.replace("_", " "))
        if key == "backing_ratio":
            ax.axhline(100.0, color=LIQ_COLOR, linewidth=0.8, linestyle="--", label="fully backed")
        if key == "reserve_fund":
            ax.axhline(0.0, color=LIQ_COLOR, linewidth=0.8, linestyle="--", label="exhausted")
        _style(ax, title, ylabel)
        if percent:
            ax.yaxis.set_major_formatter(PercentFormatter(decimals=None))
        else:
            _money_fmt(ax)
        _liq_marks(ax, results, label=False)
        _legend(ax, loc="best")
    return fig


def fig_revenue(results: RunResult, dpi: int = 110) -> Figure | None:
    """Realized revenue by source per payout period (stacked bars, quote), from the cumulative revenue_<source>
    records at each period close; the last bar is the open period at the run's end. None when absent."""
    ex = results.extras or {}
    sources = [k for k in ex if k.startswith("revenue_") and len(ex[k].dropna())]
    if not sources:
        return None
    cum = pd.concat({k[len("revenue_"):]: ex[k] for k in sources}, axis=1).sort_index().ffill().fillna(0.0)
    per = cum.diff()
    per.iloc[0] = cum.iloc[0]
    per = per.loc[:, (per.abs() > 0).any()]
    fig, (ax,) = _new(1, 3.8, dpi=dpi)
    t = _naive(per.index)
    width = np.median(np.diff(t)) * 0.8 if len(t) > 1 else np.timedelta64(5, "D")
    pos = np.zeros(len(per))
    neg = np.zeros(len(per))
    for name in per.columns:
        y = per[name].to_numpy()
        base = np.where(y >= 0, pos, neg)
        ax.bar(t, y, width=-width, align="edge", bottom=base, color=REVENUE_COLORS.get(name, "#6c757d"), label=name)
        pos += np.where(y >= 0, y, 0.0)
        neg += np.where(y < 0, y, 0.0)
    ax.axhline(0.0, color="#555555", linewidth=0.8)
    _style(ax, "Realized revenue by source per payout period (marks excluded)", "quote")
    _money_fmt(ax)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def fig_compare_equity(curves: Sequence[tuple[str, pd.Series, float]], dpi: int = 110) -> Figure:
    """Cumulative return (%) of several runs on one chart; curves are (label, flow-adjusted NAV, start)."""
    fig, (ax,) = _new(1, 4.5, dpi=dpi)
    for i, (label, eq, start) in enumerate(curves):
        ax.plot(*_thin(ax, _naive(eq.index), (eq.to_numpy(dtype=float) / start - 1.0) * 100.0),
                color=venue_color(i), linewidth=1.3, label=label)
    ax.axhline(0.0, color="#555555", linewidth=0.8)
    _style(ax, "Cumulative return by run", "return since start (%)")
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=None))
    _legend(ax, loc="best")
    return fig


def _fig_benchmark(results: RunResult, dpi: int = 110) -> Figure | None:
    """Both daily series on one chart, correlation and mean difference in the title; None without a benchmark."""
    if not getattr(results, "benchmark", None):
        return None
    from basisbt.reports.benchmark import daily_pair, summary
    pair = daily_pair(results)
    c = summary(results.benchmark, pair)
    fig, (ax,) = _new(1, 3.6, dpi=dpi)
    t = _naive(pair.index)
    ax.plot(t, pair["run"].to_numpy(), linewidth=1.3, label=f"run: {c['series']}")
    ax.plot(t, pair["benchmark"].to_numpy(), linewidth=1.3, label=f"benchmark: {c['column']}")
    corr = "n/a" if c["correlation"] is None else f"{c['correlation']:.2f}"
    mean_diff = "n/a" if c["mean_difference"] is None else f"{c['mean_difference']:.4g}"
    _style(ax, f"{c['series']} vs {c['column']} (daily means; correlation {corr}, mean difference {mean_diff})",
           c["series"])
    _legend(ax, loc="best")
    return fig


def chart_builders(results: RunResult) -> list[tuple[str, str, Callable[[RunResult, int], Figure | None]]]:
    """The report's charts as (anchor id, caption, build(results, dpi) -> Figure or None when there is
    nothing to draw), in page order: built one at a time, each freed once rendered."""
    per_venue = bool(results.venues)
    charts: list[tuple[str, str, Callable[[RunResult, int], Figure | None] | None]] = [
        ("equity", "Equity and drawdown", fig_equity),
        ("attribution", "Cumulative PnL attribution", fig_attribution),
        ("funding", "Funding rate per venue", fig_funding if per_venue else None),
        ("basis", "Basis per venue", fig_basis if per_venue else None),
        ("liquidation", "Distance to liquidation and margin ratio", fig_liquidation_risk if per_venue else None),
        ("allocation", "Allocation", fig_allocation),
        ("synthetic", "Backing ratio, reserve fund, staker APY and perp share", fig_synthetic),
        ("revenue", "Realized revenue by source", fig_revenue),
        ("benchmark", "Against the benchmark", _fig_benchmark),
    ]
    return [(k, c, f) for k, c, f in charts if f is not None]


def plot(results: RunResult, dpi: int = 100) -> Figure:
    """A one-figure notebook overview: equity, drawdown, cumulative attribution, distance to liquidation."""
    fig = Figure(figsize=(11.0, 9.0), dpi=dpi, layout="constrained")
    axes = fig.subplots(4, 1, sharex=True, gridspec_kw={"height_ratios": [2.0, 1.0, 2.0, 1.4]})
    draw_equity(axes[0], axes[1], results)
    draw_attribution(axes[2], results)
    tl = results.timeline
    t = _naive(timeline_index(tl))
    palette = slot_colors(results.venues)
    drawn = []
    for v in results.venues:
        if f"{v}:dist_liq" in tl.columns:
            drawn.append(tl[f"{v}:dist_liq"].to_numpy(dtype=float) * 100.0)
            axes[3].plot(*_thin(axes[3], t, drawn[-1]), color=palette[v], linewidth=1.1, label=v)
    _liq_marks(axes[3], results)
    _style(axes[3], "Distance to liquidation", "distance (%)")
    axes[3].yaxis.set_major_formatter(PercentFormatter(decimals=None))
    top = robust_top(drawn) if is_multi_asset(results.venues) else None
    if top:
        axes[3].set_ylim(0.0, top)
    _legend(axes[3], loc="best")
    fig.suptitle(f"{results.strategy} on {results.dataset}", fontsize=12, fontweight="bold")
    return fig
