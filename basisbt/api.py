"""The Python API a notebook uses: `bb.run(...)` returns Results; `bb.load(...)` a Dataset.

The CLI's `basisbt run` is this same path plus a run directory: both resolve the data, build the
strategy from its declared parameters and a RunConfig, and call the one engine.
"""
from __future__ import annotations

from typing import Any

from basisbt.data.dataset import Dataset
from basisbt.data.scenarios import ScenarioInfo, list_scenarios
from basisbt.data.sources import resolve_data
from basisbt.engine.config import RunConfig, build_dataclass
from basisbt.engine.results import Results
from basisbt.engine.runner import run_backtest
from basisbt.strategies.base import Strategy
from basisbt.strategies.registry import builtin_strategies, load_strategy_class

DEFAULT_DATA = "scenario:feb-2025-crash"


def load(source: str = DEFAULT_DATA, *, timeframe: str | None = None, cache_dir: str | None = None) -> Dataset:
    """A Dataset from `scenario:NAME`, `cache[:SYMBOL]` or a dataset .toml (what `--data` takes)."""
    return resolve_data(source, timeframe=timeframe, cache_dir=cache_dir)


def run(strategy: str | type[Strategy] | Strategy = "perp_short", data: str | Dataset = DEFAULT_DATA, *,
        params: dict[str, Any] | None = None, config: RunConfig | None = None, frames: bool = True,
        **run_keys: Any) -> Results:
    """Run one backtest. `strategy`: a built-in name, `path.py:Class`, a Strategy class or instance;
    `params`: its parameters (checked against their declared ranges); `run_keys`: RunConfig fields
    (start, end, initial_capital, slippage, fill, strict...), or pass a whole `config`. `frames=False`
    keeps metrics only (same metrics(), no timeline/ledger/fills frames: faster, for sweeps)."""
    if isinstance(strategy, Strategy):
        if params:
            raise ValueError("pass params to the Strategy you built, or pass its class/name with params=")
        strat = strategy
    else:
        cls = load_strategy_class(strategy) if isinstance(strategy, str) else strategy
        strat = cls(**(params or {}))
    if config is not None and run_keys:
        raise ValueError("pass either config= or RunConfig keys, not both")
    cfg = config or build_dataclass(RunConfig, run_keys, "run config key")
    ds = load(data) if isinstance(data, str) else data
    return run_backtest(strat, ds, cfg, data_label=data if isinstance(data, str) else ds.name, frames=frames)


def scenarios(*, real_data: bool = True, multi_asset: bool = True) -> list[ScenarioInfo]:
    """The built-in scenarios (synthetic stress paths, real event windows, several-asset markets) with what
    each stresses."""
    return list_scenarios(real_data=real_data, multi_asset=multi_asset)


def strategies() -> dict[str, type[Strategy]]:
    """The built-in strategies by name; `cls.param_table()` lists each one's parameters."""
    return builtin_strategies()
