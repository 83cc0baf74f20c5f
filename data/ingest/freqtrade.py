"""Import freqtrade's `user_data/data/<exchange>` tree (feather, json, parquet candle files)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa

from basisbt.data.errors import DataError
from basisbt.data.ingest.common import Imported, epoch_to_utc, make, normalize_symbol
from basisbt.data.schemas import TS

# ETH_USDT-1h.feather, ETH_USDT_USDT-1h-futures.feather, ...-1h-mark.feather, ...-1h-funding_rate.feather
NAME = re.compile(r"^(?P<pair>[A-Za-z0-9]+_[A-Za-z0-9]+(?:_[A-Za-z0-9]+)?)-(?P<tf>\d+[mhdwM])"
                  r"(?:-(?P<kind>futures|mark|index|funding_rate|premiumIndex))?\.(?P<ext>feather|json|parquet)$")
KIND_STREAM = {None: "spot", "futures": "perp", "mark": "mark", "index": "index", "funding_rate": "funding"}
COLUMNS = ["date", "open", "high", "low", "close", "volume"]


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".feather":
            df = pd.read_feather(path)
        elif path.suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            rows = json.loads(path.read_text())
            df = pd.DataFrame(rows, columns=COLUMNS)
            df["date"] = epoch_to_utc(df["date"], file=str(path), unit="ms")
    except (OSError, ValueError, pa.ArrowException) as e:
        raise DataError("unreadable freqtrade file", file=str(path), detail=str(e).splitlines()[0][:100]) from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"missing column {missing[0]!r} (not a freqtrade candle file?)", file=str(path),
                        detail=f"columns: {', '.join(map(str, df.columns))}")
    return df


def scan(path: str | Path) -> list[Path]:
    """Candle files under a freqtrade data dir (its futures/ subdir included), in a stable order."""
    p = Path(path)
    if p.is_file():
        if not NAME.match(p.name):
            raise DataError("not a freqtrade candle file", file=str(p),
                            detail="expected names like ETH_USDT-1h.feather or ETH_USDT_USDT-1h-futures.feather")
        return [p]
    if not p.is_dir():
        raise DataError("no such file or directory", file=str(p))
    return sorted(f for f in p.rglob("*") if f.is_file() and NAME.match(f.name))


def import_freqtrade(path: str | Path, *, venue: str | None = None, symbols: list[str] | None = None,
                     timeframe: str | None = None) -> list[Imported]:
    """Read every candle file of a freqtrade tree into canonical frames (venue = the exchange dir name)."""
    root = Path(path)
    files = scan(root)
    if not files:
        raise DataError("no freqtrade candle files found", file=str(root),
                        detail="expected names like ETH_USDT-1h.feather or ETH_USDT_USDT-1h-futures.feather")
    venue = venue or (root.name if root.is_dir() and root.name not in ("spot", "futures") else root.parent.name)
    if venue in ("spot", "futures"):
        venue = root.parent.parent.name if root.is_file() else root.parent.name
    wanted = {s.split(":")[0].upper() for s in symbols} if symbols else None
    out = []
    for f in files:
        m = NAME.match(f.name)
        kind = m["kind"]
        if kind == "premiumIndex":
            continue
        stream = KIND_STREAM[kind]
        parts = m["pair"].upper().split("_")
        perp = stream != "spot"
        symbol = f"{parts[0]}/{parts[1]}" + (f":{parts[2] if len(parts) > 2 else parts[1]}" if perp else "")
        if wanted and symbol.split(":")[0] not in wanted:
            continue
        if timeframe and stream != "funding" and m["tf"] != timeframe:
            continue
        df = _read(f)
        if stream == "funding":
            frame = pd.DataFrame({TS: df["date"], "rate": df["open"]})
        elif stream in ("mark", "index"):
            frame = df[["date", "open", "high", "low", "close"]].rename(columns={"date": TS})
        else:
            frame = df[COLUMNS].rename(columns={"date": TS})
        out.append(make(stream, venue, symbol, None if stream == "funding" else m["tf"], frame, str(f)))
    if not out:
        raise DataError("no candle files matched", file=str(root), detail=f"symbols={symbols} timeframe={timeframe}")
    return out


__all__ = ["import_freqtrade", "normalize_symbol", "scan"]
