"""Re-render saved runs without re-running them: one run's reports, or a comparison page of several."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from basisbt.reports import plots
from basisbt.reports.fmt import CONVENTIONS_TEXT, annualized, money, num, pct
from basisbt.reports.html import environment, png_b64
from basisbt.reports.loader import RunDirError, load_run
from basisbt.reports.metrics import ANNUALIZED_KEYS, nav_series
from basisbt.reports.writers import atomic_write_text, write_reports

__all__ = ["RunDirError", "render_run", "render_comparison"]


def render_run(run_dir: str | Path, *, dpi: int = 110) -> dict[str, Any]:
    """Rebuild metrics.json, report.md and report.html of a saved run from its CSVs and run.toml.

    The CSVs hold exact float round-trips, so metrics.json comes out byte for byte identical to
    the one `Results.save` wrote. Returns the metrics. Raises RunDirError for a bad directory.
    """
    import shutil

    from basisbt.reports.writers import commit_dir, staging_dir
    d = Path(run_dir)
    results = load_run(d)
    tmp = staging_dir(d)
    try:   # re-render a copy and swap it in whole: a failed or killed render leaves the run untouched
        shutil.copytree(d, tmp, dirs_exist_ok=True, symlinks=True)
        metrics = write_reports(results, tmp, dpi=dpi)
        commit_dir(tmp, d)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return metrics


# (label, metrics key path, formatter) rows of the comparison table
_COMPARE_ROWS: list[tuple[str, tuple[str, ...], Any]] = [
    ("strategy", ("strategy",), str),
    ("data", ("dataset",), str),
    ("days", ("days",), lambda x: num(x, 1)),
    ("equity start (quote)", ("equity_start",), money),
    ("equity end (quote)", ("equity_end",), money),
    ("PnL (quote)", ("pnl", "total"), money),
    ("total return (period)", ("total_return",), pct),
    ("APY", ("apy",), pct),
    ("volatility", ("volatility",), pct),
    ("Sharpe", ("sharpe",), num),
    ("Sortino", ("sortino",), num),
    ("Calmar", ("calmar",), num),
    ("max drawdown", ("max_drawdown",), pct),
    ("max drawdown length (days)", ("max_drawdown_days",), lambda x: num(x, 1)),
    ("funding PnL (quote)", ("pnl", "funding"), money),
    ("basis PnL (quote)", ("pnl", "basis"), money),
    ("price PnL (quote)", ("pnl", "price"), money),
    ("fees (quote)", ("pnl", "fees"), money),
    ("slippage (quote)", ("pnl", "slippage"), money),
    ("lending (quote)", ("pnl", "lending"), money),
    ("liquidation (quote)", ("pnl", "liquidation"), money),
    ("funding received (quote)", ("funding_received",), money),
    ("funding paid (quote)", ("funding_paid",), money),
    ("funding capture ratio (−100 … +100 %)", ("funding_capture_ratio",), lambda x: pct(x, 1)),
    ("passive funding benchmark (quote)", ("funding_passive",), money),
    ("time hedged", ("time_hedged",), lambda x: pct(x, 1)),
    ("liquidations", ("liquidations",), str),
    ("fills", ("n_fills",), str),
    ("turnover (x equity / year)", ("turnover",), lambda x: num(x, 1)),
    ("config_id", ("config_id",), lambda x: str(x)[:12]),
]


def _get(m: dict[str, Any], path: tuple[str, ...]) -> Any:
    """A nested metrics value, None when absent."""
    for k in path:
        if not isinstance(m, dict) or k not in m:
            return None
        m = m[k]
    return m


def _labels(dirs: Sequence[Path]) -> list[str]:
    """Short unique labels for runs: the directory name, with its parent when names collide."""
    names = [d.name for d in dirs]
    out = []
    for d, n in zip(dirs, names):
        out.append(f"{d.parent.name}/{n}" if names.count(n) > 1 else n)
    return out


def render_comparison(run_dirs: Sequence[str | Path], out: str | Path, *, dpi: int = 110) -> Path:
    """Write out/report.html (metrics side by side, equity curves on one chart) and out/metrics.json.

    Metrics are recomputed from each run's saved files. `out` follows the --out rule (reports/writers.check_out:
    absent, empty or an earlier comparison) and is replaced whole. Returns the path of the HTML page.
    """
    from basisbt.reports.writers import check_out, replace_whole
    out_dir = Path(out)
    check_out(out_dir, "compare")          # the --out rule, before any run is read
    dirs = [Path(d) for d in run_dirs]
    runs = [load_run(d) for d in dirs]
    from basisbt.reports.metrics import compute_metrics
    mets = [compute_metrics(r) for r in runs]
    labels = _labels(dirs)
    rows = []
    for label, path, fmt in _COMPARE_ROWS:
        cells = []
        for m in mets:
            v = _get(m, path)
            cls = ""
            if isinstance(v, float) and path[0] in ("pnl", "total_return", "apy"):
                cls = "neg" if v < 0 else ("pos" if v > 0 else "")
            text = "–" if v is None else fmt(v)
            if path[0] in ANNUALIZED_KEYS:     # a short window's extrapolations say so in their cell
                text = annualized(m, text)
            cells.append({"text": text, "cls": cls})
        rows.append({"label": label, "cells": cells})
    curves = [(lab, nav_series(r), float(r.initial_equity)) for lab, r in zip(labels, runs)]
    equity_png = png_b64(plots.fig_compare_equity(curves, dpi=dpi), dpi)
    html = environment().get_template("compare.html.j2").render(
        title=f"Comparison of {len(runs)} runs", rows=rows, equity_png=equity_png,
        runs=[{"label": lab, "path": str(d)} for lab, d in zip(labels, dirs)],
        conventions=CONVENTIONS_TEXT)
    metrics = json.dumps(dict(zip(labels, mets)), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)

    def fill(stage: Path) -> None:
        atomic_write_text(stage / "metrics.json", metrics + "\n")
        atomic_write_text(stage / "report.html", html)
    replace_whole(out_dir, "compare", fill)          # written whole, like a run directory
    return out_dir / "report.html"
