"""A sweep's store: parquet files of finished cells under `<out>/cells/`, so a rerun runs only what is missing.

Cells are stored in small batches (what finished in the last BATCH_S seconds), each file written atomically:
a killed sweep loses at most that long of work and never leaves a torn file. One file per cell cost the
parent process ~10 ms a cell, a quarter of a core at 40 cells/s (docs/bench.md, case g).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from basisbt.batch.sweep_plan import Cell, SweepPlan

CELL_DIR = "cells"
# The scalar metrics a sweep table keeps (metrics.json keys; pnl parts flattened to pnl_<part>,
# synthetic_dollar keys to their own names). The whole metrics dict is kept too, as JSON, in `metrics`.
METRIC_COLUMNS = (
    "apy", "total_return", "sharpe", "sortino", "calmar", "volatility", "max_drawdown", "max_drawdown_days",
    "equity_start", "equity_end", "net_flows", "pnl_total", "pnl_funding", "pnl_basis", "pnl_price", "pnl_fees",
    "pnl_slippage", "pnl_lending", "pnl_liquidation", "funding_captured", "funding_received", "funding_paid",
    "funding_capture_ratio", "funding_passive", "liquidations", "liquidation_cost", "insurance_loss",
    "time_hedged", "n_fills", "traded_notional", "turnover", "fees_paid", "slippage_paid",
    "orders_rejected_total", "days", "bars", "backing_ratio_min", "reserve_fund_min", "reserve_fund_end",
    "staker_apy",
)
BATCH_S = 0.5


def cell_path(out: Path, cid: str) -> Path:
    """Where a batch whose first cell is `cid` is stored (a batch of one: that cell's own file)."""
    return Path(out) / CELL_DIR / f"{cid}.parquet"


def write_cells(out: Path, rows: list[dict[str, Any]]) -> None:
    """Store finished cells as one parquet file, atomically (temp file, then rename): whole cells only.
    The first write into a new directory marks it as a sweep (.basisbt), so a rerun may resume it."""
    from basisbt.data.safe_io import atomic_write
    from basisbt.reports.writers import mark_out, out_kind
    if not rows:
        return
    path = cell_path(out, rows[0]["cell"] if len(rows) == 1 else f"{rows[0]['cell']}+{len(rows) - 1}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if out_kind(Path(out)) != "sweep":
        mark_out(Path(out), "sweep")
    frame = pd.DataFrame(rows)
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def stored_files(out: Path) -> list[Path]:
    """The finished-cell files of a sweep directory (temporary files of an interrupted write excluded)."""
    return sorted((Path(out) / CELL_DIR).glob("*.parquet"))


def _stored(out: Path, columns: list[str] | None = None) -> pd.DataFrame | None:
    frames = [pd.read_parquet(f, columns=columns) for f in stored_files(out)]
    return pd.concat(frames, ignore_index=True) if frames else None


def missing_cells(plan: SweepPlan, out: Path) -> list[Cell]:
    """The plan's cells with no stored result yet."""
    got = _stored(out, ["cell"])
    done = set() if got is None else set(got["cell"])
    return [c for c in plan.cells if c.id not in done]


def collect(plan: SweepPlan, out: Path, failed: Iterable[dict[str, Any]] = ()) -> pd.DataFrame:
    """The stored rows of the plan's cells and the rows of cells that failed in this run (in plan order), as
    one table."""
    got = _stored(out)
    frames = [f for f in (got, pd.DataFrame(list(failed)) if failed else None) if f is not None]
    if not frames:
        return pd.DataFrame(columns=["cell", "data", *plan.axes, *METRIC_COLUMNS, "metrics", "error", "run_s"])
    got = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    order = {c.id: k for k, c in enumerate(plan.cells)}
    got = got[got["cell"].isin(order)].drop_duplicates("cell")
    got = got.iloc[np.argsort([order[c] for c in got["cell"]], kind="stable")]
    return got.reset_index(drop=True)
