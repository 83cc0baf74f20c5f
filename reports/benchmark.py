"""A benchmark overlay: an outside series (a published staking APY, a funding index) against one of a run's
recorded series, with their correlation and mean difference (metrics.json `benchmark`, a report chart).

`basisbt run ... --benchmark FILE.csv:COLUMN[:SERIES] [--benchmark-time COL] [--benchmark-unit U]` or
`results.with_benchmark(...)`. SERIES is a strategy record (`staker_apy`, `backing_ratio`, ...), a timeline
column (`binance:funding_rate`) or `nav`; default `staker_apy` when the run recorded it, else `nav`.

Files are read as they come (a DefiLlama export: `Timestamp` in unix seconds, `Date`, `Base` in percent):
- time: the column named with `time_column`, else the first of ts/time/timestamp/date/datetime (any case) that
  holds unix times, else the first of them, else the first column. Unix times are detected in seconds,
  milliseconds, microseconds or nanoseconds by their size and must fall in 2009-2100; text is ISO 8601
  (a time without a zone is UTC). A cell that is neither names its row.
- values: numbers; a blank cell is a missing day; text or inf names its row.
- unit: `fraction` or `percent` as stated, or `auto` (the default): compared with the run's series on the days
  both have, values 10x to 3000x larger are percent. A stated unit that leaves the two 30x to 3000x apart is
  refused naming --benchmark-unit (a percent file read as fractions compares 9.0 with 0.09).
Both series are averaged per UTC day and compared on the days both have; none in common is refused, naming
the file and both spans.
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
UNITS = ("auto", "fraction", "percent")
EXTRA_KEY = "benchmark"          # the benchmark series lives in Results.extras under this name (round-trips)
# unix times: the unit is the one that puts the median value in 2009..2100 (ns per unit, largest unit first)
EPOCH_UNITS = (("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1))
PLAUSIBLE = (pd.Timestamp("2009-01-01", tz="UTC"), pd.Timestamp("2100-01-01", tz="UTC"))
# auto reads the benchmark as percent when its mean |daily value| is 10x..3000x the run's (10x: halfway to 100x
# on a log scale, so a percent file 3x off the run, 27x in all, is still percent); a stated unit is refused when
# it leaves the two 30x..3000x apart (a percent / fraction mix-up is 100x; further apart they are different
# quantities and are compared as given)
AUTO_PERCENT = 10.0
MIXUP = (30.0, 3000.0)


def parse_spec(spec: str) -> tuple[Path, str, str | None]:
    """'FILE:COLUMN[:SERIES]' -> (file, column, series or None). SERIES may itself hold ':' (binance:funding_rate)."""
    parts = spec.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ConfigError(f"{{benchmark}} {spec[:80]!r}: want FILE.csv:COLUMN or FILE.csv:COLUMN:SERIES",
                          key="benchmark")
    return Path(parts[0]), parts[1], (parts[2] if len(parts) == 3 and parts[2] else None)


def load_series(path: Path, column: str, time_column: str | None = None) -> pd.Series:
    """The benchmark column of a CSV as written in the file (no unit applied), indexed by UTC time; the series'
    `attrs['time']` says which column and how its times were read. Bad cells name their line."""
    if not path.is_file():
        raise DataError("benchmark file not found", file=str(path))
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except UnicodeDecodeError as e:        # the codec's own words ("unexpected end of data") name no rule
        raise DataError(f"benchmark file is not UTF-8 text (byte {e.start}); save it as UTF-8",
                        file=str(path)) from None
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise DataError(f"benchmark file unreadable: {e}"[:160], file=str(path)) from None
    cols = [str(c) for c in df.columns]
    if column not in cols:
        raise DataError(f"no column {column!r}; columns: {', '.join(cols)}"[:200], file=str(path))
    if df.empty:
        raise DataError(f"benchmark column {column!r} has no values", file=str(path))
    tcol = _time_column(df, time_column, path)
    times, how = _parse_times(df[tcol], path, tcol)
    cells = df[column].str.strip()
    vals = pd.to_numeric(cells.where(cells != ""), errors="coerce")
    bad = (vals.isna() & (cells != "")).to_numpy() | ~np.isfinite(vals.fillna(0.0).to_numpy())
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        what = "not a number" if math.isnan(vals.iloc[k]) else "not finite"
        raise DataError(f"benchmark {column} {what}: {df[column].iloc[k]!r}", file=str(path), row=k + 2)
    keep = vals.notna().to_numpy()
    s = pd.Series(vals.to_numpy(dtype=float)[keep], index=times[keep], name=column).sort_index()
    if s.empty:
        raise DataError(f"benchmark column {column!r} has no values", file=str(path))
    s.attrs["time"] = f"{tcol} ({how})"
    return s


def _time_column(df: pd.DataFrame, name: str | None, path: Path) -> str:
    cols = [str(c) for c in df.columns]
    if name is not None:
        if name not in cols:
            raise DataError(f"{{benchmark_time}} {name!r}: no such column; columns: {', '.join(cols)}"[:200],
                            file=str(path), key="benchmark_time")
        return name
    named = [c for c in cols if c.lower() in TIME_COLUMNS]
    for c in named:                               # unix times are unambiguous (a DefiLlama Timestamp)
        if df[c].str.strip().str.fullmatch(r"-?\d+(\.0*)?").all():
            return c
    return named[0] if named else cols[0]


def _parse_times(col: pd.Series, path: Path, name: str) -> tuple[pd.DatetimeIndex, str]:
    """(UTC times, how they were read): unix s/ms/us/ns by size, else ISO 8601 (no zone = UTC)."""
    cells = col.str.strip()
    if len(cells) and cells.str.fullmatch(r"-?\d+(\.0*)?").all():
        raw = cells.astype(float).to_numpy()
        med = float(np.median(np.abs(raw)))
        for unit, ns in EPOCH_UNITS:
            if PLAUSIBLE[0].value <= med * ns < PLAUSIBLE[1].value:
                times = pd.DatetimeIndex(pd.to_datetime(np.round(raw * ns).astype(np.int64), unit="ns", utc=True))
                out = (times < PLAUSIBLE[0]) | (times >= PLAUSIBLE[1])
                if out.any():
                    k = int(np.flatnonzero(out)[0])
                    raise DataError(f"benchmark time {cells.iloc[k]!r} in unix {unit} is {times[k].date()}, "
                                    "outside 2009-2100", file=str(path), row=k + 2)
                return times, f"unix {unit}"
        raise DataError(f"benchmark time column {name!r} holds numbers ({cells.iloc[0]!r}, ...) that are unix "
                        "times in no unit (s, ms, us, ns) between 2009 and 2100", file=str(path))
    times = pd.to_datetime(cells, utc=True, errors="coerce", format="ISO8601")
    bad = times.isna().to_numpy()
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise DataError(f"benchmark time not readable: {col.iloc[k]!r} (want ISO 8601 or unix time)",
                        file=str(path), row=k + 2)
    return pd.DatetimeIndex(times), "ISO 8601"


def run_series(results: Any, series: str) -> pd.Series:
    """The run's series to compare: a strategy record, a timeline column or 'nav' (NAV / initial equity)."""
    extras = results.extras or {}
    if series in extras and series != EXTRA_KEY:
        return extras[series].dropna()
    if series == "nav":
        from basisbt.reports.series import nav_series
        return nav_series(results) / float(results.initial_equity)
    if results.has_frames and series in results.timeline.columns:
        return results.timeline[series].dropna()
    known = sorted(k for k in extras if k != EXTRA_KEY) + ["nav"]
    raise ConfigError(f"{{benchmark}} series {series!r} is not recorded by this run; try: {', '.join(known)}, "
                      "or a timeline column such as binance:funding_rate", key="benchmark")


