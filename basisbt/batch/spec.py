"""One run as one value: `RunSpec`, and `build_spec`, the one place loose inputs become one.

A RunSpec holds what a run is: the strategy and its parameters, the data source and its options (`DataSpec`),
the venue set the run looks its venues up in (`VenueSet`, with its content hash), and the `RunConfig`. Every
front door builds one and hands it to the one executor (basisbt/batch/execute.py): `bb.run` and `basisbt run`
through `build_spec`, a golden case (basisbt/regress) is a spec plus expected numbers, a sweep a list of specs
(one per cell), a stress run one spec per generated path. The run's identity (`config_id`) is computed from the
spec's parts: the strategy's name and parameters, the data's `label`, the run config (less the keys that never
change numbers: engine/runner.NOT_IN_ID) and what each venue of the set said over the run's span.

Errors name inputs by `bb.run`'s keywords (`{start}`, `{only_venues}`: data/errors.py); the CLI spells them as
its flags.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from basisbt.data.checks import build_dataclass, did_you_mean
from basisbt.data.errors import ConfigError
from basisbt.engine.config import RunConfig, load_toml
from basisbt.engine.hooks import Hooks

if TYPE_CHECKING:
    from basisbt.data.dataset import Dataset
    from basisbt.data.venues import VenueSet

DEFAULT_STRATEGY = "perp_short"
DEFAULT_DATA = "scenario:feb-2025-crash"

StrategyLike = str | type[Hooks] | Hooks


@dataclass(frozen=True)
class DataSpec:
    """The data of a run: a source (`scenario:NAME`, `cache[:SYMBOL,...]`, a dataset .toml, or a Dataset already
    loaded) and what is done to it: the bar size, the cache directory, the venues kept (`only_venues`), and the
    venue whose spot prices every venue's spot leg (`spot_from`). `label` is what the run calls its data (its
    identity); by default the source with the selections."""

    source: str | Dataset = DEFAULT_DATA
    timeframe: str | None = None
    cache_dir: str | None = None
    only_venues: tuple[str, ...] = ()
    spot_from: str | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        """The data label of the run (part of config_id): `scenario:squeeze venues=binance,bybit spot-from=binance`."""
        base = self.label or (self.source if isinstance(self.source, str) else self.source.name)
        if self.only_venues:
            base += f" venues={','.join(self.only_venues)}"
        if self.spot_from:
            base += f" spot-from={self.spot_from}"
        return base


@dataclass(frozen=True)
class RunSpec:
    """What one run is (the module docstring). `strategy` is a name (`perp_short`, `path.py:Class`), a class, or
    an instance built already (then `params` are its own and it runs as it is); `params` are the strategy's
    parameters as given (its class checks and types them); `venues` the set its venues come from; `base_dir` where a relative
    `path.py:Class` is found."""

    strategy: StrategyLike
    params: Mapping[str, Any] = field(default_factory=dict)
    data: DataSpec = field(default_factory=DataSpec)
    config: RunConfig = field(default_factory=RunConfig)
    venues: VenueSet | None = None
    base_dir: str | None = None

    def replace(self, **changes: Any) -> RunSpec:
        """A copy with `changes` (fields of RunSpec; `data=` a DataSpec)."""
        return dataclasses.replace(self, **changes)


# -- building a spec from what a front door was given -----------------------------------------------------------

def checked_date(key: str, value: Any) -> str:
    """`value` as date text, or ConfigError naming input `key` ({start}, {end}) when pandas reads no time in it."""
    import pandas as pd
    text = str(value)
    try:
        if pd.isna(pd.Timestamp(text)):     # '', 'nan', 'NaT' read as "no time": not a date either
            raise ValueError(text)
    except ValueError:
        raise ConfigError(f"{{{key}}} {text[:40]!r} is not a date (use e.g. 2025-02-01)", key=key) from None
    return text


def _names(value: str | Iterable[str] | None, key: str) -> tuple[str, ...]:
    """`binance,bybit` or ["binance", "bybit"] as a tuple of names (empty when not given)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(str(v).strip() for v in items if str(v).strip())
    if not names:
        raise ConfigError(f"{{{key}}}: no venue named; give e.g. binance,bybit", key=key)
    return names


