"""The parquet cache: one file per (stream, venue, symbol, timeframe), written atomically.

Layout: `<root>/<stream>/<venue>/<symbol-safe>/<timeframe>.parquet` where funding uses the
timeframe `settle` and lending `rate` (their rows are irregular). Each parquet file carries its
own manifest in the footer metadata (covered ranges, gaps, rows), so data and manifest can
never disagree; `<root>/manifest.json` is a readable summary rebuilt after every write.

Safety under concurrency and crashes:
- Every read-merge-write holds `<root>/.lock` (filelock), so two imports into one cache keep every
  row; multi-file reads (`load_dataset`, `list_cache`) hold it too when the cache is writable.
- A multi-file write commits as one unit: each new file is staged as a temp file beside its
  target, then `<root>/.journal.json` (listing temp -> target) is written atomically — the commit
  point — and only then are the temps renamed over their targets. Whoever takes the lock next
  finishes a journal left by a killed writer (roll forward) and deletes stray temp files, so a
  killed import leaves the old state or the new one, never a mix.
- Files are created with mode 0666 minus the umask, like any other tool's.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from basisbt.data.dataset import Dataset
from basisbt.data.errors import DataError
from basisbt.data.names import UnsafeName, check_name, check_symbol
from basisbt.data.safe_io import atomic_write, fsync_path, new_temp, with_path
from basisbt.data.schemas import TS, TS_DTYPE, timeframe_ns
from basisbt.data.validate import validate_stream

ENV = "BASISBT_CACHE"
META_KEY = b"basisbt"
SETTLE = "settle"    # the timeframe slot of funding datasets
RATE = "rate"        # the timeframe slot of lending datasets
LOCK_FILE = ".lock"
JOURNAL = ".journal.json"
LOCK_TIMEOUT_S = 600.0
_LOCKS: dict[tuple[str, int], FileLock] = {}   # one FileLock per cache root and process: nested use re-enters


def default_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Cache root: the explicit dir, else $BASISBT_CACHE, else ~/.cache/basisbt."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "basisbt"


def check_root(root: Path) -> Path:
    """DataError when the cache root (or a parent) exists but is not a directory; else root."""
    for p in (root, *root.parents):
        if p.exists():
            if not p.is_dir():
                raise DataError("cache path is not a directory", file=str(p),
                                detail="pass --cache DIR or set BASISBT_CACHE to a directory")
            break
    return root


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

    def __post_init__(self) -> None:
        """Every name that becomes a path component is checked here, whatever it came from."""
        check_name(self.stream, "stream")
        check_name(self.venue, "venue" if self.stream != "lending" else "protocol")
        check_symbol(self.symbol, "symbol" if self.stream != "lending" else "asset")
        check_name(self.timeframe, "timeframe")

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


_new_temp = new_temp          # module attribute, so a test can make every cache write fail


def _atomic_write_bytes(path: Path, write) -> None:
    atomic_write(path, write, make_temp=lambda p: _new_temp(p))


def _lock(root: Path) -> FileLock:
    path = str(Path(root).resolve())
    lk = _LOCKS.get((path, os.getpid()))          # a forked child needs its own (filelock refuses inherited ones)
    if lk is None:
        lk = _LOCKS[(path, os.getpid())] = FileLock(str(Path(path) / LOCK_FILE), timeout=LOCK_TIMEOUT_S)
    return lk


@contextlib.contextmanager
def locked(root: Path | str) -> Iterator[Path]:
    """Hold the cache's write lock (re-entrant in one process); finish or clean a killed writer's leftovers."""
    root = check_root(Path(root))
    root.mkdir(parents=True, exist_ok=True)
    lk = _lock(root)
    try:
        lk.acquire()
    except Timeout:
        raise OSError(errno.EBUSY, f"cache locked by another process for over {LOCK_TIMEOUT_S:.0f} s",
                      str(root / LOCK_FILE)) from None
    try:
        if lk.lock_counter == 1:
            recover(root)
        yield root
    finally:
        lk.release()


@contextlib.contextmanager
def _reading(root: Path) -> Iterator[None]:
    """Hold the lock for a multi-file read when the cache is writable; read as is when it is read-only."""
    if not root.is_dir():
        yield
        return
    try:
        cm = locked(root)
        cm.__enter__()
    except OSError as e:
        if e.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        yield                              # a read-only cache cannot have a writer to wait for
        return
    try:
        yield
    finally:
        cm.__exit__(None, None, None)


def recover(root: Path) -> None:
    """Under the lock: roll a committed journal forward, then delete temp files of killed writers."""
    journal = root / JOURNAL
    if journal.exists():
        try:
            moves = json.loads(journal.read_text())["moves"]
        except (ValueError, KeyError, TypeError):
            moves = []                       # torn journal: it was never committed (it is written atomically)
        for tmp_rel, target_rel in moves:
            tmp = root / tmp_rel
            if tmp.exists():
                os.replace(tmp, root / target_rel)
        write_manifest(root)
        journal.unlink()
    for stray in root.rglob(".*.tmp"):
        with contextlib.suppress(OSError):
            stray.unlink()


def write(root: Path | str, key: Key, frame: pd.DataFrame, *, covered: Iterable[Range] = (),
          merge: bool = True, source: str | None = None, update_manifest: bool = True) -> dict:
    """Validate, merge with what is cached (new rows win on equal ts) and replace the file atomically.

    `covered` are ranges the caller asked the source for (so an empty answer is not asked twice).
    Returns the manifest entry written. Nothing is written if validation fails. Holds the lock.
    """
    with locked(root) as root:
        entry, table = _prepare(root, key, frame, covered=covered, merge=merge, source=source)
        _atomic_write_bytes(key.path(root), lambda tmp: pq.write_table(table, tmp))
        if update_manifest:
            write_manifest(root)
    return entry


def _prepare(root: Path, key: Key, frame: pd.DataFrame, *, covered: Iterable[Range] = (), merge: bool = True,
             source: str | None = None) -> tuple[dict, pa.Table]:
    """(manifest entry, table to write): the validated merge of what is cached and `frame` (under the lock)."""
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
    return entry, table


def write_many(root: Path | str, items: list[tuple[Key, pd.DataFrame, str | None]]) -> list[dict]:
    """Write several datasets as one unit (old state or new after a crash; see the module docstring).

    Every item is validated first; then, under the lock, each merged file is staged beside its
    target, the journal is committed, and the staged files are renamed into place.
    """
    for key, frame, source in items:
        tf = None if key.timeframe in (SETTLE, RATE) else key.timeframe
        validate_stream(key.stream, frame, timeframe=tf, file=source)
    with locked(root) as root:
        staged: list[tuple[Path, Path]] = []
        entries = []
        try:
            merged: dict[Key, tuple[dict, pa.Table]] = {}
            for key, frame, source in items:            # the same key twice merges in order
                if key in merged:
                    _, prev = merged[key]
                    frame = pd.concat([prev.to_pandas(), frame], ignore_index=True)
                    frame = frame.drop_duplicates(subset=[TS], keep="last").sort_values(TS, kind="stable")
                merged[key] = _prepare(root, key, frame, source=source)
                entries.append(merged[key][0])
            for key, (_, table) in merged.items():
                target = key.path(root)
                tmp = _new_temp(target)
                staged.append((tmp, target))
                try:
                    pq.write_table(table, tmp)
                except OSError as e:                     # a full disk or a size limit: name the file
                    raise with_path(e, target) from e
                fsync_path(tmp)
            moves = [[str(t.relative_to(root)), str(g.relative_to(root))] for t, g in staged]
            _atomic_write_bytes(root / JOURNAL, lambda tmp: Path(tmp).write_text(json.dumps({"moves": moves})))
        except BaseException:
            for tmp, _ in staged:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            raise
        for tmp, target in staged:                      # committed: from here a crash rolls forward
            os.replace(tmp, target)
        write_manifest(root)
        (root / JOURNAL).unlink()
    return entries


def iter_keys(root: Path | str) -> list[Key]:
    """Every dataset in the cache, in a stable order."""
    root = Path(root)
    keys = []
    if not root.exists():
        return keys
    for p in sorted(root.glob("*/*/*/*.parquet")):
        stream, venue, sym = p.parts[-4], p.parts[-3], p.parts[-2]
        try:
            keys.append(Key(stream, venue, unsafe_symbol(sym), p.stem))
        except UnsafeName:
            continue                  # not written by basisbt (a stray file); never read it
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
    with _reading(root):
        keys = [(key, _entry(root, key)) for key in iter_keys(root)]
    for key, meta in keys:
        rows.append({"venue": key.venue, "symbol": key.symbol, "stream": key.stream, "timeframe": key.timeframe,
                     "start": _ts(meta.get("start")), "end": _ts(meta.get("end")), "rows": int(meta.get("rows", 0)),
                     "gaps": len(meta.get("gaps", []))})
    cols = ["venue", "symbol", "stream", "timeframe", "start", "end", "rows", "gaps"]
    out = pd.DataFrame(rows, columns=cols)
    for c in ("start", "end"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return out.sort_values(["symbol", "venue", "stream"], kind="stable").reset_index(drop=True)


BAR_STREAMS = ("spot", "perp", "mark", "index", "oracle")


def assets_summary(listing: pd.DataFrame) -> pd.DataFrame:
    """What `--data cache:SYMBOL` would load, per spot symbol and bar timeframe of a `list_cache` table.

    One row per (symbol, timeframe) with spot or perp bars (what `load_dataset` needs): `quote`, and
    `venues`, e.g. "binance: spot perp mark funding; okx: funding" (funding has no bar timeframe and is
    shown with every timeframe of its symbol; a funding-only venue rides along as `load_dataset` does).
    """
    cols = ["symbol", "quote", "timeframe", "venues"]
    if listing.empty:
        return pd.DataFrame(columns=cols)
    spot_sym = listing["symbol"].str.split(":").str[0]
    rows = []
    bars = listing[listing["stream"].isin(BAR_STREAMS)]
    for (sym, tf), grp in bars.groupby([spot_sym[bars.index], bars["timeframe"]], sort=True):
        if not grp["stream"].isin(["spot", "perp"]).any():
            continue
        have: dict[str, list[str]] = {}
        for stream in BAR_STREAMS:
            for v in sorted(grp.loc[grp["stream"] == stream, "venue"]):
                have.setdefault(v, []).append(stream)
        fund = listing[(listing["stream"] == "funding") & (spot_sym == sym)]
        for v in sorted(fund["venue"]):
            have.setdefault(v, []).append("funding")
        # a venue whose perps are in its own quote (Hyperliquid's USDC) joins with them: cache:ETH/USDT loads them
        other = listing[(spot_sym != sym) & listing["stream"].isin(("perp", "mark", "oracle", "funding"))
                        & ((listing["timeframe"] == tf) | (listing["stream"] == "funding"))]
        for row in other.itertuples(index=False):
            if row.symbol in venue_perp_symbols(row.venue, sym)[1:]:
                have.setdefault(row.venue, []).append(f"{row.stream}({row.symbol})")
        text = "; ".join(f"{v}: {' '.join(streams)}" for v, streams in sorted(have.items()))
        rows.append({"symbol": sym, "quote": sym.split("/")[1] if "/" in sym else "", "timeframe": tf, "venues": text})
    return pd.DataFrame(rows, columns=cols)


def asset_combinations(summary: pd.DataFrame) -> list[tuple[str, str]]:
    """(`cache:A,B,...`, timeframe) for each quote and timeframe with two or more symbols in `assets_summary`:
    the multi-asset `--data` values the cache can serve (symbols sorted; the first given is the primary)."""
    out = []
    for (quote, tf), grp in summary.groupby(["quote", "timeframe"], sort=True):
        syms = sorted(grp["symbol"])
        if quote and len(syms) > 1:
            out.append((f"cache:{','.join(syms)}", str(tf)))
    return out


def perp_symbol(symbol: str) -> str:
    """The linear perpetual of a spot symbol: 'ETH/USDT' -> 'ETH/USDT:USDT' (unchanged if already a perp)."""
    if ":" in symbol:
        return symbol
    return f"{symbol}:{symbol.split('/')[1]}"


def load_dataset(root: Path | str | None, symbol: str, timeframe: str, venues: list[str] | None = None,
                 *, name: str | None = None) -> Dataset:
    """Assemble a Dataset for one spot symbol from the cache (spot, perp, mark, funding per venue; all lending)."""
    root = default_root(root)
    with _reading(root):
        return _load_dataset(root, symbol, timeframe, venues, name=name)


def venue_perp_symbols(venue: str, spot_sym: str) -> list[str]:
    """The perp symbols a venue may hold for a spot symbol, in the order they are looked for: the spot's own quote
    ('ETH/USDT' -> 'ETH/USDT:USDT'), then the venue's quote when its venue file names another one (Hyperliquid's
    USDC: 'ETH/USDC:USDC'), so a USDC-quoted perp can hedge USDT-quoted spot in one dataset."""
    from basisbt.data.venues import VenueSet, VenueSpecError
    out = [perp_symbol(spot_sym)]
    try:
        vs = VenueSet()
        quote = vs.get(venue).quote if vs.has(venue) else None
    except VenueSpecError:
        quote = None                      # a broken venue file is reported where the run reads it
    if quote and quote != spot_sym.split("/")[1]:
        out.append(f"{spot_sym.split('/')[0]}/{quote}:{quote}")
    return out


def _load_dataset(root: Path, symbol: str, timeframe: str, venues: list[str] | None, *,
                  name: str | None) -> Dataset:
    """load_dataset's body, run under the read lock."""
    spot_sym = symbol.split(":")[0]
    perp_sym = perp_symbol(spot_sym)
    keys = iter_keys(root)
    perps = {v: venue_perp_symbols(v, spot_sym) for v in {k.venue for k in keys}}
    found = {k.venue for k in keys if k.stream in ("spot", "perp") and (
        k.symbol == spot_sym or (k.stream == "perp" and k.symbol in perps[k.venue]))}
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
    tables: dict[str, dict[str, pd.DataFrame]] = {s: {} for s in ("spot", "perp", "mark", "funding", "lending", "index",
                                                                  "oracle")}
    notes = []
    for venue in sorted(found):
        held = {k.symbol for k in keys if k.venue == venue and k.stream == "perp" and k.timeframe == timeframe}
        psym = next((p for p in perps[venue] if p in held), perps[venue][0])
        if psym != perp_sym:
            notes.append(f"{venue}: perp {psym} (the venue's quote) hedges {spot_sym} spot; the two quotes are "
                         f"taken at par, and money moved between them converts at the spot taker fee")
        for stream, sym, tf in (("spot", spot_sym, timeframe), ("perp", psym, timeframe),
                                ("mark", psym, timeframe), ("funding", psym, SETTLE)):
            frame = read(root, Key(stream, venue, sym, tf))
            if frame is not None and len(frame):
                tables[stream][venue] = frame
            elif stream in ("perp", "mark"):
                notes.append(f"{venue}: no {stream} {tf} bars cached for {sym}")
        for stream in ("index", "oracle"):      # fetch stores index bars under the perp, imports may not
            for sym in (psym, spot_sym):
                frame = read(root, Key(stream, venue, sym, timeframe))
                if frame is not None and len(frame):
                    tables[stream][venue] = frame
                    break
    if not venues:                    # funding-only venues (e.g. imported multi-venue funding) ride along
        for k in keys:
            if k.stream == "funding" and k.symbol in perps[k.venue] and k.venue not in tables["funding"]:
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
                   tables["mark"], tables["funding"], tables["lending"], None, tuple(notes), tables["index"],
                   oracle=tables["oracle"])
