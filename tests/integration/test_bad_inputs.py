"""The bad-input corpus (issue 13): every case exits 2 (bad input) or 3 (environment) with ONE line,
no traceback, and leaves the cache and an existing run directory byte-identical.

Cases run in-process through typer's CliRunner (a subprocess per case would pay the numba import);
environment failures (full disk, read-only file system, permission denied) are simulated by making
the write that would hit them raise the OSError the kernel gives, since tests may run as root.
"""
from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from basisbt.cli.app import app
from basisbt.data import cache
from basisbt.reports.writers import write_run

runner = CliRunner()

BARS = "ts,open,high,low,close,volume\n2025-01-01T00:00Z,1,2,0.5,1.5,10\n2025-01-01T01:00Z,1,2,0.5,1.5,10\n"

FILES: dict[str, str | bytes] = {
    "bars.csv": BARS,
    "header_only.csv": "ts,open,high,low,close,volume\n",
    "empty.csv": "",
    "binary.csv": b"\x00\x01\x02PK\x03\x04" * 100,
    "latin1.csv": b"ts,open,high,low,close,volume\n2025-01-01T00:00Z,1,2,0.5,1.5,10\n" + b"caf\xe9\n",
    "naive.csv": "ts,open,high,low,close,volume\n2025-01-01 00:00,1,2,0.5,1.5,10\n2025-01-01 01:00,1,2,0.5,1.5,10\n",
    "negative.csv": "ts,open,high,low,close,volume\n2025-01-01T00:00Z,-1,2,-2,1.5,10\n2025-01-01T01:00Z,1,2,0.5,1.5,10\n",
    "high_low.csv": "ts,open,high,low,close,volume\n2025-01-01T00:00Z,1,0.5,2,1.5,10\n2025-01-01T01:00Z,1,2,0.5,1.5,10\n",
    "dups.csv": "ts,open,high,low,close,volume\n2025-01-01T00:00Z,1,2,0.5,1.5,10\n2025-01-01T00:00Z,1,2,0.5,1.5,10\n",
    "text.csv": "ts,open,high,low,close,volume\nhello,a,b,c,d,e\n",
    "funding_nan.csv": "ts,rate\n2025-01-01T00:00Z,nan\n2025-01-01T08:00Z,0.0001\n",
    "lend_bad.csv": "when,what\nx,y\n",
    "ds_int.toml": 'symbol = "ETH/USDT"\n[venues.binance]\nspot = 3\n',
    "ds_unknown.toml": 'symbol = "ETH/USDT"\nfoo = 1\n[venues.binance]\nspot = "bars.csv"\n',
    "ds_invalid.toml": 'symbol = "ETH/USDT"\n[venues.binance\n',
    "ds_header.toml": 'symbol = "ETH/USDT"\n[venues.binance]\nspot = "header_only.csv"\nperp = "header_only.csv"\n',
    "ds_missing.toml": 'symbol = "ETH/USDT"\n[venues.binance]\nspot = "nope.csv"\nperp = "nope.csv"\n',
    "ds_nosym.toml": '[venues.binance]\nspot = "bars.csv"\n',
    "ds_venues_str.toml": 'symbol = "ETH/USDT"\nvenues = "binance"\n',
    "ds_stream.toml": 'symbol = "ETH/USDT"\n[venues.binance]\ntrades = "bars.csv"\n',
    "ds_dir.toml": 'symbol = "ETH/USDT"\n[venues.binance]\nspot = "bars.csv"\nperp = "cfgdir"\n',
    "ds_ok.toml": 'symbol = "ETH/USDT"\n[venues.binance]\nspot = "bars.csv"\nperp = "bars.csv"\n',
    "ds_event_venue.toml": 'symbol = "ETH/USDT"\n[venues.binance]\nspot = "bars.csv"\nperp = "bars.csv"\n'
                           '[[venue_events]]\nkind = "adl"\nvenue = "okx"\ntime = 2025-01-01T01:00:00Z\n'
                           'fraction = 0.5\nprice = 1.0\n',
    "ds_event_halt.toml": 'symbol = "ETH/USDT"\n[venues.binance]\nspot = "bars.csv"\nperp = "bars.csv"\n'
                          '[[venue_events]]\nkind = "halt"\nvenue = "binance"\nstart = 2025-01-01T01:00:00Z\n'
                          'end = 2025-01-01T00:00:00Z\n',
    "cfg_invalid.toml": "strategy = \n",
    "cfg_unknown.toml": "levrage = 5\n",
    "cfg_params_str.toml": 'params = "leverage=5"\n',
    "cfg_fee.toml": "[venue_overrides.binance]\ntaker_fee = -0.01\n",
    "cfg_fee_key.toml": "[venue_overrides.binance]\ntaker_fe = 0.001\n",
    "cfg_fee_venue.toml": "[venue_overrides.kraken]\ntaker_fee = 0.001\n",
    "cfg_fill.toml": 'fill = "mid"\n',
    "cfg_capital.toml": "initial_capital = -1\n",
    "cfg_capital_nan.toml": "initial_capital = nan\n",
    "cfg_strategy_int.toml": "strategy = 3\n",
    "cfg_param_range.toml": "[params]\nleverage = 500.0\n",
    "cfg_latin1.toml": b"strategy = \"caf\xe9\"\n",
    "strat_syntax.py": "def broken(:\n",
    "strat_raises.py": "raise RuntimeError('boom at import')\n",
    "strat_empty.py": "x = 1\n",
    "strat_exit.py": "import sys\nsys.exit(0)\n",
    "cases_invalid.toml": "[[case]\nname=1\n",
    "notadir.txt": "just a file",
    # issue 26 sweep: user code that fails in __init__, hangs at import, or passes garbage out through ctx
    "strat_init.py": "from basisbt import Strategy\nclass S(Strategy):\n    def __init__(self, **p):\n"
                     "        raise RuntimeError('init boom')\n",
    "strat_import_sleep.py": "import time\ntime.sleep(60)\n",
    "strat_redeem.py": "from basisbt import Strategy\nclass S(Strategy):\n    def on_bar(self, ctx, ev):\n"
                       "        ctx.external_flow('binance', -1e15)\n",
    "strat_configure.py": "from basisbt import Strategy\nclass S(Strategy):\n    def on_start(self, ctx, ev):\n"
                          "        ctx.configure('binance', spot_collateral='no')\n",
    "bench_latin1.csv": b"ts,apy\n2025-02-01,0.1\ncaf\xe9,0.2\n",
    "future.csv": "ts,open,high,low,close,volume\n2999-01-01T00:00Z,1,2,0.5,1.5,10\n2999-01-01T01:00Z,1,2,0.5,1.5,10\n",
    # Hyperliquid fundingHistory records (data/ingest/hyperliquid.py) and Hyperliquid run settings
    "hl_cap.json": '[{"coin": "ETH", "fundingRate": "0.0000125", "time": 1735689600151},\n'
                   ' {"coin": "ETH", "fundingRate": "0.0401", "time": 1735693200006}]',
    "hl_late.json": '[{"coin": "ETH", "fundingRate": "0.0000125", "time": 1735690000000}]',
    "hl_norate.json": '[{"coin": "ETH", "time": 1735689600151}]',
    "hl_notjson.json": "coin,rate\nETH,0.1\n",
    "hl_obj.json": '{"coin": "ETH"}',
    "cfg_oracle.toml": '[oracle]\nhyperliquid = "kraken"\n',
    "cfg_oracle_venue.toml": '[oracle]\nbinance = "basket"\n',
    "cfg_oracle_path.toml": '[oracle]\nhyperliquid = "../x"\n',
    "cfg_hl_pm.toml": '[venue_overrides.hyperliquid]\nmargin_mode = "portfolio"\n',
}


