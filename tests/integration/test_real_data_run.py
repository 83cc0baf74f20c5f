"""Real Binance history (../shared/data, skipped when absent): import -> cache -> `basisbt run --data cache`."""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from basisbt.cli.app import app

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "freqtrade" / "binance"


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not present (fresh clone)")
def test_freqtrade_import_then_backtest_2024(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    runner = CliRunner()
    r = runner.invoke(app, ["import", "freqtrade", str(SHARED), "--cache", str(cache)])
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("BASISBT_CACHE", str(cache))
    out = tmp_path / "run"
    r = runner.invoke(app, ["run", "--data", "cache:ETH/USDT", "--start", "2024-01-01", "--end", "2025-01-01",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    # 2024 funding averaged 13 % APR on Binance ETHUSDT (docs/architecture.md §10): a 1x hedge must earn a clearly
    # positive funding income over the year, and nothing was liquidated with spot as collateral
    assert m["pnl"]["funding"] > 0.08 * m["equity_start"]
    assert m["liquidations"] == 0
