"""The built-in strategies with Hyperliquid among their venues (issue 24 item 6): USDC margin beside USDT, the
quote conversion and the bridge's delay on money moved to it, quote-margined hedges (spot is not margin there),
and the shipped real window run by each of them."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import basisbt as bb
from basisbt.data.dataset import Dataset
from basisbt.engine.config import ConfigError, RunConfig
from basisbt.strategies.base import Strategy
from basisbt.strategies.hedge import QUOTE_MARGIN_LEVERAGE
from tests.helpers import T0, bars
from tests.runs import run_backtest

H = pd.Timedelta(hours=1)


def flat(venues=("binance", "hyperliquid"), n=8, px=2000.0) -> Dataset:
    b = bars(np.full(n, px))
    return Dataset("flat", "ETH/USDT", "1h", {v: b for v in venues}, {v: b for v in venues})


class Move(Strategy):
    """At the first decision, move 10,000 from `src` to `dst`."""
    name = "move_hl"

    def __init__(self, src="binance", dst="hyperliquid", **kw):
        super().__init__(**kw)
        self.src, self.dst = src, dst

    def initial_allocation(self, venues):
        return {self.src: 1.0}

    def on_bar(self, ctx, ev):
        if ev.bar == 0:
            ctx.move_collateral(self.src, self.dst, 10_000.0)


@pytest.mark.parametrize("src, dst, fee, conv_on, conv_rate, minutes", [
    # binance -> hyperliquid: 1.00 USDT withdrawal fee, USDT -> USDC on binance's spot at 0.1 % = 10.00,
    # 9,990.00 travels binance's 30 min + the bridge's 1 min
    ("binance", "hyperliquid", 1.0, "binance", 0.001, 31),
    # hyperliquid -> binance: 1.00 USDC, USDC -> USDT on hyperliquid's spot at 0.035 % (the 2024-03 schedule in
    # force in January 2025) = 3.50, 9,996.50 travels hyperliquid's 4 min (binance credits at once)
    ("hyperliquid", "binance", 1.0, "hyperliquid", 0.00035, 4),
])
def test_money_moved_to_and_from_hyperliquid_converts_and_waits_for_the_bridge(src, dst, fee, conv_on, conv_rate,
                                                                               minutes):
    res = run_backtest(Move(src, dst), flat(), RunConfig(slippage=0.0, initial_capital=50_000.0))
    led = res.ledger
    conv = 10_000.0 * conv_rate
    assert led.loc[led.kind == "fee", ["venue", "amount"]].to_records(index=False).tolist() == [(conv_on, -conv)]
    assert led.loc[led.kind == "withdrawal_fee", "amount"].tolist() == [-fee]
    sent = led.loc[led.kind == "transfer_out"].iloc[0]
    got = led.loc[led.kind == "transfer_in"].iloc[0]
    assert got["amount"] == pytest.approx(10_000.0 - conv, abs=1e-9) and got["venue"] == dst
    # decided at the close of bar 0 (01:00): it lands at the first bar close at or after 01:00 + delay
    due = sent["ts"] + pd.Timedelta(minutes=minutes)
    assert got["ts"] == T0 + H * int(np.ceil((due - T0) / H))
    assert res.metrics()["equity_end"] == pytest.approx(50_000.0 - fee - conv, abs=1e-9)


def test_the_bridge_delay_is_what_moves_the_arrival_across_a_bar():
    """With 1-minute bars the 1-minute deposit delay shows: binance's 30 min + 1 = 31 bars after the decision."""
    b = bars(np.full(60, 2000.0), freq="1min")
    ds = Dataset("flat1m", "ETH/USDT", "1m", {v: b for v in ("binance", "hyperliquid")},
                 {v: b for v in ("binance", "hyperliquid")})
    led = run_backtest(Move(), ds, RunConfig(slippage=0.0, initial_capital=50_000.0)).ledger
    out, into = led.loc[led.kind == "transfer_out", "ts"].iloc[0], led.loc[led.kind == "transfer_in", "ts"].iloc[0]
    assert into - out == pd.Timedelta(minutes=31)
    no_bridge = bb.venue("hyperliquid").replace(deposit_delay_min=0)
    led = bb.run(Move(), ds, slippage=0.0, initial_capital=50_000.0, venues=[no_bridge]).ledger
    assert led.loc[led.kind == "transfer_in", "ts"].iloc[0] - out == pd.Timedelta(minutes=30)


def test_spot_is_not_margin_on_hyperliquid():
    with pytest.raises(ConfigError, match=r"hyperliquid: spot_collateral=True refused: ETH is not collateral on "
                                          r"hyperliquid .*collateral table.*: none; the quote USDC always is"):
        bb.run("perp_short", flat(), params={"venue": "hyperliquid", "collateral": "spot"})
    res = bb.run("perp_short", flat(), params={"venue": "hyperliquid", "collateral": "usdt", "leverage": 3.0},
                 slippage=0.0)
    assert res.metrics()["n_fills"] == 2 and res.metrics()["liquidations"] == 0


