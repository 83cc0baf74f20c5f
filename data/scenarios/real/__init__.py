"""Real Binance ETH/USDT event windows shipped with the package, loaded like any imported freqtrade data.

Each window is a directory `<name>/binance/` in freqtrade's own layout (spot/ETH_USDT-1h.parquet,
futures/ETH_USDT_USDT-1h-{futures,mark,funding_rate}.parquet), cut from the real files in
../shared/data/freqtrade/binance by `build_windows.py` next to this file, which also writes
`provenance.toml` (source names, sha256, rows and gaps per stream). Loading goes through
`data.ingest.freqtrade.import_freqtrade` and `data.validate.validate_stream`, the same path as
`basisbt import freqtrade` + the cache: no price is special-cased. The files hold 1h bars only and
nothing is resampled; there is no lending and no flow data in them (Dataset.lending is empty,
Dataset.flows is None).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from basisbt.data.dataset import Dataset
from basisbt.data.errors import DataError
from basisbt.data.scenarios.info import ScenarioInfo

ROOT = Path(__file__).resolve().parent
PROVENANCE = ROOT / "provenance.toml"
VENUE = "binance"
SYMBOL = "ETH/USDT"
TIMEFRAME = "1h"
STREAMS = ("spot", "perp", "mark", "funding")
SOURCE = "Binance ETH/USDT 1h spot, perp, mark and funding (freqtrade download-data files)"


@dataclass(frozen=True)
class RealWindow:
    """One shipped window: its name, span [start, end) in UTC, and what happened in it (measured on the data)."""

    name: str
    start: str
    end: str
    summary: str
    stresses: str

    def span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The window's [start, end) as UTC timestamps."""
        return pd.Timestamp(self.start, tz="UTC"), pd.Timestamp(self.end, tz="UTC")


WINDOWS: tuple[RealWindow, ...] = (
    RealWindow(
        "real-binance-feb-2025", "2025-01-27", "2025-02-17",
        "real Binance: ETH 3,428 -> 2,453 hourly close (-28 %, 31 Jan-3 Feb), perp wick 2,080.19 vs mark "
        "low 2,157.66; funding down to -0.0251 %/8h",
        "mark vs trade-wick liquidation on real prints, funding flip negative (14 of 63 prints)"),
    RealWindow(
        "real-binance-aug-2024", "2024-07-29", "2024-08-19",
        "real Binance: the 5 Aug 2024 carry unwind, ETH 3,395 -> 2,228 hourly close, spot low 2,111.00, "
        "perp low 2,112.00, mark low 2,125.11",
        "a -34 % slide in a week (29 Jul-5 Aug), negative funding on 23 of 63 prints"),
    RealWindow(
        "real-binance-oct-2025", "2025-10-01", "2025-10-20",
        "real Binance: the 10 Oct 2025 crash, ETH 4,747 -> 3,695 hourly close; in the 21:00 bar the perp fell "
        "3,864.76 -> 3,400.00 (mark low 3,425.34) while spot traded 3,435-4,380",
        "a -12 % one-hour wick, liquidation by mark on real prints, funding down to -0.0131 %/8h"),
)
ALL_WINDOWS: tuple[RealWindow, ...] = WINDOWS
BY_NAME: dict[str, RealWindow] = {w.name: w for w in ALL_WINDOWS}


def provenance() -> dict:
    """The build script's record: source files and sha256, and per window the rows and gaps of each stream."""
    try:
        return tomllib.loads(PROVENANCE.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise DataError("unreadable provenance of the real scenarios", file=str(PROVENANCE),
                        detail=str(e).splitlines()[0][:100]) from None


def window_dir(name: str) -> Path:
    """Where a window's freqtrade tree lives (…/<name>/binance, so the importer names the venue)."""
    return ROOT / name / VENUE


def info(w: RealWindow) -> ScenarioInfo:
    """The ScenarioInfo of a real window (source says where the data come from)."""
    return ScenarioInfo(name=w.name, summary=w.summary, stresses=w.stresses,
                        params={"start": w.start, "end": w.end, "venue": VENUE, "symbol": SYMBOL,
                                "timeframe": TIMEFRAME},
                        source=f"{SOURCE}, data/scenarios/real/provenance.toml")


def load_window(name: str, timeframe: str = TIMEFRAME) -> Dataset:
    """Import one window through the freqtrade importer and the standard validation into a binance Dataset."""
    from basisbt.data.ingest.freqtrade import import_freqtrade
    from basisbt.data.validate import validate_stream
    w = BY_NAME.get(name)
    if w is None:
        raise ValueError(f"unknown real scenario {name!r}; real scenarios: {', '.join(BY_NAME)}")
    if timeframe != TIMEFRAME:
        raise ValueError(f"scenario {name} is real {TIMEFRAME} data and is not resampled; "
                         f"timeframe {timeframe!r} is not available (use {TIMEFRAME})")
    root = window_dir(name)
    if not root.is_dir():
        raise DataError("real scenario files are missing (run python -m data.scenarios.real.build_windows)",
                        file=str(root))
    tables: dict[str, dict[str, pd.DataFrame]] = {s: {} for s in STREAMS}
    for it in import_freqtrade(root, venue=VENUE, symbols=[SYMBOL], timeframe=TIMEFRAME):
        tf = None if it.key.stream == "funding" else TIMEFRAME
        tables[it.key.stream][VENUE] = validate_stream(it.key.stream, it.frame, timeframe=tf, file=it.source)
    absent = [s for s in STREAMS if VENUE not in tables[s]]
    if absent:
        raise DataError(f"real scenario has no {absent[0]} file", file=str(root))
    notes = (f"real data: {SOURCE}, venue {VENUE}, {w.start} to {w.end} (end exclusive), {TIMEFRAME} only",
             "no lending rates and no mint/redeem flows in this dataset",
             "provenance (source files, sha256, gaps): data/scenarios/real/provenance.toml")
    return Dataset(name=f"scenario:{name}", symbol=SYMBOL, timeframe=TIMEFRAME,
                   spot=tables["spot"], perp=tables["perp"], mark=tables["mark"], funding=tables["funding"],
                   lending={}, flows=None, notes=notes)
