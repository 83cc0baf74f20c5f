"""Validation of canonical frames (docs/architecture.md §2): one function per stream, loud about bad data.

Every validator takes a frame in canonical column names, checks the rules of docs/architecture.md §2 and
returns a canonical copy (ts as datetime64[ns, UTC], value columns float64, original order
kept). The first violation raises `DataError(rule, file=, row=)`. Row numbers are 1-based
positions in the frame as handed in (row 1 = first data row; a CSV header is not counted).

`repair(...)` is the only place data is changed: each fix is explicit and returns a log line.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from basisbt.data.errors import DataError
from basisbt.data.schemas import (
    BAR_COLUMNS,
    FLOW_COLUMNS,
    LENDING_COLUMNS,
    MARK_COLUMNS,
    TS,
    TS_DTYPE,
    timeframe_ns,
    ts_ns,
)

log = logging.getLogger(__name__)

# |rate| per settlement refused whatever the venue: 100 %, the ceiling of any venue file's funding_cap (a global bound
# below a real venue's cap would refuse its real prints: Hyperliquid's cap is 4 % an hour). The venue's own cap
# is the check that catches unit slips (check_funding_cap: every importer, dataset TOMLs, fetch).
FUNDING_RATE_BOUND = 1.0
LENDING_APY_BOUND = 5.0        # 500 % a year: above this a percent was almost surely read as a fraction
FUNDING_GRID_NS = 60 * 10**9   # settlement times must sit on whole minutes (snap jitter with repair)
HOUR_NS = 3600 * 10**9


def _fail(rule: str, file: str | None, pos: int | None = None, detail: str = "") -> DataError:
    return DataError(rule, file=file, row=None if pos is None else int(pos) + 1, detail=detail)


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def _canonical_ts(df: pd.DataFrame, file: str | None) -> pd.Series:
    if not isinstance(df, pd.DataFrame):
        raise _fail("not a table", file, detail=type(df).__name__)
    if TS not in df.columns:
        raise _fail("missing column 'ts'", file, detail=f"columns: {', '.join(map(str, df.columns))}")
    ts = df[TS]
    dtype = ts.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        ts = ts.dt.tz_convert("UTC").astype(TS_DTYPE)
    elif pd.api.types.is_datetime64_dtype(dtype):
        raise _fail("naive timestamp (no time zone); times must be UTC-aware", file, 0 if len(ts) else None)
    elif len(ts) == 0:
        ts = pd.Series([], dtype=TS_DTYPE)
    else:
        bad = _first(np.array([not (isinstance(v, pd.Timestamp) and v.tzinfo is not None) for v in ts]))
        if bad is not None:
            v = ts.iloc[bad]
            rule = ("naive timestamp (no time zone); times must be UTC-aware"
                    if isinstance(v, (pd.Timestamp, np.datetime64)) else "ts is not a timestamp")
            raise _fail(rule, file, bad, detail=repr(v)[:60])
        ts = pd.Series(pd.DatetimeIndex(ts.to_list()).tz_convert("UTC"), index=df.index).astype(TS_DTYPE)
    na = _first(ts.isna().to_numpy())
    if na is not None:
        raise _fail("missing timestamp", file, na)
    return ts


def _numeric(df: pd.DataFrame, cols: tuple[str, ...], file: str | None, *, required: bool) -> dict:
    out = {}
    for c in cols:
        if c not in df.columns:
            if required:
                raise _fail(f"missing column {c!r}", file, detail=f"columns: {', '.join(map(str, df.columns))}")
            continue
        col = pd.to_numeric(df[c], errors="coerce")
        raw_na = df[c].isna().to_numpy()
        nonnum = _first(col.isna().to_numpy() & ~raw_na)
        if nonnum is not None:
            raise _fail(f"non-numeric value in {c!r}", file, nonnum, detail=repr(df[c].iloc[nonnum])[:40])
        arr = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = _first(~np.isfinite(arr))
        if bad is not None:
            raise _fail(f"NaN or inf in {c!r}", file, bad)
        out[c] = arr
    return out


def _order(ts: pd.Series, file: str | None) -> np.ndarray:
    ns = ts.to_numpy(dtype="datetime64[ns]").view(np.int64)
    if ns.size > 1:
        d = np.diff(ns)
        back = _first(d < 0)
        if back is not None:
            raise _fail("times not sorted ascending", file, back + 1, detail=str(ts.iloc[back + 1]))
        dup = _first(d == 0)
        if dup is not None:
            raise _fail("duplicate time", file, dup + 1, detail=str(ts.iloc[dup + 1]))
    return ns


def _grid(ns: np.ndarray, timeframe: str | None, file: str | None) -> None:
    if timeframe is None:
        return
    try:
        tf = timeframe_ns(timeframe)
    except ValueError as e:
        raise _fail("unknown timeframe", file, detail=str(e)) from None
    off = _first(ns % tf != 0)
    if off is not None:
        raise _fail(f"time off the {timeframe} grid (a few seconds off? --snap TOL moves bars within TOL)", file, off,
                    detail=str(pd.Timestamp(int(ns[off]), tz="UTC")))


FILLED = "filled"   # bars only: True on a bar `--fill-gaps` wrote (a flat bar at the last close), not a real one


def _filled(df: pd.DataFrame) -> dict:
    """The `filled` flag of a bar frame as booleans (a row without one, e.g. merged from an older file, is real)."""
    if FILLED not in df.columns:
        return {}
    col = df[FILLED]
    flag = col.fillna(False).astype(bool).to_numpy() if col.dtype == object else \
        pd.to_numeric(col, errors="coerce").fillna(0).to_numpy() != 0
    return {FILLED: flag} if flag.any() else {}


def _frame(ts: pd.Series, cols: dict, df: pd.DataFrame, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """The canonical copy, built from the underlying datetime64 array.

    `ts.to_numpy()` on a tz-aware column would box every row into a Timestamp object
    (2 s per 525,600 rows, 95 % of a cache load, issue #12); `ts.array` keeps the int64 data.
    """
    out = pd.DataFrame({TS: ts.array, **cols}, index=pd.RangeIndex(len(ts)), copy=True)
    if out[TS].dtype != TS_DTYPE:
        out[TS] = out[TS].astype(TS_DTYPE)
    return out


def _ohlc(cols: dict, file: str | None) -> None:
    for c in ("open", "high", "low", "close"):
        bad = _first(cols[c] <= 0)
        if bad is not None:
            raise _fail(f"price <= 0 in {c!r}", file, bad, detail=repr(float(cols[c][bad])))
    o, h, lo, c = cols["open"], cols["high"], cols["low"], cols["close"]
    bad = _first(h < np.maximum(o, c))
    if bad is not None:
        raise _fail("high < max(open, close)", file, bad)
    bad = _first(lo > np.minimum(o, c))
    if bad is not None:
        raise _fail("low > min(open, close)", file, bad)


def validate_bars(df: pd.DataFrame, *, timeframe: str | None = None, file: str | None = None) -> pd.DataFrame:
    """Check a spot/perp bar frame (ts = bar OPEN time) and return its canonical copy."""
    ts = _canonical_ts(df, file)
    cols = _numeric(df, BAR_COLUMNS, file, required=True)
    _ohlc(cols, file)
    bad = _first(cols["volume"] < 0)
    if bad is not None:
        raise _fail("volume < 0", file, bad)
    ns = _order(ts, file)
    _grid(ns, timeframe, file)
    return _frame(ts, {**cols, **_filled(df)}, df)


def validate_mark(df: pd.DataFrame, *, timeframe: str | None = None, file: str | None = None) -> pd.DataFrame:
    """Check a mark- or index-price bar frame (open, high, low, close; no volume) and return it canonical."""
    ts = _canonical_ts(df, file)
    cols = _numeric(df, MARK_COLUMNS, file, required=True)
    _ohlc(cols, file)
    ns = _order(ts, file)
    _grid(ns, timeframe, file)
    return _frame(ts, {**cols, **_filled(df)}, df)


INTERVAL_WINDOW = 3            # settlements on a side that say what spacing is in force (funding_intervals_h)
MISSING_FACTOR = 1.5           # a gap this much longer than the spacing in force is rows missing, not an interval


def _spacing_in_force(windows: np.ndarray) -> np.ndarray:
    """Per window of up to INTERVAL_WINDOW gaps (NaN past the ends): their median when at least two are there and
    they agree (max <= MISSING_FACTOR x min), else NaN (no evidence of one spacing)."""
    there = np.isfinite(windows)
    lo = np.where(there, windows, np.inf).min(axis=1)
    hi = np.where(there, windows, -np.inf).max(axis=1)
    agree = (there.sum(axis=1) >= 2) & (hi <= MISSING_FACTOR * lo)
    mid = np.sort(np.where(there, windows, np.inf), axis=1)
    n = there.sum(axis=1)
    rows = np.arange(windows.shape[0])
    med = np.where(n % 2 == 1, mid[rows, np.maximum(n // 2, 0)],
                   0.5 * (mid[rows, np.maximum(n // 2 - 1, 0)] + mid[rows, np.minimum(n // 2, windows.shape[1] - 1)]))
    return np.where(agree, med, np.nan)


def funding_intervals_h(ns: np.ndarray) -> np.ndarray:
    """Hours each settlement covers, read from the spacing of the records (docs/data.md).

    A settlement covers the time since the previous one, unless rows are missing before it: the gap is longer
    than MISSING_FACTOR x the spacing in force next to it (up to INTERVAL_WINDOW gaps on one side, at least two,
    agreeing; the longer of the two sides when both say one). Then it covers that spacing (the side before the
    gap, else the side after). Hyperliquid's shared records lose nine days every month: each row after such a
    hole covers one hour, not 221. The interval may change (8h -> 4h -> 1h, or back after a capped print): the
    spacing before the change and the one after it differ, and the longer one is in force at the change. With
    too few rows to tell, a gap is the interval. The first row takes the gap after it; a single row 8 h.
    """
    if ns.size == 0:
        return np.zeros(0)
    if ns.size == 1:
        return np.array([8.0])
    d = np.diff(ns) / HOUR_NS
    k = INTERVAL_WINDOW
    padded = np.concatenate([np.full(k, np.nan), d, np.full(k, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, k)        # windows[j] = padded[j:j+k]
    before = _spacing_in_force(windows[: d.size])                        # the k gaps before d[j]
    after = _spacing_in_force(windows[k + 1: k + 1 + d.size])            # the k gaps after d[j]
    in_force = np.fmax(before, after)                                    # NaN where neither side says
    missing = d > MISSING_FACTOR * in_force
    covered = np.where(missing, np.where(np.isfinite(before), before, after), d)
    return np.concatenate([[covered[0]], covered])


def validate_funding(df: pd.DataFrame, *, bound: float = FUNDING_RATE_BOUND, file: str | None = None) -> pd.DataFrame:
    """Check a funding frame (rate = fraction per settlement) and add `interval_h` when it is missing (read off
    the spacing by funding_intervals_h, which keeps a hole a hole; missing settlements are still counted against
    the venue's dated interval as well, engine/market.py missing_settlements)."""
    ts = _canonical_ts(df, file)
    cols = _numeric(df, ("rate",), file, required=True)
    cols.update(_numeric(df, ("interval_h", "mark_price"), file, required=False))
    bad = _first(np.abs(cols["rate"]) >= bound)
    if bad is not None:
        raise _fail(f"|funding rate| >= bound {bound:g} per interval (percent read as fraction?)", file, bad,
                    detail=f"rate={float(cols['rate'][bad])!r}")
    if "mark_price" in cols:
        bad = _first(cols["mark_price"] <= 0)
        if bad is not None:
            raise _fail("mark_price <= 0", file, bad)
    ns = _order(ts, file)
    off = _first(ns % FUNDING_GRID_NS != 0)
    if off is not None:
        raise _fail("funding time off the settlement grid (jitter? use --repair to snap)", file, off,
                    detail=str(ts.iloc[off]))
    if "interval_h" in cols:
        bad = _first(cols["interval_h"] <= 0)
        if bad is not None:
            raise _fail("interval_h <= 0", file, bad)
    else:
        cols["interval_h"] = funding_intervals_h(ns)
    return _frame(ts, cols, df)


def validate_lending(df: pd.DataFrame, *, bound: float = LENDING_APY_BOUND, file: str | None = None) -> pd.DataFrame:
    """Check a lending-rate frame (supply_apy, optional borrow_apy/utilization: fractions per year)."""
    ts = _canonical_ts(df, file)
    cols = _numeric(df, LENDING_COLUMNS, file, required=True)
    cols.update(_numeric(df, ("borrow_apy", "utilization"), file, required=False))
    for c in ("supply_apy", "borrow_apy"):
        if c in cols:
            bad = _first((cols[c] <= -1) | (cols[c] >= bound))
            if bad is not None:
                raise _fail(f"{c} outside (-1, {bound:g}) a year (percent read as fraction?)", file, bad,
                            detail=f"{c}={float(cols[c][bad])!r}")
    _order(ts, file)
    return _frame(ts, cols, df)


def validate_flows(df: pd.DataFrame, *, file: str | None = None) -> pd.DataFrame:
    """Check a mint/redeem flow frame (quote units, both >= 0)."""
    ts = _canonical_ts(df, file)
    cols = _numeric(df, FLOW_COLUMNS, file, required=True)
    for c in FLOW_COLUMNS:
        bad = _first(cols[c] < 0)
        if bad is not None:
            raise _fail(f"{c} < 0", file, bad)
    _order(ts, file)
    return _frame(ts, cols, df)


def validate_stream(stream: str, df: pd.DataFrame, *, timeframe: str | None = None, file: str | None = None,
                    funding_bound: float = FUNDING_RATE_BOUND) -> pd.DataFrame:
    """Dispatch to the validator of a stream name (spot, perp, mark, index, collateral, funding, lending, flows)."""
    if stream in ("spot", "perp"):
        return validate_bars(df, timeframe=timeframe, file=file)
    if stream in ("mark", "index", "oracle", "collateral"):   # oracle: what a venue pays funding on; collateral: a
        #                                                   margin asset's price bars (Dataset.collateral)
        return validate_mark(df, timeframe=timeframe, file=file)
    if stream == "funding":
        return validate_funding(df, bound=funding_bound, file=file)
    if stream == "lending":
        return validate_lending(df, file=file)
    if stream == "flows":
        return validate_flows(df, file=file)
    raise DataError("unknown stream", file=file, detail=f"{stream!r}; known: spot, perp, mark, index, oracle, collateral, "
                                                      "funding, lending, flows")


# ---------------------------------------------------------------- magnitudes against the venue (issue #12)

# A rate may print up to this multiple of its symbol's cap in the venue file before it is refused: some caps
# are inferred, not recorded (Binance ETHUSDT's 0.3 % after 2024-02, Bybit's ETHUSDT bounds), and a cap change
# is dated to the week of a snapshot. Unit mistakes are 100x (percent read as a fraction) or 10,000x (bps),
# far beyond it.
FUNDING_CAP_ALLOWANCE = 1.25
LENDING_APY_BAND = (-0.5, 1.0)   # APY a year; outside it an import needs --allow-extreme


def check_funding_cap(df: pd.DataFrame, venue: str, *, base: str | None = None, file: str | None = None) -> None:
    """Refuse |rate| above the venue's cap for `base` in force at that settlement: above the cap itself where the
    venue file says it is the documented hard bound (`funding_cap_exact`, Hyperliquid's 4 %/h), else above
    FUNDING_CAP_ALLOWANCE x the cap."""
    from basisbt.data.venues import funding_caps, funding_caps_exact
    if len(df) == 0 or "rate" not in df.columns:
        return
    ns = ts_ns(df)
    caps, origin = funding_caps(venue, ns, base)
    exact = funding_caps_exact(venue, ns)
    rate = pd.to_numeric(df["rate"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    allowed = caps * np.where(exact, 1.0, FUNDING_CAP_ALLOWANCE) * (1 + 1e-9)
    bad = _first(np.abs(rate) > allowed)
    if bad is not None:
        day = pd.Timestamp(int(ns[bad]), tz="UTC").date()
        who = f"{venue} {base}" if base else venue
        raise _fail(f"|funding rate| above the {who} cap of {caps[bad]:.4%} per interval on {day} "
                    f"(percent given as a fraction? see --rate-unit)", file, bad,
                    detail=f"rate={float(rate[bad])!r}; cap from {origin}"
                           + ("" if exact[bad] else f" (x{FUNDING_CAP_ALLOWANCE:g} allowed)"))


def check_lending_band(df: pd.DataFrame, *, allow_extreme: bool = False, file: str | None = None) -> None:
    """Refuse an APY outside LENDING_APY_BAND unless allow_extreme (a unit slip, or a real spike to confirm)."""
    if allow_extreme:
        return
    lo, hi = LENDING_APY_BAND
    for c in ("supply_apy", "borrow_apy"):
        if c not in df.columns:
            continue
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = _first((v < lo) | (v > hi))
        if bad is not None:
            raise _fail(f"{c} outside {lo:.0%}..{hi:.0%} a year (unit slip? see --rate-unit; "
                        f"a real spike: --allow-extreme)", file, bad, detail=f"{c}={float(v[bad])!r}")


def _dur(ns: int) -> str:
    """A short duration for messages: 7min, 3s, 250ms."""
    for unit, size in (("h", 3600 * 10**9), ("min", 60 * 10**9), ("s", 10**9), ("ms", 10**6)):
        if ns >= size and ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns / 10**9:g}s"


def parse_tolerance(text: str) -> int:
    """'30s', '2m', '500ms' or a number of seconds -> nanoseconds (for --snap)."""
    try:
        td = pd.Timedelta(float(text), unit="s") if text.replace(".", "", 1).isdigit() else pd.Timedelta(text)
    except (ValueError, TypeError):
        raise DataError("bad --snap tolerance", detail=f"{text!r}; use e.g. 5s, 2min, 500ms") from None
    if td <= pd.Timedelta(0):
        raise DataError("bad --snap tolerance", detail=f"{text!r} must be > 0")
    return int(td.value)


def snap_to_grid(df: pd.DataFrame, grid: str, tolerance_ns: int, *, file: str | None = None
                 ) -> tuple[pd.DataFrame, str | None]:
    """Move times within tolerance of the grid onto it; a time further off is refused with its row."""
    g = timeframe_ns(grid)
    if tolerance_ns * 2 >= g:
        raise DataError(f"--snap tolerance must be under half the {grid} grid", file=file,
                        detail=f"{_dur(tolerance_ns)} >= {_dur(g // 2)}")
    ns = ts_ns(df)
    snapped = ((ns + g // 2) // g) * g
    off = np.abs(snapped - ns)
    bad = _first(off > tolerance_ns)
    if bad is not None:
        raise _fail(f"time {_dur(int(off[bad]))} off the {grid} grid, beyond --snap {_dur(tolerance_ns)}", file, bad,
                    detail=str(pd.Timestamp(int(ns[bad]), tz="UTC")))
    n = int((off > 0).sum())
    if not n:
        return df, None
    out = df.copy()
    out[TS] = pd.Series(snapped.view("datetime64[ns]"), index=df.index).dt.tz_localize("UTC").astype(TS_DTYPE)
    return out, (f"snapped {n} time(s) onto the {grid} grid (largest move {_dur(int(off.max()))}, "
                 f"tolerance {_dur(tolerance_ns)})")


# ---------------------------------------------------------------- repairs (explicit, logged)

def sort_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Sort by time (stable); returns the frame and a log line when anything moved."""
    if df[TS].is_monotonic_increasing:
        return df, None
    return df.sort_values(TS, kind="stable").reset_index(drop=True), "sorted rows by time"


def drop_exact_duplicates(df: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Drop rows identical in every data column (same time, different values stays an error).

    Columns named `_...` are bookkeeping (the importers' file line numbers) and are not compared.
    """
    dup = df.duplicated(subset=[c for c in df.columns if not str(c).startswith("_")], keep="first")
    n = int(dup.sum())
    if not n:
        return df, None
    return df[~dup].reset_index(drop=True), f"dropped {n} exact duplicate row(s)"


def snap_funding_times(df: pd.DataFrame, *, grid: str = "1h", tolerance_ms: int = 1000) -> tuple[pd.DataFrame, str | None]:
    """Snap settlement times within tolerance of the grid (Binance's ms jitter) onto it."""
    ns = ts_ns(df)
    g = timeframe_ns(grid)
    snapped = ((ns + g // 2) // g) * g
    moved = (snapped != ns) & (np.abs(snapped - ns) <= tolerance_ms * 10**6)
    n = int(moved.sum())
    if not n:
        return df, None
    out = df.copy()
    out[TS] = pd.to_datetime(np.where(moved, snapped, ns), utc=True).astype(TS_DTYPE)
    return out, f"snapped {n} funding time(s) within {tolerance_ms} ms onto the {grid} grid"


def fill_gaps(df: pd.DataFrame, timeframe: str, max_bars: int) -> tuple[pd.DataFrame, str | None]:
    """Forward-fill holes of at most `max_bars` missing bars (flat bar at the last close, volume 0)."""
    if max_bars <= 0 or len(df) < 2:
        return df, None
    tf = timeframe_ns(timeframe)
    ns = ts_ns(df)
    d = np.diff(ns) // tf - 1
    holes = np.flatnonzero((d >= 1) & (d <= max_bars))
    if not holes.size:
        return df, None
    add_ns, src = [], []
    for i in holes:
        k = int(d[i])
        add_ns.extend(int(ns[i]) + tf * j for j in range(1, k + 1))
        src.extend([i] * k)
    fill = df.iloc[src].copy()
    fill[TS] = pd.to_datetime(np.array(add_ns, dtype=np.int64), utc=True).astype(TS_DTYPE).to_numpy()
    for c in ("open", "high", "low"):
        if c in fill.columns:
            fill[c] = fill["close"].to_numpy()
    if "volume" in fill.columns:
        fill["volume"] = 0.0
    fill[FILLED] = True                       # stored with the bar: a run prices it stale and refuses orders on it
    real = df.assign(**{FILLED: df[FILLED].fillna(False).astype(bool) if FILLED in df.columns else False})
    out = pd.concat([real, fill], ignore_index=True).sort_values(TS, kind="stable").reset_index(drop=True)
    return out, (f"forward-filled {len(add_ns)} missing {timeframe} bar(s) in {holes.size} gap(s) of <= {max_bars} "
                 f"bars, stored as filled (runs count them in data_quality and refuse orders on them)")


def repair(df: pd.DataFrame, stream: str, *, timeframe: str | None = None, max_fill: int = 0,
           snap_tolerance_ms: int = 1000, file: str | None = None,
           logger: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Apply the explicit --repair fixes (sort, drop exact duplicates, snap funding jitter, fill gaps <= N bars).

    Returns the repaired frame and the log lines; every fix is also sent to `logger`.
    Validation must still be run afterwards: a repair never hides a remaining violation.
    """
    say = logger or log.info
    lines: list[str] = []
    if TS not in df.columns or not isinstance(df[TS].dtype, pd.DatetimeTZDtype):
        return df, lines                  # nothing safe to do; validation will name the problem
    steps = [sort_rows, drop_exact_duplicates]
    if stream == "funding":
        steps.append(lambda f: snap_funding_times(f, tolerance_ms=snap_tolerance_ms))
        steps.append(drop_exact_duplicates)
    if stream in ("spot", "perp", "mark", "index", "oracle") and timeframe and max_fill > 0:
        steps.append(lambda f: fill_gaps(f, timeframe, max_fill))
    for step in steps:
        df, line = step(df)
        if line:
            line = f"{file or stream}: repair: {line}"
            lines.append(line)
            say(line)
    return df, lines
