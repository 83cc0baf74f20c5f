"""Turn a data source into a Dataset: `scenario:NAME`, `cache[:SYMBOL[,SYMBOL...]]`, a dataset TOML, or a generated
stress path `stress:SEED:PATH[:key=value,...]` (data/stress/source.py).

`scenario:NAME:SEED` draws a synthetic scenario with another seed. `cache:ETH/USDT,BTC/USDT` loads each symbol's
cached bars and funding and combines them into one Dataset of several base assets (`Dataset.combine`): the first symbol is the primary (the cache's
lending rides with it); all must share quote and timeframe, and an asset may appear once.

Dataset TOML (paths relative to the TOML; csv/parquet/feather files in canonical columns,
`date` is accepted for `ts`):
    name = "eth-binance"
    symbol = "ETH/USDT"
    timeframe = "1h"
    [venues.binance]
    spot = "binance/spot.parquet"
    perp = "binance/perp.parquet"
    mark = "binance/mark.parquet"        # optional
    index = "binance/index.parquet"      # optional: index-price bars
    oracle = "hl/oracle.parquet"         # optional: the price a venue pays funding on (Hyperliquid's oracle)
    funding = "binance/funding.csv"      # optional
    [lending.aave]
    file = "aave_usdt.csv"

A stream may instead name a raw file with the options of `basisbt import csv` (the keys of a
mapping TOML, data/ingest/csv_import.py, without stream/venue/symbol/timeframe, which come from
here) and of every import (on_duplicate, snap, repair, allow_extreme):
    funding = { file = "raw/funding_7venues.csv", time = "timestamp_utc", columns = { rate = "funding_rate" },
                where = { exchange = "binance", symbol = "ETH-USDT" }, rate_unit = "percent" }
A lending table with more keys than `file` goes through `basisbt import lending` (format, rate_unit,
apr, base_only, where, assume_utc, tz, on_duplicate, allow_extreme). Funding is checked against the
venue's cap and lending against the APY band, as on import.

Several base assets: `symbol` is the primary, its streams under [venues.*] as above; each further
asset is a table `[assets."BASE/QUOTE".venues.VENUE]` with the same stream keys (canonical files or
raw-file tables, funding checked against that asset's cap):
    [assets."BTC/USDT".venues.binance]
    spot = "binance/btc_spot.parquet"
    perp = "binance/btc_perp.parquet"
    mark = "binance/btc_mark.parquet"
    funding = { file = "raw/funding_7venues.csv", time = "timestamp_utc", columns = { rate = "funding_rate" },
                where = { exchange = "binance", symbol = "BTC-USDT" } }
An asset table holds only `venues` (lending, flows and venue_events belong to the primary); every
asset shares the primary's quote and timeframe and appears once (Dataset.combine, data/dataset.py).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow as pa

from basisbt.data.dataset import Dataset
from basisbt.data.errors import ConfigError, DataError
from basisbt.data.names import check_name, check_symbol
from basisbt.data.safe_io import check_text_table, file_problem, read_small_text
from basisbt.data.schemas import TS
from basisbt.data.venue_events import parse_venue_events


class UnknownSource(ConfigError):
    """A data source that names nothing we can load (the message lists the valid forms)."""


FORMS = "use scenario:NAME[:SEED], cache[:SYMBOL[,SYMBOL...]], a dataset .toml or stress:SEED:PATH[:key=value,...]"


def resolve_data(source: str, *, timeframe: str | None = None,
                 cache_dir: str | os.PathLike | None = None) -> Dataset:
    """Load the dataset a data source string names (`bb.run`'s `data`, the CLI's `--data`).

    `timeframe` picks the bar size of a scenario or of cached bars; a dataset TOML fixes its own
    (its files hold bars of one size), so `--timeframe` with a TOML is refused rather than ignored.
    """
    if source.startswith("scenario:"):
        from basisbt.data.scenarios import load_scenario
        name, _, seed = source.split(":", 1)[1].partition(":")
        name = check_name(name, "scenario")
        if seed and not seed.isdigit():
            raise UnknownSource(f"{{data}} {source[:80]!r}: the seed after the scenario's name is a whole number, "
                                f"e.g. scenario:{name}:7", key="data")
        # timeframe None: the scenario's own default bar size; seed None: its own default seed
        return load_scenario(name, timeframe=timeframe, seed=int(seed) if seed else None)
    if source == "cache" or source.startswith("cache:"):
        from basisbt.data.cache import default_root, list_cache, load_dataset
        root = default_root(cache_dir)
        symbol = source.split(":", 1)[1] if ":" in source else ""
        tf = check_name(timeframe or "1h", "timeframe")
        if "," in symbol:
            return _cache_assets(source, root, _asset_symbols(source, symbol.split(",")), tf)
        if symbol:
            check_symbol(symbol)
        if not symbol:
            listing = list_cache(root)
            bars = listing[listing["stream"].isin(["spot", "perp"]) & (listing["timeframe"] == tf)]
            spots = sorted({s.split(":")[0] for s in bars["symbol"]})
            if len(spots) != 1:
                raise UnknownSource(f"{{data}} cache is ambiguous or empty in {root} (symbols with {tf} bars: "
                                    f"{', '.join(spots) or 'none'}); use cache:SYMBOL, e.g. cache:ETH/USDT, or several "
                                    f"assets at once, e.g. cache:ETH/USDT,BTC/USDT (`basisbt data list` shows them)",
                                    key="data")
            symbol = spots[0]
        return load_dataset(root, symbol, tf)
    if source.startswith("stress:"):
        from basisbt.data.stress.source import load_stress
        if timeframe not in (None, "1h"):
            raise UnknownSource(f"{{timeframe}} {timeframe} does not apply to a stress path ({source[:60]}): its bars "
                                "are hourly; leave {timeframe} out", key="timeframe")
        return load_stress(source, resolve_data)
    if source.endswith(".toml"):
        if timeframe is not None:
            raise UnknownSource(f"{{timeframe}} {timeframe} does not apply to a dataset TOML ({source}): its files "
                                f"hold bars of one size, set by its own `timeframe` key; leave {{timeframe}} out",
                                key="timeframe")
        return load_dataset_toml(source)
    raise UnknownSource(f"unknown data source {source!r}; {FORMS}")


def _asset_symbols(where: str, symbols: list[str]) -> list[str]:
    """Spot symbols of a multi-asset source, checked: BASE/QUOTE each, one quote, no asset twice (UnknownSource)."""
    out: list[str] = []
    for raw in symbols:
        sym = raw.strip()
        if not sym:
            raise UnknownSource(f"{where}: empty symbol in the list; use e.g. cache:ETH/USDT,BTC/USDT")
        check_symbol(sym)
        spot = sym.split(":")[0]
        if spot.count("/") != 1 or not all(spot.split("/")):
            raise UnknownSource(f"{where}: {sym!r} is not a BASE/QUOTE symbol; use e.g. cache:ETH/USDT,BTC/USDT")
        out.append(spot)
    bases = [s.split("/")[0] for s in out]
    twice = sorted({b for b in bases if bases.count(b) > 1})
    if twice:
        raise UnknownSource(f"{where}: asset {twice[0]} given twice; list each base asset once")
    quotes = list(dict.fromkeys(s.split("/")[1] for s in out))
    if len(quotes) > 1:
        raise UnknownSource(f"{where}: mixed quotes {', '.join(quotes)}; the assets of one run share a quote "
                            f"(e.g. {', '.join(f'{b}/{quotes[0]}' for b in bases)})")
    return out


def _cache_assets(source: str, root: Path, symbols: list[str], tf: str) -> Dataset:
    """`cache:A,B,...`: each symbol's cached dataset, combined (first = primary); their notes kept, prefixed."""
    from basisbt.data.cache import load_dataset
    parts = [load_dataset(root, s, tf) for s in symbols]
    ds = Dataset.combine(parts, name=source)
    extra_notes = tuple(f"{d.base}: {n}" for d in parts[1:] for n in d.notes)
    return replace(ds, notes=ds.notes + extra_notes) if extra_notes else ds


