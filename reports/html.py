"""report.html: one self-contained page (inline CSS, base64 PNG charts), rendered with jinja2."""
from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd

from basisbt.engine.results import Results
from basisbt.reports import assets, attribution, quality
from basisbt.reports.fmt import (CONVENTIONS_TEXT, headline_rows, is_short, money, num, pct, period,
                                 when, window, window_note)

if TYPE_CHECKING:
    from basisbt.reports.chartproc import ChartJob

MAX_FILL_ROWS = 200
TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The jinja2 environment over reports/templates, HTML autoescaping on."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                              autoescape=jinja2.select_autoescape(["html", "j2"]),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def png_b64(fig: Any, dpi: int) -> str:
    """A figure as base64 PNG text for a data: URI; the figure is closed afterwards."""
    from basisbt.reports import plots
    data = plots.png_bytes(fig, dpi=dpi)
    fig.clear()
    return base64.b64encode(data).decode("ascii")


def _signed_cell(x: float, digits: int = 0) -> dict[str, str]:
    """A money cell with a neg/pos class for colouring."""
    cls = "neg" if x < -0.5 * 10 ** -digits else ("pos" if x > 0.5 * 10 ** -digits else "")
    return {"text": money(x, digits), "cls": cls}


def _frame_table(df: pd.DataFrame, total_row: str | None = None) -> dict[str, Any]:
    """Columns and rows of signed money cells from a numeric frame; `total_row` gets bold."""
    rows = [{"name": str(name), "cls": "total" if str(name) == total_row else "",
             "cells": [_signed_cell(float(x)) for x in r]} for name, r in df.iterrows()]
    return {"columns": [str(c) for c in df.columns], "rows": rows}


def _cards(m: dict[str, Any]) -> list[dict[str, str]]:
    """Headline cards: return, APY, Sharpe, max drawdown, liquidations, funding captured.

    For a short window the APY and Sharpe cards say they are annualized from N days.
    """
    def sign(x: float | None) -> str:
        return "" if x is None else ("neg" if x < 0 else "pos")
    ann = f" (annualized from {num(window(m).get('days'), 1)} days)" if is_short(m) else ""
    return [
        {"label": f"Total return over {num(m.get('days'), 1)} days", "value": pct(m["total_return"]),
         "cls": sign(m["total_return"])},
        {"label": "APY" + ann, "value": pct(m["apy"], 1), "cls": sign(m["apy"])},
        {"label": "Sharpe" + ann, "value": num(m["sharpe"]), "cls": ""},
        {"label": "Max drawdown", "value": pct(m["max_drawdown"]), "cls": "neg"
         if (m["max_drawdown"] or 0) < 0 else ""},
        {"label": "Liquidations", "value": str(m["liquidations"]),
         "cls": "neg" if m["liquidations"] else ""},
        {"label": "Funding (quote)", "value": money(m.get("funding_captured")),
         "cls": sign(m.get("funding_captured"))},
    ]


def _liquidation_rows(results: Results) -> dict[str, Any]:
    """The liquidations table: time, venue, qty, price, fee, insurance loss."""
    liq = results.liquidations
    cols = ["time (UTC)", "venue", "qty (base)", "price (quote)", "fee (quote)", "insurance loss (quote)"]
    rows = []
    if liq is not None and len(liq):
        for _, r in liq.iterrows():
            rows.append([pd.Timestamp(r["ts"]).strftime("%Y-%m-%d %H:%M"), str(r["venue"]),
                         f"{float(r['qty']):,.4f}", f"{float(r['price']):,.2f}",
                         money(float(r.get("fee", 0.0)), 2),
                         money(float(r.get("insurance_loss", 0.0)), 2)])
    return {"columns": cols, "rows": rows}


def _fill_rows(results: Results) -> dict[str, Any]:
    """The first MAX_FILL_ROWS fills: time, venue, instrument, qty, price, fee, slippage, reason."""
    f = results.fills
    cols = ["time (UTC)", "venue", "instrument", "qty (base)", "price", "fee", "slippage", "reason"]
    rows = []
    total = 0 if f is None else len(f)
    if total:
        for _, r in f.head(MAX_FILL_ROWS).iterrows():
            rows.append([pd.Timestamp(r["ts"]).strftime("%Y-%m-%d %H:%M"), str(r.get("venue", "")),
                         str(r.get("instrument", "")), f"{float(r['qty']):,.4f}",
                         f"{float(r['price']):,.2f}", money(float(r.get("fee", 0.0)), 2),
                         money(float(r.get("slippage", 0.0)), 2), str(r.get("reason", ""))])
    return {"columns": cols, "rows": rows, "total": total, "truncated": total > MAX_FILL_ROWS}


def _ledger_rows(results: Results) -> dict[str, Any]:
    """Ledger summary rows: kind, count, inflow, outflow, net."""
    led = attribution.ledger_by_kind(results)
    return {"rows": [[str(k), str(int(r["count"])), money(r["inflow"]), money(r["outflow"]),
                      money(r["net"])] for k, r in led.iterrows()]}


def _worst_days(results: Results, n: int = 5) -> dict[str, Any]:
    """The n UTC days with the most negative total PnL, with their parts."""
    daily = attribution.per_period(results, "1D")
    worst = daily[daily["total"] < 0].sort_values("total").head(n)
    worst.index = [pd.Timestamp(t).strftime("%Y-%m-%d") for t in worst.index]
    return _frame_table(worst)


