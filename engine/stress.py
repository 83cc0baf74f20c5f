"""Monte Carlo stress: one strategy over many generated market paths, and what fraction of them go wrong.

Each path is drawn by data/stress/model.py from (seed, path index) inside the worker, so no data travels:
a worker gets a chunk of path indices and returns one small row per path (outcomes, APY, daily NAV and
backing ratio for the fan charts). Paths run metrics-only (`frames=False`). The backends are the sweep's:
local processes (`jobs`) or a Dask cluster (`scheduler`), with identical rows whichever ran them.

Outcomes per path: `liquidated` (any liquidation), `reserve_out` (the reserve fund went below zero:
synthetic_dollar only), `backing_below_1` (synthetic_dollar), `negative_yield` (NAV at the end below the
start: the horizon's yield was negative). Probabilities come with Wilson 95 % intervals, which narrow as
1/sqrt(paths).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from basisbt.data.stress.model import StressModel

OUTCOMES = ("liquidated", "reserve_out", "backing_below_1", "negative_yield")
Z95 = 1.959963984540054


@dataclass(frozen=True)
class StressPlan:
    """What to stress: a strategy with parameters, the path model, how many paths from which seed."""

    strategy: str
    params: dict[str, Any]
    model: StressModel
    paths: int
    seed: int = 0
    run: dict[str, Any] = field(default_factory=dict)         # RunConfig keys (initial_capital, decide, ...)
    history: str | None = None                                # a --data string: bootstrap its funding
    chunk: int = 10                                           # paths per job
    venues_dirs: tuple[str, ...] = ()                         # --venues-dir (then $BASISBT_VENUES, the built-ins)

    def jobs(self) -> list[dict[str, Any]]:
        """Jobs of `chunk` consecutive path indices; plain data, so any backend can ship them."""
        base = {"strategy": self.strategy, "params": dict(self.params), "model": self.model.as_dict(),
                "seed": self.seed, "run": dict(self.run), "history": self.history, "venues": list(self.venues_dirs)}
        return [{**base, "id": f"paths-{a}", "paths": list(range(a, min(a + self.chunk, self.paths)))}
                for a in range(0, self.paths, self.chunk)]


_HISTORY: dict[str, Any] = {}


def _history(source: str | None) -> Any:
    """The FundingHistory of a --data string, loaded once per worker process."""
    if source is None:
        return None
    if source not in _HISTORY:
        from basisbt.data.sources import resolve_data
        from basisbt.data.stress.bootstrap import FundingHistory
        _HISTORY[source] = FundingHistory.from_dataset(resolve_data(source))
    return _HISTORY[source]


def run_path(job: dict[str, Any], path: int) -> dict[str, Any]:
    """One path: generate it, run the strategy metrics-only, return its outcomes and daily series."""
    from basisbt.data.stress.model import generate_path
    from basisbt.engine.config import RunConfig, build_dataclass
    from basisbt.engine.runner import StrategyError, run_backtest
    from basisbt.engine.sweep import worker_strategy, worker_venues
    model = StressModel(**job["model"])
    cfg = build_dataclass(RunConfig, job["run"], "run config key")
    row: dict[str, Any] = {"path": path, "error": ""}
    try:
        ds = generate_path(model, job["seed"], path, _history(job["history"]))
        res = run_backtest(worker_strategy(job["strategy"])(**job["params"]), ds, cfg, frames=False,
                           venues=worker_venues(tuple(job.get("venues", ()))))
    except (StrategyError, ValueError) as e:
        row["error"] = f"{type(e).__name__}: {e}"[:300]
        return row
    from basisbt.reports.metrics import nav_series
    m = res.metrics()
    synth = m.get("synthetic_dollar") or {}
    nav = nav_series(res).resample("1D").last().ffill() / float(res.initial_equity)
    row.update({
        "apy": _num(m.get("apy")), "max_drawdown": _num(m.get("max_drawdown")),
        "liquidations": int(m.get("liquidations") or 0),
        "liquidated": bool(m.get("liquidations") or 0),
        "reserve_min": _num(synth.get("reserve_fund_min")), "backing_min": _num(synth.get("backing_ratio_min")),
        "reserve_out": bool(_num(synth.get("reserve_fund_min")) < 0.0),
        "backing_below_1": bool(_num(synth.get("backing_ratio_min")) < 1.0),
        "negative_yield": bool(_num(m.get("total_return")) < 0.0),
        "nav_daily": [float(x) for x in nav.to_numpy()],
        "backing_daily": _daily_extra(res, "backing_ratio"),
    })
    return row


def run_chunk(job: dict[str, Any]) -> dict[str, Any]:
    """Every path of one job; the rows and the job's wall time."""
    t0 = time.perf_counter()
    rows = [run_path(job, p) for p in job["paths"]]
    return {"cell": job["id"], "rows": rows, "run_s": time.perf_counter() - t0}


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


