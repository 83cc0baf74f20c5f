"""tests.helpers.binance_real: real Binance BTC+ETH 1h from ../shared/data as one Dataset, skipped when absent."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import tests.helpers as helpers
from basisbt.data.scenarios import load_scenario, real


def test_skips_cleanly_when_the_shared_data_is_absent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(helpers, "SHARED_BINANCE", tmp_path / "nope")
    with pytest.raises(pytest.skip.Exception, match="absent"):
        helpers.binance_real()


def test_btc_eth_2024_loads_both_assets_on_one_clock() -> None:
    ds = helpers.binance_real()                    # skips on a fresh clone
    assert ds.assets == ["ETH", "BTC"] and ds.venues == ["binance"] and ds.timeframe == "1h"
    t0, t1 = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2025-01-01", tz="UTC")
    for a in ds.assets:
        d = ds.asset(a)
        for stream in ("spot", "perp", "mark", "funding"):
            ts = getattr(d, stream)["binance"]["ts"]
            assert ts.iloc[0] >= t0 and ts.iloc[-1] < t1 and ts.is_monotonic_increasing, (a, stream)
        assert len(d.perp["binance"]) > 0.99 * len(pd.date_range(t0, t1, freq="1h", inclusive="left"))
    assert helpers.binance_real() is ds            # loaded once per arguments


@pytest.mark.parametrize("w", real.PAIRED, ids=lambda w: w.name)
def test_same_rows_as_the_shipped_windows(w: real.RealWindow) -> None:
    """Two paths to the same rows: the helper over a window's span and the shipped real-btc-eth window."""
    ds = helpers.binance_real(w.symbols, w.start, w.end)
    assert ds.fingerprint() == load_scenario(w.name).fingerprint()
