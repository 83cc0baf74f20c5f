"""Sweeps: many metrics-only runs over a grid or a random sample of a strategy's declared parameters and
over datasets, on local processes or a Dask cluster; resumable, one parquet file per finished cell.

A cell is (data, parameters); its id is a hash of the strategy, data, parameters and run keys, so a rerun
of the same sweep finds the cells already written under `<out>/cells/<id>.parquet` and runs only the rest.
Workers load each dataset once (by its `--data` string: scenario name, cache or TOML path, never a pickled
frame) and keep it for every later cell; numba kernels load from the on-disk cache once per worker. A cell
runs with frames=False, so its metrics are those of `basisbt run` on the same inputs whichever backend ran it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import random
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from basisbt.data.errors import DataError
from basisbt.engine.config import ConfigError, RunConfig, build_dataclass, coerce, did_you_mean

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
CELL_DIR = "cells"
# A plan lists every cell (its id is how a rerun knows what is stored): 100,000 cells take ~2.5 s and ~200 MB
# to plan. A bigger sweep is refused before anything is drawn or allocated; split it into several --out.
MAX_CELLS = 100_000


class SweepError(ConfigError):
    """A sweep we cannot run as asked (bad grid, range, sort key...): one line, exit 2."""


@dataclass(frozen=True)
class Cell:
    """One run of the sweep: a dataset and the varied parameters (the fixed ones live in the plan)."""

    id: str
    data: str
    params: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class SweepPlan:
    """Everything a sweep runs: the strategy, fixed parameters, run keys, the varied axes and the cells."""

    strategy: str
    datas: tuple[str, ...]
    axes: tuple[str, ...]                      # varied parameter names, in table order
    fixed: dict[str, Any]
    run: dict[str, Any]
    timeframe: str | None
    cache_dir: str | None
    cells: tuple[Cell, ...]
    mode: str                                  # 'grid' or 'samples N seed S'
    venues_dirs: tuple[str, ...] = ()          # --venues-dir, searched before $BASISBT_VENUES and the built-ins
    timeout: float | None = None               # seconds a strategy call may run (RunConfig.timeout; not in cell ids)

    def job(self, cell: Cell) -> dict[str, Any]:
        """What a worker needs for one cell: small and picklable (names and numbers, no frames)."""
        return {"id": cell.id, "strategy": self.strategy, "data": cell.data, "params": {**self.fixed, **dict(cell.params)},
                "axes": list(self.axes), "run": dict(self.run), "timeframe": self.timeframe, "cache_dir": self.cache_dir,
                "venues": list(self.venues_dirs), "timeout": self.timeout}


# -- planning ---------------------------------------------------------------------------------------------
def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls.Params)}


def _check_value(cls: type, f: dataclasses.Field, raw: Any, option: str) -> Any:
    """A grid value coerced to the parameter's type and checked against its choices and bounds."""
    from basisbt.engine.config import check_range
    from basisbt.strategies.base import param_range
    try:
        value = coerce(raw, f.type, f"{option} {f.name}")
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{f.name} = {value!r} is not allowed; valid: {param_range(f)}")
        check_range(f.name, value, **(f.metadata.get("bounds") or {}))
    except ConfigError as e:
        raise SweepError(f"{option}: {cls.name}: {e}") from None
    return value


def parse_grid(cls: type, items: Iterable[str]) -> dict[str, list[Any]]:
    """`param=v1,v2,...` strings as {param: [values]}, each value of the declared type and in range."""
    fields = _fields(cls)
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise SweepError(f"--grid {item!r}: expected param=v1,v2,..., e.g. --grid leverage=2,3,5")
        name, _, values = (s.strip() for s in item.partition("="))
        if name not in fields:
            raise SweepError(f"--grid {name!r}: {cls.name} has no such parameter{did_you_mean(name, list(fields))}; "
                             f"valid: {', '.join(fields)}")
        if name in grid:
            raise SweepError(f"--grid {name}: given twice; list all its values in one --grid {name}=a,b,c")
        raw = [v.strip() for v in values.split(",") if v.strip()]
        if not raw:
            raise SweepError(f"--grid {name}=: no values; give at least one, e.g. --grid {name}=a,b")
        vals = [_check_value(cls, fields[name], v, "--grid") for v in raw]
        if len(set(map(repr, vals))) < len(vals):
            raise SweepError(f"--grid {name}: a value is listed twice ({values.strip()})")
        grid[name] = vals
    return grid


