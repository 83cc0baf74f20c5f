"""A sweep's pictures: a heatmap of one metric over two parameters (PNG) and a small report page (HTML), with
values formatted as the run report formats them (fractions as percent, quote amounts with separators, and
annualized figures of a short window marked and explained). The terminal table (basisbt/cli/sweep.py) uses
the same cell texts."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from basisbt.data.safe_io import atomic_write, atomic_write_text
from basisbt.reports import model as M
from basisbt.reports.metrics import ANNUALIZED_KEYS, MIN_ANNUALIZE_DAYS
from basisbt.reports.model import Cell, Chart, Report, Section, Table, Text

TABLE_ROWS = 50
MAX_HEAT_SIDE = 12
SHOWN_METRICS = ("apy", "total_return", "sharpe", "max_drawdown", "liquidations", "funding_capture_ratio",
                 "n_fills")
SHORT_MARK = "*"              # after an annualized figure of a window shorter than MIN_ANNUALIZE_DAYS
HEAT_DPI = 110                # as the run report's charts, so the heatmap's text is the page's size

# how each metric column of results.parquet is shown (the run report's formats, reports/fmt.py)
PERCENT = {"apy", "total_return", "volatility", "max_drawdown", "funding_capture_ratio", "time_hedged",
           "staker_apy"}
COUNTS = {"liquidations", "n_fills", "orders_rejected_total", "bars"}
DIGITS = {"sharpe": 2, "sortino": 2, "calmar": 2, "turnover": 1, "days": 1, "max_drawdown_days": 1,
          "backing_ratio_min": 4}


def cell(column: str, value: Any, days: Any = None) -> Cell:
    """One table cell (reports/model.Cell): a metric as the run report shows it (an annualized one of a short
    window gets SHORT_MARK), anything else (parameters, data, errors) as it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return Cell(None, "num")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return M.text(value)
    suffix = f" {SHORT_MARK}" if column in ANNUALIZED_KEYS and _short(days) else ""
    if column in PERCENT:
        return M.pct(float(value), 1 if column in ("funding_capture_ratio", "time_hedged") else 2, suffix)
    if column in COUNTS:
        return Cell(int(value), "int", suffix=suffix)
    if column in DIGITS:
        return M.num(float(value), DIGITS[column], suffix)
    if column not in ("data", "cell") and _is_money(column):
        return Cell(float(value), "money", 0, suffix)
    if isinstance(value, float):
        return M.text(f"{value:.6g}{suffix}")
    return M.text(value)


def cell_text(column: str, value: Any, days: Any = None) -> str:
    """One table cell's text (the terminal table of basisbt/cli/sweep.py and the page)."""
    return cell(column, value, days).text


def _is_money(column: str) -> bool:
    return column.startswith(("pnl_", "equity_", "funding_", "reserve_fund")) or column in (
        "net_flows", "liquidation_cost", "insurance_loss", "traded_notional", "fees_paid", "slippage_paid")


def _short(days: Any) -> bool:
    return isinstance(days, (int, float)) and math.isfinite(days) and days < MIN_ANNUALIZE_DAYS


def short_window_note(table: pd.DataFrame, columns: list[str]) -> str:
    """The sentence under a table whose annualized columns carry SHORT_MARK ('' when none does): the window
    lengths, and that the period figure is the total return."""
    shown = [c for c in columns if c in ANNUALIZED_KEYS]
    if not shown or "days" not in table.columns:
        return ""
    days = sorted({round(float(d), 1) for d in table["days"] if _short(d)})
    if not days:
        return ""
    span = f"{days[0]:g} days" if len(days) == 1 else f"{days[0]:g} to {days[-1]:g} days"
    return (f"{SHORT_MARK} annualized from a short window ({span}, under {MIN_ANNUALIZE_DAYS:g}): "
            f"{', '.join(shown)} extrapolate it to a 365-day year; the period figure is total_return.")


def table_columns(table: pd.DataFrame, axes: list[str], sort: str) -> list[str]:
    """The columns a sweep table shows: data, the varied parameters, the sort key and SHOWN_METRICS (and
    `error` when a cell failed)."""
    cols = ["data", *axes, *dict.fromkeys((sort, *SHOWN_METRICS))]
    cols = [c for c in cols if c in table.columns]
    if "error" in table.columns and (table["error"].fillna("") != "").any():
        cols.append("error")
    return cols


def table_cells(table: pd.DataFrame, cols: list[str], n: int) -> tuple[tuple[Cell, ...], ...]:
    """The first n rows' cells."""
    return tuple(tuple(cell(c, r[c], r.get("days")) for c in cols) for _, r in table.head(n).iterrows())


def table_rows(table: pd.DataFrame, cols: list[str], n: int) -> list[list[str]]:
    """The first n rows' cell texts."""
    return [[c.text for c in row] for row in table_cells(table, cols, n)]


def heatmap_frame(table: pd.DataFrame, x: str, y: str, metric: str) -> pd.DataFrame:
    """Mean of `metric` per (y, x) pair (over datasets and any other varied parameter): rows y, columns x."""
    ok = table[table["error"].fillna("") == ""] if "error" in table.columns else table
    return ok.pivot_table(index=y, columns=x, values=metric, aggfunc="mean", sort=True)


def _value_formatter(metric: str) -> Any:
    """A matplotlib tick formatter showing the metric as cell_text does (no short-window mark)."""
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _: cell_text(metric, float(v)))


