"""Read a saved run directory back into a `Results` (the inverse of reports.writers.write_run)."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from basisbt.engine.results import Results

_STRING_COLUMNS = ("venue", "kind", "ref", "instrument", "reason")


class RunDirError(ValueError):
    """A run directory that is missing, incomplete or unreadable; the message names the file."""


def _utc(s: pd.Series | pd.Index) -> pd.DatetimeIndex:
    """Parse ISO timestamps to a UTC nanosecond DatetimeIndex."""
    return pd.DatetimeIndex(pd.to_datetime(s, utc=True)).as_unit("ns")


def _read_frame(path: Path) -> pd.DataFrame:
    """Read ledger/fills/liquidations CSV: `ts` as UTC, string columns without NaN."""
    df = pd.read_csv(path)
    if "ts" in df.columns:
        df["ts"] = _utc(df["ts"])
    for c in _STRING_COLUMNS:
        if c in df.columns and not pd.api.types.is_numeric_dtype(df[c]):
            df[c] = df[c].fillna("").astype(str)
        elif c in ("ref", "reason") and c in df.columns and df[c].isna().all():
            df[c] = ""
    return df


def load_run(run_dir: str | Path) -> Results:
    """Rebuild the Results saved in run_dir from run.toml and the CSVs; raises RunDirError."""
    d = Path(run_dir)
    if not d.is_dir():
        raise RunDirError(f"{d}: not a run directory (does not exist)")
    for name in ("run.toml", "equity.csv"):
        if not (d / name).is_file():
            raise RunDirError(f"{d / name}: missing; not a basisbt run directory")
    try:
        doc = tomllib.loads((d / "run.toml").read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RunDirError(f"{d / 'run.toml'}: invalid TOML ({exc})") from exc
    missing = [k for k in ("strategy", "data", "initial_equity") if k not in doc]
    if missing:
        raise RunDirError(f"{d / 'run.toml'}: missing keys {', '.join(missing)}")
    try:
        tl = pd.read_csv(d / "equity.csv", index_col=0)
        tl.index = _utc(tl.index)
        tl.index.name = "ts"
        if "equity" not in tl.columns:
            raise RunDirError(f"{d / 'equity.csv'}: no 'equity' column")
        frames = {}
        for name in ("ledger", "fills", "liquidations"):
            p = d / f"{name}.csv"
            frames[name] = _read_frame(p) if p.is_file() else pd.DataFrame()
        attr = pd.DataFrame()
        if (d / "attribution.csv").is_file():
            attr = pd.read_csv(d / "attribution.csv", index_col=0)
            attr.index = attr.index.astype(str)
        extras: dict[str, pd.Series] = {}
        if (d / "extras.csv").is_file():
            ex = pd.read_csv(d / "extras.csv")
            for name, g in ex.groupby("name", sort=True):
                extras[str(name)] = pd.Series(g["value"].to_numpy(dtype=float),
                                              index=_utc(g["ts"]).rename("ts"), name=str(name))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, KeyError, ValueError) as exc:
        if isinstance(exc, RunDirError):
            raise
        raise RunDirError(f"{d}: unreadable run file ({exc})") from exc
    log: tuple[str, ...] = ()
    if (d / "run.log").is_file():
        log = tuple((d / "run.log").read_text(encoding="utf-8").splitlines())
    quality: dict[str, Any] = {}
    rejected: dict[str, int] = {}
    if (d / "metrics.json").is_file():     # counts that come from the run, not from any CSV
        try:
            saved = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
            quality = dict(saved.get("data_quality") or {})
            rejected = {str(k): int(v) for k, v in (saved.get("orders_rejected") or {}).items()}
        except (ValueError, AttributeError, TypeError) as exc:
            raise RunDirError(f"{d / 'metrics.json'}: unreadable ({exc})") from exc
    return Results(
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
