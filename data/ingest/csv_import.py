"""Import any CSV/parquet with a column mapping given by flags or a small TOML.

Mapping TOML (every key optional except stream and time):
    stream = "funding"            # spot | perp | mark | index | oracle | funding | lending
    time = "timestamp_utc"        # the time column
    time_unit = "iso"             # iso | s | ms | us | ns (epochs outside 2009..2100 are refused as a unit slip)
    tz = "Europe/London"          # naive times are local times in this zone (DST-aware); or assume_utc = true
    venue = "binance"             # or venue_column = "exchange" to split one file into many venues
    symbol = "ETH/USDT"           # or symbol_column = "symbol"
    timeframe = "1h"              # bars only
    rate_unit = "fraction"        # funding: fraction | percent | bps; lending: fraction | percent | ray
    rate_basis = "interval"       # funding: interval | annualized (APR; converted with the row's interval)
    apr = false                   # lending: the values are APRs (ray always is); converted to APY
    [columns]                     # canonical = source
    rate = "funding_rate"
    interval_h = "interval_hours"
    [where]                       # keep only rows whose column equals the value (or one of "a,b")
    symbol = "ETH-USDT"
    ignore = ["mark_price"]       # source columns never read, even when named like a canonical one

Only the columns a stream needs (open..volume; rate; supply_apy) are taken by their canonical name without a
mapping. An optional one (interval_h, mark_price, borrow_apy, utilization) is taken by name only when every row
has a number; a column with gaps (an all-empty `mark_price` in Bybit and Hyperliquid exports) is left out and
said so, unless mapped in [columns] (then a gap is an error with its row).

Rows carry their line in the file (CSV header = line 1) so every later error names file and line,
also after the file is split by a venue/symbol column.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from basisbt.data.errors import DataError
from basisbt.data.ingest.common import LINE, Imported, column_to_utc, log, make, normalize_symbol, relabel
from basisbt.data.ingest.units import funding_fraction, lending_apy
from basisbt.data.safe_io import file_problem, read_small_text
from basisbt.data.schemas import TS
from basisbt.data.validate import funding_intervals_h

STREAM_COLS = {
    "spot": ("open", "high", "low", "close", "volume"), "perp": ("open", "high", "low", "close", "volume"),
    "mark": ("open", "high", "low", "close"), "index": ("open", "high", "low", "close"),
    "oracle": ("open", "high", "low", "close"),
    "funding": ("rate", "interval_h", "mark_price"), "lending": ("supply_apy", "borrow_apy", "utilization"),
}
OPTIONAL_COLS = ("interval_h", "mark_price", "borrow_apy", "utilization")   # read by name only when complete
HOURS_PER_YEAR = 24 * 365


@dataclass
class CsvMapping:
    """How the columns of a foreign table map onto a canonical stream (see module doc)."""

    stream: str
    time: str = "ts"
    time_unit: str = "iso"
    time_format: str | None = None
    assume_utc: bool = False
    tz: str | None = None
    venue: str | None = None
    venue_column: str | None = None
    symbol: str | None = None
    symbol_column: str | None = None
    timeframe: str | None = None
    rate_unit: str = "fraction"
    rate_basis: str = "interval"
    apr: bool = False
    columns: dict[str, str] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)
    ignore: list[str] = field(default_factory=list)


def load_mapping(path: str | Path, **overrides) -> CsvMapping:
    """Read a mapping TOML; unknown keys are an error; non-None overrides (CLI flags) win."""
    p = Path(path)
    text = read_small_text(p, "mapping TOML",            # missing, a directory, huge or not UTF-8: one line
                           error=lambda msg: DataError(msg.split(": ", 1)[1], file=str(p)))
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DataError("unreadable mapping toml", file=str(p), detail=str(e)[:100]) from None
    known = {f.name for f in fields(CsvMapping)}
    bad = sorted(set(raw) - known)
    if bad:
        raise DataError(f"unknown mapping key {bad[0]!r}", file=str(p), detail=f"known: {', '.join(sorted(known))}")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    if "stream" not in raw:
        raise DataError("mapping needs a stream", file=str(p))
    return CsvMapping(**raw)


def read_table(path: Path, rule: str = "unreadable table") -> pd.DataFrame:
    """A parquet, feather, JSON or CSV file (CSV cells as text) with each row's line number, or DataError(rule).

    The `_line` column is the row's line in a CSV (header = line 1; blank lines counted, then dropped),
    or its 1-based data row in other formats.
    """
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
        elif path.suffix == ".feather":
            df = pd.read_feather(path)
        elif path.suffix == ".json":
            df = pd.read_json(path)
        else:
            df = pd.read_csv(path, dtype=str, skipinitialspace=True, skip_blank_lines=False)
            df[LINE] = np.arange(len(df), dtype=np.int64) + 2
            return df[df.drop(columns=LINE).notna().any(axis=1)].reset_index(drop=True)
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as e:
        raise DataError(rule, file=str(path), detail=str(e).splitlines()[0][:100]) from None
    df = df.reset_index(drop=True)
    df[LINE] = np.arange(len(df), dtype=np.int64) + 1
    return df


def apply_where(df: pd.DataFrame, where: dict[str, str], file: str) -> pd.DataFrame:
    """Keep the rows whose columns equal the given values ('a,b' = either); no row left is an error."""
    for col, want in where.items():
        if col not in df.columns:
            raise DataError(f"--where column {col!r} not in file", file=file,
                            detail=f"columns: {', '.join(str(c) for c in df.columns if c != LINE)}")
        vals = [v.strip() for v in str(want).split(",")]
        df = df[df[col].astype("string").str.strip().isin(vals).fillna(False).to_numpy()]
    if where and df.empty:
        raise DataError("no row matches --where", file=file,
                        detail=", ".join(f"{k}={v}" for k, v in where.items()))
    return df.reset_index(drop=True)


def _times(col: pd.Series, m: CsvMapping, file: str) -> pd.Series:
    return column_to_utc(col, file=file, unit=m.time_unit, fmt=m.time_format, assume_utc=m.assume_utc, tz=m.tz)


def _source_column(df: pd.DataFrame, m: CsvMapping, canon: str, file: str) -> str | None:
    """The source column read as canonical column `canon`, or None: a mapped one (it must exist), else one of
    the same name unless ignored, and for an optional column only when every row of it is a number."""
    if canon in m.columns:
        src = m.columns[canon]
        if src not in df.columns:
            raise DataError(f"missing column {src!r} (mapped to {canon})", file=file,
                            detail=f"columns: {', '.join(str(c) for c in df.columns if c != LINE)}")
        if src in m.ignore:
            raise DataError(f"column {src!r} is both mapped (to {canon}) and ignored", file=file)
        return src
    if canon not in df.columns or canon in m.ignore:
        return None
    if canon in OPTIONAL_COLS and pd.to_numeric(df[canon], errors="coerce").isna().any():
        log.info("%s: column %r has empty or non-numeric cells and is not mapped: left out (map it with --col "
                 "%s=%s to read it)", file, canon, canon, canon)
        return None
    return canon


def convert(df: pd.DataFrame, m: CsvMapping, file: str) -> pd.DataFrame:
    """Apply a mapping to one venue/symbol's rows: canonical columns, fraction units, UTC times."""
    if m.stream not in STREAM_COLS:
        raise DataError("unknown stream", file=file, detail=f"{m.stream!r}; known: {', '.join(STREAM_COLS)}")
    if m.time not in df.columns:
        raise DataError(f"missing time column {m.time!r}", file=file, detail=f"columns: {', '.join(map(str, df.columns))}")
    out = pd.DataFrame({TS: _times(df[m.time], m, file).array})
    unknown = sorted(set(m.columns) - set(STREAM_COLS[m.stream]))
    if unknown:
        raise DataError(f"--col {unknown[0]}=...: not a column of the {m.stream} stream", file=file,
                        detail=f"its columns: {', '.join(STREAM_COLS[m.stream])}")
    for canon in STREAM_COLS[m.stream]:
        src = _source_column(df, m, canon, file)
        if src is not None:
            out[canon] = _numbers(df[src], canon, file)
    if m.stream == "funding" and "rate" in out.columns:
        out["rate"] = funding_fraction(out["rate"].to_numpy(), m.rate_unit, file=file)
        if m.rate_basis == "annualized":
            ns = out[TS].to_numpy(dtype="datetime64[ns]").view(np.int64)
            hours = out["interval_h"].to_numpy() if "interval_h" in out else funding_intervals_h(np.sort(ns))
            out["rate"] = out["rate"] * hours / HOURS_PER_YEAR
            log.info("%s: annualized funding converted to per-interval rates (rate x interval_h / 8760)", file)
        elif m.rate_basis != "interval":
            raise DataError("rate_basis must be interval or annualized", file=file, detail=repr(m.rate_basis))
    if m.stream == "lending":
        for c in ("supply_apy", "borrow_apy"):
            if c in out:
                out[c] = lending_apy(out[c].to_numpy(), m.rate_unit, apr=m.apr, file=file, column=c)
    if LINE in df.columns:
        out[LINE] = df[LINE].to_numpy()
    return out


