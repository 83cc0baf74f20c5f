"""Parquet cache: atomic, merging, bit-identical round trip, manifest, clean errors on corrupt files."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_validate import bars, broken_bars

from basisbt.data import cache
from basisbt.data.errors import DataError
from basisbt.data.validate import validate_bars

K = cache.key_for("perp", "binance", "ETH/USDT:USDT", "1h")


def test_layout_merge_gaps_and_manifest(tmp_path):
    cache.write(tmp_path, K, bars(5))
    cache.write(tmp_path, K, bars(5, start="2024-01-01 08:00").assign(close=lambda d: d.close + 0.5))
    got = cache.read(tmp_path, K)
    assert len(got) == 10 and got["ts"].is_monotonic_increasing
    assert K.path(tmp_path) == tmp_path / "perp/binance/ETH-USDT--USDT/1h.parquet"
    meta = cache.read_meta(tmp_path, K)
    assert meta["gaps"] == [[pd.Timestamp("2024-01-01 05:00", tz="UTC").value, pd.Timestamp("2024-01-01 08:00", tz="UTC").value]]
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["datasets"][0]["rows"] == 10
    row = cache.list_cache(tmp_path).iloc[0]
    assert (row.venue, row.symbol, row.stream, row.timeframe, row.rows, row.gaps) == ("binance", "ETH/USDT:USDT", "perp", "1h", 10, 1)


def test_missing_ranges():
    assert cache.missing_ranges((0, 100), [(10, 20), (15, 30), (50, 60)]) == [(0, 10), (30, 50), (60, 100)]
    assert cache.missing_ranges((0, 10), [(0, 10)]) == []


def test_bad_frame_never_touches_cache(tmp_path):
    cache.write(tmp_path, K, bars(5))
    before = K.path(tmp_path).read_bytes()
    with pytest.raises(DataError):
        cache.write(tmp_path, K, bars(5, start="2024-01-02").assign(high=1.0))
    with pytest.raises(DataError, match="not sorted"):       # same ts twice in one batch
        cache.write(tmp_path, K, pd.concat([bars(2), bars(2).assign(close=101.5)], ignore_index=True))
    assert K.path(tmp_path).read_bytes() == before and not list(tmp_path.rglob("*.tmp"))


def test_corrupt_parquet_is_a_clean_error(tmp_path):
    cache.write(tmp_path, K, bars(5))
    p = K.path(tmp_path)
    p.write_bytes(p.read_bytes()[:40])
    with pytest.raises(DataError, match="unreadable parquet") as e:
        cache.read(tmp_path, K)
    assert str(p) in str(e.value)
    with pytest.raises(DataError, match="unreadable parquet"):
        cache.write(tmp_path, K, bars(3, start="2024-02-01"))
    assert len(p.read_bytes()) == 40


def test_load_dataset(tmp_path):
    cache.write(tmp_path, cache.key_for("spot", "binance", "ETH/USDT", "1h"), bars(4))
    cache.write(tmp_path, K, bars(4))
    f = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01", "2024-01-01 08:00"], utc=True, format="ISO8601"), "rate": [1e-4, 2e-4]})
    cache.write(tmp_path, cache.key_for("funding", "bybit", "ETH/USDT:USDT"), f)
    ds = cache.load_dataset(tmp_path, "ETH/USDT", "1h")
    assert ds.venues == ["binance"] and sorted(ds.funding) == ["bybit"]
    assert any("no mark" in n for n in ds.notes)
    with pytest.raises(DataError, match="cached symbols: ETH/USDT"):
        cache.load_dataset(tmp_path, "BTC/USDT", "1h")
    with pytest.raises(DataError, match="cached for ETH/USDT: binance"):
        cache.load_dataset(tmp_path, "ETH/USDT", "1h", venues=["okx"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 50), seed=st.integers(0, 2**32 - 1))
def test_valid_frames_round_trip_bit_identical(tmp_path_factory, n, seed):
    root = tmp_path_factory.mktemp("c")
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.choice(10_000, n, replace=False)), unit="h")
    o = rng.lognormal(7, 1, n)
    c = rng.lognormal(7, 1, n)
    d = pd.DataFrame({"ts": ts, "open": o, "high": np.maximum(o, c) * (1 + rng.random(n)),
                      "low": np.minimum(o, c) * (1 - rng.random(n) / 2), "close": c, "volume": rng.random(n) * 1e6})
    cache.write(root, K, d)
    got = cache.read(root, K)
    pd.testing.assert_frame_equal(got, validate_bars(d), check_exact=True)
    assert got["open"].to_numpy().tobytes() == d["open"].to_numpy().tobytes()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(broken_bars())
def test_broken_frames_leave_no_cache(tmp_path_factory, d):
    root = tmp_path_factory.mktemp("c")
    with pytest.raises(DataError):
        cache.write(root, K, d)
    assert not list(root.rglob("*.parquet"))
