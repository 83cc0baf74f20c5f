"""The one executor: a RunSpec in, the engine's RunResult out, for every front door.

`prepare(spec)` does everything up to the first bar (load and cut the data, build the strategy, align the
market, resolve the venues: every input error surfaces here, before any work); `execute(spec)` runs it. A batch
worker passes a `Memo` so that what its specs share is loaded once per process: datasets by source (never a
generated stress path), strategy classes by name (a user's file is imported once), venue sets by directories.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from basisbt.batch.spec import DataSpec, RunSpec
from basisbt.data.phases import phase

if TYPE_CHECKING:
    from basisbt.data.dataset import Dataset
    from basisbt.engine.hooks import Hooks
    from basisbt.engine.results import RunResult
    from basisbt.engine.runner import Engine


class Memo:
    """What a process's specs share, loaded once: datasets (the last `keep` sources) and strategy classes."""

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self.datasets: OrderedDict[tuple[str, str | None, str | None], Dataset] = OrderedDict()
        self.classes: dict[tuple[str, str | None], type] = {}

    def dataset(self, source: str, timeframe: str | None, cache_dir: str | None) -> Dataset:
        from basisbt.data.sources import resolve_data
        key = (source, timeframe, cache_dir)
        ds = self.datasets.get(key)
        if ds is None:
            ds = resolve_data(source, timeframe=timeframe, cache_dir=cache_dir)
            if self.keep and not source.startswith("stress:"):     # a stress path runs once: nothing to share
                self.datasets[key] = ds
                while len(self.datasets) > self.keep:
                    self.datasets.popitem(last=False)
        else:
            self.datasets.move_to_end(key)
        return ds

    def strategy_class(self, name: str, base_dir: str | None) -> type:
        key = (name, base_dir)
        if key not in self.classes:
            from basisbt.strategies.registry import load_strategy_class
            self.classes[key] = load_strategy_class(name, base_dir=Path(base_dir) if base_dir else None)
        return self.classes[key]


def load_data(data: DataSpec, memo: Memo | None = None) -> Dataset:
    """The Dataset a DataSpec names, with its venue selections applied."""
    if isinstance(data.source, str):
        ds = (memo or Memo(keep=0)).dataset(data.source, data.timeframe, data.cache_dir)
    else:
        ds = data.source
    if data.only_venues:
        ds = ds.with_venues(list(data.only_venues))
    if data.spot_from:
        ds = ds.with_shared_spot(data.spot_from)
    return ds


def strategy_of(spec: RunSpec, memo: Memo | None = None) -> Hooks:
    """The strategy a spec runs: built from its class and parameters, or the instance it holds."""
    from basisbt.strategies.registry import instantiate
    s = spec.strategy
    if isinstance(s, str):
        cls = (memo or Memo()).strategy_class(s, spec.base_dir)
        return instantiate(cls, spec.params)
    if isinstance(s, type):
        return instantiate(s, spec.params)
    return s


def prepare(spec: RunSpec, *, memo: Memo | None = None, honor_sleep: bool = True) -> Engine:
    """The Engine of a spec, set up and not yet run: every input error is raised here. `honor_sleep=False` calls
    every decision even while the strategy sleeps (ctx.sleep), to check that sleeping changes nothing."""
    from basisbt.engine.runner import Engine
    strategy = strategy_of(spec, memo)
    with phase("load data"):
        ds = load_data(spec.data, memo)
    with phase("engine set-up (align data, build arrays)"):
        engine = Engine(strategy, ds, spec.config, data_label=spec.data.name, venues=spec.venues)
    engine.honor_sleep = honor_sleep
    return engine


def execute(spec: RunSpec, *, frames: bool = True, progress: Any = None, memo: Memo | None = None,
            honor_sleep: bool = True) -> RunResult:
    """Run a spec: `frames=False` keeps metrics only (engine/results.py); `progress(done_bars, total)`."""
    engine = prepare(spec, memo=memo, honor_sleep=honor_sleep)
    with phase("run (kernels, hooks, Results frames)"):
        return engine.run(progress, frames=frames)


def load_engine() -> None:
    """Import the engine now (pandas, numba and the compiled kernels' entry points): the CLI times this apart."""
    import basisbt.engine.runner  # noqa: F401
