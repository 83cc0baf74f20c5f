"""The Python API a notebook uses: `bb.run(...)` returns Results; `bb.load(...)` a Dataset.

The CLI's `basisbt run` is this same path plus a run directory: both resolve the data, build the
strategy from its declared parameters and a RunConfig, and call the one engine.
"""
from __future__ import annotations

from typing import Any

from basisbt.data.dataset import Dataset
from basisbt.data.scenarios import ScenarioInfo, list_scenarios
from basisbt.data.sources import resolve_data
from basisbt.data.venues import Venue, VenueSet, venue_set
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
        venues: Any = None, **run_keys: Any) -> Results:
    """Run one backtest. `strategy`: a built-in name, `path.py:Class`, a Strategy class or instance;
    `params`: its parameters (checked against their declared ranges); `run_keys`: RunConfig fields
    (start, end, initial_capital, slippage, fill, strict...), or pass a whole `config`. `frames=False`
    keeps metrics only (same metrics(), no timeline/ledger/fills frames: faster, for sweeps). `venues`: where
    the run's venues come from, searched in order before $BASISBT_VENUES and the built-ins: a Venue
    (`venue("binance").replace(taker_fee=0.0004)`), a directory of venue TOML files, a list of those, or a
    VenueSet; what they say is part of the run's identity (config_id, venue_fingerprint)."""
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
    return run_backtest(strat, ds, cfg, data_label=data if isinstance(data, str) else ds.name, frames=frames,
                        venues=venue_set(venues))


def venue(name: str, venues: Any = None) -> Venue:
    """Venue `name` with all its dated blocks, from `venues` (as in `run`) or $BASISBT_VENUES and the built-ins.
    `.replace(taker_fee=0.0004)` gives a copy checked by the venue schema, for `run(..., venues=[...])`;
    `.at("2025-01-01")` the block in force then."""
    return venue_set(venues).get(name)


def venues(where: Any = None) -> VenueSet:
    """The VenueSet a run would search (`where` as `run`'s `venues`); `.names()` lists what it holds."""
    return venue_set(where)


def scenarios(*, real_data: bool = True, multi_asset: bool = True, other_venues: bool = True) -> list[ScenarioInfo]:
    """The built-in scenarios (synthetic stress paths, real event windows, several-asset markets, and those on
    other venues than binance, bybit and okx) with what each stresses."""
    return list_scenarios(real_data=real_data, multi_asset=multi_asset, other_venues=other_venues)


def strategies() -> dict[str, type[Strategy]]:
    """The built-in strategies by name; `cls.param_table()` lists each one's parameters."""
    return builtin_strategies()
