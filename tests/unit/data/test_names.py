"""Names that become paths are checked at every entry point: `../../x` never leaves the cache."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from basisbt.cli.app import app
from basisbt.data.cache import Key
from basisbt.data.names import UnsafeName, check_name, check_symbol

runner = CliRunner()
BAD = ["../../x", "/etc/passwd", "a/../b", "..", ".hidden", "a b", "x" * 65, "", "-rf", "a\\b", "ven\x00ue"]


@pytest.mark.parametrize("name", BAD)
def test_check_name_refuses(name):
    with pytest.raises(UnsafeName):
        check_name(name, "venue")


@pytest.mark.parametrize("name", ["binance", "aave-v3", "okx_2", "1000PEPE"])
def test_check_name_accepts(name):
    assert check_name(name) == name


def test_symbols_keep_slash_and_colon_but_not_traversal():
    assert check_symbol("ETH/USDT:USDT") == "ETH/USDT:USDT"
    for bad in ("../../x", "/ETH/USDT", "ETH/../USDT", "ETH/USDT/"):
        with pytest.raises(UnsafeName):
            check_symbol(bad)


def test_cache_key_checks_every_part():
    for kw in ({"venue": "../x"}, {"symbol": "../../x"}, {"timeframe": "../1h"}, {"stream": "../spot"}):
        args = {"stream": "spot", "venue": "binance", "symbol": "ETH/USDT", "timeframe": "1h", **kw}
        with pytest.raises(UnsafeName):
            Key(**args)


BARS = "ts,open,high,low,close,volume\n2025-01-01T00:00Z,1,2,0.5,1.5,10\n2025-01-01T01:00Z,1,2,0.5,1.5,10\n"


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _entry_points(tmp: Path) -> list[list[str]]:
    """Every way a name reaches a path: flags, CSV columns, dataset TOML, config, --data."""
    (tmp / "bars.csv").write_text(BARS)
    (tmp / "venuecol.csv").write_text("ts,venue,rate\n2025-01-01T00:00Z,../../y,0.0001\n"
                                      "2025-01-01T08:00Z,../../y,0.0001\n")
    (tmp / "symcol.csv").write_text("ts,symbol,rate\n2025-01-01T00:00Z,../../z,0.0001\n"
                                    "2025-01-01T08:00Z,../../z,0.0001\n")
    (tmp / "lend.csv").write_text("ts,apy\n2025-01-01T00:00Z,0.05\n2025-01-02T00:00Z,0.05\n")
    (tmp / "ds_venue.toml").write_text('symbol = "ETH/USDT"\n[venues."../../v"]\nspot = "bars.csv"\nperp = "bars.csv"\n')
    (tmp / "ds_symbol.toml").write_text('symbol = "../../s"\n[venues.binance]\nspot = "bars.csv"\nperp = "bars.csv"\n')
    (tmp / "ds_lend.toml").write_text('symbol = "ETH/USDT"\n[venues.binance]\nspot = "bars.csv"\nperp = "bars.csv"\n'
                                      '[lending."../../p"]\nfile = "lend.csv"\n')
    (tmp / "ds_tf.toml").write_text('symbol = "ETH/USDT"\ntimeframe = "../1h"\n[venues.binance]\nspot = "bars.csv"\n'
                                    'perp = "bars.csv"\n')
    (tmp / "cfg.toml").write_text('[venue_overrides."../../o"]\ntaker_fee = 0.001\n')
    (tmp / "cfg_data.toml").write_text('data = "scenario:../../d"\n')
    cache = ["--cache", str(tmp / "cache")]
    csv = ["import", "csv", str(tmp / "bars.csv"), "--stream", "spot", "--timeframe", "1h"]
    out = ["--out", str(tmp / "run")]
    return [
        csv + ["--venue", "../../x", "--symbol", "ETH/USDT"] + cache,
        csv + ["--venue", "binance", "--symbol", "../../x"] + cache,
        ["import", "csv", str(tmp / "bars.csv"), "--stream", "spot", "--venue", "binance", "--symbol", "ETH/USDT",
         "--timeframe", "../../1h"] + cache,
        ["import", "csv", str(tmp / "venuecol.csv"), "--stream", "funding", "--venue-column", "venue",
         "--symbol", "ETH/USDT:USDT"] + cache,
        ["import", "csv", str(tmp / "symcol.csv"), "--stream", "funding", "--venue", "binance",
         "--symbol-column", "symbol"] + cache,
        ["import", "lending", str(tmp / "lend.csv"), "--protocol", "../../p"] + cache,
        ["import", "lending", str(tmp / "lend.csv"), "--protocol", "aave", "--asset", "../../a"] + cache,
        ["import", "binance-vision", str(tmp / "bars.csv"), "--venue", "../../b"] + cache,
        ["import", "freqtrade", str(tmp), "--venue", "../../f"] + cache,
        ["run", "--data", str(tmp / "ds_venue.toml")] + out,
        ["run", "--data", str(tmp / "ds_symbol.toml")] + out,
        ["run", "--data", str(tmp / "ds_lend.toml")] + out,
        ["run", "--data", str(tmp / "ds_tf.toml")] + out,
        ["run", "--config", str(tmp / "cfg.toml")] + out,
        ["run", "--config", str(tmp / "cfg_data.toml")] + out,
        ["run", "--data", "scenario:../../d"] + out,
        ["run", "--data", "cache:../../c"] + out,
        ["run", "--set", "venue=../../../x"] + out,
    ]


@pytest.mark.parametrize("i", range(18))
def test_traversal_refused_at_every_entry_point(tmp_path, monkeypatch, i):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("BASISBT_CACHE", str(work / "cache"))
    args = _entry_points(work)[i]
    before = _files(tmp_path)
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output, r.output
    assert "../" in r.output, r.output                   # refused for the name, not for something else
    assert _files(tmp_path) == before, f"{args} wrote {_files(tmp_path) - before}"