def default_series(results: Any) -> str:
    return "staker_apy" if "staker_apy" in (results.extras or {}) else "nav"


def _daily(s: pd.Series) -> pd.Series:
    return s.groupby(pd.DatetimeIndex(s.index).tz_convert("UTC").floor("D")).mean()


def _span(s: pd.Series) -> str:
    return f"{s.index.min().date()}..{s.index.max().date()}" if len(s) else "no values"


def resolve_unit(bench: pd.Series, run: pd.Series, unit: str, *, file: str, column: str,
                 series: str) -> tuple[float, str]:
    """(scale to fractions, 'fraction' | 'percent') for the benchmark, checked against the run's magnitude on
    the days both have. A DataError naming --benchmark-unit when a stated unit leaves them 30x-3000x apart or
    `auto` cannot tell; a DataError naming the file and both spans when they share no day."""
    if unit not in UNITS:
        raise ConfigError(f"{{benchmark_unit}} {unit!r}: use one of {', '.join(UNITS)}", key="benchmark_unit")
    pair = pd.concat({"run": _daily(run), "benchmark": _daily(bench)}, axis=1, join="inner").dropna()
    if pair.empty:
        raise DataError(f"benchmark {column} and the run's {series} share no day: the benchmark spans "
                        f"{_span(bench)}, the run's {series} {_span(run)}", file=file)
    r_mag, b_mag = (float(pair[c].abs().mean()) for c in ("run", "benchmark"))
    ratio = b_mag / r_mag if r_mag > 0 and b_mag > 0 else math.nan
    if unit == "auto":
        if not math.isfinite(ratio):
            raise DataError(f"cannot tell the unit of {column}: it or the run's {series} is 0 on every common "
                            "day; pass {benchmark_unit} fraction or percent", file=file, key="benchmark_unit")
        if 1.0 / MIXUP[1] <= ratio < AUTO_PERCENT:
            return 1.0, "fraction"
        if AUTO_PERCENT <= ratio <= MIXUP[1]:
            return 0.01, "percent"
        raise DataError(f"cannot tell the unit of {column}: its values are ~{_times(ratio)} the run's {series} "
                        "(not a percent/fraction factor of 100); pass {benchmark_unit} fraction or percent",
                        file=file, key="benchmark_unit")
    scale = 0.01 if unit == "percent" else 1.0
    after = ratio * scale
    if math.isfinite(after) and MIXUP[0] < after <= MIXUP[1]:
        raise DataError(f"benchmark {column} read as {unit} is ~{_times(after)} the run's {series} "
                        f"(mean |daily| {b_mag * scale:.4g} vs {r_mag:.4g}): if the file is in percent, pass "
                        "{benchmark_unit} percent (or auto)", file=file, key="benchmark_unit")
    if math.isfinite(after) and 1.0 / MIXUP[1] <= after < 1.0 / MIXUP[0]:
        raise DataError(f"benchmark {column} read as {unit} is ~{_times(after)} the run's {series} "
                        f"(mean |daily| {b_mag * scale:.4g} vs {r_mag:.4g}): if the file holds fractions, pass "
                        "{benchmark_unit} fraction (or auto)", file=file, key="benchmark_unit")
    return scale, unit


