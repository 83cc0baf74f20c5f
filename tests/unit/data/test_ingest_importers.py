"""Importers: freqtrade tree (real files, skipped without ../shared), Binance dumps, CSV mapping, lending."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from basisbt.data import cache
from basisbt.data.errors import DataError
from basisbt.data.ingest.binance_vision import import_binance_vision
from basisbt.data.ingest.csv_import import CsvMapping, import_csv
from basisbt.data.ingest.lending import import_lending, ray_apr_to_apy

FIX = Path(__file__).resolve().parents[2] / "fixtures"
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"
FREQTRADE = SHARED / "freqtrade" / "binance"
MULTI = SHARED / "multi-venue-funding" / "funding_btc_eth_7venues_utc.csv"


def cli():
    from basisbt.cli.data import register
    app = typer.Typer()
    register(app)
    return app


@pytest.mark.skipif(not FREQTRADE.is_dir(), reason="../shared/data/freqtrade absent")
def test_freqtrade_real_tree_spans(tmp_path):
    r = CliRunner().invoke(cli(), ["import", "freqtrade", str(FREQTRADE), "--cache", str(tmp_path)])
    assert r.exit_code == 0, r.output
    ls = cache.list_cache(tmp_path).set_index(["symbol", "stream"])
    assert ls.loc[("ETH/USDT", "spot")].start == pd.Timestamp("2018-01-01", tz="UTC")
    assert ls.loc[("ETH/USDT", "spot")].end >= pd.Timestamp("2026-05-16", tz="UTC")
    assert ls.loc[("ETH/USDT:USDT", "perp")].start.strftime("%Y-%m") == "2019-11"
    assert ls.loc[("BTC/USDT:USDT", "perp")].start.strftime("%Y-%m") == "2019-09"
    assert ls.loc[("ETH/USDT:USDT", "mark")].start.strftime("%Y-%m-%d") == "2019-12-23"
    assert ls.loc[("ETH/USDT", "spot")].gaps > 0 and ls.loc[("ETH/USDT:USDT", "perp")].gaps == 0
    ds = cache.load_dataset(tmp_path, "ETH/USDT", "1h").between(pd.Timestamp("2024-01-01", tz="UTC"),
                                                                pd.Timestamp("2025-01-01", tz="UTC"))
    f = ds.funding["binance"]
    assert len(f) == 1098 and (f["interval_h"] == 8).all()
    assert 0.0001 < f["rate"].mean() < 0.00014        # docs/architecture.md §10: 0.0118 % per 8h in 2024
    assert len(ds.perp["binance"]) == 366 * 24


def test_binance_vision_tree(tmp_path):
    items = import_binance_vision(FIX / "binance_vision")
    by = {i.key.stream: i for i in items}
    assert set(by) == {"mark", "spot", "funding"}
    assert by["mark"].key.symbol == "ETH/USDT:USDT" and [c for c in by["mark"].frame.columns if not c.startswith("_")] == ["ts", "open", "high", "low", "close"]
    assert by["spot"].frame["ts"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")      # µs file
    f = by["funding"].frame
    assert f["interval_h"].tolist() == [8, 8, 8, 4] and (f["ts"].astype("int64") % 3_600_000_000_000 == 0).all()
    cache.write_many(tmp_path, [(i.key, i.frame, i.source) for i in items])
    assert cache.list_cache(tmp_path).rows.tolist() == [4, 4, 4]


def test_binance_vision_truncated_zip_and_wrong_header(tmp_path):
    src = next((FIX / "binance_vision").rglob("*markPrice*/**/*.zip"))
    bad = tmp_path / "futures/um/monthly/markPriceKlines/ETHUSDT/1h/ETHUSDT-1h-2024-01.zip"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(src.read_bytes()[:-30])
    root = tmp_path / "cache"
    r = CliRunner().invoke(cli(), ["import", "binance-vision", str(bad), "--cache", str(root)])
    assert r.exit_code == 2 and "unreadable zip" in r.output and str(bad) in r.output.replace("\n", "")
    assert "Traceback" not in r.output and not root.exists()
    hdr = tmp_path / "ETHUSDT-1h-2024-01.csv"
    hdr.write_text("time,o,h,l,c,v\n1704067200000,1,2,0.5,1.5,1\n")
    with pytest.raises(DataError, match="header not recognised") as e:
        import_binance_vision(hdr, market="um")
    assert e.value.row == 1
    broken = tmp_path / "b" / "ETHUSDT-1h-2024-02.csv"
    broken.parent.mkdir()
    broken.write_text("open_time,open,high,low,close,volume\n1706745600000,1,2,0.5,1.5,1\n1706749200000,1,0.9,0.5,1.5,1\n")
    with pytest.raises(DataError, match="high < max") as e:
        import_binance_vision(broken, market="um")
    assert e.value.row == 3          # csv line, header = line 1


def test_csv_percent_mixup_exit_2_and_cache_unchanged(tmp_path):
    root = tmp_path / "c"
    app = cli()
    args = ["import", "csv", str(FIX / "funding_percent.csv"), "--stream", "funding", "--time", "timestamp_utc",
            "--venue-column", "exchange", "--symbol-column", "symbol", "--col", "rate=funding_rate",
            "--col", "interval_h=interval_hours", "--cache", str(root)]
    r = CliRunner().invoke(app, args)
    # line 2 (first data row): 0.01 meant 0.01 %, read as a fraction it is 1 %, above bybit's cap (x 1.25)
    assert r.exit_code == 2 and "row 2" in r.output and "above the bybit ETH cap" in r.output
    assert "percent given as a fraction?" in r.output and "Traceback" not in r.output
    assert not list(root.rglob("*.parquet"))
    bad = FIX / "funding_percent.csv"
    it = import_csv(bad, CsvMapping(stream="funding", time="timestamp_utc", venue_column="exchange",
                                    symbol_column="symbol", rate_unit="percent",
                                    columns={"rate": "funding_rate", "interval_h": "interval_hours"}))
    assert it[0].key.symbol == "ETH/USDT:USDT" and it[0].frame["rate"].iloc[-1] == pytest.approx(0.045)


def test_csv_annualized_and_naive_times(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("t,apr\n2024-01-01 00:00,10.95\n2024-01-01 08:00,21.9\n")
    m = CsvMapping(stream="funding", time="t", venue="x", symbol="ETHUSDT", rate_unit="percent",
                   rate_basis="annualized", columns={"rate": "apr"})
    with pytest.raises(DataError, match="naive timestamp"):
        import_csv(p, m)
    m.assume_utc = True
    f = import_csv(p, m)[0].frame
    assert f["rate"].tolist() == pytest.approx([0.1095 * 8 / 8760, 0.219 * 8 / 8760])


@pytest.mark.skipif(not MULTI.is_file(), reason="../shared/data/multi-venue-funding absent")
def test_multi_venue_funding_csv():
    items = import_csv(MULTI, CsvMapping(stream="funding", time="timestamp_utc", venue_column="exchange",
                                         symbol_column="symbol",
                                         columns={"rate": "funding_rate", "interval_h": "interval_hours"}))
    venues = {i.key.venue for i in items}
    assert venues == {"binance", "bybit", "gate", "htx", "kucoin", "mexc", "dydx"}
    dydx = next(i for i in items if i.key.venue == "dydx" and i.key.symbol == "ETH/USDT:USDT").frame
    assert (dydx["interval_h"] == 1).all()


def test_lending_formats(tmp_path):
    d = import_lending(FIX / "lending" / "defillama_usdt.csv", protocol="Aave", asset="usdt")[0]
    assert d.key.venue == "aave" and d.frame["supply_apy"].tolist() == pytest.approx([0.052, 0.06, 0.055])
    a = import_lending(FIX / "lending" / "aave_usdt.csv", protocol="aave", asset="USDT")[0].frame
    assert a["supply_apy"].iloc[0] == pytest.approx(np.exp(0.05) - 1, rel=1e-6)
    assert a["borrow_apy"].iloc[0] > a["supply_apy"].iloc[0]
    assert ray_apr_to_apy([0])[0] == 0.0
    p = tmp_path / "plain.csv"
    p.write_text("time,apy\n2024-01-01T00:00:00Z,5.0\n2024-01-02T00:00:00Z,5.5\n")
    root = tmp_path / "c"
    r = CliRunner().invoke(cli(), ["import", "lending", str(p), "--protocol", "x", "--cache", str(root)])
    assert r.exit_code == 2 and "plain.csv, row 2" in r.output and "outside -50%..100% a year" in r.output
    r = CliRunner().invoke(cli(), ["import", "lending", str(p), "--protocol", "x", "--unit", "percent", "--cache", str(root)])
    assert r.exit_code == 0, r.output
    assert cache.list_cache(root).rows.tolist() == [2]
