"""Tests run a strategy instance on a Dataset the way every front door does: one RunSpec, the one executor
(basisbt/batch), the public Results back (`.metrics()`, `.save()`). Engine-level tests that poke the engine
itself build `basisbt.engine.runner.Engine` directly."""
from __future__ import annotations

from typing import Any

from basisbt.batch.execute import execute
from basisbt.batch.spec import DataSpec, RunSpec
from basisbt.data.dataset import Dataset
from basisbt.data.venues import venue_set
from basisbt.engine.config import RunConfig
from basisbt.engine.hooks import Hooks
from basisbt.results import Results


def run_backtest(strategy: Hooks, dataset: Dataset, config: RunConfig | None = None, data_label: str | None = None,
                 progress: Any = None, *, frames: bool = True, venues: Any = None) -> Results:
    """`strategy` (an instance) on `dataset` with `config`, as bb.run(strategy, dataset, config=config) runs it."""
    spec = RunSpec(strategy, data=DataSpec(dataset, label=data_label), config=config or RunConfig(),
                   venues=venue_set(venues))
    return Results.of(execute(spec, frames=frames, progress=progress))
