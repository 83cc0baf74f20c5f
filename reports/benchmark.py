"""A benchmark overlay: an outside series (a published staking APY, a funding index) against one of a run's
recorded series, with their correlation and mean difference (metrics.json `benchmark`, a report chart).

`basisbt run ... --benchmark FILE.csv:COLUMN[:SERIES]` or `results.with_benchmark(...)`. SERIES is a strategy
record (`staker_apy`, `backing_ratio`, ...), a timeline column (`binance:funding_rate`) or `nav`; default
`staker_apy` when the run recorded it, else `nav`. Both series are averaged per UTC day and compared on the
days both have; the benchmark must be in the run series' units (fractions; `unit="percent"` divides by 100).
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from basisbt.data.errors import DataError
from basisbt.engine.config import ConfigError

TIME_COLUMNS = ("ts", "time", "timestamp", "date", "datetime")
EXTRA_KEY = "benchmark"          # the benchmark series lives in Results.extras under this name (round-trips)


def parse_spec(spec: str) -> tuple[Path, str, str | None]:
    """'FILE:COLUMN[:SERIES]' -> (file, column, series or None). SERIES may itself hold ':' (binance:funding_rate)."""
    parts = spec.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ConfigError(f"--benchmark {spec[:80]!r}: want FILE.csv:COLUMN or FILE.csv:COLUMN:SERIES")
    return Path(parts[0]), parts[1], (parts[2] if len(parts) == 3 and parts[2] else None)


def load_series(path: Path, column: str, unit: str = "fraction") -> pd.Series:
    """The benchmark column of a CSV indexed by UTC time; bad time or value cells name their line."""
    if unit not in ("fraction", "percent"):
        raise ConfigError(f"benchmark unit {unit!r}: use 'fraction' or 'percent'")
    if not path.is_file():
        raise DataError("benchmark file not found", file=str(path))
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise DataError(f"benchmark file unreadable: {e}"[:160], file=str(path)) from None
    if column not in df.columns:
        raise DataError(f"no column {column!r}; columns: {', '.join(map(str, df.columns))}"[:200], file=str(path))
    tcol = next((c for c in df.columns if str(c).lower() in TIME_COLUMNS), df.columns[0])
    ts = pd.to_datetime(df[tcol], utc=True, errors="coerce")
    vals = pd.to_numeric(df[column], errors="coerce")
    for name, bad in (("time", ts.isna()), (column, vals.isna() & df[column].notna())):
        if bad.any():
            k = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"benchmark {name} not readable: {df.iloc[k][tcol if name == 'time' else column]!r}",
                            file=str(path), row=k + 2)          # +1 header, +1 one-based
    s = pd.Series(vals.to_numpy(dtype=float), index=pd.DatetimeIndex(ts), name=column).dropna().sort_index()
    if s.empty:
        raise DataError(f"benchmark column {column!r} has no values", file=str(path))
    return s / 100.0 if unit == "percent" else s


def run_series(results: Any, series: str) -> pd.Series:
    """The run's series to compare: a strategy record, a timeline column or 'nav' (NAV / initial equity)."""
    extras = results.extras or {}
    if series in extras and series != EXTRA_KEY:
        return extras[series].dropna()
    if series == "nav":
        from basisbt.reports.metrics import nav_series
        return nav_series(results) / float(results.initial_equity)
    if results.has_frames and series in results.timeline.columns:
        return results.timeline[series].dropna()
    known = sorted(k for k in extras if k != EXTRA_KEY) + ["nav"]
    raise ConfigError(f"--benchmark series {series!r} is not recorded by this run; try: {', '.join(known)}, "
                      "or a timeline column such as binance:funding_rate")


def default_series(results: Any) -> str:
    return "staker_apy" if "staker_apy" in (results.extras or {}) else "nav"


def attach(results: Any, spec: str, unit: str = "fraction") -> Any:
    """Results with the benchmark of `spec` attached (extras['benchmark'] and results.benchmark metadata)."""
    path, column, series = parse_spec(spec)
    bench = load_series(path, column, unit)
    series = series or default_series(results)
    run_series(results, series)                      # refuse an unknown series now, with the valid names
    meta = {"file": str(path), "column": column, "series": series, "unit": unit}
    return replace(results, extras={**(results.extras or {}), EXTRA_KEY: bench}, benchmark=meta)


def daily_pair(results: Any) -> pd.DataFrame:
    """Daily means of the run series and the benchmark on the days both have (columns run, benchmark)."""
    bench = results.extras[EXTRA_KEY]
    run = run_series(results, results.benchmark["series"])
    day = {k: s.groupby(pd.DatetimeIndex(s.index).tz_convert("UTC").floor("D")).mean() for k, s in
           (("run", run), ("benchmark", bench))}
    return pd.concat(day, axis=1, join="inner").dropna()


def compare(results: Any) -> dict[str, Any]:
    """metrics.json `benchmark`: what was compared, on how many days, correlation and mean difference."""
    return _summary(results.benchmark, daily_pair(results))


def _summary(meta: dict[str, str], pair: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {**meta, "days": int(len(pair))}
    if len(pair) == 0:
        return {**out, "correlation": None, "mean_difference": None, "run_mean": None, "benchmark_mean": None,
                "first_day": None, "last_day": None}
    r, b = pair["run"].to_numpy(), pair["benchmark"].to_numpy()
    varies = [np.ptp(x) > 1e-12 * max(float(np.abs(x).max()), 1e-300) for x in (r, b)]   # constant: no correlation
    corr = float(np.corrcoef(r, b)[0, 1]) if len(pair) >= 3 and all(varies) else None
    return {**out, "correlation": corr if corr is None or math.isfinite(corr) else None,
            "mean_difference": float(np.mean(r - b)), "run_mean": float(r.mean()), "benchmark_mean": float(b.mean()),
            "first_day": pair.index[0].date().isoformat(), "last_day": pair.index[-1].date().isoformat()}


def fig_benchmark(results: Any, dpi: int = 110) -> Any:
    """Both daily series on one chart, correlation and mean difference in the title; None without a benchmark."""
    if not getattr(results, "benchmark", None):
        return None
    from basisbt.reports.plots import _legend, _naive, _new, _style
    pair = daily_pair(results)
    c = _summary(results.benchmark, pair)
    fig, (ax,) = _new(1, 3.6, dpi=dpi)
    t = _naive(pair.index)
    ax.plot(t, pair["run"].to_numpy(), linewidth=1.3, label=f"run: {c['series']}")
    ax.plot(t, pair["benchmark"].to_numpy(), linewidth=1.3, label=f"benchmark: {c['column']}")
    corr = "n/a" if c["correlation"] is None else f"{c['correlation']:.2f}"
    mean_diff = "n/a" if c["mean_difference"] is None else f"{c['mean_difference']:.4g}"
    _style(ax, f"{c['series']} vs {c['column']} (daily means; correlation {corr}, mean difference {mean_diff})",
           c["series"])
    _legend(ax, loc="best")
    return fig
