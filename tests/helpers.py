"""Tiny hand-made datasets for worked cases (flat prices, chosen wicks, chosen funding prints), and real Binance
BTC+ETH history from ../shared/data for tests that want it (`binance_real`, skipped when absent)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from basisbt.data.dataset import Dataset
from basisbt.strategies.base import Strategy

T0 = pd.Timestamp("2025-01-01", tz="UTC")


def bars(close, high=None, low=None, open_=None, start=T0, freq="1h", volume=1e6) -> pd.DataFrame:
    """Bar frame from arrays; open defaults to the previous close (first: own close)."""
    close = np.asarray(close, float)
    open_ = np.r_[close[0], close[:-1]] if open_ is None else np.asarray(open_, float)
    high = np.maximum(open_, close) if high is None else np.asarray(high, float)
    low = np.minimum(open_, close) if low is None else np.asarray(low, float)
    ts = pd.date_range(start, periods=len(close), freq=freq, tz="UTC").astype("datetime64[ns, UTC]")
    return pd.DataFrame({"ts": ts, "open": open_, "high": high, "low": low, "close": close,
                         "volume": np.full(len(close), volume)})


def kernel_market(*fields, coll_open=None, index_open=None, index_low=None, index_close=None):
    """engine.kernels.arrays.MarketArrays from its first 17 fields (close_ns ... coll_close), for hand-built kernel
    cases. The collateral asset opens at its previous close and posted spot is valued on the spot bars (the
    index, when the dataset has none): open = spot_open, low = min(spot_open, spot_close), close = spot_close;
    pass the paths to say otherwise (a spot that stays flat while the mark wicks, a spot-only wick)."""
    from basisbt.engine.kernels.arrays import MarketArrays
    s_open, s_close, c_close = fields[1], fields[2], fields[16]
    return MarketArrays(*fields,
                        coll_open=np.vstack([c_close[:1], c_close[:-1]]) if coll_open is None else coll_open,
                        index_open=s_open if index_open is None else index_open,
                        index_low=np.minimum(s_open, s_close) if index_low is None else index_low,
                        index_close=s_close if index_close is None else index_close)


def funding(times, rates) -> pd.DataFrame:
    ts = pd.DatetimeIndex(times).astype("datetime64[ns, UTC]")
    return pd.DataFrame({"ts": ts, "rate": np.asarray(rates, float)})


class ShortOnce(Strategy):
    """Short `qty` perp on `venue` at the first decision, then hold (funding recomputed by hand in the tests)."""
    name = "short_once"

    def __init__(self, venue: str = "binance", qty: float = 1.0) -> None:
        super().__init__()
        self.venue, self.qty, self.done = venue, qty, False

    def on_bar(self, ctx, ev) -> None:
        if not self.done:
            ctx.order(self.venue, "perp", -self.qty)
            self.done = True


def dataset(spot, perp=None, mark=None, fund=None, venues=("binance",), lending=None, flows=None,
            name="hand") -> Dataset:
    """Same frames on every venue unless dicts are given."""
    def per(x):
        if isinstance(x, dict):
            return x
        return {} if x is None else {v: x for v in venues}
    return Dataset(name, "ETH/USDT", "1h", per(spot), per(perp if perp is not None else spot), per(mark),
                   per(fund), lending or {}, flows)


# ------------------------------------------------------------------------ real Binance history (../shared/data)

SHARED_BINANCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "freqtrade" / "binance"


def binance_real(symbols: tuple[str, ...] = ("ETH/USDT", "BTC/USDT"), start: str = "2024-01-01",
                 end: str = "2025-01-01") -> Dataset:
    """Real Binance 1h spot, perp, mark and funding of `symbols` over [start, end) (UTC), one combined Dataset
    (first symbol = primary), read from ../shared/data/freqtrade/binance through the freqtrade importer and
    the standard validation, as `basisbt import freqtrade` + the cache read them. pytest.skip when the
    directory (or a symbol's files) is absent, as on a fresh clone. Loaded once per arguments and process."""
    import pytest
    if not SHARED_BINANCE.is_dir():
        pytest.skip(f"{SHARED_BINANCE} absent (fresh clone): real Binance data not available")
    return _binance_real(tuple(symbols), start, end)


@lru_cache(maxsize=4)
def _binance_real(symbols: tuple[str, ...], start: str, end: str) -> Dataset:
    import pytest

    from basisbt.data.ingest.freqtrade import import_freqtrade
    from basisbt.data.validate import validate_stream
    t0, t1 = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    parts = []
    for symbol in symbols:
        tables: dict[str, dict[str, pd.DataFrame]] = {s: {} for s in ("spot", "perp", "mark", "funding")}
        for it in import_freqtrade(SHARED_BINANCE, venue="binance", symbols=[symbol], timeframe="1h"):
            if it.key.stream not in tables:
                continue
            f = it.frame[(it.frame["ts"] >= t0) & (it.frame["ts"] < t1)].reset_index(drop=True)
            tf = None if it.key.stream == "funding" else "1h"
            tables[it.key.stream]["binance"] = validate_stream(it.key.stream, f, timeframe=tf, file=it.source)
        absent = [s for s, t in tables.items() if "binance" not in t or t["binance"].empty]
        if absent:
            pytest.skip(f"no Binance {symbol} {absent[0]} rows in {SHARED_BINANCE} for {start}..{end}")
        parts.append(Dataset(f"freqtrade:binance:{symbol}", symbol, "1h", tables["spot"], tables["perp"],
                             tables["mark"], tables["funding"]))
    return Dataset.combine(parts, name=f"freqtrade:binance {','.join(symbols)} {start}..{end}")
