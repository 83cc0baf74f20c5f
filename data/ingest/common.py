"""Shared pieces of every importer: the Imported record, symbol spelling and time parsing."""
from __future__ import annotations

import logging
import re
import warnings
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from basisbt.data.cache import Key, key_for
from basisbt.data.errors import DataError
from basisbt.data.schemas import TS, TS_DTYPE
from basisbt.data.validate import (
    check_funding_cap,
    check_lending_band,
    parse_tolerance,
    repair,
    snap_funding_times,
    snap_to_grid,
    validate_stream,
)

log = logging.getLogger("basisbt.ingest")

LINE = "_line"   # per row: its line in the source file (CSV header = line 1; parquet: data row); never cached
SRC = "_src"     # per row: the file it came from, when several files make one dataset
ON_DUPLICATE = ("error", "keep-last", "keep-first")
QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "DAI", "BTC", "ETH", "BNB", "EUR")


@dataclass
class Imported:
    """One canonical frame ready for the cache, with the file it came from (for error messages)."""

    key: Key
    frame: pd.DataFrame
    source: str
    notes: list[str] = field(default_factory=list)    # what the importer did, logged once the data passed (finalize)


def normalize_symbol(raw: str, *, perp: bool) -> str:
    """'ETHUSDT', 'ETH-USDT', 'ETH_USDT', 'ETH/USDT' -> 'ETH/USDT' (spot) or 'ETH/USDT:USDT' (perp)."""
    s = raw.strip().upper()
    if ":" in s:
        return s if perp else s.split(":")[0]
    s = re.sub(r"-SWAP$|-PERP$|PERP$", "", s)
    parts = [p for p in re.split(r"[/_\-]", s) if p]
    if len(parts) >= 2:
        base, quote = parts[0], parts[1]
    else:
        for q in QUOTES:
            if s.endswith(q) and len(s) > len(q):
                base, quote = s[: -len(q)], q
                break
        else:
            raise DataError("cannot split symbol into base/quote", detail=f"{raw!r}; give --symbol BASE/QUOTE")
    return f"{base}/{quote}:{quote}" if perp else f"{base}/{quote}"


# Epoch times outside this span are a unit mistake (milliseconds read as seconds land in the year 56000),
# never crypto market data: refused with the unit that would fit.
PLAUSIBLE = (pd.Timestamp("2009-01-01", tz="UTC"), pd.Timestamp("2100-01-01", tz="UTC"))
EPOCH_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}     # nanoseconds per epoch unit
TIME_UNITS = ("iso", *EPOCH_NS)                                 # csv import: --time-unit / time_unit


def epoch_to_utc(values, *, file: str | None = None, unit: str | None = None) -> pd.Series:
    """Epoch numbers to UTC timestamps; without a unit each value's magnitude decides s / ms / µs / ns.
    A time outside 2009..2100 is refused with its row and the unit its magnitude suggests."""
    if unit is not None and unit not in EPOCH_NS:          # the unit first: a wrong unit is not a bad row
        raise DataError("unknown time unit", file=file, detail=f"{unit!r}; use s, ms, us, ns or iso")
    arr = pd.to_numeric(pd.Series(values), errors="coerce")
    bad = np.flatnonzero(arr.isna().to_numpy())
    if bad.size:
        raise DataError("time is not an epoch number", file=file, row=int(bad[0]) + 1,
                        detail=repr(pd.Series(values).iloc[bad[0]])[:40])
    x = arr.to_numpy(dtype=np.float64)
    if unit is None:
        mult = np.where(x >= 1e17, 1, np.where(x >= 1e14, 10**3, np.where(x >= 1e11, 10**6, 10**9)))
    else:
        mult = np.full(x.shape, EPOCH_NS[unit])
    _check_epoch_span(x, mult, file, unit)
    ns = np.round(x * mult).astype(np.int64) if unit in (None, "s") else arr.to_numpy(np.int64) * mult
    return pd.Series(pd.to_datetime(ns, utc=True)).astype(TS_DTYPE)


def _units_placing(x: float) -> list[str]:
    """The epoch units that put the number `x` inside PLAUSIBLE (the hint when a time is read in the wrong one)."""
    return [u for u, m in EPOCH_NS.items() if PLAUSIBLE[0].value <= x * m <= PLAUSIBLE[1].value]


