"""The Python API a notebook uses: `bb.run(...)` returns Results; `bb.load(...)` a Dataset.

`bb.run` takes everything `basisbt run` takes, under Python names (docs/api.md has the table; the command line
calls this function), builds one RunSpec from it and hands it to the one executor (basisbt/batch): the same
path as `basisbt run`, a golden case, a sweep cell and a stress path.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from basisbt.batch.spec import DEFAULT_DATA, StrategyLike, build_spec
from basisbt.data.dataset import Dataset
from basisbt.data.errors import ConfigError
from basisbt.data.scenarios import ScenarioInfo, list_scenarios
from basisbt.data.sources import resolve_data
from basisbt.data.venues import Venue, VenueSet, venue_set
from basisbt.engine.config import RunConfig
from basisbt.results import Results
from basisbt.strategies.base import Strategy


def load(source: str = DEFAULT_DATA, *, timeframe: str | None = None, cache_dir: str | None = None) -> Dataset:
    """A Dataset from `scenario:NAME`, `cache[:SYMBOL]`, a dataset .toml or `stress:SEED:PATH` (what `data` takes)."""
    if not isinstance(source, str):
        raise ConfigError(f"source: expected a string such as 'scenario:squeeze', got {source!r:.60} "
                          f"({type(source).__name__})")
    _check_types(cache_dir=cache_dir)
    return resolve_data(source, timeframe=timeframe, cache_dir=cache_dir)


def run(strategy: StrategyLike | None = None, data: str | Dataset | None = None, *,
        params: Mapping[str, Any] | None = None, config: RunConfig | str | Path | None = None, venues: Any = None,
        timeframe: str | None = None, cache_dir: str | Path | None = None,
        only_venues: str | Iterable[str] | None = None, spot_from: str | None = None,
        benchmark: str | None = None, benchmark_unit: str = "auto", benchmark_time: str | None = None,
        out: str | Path | None = None, csv: bool = False, frames: bool = True,
        progress: Callable[[int, int], Any] | None = None, honor_sleep: bool = True, **run_keys: Any) -> Results:
    """Run one backtest (docs/api.md). `strategy`: a built-in name, `path.py:Class`, a Strategy class or instance
    (default perp_short); `data`: a source string or a Dataset (default scenario:feb-2025-crash); `params`: the
    strategy's parameters (checked against their declared ranges); `run_keys`: RunConfig fields (start, end,
    initial_capital, slippage, fill, strict, timeout...), or pass a whole `config` (a RunConfig, or a run TOML
    whose keys what is given here overrides); `venues`: where the venues come from, before $BASISBT_VENUES and the
    built-ins (a Venue, a directory of venue TOML files, a list of those, or a VenueSet); what they say is part of
    the run's identity. `timeframe`, `cache_dir`, `only_venues` (keep these venues of the data), `spot_from`
    (price every venue's spot leg from this venue's spot) shape the data. `benchmark` ('FILE.csv:COLUMN[:SERIES]',
    `benchmark_unit`, `benchmark_time`) attaches an outside series; `out` (with `csv`) writes the run directory.
    `frames=False` keeps metrics only (no timeline/ledger/fills frames: faster, for sweeps); `progress(done,
    total)` is called as bars are run; `honor_sleep=False` calls every decision even while the strategy sleeps
    (a check that ctx.sleep changes nothing)."""
    from basisbt.batch.execute import execute
    _check_keywords(run_keys)
    _check_types(data=data, params=params, config=config, venues=venues, cache_dir=cache_dir, benchmark=benchmark,
                 out=out, csv=csv, frames=frames, progress=progress, honor_sleep=honor_sleep)
    for key, value in (("timeframe", timeframe), ("spot_from", spot_from), ("only_venues", only_venues),
                       ("benchmark", benchmark), ("benchmark_time", benchmark_time)):
        if isinstance(value, str) and not value.strip():     # '' is not "the default": the user typed something
            raise ConfigError(f"{{{key}}} is empty; leave it out for the default", key=key)
    spec = build_spec(strategy, data, params=params, config=config, venues=venues, timeframe=timeframe,
                      cache_dir=cache_dir, only_venues=only_venues, spot_from=spot_from, **run_keys)
    bench = check_benchmark(benchmark, benchmark_unit, benchmark_time)
    if out is not None:
        from basisbt.reports.writers import check_run_target
        check_run_target(Path(out))              # a file or a foreign directory is refused before the run
    res = Results.of(execute(spec, frames=frames, progress=progress, honor_sleep=honor_sleep))
    if benchmark:                                # the file as read before the run, not read again
        from basisbt.reports.benchmark import attach
        res = Results.of(attach(res, benchmark, benchmark_unit, benchmark_time, raw=bench))
    if out is not None:
        res.save(out, csv=csv)
    return res


def _check_keywords(run_keys: dict[str, Any]) -> None:
    """A keyword bb.run does not take (nor RunConfig) is refused naming the close one and both lists."""
    import dataclasses
    import inspect

    from basisbt.data.checks import did_you_mean
    fields = [f.name for f in dataclasses.fields(RunConfig)]
    for k in run_keys:
        if k not in fields:
            own = [p for p in inspect.signature(run).parameters if p != "run_keys"]
            raise ConfigError(f"bb.run() got an unknown keyword {k!r}{did_you_mean(k, own + fields)}; it takes "
                              f"{', '.join(own)} and the RunConfig fields {', '.join(fields)}")


_PATH = (str, os.PathLike)
_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "data": ((str, Dataset), "a source string such as 'scenario:squeeze' or a Dataset"),
    "params": ((Mapping,), "a dict of parameter name -> value"),
    "config": ((RunConfig, *_PATH), "a RunConfig or the path of a run TOML"),
    "venues": ((Venue, VenueSet, list, tuple, *_PATH), "a Venue, a directory of venue TOML files, a list of those "
                                                        "or a VenueSet"),
    "cache_dir": (_PATH, "a directory path"),
    "benchmark": ((str,), "'FILE.csv:COLUMN[:SERIES]'"),
    "out": (_PATH, "a directory path"),
    "csv": ((bool,), "True or False"),
    "frames": ((bool,), "True or False"),
    "honor_sleep": ((bool,), "True or False"),
}


def _check_types(**given: Any) -> None:
    """A bb.run keyword of the wrong kind (venues=5, out=5, frames='no') is refused naming the keyword and what it
    takes, before any work, instead of failing later with an AttributeError deep inside."""
    for key, value in given.items():
        if value is None:
            continue
        if key == "progress":
            ok, takes = callable(value), "a function progress(done_bars, total)"
        else:
            kinds, takes = _KINDS[key]
            ok = isinstance(value, kinds)
        if not ok:
            raise ConfigError(f"{key}: expected {takes}, got {value!r:.60} ({type(value).__name__})")


def check_benchmark(benchmark: str | None, unit: str, time_column: str | None) -> Any:
    """Refuse a benchmark that cannot be attached (a missing file or column, an unknown unit) before any run;
    returns the file's column as read (reports/benchmark.load_series), None without a benchmark."""
    if not benchmark:
        if time_column is not None or unit != "auto":
            raise ConfigError("{benchmark_time} and {benchmark_unit} go with {benchmark} FILE.csv:COLUMN",
                              key=("benchmark_time", "benchmark_unit", "benchmark"))
        return None
    from basisbt.reports.benchmark import UNITS, load_series, parse_spec
    if unit not in UNITS:
        raise ConfigError(f"{{benchmark_unit}} {unit!r}: use one of {', '.join(UNITS)}", key="benchmark_unit")
    return load_series(*parse_spec(benchmark)[:2], time_column=time_column)


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
    from basisbt.strategies.registry import builtin_strategies
    return dict(builtin_strategies())
