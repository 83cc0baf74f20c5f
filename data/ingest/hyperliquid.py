"""Import Hyperliquid funding records as its info API returns them (`basisbt import hyperliquid FILE.json`).

`POST /info {"type": "fundingHistory", "coin": "ETH", "startTime": ms}` answers a JSON array of records
`{"coin": "ETH", "fundingRate": "0.0000125", "premium": "0.00057962", "time": 1704290400031}` (at most 500 a call;
research dumps concatenate pages and may spell the rate `funding_rate`). Both spellings are read. The rate is a
fraction per settlement (per HOUR since mid-2023), positive = longs pay shorts; `premium` is the hour's averaged
premium on the 8-hour scale. What the import does (docs/data.md, Hyperliquid):
- `time` (ms) is stamped a few hundred ms after the hour, up to ~2 min in the shared records: snapped onto the
  hour within STAMP_TOLERANCE_MS, logged; a stamp further off is refused with its record;
- a record without a rate gets the rate the venue's formula prints for its premium (the block of
  data/venues/hyperliquid.toml in force: F_8h = P + clamp(0.01 % - P, +-0.05 %), paid x interval / 8, capped);
  a record with both is checked against the formula and a disagreement is logged (never changed);
- each settlement's interval is read from the spacing of the records (validate.funding_intervals_h): hours
  missing from the file are a gap, kept as a gap (data_quality counts them), not a longer interval;
- the 4 %/h cap is checked per print (validate.check_funding_cap; Hyperliquid's cap is exact): a print above it
  is refused naming the file and the record (row N = the N-th record of the array).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from basisbt.data.errors import DataError
from basisbt.data.ingest.common import Imported, epoch_to_utc, make, number_lines
from basisbt.data.schemas import TS
from basisbt.data.validate import funding_intervals_h

VENUE = "hyperliquid"
STAMP_TOLERANCE_MS = 5 * 60 * 1000     # records seen up to 111 s after the hour (shared ETH/BTC files, 2025-02)
HOUR_MS = 3_600_000
FORMULA_TOL = 1e-9                     # recorded rate vs the formula on its premium (all 24,384 shared records)
RATE_KEYS = ("fundingRate", "funding_rate")


def _number(rec: dict, key: str, where: str, row: int) -> float | None:
    v = rec.get(key)
    if v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise DataError(f"{key} is not a number", file=where, row=row, detail=repr(v)[:40]) from None
    if not np.isfinite(x):
        raise DataError(f"{key} is not finite", file=where, row=row, detail=repr(v)[:40])
    return x


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON array of funding records in `path` (DataError naming the file when it is not one)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError("not a JSON file", file=str(path), detail=str(e)[:100]) from None
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        doc = doc["data"]
    if not isinstance(doc, list):
        raise DataError("expected a JSON array of fundingHistory records", file=str(path),
                        detail=f"got {type(doc).__name__}")
    if not doc:
        raise DataError("no records (an empty array)", file=str(path))
    return doc


def _frame(records: list[dict[str, Any]], where: str) -> pd.DataFrame:
    """coin, time (ms), rate (NaN where absent), premium (NaN where absent), _line (the record's 1-based index)."""
    coins, times, rates, premiums = [], [], [], []
    for i, rec in enumerate(records, 1):
        if not isinstance(rec, dict):
            raise DataError("a record is not an object", file=where, row=i, detail=repr(rec)[:40])
        if "time" not in rec:
            raise DataError("record has no 'time'", file=where, row=i, detail=f"keys: {', '.join(map(str, rec))}")
        coin = rec.get("coin")
        if not isinstance(coin, str) or not coin:
            raise DataError("record has no 'coin'", file=where, row=i)
        got = [(k, _number(rec, k, where, i)) for k in RATE_KEYS if rec.get(k) is not None]
        if len(got) == 2 and got[0][1] != got[1][1]:
            raise DataError("fundingRate and funding_rate disagree", file=where, row=i,
                            detail=f"{got[0][1]!r} vs {got[1][1]!r}")
        premium = _number(rec, "premium", where, i)
        if not got and premium is None:
            raise DataError("record has neither a rate (fundingRate / funding_rate) nor a premium", file=where, row=i)
        coins.append(coin)
        times.append(rec["time"])
        rates.append(got[0][1] if got else np.nan)
        premiums.append(np.nan if premium is None else premium)
    ts = epoch_to_utc(times, file=where, unit="ms")
    return number_lines(pd.DataFrame({"coin": coins, TS: ts, "rate": rates, "premium": premiums}), 1)


def _snap(frame: pd.DataFrame, where: str, notes: list[str]) -> pd.DataFrame:
    """Settlement stamps onto the hour (they come a few hundred ms to ~2 min after it); refuse one further off."""
    ns = frame[TS].to_numpy(dtype="datetime64[ns]").view(np.int64)
    hour = HOUR_MS * 10**6
    snapped = (ns // hour) * hour
    off = ns - snapped
    late = np.flatnonzero(off > STAMP_TOLERANCE_MS * 10**6)
    if late.size:
        i = int(late[0])
        raise DataError(f"settlement stamped {off[i] / 1e9:.3f} s after the hour, more than the "
                        f"{STAMP_TOLERANCE_MS // 60000} min Hyperliquid stamps within", file=where,
                        row=int(frame["_line"].iloc[i]), detail=str(frame[TS].iloc[i]))
    moved = off > 0
    if moved.any():
        notes.append(f"snapped {int(moved.sum())} settlement time(s) onto the hour (largest move "
                     f"{float(off.max()) / 1e9:.3f} s)")
    out = frame.copy()
    out[TS] = pd.to_datetime(snapped, utc=True).astype(frame[TS].dtype)
    return out


def _apply_formula(frame: pd.DataFrame, venue: str, coin: str, where: str, notes: list[str]) -> pd.DataFrame:
    """Rates from premiums where only the premium is given; a recorded rate the formula disagrees with is logged."""
    from basisbt.data.venues import VenueSet
    vs = VenueSet()
    if not vs.has(venue):
        if frame["rate"].isna().any():
            raise DataError(f"records without a rate need venue {venue!r}'s funding formula, and there is no venue "
                            f"file for it", file=where, row=int(frame["_line"][frame["rate"].isna()].iloc[0]))
        return frame
    blocks = vs.get(venue).blocks
    ns = frame[TS].to_numpy(dtype="datetime64[ns]").view(np.int64)
    starts = np.array([b.effective_from.value for b in blocks], dtype=np.int64)
    k = np.clip(np.searchsorted(starts, ns, side="right") - 1, 0, len(blocks) - 1)
    hours = funding_intervals_h(ns)
    premium = frame["premium"].to_numpy(dtype=np.float64)
    formula = np.full(ns.size, np.nan)
    for j in np.unique(k):
        b = blocks[int(j)]
        sel = (k == j) & np.isfinite(premium)
        formula[sel] = b.funding.rates(premium[sel], hours[sel], b.cap_for(coin))    # F x interval / 8, capped
    rate = frame["rate"].to_numpy(dtype=np.float64)
    derived = np.isnan(rate) & np.isfinite(formula)
    if derived.any():
        notes.append(f"{int(derived.sum())} rate(s) derived from the premium with {venue}'s formula")
    both = np.isfinite(rate) & np.isfinite(formula)
    off = np.abs(rate - formula) > FORMULA_TOL
    if (both & off).any():
        i = int(np.flatnonzero(both & off)[0])
        notes.append(f"{int((both & off).sum())} recorded rate(s) differ from {venue}'s formula on their premium by "
                     f"more than {FORMULA_TOL:g} (first: record {int(frame['_line'].iloc[i])}, rate {float(rate[i])!r}, "
                     f"formula {float(formula[i])!r}); the recorded rates are kept")
    out = frame.copy()
    out["rate"] = np.where(derived, formula, rate)
    return out


def import_hyperliquid(path: str | Path, *, venue: str = VENUE, coin: str | None = None,
                       symbol: str | None = None) -> list[Imported]:
    """Hyperliquid fundingHistory records (a JSON file, or a directory of them: pages) as one funding dataset per
    coin, under the perp `COIN/QUOTE:QUOTE` (the venue file's quote: USDC), or `symbol` for a single coin."""
    p = Path(path)
    files = [p] if p.is_file() else sorted(f for f in p.glob("*.json") if f.is_file()) if p.is_dir() else []
    if not files:
        raise DataError("no such file, or no .json files in the directory", file=str(p))
    frames = []
    for f in files:
        fr = _frame(read_records(f), str(f))
        fr["_src"] = str(f)
        frames.append(fr)
    data = pd.concat(frames, ignore_index=True)
    coins = sorted(set(data["coin"]))
    if coin is not None:
        if coin not in coins:
            raise DataError(f"no {coin!r} records", file=str(p), detail=f"coins in the file: {', '.join(coins)}")
        coins = [coin]
    if symbol is not None and len(coins) > 1:
        raise DataError("--symbol names one perp, and the records hold several coins", file=str(p),
                        detail=f"{', '.join(coins)}; pick one with --coin")
    from basisbt.data.venues import VenueSet
    vs = VenueSet()
    quote = vs.get(venue).quote if vs.has(venue) else "USDC"
    out = []
    for c in coins:
        part = data[data["coin"] == c].reset_index(drop=True)
        where = str(files[0]) if len(files) == 1 else str(p)
        notes: list[str] = []
        part = _snap(part, where, notes)
        part = part.sort_values(TS, kind="stable").reset_index(drop=True)
        part = _apply_formula(part, venue, c, where, notes)
        perp = symbol or f"{c}/{quote}:{quote}"
        if ":" not in perp:
            perp = f"{perp}:{perp.split('/')[1]}"
        frame = part[[TS, "rate", "_line", "_src"]].copy()
        item = make("funding", venue, perp, None, frame, where)
        item.notes.extend(notes)
        out.append(item)
    return out


__all__ = ["import_hyperliquid", "read_records"]