def _read_frame(path: Path) -> pd.DataFrame:
    why = file_problem(path, "bar or funding file")
    if why:
        raise DataError(why, file=str(path))
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
        from basisbt.data.ingest.common import text_to_utc
        try:                                    # zoned text to UTC; a naive one is refused naming file and row
            df[TS] = text_to_utc(df[TS], file=str(path)).array
        except DataError as e:
            if not e.rule.startswith("naive"):
                raise
            raise DataError("naive timestamp (no time zone); give times an offset (e.g. 2025-01-01T00:00Z), or "
                            "name the file in a table with tz = \"ZONE\" or assume_utc = true", file=str(path),
                            row=e.row, detail=e.detail) from None
    return df


VENUE_STREAMS = ("spot", "perp", "mark", "index", "oracle", "funding")
IMPORT_KEYS = ("on_duplicate", "snap", "repair", "allow_extreme")
LENDING_KEYS = ("format", "rate_unit", "apr", "base_only", "where", "assume_utc", "tz")


def _import_options(entry: dict, toml: Path, where: str):
    from basisbt.data.ingest.common import ImportOptions
    opts = {k: entry.pop(k) for k in IMPORT_KEYS if k in entry}
    try:
        return ImportOptions(**opts)
    except TypeError as e:
        raise DataError(f"bad import option in {where}", file=str(toml), detail=str(e)) from None