def _times(r: float) -> str:
    return f"{r:.3g}x" if r >= 1 else f"1/{1 / r:.3g}x"


def attach(results: Any, spec: str, unit: str = "auto", time_column: str | None = None,
           raw: pd.Series | None = None) -> Any:
    """RunResult with the benchmark of `spec` attached (extras['benchmark'] in fractions, results.benchmark
    metadata: file, column, series, unit, how the unit was set, the time column and how it was read). `raw`:
    the file's column as load_series read it for this spec, when the caller checked the file before the run."""
    if unit not in UNITS:
        raise ConfigError(f"{{benchmark_unit}} {unit!r}: use one of {', '.join(UNITS)}", key="benchmark_unit")
    path, column, series = parse_spec(spec)
    if raw is None:
        raw = load_series(path, column, time_column)
    series = series or default_series(results)
    run = run_series(results, series)                # refuse an unknown series now, with the valid names
    scale, resolved = resolve_unit(raw, run, unit, file=str(path), column=column, series=series)
    bench = raw * scale
    meta = {"file": str(path), "column": column, "series": series, "unit": resolved,
            "unit_from": "detected" if unit == "auto" else "stated", "time": str(raw.attrs.get("time", ""))}
    return replace(results, extras={**(results.extras or {}), EXTRA_KEY: bench}, benchmark=meta)


def daily_pair(results: Any) -> pd.DataFrame:
    """Daily means of the run series and the benchmark on the days both have (columns run, benchmark)."""
    bench = results.extras[EXTRA_KEY]
    run = run_series(results, results.benchmark["series"])
    return pd.concat({"run": _daily(run), "benchmark": _daily(bench)}, axis=1, join="inner").dropna()


def compare(results: Any) -> dict[str, Any]:
    """metrics.json `benchmark`: what was compared, on how many days, correlation and mean difference."""
    return summary(results.benchmark, daily_pair(results))


def summary(meta: dict[str, str], pair: pd.DataFrame) -> dict[str, Any]:
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
