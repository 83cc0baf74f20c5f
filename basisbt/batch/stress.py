"""Monte Carlo stress: one strategy over many generated market paths, and what fraction of them go wrong.

A stress run is a list of RunSpecs, one per path: path k of seed s is the data source `stress:s:k[:model keys]`
(data/stress/source.py), generated inside the worker from (seed, path), so no data travels and any path can be
run again alone (`basisbt run --data stress:0:17`). A worker gets a chunk of path indices and returns one small
row per path (outcomes, APY, daily NAV and backing ratio for the fan charts). Paths run metrics-only
(`frames=False`) on the sweep's backends: local processes (`jobs`) or a Dask cluster (`scheduler`), with
identical rows whichever ran them. The probabilities and fan charts are reports/stress.py's.

Outcomes per path (reports/stress.OUTCOMES): `liquidated` (any liquidation), `reserve_out` (the reserve fund went
below zero: synthetic_dollar only), `backing_below_1` (synthetic_dollar), `negative_yield` (NAV at the end below
the start: the horizon's yield was negative).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from basisbt.batch.backends import run_jobs
from basisbt.batch.execute import Memo, execute, prepare
from basisbt.batch.spec import DataSpec, RunSpec
from basisbt.data.checks import build_dataclass
from basisbt.data.errors import ConfigError
from basisbt.data.stress.model import StressModel
from basisbt.data.stress.source import stress_source
from basisbt.data.venues import VenueSet
from basisbt.engine.config import RunConfig

WORKER = Memo()          # per process: the strategy class, loaded once for all its paths


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

    def source(self, path: int) -> str:
        """The data source of path `path`: `stress:SEED:PATH` and the model keys that differ from the defaults."""
        default = StressModel()
        changed = {k: v for k, v in self.model.as_dict().items() if v != getattr(default, k)}
        return stress_source(self.seed, path, {k: str(v) for k, v in changed.items()}, self.history)

    def spec(self, path: int) -> RunSpec:
        """The RunSpec of one path."""
        return RunSpec(strategy=self.strategy, params=dict(self.params), data=DataSpec(self.source(path)),
                       config=build_dataclass(RunConfig, self.run, "run config key"),
                       venues=VenueSet(list(self.venues_dirs)))

    def jobs(self) -> list[dict[str, Any]]:
        """Jobs of `chunk` consecutive path indices; plain data, so any backend can ship them."""
        return [{"id": f"paths-{a}", "plan": self, "paths": list(range(a, min(a + self.chunk, self.paths)))}
                for a in range(0, self.paths, self.chunk)]


def run_path(plan: StressPlan, path: int) -> dict[str, Any]:
    """One path: run its spec metrics-only, return its outcomes and daily series."""
    from basisbt.engine.runner import StrategyError
    from basisbt.reports.metrics import compute_metrics
    from basisbt.reports.series import nav_series
    spec = plan.spec(path)
    row: dict[str, Any] = {"path": path, "data": spec.data.name, "error": ""}   # data: rerun it with basisbt run
    try:
        res = execute(spec, frames=False, memo=WORKER)
    except (StrategyError, ValueError) as e:
        row["error"] = f"{type(e).__name__}: {e}"[:300]
        return row
    m = compute_metrics(res)
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
    rows = [run_path(job["plan"], p) for p in job["paths"]]
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


# -- limits and checks before any path runs -----------------------------------------------------------------
# Each path keeps its daily NAV and backing ratio for the fan charts (~64 bytes a path-day as Python floats):
# 5,000,000 path-days is ~320 MB. Asking for more is refused before anything is allocated.
MAX_PATHS = 100_000
MAX_PATH_DAYS = 5_000_000


def check_stress(plan: StressPlan) -> None:
    """ConfigError, before any path runs, for a stress that cannot run as asked: too many paths or path-days,
    or what would fail every path alike (path 0's spec is set up: its data generated and an Engine built on
    it, which checks the strategy against the model's venues and the run config)."""
    from basisbt.engine.runner import StrategyError
    if not 1 <= plan.paths <= MAX_PATHS:
        raise ConfigError(f"--paths {plan.paths}: give 1 to {MAX_PATHS:,}")
    if plan.paths * plan.model.days > MAX_PATH_DAYS:
        raise ConfigError(f"--paths {plan.paths:,} x --days {plan.model.days:,} = {plan.paths * plan.model.days:,} "
                          f"path-days, above the {MAX_PATH_DAYS:,} a stress run keeps (its daily series take ~64 "
                          f"bytes a path-day); use fewer paths or a shorter horizon")
    try:
        prepare(plan.spec(0), memo=WORKER)
    except (StrategyError, ValueError) as e:          # ConfigError, MarketError... are ValueErrors
        raise ConfigError(f"path 0: {e}") from None