def _strategy_class(strategy: StrategyLike, base_dir: str | None, timeout: Any = None) -> type[Hooks]:
    from basisbt.strategies.registry import load_strategy_class
    if isinstance(strategy, str):
        limit = float(timeout) if isinstance(timeout, (int, float)) and 0 < timeout < float("inf") else None
        return load_strategy_class(strategy, base_dir=Path(base_dir) if base_dir else None, timeout=limit)
    if isinstance(strategy, type) and issubclass(strategy, Hooks):
        return strategy
    raise ConfigError(f"{{strategy}}: expected a built-in name, 'path.py:Class', a Strategy class or instance, "
                      f"got {strategy!r}"[:200], key="strategy")


def _from_file(path: str | Path, strategy: StrategyLike | None, data: Any, params: dict[str, Any],
               run_keys: dict[str, Any]) -> tuple[StrategyLike, Any, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A run TOML merged under what was given (given wins): (strategy, data, params, run keys, the file's run
    keys) — the file's run keys are returned apart so a strategy parameter among them is named with the file."""
    doc = load_toml(path)
    file_params = dict(doc.pop("params", {}))
    strategy = strategy if strategy is not None else doc.pop("strategy", None)
    data = data if data is not None else doc.pop("data", None)
    doc.pop("strategy", None)
    doc.pop("data", None)
    return strategy, data, {**file_params, **params}, {**doc, **run_keys}, doc


def build_spec(strategy: StrategyLike | None = None, data: str | Dataset | None = None, *,
               params: Mapping[str, Any] | None = None, config: RunConfig | str | Path | None = None,
               venues: Any = None, timeframe: str | None = None, cache_dir: str | Path | None = None,
               only_venues: str | Iterable[str] | None = None, spot_from: str | None = None,
               base_dir: str | Path | None = None, **run_keys: Any) -> RunSpec:
    """The RunSpec of `bb.run`'s arguments (docs/api.md), checked: the strategy found and its parameters built
    once (a bad one is refused before any data is read), dates parsed, the run config built, the venue set's
    directories read. `config` is a RunConfig, or a run TOML (run keys at the top, [params], strategy, data) that
    what is given here overrides; `run_keys` are RunConfig fields."""
    params = dict(params or {})
    file_keys: dict[str, Any] = {}
    where = ""
    if isinstance(config, (str, Path)):
        where = str(config)
        strategy, data, params, run_keys, file_keys = _from_file(config, strategy, data, params, dict(run_keys))
        config = None
    strategy = DEFAULT_STRATEGY if strategy is None else strategy
    data = DEFAULT_DATA if data is None else data
    if config is not None and run_keys:
        raise ConfigError(f"pass either {{config}} or RunConfig keys ({', '.join(sorted(run_keys))}), not both",
                          key="config")
    for k in ("start", "end"):
        if run_keys.get(k) is not None:
            run_keys[k] = checked_date(k, run_keys[k])
    if isinstance(strategy, Hooks) and not isinstance(strategy, type):
        if params:
            raise ConfigError("{params}: pass them to the strategy you built, or pass its class or name with "
                              "{params}", key="params")
        instance, cls = strategy, type(strategy)
    else:
        cls = _strategy_class(strategy, str(base_dir) if base_dir else None, run_keys.get("timeout"))
        instance = None
    if file_keys:
        _no_params_at_top(where, cls, file_keys)
    cfg = config if isinstance(config, RunConfig) else build_dataclass(RunConfig, run_keys, "run config key")
    if instance is None:
        from basisbt.strategies.registry import instantiate
        instantiate(cls, params)             # names, types and ranges checked before any data is read
    from basisbt.data.venues import venue_set
    vs = venue_set(venues).check()           # a user's venue files are read now: a bad one before any data
    return RunSpec(strategy=cls if isinstance(strategy, type) else strategy, params=params,
                   data=DataSpec(source=data, timeframe=timeframe, cache_dir=str(cache_dir) if cache_dir else None,
                                 only_venues=_names(only_venues, "only_venues"),
                                 spot_from=str(spot_from) if spot_from else None),
                   config=cfg, venues=vs, base_dir=str(base_dir) if base_dir else None)


def _no_params_at_top(where: str, cls: type[Hooks], file_keys: dict[str, Any]) -> None:
    """A strategy parameter at the top level of a run TOML is refused, naming the file and [params]."""
    pnames = [f.name for f in dataclasses.fields(cls.Params)] if hasattr(cls, "Params") else []
    for k in file_keys:
        hint = "" if k in pnames else did_you_mean(k, pnames)
        if k not in RunConfig.__dataclass_fields__ and (k in pnames or hint):
            raise ConfigError(f"{where}: {k!r} is not a run key; strategy parameters of {cls.name!r} "
                              f"go under [params]{hint}")
