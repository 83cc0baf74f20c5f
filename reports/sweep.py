"""A sweep's pictures: a heatmap of one metric over two parameters (PNG) and a small report page (HTML)."""
from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import pandas as pd

from basisbt.data.safe_io import atomic_write, atomic_write_text

TABLE_ROWS = 50
MAX_HEAT_SIDE = 12
SHOWN_METRICS = ("apy", "total_return", "sharpe", "max_drawdown", "liquidations", "funding_capture_ratio",
                 "n_fills")


def heatmap_frame(table: pd.DataFrame, x: str, y: str, metric: str) -> pd.DataFrame:
    """Mean of `metric` per (y, x) pair (over datasets and any other varied parameter): rows y, columns x."""
    ok = table[table["error"].fillna("") == ""] if "error" in table.columns else table
    return ok.pivot_table(index=y, columns=x, values=metric, aggfunc="mean", sort=True)


def heatmap_png(table: pd.DataFrame, x: str, y: str, metric: str, path: Path) -> bytes:
    """Draw the heatmap (matplotlib, Agg) with each cell's value written in it; write it to `path` atomically.
    With more than MAX_HEAT_SIDE distinct values on an axis (a random sample) it is a scatter of the cells."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ok = table[table["error"].fillna("") == ""] if "error" in table.columns else table
    if max(ok[x].nunique(), ok[y].nunique()) > MAX_HEAT_SIDE:     # sampled values: a scatter, not a grid
        fig, ax = plt.subplots(figsize=(6.5, 5))
        sc = ax.scatter(ok[x], ok[y], c=ok[metric].astype(float), cmap="viridis", s=24)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"{metric} per cell")
        fig.colorbar(sc, ax=ax)
        return save_png(fig, path)
    grid = heatmap_frame(table, x, y, metric)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * max(3, grid.shape[1]), 1.2 + 0.6 * max(3, grid.shape[0])))
    im = ax.imshow(grid.to_numpy(dtype=float), cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{metric} (mean over the other inputs)")
    for (i, j), v in pd.DataFrame(grid.to_numpy()).stack(future_stack=True).items():
        if isinstance(v, float) and math.isfinite(v):         # dark text on the bright end of viridis
            ax.text(j, i, f"{v:.4g}", ha="center", va="center", fontsize=8,
                    color="k" if im.norm(v) > 0.6 else "w")
    fig.colorbar(im, ax=ax)
    return save_png(fig, path)


def save_png(fig: Any, path: Path) -> bytes:
    """The figure as PNG bytes, written to `path` atomically; the figure is closed."""
    import io

    import matplotlib.pyplot as plt
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    data = buf.getvalue()
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return data


def write_report(table: pd.DataFrame, out: Path, *, strategy: str, datas: list[str], mode: str, sort: str,
                 axes: list[str], fixed: dict[str, Any], heatmap: bytes | None, heat_axes: tuple[str, str] | None) -> Path:
    """report.html: the sweep's set-up, the heatmap and the best TABLE_ROWS cells (table already sorted)."""
    from basisbt.reports.html import environment
    cols = ["data", *axes, *dict.fromkeys((sort, *SHOWN_METRICS))]
    cols = [c for c in cols if c in table.columns]
    if "error" in table.columns and (table["error"].fillna("") != "").any():
        cols.append("error")
    rows = [[_cell(r[c]) for c in cols] for _, r in table.head(TABLE_ROWS).iterrows()]
    html = environment().get_template("sweep.html.j2").render(
        title=f"Sweep: {strategy}", n_cells=len(table), mode=mode, datas=datas, sort=sort,
        n_errors=int((table["error"].fillna("") != "").sum()) if "error" in table.columns else 0,
        fixed=sorted(fixed.items()), heatmap_png=base64.b64encode(heatmap).decode("ascii") if heatmap else "",
        heat_x=heat_axes[0] if heat_axes else "", heat_y=heat_axes[1] if heat_axes else "",
        heat_note="Each square is the mean over datasets (and any other varied parameter) of the cells with "
                  "that pair of values.", columns=cols, rows=rows)
    path = Path(out) / "report.html"
    atomic_write_text(path, html)
    return path


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:.6g}"
    return str(v)