def test_allocator_hedges_on_hyperliquid_keep_their_margin_in_usdc():
    # equal weights on a flat 2000 market, 500,000 on each venue, target 0.5 x 990,000 = 495,000 a venue; the
    # free cash is 500,000 - 1 % x 495,000 = 495,050. binance (spot is margin) puts 495,050 / (1 + 2 x (0.1 % +
    # 0.05 %)) into spot; hyperliquid (USDC only, 2025-01 fees 0.035 % / 0.035 %) puts 495,050 / (1 + 2 x 0.07 %)
    # into spot + margin, of which spot = that / (1 + 1/3): a quarter stays USDC as the short's margin
    res = bb.run("funding_allocator", flat(n=24), params={"weighting": "equal"}, slippage=0.0)
    first = res.fills.groupby(["venue", "instrument"])["qty"].first()
    assert first["binance", "spot"] * 2000.0 == pytest.approx(495_050 / 1.003, rel=1e-12)
    hl_value = 495_050 / (1 + 2 * 0.0007)
    assert first["hyperliquid", "spot"] * 2000.0 == pytest.approx(hl_value / (1 + 1 / QUOTE_MARGIN_LEVERAGE), rel=1e-12)
    assert first["hyperliquid", "perp"] == -first["hyperliquid", "spot"]
    tl = res.timeline
    perp_hl = tl["hyperliquid:perp_qty"].iloc[-1]
    assert tl["hyperliquid:margin_balance"].iloc[-1] >= abs(perp_hl) * 2000.0 / QUOTE_MARGIN_LEVERAGE
    assert res.metrics()["liquidations"] == 0 and res.metrics()["orders_rejected_total"] == 0


@pytest.mark.parametrize("strategy, params", [
    ("perp_short", {"venue": "hyperliquid", "collateral": "usdt"}),
    ("funding_allocator", {}),
    ("synthetic_dollar", {}),
])
def test_each_strategy_runs_the_real_hyperliquid_window(strategy, params):
    res = bb.run(strategy, "scenario:real-hyperliquid-oct-2025", params=params)
    m = res.metrics()
    assert m["liquidations"] == 0 and abs(m["attribution_residual"]) < 1e-9
    hl = m["pnl_by_venue"]["hyperliquid"]
    assert hl["funding"] != 0.0                                   # the hedge on hyperliquid earns its funding
    assert res.data_quality["venues"]["hyperliquid"]["funding"]["settlements"] == 283
    assert "oracle" in res.data_quality["venues"]["hyperliquid"]["funding"]


def test_cli_run_with_fill_close_and_only_hyperliquid(tmp_path):
    from typer.testing import CliRunner

    from basisbt.cli.app import app
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", "--data", "scenario:real-hyperliquid-oct-2025", "--venues", "hyperliquid",
                                 "--set", "venue=hyperliquid", "--set", "collateral=usdt", "--fill", "close",
                                 "--out", str(out)], terminal_width=200)
    assert r.exit_code == 0, r.output
    import json
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["data_quality"]["venues"]) == ["hyperliquid"]
    # --venues dropped binance: of the oracle's basket only hyperliquid's own spot (weight 1) is in the data
    assert m["data_quality"]["venues"]["hyperliquid"]["funding"]["oracle"].startswith("weighted median of spot "
                                                                                      "hyperliquid 1 (of the")
    assert "paid on the oracle: weighted median of spot hyperliquid 1" in (out / "report.md").read_text()
    fills = pd.read_parquet(out / "fills.parquet")
    assert (fills["venue"] == "hyperliquid").all() and len(fills) == 2
    # --fill close: filled at the close of the first decision bar, 00:00-01:00, stamped at 01:00
    assert pd.Timestamp(fills["ts"].iloc[0]) == pd.Timestamp("2025-10-01 01:00", tz="UTC")


def test_gaps_in_hyperliquid_bars_and_records_are_counted_and_strict_refuses_them():
    n = 30
    b = bars(np.full(n, 2000.0))
    holed = b.drop(index=[10, 11, 12]).reset_index(drop=True)            # three perp bars missing
    fund = pd.DataFrame({"ts": [T0 + H * h for h in list(range(1, 8)) + list(range(20, 29))],
                         "rate": 0.0000125})                               # 08:00 .. 19:00 missing: 12 settlements
    ds = Dataset("holes", "ETH/USDT", "1h", {"hyperliquid": b}, {"hyperliquid": holed},
                 funding={"hyperliquid": fund})
    res = bb.run("perp_short", ds, params={"venue": "hyperliquid", "collateral": "usdt"})
    q = res.data_quality["venues"]["hyperliquid"]
    # 08:00 .. 19:00 between the rows, and 29:00 after the last one (the run's last close is 30:00)
    assert q["perp"]["bars_missing"] == 3 and q["funding"]["intervals_missing"] == 12 + 1
    assert q["funding"]["missing_after_last"] == 1
    assert q["funding"]["interval_h"] == 1.0
    with pytest.raises(ConfigError, match="^strict: hyperliquid perp has 3 missing bars"):   # Python names
        bb.run("perp_short", ds, params={"venue": "hyperliquid", "collateral": "usdt"}, strict=True)
