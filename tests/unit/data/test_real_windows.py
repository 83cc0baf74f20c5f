"""The real Binance windows shipped as scenarios: small, loadable, as stated, and equal to their sources.

Checks against ../shared/data (the rows, the sha256, a rebuild) skip when it is absent (a fresh clone).
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from basisbt.data.scenarios import list_scenarios, load_scenario, real
from basisbt.data.scenarios.real import build_windows as bw
from basisbt.data.sources import resolve_data

SOURCE = Path(__file__).resolve().parents[4] / "shared" / "data" / "freqtrade" / "binance"
needs_source = pytest.mark.skipif(not SOURCE.is_dir(), reason="../shared/data/freqtrade/binance absent (fresh clone)")
NAMES = [w.name for w in real.WINDOWS]
PAIRED = [w.name for w in real.PAIRED]
# fingerprints of the ETH-only windows, recorded on main @ 9ff48d4 before the BTC files were added beside them:
# adding an asset must not change what these scenarios load
ETH_FINGERPRINTS = {"real-binance-aug-2024": "22f793402605d6e4", "real-binance-feb-2025": "e7d169412821282f",
                    "real-binance-oct-2025": "e28c106b775bb2a6"}
HOUR = pd.Timedelta("1h")
# What docs/scenarios.md states per window: (1h bars per bar stream, 8h settlements, missing bars, missing settlements)
STATED = {
    "real-binance-feb-2025": (504, 63, 0, 0),
    "real-binance-aug-2024": (504, 63, 0, 0),
    "real-binance-oct-2025": (456, 57, 0, 0),
}
# the same for the BTC/USDT files of the paired windows
STATED_BTC = {
    "real-btc-eth-feb-2025": (504, 63, 0, 0),
    "real-btc-eth-aug-2024": (504, 63, 0, 0),
    "real-btc-eth-oct-2025": (456, 57, 0, 0),
}
COLUMNS = {"spot": ["open", "high", "low", "close", "volume"], "perp": ["open", "high", "low", "close", "volume"],
           "mark": ["open", "high", "low", "close"]}


@pytest.fixture(scope="module")
def loaded() -> dict:
    return {n: load_scenario(n) for n in NAMES + PAIRED}


def test_shipped_files_total_under_2_mb() -> None:
    shipped = [f for f in real.ROOT.rglob("*") if f.is_file() and f.suffix in (".parquet", ".toml")]
    assert len([f for f in shipped if f.suffix == ".parquet"]) == 4 * len(NAMES) * (1 + len(real.EXTRA_SYMBOLS))
    assert sum(f.stat().st_size for f in shipped) < 2 * 1024 * 1024


@pytest.mark.parametrize("name", NAMES)
def test_eth_windows_load_as_before_the_btc_files(loaded: dict, name: str) -> None:
    assert loaded[name].fingerprint() == ETH_FINGERPRINTS[name]
    assert loaded[name].assets == ["ETH"] and loaded[name].extra_assets == ()


def test_paired_windows_registered_as_real_multi_asset() -> None:
    assert not set(PAIRED) & {s.name for s in list_scenarios(real_data=True)}     # one-asset callers never see them
    every = {s.name: s for s in list_scenarios(real_data=True, multi_asset=True)}
    for w in real.PAIRED:
        info = every[w.name]
        assert info.real and info.multi_asset and info.assets == ("ETH", "BTC") and "BTC/USDT" in info.source
        assert real.BY_NAME[w.files].span() == w.span()                         # reads a shipped window's files


@pytest.mark.parametrize("name", PAIRED)
def test_paired_window_is_the_eth_window_plus_btc(loaded: dict, name: str) -> None:
    ds = loaded[name]
    w = real.BY_NAME[name]
    eth_only = loaded[w.files]
    assert ds.name == f"scenario:{name}" and ds.assets == ["ETH", "BTC"] and ds.venues == ["binance"]
    assert replace(ds, extra_assets=()).fingerprint() == eth_only.fingerprint()
    assert ds.fingerprint() not in {eth_only.fingerprint(), ds.asset("BTC").fingerprint()}
    btc = ds.asset("BTC")
    assert btc.symbol == "BTC/USDT" and btc.lending == {} and btc.flows is None
    start, end = w.span()
    bars, settlements, missing_bars, missing_settlements = STATED_BTC[name]
    prov = real.provenance()["assets"]["BTC"]["windows"][w.files]
    for stream in ("spot", "perp", "mark"):
        ts = pd.DatetimeIndex(getattr(btc, stream)["binance"]["ts"])
        expected = pd.date_range(start, end, freq="1h", inclusive="left")
        assert len(expected) == bars and len(expected.difference(ts)) == missing_bars, stream
        pd.testing.assert_index_equal(ts, pd.DatetimeIndex(getattr(ds, stream)["binance"]["ts"]))   # one clock
        assert prov[stream]["rows"] == len(ts) and prov[stream]["missing"] == missing_bars
    f = btc.funding["binance"]
    grid = pd.date_range(start, end, freq="8h", inclusive="left")
    assert len(grid) == settlements and len(grid.difference(pd.DatetimeIndex(f["ts"]))) == missing_settlements
    assert prov["funding"]["rows"] == len(f) and prov["funding"]["missing"] == missing_settlements
    assert 20_000 < btc.spot["binance"]["close"].min() < btc.spot["binance"]["close"].max() < 200_000


def test_paired_windows_refuse_other_timeframe_or_seed() -> None:
    with pytest.raises(ValueError, match="not resampled"):
        load_scenario("real-btc-eth-aug-2024", timeframe="4h")
    with pytest.raises(ValueError, match="takes no seed"):
        load_scenario("real-btc-eth-aug-2024", seed=1)


def test_shipped_files_are_never_rewritten_by_a_rebuild(tmp_path: Path) -> None:
    """build_windows leaves a file that holds the same rows untouched (so adding BTC kept the ETH bytes)."""
    for f in sorted(real.ROOT.rglob("*.parquet")):
        copy = tmp_path / f.name
        copy.write_bytes(f.read_bytes())
        before = (copy.stat().st_mtime_ns, copy.read_bytes())
        assert bw.write_parquet(pd.read_parquet(f), copy) is False, f
        assert (copy.stat().st_mtime_ns, copy.read_bytes()) == before
    frame = pd.read_parquet(next(real.ROOT.rglob("*.parquet")))
    assert bw.write_parquet(frame.iloc[:-1], copy) is True
    pd.testing.assert_frame_equal(pd.read_parquet(copy), frame.iloc[:-1])


def test_registered_as_real_with_a_source() -> None:
    synthetic = {s.name for s in list_scenarios()}
    assert not synthetic & set(NAMES)                      # opt-in: golden cases iterate list_scenarios()
    every = {s.name: s for s in list_scenarios(real_data=True)}
    assert synthetic | set(NAMES) == set(every)                # real-hyperliquid-*: with other_venues=True
    for n in NAMES:
        assert every[n].real and "Binance" in every[n].source and every[n].summary and every[n].stresses
    assert not any(every[n].real for n in synthetic)


@pytest.mark.parametrize("name", NAMES)
def test_window_loads_spans_and_gaps_as_stated(loaded: dict, name: str) -> None:
    ds = loaded[name]
    w = real.BY_NAME[name]
    start, end = w.span()
    bars, settlements, missing_bars, missing_settlements = STATED[name]
    assert ds.name == f"scenario:{name}" and ds.symbol == "ETH/USDT" and ds.timeframe == "1h"
    assert ds.venues == ["binance"] and sorted(ds.spot) == sorted(ds.mark) == sorted(ds.funding) == ["binance"]
    assert ds.lending == {} and ds.flows is None
    for stream in ("spot", "perp", "mark"):
        ts = ds.__dict__[stream]["binance"]["ts"]
        assert ts.iloc[0] == start and ts.iloc[-1] == end - HOUR, stream
        expected = pd.date_range(start, end, freq="1h", inclusive="left")
        assert len(expected) == bars
        assert len(expected.difference(pd.DatetimeIndex(ts))) == missing_bars, stream
    f = ds.funding["binance"]
    assert f["ts"].iloc[0] >= start and f["ts"].iloc[-1] < end
    grid = pd.date_range(start, end, freq="8h", inclusive="left")
    assert len(grid) == settlements
    assert len(grid.difference(pd.DatetimeIndex(f["ts"]))) == missing_settlements
    prov = real.provenance()["windows"][name]
    for stream in ("spot", "perp", "mark", "funding"):
        assert prov[stream]["missing"] == (missing_settlements if stream == "funding" else missing_bars)
        assert prov[stream]["rows"] == len(ds.__dict__[stream]["binance"])


def test_docs_state_each_window() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "scenarios.md").read_text()
    for name, (bars, settlements, _, _) in {**STATED, **STATED_BTC}.items():
        w = real.BY_NAME[name]
        assert name in doc and w.start in doc and w.end in doc
        line = next(ln for ln in doc.splitlines() if ln.startswith(f"| `{name}`"))
        assert f"{bars} / {bars} / {bars}" in line and f"{settlements}" in line


def test_other_timeframe_or_seed_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="real 1h data and is not resampled") as e:
        load_scenario("real-binance-feb-2025", timeframe="4h")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="takes no seed"):
        load_scenario("real-binance-feb-2025", seed=1)
    with pytest.raises(ValueError, match="real-binance-oct-2025"):
        load_scenario("real-binance-oct")


def test_resolved_as_a_data_source() -> None:
    ds = resolve_data("scenario:real-binance-aug-2024")
    assert ds.name == "scenario:real-binance-aug-2024" and ds.venues == ["binance"]
    with pytest.raises(ValueError, match="not resampled"):
        resolve_data("scenario:real-binance-aug-2024", timeframe="1m")


@needs_source
def test_sources_are_the_ones_recorded() -> None:
    prov = real.provenance()["sources"]
    for stream, (rel, _) in bw.FILES.items():
        assert prov[stream]["file"] == f"{rel}.feather"
        assert bw.sha256(SOURCE / prov[stream]["file"]) == prov[stream]["sha256"], stream
    for base, files in bw.EXTRA_FILES.items():
        prov = real.provenance()["assets"][base]["sources"]
        for stream, (rel, _) in files.items():
            assert prov[stream]["file"] == f"{rel}.feather" and rel.split("/")[1].startswith(f"{base}_USDT")
            assert bw.sha256(SOURCE / prov[stream]["file"]) == prov[stream]["sha256"], (base, stream)


@needs_source
@pytest.mark.parametrize("name", NAMES)
def test_values_equal_the_source_rows(loaded: dict, name: str) -> None:
    ds = loaded[name]
    start, end = real.BY_NAME[name].span()
    for stream, (rel, _) in bw.FILES.items():
        src = pd.read_feather(SOURCE / f"{rel}.feather")
        src = src[(src["date"] >= start) & (src["date"] < end)].reset_index(drop=True)
        got = ds.__dict__[stream]["binance"]
        assert len(got) == len(src), stream
        np.testing.assert_array_equal(got["ts"].to_numpy(dtype="datetime64[ns]"),
                                      src["date"].dt.round("1s").to_numpy(dtype="datetime64[ns]"))
        if stream == "funding":
            np.testing.assert_array_equal(got["rate"].to_numpy(), src["open"].to_numpy(dtype=np.float64))
        else:
            cols = COLUMNS[stream]
            np.testing.assert_array_equal(got[cols].to_numpy(), src[cols].to_numpy(dtype=np.float64))


@needs_source
@pytest.mark.parametrize("name", PAIRED)
def test_btc_values_equal_the_source_rows(loaded: dict, name: str) -> None:
    btc = loaded[name].asset("BTC")
    start, end = real.BY_NAME[name].span()
    for stream, (rel, _) in bw.EXTRA_FILES["BTC"].items():
        src = pd.read_feather(SOURCE / f"{rel}.feather")
        src = src[(src["date"] >= start) & (src["date"] < end)].reset_index(drop=True)
        got = getattr(btc, stream)["binance"]
        assert len(got) == len(src), stream
        np.testing.assert_array_equal(got["ts"].to_numpy(dtype="datetime64[ns]"),
                                      src["date"].dt.round("1s").to_numpy(dtype="datetime64[ns]"))
        if stream == "funding":
            np.testing.assert_array_equal(got["rate"].to_numpy(), src["open"].to_numpy(dtype=np.float64))
        else:
            cols = COLUMNS[stream]
            np.testing.assert_array_equal(got[cols].to_numpy(), src[cols].to_numpy(dtype=np.float64))


@needs_source
def test_rebuild_from_sources_gives_the_shipped_rows(tmp_path: Path) -> None:
    prov = bw.build(SOURCE, tmp_path)
    assert prov["windows"] == real.provenance()["windows"] and prov["sources"] == real.provenance()["sources"]
    assert prov["assets"] == real.provenance()["assets"]
    for f in real.ROOT.rglob("*.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(f), pd.read_parquet(tmp_path / f.relative_to(real.ROOT)))


def test_cli_run_on_a_real_window_writes_metrics(tmp_path: Path) -> None:
    from basisbt.cli.app import app
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", "--data", "scenario:real-binance-oct-2025", "--end", "2025-10-06",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["dataset"] == "scenario:real-binance-oct-2025" and m["bars"] > 0 and "pnl" in m


def test_cli_refuses_other_timeframe_and_lists_real_scenarios() -> None:
    from basisbt.cli.app import app
    runner = CliRunner()
    r = runner.invoke(app, ["run", "--data", "scenario:real-binance-oct-2025", "--timeframe", "4h"])
    assert r.exit_code == 2 and "not resampled" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["scenarios"], env={"COLUMNS": "250"})
    assert r.exit_code == 0
    for name in NAMES + PAIRED:
        assert name in r.output
    assert "real: Binance" in r.output and "synthetic, seeded" in r.output
