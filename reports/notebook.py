"""Notebook helpers: an HTML repr of a run and a one-figure overview (bound to basisbt.RunResult)."""
from __future__ import annotations

import html as _html

from matplotlib.figure import Figure

from basisbt.engine.results import PNL_PARTS, RunResult
from basisbt.reports.fmt import annualized, money, num, pct, period, sortino_text
from basisbt.reports.metrics import compute_metrics
from basisbt.reports.plots import plot as _plot


def results_html(results: RunResult) -> str:
    """A compact HTML summary for `_repr_html_`: headline metrics and the PnL parts (no images)."""
    m = compute_metrics(results)
    head = [("period", period(m)), ("total return", pct(m["total_return"])),
            ("APY", annualized(m, pct(m["apy"]))), ("volatility", annualized(m, pct(m["volatility"]))),
            ("Sharpe", annualized(m, num(m["sharpe"]))), ("Sortino", sortino_text(m)),
            ("max drawdown", pct(m["max_drawdown"])),
            ("liquidations", str(m["liquidations"])), ("fills", str(m["n_fills"]))]
    parts = [(p, money(m["pnl"][p])) for p in (*PNL_PARTS, "total")]
    row = "<tr><th style='text-align:left'>{}</th><td style='text-align:right'>{}</td></tr>"
    left = "".join(row.format(_html.escape(a), _html.escape(b)) for a, b in head)
    right = "".join(row.format(_html.escape(a), _html.escape(b)) for a, b in parts)
    title = _html.escape(f"{results.strategy} on {results.dataset}")
    return (f"<div><b>{title}</b> <code>{_html.escape(results.config_id[:12])}</code>"
            f"<div style='display:flex;gap:2em'><table>{left}</table>"
            f"<table><tr><th colspan=2 style='text-align:left'>PnL (quote)</th></tr>{right}</table>"
            f"</div></div>")


def plot(results: RunResult) -> Figure:
    """Equity, drawdown, stacked cumulative attribution and distance to liquidation in one Figure."""
    return _plot(results)