def heatmap_png(table: pd.DataFrame, x: str, y: str, metric: str, path: Path) -> bytes:
    """Draw the heatmap (matplotlib object API, Agg) with each cell's value written in it; write it to `path`
    atomically. Drawn at the run report's scale (HEAT_DPI, its font sizes) and shown on the page at its own
    size, never stretched. With more than MAX_HEAT_SIDE distinct values on an axis (a random sample) it is a
    scatter of the cells."""
    from matplotlib.figure import Figure
    ok = table[table["error"].fillna("") == ""] if "error" in table.columns else table
    if max(ok[x].nunique(), ok[y].nunique()) > MAX_HEAT_SIDE:     # sampled values: a scatter, not a grid
        fig = Figure(figsize=(7.0, 4.6), dpi=HEAT_DPI, layout="constrained")
        ax = fig.subplots()
        sc = ax.scatter(ok[x], ok[y], c=ok[metric].astype(float), cmap="viridis", s=24)
        _labels(ax, x, y, f"{metric} per cell")
        fig.colorbar(sc, ax=ax, format=_value_formatter(metric)).ax.tick_params(labelsize=8)
        return save_png(fig, path)
    grid = heatmap_frame(table, x, y, metric)
    w = min(10.0, 1.6 + 0.95 * max(3, grid.shape[1]))
    h = min(7.0, 1.3 + 0.45 * max(3, grid.shape[0]))
    fig = Figure(figsize=(w, h), dpi=HEAT_DPI, layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(grid.to_numpy(dtype=float), cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(grid.shape[1]), [f"{c:g}" if isinstance(c, float) else str(c) for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [f"{i:g}" if isinstance(i, float) else str(i) for i in grid.index])
    _labels(ax, x, y, f"{metric} (mean over the other inputs)")
    for (i, j), v in pd.DataFrame(grid.to_numpy()).stack(future_stack=True).items():
        if isinstance(v, float) and math.isfinite(v):         # dark text on the bright end of viridis
            ax.text(j, i, cell_text(metric, v), ha="center", va="center", fontsize=8,
                    color="k" if im.norm(v) > 0.6 else "w")
    fig.colorbar(im, ax=ax, format=_value_formatter(metric)).ax.tick_params(labelsize=8)
    return save_png(fig, path)


def _labels(ax: Any, x: str, y: str, title: str) -> None:
    """The run report's chart style: bold left title, small labels and ticks."""
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.set_xlabel(x, fontsize=9)
    ax.set_ylabel(y, fontsize=9)
    ax.tick_params(labelsize=8)


def save_png(fig: Any, path: Path) -> bytes:
    """The figure as PNG bytes (no timestamp metadata), written to `path` atomically."""
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=HEAT_DPI, metadata={"Software": None})
    fig.clear()
    data = buf.getvalue()
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return data


def sweep_report(table: pd.DataFrame, *, strategy: str, datas: list[str], mode: str, sort: str, axes: list[str],
                 fixed: dict[str, Any], heatmap: bytes | None, heat_axes: tuple[str, str] | None) -> Report:
    """The sweep page's report model: the set-up, the heatmap and the best TABLE_ROWS cells (table sorted)."""
    cols = table_columns(table, axes, sort)
    n_errors = int((table["error"].fillna("") != "").sum()) if "error" in table.columns else 0
    sub = (f"{len(table)} cells ({mode}) · data: {', '.join(f'`{d}`' for d in datas)} · sorted by `{sort}`"
           + (f" · {n_errors} cells failed (see `error` in results.csv)" if n_errors else ""))
    rows = table_cells(table, cols, TABLE_ROWS)
    note = short_window_note(table.head(TABLE_ROWS), cols)
    sections = []
    if heatmap:
        x, y = heat_axes or ("", "")
        sections.append(Section("heatmap", f"{sort} by {x} and {y}", (Chart(
            "heatmap", f"heatmap of {sort}", heatmap, "Each square is the mean over datasets (and any other varied "
            "parameter) of the cells with that pair of values.", natural=True),)))
    sections.append(Section("cells", f"Best {len(rows)} of {len(table)} cells", (
        *((Text(note, "warning"),) if note else ()),
        Table(tuple(cols), rows, align="l" + "r" * (len(cols) - 1), scroll=True))))
    return Report(title=f"Sweep: {strategy}", sections=tuple(sections),
                  subtitle=(sub, *((f"fixed: {' '.join(f'`{k}={v}`' for k, v in sorted(fixed.items()))}",)
                                   if fixed else ())),
                  footer_html="Generated by basisbt sweep. Every cell is a metrics-only run (the same metrics as "
                              "`basisbt run`); the whole table is in results.parquet and results.csv.")


def write_report(table: pd.DataFrame, out: Path, *, strategy: str, datas: list[str], mode: str, sort: str,
                 axes: list[str], fixed: dict[str, Any], heatmap: bytes | None, heat_axes: tuple[str, str] | None) -> Path:
    """report.html: the sweep's set-up, the heatmap and the best TABLE_ROWS cells (table already sorted)."""
    from basisbt.reports.html import to_html
    html = to_html(sweep_report(table, strategy=strategy, datas=datas, mode=mode, sort=sort, axes=axes, fixed=fixed,
                                heatmap=heatmap, heat_axes=heat_axes))
    path = Path(out) / "report.html"
    atomic_write_text(path, html)
    return path
