"""Sweeps: many metrics-only runs over a grid or a random sample of a strategy's declared parameters and over
datasets, on local processes or a Dask cluster; resumable (basisbt/batch/sweep_store.py).

A sweep is a list of RunSpecs (basisbt/batch/sweep_plan.py), one per cell, each run by the one executor with
frames=False, so a cell's metrics are those of `basisbt run` on the same inputs whichever backend ran it.
Workers keep what the cells share (a dataset by its source string, never a pickled frame; a strategy class)
in their process's Memo; numba kernels load from the on-disk cache once per worker.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from basisbt.batch.backends import check_scheduler, run_jobs
from basisbt.batch.execute import Memo, execute, prepare
from basisbt.batch.sweep_plan import SweepError, SweepPlan
from basisbt.batch.sweep_store import BATCH_S, CELL_DIR, METRIC_COLUMNS, collect, missing_cells, write_cells
from basisbt.data.errors import ConfigError

WORKER = Memo()          # per process: what this worker's cells share (datasets, strategy classes)


def run_cell(job: dict[str, Any]) -> dict[str, Any]:
    """Run one cell metrics-only and return its table row (varied params, flat metrics, the whole metrics
    as JSON; `error` when the run itself failed: shown in the table, not stored, so a rerun tries it again).
    Ctrl-C is not a failure of the cell: it propagates and the cell stays missing."""
    from basisbt.engine.runner import StrategyError
    from basisbt.reports.metrics import compute_metrics
    t0 = time.perf_counter()
    spec = job["spec"]
    row: dict[str, Any] = {"cell": job["id"], "data": job["data"]}
    row.update({k: spec.params[k] for k in job["axes"]})
    try:
        m = compute_metrics(execute(spec, frames=False, memo=WORKER))
        row.update(flat_metrics(m))
        row["metrics"] = json.dumps(m, sort_keys=True)
        row["error"] = ""
    except (ConfigError, StrategyError, ValueError) as e:
        row.update({k: math.nan for k in METRIC_COLUMNS})
        row["metrics"] = "{}"
        row["error"] = f"{type(e).__name__}: {e}"[:500]
    row["run_s"] = time.perf_counter() - t0
    return row


def check_runs(plan: SweepPlan) -> None:
    """SweepError, before any cell runs, for what would fail every cell alike: each --data is loaded (and kept
    for cells run in this process) and an Engine is built on it with its first cell's parameters, which checks
    the date window, the timeframe, the bars and the strategy against the data (`basisbt run`'s checks)."""
    from basisbt.engine.runner import StrategyError
    for data in plan.datas:
        cell = next(c for c in plan.cells if c.data == data)
        try:
            prepare(plan.spec(cell), memo=WORKER)
        except (StrategyError, ValueError) as e:        # ConfigError, DataError, MarketError... are ValueErrors
            raise SweepError(f"--data {data}: {e}") from None


def run_cells(chunk: dict[str, Any]) -> dict[str, Any]:
    """Several cells in one task (a chunk of jobs): a task costs the backend milliseconds to schedule and
    ship, about a cell's whole run on a sweep of one-year hourly runs."""
    return {"rows": [run_cell(job) for job in chunk["cells"]]}


def chunked(batch: list[dict[str, Any]], n_jobs: int, most: int = 16) -> list[dict[str, Any]]:
    """`batch` in chunks of up to `most` cells, at least four chunks per worker so none waits idle at the end."""
    size = max(1, min(most, len(batch) // max(4 * n_jobs, 1)))
    return [{"id": batch[k]["id"] + (f"+{len(batch[k:k + size]) - 1}" if size > 1 else ""),
             "cells": batch[k:k + size]} for k in range(0, len(batch), size)]


def flat_metrics(m: dict[str, Any]) -> dict[str, float]:
    """METRIC_COLUMNS of a metrics dict as floats (NaN where missing or null)."""
    flat = dict(m)
    flat.update({f"pnl_{k}": v for k, v in (m.get("pnl") or {}).items()})
    flat.update(m.get("synthetic_dollar") or {})
    return {k: math.nan if flat.get(k) is None else float(flat[k]) for k in METRIC_COLUMNS}


def run_sweep(plan: SweepPlan, out: str | os.PathLike, *, jobs: int | None = None, scheduler: str | None = None,
              max_cells: int | None = None, on_row: Callable[[dict[str, Any]], None] | None = None,
              processes: bool = True) -> pd.DataFrame:
    """Run the plan's missing cells (at most `max_cells` of them), storing each finished one as it comes, and
    return the table of every stored cell plus the cells that failed this time (a failure is shown, not stored:
    a rerun tries it again). `out` follows the --out rule (reports/writers.check_out): absent, empty or an
    earlier sweep. `scheduler` None = local processes (`jobs`, default: all cores). Ctrl-C stops it; what
    finished is stored, the interrupted cells stay missing."""
    from basisbt.reports.writers import check_out
    check_scheduler(scheduler)
    out = Path(out)
    check_out(out, "sweep")
    todo = missing_cells(plan, out)
    if max_cells is not None:
        todo = todo[:max_cells]
    n_jobs = jobs or os.cpu_count() or 1
    batch = [plan.job(c) for c in todo]
    done = run_jobs(run_cells, chunked(batch, n_jobs), n_jobs, scheduler, processes)
    pending: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    flushed = time.perf_counter()
    try:
        for row in (r for chunk in done for r in chunk["rows"]):
            (failed if row["error"] else pending).append(row)
            if on_row is not None:
                on_row(row)
            if time.perf_counter() - flushed >= BATCH_S:
                write_cells(out, pending)
                pending, flushed = [], time.perf_counter()
    finally:                                    # an error or Ctrl-C still stores what finished
        done.close()                            # and stops the workers at once
        write_cells(out, pending)
    return collect(plan, out, failed)


def publish(plan: SweepPlan, out: Path, write_views: Callable[[Path], Any]) -> Any:
    """Replace the sweep directory whole, as a run directory is (reports/writers.replace_whole): its stored
    cells, sweep.json and whatever write_views(stage) writes (results, heatmap, report) appear together."""
    from basisbt.reports.writers import replace_whole

    def fill(stage: Path) -> Any:
        write_manifest(plan, stage)
        return write_views(stage)
    return replace_whole(Path(out), "sweep", fill, keep=(CELL_DIR,))


def write_manifest(plan: SweepPlan, out: Path) -> None:
    """sweep.json: what the sweep is (strategy, data, axes, fixed params, run keys, cell ids)."""
    from basisbt.data.safe_io import atomic_write_text
    doc = {"strategy": plan.strategy, "datas": list(plan.datas), "mode": plan.mode, "axes": list(plan.axes),
           "fixed": plan.fixed, "run": plan.run, "timeframe": plan.timeframe,
           "cells": [{"id": c.id, "data": c.data, "params": dict(c.params)} for c in plan.cells]}
    atomic_write_text(out / "sweep.json", json.dumps(doc, indent=1, default=str) + "\n")


def sort_table(table: pd.DataFrame, by: str, ascending: bool = False) -> pd.DataFrame:
    """The table sorted by a metric or parameter column (best first: descending unless `ascending`),
    ties and NaN last, then by cell id so the order never depends on which cell finished first."""
    if by not in table.columns:
        raise SweepError(f"--sort {by!r}: not a column; valid: {', '.join(sort_keys())}")
    return table.sort_values([by, "cell"], ascending=[ascending, True], na_position="last",
                             kind="mergesort").reset_index(drop=True)


def sort_keys(axes: Iterable[str] = ()) -> list[str]:
    """What --sort accepts: the metric columns and the varied parameters."""
    return [*METRIC_COLUMNS, *axes]


def write_table(table: pd.DataFrame, out: Path) -> tuple[Path, Path]:
    """results.parquet and results.csv (the whole metrics JSON stays in the parquet only), atomically."""
    from basisbt.data.safe_io import atomic_write
    pq, csv = Path(out) / "results.parquet", Path(out) / "results.csv"
    atomic_write(pq, lambda tmp: table.to_parquet(tmp, index=False))
    atomic_write(csv, lambda tmp: table.drop(columns=["metrics"], errors="ignore").to_csv(tmp, index=False))
    return pq, csv