def _raw_stream(toml: Path, venue: str, stream: str, symbol: str, tf: str, entry: dict,
                table: str = "") -> pd.DataFrame:
    """A raw file named by a table: read it through the csv importer's mapping and the import checks."""
    from basisbt.data.ingest.common import finalize
    from basisbt.data.ingest.csv_import import CsvMapping, import_csv
    where = f"[{table or f'venues.{venue}'}].{stream}"
    entry = dict(entry)
    if "file" not in entry:
        raise DataError(f"{where} needs file = ...", file=str(toml))
    f = toml.parent / entry.pop("file")
    opts = _import_options(entry, toml, where)
    fixed = {"stream", "venue", "symbol", "timeframe", "venue_column", "symbol_column"} & set(entry)
    if fixed:
        raise DataError(f"{where}: key {sorted(fixed)[0]!r} is set by the dataset toml", file=str(toml),
                        detail="filter a multi-venue file with where = { column = value }")
    try:
        m = CsvMapping(stream=stream, venue=venue, symbol=symbol, timeframe=None if stream == "funding" else tf,
                       **entry)
    except TypeError as e:
        raise DataError(f"unknown key in {where}", file=str(toml), detail=str(e)) from None
    items = import_csv(f, m)
    finalize(items, opts)
    return items[0].frame


def _raw_lending(toml: Path, proto: str, entry: dict) -> pd.DataFrame:
    from basisbt.data.ingest.common import finalize
    from basisbt.data.ingest.lending import import_lending
    entry = dict(entry)
    f = toml.parent / entry.pop("file")
    opts = _import_options(entry, toml, f"[lending.{proto}]")
    bad = sorted(set(entry) - set(LENDING_KEYS) - {"asset"})
    if bad:
        raise DataError(f"unknown key {bad[0]!r} in [lending.{proto}]", file=str(toml),
                        detail=f"known: file, asset, {', '.join(LENDING_KEYS + IMPORT_KEYS)}")
    kw = {("fmt" if k == "format" else "unit" if k == "rate_unit" else k): v for k, v in entry.items() if k != "asset"}
    items = import_lending(f, protocol=proto, asset=entry.get("asset", "USDT"), **kw)
    finalize(items, opts)
    return items[0].frame