def _check_epoch_span(x: np.ndarray, mult: np.ndarray, file: str | None, unit: str | None) -> None:
    """DataError at the first epoch number whose time (x * mult ns) is outside PLAUSIBLE, naming the unit that
    would place it inside."""
    lo, hi = (float(t.value) for t in PLAUSIBLE)
    ns = x * mult.astype(np.float64)
    out = np.flatnonzero((ns < lo) | (ns > hi))
    if not out.size:
        return
    k = int(out[0])
    fits = _units_placing(float(x[k]))
    read_as = f"read as {unit}" if unit else "read by its size"
    year = f"the year {int(1970 + ns[k] / 3.15576e16)}" if abs(ns[k]) < 1e22 else "no real year"
    hint = f"the values look like {fits[0]}: use --time-unit {fits[0]}" if fits else \
        "no epoch unit puts it in 2009..2100: not an epoch time"
    raise DataError(f"epoch time {read_as} is {year}, outside 2009..2100 ({hint})", file=file, row=k + 1,
                    detail=f"{x[k]:.0f}")


def text_to_utc(values, *, file: str | None = None, fmt: str | None = None, assume_utc: bool = False,
                tz: str | None = None) -> pd.Series:
    """Date strings to UTC. A string with an offset or zone is converted; a string without one is read in
    `tz` (an IANA zone, DST-aware), or as UTC with `assume_utc`, and is refused otherwise. Errors name the
    file and the row."""
    s = pd.Series(values).astype("string")
    num = pd.to_numeric(s, errors="coerce")
    if len(s) and num.notna().all():             # epoch numbers given as dates
        x = float(num.iloc[0])
        fits = _units_placing(x)
        raise DataError("time is an epoch number, not a date" + (f": give --time-unit {fits[0]}" if fits else ""),
                        file=file, row=1, detail=repr(s.iloc[0]))
    try:
        with warnings.catch_warnings():         # pandas' "could not infer format" note: the errors below say more
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(s, format=fmt, utc=False, errors="raise")
    except (ValueError, TypeError):             # mixed offsets, naive next to aware, or a bad value
        parsed = _parse_each(s, fmt, file)
    _check_representable(parsed, file, s)
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC").astype(TS_DTYPE)
    return localize(parsed, file=file, assume_utc=assume_utc, tz=tz, raw=s)


def _check_representable(parsed: pd.Series, file: str | None, raw: pd.Series) -> None:
    """A date the nanosecond timeline cannot hold (before 1678 or after 2261, e.g. a typo'd year 2999) is refused
    naming its row, instead of pandas' out-of-bounds error with no file."""
    years = parsed.dt.year
    bad = np.flatnonzero(((years < 1678) | (years > 2261)).fillna(False).to_numpy(bool))
    if bad.size:
        k = int(bad[0])
        raise DataError("time outside 1678..2261, the range basisbt stores", file=file, row=k + 1,
                            detail=repr(raw.iloc[k])[:60])


def _parse_each(s: pd.Series, fmt: str | None, file: str | None) -> pd.Series:
    """Strings parsed one by one (mixed offsets): aware ones to UTC; any naive one refused with its row (one file
    mixing zoned and unzoned times has no single rule to read it by)."""
    out = []
    for k, v in enumerate(s):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                t = pd.Timestamp(v) if fmt is None else pd.to_datetime(v, format=fmt)
        except (ValueError, TypeError):
            raise DataError("unparseable time", file=file, row=k + 1, detail=repr(v)[:60]) from None
        if t is pd.NaT or pd.isna(t):
            raise DataError("missing time", file=file, row=k + 1)
        if t.tzinfo is None:
            raise DataError("naive timestamp (no time zone) among times with one; give every time an offset",
                            file=file, row=k + 1, detail=repr(v)[:60])
        out.append(t.tz_convert("UTC"))
    return pd.Series(pd.DatetimeIndex(out), index=s.index)


