"""The parquet cache: one file per (stream, venue, symbol, timeframe), written atomically.

Layout: `<root>/<stream>/<venue>/<symbol-safe>/<timeframe>.parquet` where funding uses the
timeframe `settle` and lending `rate` (their rows are irregular). Each parquet file carries its
own manifest in the footer metadata (covered ranges, gaps, rows), so data and manifest can
never disagree; `<root>/manifest.json` is a readable summary rebuilt after every write.
A write is temp file in the same directory + os.replace: a killed run leaves the old file.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data.dataset import Dataset
from data.errors import DataError
from data.schemas import TS, TS_DTYPE, timeframe_ns
from data.validate import validate_stream

ENV = "BASISBT_CACHE"
META_KEY = b"basisbt"
SETTLE = "settle"    # the timeframe slot of funding datasets
RATE = "rate"        # the timeframe slot of lending datasets


def default_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Cache root: the explicit dir, else $BASISBT_CACHE, else ~/.cache/basisbt."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "basisbt"


def safe_symbol(symbol: str) -> str:
    """A file-system-safe spelling of a symbol: 'ETH/USDT:USDT' -> 'ETH-USDT--USDT'."""
    return symbol.replace("/", "-").replace(":", "--")


def unsafe_symbol(name: str) -> str:
    """Inverse of safe_symbol."""
    return name.replace("--", ":").replace("-", "/")


@dataclass(frozen=True)
class Key:
    """Which dataset: stream (spot/perp/mark/index/funding/lending/flows), venue or protocol, symbol or asset."""

    stream: str
    venue: str
    symbol: str
    timeframe: str

    def path(self, root: Path) -> Path:
        return Path(root) / self.stream / self.venue / safe_symbol(self.symbol) / f"{self.timeframe}.parquet"

    def label(self) -> str:
        return f"{self.stream}/{self.venue}/{self.symbol}/{self.timeframe}"


def key_for(stream: str, venue: str, symbol: str, timeframe: str | None = None) -> Key:
    """Build a Key, filling the timeframe slot of irregular streams."""
    if stream == "funding":
        timeframe = SETTLE
    elif stream in ("lending", "flows"):
        timeframe = RATE
    elif not timeframe:
        raise DataError("bars need a timeframe", detail=f"{stream}/{venue}/{symbol}")
    return Key(stream, venue, symbol, timeframe)


# ---------------------------------------------------------------- ranges and gaps

Range = tuple[int, int]     # [start_ns, end_ns), end exclusive


def merge_ranges(ranges: Iterable[Range]) -> list[Range]:
    """Union of half-open ranges, sorted; touching ranges are joined."""
    out: list[list[int]] = []
    for a, b in sorted((int(a), int(b)) for a, b in ranges if b > a):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def missing_ranges(want: Range, covered: Iterable[Range]) -> list[Range]:
    """Parts of `want` that no covered range holds (what a fetch still has to ask for)."""
    a, b = want
    out = []
    for c0, c1 in merge_ranges(covered):
        if c1 <= a or c0 >= b:
            continue
        if c0 > a:
            out.append((a, c0))
        a = max(a, c1)
    if a < b:
        out.append((a, b))
    return out


def _step_ns(key: Key) -> int | None:
    if key.timeframe in (SETTLE, RATE):
        return None
    return timeframe_ns(key.timeframe)


def find_gaps(frame: pd.DataFrame, key: Key) -> list[Range]:
    """Holes inside the data: missing bars, or a missing funding settlement (gap > 1.5x the interval)."""
    ns = frame[TS].to_numpy(dtype="datetime64[ns]").view(np.int64)
    if ns.size < 2:
        return []
    d = np.diff(ns)
    step = _step_ns(key)
    if step is not None:
        idx = np.flatnonzero(d > step)
        return [(int(ns[i] + step), int(ns[i + 1])) for i in idx]
    if key.stream == "funding":
        prev = np.concatenate([[d[0]], d[:-1]])
        idx = np.flatnonzero(d > 1.5 * np.maximum(prev, 3600 * 10**9))
        return [(int(ns[i] + prev[i]), int(ns[i + 1])) for i in idx]
    med = float(np.median(d))
    idx = np.flatnonzero(d > 3 * med)
    return [(int(ns[i] + med), int(ns[i + 1])) for i in idx]


# ---------------------------------------------------------------- read / write

def _meta(path: Path) -> dict:
    md = pq.read_schema(path).metadata or {}
    raw = md.get(META_KEY)
    return json.loads(raw) if raw else {}


def read(root: Path | str, key: Key) -> pd.DataFrame | None:
    """The cached frame for a key, or None; a corrupt file is a DataError naming it."""
    path = key.path(Path(root))
    if not path.exists():
        return None
    try:
        table = pq.read_table(path)
        frame = table.to_pandas(types_mapper=None)
    except (OSError, pa.ArrowException, ValueError) as e:
        raise DataError("unreadable parquet (corrupt cache file; delete it and fetch again)", file=str(path),
                        detail=str(e).splitlines()[0][:120]) from None
    if TS in frame.columns:
        frame[TS] = frame[TS].astype(TS_DTYPE)
    return frame.reset_index(drop=True)


def read_meta(root: Path | str, key: Key) -> dict:
    """The manifest stored in a cache file's footer ({} when the file does not exist)."""
    path = key.path(Path(root))
    if not path.exists():
        return {}
    try:
        return _meta(path)
    except (OSError, pa.ArrowException, ValueError) as e:
        raise DataError("unreadable parquet (corrupt cache file; delete it and fetch again)", file=str(path),
                        detail=str(e).splitlines()[0][:120]) from None