def sampleable(f: dataclasses.Field) -> bool:
    """A parameter a random sample can draw: choices, a bool, or a number with both bounds."""
    b = f.metadata.get("bounds") or {}
    return bool(f.metadata.get("choices")) or f.type in ("bool", bool) or (
        f.type in ("float", "int", float, int) and ("ge" in b or "gt" in b) and ("le" in b or "lt" in b))


def sample_params(cls: type, names: list[str], n: int, seed: int) -> list[dict[str, Any]]:
    """`n` draws over the declared ranges of `names` (uniform; ints inclusive; choices and bools equally likely)."""
    fields = _fields(cls)
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        draw: dict[str, Any] = {}
        for name in names:
            f = fields[name]
            b = f.metadata.get("bounds") or {}
            if f.metadata.get("choices"):
                draw[name] = rng.choice(list(f.metadata["choices"]))
            elif f.type in ("bool", bool):
                draw[name] = rng.random() < 0.5
            else:
                lo, hi = b.get("ge", b.get("gt")), b.get("le", b.get("lt"))
                if f.type in ("int", int):
                    lo_i = math.ceil(lo) + (1 if "gt" in b and float(lo).is_integer() else 0)
                    hi_i = math.floor(hi) - (1 if "lt" in b and float(hi).is_integer() else 0)
                    draw[name] = rng.randint(lo_i, hi_i)
                else:
                    x = rng.uniform(lo, hi)
                    while ("gt" in b and x <= lo) or ("lt" in b and x >= hi):   # open bounds: draw again
                        x = rng.uniform(lo, hi)
                    draw[name] = round(x, 12)
        out.append(draw)
    return out