def _numbers(col: pd.Series, canon: str, file: str) -> np.ndarray:
    """A source column as floats; a cell that is not a number is an error with its row (an empty one is NaN)."""
    v = pd.to_numeric(col, errors="coerce")
    bad = np.flatnonzero(v.isna().to_numpy() & col.notna().to_numpy() & (col.astype("string").str.strip() != "")
                         .fillna(False).to_numpy())
    if bad.size:
        raise DataError(f"non-numeric value in {canon!r}", file=file, row=int(bad[0]) + 1,
                        detail=repr(col.iloc[bad[0]])[:40])
    return v.to_numpy(dtype=np.float64, na_value=np.nan)


def import_csv(path: str | Path, mapping: CsvMapping) -> list[Imported]:
    """Read a CSV/parquet through a mapping; a venue/symbol column splits it into one dataset each."""
    p = Path(path)
    why = file_problem(p, "CSV or parquet file")
    if why:
        raise DataError(why, file=str(p))
    m = mapping
    df = apply_where(read_table(p), m.where, str(p))
    if m.stream in ("spot", "perp", "mark", "index", "oracle") and not m.timeframe:
        raise DataError("bars need a timeframe (--timeframe or timeframe = ...)", file=str(p))
    for col in (m.venue_column, m.symbol_column):
        if col and col not in df.columns:
            raise DataError(f"missing column {col!r}", file=str(p), detail=f"columns: {', '.join(map(str, df.columns))}")
    if not m.venue and not m.venue_column:
        raise DataError("no venue: pass --venue or venue_column", file=str(p))
    if not m.symbol and not m.symbol_column:
        raise DataError("no symbol: pass --symbol or symbol_column", file=str(p))
    by = [c for c in (m.venue_column, m.symbol_column) if c]
    groups = df.groupby(by, sort=True, dropna=False) if by else [((), df)]
    perp = m.stream not in ("spot", "lending")
    out = []
    for gkey, part in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        vals = dict(zip(by, gkey, strict=True))
        venue = str(vals.get(m.venue_column, m.venue)).lower()
        raw_sym = str(vals.get(m.symbol_column, m.symbol))
        symbol = raw_sym.upper() if m.stream == "lending" else normalize_symbol(raw_sym, perp=perp)
        label = str(p) if not by else f"{p}[{'/'.join(map(str, gkey))}]"
        part = part.reset_index(drop=True)
        try:
            frame = convert(part, m, label)
        except DataError as e:
            raise relabel(e, part, label) from None
        if (by or m.where) and not frame[TS].is_monotonic_increasing:    # one series picked out of many
            frame = frame.sort_values(TS, kind="stable").reset_index(drop=True)
        out.append(make(m.stream, venue, symbol, m.timeframe, frame, label))
    return out