def _atomic_write_bytes(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write(root: Path | str, key: Key, frame: pd.DataFrame, *, covered: Iterable[Range] = (),
          merge: bool = True, source: str | None = None, update_manifest: bool = True) -> dict:
    """Validate, merge with what is cached (new rows win on equal ts) and replace the file atomically.

    `covered` are ranges the caller asked the source for (so an empty answer is not asked twice).
    Returns the manifest entry written. Nothing is written if validation fails.
    """
    root = Path(root)
    tf = None if key.timeframe in (SETTLE, RATE) else key.timeframe
    new = validate_stream(key.stream, frame, timeframe=tf, file=source)
    meta = read_meta(root, key) if merge else {}
    old = read(root, key) if merge else None
    if old is not None and len(old):
        if key.stream == "funding" and "interval_h" in old.columns and "interval_h" not in frame.columns:
            new = new.drop(columns=["interval_h"])
        both = pd.concat([old, new], ignore_index=True)
        both = both.drop_duplicates(subset=[TS], keep="last").sort_values(TS, kind="stable")
        both = both.reset_index(drop=True)
        if key.stream == "funding" and "interval_h" not in frame.columns:
            both = both.drop(columns=["interval_h"], errors="ignore")
        merged = validate_stream(key.stream, both, timeframe=tf, file=str(key.path(root)))
    else:
        merged = new
    ns = merged[TS].to_numpy(dtype="datetime64[ns]").view(np.int64)
    cov = [tuple(r) for r in meta.get("covered", [])] + list(covered)
    if ns.size:
        step = _step_ns(key) or 1
        cov.append((int(ns[0]), int(ns[-1]) + step))
    entry = {
        "stream": key.stream, "venue": key.venue, "symbol": key.symbol, "timeframe": key.timeframe,
        "rows": int(ns.size),
        "start": int(ns[0]) if ns.size else None, "end": int(ns[-1]) if ns.size else None,
        "covered": [list(r) for r in merge_ranges(cov)],
        "gaps": [list(g) for g in find_gaps(merged, key)],
        "sources": sorted(set(meta.get("sources", [])) | ({source} if source else set()))[-20:],
    }
    table = pa.Table.from_pandas(merged, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(entry).encode()})
    _atomic_write_bytes(key.path(root), lambda tmp: pq.write_table(table, tmp))
    if update_manifest:
        write_manifest(root)
    return entry


def write_many(root: Path | str, items: list[tuple[Key, pd.DataFrame, str | None]]) -> list[dict]:
    """Validate every item first, then write them: an import never leaves half a dataset behind."""
    root = Path(root)
    for key, frame, source in items:
        tf = None if key.timeframe in (SETTLE, RATE) else key.timeframe
        validate_stream(key.stream, frame, timeframe=tf, file=source)
    entries = [write(root, k, f, source=s, update_manifest=False) for k, f, s in items]
    write_manifest(root)
    return entries


def iter_keys(root: Path | str) -> list[Key]:
    """Every dataset in the cache, in a stable order."""
    root = Path(root)
    keys = []
    if not root.exists():
        return keys
    for p in sorted(root.glob("*/*/*/*.parquet")):
        stream, venue, sym = p.parts[-4], p.parts[-3], p.parts[-2]
        keys.append(Key(stream, venue, unsafe_symbol(sym), p.stem))
    return keys


def _entry(root: Path, key: Key) -> dict:
    meta = read_meta(root, key)
    if not meta:                      # a file written by something else: derive what we can
        frame = read(root, key)
        ns = frame[TS].to_numpy(dtype="datetime64[ns]").view(np.int64) if frame is not None else np.zeros(0, np.int64)
        meta = {"rows": int(ns.size), "start": int(ns[0]) if ns.size else None,
                "end": int(ns[-1]) if ns.size else None, "gaps": find_gaps(frame, key) if frame is not None else []}
    return meta