def localize(parsed: pd.Series, *, file: str | None, assume_utc: bool = False, tz: str | None = None,
             raw: pd.Series | None = None) -> pd.Series:
    """Naive times made UTC: read in zone `tz` (DST-aware: a local time that does not exist is refused; one
    that occurs twice when clocks go back is placed by the rows' own UTC grid, or by order when it is repeated),
    or taken as UTC with `assume_utc`; refused naming the file and first row otherwise."""
    if tz is None:
        if not assume_utc:
            raise DataError("naive timestamp (no time zone); add a zone, or pass --tz ZONE (the file's local time, "
                            "e.g. Europe/London) or --assume-utc", file=file, row=1,
                            detail=repr((raw if raw is not None else parsed).iloc[0]) if len(parsed) else "")
        return parsed.dt.tz_localize("UTC").astype(TS_DTYPE)
    if assume_utc and tz not in ("UTC", "Etc/UTC"):
        raise DataError("give --tz or --assume-utc, not both", file=file, detail=f"--tz {tz}")
    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DataError("unknown time zone", file=file, detail=f"--tz {tz!r}; use an IANA name such as "
                                                            f"Europe/London, America/New_York or UTC") from None
    gone = parsed.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT").isna().to_numpy() & parsed.notna().to_numpy()
    early = parsed.dt.tz_localize(zone, ambiguous=True, nonexistent="NaT")
    missing = gone & early.isna().to_numpy()
    if missing.any():
        k = int(np.flatnonzero(missing)[0])
        raise DataError(f"local time does not exist in {tz} (clocks went forward)", file=file, row=k + 1,
                        detail=str(parsed.iloc[k]))
    if not gone.any():
        return parsed.dt.tz_localize(zone).dt.tz_convert("UTC").astype(TS_DTYPE)
    late = parsed.dt.tz_localize(zone, ambiguous=False, nonexistent="NaT")
    first_of_pair = ~parsed.duplicated(keep="first").to_numpy()
    repeated = parsed.duplicated(keep=False).to_numpy()
    e_ns, l_ns = (x.dt.tz_convert("UTC").astype(TS_DTYPE).to_numpy(dtype="datetime64[ns]").view(np.int64)
                  for x in (early, late))
    sure = ~gone
    step = int(np.median(np.diff(np.sort(e_ns[sure])))) if sure.sum() > 2 else 0
    phase = int(np.bincount(((e_ns[sure] % step) // 60_000_000_000).astype(np.int64)).argmax()) * 60_000_000_000 \
        if step > 0 else 0
    pick_early = np.zeros(len(parsed), bool)
    for k in np.flatnonzero(gone):
        if repeated[k]:                         # the hour shown twice: the first is summer time
            pick_early[k] = bool(first_of_pair[k])
            continue
        on_grid = [step > 0 and (t - phase) % step == 0 for t in (e_ns[k], l_ns[k])]
        if on_grid[0] == on_grid[1]:
            raise DataError(f"local time occurs twice in {tz} (clocks went back) and the rows do not say which",
                            file=file, row=int(k) + 1, detail=f"{parsed.iloc[k]}; give times with an offset or in UTC")
        pick_early[k] = on_grid[0]
    out = np.where(pick_early | sure, e_ns, l_ns)
    return pd.Series(pd.to_datetime(out, utc=True), index=parsed.index).astype(TS_DTYPE)


def column_to_utc(col: pd.Series, *, file: str | None, unit: str | None = "iso", fmt: str | None = None,
                  assume_utc: bool = False, tz: str | None = None) -> pd.Series:
    """A time column of any kind to UTC: datetime values (aware: converted; naive: `localize`), epoch numbers in
    `unit` (s, ms, us, ns; None: by magnitude), or text (`text_to_utc`)."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_convert("UTC").astype(TS_DTYPE)
    if pd.api.types.is_datetime64_dtype(col.dtype):
        return localize(col, file=file, assume_utc=assume_utc, tz=tz)
    if unit == "iso":
        return text_to_utc(col, file=file, fmt=fmt, assume_utc=assume_utc, tz=tz)
    return epoch_to_utc(col, file=file, unit=unit)


def finish_funding(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Snap settlement-time jitter onto the hour grid (issue #3: always, logged)."""
    if TS in frame.columns and isinstance(frame[TS].dtype, pd.DatetimeTZDtype):
        frame, line = snap_funding_times(frame)
        if line:
            log.info("%s: %s", source, line)
    return frame


def apply_repair(items: list[Imported], *, max_fill: int = 0) -> list[str]:
    """Run the --repair fixes over imported frames in place; returns the log lines."""
    lines: list[str] = []
    for it in items:
        tf = None if it.key.timeframe in ("settle", "rate") else it.key.timeframe
        it.frame, got = repair(it.frame, it.key.stream, timeframe=tf, max_fill=max_fill, file=it.source)
        lines += got
    return lines


@dataclass(frozen=True)
class ImportOptions:
    """How an import treats files as they come (the flags every `basisbt import` shares)."""

    on_duplicate: str = "error"       # error | keep-last | keep-first (same time twice in one dataset)
    snap: str | None = None           # tolerance ('30s', '2min'): bars this close to the grid are moved onto it
    repair: bool = False              # the explicit --repair fixes (sort, exact duplicates, funding jitter)
    max_fill: int = 0                 # --fill-gaps N (with repair)
    allow_extreme: bool = False       # lending APY outside -50 %..+100 % a year


def line_of(frame: pd.DataFrame, pos: int) -> tuple[str | None, int]:
    """(file or None, line) a 0-based frame position came from; without bookkeeping, the 1-based row."""
    src = str(frame[SRC].iloc[pos]) if SRC in frame.columns else None
    return src, int(frame[LINE].iloc[pos]) if LINE in frame.columns else pos + 1


def relabel(err: DataError, frame: pd.DataFrame, file: str | None = None) -> DataError:
    """Point an error raised on a frame row at the file and line that row was read from."""
    if err.row is None or not 1 <= err.row <= len(frame):
        return err if err.file else DataError(err.rule, file=file, row=err.row, detail=err.detail)
    src, line = line_of(frame, err.row - 1)
    return DataError(err.rule, file=src or err.file or file, row=line, detail=err.detail)


def number_lines(frame: pd.DataFrame, first_line: int = 1, source: str | None = None) -> pd.DataFrame:
    """Add the bookkeeping columns: consecutive line numbers from first_line (and the source file)."""
    frame = frame.copy()
    frame[LINE] = np.arange(len(frame), dtype=np.int64) + first_line
    if source is not None:
        frame[SRC] = pd.Categorical([source] * len(frame))
    return frame


def resolve_duplicates(frame: pd.DataFrame, policy: str, file: str | None) -> tuple[pd.DataFrame, str | None]:
    """Apply --on-duplicate to rows sharing a time: refuse (naming both lines), or keep the last/first in file order.

    An error's row is the frame position, to be turned into a file line by `relabel` (finalize does).
    """
    if policy not in ON_DUPLICATE:
        raise DataError("unknown --on-duplicate policy", file=file, detail=f"{policy!r}; use {', '.join(ON_DUPLICATE)}")
    if TS not in frame.columns or len(frame) < 2:
        return frame, None
    later = frame.duplicated(subset=[TS], keep="first").to_numpy()
    if not later.any():
        return frame, None
    if policy == "error":
        pos = int(np.flatnonzero(later)[0])
        first = int(np.flatnonzero((frame[TS] == frame[TS].iloc[pos]).to_numpy())[0])
        src, line = line_of(frame, first)
        seen = f"line {line}" + (f" of {src}" if src and src != line_of(frame, pos)[0] else "")
        raise DataError("duplicate time (choose --on-duplicate keep-last or keep-first)", file=file, row=pos + 1,
                        detail=f"{frame[TS].iloc[pos]}, first at {seen}")     # row: a frame position (relabel)
    keep = "last" if policy == "keep-last" else "first"
    drop = frame.duplicated(subset=[TS], keep=keep).to_numpy()
    out = frame[~drop]
    if not out[TS].is_monotonic_increasing:       # an overlapping, appended download: the kept rows in time order
        out = out.sort_values(TS, kind="stable")
    return out.reset_index(drop=True), f"--on-duplicate {policy}: dropped {int(drop.sum())} row(s) whose time appears again"


def finalize(items: list[Imported], opts: ImportOptions = ImportOptions()) -> list[str]:
    """Snap, repair, resolve duplicates, check magnitudes against the venue and validate, in place.

    Errors name the file and the line each row was read from, even when a file was split by a
    venue/symbol column or several files were joined; the bookkeeping columns are dropped at the end.
    Returns the log lines (each also logged).
    """
    tol = parse_tolerance(opts.snap) if opts.snap else None
    lines: list[str] = []

    def note(line: str | None, file: str) -> None:
        if line:
            lines.append(f"{file}: {line}")
            log.info("%s: %s", file, line)
    def step(frame: pd.DataFrame, source: str, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        """fn(frame, ...) with a DataError relabelled to the source file and the frame's rows as the user numbers
        them."""
        try:
            return fn(frame, *a, **kw)
        except DataError as e:
            raise relabel(e, frame, source) from None

    for it in items:
        frame, file = it.frame, it.source
        stream = it.key.stream
        tf = None if it.key.timeframe in ("settle", "rate") else it.key.timeframe
        if tol is not None and TS in frame.columns and isinstance(frame[TS].dtype, pd.DatetimeTZDtype):
            grid = tf if stream in ("spot", "perp", "mark", "index", "oracle") else ("1h" if stream == "funding" else None)
            if grid:
                frame, line = step(frame, file, snap_to_grid, grid, tol, file=file)
                note(line, file)
        if opts.repair:
            frame, got = step(frame, file, repair, stream, timeframe=tf, max_fill=opts.max_fill, file=file)
            lines += got                                  # repair() logs its own lines
        frame, line = step(frame, file, resolve_duplicates, opts.on_duplicate, file)
        note(line, file)
        if stream == "funding":
            step(frame, file, check_funding_cap, it.key.venue, base=it.key.symbol.split("/")[0], file=file)
        if stream == "lending":
            step(frame, file, check_lending_band, allow_extreme=opts.allow_extreme, file=file)
        it.frame = step(frame, file, _validate, stream, tf, file)
    for it in items:                        # the importer's own notes, once everything passed (an error is one line)
        for line in it.notes:
            note(line, it.source)
    return lines


def _validate(frame: pd.DataFrame, stream: str, timeframe: str | None, file: str) -> pd.DataFrame:
    return validate_stream(stream, frame, timeframe=timeframe, file=file)


def make(stream: str, venue: str, symbol: str, timeframe: str | None, frame: pd.DataFrame, source: str) -> Imported:
    """An Imported record with the cache key filled in."""
    if stream == "funding":
        frame = finish_funding(frame, source)
    return Imported(key_for(stream, venue, symbol, timeframe), frame, source)