def _canonical(stream: str, f: Path, tf: str | None, venue: str | None = None,
               allow_extreme: bool = False, base: str | None = None) -> pd.DataFrame:
    """A file already in canonical columns, validated and checked like an import (rows are CSV lines)."""
    from basisbt.data.validate import check_funding_cap, check_lending_band, validate_stream
    df = _read_frame(f)
    try:
        if stream == "funding" and venue and TS in df.columns and isinstance(df[TS].dtype, pd.DatetimeTZDtype):
            check_funding_cap(df, venue, base=base, file=str(f))
        if stream == "lending":
            check_lending_band(df, allow_extreme=allow_extreme, file=str(f))
        return validate_stream(stream, df, timeframe=tf, file=str(f))
    except DataError as e:
        if e.row is not None and f.suffix == ".csv":
            raise DataError(e.rule, file=e.file, row=e.row + 1, detail=e.detail) from None     # header = line 1
        raise


def _file_entry(p: Path, where: str, value: object) -> Path:
    """The path a dataset TOML entry names (relative to the TOML); DataError unless it is a string."""
    if not isinstance(value, str) or not value:
        raise DataError(f"{where} must be a file name (a string), not {type(value).__name__} {value!r}"[:160],
                        file=str(p))
    why = file_problem(p.parent / value, "bar, funding or rate file")
    if why:                                     # name the TOML and its key, not only the file it points to
        raise DataError(f"{where} = {value!r}: {why} ({p.parent / value})"[:300], file=str(p))
    return p.parent / value


def load_dataset_toml(path: str | os.PathLike) -> Dataset:
    """Read a dataset TOML and validate every file it names (types and names checked first; raw files go
    through the importers' mapping, canonical ones through the same cap and band checks)."""
    p = Path(path)
    if not p.is_file():
        raise UnknownSource(f"dataset toml {str(p)!r} not found; {FORMS}")
    text = read_small_text(p, "dataset toml", error=lambda m: DataError(m.split(": ", 1)[1], file=str(p)))
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DataError("unreadable dataset toml", file=str(p), detail=str(e)[:100]) from None
    unknown = sorted(set(spec) - {"name", "symbol", "timeframe", "venues", "lending", "flows", "venue_events",
                                  "assets"})
    if unknown:
        raise DataError(f"unknown key {unknown[0]!r}"[:80], file=str(p),
                        detail="known: name, symbol, timeframe, venues, lending, flows, venue_events, assets")
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
    assets = _asset_specs(p, spec)              # checked before any file is read
    tables: dict[str, dict[str, pd.DataFrame]] = {s: {} for s in VENUE_STREAMS + ("lending",)}
    tables.update(_venue_streams(p, spec["venues"], spec["symbol"], tf, "venues"))
    for proto, entry in spec.get("lending", {}).items():
        check_name(proto, f"lending protocol in {p}")
        if isinstance(entry, dict) and set(entry) - {"file", "allow_extreme"}:
            tables["lending"][proto] = _raw_lending(p, proto, entry)
        else:
            rel = entry.get("file") if isinstance(entry, dict) else entry
            extreme = bool(entry.get("allow_extreme", False)) if isinstance(entry, dict) else False
            tables["lending"][proto] = _canonical("lending", _file_entry(p, f"lending.{proto}.file", rel), None,
                                                  allow_extreme=extreme)
    flows = None
    if "flows" in spec:
        flows = _canonical("flows", _file_entry(p, "flows", spec["flows"]), None)
    extras = []
    for sym, venues in assets.items():
        t = _venue_streams(p, venues, sym, tf, f'assets."{sym}".venues')
        extras.append(Dataset(f"{spec.get('name', p.stem)}:{sym.split('/')[0]}", sym, tf, t["spot"], t["perp"],
                              t["mark"], t["funding"], index=t["index"], oracle=t["oracle"]))
    perp_venues = sorted(set(tables["perp"]).union(*(d.perp for d in extras)))
    events = parse_venue_events(spec.get("venue_events", []), perp_venues, str(p))
    ds = Dataset(spec.get("name", p.stem), spec["symbol"], tf, tables["spot"], tables["perp"], tables["mark"],
                 tables["funding"], tables["lending"], flows, index=tables["index"], venue_events=events,
                 oracle=tables["oracle"])
    return Dataset.combine([ds, *extras], name=ds.name) if extras else ds