def share_move(a: float | None, b: float | None) -> str:
    """'48.9 % → 100.0 %' for a switch row's share of an asset; '–' stands for no hedge."""
    def one(x: float | None) -> str:
        return "–" if x is None or x != x else pct(x, 1)
    return f"{one(a)} → {one(b)}"


def switch_rows(results: Results, limit: int = assets.MAX_SWITCH_ROWS) -> dict[str, Any]:
    """The switches table (reports.assets.allocation_switches): time, what, each asset's share from → to,
    hedge notional after; at most `limit` rows, `total` says how many there were."""
    sw = assets.allocation_switches(results)
    names = assets.assets_of(results)
    cols = ["time (UTC)", "what", *(f"{a} share" for a in names), "hedge notional (quote)"]
    rows = [[pd.Timestamp(r["ts"]).strftime("%Y-%m-%d %H:%M"), str(r["what"]),
             *(share_move(r[f"{a} from"], r[f"{a} to"]) for a in names), money(r["hedge notional"])]
            for _, r in sw.head(limit).iterrows()]
    return {"columns": cols, "rows": rows, "total": len(sw), "truncated": len(sw) > limit,
            "threshold": f"{assets.SWITCH_THRESHOLD * 100:g} percentage points", "frame": sw}


def allocation_rows(metrics: dict[str, Any], group: str) -> list[list[str]]:
    """[name, mean share, last share, mean hedge notional] rows of metrics' allocation_by_asset[group]."""
    return [[k, pct(mean, 1), pct(last, 1), money(notional)]
            for k, mean, last, notional in assets.allocation_table(metrics, group)]


def asset_context(results: Results, metrics: dict[str, Any], dpi: int,
                  allocation_png: bytes | None = None) -> dict[str, Any] | None:
    """The several-asset sections (attribution per asset, allocation by asset and venue, switches);
    None for a single-asset run, whose report has none of them."""
    if not assets.assets_of(results):
        return None
    switches = switch_rows(results)
    if allocation_png is None:
        from basisbt.reports import plots
        allocation_png = plots.png_bytes(plots.fig_asset_allocation(results, switches["frame"], dpi), dpi)
    alloc = metrics.get("allocation_by_asset") or {}
    return {
        "attribution": _frame_table(assets.attribution_table(results), total_row="total"),
        "by_asset": allocation_rows(metrics, "by_asset"),
        "by_venue": allocation_rows(metrics, "by_venue"),
        "last_ts": when(alloc.get("last_ts")),
        "chart": base64.b64encode(allocation_png).decode("ascii"),
        "switches": {k: v for k, v in switches.items() if k != "frame"},
    }


def report_context(results: Results, metrics: dict[str, Any], dpi: int = 110,
                   allocation_png: bytes | None = None, charts: ChartJob | None = None) -> dict[str, Any]:
    """Everything the report template shows, already formatted; `charts`: the charts already being drawn
    (reports/chartproc.py), else they are started here."""
    from basisbt.reports.chartproc import start_charts
    from basisbt.reports.writers import run_toml

    m = metrics
    rows = headline_rows(m)
    half = (len(rows) + 1) // 2
    job = charts or start_charts(results, dpi)
    try:
        figures = job.finish()
    finally:
        job.close()
    dist = m.get("min_dist_liq") or {}
    return {
        "title": f"{results.strategy} on {results.dataset}",
        "period": period(m),
        "config_id_short": str(results.config_id)[:16],
        "fingerprint_short": str(results.data_fingerprint)[:23],
        "cards": _cards(m),
        "window_note": window_note(m),
        "metric_halves": [rows[:half], rows[half:]],
        "attribution": _frame_table(attribution.by_venue(results), total_row="total"),
        "residual": f"{m.get('attribution_residual') or 0.0:.3g}",
        "worst_days": _worst_days(results),
        "figures": figures,
        "liquidations": _liquidation_rows(results),
        "min_dist_text": "; ".join(f"{v} {pct(d.get('min'), 1)} at {when(d.get('ts'))} UTC"
                                   for v, d in dist.items() if d.get("min") is not None) or "no positions",
        "ledger": _ledger_rows(results),
        "fills": _fill_rows(results),
        "conventions": CONVENTIONS_TEXT,
        "run_toml": run_toml(results),
        "log": "\n".join(results.log[:200]) if results.log else "",
        "multi": asset_context(results, metrics, dpi, allocation_png),
        "venue_blocks": quality.venue_block_rows(results.venue_blocks),
        "quality": {"columns": quality.COLUMNS, "rows": quality.quality_rows(results.data_quality),
                    "summary": quality.quality_summary(results.data_quality)} if results.data_quality else None,
    }


def render_html(results: Results, metrics: dict[str, Any], *, dpi: int = 110,
                allocation_png: bytes | None = None, charts: ChartJob | None = None) -> str:
    """The self-contained report.html text for one run; `allocation_png` reuses the several-asset
    allocation chart already drawn for allocation.png (drawn here when not given); `charts` the charts
    already being drawn (reports/chartproc.py)."""
    return environment().get_template("report.html.j2").render(
        **report_context(results, metrics, dpi, allocation_png, charts))
