"""Import Binance public data dumps (data.binance.vision): klines, mark/index klines, fundingRate.

Files are zip or csv, with or without a header row. Timestamps are ms, except newer spot
dumps (2025+) that use µs; each value's magnitude decides. The kind comes from the path
(`.../futures/um/monthly/markPriceKlines/ETHUSDT/1h/ETHUSDT-1h-2024-01.zip`) or `kind=`.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from basisbt.data.errors import DataError
from basisbt.data.ingest.common import Imported, epoch_to_utc, log, make, normalize_symbol, number_lines
from basisbt.data.schemas import TS

KLINE_COLS = ["open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
              "taker_buy_volume", "taker_buy_quote_volume", "ignore"]
FUNDING_COLS = ["calc_time", "funding_interval_hours", "last_funding_rate"]
KINDS = {"klines": None, "markPriceKlines": "mark", "indexPriceKlines": "index", "fundingRate": "funding"}
KLINE_NAME = re.compile(r"^(?P<sym>[A-Z0-9]+)-(?P<tf>\d+[smhdwM])-\d{4}-\d{2}(?:-\d{2})?$")
FUNDING_NAME = re.compile(r"^(?P<sym>[A-Z0-9]+)-fundingRate-\d{4}-\d{2}$")


def _read_text(path: Path) -> list[tuple[str, str]]:
    """(member name, csv text) pairs from a csv file or a zip of csv files."""
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.endswith(".csv")]
                if not names:
                    raise DataError("zip holds no csv", file=str(path))
                return [(n, z.read(n).decode("utf-8")) for n in names]
        return [(path.name, path.read_text(encoding="utf-8"))]
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as e:
        raise DataError("unreadable zip (truncated or corrupt download)", file=str(path), detail=str(e)[:80]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError("unreadable file", file=str(path), detail=str(e)[:80]) from None


def _csv(text: str, cols: list[str], file: str) -> tuple[pd.DataFrame, int]:
    """Parse a csv with an optional header; returns the frame and the number of header lines (0 or 1)."""
    first = text.split("\n", 1)[0].strip()
    cells = [c.strip() for c in first.split(",")]
    has_header = bool(cells) and not re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", cells[0] or "x")
    if has_header:
        need = cols[: 6] if cols is KLINE_COLS else cols
        if cells[: len(need)] != need:
            raise DataError("header not recognised", file=file, row=1,
                            detail=f"got {','.join(cells[:len(need)])}; expected {','.join(need)}")
    try:
        df = pd.read_csv(io.StringIO(text), header=None, skiprows=1 if has_header else 0, dtype=str)
    except (ValueError, pd.errors.ParserError) as e:
        raise DataError("malformed csv", file=file, detail=str(e).splitlines()[0][:100]) from None
    if df.shape[1] < len(cols if cols is not KLINE_COLS else cols[:6]):
        raise DataError("too few columns", file=file, row=1 + int(has_header),
                        detail=f"{df.shape[1]}; expected {len(cols)}")
    df = df.iloc[:, : len(cols)]
    df.columns = cols[: df.shape[1]]
    return df, int(has_header)


def _kind(path: Path, kind: str | None) -> str:
    if kind:
        if kind not in KINDS:
            raise DataError("unknown binance-vision kind", file=str(path), detail=f"{kind!r}; known: {', '.join(KINDS)}")
        return kind
    for part in reversed(path.parts):
        if part in KINDS:
            return part
    if "fundingRate" in path.name:
        return "fundingRate"
    return "klines"


def _market(path: Path, market: str | None) -> str:
    if market:
        return market
    parts = path.parts
    return "um" if ("um" in parts or "futures" in parts) else "spot"


def _stream(kind: str, market: str) -> str:
    s = KINDS[kind]
    return s if s else ("spot" if market == "spot" else "perp")


def _with_row(err: DataError, offset: int) -> DataError:
    if err.row is not None:
        return DataError(err.rule, file=err.file, row=err.row + offset, detail=err.detail)
    return err


def read_file(path: str | Path, *, kind: str | None = None, market: str | None = None, symbol: str | None = None,
              venue: str = "binance") -> Imported:
    """One dump file (zip or csv) to a canonical frame; rows in errors count the csv's lines (header = row 1)."""
    p = Path(path)
    k = _kind(p, kind)
    mk = _market(p, market)
    if k != "klines" and mk == "spot":
        mk = "um"
    stream = _stream(k, mk)
    stem = p.name.split(".")[0]
    m = (FUNDING_NAME if k == "fundingRate" else KLINE_NAME).match(stem)
    if symbol is None and not m:
        raise DataError("cannot tell the symbol from the file name", file=str(p), detail="pass --symbol")
    sym = normalize_symbol(symbol or m["sym"], perp=stream != "spot")
    frames = []
    for member, text in _read_text(p):
        label = f"{p}:{member}" if p.suffix == ".zip" else str(p)
        cols = FUNDING_COLS if k == "fundingRate" else KLINE_COLS
        df, hdr = _csv(text, cols, label)
        try:
            if k == "fundingRate":
                ts = epoch_to_utc(df["calc_time"], file=label)
                frame = pd.DataFrame({TS: ts, "rate": pd.to_numeric(df["last_funding_rate"], errors="coerce"),
                                      "interval_h": pd.to_numeric(df["funding_interval_hours"], errors="coerce")})
            else:
                ts = epoch_to_utc(df["open_time"], file=label)
                keep = ["open", "high", "low", "close"] + ([] if stream in ("mark", "index") else ["volume"])
                frame = pd.DataFrame({TS: ts, **{c: pd.to_numeric(df[c], errors="coerce") for c in keep}})
            from basisbt.data.validate import validate_stream
            tf_ = None if stream == "funding" else (m["tf"] if m else None)
            frame = frame if stream == "funding" else validate_stream(stream, frame, timeframe=tf_, file=label)
            if stream == "funding":
                bad = np.flatnonzero(frame["rate"].isna().to_numpy())
                if bad.size:
                    raise DataError("NaN or inf in 'rate'", file=label, row=int(bad[0]) + 1)
        except DataError as e:
            raise _with_row(e, hdr) from None
        frames.append(number_lines(frame, 1 + hdr, label))     # duplicates across files name their own line
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    tf = None if stream == "funding" else (m["tf"] if m else None)
    if stream != "funding" and tf is None:
        raise DataError("cannot tell the timeframe from the file name", file=str(p))
    return make(stream, venue, sym, tf, frame, str(p))


def import_binance_vision(path: str | Path, *, kind: str | None = None, market: str | None = None,
                          symbol: str | None = None, venue: str = "binance") -> list[Imported]:
    """A file or a directory tree of dumps; files of the same stream are concatenated in name order."""
    p = Path(path)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix in (".zip", ".csv") and f.is_file())
    else:
        raise DataError("no such file or directory", file=str(p))
    if not files:
        raise DataError("no .zip or .csv files found", file=str(p))
    groups: dict = {}
    for f in files:
        it = read_file(f, kind=kind, market=market, symbol=symbol, venue=venue)
        groups.setdefault(it.key, []).append(it)
    out = []
    for key, items in groups.items():
        frame = pd.concat([i.frame for i in items], ignore_index=True) if len(items) > 1 else items[0].frame
        src = items[0].source if len(items) == 1 else f"{Path(items[0].source).parent} ({len(items)} files)"
        out.append(Imported(key, frame, src))
        log.info("%s: %d rows of %s from %d file(s)", key.label(), len(frame), key.stream, len(items))
    return out
