"""Read a saved run directory back into a `Results` (the inverse of reports.writers.write_run).

The tables may be Parquet or CSV (reports/runfiles.py); run.toml's `[files]` says which were written.
Before anything is parsed the directory is checked against its fingerprint, and after, the attribution
identity is checked on what was read (reports/verify.py): an edited or inconsistent run is refused with
a RunDirError naming the file and the check. Directories of format 1 (CSV, written before fingerprints)
are read as before and get the identity check only.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from basisbt.engine.results import Results
from basisbt.reports import runfiles

_STRING_COLUMNS = ("venue", "kind", "ref", "instrument", "reason", "liquidity")


class RunDirError(ValueError):
    """A run directory that is missing, incomplete, unreadable or fails its checks; the message names the file."""


def _utc(s: pd.Series | pd.Index) -> pd.DatetimeIndex:
    """Parse ISO timestamps (or datetimes) to a UTC nanosecond DatetimeIndex."""
    return pd.DatetimeIndex(pd.to_datetime(s, utc=True)).as_unit("ns")


def read_text(path: Path) -> str:
    """A run file's UTF-8 text; RunDirError naming the file when it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise RunDirError(f"{path}: not UTF-8 text (byte {e.start}); not a file basisbt wrote") from None


def _read(path: Path) -> pd.DataFrame:
    """A table file (Parquet or CSV by suffix); RunDirError naming the file when it cannot be parsed."""
    import pyarrow as pa
    try:
        return runfiles.read_table(path)
    except UnicodeDecodeError as e:
        raise RunDirError(f"{path}: not UTF-8 text (byte {e.start}); not a file basisbt wrote") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, KeyError, pa.ArrowException) as e:
        raise RunDirError(f"{path}: unreadable ({' '.join(str(e).split())[:200]})") from None


def _read_frame(path: Path) -> pd.DataFrame:
    """Read a ledger/fills/liquidations table: `ts` as UTC, string columns without NaN."""
    df = _read(path)
    if "ts" in df.columns:
        df["ts"] = _utc(df["ts"])
    for c in _STRING_COLUMNS:
        if c in df.columns and not pd.api.types.is_numeric_dtype(df[c]):
            df[c] = df[c].fillna("").astype(str)
        elif c in ("ref", "reason") and c in df.columns and df[c].isna().all():
            df[c] = ""
    return df


def table_files(d: Path, doc: dict[str, Any]) -> dict[str, Path]:
    """The file of each table present: from run.toml [files] (format 2), else the CSVs found (format 1)."""
    listed = doc.get("files") if isinstance(doc.get("files"), dict) else None
    out = {}
    for table in (*runfiles.TABLES, *runfiles.SMALL_TABLES):
        for name in (f"{table}.parquet", f"{table}.csv"):
            if (name in listed) if listed is not None else (name.endswith(".csv") and (d / name).is_file()):
                out[table] = d / name
                break
    return out


def load_run(run_dir: str | Path, *, verify: bool = True) -> Results:
    """Rebuild the Results saved in run_dir from run.toml and its tables; raises RunDirError.
    `verify=False` skips the fingerprint and identity checks (reports/verify.py)."""
    from basisbt.reports import verify as checks
    d = Path(run_dir)
    if not d.is_dir():
        raise RunDirError(f"{d}: not a run directory (does not exist)")
    if not (d / "run.toml").is_file():
        raise RunDirError(f"{d / 'run.toml'}: missing; not a basisbt run directory")
    try:
        doc = tomllib.loads(read_text(d / "run.toml"))
    except tomllib.TOMLDecodeError as exc:
        raise RunDirError(f"{d / 'run.toml'}: invalid TOML ({exc})") from exc
    missing = [k for k in ("strategy", "data", "initial_equity") if k not in doc]
    if missing:
        raise RunDirError(f"{d / 'run.toml'}: missing keys {', '.join(missing)}")
    saved = _metrics(d)
    if verify:
        checks.check_fingerprint(d, doc, saved)
    files = table_files(d, doc)
    if "equity" not in files:
        raise RunDirError(f"{d / 'equity.parquet'}: missing (nor equity.csv); not a basisbt run directory")
    tl = _read(files["equity"])
    if "ts" not in tl.columns:
        raise RunDirError(f"{files['equity']}: no 'ts' column")
    try:
        tl.index = _utc(tl.pop("ts")).rename("ts")
    except (ValueError, TypeError) as exc:
        raise RunDirError(f"{files['equity']}: unreadable ts ({' '.join(str(exc).split())[:120]})") from None
    if "equity" not in tl.columns:
        raise RunDirError(f"{files['equity']}: no 'equity' column")
    frames = {name: _read_frame(files[name]) if name in files else pd.DataFrame()
              for name in ("ledger", "fills", "liquidations")}
    attr = pd.DataFrame()
    if "attribution" in files:
        attr = _read(files["attribution"])
        attr = attr.set_index(attr.columns[0]) if len(attr.columns) else attr
        attr.index = attr.index.astype(str)
    extras: dict[str, pd.Series] = {}
    if "extras" in files:
        ex = _read(files["extras"])
        try:
            for name, g in ex.groupby("name", sort=True):
                extras[str(name)] = pd.Series(g["value"].to_numpy(dtype=float),
                                              index=_utc(g["ts"]).rename("ts"), name=str(name))
        except (KeyError, ValueError, TypeError) as exc:
            raise RunDirError(f"{files['extras']}: unreadable ({exc})") from None
    log: tuple[str, ...] = ()
    listed = doc.get("files") if isinstance(doc.get("files"), dict) else None
    if (d / "run.log").is_file() and (listed is None or "run.log" in listed):
        log = tuple(read_text(d / "run.log").splitlines())
    try:     # counts that come from the run, not from any table
        quality = dict(saved.get("data_quality") or {})
        rejected = {str(k): int(v) for k, v in (saved.get("orders_rejected") or {}).items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise RunDirError(f"{d / 'metrics.json'}: unreadable ({exc})") from exc
    results = Results(
        strategy=str(doc["strategy"]), dataset=str(doc["data"]),
        venues=tuple(doc.get("venues", ())), protocols=tuple(doc.get("protocols", ())),
        initial_equity=float(doc["initial_equity"]), timeline=tl, ledger=frames["ledger"],
        fills=frames["fills"], liquidations=frames["liquidations"], attribution=attr,
        config=dict(doc.get("config", {})), config_id=str(doc.get("config_id", "")),
        data_fingerprint=str(doc.get("data_fingerprint", "")), params=dict(doc.get("params", {})),
        venue_fingerprint={str(k): str(v) for k, v in (doc.get("venue_fingerprint") or {}).items()},
        extras=extras, log=log, data_quality=quality,
        orders_rejected=rejected, venue_blocks={str(v): [dict(b) for b in bl]
                                                for v, bl in (doc.get("venue_blocks") or {}).items()},
        benchmark={str(k): str(v) for k, v in (doc.get("benchmark") or {}).items()})
    if verify:
        checks.check_identity(results, files)
    return results


def _metrics(d: Path) -> dict[str, Any]:
    """The saved metrics.json as a dict ({} when absent); RunDirError when it is not JSON or not UTF-8."""
    p = d / "metrics.json"
    if not p.is_file():
        return {}
    try:
        saved = json.loads(read_text(p))
    except ValueError as exc:
        raise RunDirError(f"{p}: unreadable ({exc})") from None
    if not isinstance(saved, dict):
        raise RunDirError(f"{p}: not a JSON object")
    return saved