def _venue_streams(p: Path, venues: dict, symbol: str, tf: str, table: str) -> dict[str, dict[str, pd.DataFrame]]:
    """stream -> venue -> frame of one asset's `[<table>.VENUE]` tables (canonical files or raw-file tables)."""
    tables: dict[str, dict[str, pd.DataFrame]] = {s: {} for s in VENUE_STREAMS}
    for venue, files in venues.items():
        check_name(venue, f"venue in {p}")
        if not isinstance(files, dict):
            raise DataError(f"[{table}.{venue}] must be a table of stream = \"file\"", file=str(p))
        for stream, rel in files.items():
            if stream not in VENUE_STREAMS:
                raise DataError(f"unknown stream {stream!r} in [{table}.{venue}]"[:120], file=str(p),
                                detail=f"known: {', '.join(VENUE_STREAMS)}")
            if isinstance(rel, dict):
                tables[stream][venue] = _raw_stream(p, venue, stream, symbol, tf, rel, f"{table}.{venue}")
            else:
                f = _file_entry(p, f"{table}.{venue}.{stream}", rel)
                tables[stream][venue] = _canonical(stream, f, None if stream == "funding" else tf, venue,
                                                   base=symbol.split("/")[0])
    return tables


def _asset_specs(p: Path, spec: dict) -> dict[str, dict]:
    """The `[assets."BASE/QUOTE"]` tables of a dataset TOML: symbol -> its `venues` table, checked (DataError
    naming the file and the key): BASE/QUOTE symbols, the primary's quote, each base once, only `venues`."""
    assets = spec.get("assets", {})
    if not isinstance(assets, dict):
        raise DataError('assets must be tables [assets."BASE/QUOTE".venues.VENUE]', file=str(p))
    primary = spec["symbol"].split(":")[0]
    base, quote = primary.split("/")[0], primary.split("/")[1] if "/" in primary else ""
    seen = {base}
    out: dict[str, dict] = {}
    for sym, entry in assets.items():
        where = f'[assets."{sym}"]'[:80]
        check_symbol(sym, f"asset symbol in {p}")
        if ":" in sym or sym.count("/") != 1 or not all(sym.split("/")):
            raise DataError(f"{where}: the key must be a spot symbol BASE/QUOTE, e.g. \"BTC/USDT\"", file=str(p))
        b, q = sym.split("/")
        if q != quote:
            raise DataError(f"{where}: quote {q} differs from the primary {primary}; the assets of one dataset "
                            f"share a quote", file=str(p))
        if b in seen:
            raise DataError(f"{where}: asset {b} given twice" + (" (it is the primary symbol)" if b == base else ""),
                            file=str(p))
        seen.add(b)
        if not isinstance(entry, dict):
            raise DataError(f"{where} must be a table holding [assets.\"{sym}\".venues.VENUE]", file=str(p))
        unknown = sorted(set(entry) - {"venues"})
        if unknown:
            raise DataError(f"unknown key {unknown[0]!r} in {where}"[:120], file=str(p),
                            detail="an asset holds only venues; lending, flows and venue_events belong to the primary")
        if not isinstance(entry.get("venues"), dict) or not entry["venues"]:
            raise DataError(f"{where} needs at least one [assets.\"{sym}\".venues.NAME] table", file=str(p))
        out[sym] = entry["venues"]
    return out
