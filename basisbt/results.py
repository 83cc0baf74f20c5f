"""`basisbt.Results`: one run's plain data (engine/results.RunResult) with the notebook conveniences bound.

The engine answers with a RunResult and imports nothing of reports; here, above both, the methods a notebook
user calls are bound to it: `metrics()`, `plot()`, `report()`, `save()`, `Results.load()`, `with_benchmark()`
and the notebook's HTML view. Each imports its reports module when first called, so `import basisbt` stays cheap.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from basisbt.engine.results import RunResult


@dataclasses.dataclass(frozen=True)
class Results(RunResult):
    """What a run returns: the frames and tables of engine/results.py (docs/api.md) and the methods below."""

    @classmethod
    def of(cls, run: RunResult) -> Results:
        """The Results of an engine RunResult (the same frames, not copied)."""
        if isinstance(run, cls):
            return run
        return cls(**{f.name: getattr(run, f.name) for f in dataclasses.fields(RunResult)})

    def metrics(self) -> dict[str, Any]:
        """The metrics.json dictionary (docs/architecture.md §9)."""
        from basisbt.reports.metrics import compute_metrics
        return compute_metrics(self)

    def plot(self) -> Any:
        """A matplotlib Figure with the report's main charts (for notebooks; matplotlib stays in reports)."""
        from basisbt.reports.notebook import plot
        return plot(self)

    def report(self) -> Any:
        """The report as data (reports/model.Report): the tables, notes and charts' data report.md and report.html
        render, computed once (docs/reports.md); no chart is drawn."""
        from basisbt.reports.build import run_report
        from basisbt.reports.metrics import compute_metrics
        return run_report(self, compute_metrics(self))

    def _repr_html_(self) -> str | None:
        if not self.has_frames:
            return None                         # the notebook falls back to repr()
        from basisbt.reports.notebook import results_html
        return results_html(self)

    def with_benchmark(self, spec: str, unit: str = "auto", time_column: str | None = None) -> Results:
        """These Results with an outside series to compare against: 'FILE.csv:COLUMN[:SERIES]' (SERIES: a
        strategy record such as staker_apy, a timeline column, or nav); `unit` fraction, percent or auto;
        `time_column` names the file's time column. metrics() then has `benchmark` (correlation, mean
        difference) and the report a chart (reports/benchmark.py says how files are read)."""
        from basisbt.reports.benchmark import attach
        return Results.of(attach(self, spec, unit, time_column))

    def save(self, out_dir: str | Path, *, csv: bool = False) -> Path:
        """Write the run directory (metrics.json, the tables in Parquet, or CSV with csv=True, run.toml,
        reports) as a whole."""
        if not self.has_frames:
            self.timeline._fail()
        from basisbt.reports.writers import write_run
        return write_run(self, Path(out_dir), csv=csv)

    @staticmethod
    def load(run_dir: str | Path) -> Results:
        """A saved run directory read back (Parquet or CSV tables), refused (RunDirError) when it fails its
        fingerprint or attribution-identity check (reports/verify.py)."""
        from basisbt.reports.loader import load_run
        return Results.of(load_run(run_dir))