def write_manifest(root: Path | str) -> None:
    """Rebuild `<root>/manifest.json` from the parquet footers (atomic)."""
    root = Path(root)
    entries = []
    for key in iter_keys(root):
        try:
            meta = _entry(root, key)
        except DataError:
            continue
        entries.append({"path": str(key.path(root).relative_to(root)), **{k: v for k, v in meta.items() if k != "sources"}})
    text = json.dumps({"version": 1, "datasets": entries}, indent=1)
    _atomic_write_bytes(root / "manifest.json", lambda tmp: Path(tmp).write_text(text))


def _ts(v: int | None) -> pd.Timestamp | None:
    return None if v is None else pd.Timestamp(int(v), tz="UTC")


def list_cache(root: Path | str | None = None) -> pd.DataFrame:
    """One row per cached dataset: venue, symbol, stream, timeframe, start, end, rows, gaps (count)."""
    root = default_root(root)
    rows = []
    for key in iter_keys(root):
        meta = _entry(root, key)
        rows.append({"venue": key.venue, "symbol": key.symbol, "stream": key.stream, "timeframe": key.timeframe,
                     "start": _ts(meta.get("start")), "end": _ts(meta.get("end")), "rows": int(meta.get("rows", 0)),
                     "gaps": len(meta.get("gaps", []))})
    cols = ["venue", "symbol", "stream", "timeframe", "start", "end", "rows", "gaps"]
    out = pd.DataFrame(rows, columns=cols)
    for c in ("start", "end"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return out.sort_values(["symbol", "venue", "stream"], kind="stable").reset_index(drop=True)


def perp_symbol(symbol: str) -> str:
    """The linear perpetual of a spot symbol: 'ETH/USDT' -> 'ETH/USDT:USDT' (unchanged if already a perp)."""
    if ":" in symbol:
        return symbol
    return f"{symbol}:{symbol.split('/')[1]}"


def load_dataset(root: Path | str | None, symbol: str, timeframe: str, venues: list[str] | None = None,
                 *, name: str | None = None) -> Dataset:
    """Assemble a Dataset for one spot symbol from the cache (spot, perp, mark, funding per venue; all lending)."""
    root = default_root(root)
    spot_sym = symbol.split(":")[0]
    perp_sym = perp_symbol(spot_sym)
    keys = iter_keys(root)
    found = {k.venue for k in keys if k.symbol in (spot_sym, perp_sym) and k.stream in ("spot", "perp")}
    if venues:
        unknown = [v for v in venues if v not in found]
        if unknown:
            raise DataError("venue not in cache", file=str(root),
                            detail=f"{', '.join(unknown)}; cached for {spot_sym}: {', '.join(sorted(found)) or 'none'}")
        found = set(venues)
    if not found:
        have = sorted({k.symbol.split(":")[0] for k in keys if k.stream in ("spot", "perp")})
        raise DataError(f"no {spot_sym} bars in cache", file=str(root),
                        detail=f"cached symbols: {', '.join(have) or 'none'}; run basisbt fetch or import first")
    tables: dict[str, dict[str, pd.DataFrame]] = {s: {} for s in ("spot", "perp", "mark", "funding", "lending", "index")}
    notes = []
    for venue in sorted(found):
        for stream, sym, tf in (("spot", spot_sym, timeframe), ("perp", perp_sym, timeframe),
                                ("mark", perp_sym, timeframe), ("funding", perp_sym, SETTLE)):
            frame = read(root, Key(stream, venue, sym, tf))
            if frame is not None and len(frame):
                tables[stream][venue] = frame
            elif stream in ("perp", "mark"):
                notes.append(f"{venue}: no {stream} {tf} bars cached for {sym}")
        for sym in (perp_sym, spot_sym):        # index bars: fetch stores them under the perp, imports may not
            frame = read(root, Key("index", venue, sym, timeframe))
            if frame is not None and len(frame):
                tables["index"][venue] = frame
                break
    if not venues:                    # funding-only venues (e.g. imported multi-venue funding) ride along
        for k in keys:
            if k.stream == "funding" and k.symbol == perp_sym and k.venue not in tables["funding"]:
                frame = read(root, k)
                if frame is not None and len(frame):
                    tables["funding"][k.venue] = frame
    lend = [k for k in keys if k.stream == "lending"]
    per_proto: dict[str, int] = {}
    for k in lend:
        per_proto[k.venue] = per_proto.get(k.venue, 0) + 1
    for k in lend:
        frame = read(root, k)
        if frame is not None and len(frame):
            tables["lending"][k.venue if per_proto[k.venue] == 1 else f"{k.venue}:{k.symbol}"] = frame
    return Dataset(name or f"cache:{spot_sym}", spot_sym, timeframe, tables["spot"], tables["perp"],
                   tables["mark"], tables["funding"], tables["lending"], None, tuple(notes), tables["index"])
