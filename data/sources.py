"""Turn a `--data` argument into a Dataset: `scenario:NAME`, `cache[:SYMBOL]`, or a dataset TOML.

Dataset TOML (paths relative to the TOML; csv/parquet/feather files in canonical columns,
`date` is accepted for `ts`):
    name = "eth-binance"
    symbol = "ETH/USDT"
    timeframe = "1h"
    [venues.binance]
    spot = "binance/spot.parquet"
    perp = "binance/perp.parquet"
    mark = "binance/mark.parquet"        # optional
    funding = "binance/funding.csv"      # optional
    [lending.aave]
    file = "aave_usdt.csv"
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pandas as pd
import pyarrow as pa

from basisbt.data.dataset import Dataset
from basisbt.data.errors import DataError
from basisbt.data.names import check_name, check_symbol
from basisbt.data.safe_io import check_text_table, read_small_text
from basisbt.data.schemas import TS


class UnknownSource(ValueError):
    """A --data value that names nothing we can load (the message lists the valid forms)."""


FORMS = "use scenario:NAME, cache[:SYMBOL] or a dataset .toml"


def resolve_data(source: str, *, timeframe: str | None = None,
                 cache_dir: str | os.PathLike | None = None) -> Dataset:
    """Load the dataset a `--data` string names.

    `timeframe` picks the bar size of a scenario or of cached bars; a dataset TOML fixes its own
    (its files hold bars of one size), so `--timeframe` with a TOML is refused rather than ignored.
    """
    if source.startswith("scenario:"):
        from basisbt.data.scenarios import load_scenario
        name = check_name(source.split(":", 1)[1], "scenario")
        return load_scenario(name, timeframe=timeframe or "1h")
    if source == "cache" or source.startswith("cache:"):
        from basisbt.data.cache import default_root, list_cache, load_dataset
        root = default_root(cache_dir)
        symbol = source.split(":", 1)[1] if ":" in source else ""
        if symbol:
            check_symbol(symbol)
        tf = check_name(timeframe or "1h", "timeframe")
        if not symbol:
            listing = list_cache(root)
            bars = listing[listing["stream"].isin(["spot", "perp"]) & (listing["timeframe"] == tf)]
            spots = sorted({s.split(":")[0] for s in bars["symbol"]})
            if len(spots) != 1:
                raise UnknownSource(f"--data cache is ambiguous or empty in {root} (symbols with {tf} bars: "
                                    f"{', '.join(spots) or 'none'}); use cache:SYMBOL, e.g. cache:ETH/USDT")
            symbol = spots[0]
        return load_dataset(root, symbol, tf)
    if source.endswith(".toml"):
        if timeframe is not None:
            raise UnknownSource(f"--timeframe {timeframe} does not apply to a dataset TOML ({source}): its files "
                                f"hold bars of one size, set by its own `timeframe` key; drop --timeframe")
        return load_dataset_toml(source)
    raise UnknownSource(f"unknown data source {source!r}; {FORMS}")


def _read_frame(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    check_text_table(path, error=lambda msg: DataError(msg.split(": ", 1)[1], file=str(path)))
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
        elif path.suffix == ".feather":
            df = pd.read_feather(path)
        elif path.suffix == ".csv":
            df = pd.read_csv(path)
        else:
            raise DataError("unknown file type (use .csv, .parquet or .feather)", file=str(path))
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        if isinstance(e, DataError):
            raise
        if isinstance(e, OSError) and not isinstance(e, FileNotFoundError) and e.errno is not None:
            raise                              # permissions, I/O: the environment, not the data
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise DataError("unreadable file", file=str(path), detail=first[:100]) from None
    if df.empty:
        raise DataError("no data rows (empty or header only)", file=str(path))
    if TS not in df.columns and "date" in df.columns:
        df = df.rename(columns={"date": TS})
    if TS in df.columns and not pd.api.types.is_datetime64_any_dtype(df[TS].dtype):
        parsed = pd.to_datetime(df[TS], utc=False, errors="coerce", format="ISO8601")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            df[TS] = parsed
    return df


def _file_entry(p: Path, where: str, value: object) -> Path:
    """The path a dataset TOML entry names (relative to the TOML); DataError unless it is a string."""
    if not isinstance(value, str) or not value:
        raise DataError(f"{where} must be a file name (a string), not {type(value).__name__} {value!r}"[:160],
                        file=str(p))
    return p.parent / value


def load_dataset_toml(path: str | os.PathLike) -> Dataset:
    """Read a dataset TOML and validate every file it names (types, names and files checked first)."""
    from basisbt.data.validate import validate_stream
    p = Path(path)
    if not p.is_file():
        raise UnknownSource(f"dataset toml {str(p)!r} not found; {FORMS}")
    text = read_small_text(p, "dataset toml", error=lambda m: DataError(m.split(": ", 1)[1], file=str(p)))
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DataError("unreadable dataset toml", file=str(p), detail=str(e)[:100]) from None
    unknown = sorted(set(spec) - {"name", "symbol", "timeframe", "venues", "lending", "flows"})
    if unknown:
        raise DataError(f"unknown key {unknown[0]!r}"[:80], file=str(p),
                        detail="known: name, symbol, timeframe, venues, lending, flows")
    if "symbol" not in spec or not spec.get("venues"):
        raise DataError("dataset toml needs symbol and at least one [venues.NAME]", file=str(p))
    for key in ("name", "symbol", "timeframe"):
        if key in spec and not isinstance(spec[key], str):
            raise DataError(f"{key} must be a string, not {type(spec[key]).__name__}", file=str(p))
    for key in ("venues", "lending"):
        if key in spec and not isinstance(spec[key], dict):
            raise DataError(f"[{key}] must be a table of NAME = {{...}}", file=str(p))
    check_symbol(spec["symbol"])
    tf = check_name(spec.get("timeframe", "1h"), "timeframe")
    tables: dict[str, dict[str, pd.DataFrame]] = {s: {} for s in ("spot", "perp", "mark", "funding", "lending")}
    for venue, files in spec["venues"].items():
        check_name(venue, f"venue in {p}")
        if not isinstance(files, dict):
            raise DataError(f"[venues.{venue}] must be a table of stream = \"file\"", file=str(p))
        for stream, rel in files.items():
            if stream not in ("spot", "perp", "mark", "funding"):
                raise DataError(f"unknown stream {stream!r} in [venues.{venue}]"[:120], file=str(p),
                                detail="known: spot, perp, mark, funding")
            f = _file_entry(p, f"venues.{venue}.{stream}", rel)
            tables[stream][venue] = validate_stream(stream, _read_frame(f), timeframe=None if stream == "funding" else tf,
                                                    file=str(f))
    for proto, entry in spec.get("lending", {}).items():
        check_name(proto, f"lending protocol in {p}")
        rel = entry.get("file") if isinstance(entry, dict) else entry
        f = _file_entry(p, f"lending.{proto}.file", rel)
        tables["lending"][proto] = validate_stream("lending", _read_frame(f), file=str(f))
    flows = None
    if "flows" in spec:
        f = _file_entry(p, "flows", spec["flows"])
        flows = validate_stream("flows", _read_frame(f), file=str(f))
    return Dataset(spec.get("name", p.stem), spec["symbol"], tf, tables["spot"], tables["perp"], tables["mark"],
                   tables["funding"], tables["lending"], flows)
