"""The shipped real-hyperliquid-oct-2025 window: real Hyperliquid hourly funding beside Binance, Binance's bars
standing in for Hyperliquid's, said so; small, with provenance; the same records as the shared source."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from basisbt.data.scenarios import list_scenarios, load_scenario, real
from basisbt.data.scenarios.real.build_windows import sha256

NAME = "real-hyperliquid-oct-2025"
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "hyperliquid" / \
    "fundingHistory_ETH_2024-2025.json"


@pytest.fixture(scope="module")
def ds():
    return load_scenario(NAME)


def test_it_is_listed_as_real_with_its_stand_ins(ds):
    assert NAME not in {s.name for s in list_scenarios(real_data=True)}      # another venue: opt-in
    info = {s.name: s for s in list_scenarios(real_data=True, other_venues=True)}[NAME]
    assert info.real and "Binance's bars stand in for Hyperliquid's" in info.source
    assert ds.venues == ["binance", "hyperliquid"]
    assert any("stand-ins" in n and "hyperliquid perp and mark = Binance's" in n for n in ds.notes)
    for kind in ("spot", "perp", "mark"):            # the same bars, by construction
        assert getattr(ds, kind)["hyperliquid"].equals(getattr(ds, kind)["binance"])


def test_window_span_and_funding(ds):
    start, end = real.BY_NAME[NAME].span()
    for frames in (ds.spot, ds.perp, ds.mark, ds.funding):
        for f in frames.values():
            assert f["ts"].min() >= start and f["ts"].max() < end
    hl = ds.funding["hyperliquid"]
    assert len(hl) == 284 and (hl["interval_h"] == 1.0).all()                # hourly, no hole in this window
    assert (hl["ts"].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert int((hl["rate"] == 0.0000125).sum()) == 203                        # the interest rate's 0.00125 %/h
    low = hl.loc[hl["rate"].idxmin()]
    assert low["ts"] == pd.Timestamp("2025-10-10 22:00", tz="UTC") and low["rate"] == pytest.approx(-0.0003855844)
    assert (ds.funding["binance"]["interval_h"] == 8.0).all()


def test_the_shipped_records_are_the_shared_ones_unchanged():
    shipped = json.loads(real.hl_funding_file(real.BY_NAME[NAME]).read_text())
    prov = real.provenance()["hyperliquid"]
    assert prov["windows"][NAME]["records"] == len(shipped) == 284
    if not SHARED.is_file():
        pytest.skip(f"{SHARED} absent (fresh clone)")
    assert sha256(SHARED) == prov["sha256"]
    source = json.loads(SHARED.read_text())
    start, end = real.BY_NAME[NAME].span()
    hours = np.array([r["time"] // 3_600_000 * 3_600_000 for r in source]) * 10**6
    assert shipped == [r for r, h in zip(source, hours, strict=True) if start.value <= h < end.value]


def test_all_shipped_real_data_stays_small():
    total = sum(f.stat().st_size for f in real.ROOT.rglob("*") if f.is_file() and f.suffix in (".parquet", ".json"))
    assert total < 2_000_000