def snapshot(d: Path) -> dict[str, bytes]:
    """Every file below d with its bytes (the state a failed command must not change)."""
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A workspace: input files, a cache with data, an existing run directory, a foreign directory."""
    from tests.unit.reports.conftest import real_run
    w = tmp_path_factory.mktemp("badinput")
    for name, body in FILES.items():
        (w / name).write_bytes(body if isinstance(body, bytes) else body.encode())
    with open(w / "huge_line.csv", "wb") as fh:          # a 2 MiB "header" with no newline
        fh.write(b"a," * (1 << 20))
    ts = pd.date_range("2025-01-01", periods=24, freq="h", tz="UTC").as_unit("ns")
    one = np.ones(24)
    frame = pd.DataFrame({"ts": ts, "open": one, "high": one * 2, "low": one / 2, "close": one, "volume": one})
    cache.write_many(w / "cache", [(cache.key_for("spot", "binance", "ETH/USDT", "1h"), frame, "fixture")])
    write_run(real_run("perp_short", "feb-2025-crash"), w / "oldrun", dpi=40)
    (w / "foreign").mkdir()
    (w / "foreign" / "notes.txt").write_text("mine")
    (w / "badrun").mkdir()
    (w / "badrun" / "run.toml").write_text("strategy = [\n")
    (w / "badrun" / "equity.csv").write_text("ts,equity\n")
    (w / "norun").mkdir()
    (w / "cfgdir").mkdir()
    return w


def C(*args: str, needle: str | tuple[str, ...], code: int = 2, env: str | None = None):
    """One bad-input case: the message must contain every `needle` (the file, flag or rule it names)."""
    needles = (needle,) if isinstance(needle, str) else tuple(needle)
    return pytest.param(list(args), code, needles, env, id=" ".join(args)[:70] + (f" [{env}]" if env else ""))


IMP = ("import", "csv")
SPOT = ("--stream", "spot", "--venue", "binance", "--symbol", "ETH/USDT", "--timeframe", "1h")
OUT = ("--out", "{w}/oldrun")

CASES = [
    # --- import csv
    C(*IMP, "{w}/nope.csv", *SPOT, needle=("nope.csv", "no such file")),
    C(*IMP, "{w}/header_only.csv", *SPOT, needle=("header_only.csv", "header only")),
    C(*IMP, "{w}/empty.csv", *SPOT, needle=("empty.csv", "header only")),
    C(*IMP, "{w}/binary.csv", *SPOT, needle=("binary.csv", "binary")),
    C(*IMP, "{w}/huge_line.csv", *SPOT, needle=("huge_line.csv", "longer than 1 MiB")),
    C(*IMP, "{w}/latin1.csv", *SPOT, needle=("latin1.csv", "utf-8")),
    C(*IMP, "{w}/naive.csv", *SPOT, needle=("naive.csv, row 2", "--assume-utc")),
    C(*IMP, "{w}/negative.csv", *SPOT, needle=("negative.csv, row 2: price <= 0 in 'open' (-1.0)",)),
    C(*IMP, "{w}/high_low.csv", *SPOT, needle=("high_low.csv, row 2", "high < max(open, close)")),
    C(*IMP, "{w}/dups.csv", *SPOT, needle=("dups.csv, row 3", "duplicate time", "--on-duplicate")),
    C(*IMP, "{w}/text.csv", *SPOT, needle=("text.csv, row 2", "unparseable time", "'hello'")),
    C(*IMP, "{w}/funding_nan.csv", "--stream", "funding", "--venue", "binance", "--symbol", "ETH/USDT:USDT",
      needle=("funding_nan.csv, row 2", "NaN or inf in 'rate'")),
    C(*IMP, "{w}/bars.csv", "--stream", "spot", "--venue", "../x", "--symbol", "ETH/USDT", "--timeframe", "1h",
      needle=("--venue '../x'", "[A-Za-z0-9._-]")),
    C(*IMP, "{w}/bars.csv", "--stream", "spot", "--venue", "binance", "--symbol", "/etc", "--timeframe", "1h",
      needle=("--symbol '/etc'", "leading '/'")),
    C(*IMP, "{w}/bars.csv", "--stream", "spot", "--venue", "binance", "--symbol", "ETH/USDT", "--timeframe", "7x",
      needle=("--timeframe '7x'", "valid: 1m", "1d")),
    C(*IMP, "{w}/bars.csv", *SPOT, "--time-unit", "fortnights", needle=("--time-unit 'fortnights'", "iso, s, ms, us, ns")),
    C(*IMP, "{w}/bars.csv", "--stream", "trades", "--venue", "binance", "--symbol", "ETH/USDT",
      needle=("--stream 'trades'", "valid: spot, perp")),
    C(*IMP, "{w}/bars.csv", "--venue", "binance", needle=("--stream", "--mapping")),
    C(*IMP, "{w}/bars.csv", "--mapping", "{w}/nope.toml", needle=("nope.toml", "no such mapping TOML")),
    C(*IMP, "{w}/bars.csv", "--mapping", "{w}/cfgdir", needle=("cfgdir", "is a directory, expected a mapping TOML")),
    C(*IMP, "{w}/bars.csv", *SPOT, "--col", "close", needle=("--col 'close'", "canonical=source")),
    C(*IMP, "{w}/bars.csv", *SPOT, "--cache", "{w}/notadir.txt", needle=("notadir.txt", "not a directory")),
    C(*IMP, "{w}/cfgdir", *SPOT, needle=("cfgdir", "is a directory, expected a CSV")),
    C(*IMP, "{w}/bars.csv", *SPOT, "--rate-basis", "daily", needle=("--rate-basis 'daily'", "interval, annualized")),
    # --- import lending / binance-vision / freqtrade
    C("import", "lending", "{w}/nope.csv", "--protocol", "aave", needle=("nope.csv", "no such file")),
    C("import", "lending", "{w}/cfgdir", "--protocol", "aave", needle=("cfgdir", "is a directory, expected a lending")),
    C("import", "lending", "{w}/bars.csv", "--protocol", "../aave", needle=("--protocol '../aave'", "[A-Za-z0-9._-]")),
    C("import", "lending", "{w}/lend_bad.csv", "--protocol", "aave", needle=("lend_bad.csv", "no time column", "timestamp")),
    C("import", "lending", "{w}/bars.csv", "--protocol", "aave", "--format", "weird",
      needle=("--format 'weird'", "auto, plain, defillama, aave")),
    C("import", "binance-vision", "{w}/nope", needle=("nope", "no such file")),
    C("import", "binance-vision", "{w}/bars.csv", "--kind", "trades", needle=("--kind 'trades'", "fundingRate")),
    C("import", "binance-vision", "{w}/bars.csv", "--market", "coinm", needle=("--market 'coinm'", "spot, um")),
    C("import", "freqtrade", "{w}/nope", needle=("nope", "no such file")),
    C("import", "freqtrade", "{w}/cfgdir", "--venue", "a/b", needle=("--venue 'a/b'", "[A-Za-z0-9._-]")),
    # --- import hyperliquid
    C("import", "hyperliquid", "{w}/nope.json", needle=("nope.json", "no such file")),
    C("import", "hyperliquid", "{w}/hl_cap.json",
      needle=("hl_cap.json, row 2: |funding rate| above the hyperliquid ETH cap of 4.0000%",)),
    C("import", "hyperliquid", "{w}/hl_late.json", needle=("row 1: settlement stamped 400.000 s after the hour",)),
    C("import", "hyperliquid", "{w}/hl_norate.json", needle=("row 1: record has neither a rate",)),
    C("import", "hyperliquid", "{w}/hl_notjson.json", needle=("hl_notjson.json", "not a JSON file")),
    C("import", "hyperliquid", "{w}/hl_obj.json", needle=("hl_obj.json", "expected a JSON array")),
    C("import", "hyperliquid", "{w}/binary.csv", needle=("binary.csv", "binary")),
    C("import", "hyperliquid", "{w}/hl_cap.json", "--coin", "SOL", needle=("no 'SOL' records",)),
    C("import", "hyperliquid", "{w}/hl_cap.json", "--venue", "../x", needle=("--venue '../x'", "[A-Za-z0-9._-]")),
    C("import", "hyperliquid", "{w}/hl_cap.json", "--symbol", "/etc", needle=("--symbol '/etc'", "leading '/'")),
    C("import", "hyperliquid", "{w}/hl_cap.json", "--cache", "{w}/notadir.txt", needle=("notadir.txt", "not a directory")),
    # --- run on hyperliquid
    C("run", "--data", "scenario:real-hyperliquid-oct-2025", "--set", "venue=hyperliquid", *OUT,
      needle=("spot_collateral=True refused: ETH is not collateral on hyperliquid",)),
    C("run", "--data", "scenario:real-hyperliquid-oct-2025", "--config", "{w}/cfg_oracle.toml", *OUT,
      needle=("error: oracle.hyperliquid = 'kraken'; valid: auto, imported, basket or a venue with spot",)),
    C("run", "--data", "scenario:real-hyperliquid-oct-2025", "--config", "{w}/cfg_oracle_venue.toml", *OUT,
      needle=("binance is not a venue of the data that pays funding on an oracle",)),
    C("run", "--config", "{w}/cfg_oracle_path.toml", *OUT, needle=("oracle.hyperliquid",)),
    C("run", "--data", "scenario:real-hyperliquid-oct-2025", "--config", "{w}/cfg_hl_pm.toml", *OUT,
      needle=("portfolio_margin = false",)),
    C("run", "--data", "scenario:real-hyperliquid-oct-2025", "--venues", "hyperliqiud", *OUT,
      needle=("hyperliqiud not in the data; valid: binance, hyperliquid",)),
    C("fetch", "--exchange", "hyperliqiud", needle=("did you mean hyperliquid",)),
    # --- run: strategy and parameters
    C("run", "--strategy", "perp_shrot", *OUT, needle=("'perp_shrot'", "did you mean 'perp_short'")),
    C("run", "--strategy", "{w}/nope.py:X", *OUT, needle=("nope.py", "does not exist")),
    C("run", "--strategy", "{w}/strat_syntax.py:S", *OUT, needle=("strat_syntax.py", "SyntaxError", "line 1")),
    C("run", "--strategy", "{w}/strat_raises.py:S", *OUT, needle=("strat_raises.py", "boom")),
    C("run", "--strategy", "{w}/strat_empty.py:S", *OUT, needle=("strat_empty.py", "no Strategy subclass 'S'")),
    C("run", "--strategy", "{w}/strat_exit.py:S", *OUT, needle=("strat_exit.py", "sys.exit")),
    C("run", "--set", "leverage=-5", *OUT, needle=("leverage = -5.0", "0 < leverage <= 125")),
    C("run", "--set", "leverage=nan", *OUT, needle=("leverage = nan", "0 < leverage <= 125")),
    C("run", "--set", "leverage=1e9", *OUT, needle=("leverage = 1000000000.0", "0 < leverage <= 125")),
    C("run", "--set", "leverage=0", *OUT, needle=("leverage = 0.0", "0 < leverage <= 125")),
    C("run", "--set", "leverage=inf", *OUT, needle=("leverage = inf", "0 < leverage <= 125")),
    C("run", "--set", "hedge_ratio=-3", *OUT, needle=("hedge_ratio = -3.0", "0 <= hedge_ratio <= 2")),
    C("run", "--set", "leverage=abc", *OUT, needle=("leverage", "expected float", "'abc'")),
    C("run", "--set", "leverge=5", *OUT, needle=("'leverge'", "did you mean 'leverage'")),
    C("run", "--set", "novalue", *OUT, needle=("--set 'novalue'", "key=value")),
    C("run", "--set", "collateral=btc", *OUT, needle=("collateral", "spot, usdt, usde", "'btc'")),
    C("run", "--strategy", "funding_allocator", "--set", "lookback_days=-1", *OUT,
      needle=("funding_allocator", "lookback_days = -1.0", "0 < lookback_days <= 365")),
    C("run", "--strategy", "lending_rebalance", "--set", "max_share=2", *OUT,
      needle=("lending_rebalance", "max_share = 2.0", "0 <= max_share <= 1")),
    C("run", "--strategy", "synthetic_dollar", "--set", "staked_share=0", *OUT,
      needle=("synthetic_dollar", "staked_share = 0.0", "0 < staked_share <= 1")),
    # --- run: data
    C("run", "--data", "nonsense", *OUT, needle=("'nonsense'", "scenario:NAME")),
    C("run", "--data", "scenario:feb-crash", *OUT, needle=("'feb-crash'", "feb-2025-crash")),
    C("run", "--data", "scenario:../../etc", *OUT, needle=("'../../etc'", "[A-Za-z0-9._-]")),
    C("run", "--data", "{w}/missing.toml", *OUT, needle=("missing.toml", "not found")),
    C("run", "--data", "{w}/ds_int.toml", *OUT, needle=("ds_int.toml", "venues.binance.spot", "must be a file name")),
    C("run", "--data", "{w}/ds_unknown.toml", *OUT, needle=("ds_unknown.toml", "unknown key 'foo'", "known: name")),
    C("run", "--data", "{w}/ds_invalid.toml", *OUT, needle=("ds_invalid.toml", "unreadable dataset toml", "line 2")),
    C("run", "--data", "{w}/ds_header.toml", *OUT, needle=("header_only.csv", "header only")),
    C("run", "--data", "{w}/ds_missing.toml", *OUT, needle=("ds_missing.toml", "venues.binance.spot = 'nope.csv'",
                                                            "no such file")),
    C("run", "--data", "{w}/ds_dir.toml", *OUT, needle=("ds_dir.toml", "venues.binance.perp = 'cfgdir'",
                                                        "is a directory")),
    C("run", "--data", "{w}/ds_nosym.toml", *OUT, needle=("ds_nosym.toml", "needs symbol")),
    C("run", "--data", "{w}/ds_venues_str.toml", *OUT, needle=("ds_venues_str.toml", "[venues] must be a table")),
    C("run", "--data", "{w}/ds_stream.toml", *OUT, needle=("ds_stream.toml", "unknown stream 'trades'", "known: spot")),
    C("run", "--data", "{w}/ds_event_venue.toml", *OUT, needle=("ds_event_venue.toml", "entry 1 (adl): unknown venue 'okx'")),
    C("run", "--data", "{w}/ds_event_halt.toml", *OUT, needle=("ds_event_halt.toml", "entry 1 (halt): end")),
    C("run", "--data", "{w}/ds_ok.toml", "--timeframe", "1m", *OUT, needle=("--timeframe 1m", "ds_ok.toml")),
    C("run", "--data", "cache:ETH/BTC", "--cache-dummy", *OUT, needle=("no ETH/BTC bars", "cached symbols: ETH/USDT")),
    C("run", "--data", "scenario:squeeze", "--timeframe", "7m", *OUT, needle=("'7m'", "1m, 3m")),
    C("run", "--start", "notadate", *OUT, needle="start 'notadate' is not a date"),
    C("run", "--start", "2030-01-01", *OUT,
      needle=("no bars between start 2030-01-01 and end (end of data)", "'scenario:feb-2025-crash' spans 2025-01-27")),
    C("run", "--start", "2025-02-10", "--end", "2025-02-01", *OUT, needle=("start 2025-02-10 and end 2025-02-01", "spans")),
    C("run", "--fill", "mid", *OUT, needle=("fill", "'open' or 'close'", "'mid'")),
    # --- run: config
    C("run", "--config", "{w}/nope.toml", *OUT, needle=("nope.toml", "no such config file")),
    C("run", "--config", "{w}/cfgdir", *OUT, needle=("cfgdir", "is a directory")),
    C("run", "--config", "{w}/cfg_invalid.toml", *OUT, needle=("cfg_invalid.toml", "invalid TOML", "line 1")),
    C("run", "--config", "{w}/cfg_unknown.toml", *OUT, needle=("cfg_unknown.toml", "'levrage'", "[params]")),
    C("run", "--config", "{w}/cfg_params_str.toml", *OUT, needle=("cfg_params_str.toml", "[params] must be a table")),
    C("run", "--config", "{w}/cfg_fee.toml", *OUT, needle=("venue_overrides.binance", "taker_fee = -0.01", "valid: 0 <= taker_fee")),
    C("run", "--config", "{w}/cfg_fee_key.toml", *OUT, needle=("'taker_fe'", "did you mean 'taker_fee'")),
    C("run", "--config", "{w}/cfg_fee_venue.toml", *OUT, needle=("'kraken'", "valid: binance, bybit, okx")),
    C("run", "--config", "{w}/cfg_fill.toml", *OUT, needle=("fill", "'open' or 'close'", "'mid'")),
    C("run", "--config", "{w}/cfg_capital.toml", *OUT, needle=("initial_capital = -1.0", "0 < initial_capital")),
    C("run", "--config", "{w}/cfg_capital_nan.toml", *OUT, needle=("initial_capital = nan", "0 < initial_capital")),
    C("run", "--config", "{w}/cfg_strategy_int.toml", *OUT, needle=("cfg_strategy_int.toml", "strategy must be a string")),
    C("run", "--config", "{w}/cfg_param_range.toml", *OUT, needle=("leverage = 500.0", "0 < leverage <= 125")),
    C("run", "--config", "{w}/cfg_latin1.toml", *OUT, needle=("cfg_latin1.toml", "UTF-8")),
    C("run", "--config", "{w}/huge_line.csv", *OUT, needle=("huge_line.csv", "invalid TOML")),
    # --- run: --out
    C("run", "--out", "{w}/notadir.txt", needle=("notadir.txt", "not a directory", "--out")),
    C("run", "--out", "{w}/foreign", needle=("foreign", "not a basisbt run")),
    C("run", "--out", "{w}/notadir.txt/sub", needle=("notadir.txt", "is a file")),
    # --- report
    C("report", "{w}/nope", needle=("nope", "not a run directory")),
    C("report", "{w}/norun", needle=("norun", "run.toml", "missing")),
    C("report", "{w}/badrun", needle=("badrun", "run.toml", "invalid TOML")),
    C("report", "{w}/oldrun", "{w}/badrun", "--out", "{w}/cmp", needle=("badrun", "run.toml", "invalid TOML")),
    C("report", "{w}/oldrun", "{w}/oldrun", "--out", "{w}/notadir.txt", needle=("notadir.txt", "not a directory")),
    # --- regress
    C("regress", "--only", "no_such_case", needle=("--only no_such_case", "matches no case", "perp_short__")),
    C("regress", "--cases", "{w}/nope.toml", needle=("nope.toml", "no such cases file")),
    C("regress", "--cases", "{w}/cases_invalid.toml", needle=("cases_invalid.toml", "invalid TOML", "line 1")),
    # --- fetch (argument checks; no network is touched)
    C("fetch", "--since", "2025-01-01", "--until", "2024-01-01", needle=("--since", "not before", "--until")),
    C("fetch", "--exchange", "binanse", needle=("'binanse'", "did you mean binance")),
    C("fetch", "--exchange", "../x", needle=("--exchange '../x'", "[A-Za-z0-9._-]")),
    C("fetch", "--symbol", "eth-usdt", needle=("--symbol 'eth-usdt'", "BASE/QUOTE")),
    C("fetch", "--timeframe", "7m", needle=("'7m'", "known: 1m")),
    C("fetch", "--since", "yesterday-ish", needle=("--since 'yesterday-ish'", "not a date")),
    C("fetch", "--streams", "trades", needle=("'trades'", "known: spot, perp")),
    C("fetch", "--retries", "99", needle=("--retries 99", "between 0 and 20")),
    C("fetch", "--cache", "{w}/notadir.txt", needle=("notadir.txt", "cache path is not a directory")),
    # --- issue 26 sweep: what an outside review still found
    C("run", "--strategy", "{w}/strat_init.py:S", *OUT, needle=("strategy 'S' raised in __init__", "init boom")),
    C("run", "--strategy", "{w}/strat_import_sleep.py:S", "--timeout", "1", *OUT,
      needle=("strat_import_sleep.py", "importing it took longer than 1 s")),
    C("run", "--data", "scenario:squeeze", "--start", "2025-04-25", "--end", "2025-04-28", "--strategy",
      "{w}/strat_redeem.py:S", *OUT, needle=("external_flow", "a redemption cannot exceed the book's equity")),
    C("run", "--data", "scenario:squeeze", "--start", "2025-04-25", "--end", "2025-04-28", "--strategy",
      "{w}/strat_configure.py:S", *OUT, needle=("configure spot_collateral", "'no'", "True, False or None")),
    C("run", "--start", "", *OUT, needle=("--start ''", "is not a date")),
    C("run", "--timeframe", "", *OUT, needle=("--timeframe is empty",)),
    C("run", "--benchmark", "", *OUT, needle=("--benchmark is empty",)),
    C("run", "--benchmark", "{w}/bench_latin1.csv:apy", *OUT, needle=("bench_latin1.csv", "not UTF-8 text")),
    C("scenarios", "extra", needle=("takes no extra argument", "(extra)")),
    C("sweep", "--start", "nan", "--grid", "leverage=2,3", "--out", "{w}/sweep_new", needle=("--start 'nan'", "not a date")),
    C("fetch", "--since", "nan", needle=("--since 'nan'", "not a date")),
    C("fetch", "--since", "2999-01-01", needle=("--since '2999-01-01'", "outside 2009..2100")),
    C(*IMP, "{w}/future.csv", *SPOT, needle=("future.csv, row 2", "outside 1678..2261")),
    C(*IMP, "{w}/bars.csv", *SPOT, "--tz", "Mars/Olympus", needle=("--tz", "unknown time zone 'Mars/Olympus'")),
    C(*IMP, "{w}/bars.csv", *SPOT, "--fill-gaps", "-1", needle=("--fill-gaps", "give 0")),
    C(*IMP, "{w}/bars.csv", *SPOT, "--fill-gaps", "5", needle=("--fill-gaps 5 goes with --repair",)),
    C("import", "lending", "{w}/bars.csv", "--protocol", "aave", "--tz", "Nope/Zone",
      needle=("--tz", "unknown time zone 'Nope/Zone'")),
    C("import", "freqtrade", "{w}/bars.csv", needle=("bars.csv", "not a freqtrade candle file")),
    C("sweep", "--grid", "leverage=2,3", "--jobs", "100000", "--out", "{w}/sweep_new",
      needle=("--jobs 100000", "local worker processes")),
    C("run", "--set", "leverage=2", "--set", "leverage=3", *OUT, needle=("--set leverage", "given twice")),
    C("stress", "-m", "spell_days=3", "-m", "spell_days=4", "--out", "{w}/stress_new",
      needle=("--model spell_days", "given twice")),
    C("run", "--data", "stress:0:0:days=30,days=40", *OUT, needle=("stress:0:0:days=30,days=40", "days given twice")),
    # --- click's own usage errors: one `error:` line naming the option and the command's --help
    C("stress", "-n", "1e9", needle=("error: Invalid value for '--paths' / '-n'", "(see 'basisbt stress --help')")),
    C("run", "--bogus", needle=("No such option: --bogus", "(see 'basisbt run --help')")),
    C("nonesuch", needle=("No such command 'nonesuch' (see 'basisbt --help')",)),
    C("report", needle=("Missing argument", "(see 'basisbt report --help')")),
    # --- data list
    C("data", "list", "--cache", "{w}/notadir.txt", needle=("notadir.txt", "cache path is not a directory")),
    # --- the environment failed (exit 3): simulated at the write that would hit it
    C("run", "--data", "scenario:squeeze", "--start", "2025-04-25", "--end", "2025-04-28", *OUT, code=3,
      needle=("oldrun", "disk full"), env="enospc_run"),
    C(*IMP, "{w}/bars.csv", *SPOT, code=3, needle=("1h.parquet", "read-only"), env="erofs_cache"),
    C("report", "{w}/oldrun", code=3, needle=("oldrun", "permission denied"), env="eacces_report"),
]


def _env(monkeypatch, kind: str | None, w: Path) -> None:
    """Make the filesystem fail the way a full disk, a read-only mount or a permission would."""
    if kind is None:
        return
    import basisbt.reports.writers as writers
    no, text = {"enospc_run": (errno.ENOSPC, "No space left on device"), "erofs_cache": (errno.EROFS, "Read-only file system"),
                "eacces_report": (errno.EACCES, "Permission denied")}[kind]

    def boom(path, *a, **k):
        raise OSError(no, text, str(path))
    if kind == "erofs_cache":
        monkeypatch.setattr(cache, "_new_temp", boom)
    else:
        monkeypatch.setattr(writers, "staging_dir", boom)


@pytest.mark.parametrize("args, code, needles, env", CASES)
def test_bad_input(ws, monkeypatch, args, code, needles, env):
    args = [a.replace("{w}", str(ws)) for a in args]
    if "--cache-dummy" in args:
        args.remove("--cache-dummy")
    if args[0] in ("import", "fetch") and "--cache" not in args:
        args += ["--cache", str(ws / "cache")]
    monkeypatch.setenv("BASISBT_CACHE", str(ws / "cache"))
    monkeypatch.chdir(ws)
    _env(monkeypatch, env, ws)
    before = snapshot(ws / "cache"), snapshot(ws / "oldrun")
    r = runner.invoke(app, args, terminal_width=400)
    text = r.output.strip()
    assert r.exit_code == code, f"exit {r.exit_code}: {text[-600:]}"
    assert "Traceback" not in text, text[-2000:]
    lines = [ln for ln in text.splitlines() if not ln.startswith("log:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), text[-800:]
    assert len(lines[0]) <= 420
    for needle in needles:
        assert needle in lines[0].replace(str(ws) + "/", ""), f"{needle!r} not in: {lines[0]}"
    assert (snapshot(ws / "cache"), snapshot(ws / "oldrun")) == before, "a failed command changed stored state"


def test_corpus_is_big_enough():
    assert len(CASES) >= 60


def test_every_case_names_what_its_message_must_say():
    """A case that only checks the exit code passes on any message, "min() arg is an empty sequence" included."""
    for case in CASES:
        needles = case.values[2]
        assert needles and all(n.strip() for n in needles), case.id
