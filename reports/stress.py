"""A stress run's pictures and page: fan charts of NAV and backing ratio over paths, the APY histogram, and
the outcome probabilities with their 95 % intervals (report.html)."""
from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from basisbt.data.safe_io import atomic_write_text
from basisbt.reports.stress_summary import OUTCOMES, fan

OUTCOME_TEXT = {"liquidated": "any liquidation", "reserve_out": "reserve fund ran out (below 0)",
                "backing_below_1": "backing ratio below 1", "negative_yield": "negative yield over the horizon"}


def fan_png(table: pd.DataFrame, path: Path) -> bytes:
    """NAV (and backing ratio, when recorded) 5-25-50-75-95 % bands by day, and the APY histogram."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from basisbt.reports.sweep import save_png
    ok = table[table["error"] == ""]
    panels = [("NAV / initial", list(ok["nav_daily"]))]
    if "backing_daily" in ok and any(len(s) for s in ok["backing_daily"]):
        panels.append(("backing ratio", list(ok["backing_daily"])))
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(4.6 * (len(panels) + 1), 3.6))
    for ax, (label, series) in zip(axes, panels):
        q = fan(series)
        days = np.arange(q.shape[1])
        ax.fill_between(days, q[0], q[4], alpha=0.18, color="C0", label="5-95 %")
        ax.fill_between(days, q[1], q[3], alpha=0.35, color="C0", label="25-75 %")
        ax.plot(days, q[2], color="C0", lw=1.6, label="median")
        if label == "backing ratio":
            ax.axhline(1.0, color="C3", lw=0.8, ls="--")
        ax.set_title(f"{label} across {len(series)} paths")
        ax.set_xlabel("day")
        ax.legend(loc="best", fontsize=8)
    apy = ok["apy"].dropna().to_numpy()
    axes[-1].hist(apy * 100.0, bins=min(40, max(5, apy.size // 5)), color="C2")
    axes[-1].axvline(0.0, color="k", lw=0.8)
    axes[-1].set_title("APY per path (%)")
    return save_png(fig, path)


def write_report(table: pd.DataFrame, summary: dict[str, Any], out: Path, *, strategy: str, params: dict[str, Any],
                 model: dict[str, Any], seed: int, source: str, fan_bytes: bytes, run: dict[str, Any] | None = None
                 ) -> Path:
    """report.html of one stress run."""
    from basisbt.reports.html import environment
    rows = []
    for k in OUTCOMES:
        o = summary[k]
        rows.append([OUTCOME_TEXT[k], f"{o['paths']} / {summary['paths'] - summary['paths_failed']}",
                     _pct(o["p"]), f"{_pct(o['ci95'][0])} – {_pct(o['ci95'][1])}"])
    apy = summary.get("apy") or {}
    html = environment().get_template("stress.html.j2").render(
        title=f"Stress: {strategy}", n_paths=summary["paths"], failed=summary["paths_failed"], seed=seed,
        source=source, params=sorted(params.items()), run=sorted((run or {}).items()), model=sorted(model.items()), rows=rows,
        apy=[(k, _pct(apy[k])) for k in ("p5", "p25", "median", "p75", "p95", "mean") if k in apy],
        apy_ci=f"{_pct(apy['mean_ci95'][0])} – {_pct(apy['mean_ci95'][1])}" if apy else "n/a",
        fan_png=base64.b64encode(fan_bytes).decode("ascii"))
    path = Path(out) / "report.html"
    atomic_write_text(path, html)
    return path


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100.0 * x:.2f} %"