def cell_id(strategy: str, data: str, params: dict[str, Any], run: dict[str, Any], timeframe: str | None,
            venues: str = "") -> str:
    """A stable id of one cell's inputs (first 16 hex digits of a sha256): equal inputs, equal id. `venues` is
    the fingerprint of the venue set the cells run with (a changed venue file reruns them)."""
    blob = json.dumps({"strategy": strategy, "data": data, "params": params, "run": run, "timeframe": timeframe,
                       "venues": venues}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan_sweep(strategy: str, datas: list[str], *, grid: list[str] = (), samples: int | None = None,  # type: ignore[assignment]
               seed: int = 0, vary: list[str] | None = None, fixed: dict[str, str] | None = None,
               run: dict[str, Any] | None = None, timeframe: str | None = None,
               cache_dir: str | None = None, venues_dirs: tuple[str, ...] = (),
               timeout: float | None = None) -> SweepPlan:
    """Check a sweep's inputs and list its cells (grid: every combination; samples: N seeded draws),
    each cell's parameters validated by building the strategy. SweepError names the first bad input."""
    from basisbt.strategies.registry import load_strategy_class
    try:
        cls = load_strategy_class(strategy)
    except (ConfigError, ValueError) as e:
        raise SweepError(str(e)) from None
    fields = _fields(cls)
    datas = list(dict.fromkeys(datas or ["scenario:feb-2025-crash"]))
    for data in datas:
        check_data(data)
    fixed_vals: dict[str, Any] = {}
    for k, v in (fixed or {}).items():
        if k not in fields:
            raise SweepError(f"--set {k!r}: {cls.name} has no such parameter{did_you_mean(k, list(fields))}; "
                             f"valid: {', '.join(fields)}")
        fixed_vals[k] = _check_value(cls, fields[k], v, "--set")
    run = dict(run or {})
    try:
        build_dataclass(RunConfig, {**run, **({"timeout": timeout} if timeout is not None else {})}, "run config key")
        venues_key = worker_venues(tuple(venues_dirs)).fingerprint()
    except (ConfigError, DataError) as e:
        raise SweepError(str(e)) from None
    if samples is not None and grid:
        raise SweepError("give either --grid or --samples (with --vary to choose what is drawn), not both")
    if samples is None:
        if vary:
            raise SweepError("--vary goes with --samples; a grid varies the parameters its --grid options name")
        axes_vals = parse_grid(cls, grid)
        size = math.prod(len(v) for v in axes_vals.values()) * len(datas)
        if size > MAX_CELLS:
            raise SweepError(f"--grid: {' x '.join(str(len(v)) for v in axes_vals.values())} values x "
                             f"{len(datas)} dataset(s) = {size:,} cells, above the {MAX_CELLS:,} a sweep takes; "
                             f"use fewer values, or split the sweep over several --out directories")
        both = sorted(set(axes_vals) & set(fixed_vals))
        if both:
            raise SweepError(f"--set {both[0]} and --grid {both[0]}: a parameter is either fixed or varied")
        names = list(axes_vals)
        combos: list[dict[str, Any]] = [{}]
        for name in names:
            combos = [{**c, name: v} for c in combos for v in axes_vals[name]]
        mode = "grid"
    else:
        if samples < 1:
            raise SweepError(f"--samples {samples}: need at least 1")
        if samples * len(datas) > MAX_CELLS:
            raise SweepError(f"--samples {samples:,} x {len(datas)} dataset(s) is above the {MAX_CELLS:,} cells a "
                             f"sweep takes; draw fewer, or run several --seed values into separate --out directories")
        if vary:
            names = list(dict.fromkeys(vary))
            for name in names:
                if name not in fields:
                    raise SweepError(f"--vary {name!r}: {cls.name} has no such parameter"
                                     f"{did_you_mean(name, list(fields))}; valid: {', '.join(fields)}")
                if not sampleable(fields[name]):
                    raise SweepError(f"--vary {name}: no declared range to draw from (needs choices, a bool, or "
                                     f"both bounds); list its values with --grid {name}=a,b instead")
                if name in fixed_vals:
                    raise SweepError(f"--set {name} and --vary {name}: a parameter is either fixed or varied")
        else:
            names = [k for k, f in fields.items() if sampleable(f) and k not in fixed_vals]
            if not names:
                raise SweepError(f"--samples: {cls.name} declares no parameter with a range to draw from")
        combos = sample_params(cls, names, samples, seed)
        mode = f"samples {samples} seed {seed}"
    cells = []
    seen = set()
    for data in datas:
        for combo in combos:
            params = {**fixed_vals, **combo}
            try:
                cls(**params)
            except ConfigError as e:
                raise SweepError(f"cell {data} {_fmt(combo)}: {e}") from None
            cid = cell_id(cls.name, data, params, run, timeframe, venues_key)
            if cid in seen:
                continue                        # a sample drawn twice (a small choice space) runs once
            seen.add(cid)
            cells.append(Cell(cid, data, tuple(combo.items())))
    if not cells:
        raise SweepError("the sweep has no cells")
    return SweepPlan(strategy=strategy, datas=tuple(datas), axes=tuple(names), fixed=fixed_vals, run=run,
                     timeframe=timeframe, cache_dir=cache_dir, cells=tuple(cells), mode=mode,
                     venues_dirs=tuple(venues_dirs), timeout=timeout)


def check_data(data: str) -> None:
    """SweepError for a --data that names nothing, found before any cell runs: an unknown scenario, a dataset
    TOML that is not there, or a form --data does not take (cache contents are the workers' to read)."""
    from basisbt.data.scenarios import _MODULES, real
    from basisbt.data.sources import FORMS
    if data.startswith("scenario:"):
        name = data.split(":", 1)[1]
        names = [*_MODULES, *real.BY_NAME]
        if name not in names:
            raise SweepError(f"--data {data}: unknown scenario{did_you_mean(name, names)}; valid: {', '.join(names)}")
    elif data.endswith(".toml"):
        if not Path(data).is_file():
            raise SweepError(f"--data {data}: no such dataset TOML")
    elif not (data == "cache" or data.startswith("cache:")):
        raise SweepError(f"--data {data!r}: {FORMS}")


def _fmt(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"


# -- one cell, in a worker --------------------------------------------------------------------------------
_DATA: dict[tuple[str, str | None, str | None], Any] = {}     # per worker process: datasets by --data string
_CLASSES: dict[str, type] = {}                                  # and strategy classes by --strategy


def worker_dataset(data: str, timeframe: str | None, cache_dir: str | None) -> Any:
    """The Dataset a `--data` string names, loaded once per worker process and kept (its fingerprint too)."""
    key = (data, timeframe, cache_dir)
    ds = _DATA.get(key)
    if ds is None:
        from basisbt.data.sources import resolve_data
        ds = _DATA[key] = resolve_data(data, timeframe=timeframe, cache_dir=cache_dir)
    return ds


_VENUES: dict[tuple[str, ...], Any] = {}                        # and venue sets by --venues-dir


def worker_venues(dirs: tuple[str, ...]) -> Any:
    """The VenueSet of `--venues-dir` directories (then $BASISBT_VENUES, the built-ins), once per worker process."""
    vs = _VENUES.get(dirs)
    if vs is None:
        from basisbt.data.venues import VenueSet
        vs = _VENUES[dirs] = VenueSet(list(dirs))
    return vs


def worker_strategy(name: str) -> type:
    """The strategy class a `--strategy` string names, loaded once per worker process (a path.py:Class is
    imported once, not once per cell or path)."""
    cls = _CLASSES.get(name)
    if cls is None:
        from basisbt.strategies.registry import load_strategy_class
        cls = _CLASSES[name] = load_strategy_class(name)
    return cls


def warm() -> None:
    """Import the engine and load (or compile) its kernels with a two-day run: a worker pool's forkserver
    does it once and its workers inherit the result."""
    import basisbt.reports.metrics  # noqa: F401
    from basisbt.data.scenarios import load_scenario
    from basisbt.engine.runner import run_backtest
    from basisbt.strategies.registry import builtin_strategies
    ds = load_scenario("feb-2025-crash", "1h")
    run_backtest(builtin_strategies()["perp_short"](), ds, RunConfig(end="2025-02-03"), frames=False).metrics()


def run_cell(job: dict[str, Any]) -> dict[str, Any]:
    """Run one cell metrics-only and return its table row (varied params, flat metrics, the whole metrics
    as JSON; `error` when the run itself failed: shown in the table, not stored, so a rerun tries it again).
    Ctrl-C is not a failure of the cell: it propagates and the cell stays missing."""
    from basisbt.engine.runner import StrategyError, run_backtest
    t0 = time.perf_counter()
    row: dict[str, Any] = {"cell": job["id"], "data": job["data"]}
    row.update({k: job["params"][k] for k in job["axes"]})
    cls = worker_strategy(job["strategy"])
    try:
        ds = worker_dataset(job["data"], job["timeframe"], job["cache_dir"])
        res = run_backtest(cls(**job["params"]), ds, job_config(job), data_label=job["data"], frames=False,
                           venues=worker_venues(tuple(job.get("venues", ()))))
        m = res.metrics()
        row.update(flat_metrics(m))
        row["metrics"] = json.dumps(m, sort_keys=True)
        row["error"] = ""
    except (ConfigError, StrategyError, ValueError) as e:
        row.update({k: math.nan for k in METRIC_COLUMNS})
        row["metrics"] = "{}"
        row["error"] = f"{type(e).__name__}: {e}"[:500]
    row["run_s"] = time.perf_counter() - t0
    return row


def job_config(job: dict[str, Any]) -> RunConfig:
    """The RunConfig of a cell: the sweep's run keys and its time limit."""
    run = dict(job["run"])
    if job.get("timeout") is not None:
        run["timeout"] = job["timeout"]
    return build_dataclass(RunConfig, run, "run config key")


def check_runs(plan: SweepPlan) -> None:
    """SweepError, before any cell runs, for what would fail every cell alike: each --data is loaded (and kept
    for cells run in this process) and an Engine is built on it with its first cell's parameters, which checks
    the date window, the timeframe, the bars and the strategy against the data (`basisbt run`'s checks)."""
    from basisbt.engine.runner import Engine, StrategyError
    for data in plan.datas:
        cell = next(c for c in plan.cells if c.data == data)
        job = plan.job(cell)
        try:
            ds = worker_dataset(data, plan.timeframe, plan.cache_dir)
            Engine(worker_strategy(plan.strategy)(**job["params"]), ds, job_config(job), data_label=data,
                   venues=worker_venues(plan.venues_dirs))
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


# -- the store: parquet files of finished cells ------------------------------------------------------------
# Cells are stored in small batches (what finished in the last BATCH_S seconds), each file written atomically:
# a killed sweep loses at most that long of work and never leaves a torn file. One file per cell cost the
# parent process ~10 ms a cell, a quarter of a core at 40 cells/s (docs/bench.md, case g).
BATCH_S = 0.5


def cell_path(out: Path, cid: str) -> Path:
    """Where a batch whose first cell is `cid` is stored (a batch of one: that cell's own file)."""
    return Path(out) / CELL_DIR / f"{cid}.parquet"


def write_cell(out: Path, row: dict[str, Any]) -> None:
    """Store one finished cell atomically (temp file, then rename)."""
    write_cells(out, [row])


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


def collect(plan: SweepPlan, out: Path, failed: list[dict[str, Any]] = ()) -> pd.DataFrame:  # type: ignore[assignment]
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


# -- backends ---------------------------------------------------------------------------------------------
def run_jobs(fn: Callable[[dict[str, Any]], dict[str, Any]], jobs: list[dict[str, Any]], n_jobs: int,
             scheduler: str | None = None, processes: bool = True) -> Generator[dict[str, Any], None, None]:
    """fn(job) for every job, yielded as they finish: on `n_jobs` local processes (scheduler None) or a Dask
    cluster. The backend of sweeps (fn = run_cell) and stress runs (engine/stress.run_chunk); `fn` must be a
    module-level function so workers can import it."""
    if scheduler is None:
        return _run_local(fn, jobs, n_jobs)
    return _run_dask(fn, jobs, scheduler, n_jobs, processes)


def _run_local(fn: Callable[[dict[str, Any]], dict[str, Any]], jobs: list[dict[str, Any]],
               n_jobs: int) -> Generator[dict[str, Any], None, None]:
    """Results as jobs finish, on `n_jobs` worker processes (in this process when 1)."""
    if n_jobs <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield fn(job)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from basisbt.engine.workers import die_with_parent, stop_pool
    # forkserver: workers fork from a clean server that imported this module once (not from a parent with
    # a progress-bar thread running); each worker then keeps its datasets and loaded kernels for all its cells.
    # Workers ignore Ctrl-C and die with this process (engine/workers.py); on Ctrl-C, an error or the caller
    # closing this generator they are terminated, not waited for.
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["basisbt.engine.sweep_preload"])
    pool = ProcessPoolExecutor(max_workers=min(n_jobs, len(jobs)), mp_context=ctx, initializer=die_with_parent,
                               initargs=(os.getpid(),))
    try:
        futures = [pool.submit(fn, job) for job in jobs]
        for fut in as_completed(futures):
            yield fut.result()
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _run_dask(fn: Callable[[dict[str, Any]], dict[str, Any]], jobs: list[dict[str, Any]], scheduler: str,
              n_jobs: int, processes: bool) -> Generator[dict[str, Any], None, None]:
    """Results as jobs finish on a Dask cluster: `scheduler` tcp://HOST:PORT, or 'local' for a LocalCluster."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as e:                   # pragma: no cover - dask is a dependency
        raise SweepError(f"--scheduler needs dask.distributed ({e})") from None
    cluster = None
    if scheduler == "local":
        import dask.config
        # our own cluster's workers run like the local pool's: no sampling profiler walking the task's stack
        # every 10 ms, and glibc's own malloc trimming (the nanny's MALLOC_TRIM_THRESHOLD_=64 KiB hands freed
        # memory back to the OS after every cell, and the next cell faults it in again)
        env = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
        with dask.config.set({"distributed.worker.profile.enabled": False,
                              "distributed.admin.system-monitor.gil.enabled": False,
                              "distributed.nanny.pre-spawn-environ": env}), _sigint_ignored():
            # worker processes start with Ctrl-C ignored (an ignored signal stays ignored across exec), so Ctrl-C
            # stops the sweep here, once, instead of printing a traceback from every worker
            cluster = LocalCluster(n_workers=max(1, n_jobs), threads_per_worker=1, processes=processes,
                                   dashboard_address=None)
        client = Client(cluster)
    else:
        check_scheduler(scheduler)
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as e:
            raise SweepError(f"--scheduler {scheduler}: cannot connect ({e})") from None
    try:
        if jobs:
            client.run(warm)                   # every worker loads the engine and kernels once, in parallel
        futures = [client.submit(fn, job, key=f"basisbt-{fn.__name__}-{job['id']}", pure=False) for job in jobs]
        for fut in as_completed(futures):
            yield fut.result()
    except BaseException:
        if cluster is not None:                 # stopped (Ctrl-C, an error): our workers cancel their tasks quietly
            with contextlib.suppress(Exception):
                client.run(_quiet_worker)
        raise
    finally:
        client.close()
        if cluster is not None:
            import logging
            nanny = logging.getLogger("distributed.nanny")
            level = nanny.level
            nanny.setLevel(logging.ERROR)        # "worker still alive after 4 s, killing" on a busy machine
            try:
                cluster.close()
            finally:
                nanny.setLevel(level)


def _quiet_worker() -> None:
    """In a Dask worker: no warning for each task cancelled when the sweep stops."""
    import logging
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this process while the block runs (main thread only; elsewhere a no-op)."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def check_scheduler(scheduler: str | None) -> None:
    """SweepError unless `scheduler` is None, 'local' or a Dask address (tcp://HOST:PORT...)."""
    if scheduler is not None and scheduler != "local" and \
            not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
        raise SweepError(f"--scheduler {scheduler!r}: expected tcp://HOST:PORT or 'local'")


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
