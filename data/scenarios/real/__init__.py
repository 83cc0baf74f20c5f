"""Real Binance ETH/USDT (and BTC/USDT) event windows shipped with the package, loaded like any imported freqtrade data.

Each window is a directory `<name>/binance/` in freqtrade's own layout (spot/ETH_USDT-1h.parquet,
futures/ETH_USDT_USDT-1h-{futures,mark,funding_rate}.parquet, and the same four files for BTC_USDT), cut
from the real files in
../shared/data/freqtrade/binance by `build_windows.py` next to this file, which also writes
`provenance.toml` (source names, sha256, rows and gaps per stream). Loading goes through
`data.ingest.freqtrade.import_freqtrade` and `data.validate.validate_stream`, the same path as
`basisbt import freqtrade` + the cache: no price is special-cased. The files hold 1h bars only and
nothing is resampled; there is no lending and no flow data in them (Dataset.lending is empty,
Dataset.flows is None).

`WINDOWS` load ETH/USDT only (their Datasets are unchanged by the BTC files beside them: the importer
is asked for ETH/USDT).

`HL_WINDOWS` (`real-hyperliquid-*`) add a `hyperliquid` venue to a Binance window: its funding is Hyperliquid's
real hourly records (`<dir>/hyperliquid/fundingHistory_ETH.json`, the info API's fundingHistory records cut from
../shared/data/hyperliquid, loaded through `basisbt import hyperliquid`'s importer); we hold no Hyperliquid bars,
so Binance's bars stand in for them, and say so in the dataset's notes: Binance's perp and mark for Hyperliquid's
perp and mark, Binance's spot for the spot leg and for the oracle (one venue standing in for the weighted median
of CEX spot mids: the oracle is built from the data's spot, data/oracle.py, and the run log says which). `PAIRED` windows (`real-btc-eth-*`) read the same directories for ETH/USDT
and BTC/USDT and combine them (Dataset.combine, ETH primary); they are multi-asset scenarios, listed
only by `list_scenarios(multi_asset=True)`.
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
PAIRED_SOURCE = "Binance ETH/USDT and BTC/USDT 1h spot, perp, mark and funding (freqtrade download-data files)"
EXTRA_SYMBOLS = ("BTC/USDT",)    # further assets whose files build_windows.py cuts into every window


@dataclass(frozen=True)
class RealWindow:
    """One shipped window: its name, span [start, end) in UTC, and what happened in it (measured on the data)."""

    name: str
    start: str
    end: str
    summary: str
    stresses: str
    symbols: tuple[str, ...] = (SYMBOL,)     # the first is the primary
    files: str = ""                          # directory of the files it reads, when not its own name
    hyperliquid: bool = False                # adds the hyperliquid venue (real funding, Binance bars standing in)

    def span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The window's [start, end) as UTC timestamps."""
        return pd.Timestamp(self.start, tz="UTC"), pd.Timestamp(self.end, tz="UTC")

    @property
    def assets(self) -> tuple[str, ...]:
        """Base assets, the primary first (e.g. ('ETH', 'BTC'))."""
        return tuple(s.split("/")[0] for s in self.symbols)


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
PAIRED: tuple[RealWindow, ...] = (
    RealWindow(
        "real-btc-eth-feb-2025", "2025-01-27", "2025-02-17",
        "real Binance ETH + BTC: BTC hourly close 105,921 -> 92,787 (-12 %, 30 Jan-3 Feb) while ETH fell -28 %; "
        "1h returns correlated 0.79; funding negative on 5 (BTC) and 14 (ETH) of 63 prints",
        "two correlated assets falling by different amounts; ETH funding negative while BTC's is positive on 10 prints",
        symbols=("ETH/USDT", "BTC/USDT"), files="real-binance-feb-2025"),
    RealWindow(
        "real-btc-eth-aug-2024", "2024-07-29", "2024-08-19",
        "real Binance ETH + BTC, the 5 Aug 2024 unwind: BTC hourly close 69,799 -> 49,804 (-29 %) with ETH -34 %; "
        "1h returns correlated 0.87; funding negative on 19 (BTC) and 23 (ETH) of 63 prints",
        "both assets crashing together; ETH funding negative while BTC's is positive on 13 prints",
        symbols=("ETH/USDT", "BTC/USDT"), files="real-binance-aug-2024"),
    RealWindow(
        "real-btc-eth-oct-2025", "2025-10-01", "2025-10-20",
        "real Binance ETH + BTC, the 10 Oct 2025 crash: in the 21:00 bar BTC perp low 101,516.5 (spot 102,000) and "
        "ETH perp 3,400; 1h returns correlated 0.81; funding negative on 17 (BTC) and 10 (ETH) of 57 prints",
        "a one-hour wick on two assets at once; BTC funding negative more often than ETH's",
        symbols=("ETH/USDT", "BTC/USDT"), files="real-binance-oct-2025"),
)
HL_WINDOWS: tuple[RealWindow, ...] = (
    RealWindow(
        "real-hyperliquid-oct-2025", "2025-10-01", "2025-10-12T20:00",
        "real Hyperliquid hourly funding (284 prints, 203 of them at exactly 0.00125 %/h; down to -0.0386 %/h at "
        "22:00 on 10 Oct, the day of its first cross-margin ADL in two years) beside Binance; Binance's bars stand "
        "in for Hyperliquid's perp, mark, spot and oracle",
        "hourly funding paid on the oracle vs Binance's 8-hourly on the mark, USDC margin beside USDT, the 10 Oct "
        "crash (ETH spot low 3,435 at 21:00)",
        files="real-binance-oct-2025", hyperliquid=True),
)
HL_VENUE = "hyperliquid"
HL_SOURCE = ("Hyperliquid ETH hourly funding records (info API fundingHistory, ../shared/data/hyperliquid) beside "
             "Binance ETH/USDT 1h spot, perp, mark and funding (freqtrade files); Binance's bars stand in for "
             "Hyperliquid's")
