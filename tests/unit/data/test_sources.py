"""--data strings: cache, cache:SYMBOL, dataset TOML, and clean errors for the rest."""
from __future__ import annotations

import pandas as pd
import pytest

from basisbt.data import cache
from basisbt.data.errors import DataError
from basisbt.data.sources import UnknownSource, resolve_data


def bars(n=4):
    ts = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    o = 100.0 + pd.Series(range(n), dtype=float)
    return pd.DataFrame({"ts": ts, "open": o, "high": o + 1, "low": o - 1, "close": o, "volume": 1.0})


def test_cache_sources(tmp_path, monkeypatch):
    with pytest.raises(UnknownSource, match="symbols with 1h bars: none"):
        resolve_data("cache", cache_dir=tmp_path)
    cache.write(tmp_path, cache.key_for("spot", "binance", "ETH/USDT", "1h"), bars())
    cache.write(tmp_path, cache.key_for("perp", "binance", "ETH/USDT:USDT", "1h"), bars())
    monkeypatch.setenv("BASISBT_CACHE", str(tmp_path))
    ds = resolve_data("cache")
    assert ds.symbol == "ETH/USDT" and ds.venues == ["binance"]
    assert resolve_data("cache:ETH/USDT", cache_dir=tmp_path).fingerprint() == ds.fingerprint()
    with pytest.raises(UnknownSource):
        resolve_data("parquet:whatever")


def test_dataset_toml(tmp_path):
    bars().to_parquet(tmp_path / "spot.parquet")
    bars().rename(columns={"ts": "date"}).to_csv(tmp_path / "perp.csv", index=False)
    pd.DataFrame({"ts": pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T08:00Z"]), "rate": [1e-4, 2e-4]}).to_csv(
        tmp_path / "funding.csv", index=False)
    (tmp_path / "d.toml").write_text('symbol = "ETH/USDT"\ntimeframe = "1h"\n[venues.binance]\n'
                                     'spot = "spot.parquet"\nperp = "perp.csv"\nfunding = "funding.csv"\n')
    ds = resolve_data(str(tmp_path / "d.toml"))
    assert ds.name == "d" and len(ds.perp["binance"]) == 4 and ds.funding["binance"]["interval_h"].tolist() == [8, 8]
    (tmp_path / "bad.toml").write_text('symbol = "ETH/USDT"\n[venues.binance]\nspot = "nope.csv"\n')
    with pytest.raises(DataError, match="no such file"):
        resolve_data(str(tmp_path / "bad.toml"))
    with pytest.raises(UnknownSource):
        resolve_data(str(tmp_path / "missing.toml"))
