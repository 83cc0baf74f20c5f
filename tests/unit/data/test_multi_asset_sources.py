"""--data for several base assets: `cache:A,B` and the `[assets."BASE/QUOTE"]` form of a dataset TOML."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from basisbt.data import cache
from basisbt.data.errors import DataError
from basisbt.data.sources import UnknownSource, load_dataset_toml, resolve_data

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "ingest"
LEVEL = {"ETH": 3000.0, "BTC": 60000.0, "SOL": 150.0}


def bars(level: float, n: int = 6, start: str = "2024-01-01") -> pd.DataFrame:
    ts = pd.date_range(start, periods=n, freq="1h", tz="UTC")
    o = level * (1.0 + 0.001 * np.arange(n))
    return pd.DataFrame({"ts": ts, "open": o, "high": o * 1.002, "low": o * 0.998, "close": o, "volume": 1.0})


def funding(rate: float) -> pd.DataFrame:
    return pd.DataFrame({"ts": pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T08:00Z"]), "rate": [rate, rate / 2]})


def fill_cache(root: Path, bases=("ETH", "BTC"), venues=("binance", "okx")) -> None:
    for b in bases:
        for v in venues:
            cache.write(root, cache.key_for("spot", v, f"{b}/USDT", "1h"), bars(LEVEL[b]))
            cache.write(root, cache.key_for("perp", v, f"{b}/USDT:USDT", "1h"), bars(LEVEL[b] * 1.001))
            cache.write(root, cache.key_for("mark", v, f"{b}/USDT:USDT", "1h"), bars(LEVEL[b]).drop(columns="volume"))
            cache.write(root, cache.key_for("funding", v, f"{b}/USDT:USDT"), funding(1e-4 if b == "ETH" else 2e-4))


# ------------------------------------------------------------------------ cache:A,B

def test_cache_list_loads_every_asset_first_is_primary(tmp_path: Path) -> None:
    fill_cache(tmp_path)
    eth = resolve_data("cache:ETH/USDT", cache_dir=tmp_path)
    btc = resolve_data("cache:BTC/USDT", cache_dir=tmp_path)
    ds = resolve_data("cache:ETH/USDT,BTC/USDT", cache_dir=tmp_path)
    assert ds.name == "cache:ETH/USDT,BTC/USDT" and ds.assets == ["ETH", "BTC"] and ds.symbol == "ETH/USDT"
    assert ds.venues == ["binance", "okx"] and ds.timeframe == "1h"
    assert replace(ds, extra_assets=()).fingerprint() == eth.fingerprint()
    assert ds.asset("BTC").fingerprint() == btc.fingerprint()
    for stream in ("spot", "perp", "mark", "funding"):
        for v in ("binance", "okx"):
            pd.testing.assert_frame_equal(getattr(ds.asset("BTC"), stream)[v], getattr(btc, stream)[v])
    assert ds.fingerprint() not in {eth.fingerprint(), btc.fingerprint()}
    assert resolve_data("cache:ETH/USDT, BTC/USDT", cache_dir=tmp_path).fingerprint() == ds.fingerprint()
    flipped = resolve_data("cache:BTC/USDT,ETH/USDT", cache_dir=tmp_path)
    assert flipped.assets == ["BTC", "ETH"] and flipped.fingerprint() != ds.fingerprint()


def test_bare_cache_with_several_symbols_points_to_the_list_form(tmp_path: Path) -> None:
    fill_cache(tmp_path)
    with pytest.raises(UnknownSource, match="BTC/USDT, ETH/USDT.*cache:ETH/USDT,BTC/USDT") as e:
        resolve_data("cache", cache_dir=tmp_path)
    assert "\n" not in str(e.value)


def test_cache_list_keeps_each_assets_notes(tmp_path: Path) -> None:
    fill_cache(tmp_path)
    cache.write(tmp_path, cache.key_for("perp", "bybit", "BTC/USDT:USDT", "1h"), bars(LEVEL["BTC"]))
    ds = resolve_data("cache:ETH/USDT,BTC/USDT", cache_dir=tmp_path)
    assert ds.venues == ["binance", "bybit", "okx"] and "bybit" not in ds.perp
    assert any(n.startswith("BTC: bybit: no mark 1h bars cached for BTC/USDT:USDT") for n in ds.notes)


@pytest.mark.parametrize("source, match", [
    ("cache:ETH/USDT,ETH/USDT", "asset ETH given twice"),
    ("cache:ETH/USDT,ETH/USDT:USDT", "asset ETH given twice"),
    ("cache:ETH/USDT,BTC/USDC", "mixed quotes USDT, USDC"),
    ("cache:ETH/USDT,", "empty symbol"),
    ("cache:ETH/USDT,BTC", "'BTC' is not a BASE/QUOTE symbol"),
])
def test_cache_list_refused_in_one_line(tmp_path: Path, source: str, match: str) -> None:
    fill_cache(tmp_path)
    with pytest.raises(UnknownSource, match=match) as e:
        resolve_data(source, cache_dir=tmp_path)
    assert "\n" not in str(e.value) and source in str(e.value)


def test_cache_list_missing_asset_or_unsafe_name(tmp_path: Path) -> None:
    fill_cache(tmp_path)
    with pytest.raises(DataError, match="no SOL/USDT bars in cache"):
        resolve_data("cache:ETH/USDT,SOL/USDT", cache_dir=tmp_path)
    with pytest.raises(DataError, match="no '..'"):
        resolve_data("cache:ETH/USDT,../../x/USDT", cache_dir=tmp_path)


def test_cli_refuses_a_repeated_asset_with_exit_2(tmp_path: Path) -> None:
    from basisbt.cli.app import app
    fill_cache(tmp_path)
    r = CliRunner().invoke(app, ["run", "--data", "cache:ETH/USDT,ETH/USDT", "--cache", str(tmp_path),
                                 "--out", str(tmp_path / "run")])
    assert r.exit_code == 2 and "asset ETH given twice" in r.output and "Traceback" not in r.output


# ------------------------------------------------------------------------ dataset TOML with [assets."BASE/QUOTE"]

def write_files(d: Path) -> None:
    for b in ("ETH", "BTC"):
        bars(LEVEL[b]).to_parquet(d / f"{b}_spot.parquet")
        bars(LEVEL[b] * 1.001).to_csv(d / f"{b}_perp.csv", index=False)
        bars(LEVEL[b]).drop(columns="volume").to_parquet(d / f"{b}_mark.parquet")
    funding(1e-4).to_csv(d / "ETH_funding.csv", index=False)


MULTI = """name = "eth-btc"
symbol = "ETH/USDT"
timeframe = "1h"
[venues.binance]
spot = "ETH_spot.parquet"
perp = "ETH_perp.csv"
mark = "ETH_mark.parquet"
funding = "ETH_funding.csv"
[assets."BTC/USDT".venues.binance]
spot = "BTC_spot.parquet"
perp = "BTC_perp.csv"
mark = "BTC_mark.parquet"
funding = { file = "FUNDING_MULTI", time = "timestamp_utc", columns = { rate = "funding_rate" }, where = { exchange = "binance", symbol = "BTC-USDT" } }
[assets."BTC/USDT".venues.okx]
perp = "BTC_perp.csv"
"""


@pytest.fixture
def multi_toml(tmp_path: Path) -> Path:
    write_files(tmp_path)
    p = tmp_path / "multi.toml"
    p.write_text(MULTI.replace("FUNDING_MULTI", str((FIX / "funding_multi.csv").resolve())))
    return p


def test_toml_loads_each_assets_frames(multi_toml: Path) -> None:
    ds = resolve_data(str(multi_toml))
    assert ds.name == "eth-btc" and ds.assets == ["ETH", "BTC"] and ds.venues == ["binance", "okx"]
    eth, btc = ds.asset("ETH"), ds.asset("BTC")
    assert sorted(eth.perp) == ["binance"] and sorted(btc.perp) == ["binance", "okx"] and sorted(btc.spot) == ["binance"]
    d = multi_toml.parent
    np.testing.assert_array_equal(eth.spot["binance"]["close"], pd.read_parquet(d / "ETH_spot.parquet")["close"])
    np.testing.assert_array_equal(btc.spot["binance"]["close"], pd.read_parquet(d / "BTC_spot.parquet")["close"])
    np.testing.assert_array_equal(btc.perp["okx"]["close"], pd.read_csv(d / "BTC_perp.csv")["close"])
    np.testing.assert_array_equal(btc.mark["binance"]["high"], pd.read_parquet(d / "BTC_mark.parquet")["high"])
    assert btc.funding["binance"]["rate"].tolist() == [0.0002, 0.00021]      # the raw file's BTC-USDT rows only
    assert eth.funding["binance"]["rate"].tolist() == [1e-4, 5e-5]
    assert btc.lending == {} and btc.flows is None


def test_toml_primary_alone_keeps_todays_fingerprint(multi_toml: Path) -> None:
    text = multi_toml.read_text()
    single = multi_toml.with_name("single.toml")
    single.write_text(text[:text.index("[assets.")])
    one, both = load_dataset_toml(single), load_dataset_toml(multi_toml)
    assert one.extra_assets == () and one.assets == ["ETH"]
    assert replace(both, extra_assets=()).fingerprint() == one.fingerprint()
    assert both.fingerprint() != one.fingerprint() and both.fingerprint() == load_dataset_toml(multi_toml).fingerprint()


def test_toml_checks_each_assets_funding_against_its_own_cap(multi_toml: Path) -> None:
    """okx caps ETH at 0.75 % and BTC at 0.375 % per 8h: 0.6 % passes for ETH and is refused for BTC."""
    d = multi_toml.parent
    funding(0.006).to_csv(d / "okx_funding.csv", index=False)
    text = multi_toml.read_text().replace('[assets."BTC/USDT".venues.okx]\n',
                                          '[assets."BTC/USDT".venues.okx]\nfunding = "okx_funding.csv"\n')
    multi_toml.write_text(text)
    with pytest.raises(DataError, match="above the okx BTC cap") as e:
        load_dataset_toml(multi_toml)
    assert "okx_funding.csv" in e.value.file and e.value.row == 2
    eth_okx = text.replace('venues.okx]\nfunding = "okx_funding.csv"\n', 'venues.okx]\n')
    multi_toml.write_text(eth_okx.replace("[venues.binance]\n", '[venues.okx]\nfunding = "okx_funding.csv"\n'
                                                                '[venues.binance]\n'))
    assert load_dataset_toml(multi_toml).funding["okx"]["rate"].iloc[0] == 0.006


@pytest.mark.parametrize("edit, match", [
    (('[assets."BTC/USDT".venues.okx]', '[assets."BTC/USDT".lending.aave]'),
     "unknown key 'lending' in .assets.\"BTC/USDT\".."),
    (('[assets."BTC/USDT".venues.okx]\nperp', '[assets."BTC/USDT".venues.okx]\nprep'),
     "unknown stream 'prep' in .assets.\"BTC/USDT\".venues.okx."),
    (('"BTC/USDT"', '"BTC/USDC"'), "quote USDC differs from the primary ETH/USDT"),
    (('"BTC/USDT"', '"ETH/USDT"'), "asset ETH given twice .it is the primary symbol."),
    (('"BTC/USDT"', '"BTC/USDT:USDT"'), "must be a spot symbol BASE/QUOTE"),
    (('[assets."BTC/USDT".venues.okx]', '[asset."BTC/USDT".venues.okx]'), "unknown key 'asset'"),
    (("time = \"timestamp_utc\"", "tim = \"timestamp_utc\""),
     "unknown key in .assets.\"BTC/USDT\".venues.binance..funding"),
])
def test_toml_bad_asset_tables_refused_naming_file_and_key(multi_toml: Path, edit: tuple[str, str], match: str) -> None:
    multi_toml.write_text(multi_toml.read_text().replace(*edit))
    with pytest.raises(DataError, match=match) as e:
        load_dataset_toml(multi_toml)
    assert str(multi_toml) in str(e.value) and "\n" not in str(e.value)


def test_toml_asset_without_venues_refused(tmp_path: Path) -> None:
    write_files(tmp_path)
    p = tmp_path / "a.toml"
    p.write_text('symbol = "ETH/USDT"\n[venues.binance]\nperp = "ETH_perp.csv"\n[assets."BTC/USDT"]\nvenues = {}\n')
    with pytest.raises(DataError, match="needs at least one"):
        load_dataset_toml(p)
    p.write_text('symbol = "ETH/USDT"\nassets = "BTC/USDT"\n[venues.binance]\nperp = "ETH_perp.csv"\n')
    with pytest.raises(DataError, match="assets must be tables"):
        load_dataset_toml(p)


def test_toml_venue_events_may_name_a_venue_only_an_extra_asset_trades(multi_toml: Path) -> None:
    multi_toml.write_text(multi_toml.read_text() + '[[venue_events]]\nkind = "halt"\nvenue = "okx"\n'
                                                   'start = 2024-01-01T02:00:00Z\nend = 2024-01-01T04:00:00Z\n')
    ds = load_dataset_toml(multi_toml)
    assert [e.venue for e in ds.venue_events] == ["okx"]


# ------------------------------------------------------------------------ basisbt data list

def test_assets_summary_says_what_each_cache_symbol_loads(tmp_path: Path) -> None:
    assert cache.assets_summary(cache.list_cache(tmp_path)).empty
    fill_cache(tmp_path)
    cache.write(tmp_path, cache.key_for("perp", "bybit", "SOL/USDC:USDC", "1h"), bars(LEVEL["SOL"]))
    cache.write(tmp_path, cache.key_for("funding", "bybit", "BTC/USDT:USDT"), funding(1e-4))
    cache.write(tmp_path, cache.key_for("funding", "okx", "XRP/USDT:USDT"), funding(1e-4))   # no bars: not loadable
    summary = cache.assets_summary(cache.list_cache(tmp_path))
    rows = {(r.symbol, r.timeframe): r.venues for r in summary.itertuples()}
    assert set(rows) == {("BTC/USDT", "1h"), ("ETH/USDT", "1h"), ("SOL/USDC", "1h")}
    assert rows["BTC/USDT", "1h"] == "binance: spot perp mark funding; bybit: funding; okx: spot perp mark funding"
    assert rows["SOL/USDC", "1h"] == "bybit: perp"
    assert cache.asset_combinations(summary) == [("cache:BTC/USDT,ETH/USDT", "1h")]
    btc = resolve_data("cache:BTC/USDT", cache_dir=tmp_path)       # the summary is what the loader does
    assert sorted(btc.funding) == ["binance", "bybit", "okx"] and sorted(btc.perp) == ["binance", "okx"]


def test_cli_data_list_shows_assets_and_the_multi_asset_value(tmp_path: Path) -> None:
    from basisbt.cli.app import app
    fill_cache(tmp_path)
    r = CliRunner().invoke(app, ["data", "list", "--cache", str(tmp_path)], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "assets: what --data cache:SYMBOL loads" in r.output
    assert "binance: spot perp mark funding; okx: spot perp mark funding" in r.output
    line = next(ln for ln in r.output.splitlines() if ln.startswith("several assets:"))
    assert "--data cache:BTC/USDT,ETH/USDT --timeframe 1h" in line
    source = line.split("--data ")[1].split()[0]
    assert resolve_data(source, cache_dir=tmp_path).assets == ["BTC", "ETH"]       # the value it prints loads
    r = CliRunner().invoke(app, ["data", "list", "--cache", str(tmp_path / "empty")], env={"COLUMNS": "250"})
    assert r.exit_code == 0 and "is empty" in r.output and "several assets" not in r.output