ALL_WINDOWS: tuple[RealWindow, ...] = WINDOWS + PAIRED + HL_WINDOWS
BY_NAME: dict[str, RealWindow] = {w.name: w for w in ALL_WINDOWS}


def provenance() -> dict:
    """The build script's record: source files and sha256, and per window the rows and gaps of each stream."""
    try:
        return tomllib.loads(PROVENANCE.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise DataError("unreadable provenance of the real scenarios", file=str(PROVENANCE),
                        detail=str(e).splitlines()[0][:100]) from None


def window_dir(name: str) -> Path:
    """Where a window's freqtrade tree lives (…/<dir>/binance, so the importer names the venue)."""
    w = BY_NAME.get(name)
    return ROOT / ((w.files or w.name) if w else name) / VENUE


def info(w: RealWindow) -> ScenarioInfo:
    """The ScenarioInfo of a real window (source says where the data come from)."""
    params = {"start": w.start, "end": w.end, "venue": VENUE, "symbol": w.symbols[0], "timeframe": TIMEFRAME}
    if len(w.symbols) > 1:
        params["symbols"] = list(w.symbols)
    if w.hyperliquid:
        params["venues"] = [VENUE, HL_VENUE]
    source = HL_SOURCE if w.hyperliquid else SOURCE if len(w.symbols) == 1 else PAIRED_SOURCE
    return ScenarioInfo(name=w.name, summary=w.summary, stresses=w.stresses, params=params,
                        source=f"{source}, data/scenarios/real/provenance.toml", assets=w.assets,
                        venues=(VENUE, HL_VENUE) if w.hyperliquid else (VENUE,),
                        shows="real data: a run replays what happened then (1h bars; no lending or flows)")


def hl_funding_file(w: RealWindow, base: str = "ETH") -> Path:
    """The shipped Hyperliquid funding records of a real-hyperliquid-* window."""
    return ROOT / (w.files or w.name) / HL_VENUE / f"fundingHistory_{base}.json"


def _with_hyperliquid(ds: Dataset, w: RealWindow) -> Dataset:
    """The Binance window plus a hyperliquid venue: its real funding records, Binance's bars standing in for its
    perp, mark and spot (the same frames), cut to the window (the Binance files run longer)."""
    from dataclasses import replace

    from basisbt.data.ingest.common import finalize
    from basisbt.data.ingest.hyperliquid import import_hyperliquid
    f = hl_funding_file(w)
    if not f.is_file():
        raise DataError("real scenario files are missing (run python -m data.scenarios.real.build_windows)", file=str(f))
    items = import_hyperliquid(f, venue=HL_VENUE, coin="ETH")
    items[0].notes.clear()                  # a scenario loads quietly: its stamps are snapped as on import
    finalize(items)
    notes = ds.notes + (
        f"real Hyperliquid ETH hourly funding records ({f.relative_to(ROOT)}), imported as `basisbt import "
        "hyperliquid` does",
        "stand-ins (no Hyperliquid bars on record): hyperliquid perp and mark = Binance's ETH/USDT perp and mark "
        "bars; hyperliquid spot = Binance's spot; the oracle Hyperliquid pays funding on is built from that spot "
        "(Binance standing in for the weighted median of CEX spot mids)",
        "quotes at par: Hyperliquid's USDC margin beside Binance's USDT; transfers between them convert at the "
        "spot taker fee")
    v = VENUE
    both = replace(ds, spot={v: ds.spot[v], HL_VENUE: ds.spot[v]}, perp={v: ds.perp[v], HL_VENUE: ds.perp[v]},
                   mark={v: ds.mark[v], HL_VENUE: ds.mark[v]},
                   funding={v: ds.funding[v], HL_VENUE: items[0].frame}, notes=notes)
    start, end = w.span()
    return replace(both.between(start, end), name=ds.name)


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
    parts = []
    for symbol in w.symbols:
        tables: dict[str, dict[str, pd.DataFrame]] = {s: {} for s in STREAMS}
        for it in import_freqtrade(root, venue=VENUE, symbols=[symbol], timeframe=TIMEFRAME):
            tf = None if it.key.stream == "funding" else TIMEFRAME
            tables[it.key.stream][VENUE] = validate_stream(it.key.stream, it.frame, timeframe=tf, file=it.source)
        absent = [s for s in STREAMS if VENUE not in tables[s]]
        if absent:
            raise DataError(f"real scenario has no {symbol} {absent[0]} file", file=str(root))
        source = SOURCE if len(w.symbols) == 1 else PAIRED_SOURCE
        notes = (f"real data: {source}, venue {VENUE}, {w.start} to {w.end} (end exclusive), {TIMEFRAME} only",
                 "no lending rates and no mint/redeem flows in this dataset",
                 "provenance (source files, sha256, gaps): data/scenarios/real/provenance.toml")
        parts.append(Dataset(name=f"scenario:{name}", symbol=symbol, timeframe=TIMEFRAME,
                             spot=tables["spot"], perp=tables["perp"], mark=tables["mark"], funding=tables["funding"],
                             lending={}, flows=None, notes=notes if not parts else ()))
    if w.hyperliquid:
        return _with_hyperliquid(parts[0], w)
    return Dataset.combine(parts, name=f"scenario:{name}")
