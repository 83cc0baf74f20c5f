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

from basisbt.data import cache
from basisbt.cli.app import app
from basisbt.reports.writers import write_run

runner = CliRunner()

BARS = "ts,open,high,low,close,volume\n2025-01-01T00:00Z,1,2,0.5,1.5,10\n2025-01-01T01:00Z,1,2,0.5,1.5,10\n"

FILES: dict[str, str | bytes] = {
    "bars.csv": BARS,
    "header_only.csv": "ts,open,high,low,close,volume\n",
    "empty.csv": "",
    "binary.csv": b"\x00\x01\x02PK\x03\x04" * 100,
    "latin1.csv": "ts,open,high,low,close,volume\n2025-01-01T00:00Z,1,2,0.5,1.5,10\n".encode() + b"caf\xe9\n",
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
    from tests.unit.reports.conftest import make_fake_results
    w = tmp_path_factory.mktemp("badinput")
    for name, body in FILES.items():
        (w / name).write_bytes(body if isinstance(body, bytes) else body.encode())
    with open(w / "huge_line.csv", "wb") as fh:          # a 2 MiB "header" with no newline
        fh.write(b"a," * (1 << 20))
    ts = pd.date_range("2025-01-01", periods=24, freq="h", tz="UTC").as_unit("ns")
    one = np.ones(24)
    frame = pd.DataFrame({"ts": ts, "open": one, "high": one * 2, "low": one / 2, "close": one, "volume": one})
    cache.write_many(w / "cache", [(cache.key_for("spot", "binance", "ETH/USDT", "1h"), frame, "fixture")])
    write_run(make_fake_results(n_bars=120, seed=3), w / "oldrun")
    (w / "foreign").mkdir()
    (w / "foreign" / "notes.txt").write_text("mine")
    (w / "badrun").mkdir()
    (w / "badrun" / "run.toml").write_text("strategy = [\n")
    (w / "badrun" / "equity.csv").write_text("ts,equity\n")
    (w / "norun").mkdir()
    (w / "cfgdir").mkdir()
    return w


def C(*args: str, code: int = 2, needle: str = "", env: str | None = None):
    return pytest.param(list(args), code, needle, env, id=" ".join(args)[:70] + (f" [{env}]" if env else ""))


IMP = ("import", "csv")
SPOT = ("--stream", "spot", "--venue", "binance", "--symbol", "ETH/USDT", "--timeframe", "1h")
OUT = ("--out", "{w}/oldrun")

CASES = [
    # --- import csv
    C(*IMP, "{w}/nope.csv", *SPOT, needle="no such file"),
    C(*IMP, "{w}/header_only.csv", *SPOT, needle="header only"),
    C(*IMP, "{w}/empty.csv", *SPOT, needle="header only"),
    C(*IMP, "{w}/binary.csv", *SPOT, needle="binary"),
    C(*IMP, "{w}/huge_line.csv", *SPOT, needle="longer than 1 MiB"),
    C(*IMP, "{w}/latin1.csv", *SPOT),
    C(*IMP, "{w}/naive.csv", *SPOT, needle="--assume-utc"),
    C(*IMP, "{w}/negative.csv", *SPOT),
    C(*IMP, "{w}/high_low.csv", *SPOT),
    C(*IMP, "{w}/dups.csv", *SPOT),
    C(*IMP, "{w}/text.csv", *SPOT),
    C(*IMP, "{w}/funding_nan.csv", "--stream", "funding", "--venue", "binance", "--symbol", "ETH/USDT:USDT"),
    C(*IMP, "{w}/bars.csv", "--stream", "spot", "--venue", "../x", "--symbol", "ETH/USDT", "--timeframe", "1h"),
    C(*IMP, "{w}/bars.csv", "--stream", "spot", "--venue", "binance", "--symbol", "/etc", "--timeframe", "1h"),
    C(*IMP, "{w}/bars.csv", "--stream", "spot", "--venue", "binance", "--symbol", "ETH/USDT", "--timeframe", "7x"),
    C(*IMP, "{w}/bars.csv", *SPOT, "--time-unit", "fortnights"),
    C(*IMP, "{w}/bars.csv", "--stream", "trades", "--venue", "binance", "--symbol", "ETH/USDT"),
    C(*IMP, "{w}/bars.csv", "--venue", "binance", needle="--stream"),
    C(*IMP, "{w}/bars.csv", "--mapping", "{w}/nope.toml"),
    C(*IMP, "{w}/bars.csv", "--mapping", "{w}/cfgdir"),
    C(*IMP, "{w}/bars.csv", *SPOT, "--col", "close"),
    C(*IMP, "{w}/bars.csv", *SPOT, "--cache", "{w}/notadir.txt", needle="not a directory"),
    C(*IMP, "{w}/cfgdir", *SPOT),
    # --- import lending / binance-vision / freqtrade
    C("import", "lending", "{w}/nope.csv", "--protocol", "aave"),
    C("import", "lending", "{w}/bars.csv", "--protocol", "../aave"),
    C("import", "lending", "{w}/lend_bad.csv", "--protocol", "aave"),
    C("import", "lending", "{w}/bars.csv", "--protocol", "aave", "--format", "weird"),
    C("import", "binance-vision", "{w}/nope"),
    C("import", "binance-vision", "{w}/bars.csv", "--kind", "trades"),
    C("import", "freqtrade", "{w}/nope"),
    C("import", "freqtrade", "{w}/cfgdir", "--venue", "a/b"),
    # --- import hyperliquid
    C("import", "hyperliquid", "{w}/nope.json", needle="no such file"),
    C("import", "hyperliquid", "{w}/hl_cap.json", needle="hl_cap.json, row 2: |funding rate| above the hyperliquid "
                                                         "ETH cap of 4.0000%"),
    C("import", "hyperliquid", "{w}/hl_late.json", needle="row 1: settlement stamped 400.000 s after the hour"),
    C("import", "hyperliquid", "{w}/hl_norate.json", needle="row 1: record has neither a rate"),
    C("import", "hyperliquid", "{w}/hl_notjson.json", needle="not a JSON file"),
    C("import", "hyperliquid", "{w}/hl_obj.json", needle="expected a JSON array"),
    C("import", "hyperliquid", "{w}/binary.csv", needle="binary"),
    C("import", "hyperliquid", "{w}/hl_cap.json", "--coin", "SOL", needle="no 'SOL' records"),
    C("import", "hyperliquid", "{w}/hl_cap.json", "--venue", "../x"),
    C("import", "hyperliquid", "{w}/hl_cap.json", "--symbol", "/etc"),
    C("import", "hyperliquid", "{w}/hl_cap.json", "--cache", "{w}/notadir.txt", needle="not a directory"),
    # --- run on hyperliquid
    C("run", "--data", "scenario:real-hyperliquid-oct-2025", "--set", "venue=hyperliquid", *OUT,
      needle="spot_collateral=True refused: ETH is not collateral on hyperliquid"),
    C("run", "--data", "scenario:real-hyperliquid-oct-2025", "--config", "{w}/cfg_oracle.toml", *OUT,
      needle="oracle.hyperliquid = 'kraken'; valid: auto, imported, basket or a venue with spot"),
    C("run", "--data", "scenario:real-hyperliquid-oct-2025", "--config", "{w}/cfg_oracle_venue.toml", *OUT,
      needle="binance is not a venue of the data that pays funding on an oracle"),
    C("run", "--config", "{w}/cfg_oracle_path.toml", *OUT, needle="oracle.hyperliquid"),
    C("run", "--data", "scenario:real-hyperliquid-oct-2025", "--config", "{w}/cfg_hl_pm.toml", *OUT,
      needle="portfolio_margin = false"),
    C("run", "--data", "scenario:real-hyperliquid-oct-2025", "--venues", "hyperliqiud", *OUT,
      needle="hyperliqiud not in the data; valid: binance, hyperliquid"),
    C("fetch", "--exchange", "hyperliqiud", needle="did you mean hyperliquid"),
    # --- run: strategy and parameters
    C("run", "--strategy", "perp_shrot", *OUT, needle="did you mean"),
    C("run", "--strategy", "{w}/nope.py:X", *OUT),
    C("run", "--strategy", "{w}/strat_syntax.py:S", *OUT),
    C("run", "--strategy", "{w}/strat_raises.py:S", *OUT, needle="boom"),
    C("run", "--strategy", "{w}/strat_empty.py:S", *OUT),
    C("run", "--strategy", "{w}/strat_exit.py:S", *OUT, needle="sys.exit"),
    C("run", "--set", "leverage=-5", *OUT, needle="0 < leverage <= 125"),
    C("run", "--set", "leverage=nan", *OUT, needle="0 < leverage"),
    C("run", "--set", "leverage=1e9", *OUT, needle="0 < leverage"),
    C("run", "--set", "leverage=0", *OUT, needle="0 < leverage"),
    C("run", "--set", "leverage=inf", *OUT, needle="0 < leverage"),
    C("run", "--set", "hedge_ratio=-3", *OUT, needle="hedge_ratio"),
    C("run", "--set", "leverage=abc", *OUT),
    C("run", "--set", "leverge=5", *OUT, needle="did you mean 'leverage'"),
    C("run", "--set", "novalue", *OUT),
    C("run", "--set", "collateral=btc", *OUT),
    C("run", "--strategy", "funding_allocator", "--set", "lookback_days=-1", *OUT),
    C("run", "--strategy", "lending_rebalance", "--set", "max_share=2", *OUT),
    C("run", "--strategy", "synthetic_dollar", "--set", "staked_share=0", *OUT),
    # --- run: data
    C("run", "--data", "nonsense", *OUT),
    C("run", "--data", "scenario:feb-crash", *OUT),
    C("run", "--data", "scenario:../../etc", *OUT),
    C("run", "--data", "{w}/missing.toml", *OUT),
    C("run", "--data", "{w}/ds_int.toml", *OUT, needle="must be a file name"),
    C("run", "--data", "{w}/ds_unknown.toml", *OUT),
    C("run", "--data", "{w}/ds_invalid.toml", *OUT),
    C("run", "--data", "{w}/ds_header.toml", *OUT, needle="header only"),
    C("run", "--data", "{w}/ds_missing.toml", *OUT),
    C("run", "--data", "{w}/ds_nosym.toml", *OUT),
    C("run", "--data", "{w}/ds_venues_str.toml", *OUT),
    C("run", "--data", "{w}/ds_stream.toml", *OUT),
    C("run", "--data", "{w}/ds_event_venue.toml", *OUT, needle="entry 1 (adl): unknown venue 'okx'"),
    C("run", "--data", "{w}/ds_event_halt.toml", *OUT, needle="entry 1 (halt): end"),
    C("run", "--data", "{w}/ds_ok.toml", "--timeframe", "1m", *OUT, needle="--timeframe"),
    C("run", "--data", "cache:ETH/BTC", "--cache-dummy", *OUT),
    C("run", "--data", "scenario:squeeze", "--timeframe", "7m", *OUT),
    C("run", "--start", "notadate", *OUT, needle="start 'notadate' is not a date"),
    C("run", "--start", "2030-01-01", *OUT),
    C("run", "--fill", "mid", *OUT),
    # --- run: config
    C("run", "--config", "{w}/nope.toml", *OUT),
    C("run", "--config", "{w}/cfgdir", *OUT, needle="directory"),
    C("run", "--config", "{w}/cfg_invalid.toml", *OUT),
    C("run", "--config", "{w}/cfg_unknown.toml", *OUT, needle="[params]"),
    C("run", "--config", "{w}/cfg_params_str.toml", *OUT),
    C("run", "--config", "{w}/cfg_fee.toml", *OUT, needle="taker_fee"),
    C("run", "--config", "{w}/cfg_fee_key.toml", *OUT, needle="did you mean 'taker_fee'"),
    C("run", "--config", "{w}/cfg_fee_venue.toml", *OUT, needle="kraken"),
    C("run", "--config", "{w}/cfg_fill.toml", *OUT),
    C("run", "--config", "{w}/cfg_capital.toml", *OUT),
    C("run", "--config", "{w}/cfg_capital_nan.toml", *OUT),
    C("run", "--config", "{w}/cfg_strategy_int.toml", *OUT),
    C("run", "--config", "{w}/cfg_param_range.toml", *OUT, needle="leverage"),
    C("run", "--config", "{w}/cfg_latin1.toml", *OUT, needle="UTF-8"),
    C("run", "--config", "{w}/huge_line.csv", *OUT),
    # --- run: --out
    C("run", "--out", "{w}/notadir.txt", needle="not a directory"),
    C("run", "--out", "{w}/foreign", needle="not a basisbt run"),
    C("run", "--out", "{w}/notadir.txt/sub", needle="is a file"),
    # --- report
    C("report", "{w}/nope"),
    C("report", "{w}/norun", needle="run.toml"),
    C("report", "{w}/badrun", needle="run.toml"),
    C("report", "{w}/oldrun", "{w}/badrun", "--out", "{w}/cmp"),
    C("report", "{w}/oldrun", "{w}/oldrun", "--out", "{w}/notadir.txt"),
    # --- regress
    C("regress", "--only", "no_such_case"),
    C("regress", "--cases", "{w}/nope.toml"),
    C("regress", "--cases", "{w}/cases_invalid.toml"),
    # --- fetch (argument checks; no network is touched)
    C("fetch", "--since", "2025-01-01", "--until", "2024-01-01", needle="not before"),
    C("fetch", "--exchange", "binanse", needle="did you mean"),
    C("fetch", "--exchange", "../x"),
    C("fetch", "--symbol", "eth-usdt"),
    C("fetch", "--timeframe", "7m"),
    C("fetch", "--since", "yesterday-ish"),
    C("fetch", "--streams", "trades"),
    C("fetch", "--retries", "99"),
    C("fetch", "--cache", "{w}/notadir.txt"),
    # --- data list
    C("data", "list", "--cache", "{w}/notadir.txt"),
    # --- the environment failed (exit 3): simulated at the write that would hit it
    C("run", "--data", "scenario:squeeze", "--start", "2025-04-25", "--end", "2025-04-28", *OUT, code=3,
      needle="disk full", env="enospc_run"),
    C(*IMP, "{w}/bars.csv", *SPOT, code=3, needle="read-only", env="erofs_cache"),
    C("report", "{w}/oldrun", code=3, needle="permission denied", env="eacces_report"),
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


@pytest.mark.parametrize("args, code, needle, env", CASES)
def test_bad_input(ws, monkeypatch, args, code, needle, env):
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
    assert needle in text, text
    assert (snapshot(ws / "cache"), snapshot(ws / "oldrun")) == before, "a failed command changed stored state"


def test_corpus_is_big_enough():
    assert len(CASES) >= 60
