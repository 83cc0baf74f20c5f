"""The CLI end to end: defaults, the run directory, and exit code 2 with one clean line on bad input."""
import json

import pytest
from typer.testing import CliRunner

from basisbt.cli.app import app

runner = CliRunner()


def test_help_explains():
    for args in ([], ["--help"], ["run", "--help"]):
        r = runner.invoke(app, args)
        assert "perp_short" in r.output or "run" in r.output
    r = runner.invoke(app, ["run", "--help"])
    assert "--strategy" in r.output and "--data" in r.output and "--set" in r.output


def test_scenarios_and_strategies_list():
    r = runner.invoke(app, ["scenarios"], terminal_width=200)
    assert r.exit_code == 0
    for name in ("bull-carry", "feb-2025-crash", "death-spiral", "squeeze"):
        assert name in r.output
    r = runner.invoke(app, ["strategies"], terminal_width=200)
    assert r.exit_code == 0 and "perp_short" in r.output and "collateral" in r.output


def test_scenarios_say_which_settings_show_each_effect():
    from basisbt.data.scenarios import list_scenarios
    for s in list_scenarios(real_data=True, multi_asset=True):
        assert s.shows, s.name                          # every scenario says how to see what it is for
    r = runner.invoke(app, ["scenarios"], terminal_width=400)
    assert r.exit_code == 0 and "settings that show each one" in r.output
    assert "  collateral-depeg: --set collateral=usde --set leverage=10: the short" in r.output


def test_collateral_depeg_headline_at_the_scenario_defaults(tmp_path):
    # issue 23 item 10: the documented command, no --timeframe or --start: USDe margin at 10x is liquidated ...
    out = tmp_path / "usde"
    r = runner.invoke(app, ["run", "--data", "scenario:collateral-depeg", "--set", "collateral=usde",
                            "--set", "leverage=10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["liquidations"] == 1
    # ... and with spot ETH as collateral it is not
    out = tmp_path / "spot"
    r = runner.invoke(app, ["run", "--data", "scenario:collateral-depeg", "--set", "collateral=spot",
                            "--set", "leverage=10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["liquidations"] == 0


def test_default_run_writes_run_dir(tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(app, ["run", "--out", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    for key in ("equity_start", "equity_end", "total_return", "apy", "volatility", "sharpe", "sortino",
                "max_drawdown", "max_drawdown_days", "liquidations", "n_fills", "pnl", "config_id",
                "data_fingerprint"):
        assert key in m
    parts = sum(m["pnl"][k] for k in ("funding", "basis", "price", "fees", "slippage", "lending", "liquidation"))
    total = m["equity_end"] - m["equity_start"]
    assert m["pnl"]["total"] == pytest.approx(total, rel=1e-9)
    assert parts == pytest.approx(total, rel=1e-9)
    for f in ("equity.parquet", "ledger.parquet", "fills.parquet", "run.toml", "report.md", "report.html"):
        assert (out / f).exists(), f


@pytest.mark.parametrize("args, needle", [
    (["run", "--strategy", "perp_shrot"], "did you mean 'perp_short'"),
    (["run", "--data", "scenario:feb-crash"], "feb-2025-crash"),
    (["run", "--data", "nonsense"], "scenario:NAME"),
    (["run", "--set", "leverge=5"], "did you mean 'leverage'"),
    (["run", "--set", "leverage=abc"], "leverage"),
    (["run", "--set", "collateral=btc"], "spot, usdt"),
    (["run", "--set", "venue=kraken"], "binance, bybit, okx"),
    (["run", "--set", "novalue"], "key=value"),
])
def test_bad_input_exits_2_with_one_line(args, needle, tmp_path):
    r = runner.invoke(app, args + ["--out", str(tmp_path / "x")])
    assert r.exit_code == 2, r.output
    text = r.output.strip()
    assert needle in text
    assert "Traceback" not in text
    assert len(text.splitlines()) == 1


def test_usdt_leverage_contract(tmp_path):
    r = runner.invoke(app, ["run", "--strategy", "perp_short", "--set", "collateral=usdt", "--set", "leverage=5",
                            "--data", "scenario:squeeze", "--out", str(tmp_path / "sq")])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "sq" / "metrics.json").read_text())
    assert m["liquidations"] >= 1