def _daily_extra(res: Any, key: str) -> list[float]:
    s = (res.extras or {}).get(key)
    if s is None or len(s) == 0:
        return []
    return [float(x) for x in s.resample("1D").last().ffill().to_numpy()]


def run_stress(plan: StressPlan, *, jobs: int | None = None, scheduler: str | None = None,
               on_chunk: Callable[[dict[str, Any]], None] | None = None, processes: bool = True) -> pd.DataFrame:
    """Every path of the plan, one row per path (sorted by path), on local processes or a Dask cluster."""
    import os
    from basisbt.engine.sweep import run_jobs
    rows: list[dict[str, Any]] = []
    done = run_jobs(run_chunk, plan.jobs(), jobs or os.cpu_count() or 1, scheduler, processes)
    try:
        for out in done:
            rows.extend(out["rows"])
            if on_chunk is not None:
                on_chunk(out)
    finally:                                   # Ctrl-C or an error: stop the workers now
        done.close()
    return pd.DataFrame(rows).sort_values("path", kind="stable").reset_index(drop=True)


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion k/n (honest at 0 and n, unlike the normal interval)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    d = 1.0 + Z95 ** 2 / n
    mid = (p + Z95 ** 2 / (2 * n)) / d
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / d
    return (0.0 if k == 0 else max(0.0, mid - half)), (1.0 if k == n else min(1.0, mid + half))


def summarize(table: pd.DataFrame) -> dict[str, Any]:
    """Probabilities with Wilson intervals, the APY distribution, and how many paths failed to run."""
    ok = table[table["error"] == ""] if "error" in table else table
    n = len(ok)
    out: dict[str, Any] = {"paths": int(len(table)), "paths_failed": int(len(table) - n)}
    for k in OUTCOMES:
        hits = int(ok[k].sum()) if k in ok else 0
        lo, hi = wilson(hits, n)
        out[k] = {"p": hits / n if n else math.nan, "ci95": [lo, hi], "paths": hits}
    apy = ok["apy"].dropna().to_numpy() if "apy" in ok else np.empty(0)
    if apy.size:
        q = np.percentile(apy, [5, 25, 50, 75, 95])
        sd = float(apy.std(ddof=1)) if apy.size > 1 else math.nan
        out["apy"] = {"mean": float(apy.mean()), "mean_ci95": [float(apy.mean() - Z95 * sd / math.sqrt(apy.size)),
                                                                float(apy.mean() + Z95 * sd / math.sqrt(apy.size))],
                      "p5": q[0], "p25": q[1], "median": q[2], "p75": q[3], "p95": q[4]}
    return out


def fan(series: list[list[float]], quantiles: tuple[float, ...] = (5, 25, 50, 75, 95)) -> np.ndarray:
    """(len(quantiles), days) quantiles across paths of daily series (paths cut to the shortest)."""
    series = [s for s in series if len(s)]
    if not series:
        return np.empty((len(quantiles), 0))
    n = min(len(s) for s in series)
    return np.percentile(np.array([s[:n] for s in series]), quantiles, axis=0)


# -- limits and checks before any path runs -----------------------------------------------------------------
# Each path keeps its daily NAV and backing ratio for the fan charts (~64 bytes a path-day as Python floats):
# 5,000,000 path-days is ~320 MB. Asking for more is refused before anything is allocated.
MAX_PATHS = 100_000
MAX_PATH_DAYS = 5_000_000


def check_stress(plan: StressPlan) -> None:
    """ConfigError, before any path runs, for a stress that cannot run as asked: too many paths or path-days,
    or what would fail every path alike (path 0 is generated and an Engine built on it with the strategy,
    which checks the strategy against the model's venues and the run config)."""
    from basisbt.data.stress.model import generate_path
    from basisbt.engine.config import ConfigError, RunConfig, build_dataclass
    from basisbt.engine.runner import Engine, StrategyError
    from basisbt.engine.sweep import worker_strategy, worker_venues
    if not 1 <= plan.paths <= MAX_PATHS:
        raise ConfigError(f"--paths {plan.paths}: give 1 to {MAX_PATHS:,}")
    if plan.paths * plan.model.days > MAX_PATH_DAYS:
        raise ConfigError(f"--paths {plan.paths:,} x --days {plan.model.days:,} = {plan.paths * plan.model.days:,} "
                          f"path-days, above the {MAX_PATH_DAYS:,} a stress run keeps (its daily series take ~64 "
                          f"bytes a path-day); use fewer paths or a shorter horizon")
    try:
        ds = generate_path(plan.model, plan.seed, 0, _history(plan.history))
        Engine(worker_strategy(plan.strategy)(**plan.params), ds, build_dataclass(RunConfig, plan.run, "run config key"),
               venues=worker_venues(plan.venues_dirs))
    except (StrategyError, ValueError) as e:          # ConfigError, MarketError... are ValueErrors
        raise ConfigError(f"path 0: {e}") from None
