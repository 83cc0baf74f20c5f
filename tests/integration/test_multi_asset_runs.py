"""Runs over several base assets (issue 16): the built-ins that take assets, the refusals, the accounting.

The rotation scenario (data/scenarios/btc_eth_rotation.py): ETH funding is negative on every venue from
2025-06-11 to 2025-06-21 while BTC's stays positive. An allocator over both assets should move its book
to BTC within its look-back of the spell's start, and back after it ends.
"""
from __future__ import annotations

import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from basisbt.cli.app import app
from basisbt.data.scenarios import load_scenario
from basisbt.engine.config import ConfigError
from basisbt.strategies.base import Strategy
from basisbt.strategies.funding_allocator import FundingAllocator
from basisbt.strategies.synthetic_dollar import SyntheticDollar
from tests.runs import run_backtest

SPELL = (pd.Timestamp("2025-06-11", tz="UTC"), pd.Timestamp("2025-06-21", tz="UTC"))


@pytest.fixture(scope="module")
def rotation():
    return load_scenario("btc-eth-rotation")


@pytest.fixture(scope="module")
def allocated(rotation):
    return run_backtest(FundingAllocator(), rotation)


def reweights(res) -> list[tuple[pd.Timestamp, dict[str, float]]]:
    out = []
    for line in res.log:
        if " reweight " in line:
            ts, _, rest = line.split(" ", 2)
            out.append((pd.Timestamp(ts), {k: float(w) for k, w in (kv.split("=") for kv in rest.split(", "))}))
    return out


def test_allocator_moves_to_btc_during_the_eth_spell_and_back(allocated):
    moves = reweights(allocated)
    assert len(moves) >= 2
    inside = [m for m in moves if m[0] < SPELL[1]]                # it may move in more than one step
    (t_in, _), (_, w_in), (t_out, w_out) = inside[0], inside[-1], moves[-1]
    lookback = pd.Timedelta(days=FundingAllocator().p.lookback_days)
    assert SPELL[0] < t_in < SPELL[0] + lookback            # once the trailing window sees the spell
    eth_in = sum(w for k, w in w_in.items() if k.endswith(":ETH"))
    assert eth_in < 0.2                                       # the floors only (min_weight 0.1 per venue / 2)
    assert SPELL[1] < t_out < SPELL[1] + lookback + pd.Timedelta(days=2)
    assert sum(w for k, w in w_out.items() if k.endswith(":ETH")) > 0.5     # ETH pays more again after it


def test_allocator_over_both_beats_the_asset_that_went_bad(rotation, allocated):
    eth_only = run_backtest(FundingAllocator(), rotation.asset("ETH")).metrics()
    both = allocated.metrics()
    assert both["total_return"] > eth_only["total_return"]
    # funding paid during the spell is where the difference comes from: less of it paid with both assets
    assert both["pnl"]["funding"] > eth_only["pnl"]["funding"]


def test_multi_asset_accounting_adds_up(allocated):
    m = allocated.metrics()
    assert abs(m["attribution_residual"]) < 1e-6 * allocated.initial_equity
    # per-slot attribution sums to the run's parts, slot labels are venue:ASSET
    assert set(allocated.venues) == {f"{v}:{a}" for v in ("binance", "bybit", "okx") for a in ("ETH", "BTC")}
    total = allocated.attribution.drop(index="lending").to_numpy().sum() + allocated.attribution.loc["lending"].sum()
    assert math.isclose(total, m["equity_end"] - m["equity_start"] - m["net_flows"], rel_tol=1e-9, abs_tol=1e-6)
    # one cross wallet per venue: both slots of a venue show the same margin balance
    last = allocated.timeline.iloc[-1]
    for v in ("binance", "bybit", "okx"):
        assert last[f"{v}:ETH:margin_balance"] == last[f"{v}:BTC:margin_balance"]


def test_synthetic_dollar_splits_its_backing_by_asset_weights(rotation):
    res = run_backtest(SyntheticDollar(asset_weights="ETH=0.5,BTC=0.3,USDT=0.2", reference_supply=0.0), rotation)
    opened = res.fills[res.fills["reason"] == "open"]
    spot = opened[opened["instrument"] == "spot"].assign(value=lambda f: f["qty"] * f["ref_price"])
    by_slot = spot.groupby("venue")["value"].sum()
    for v in ("binance", "bybit", "okx"):
        eth, btc = by_slot[f"{v}:ETH"], by_slot[f"{v}:BTC"]
        # 1/3 of 1M per venue, less the 1 % cash buffer: ETH 0.5 and BTC 0.3 of it, 0.2 kept as USDT
        # -> 165,000 and 99,000 exactly (qty = value / price, so qty x price is exact to rounding)
        assert eth == pytest.approx(165_000.0, rel=1e-12)
        assert btc == pytest.approx(99_000.0, rel=1e-12)


def test_asset_weights_typo_is_refused(rotation):
    with pytest.raises(ConfigError, match="'SOL' is not in the data; valid: ETH, BTC, USDT"):
        run_backtest(SyntheticDollar(asset_weights="ETH=1,SOL=1"), rotation)


class AskEthPrice(Strategy):
    """Names a venue without an asset on several-asset data."""
    name = "ask-eth-price"
    multi_asset = True

    def on_bar(self, ctx, ev):
        ctx.price("binance")


def test_a_call_without_the_asset_names_the_assets(rotation):
    with pytest.raises(Exception, match="binance trades ETH, BTC in this run: pass asset="):
        run_backtest(AskEthPrice(), rotation)


def test_single_asset_strategy_refused_with_one_line_exit_2(tmp_path):
    r = CliRunner().invoke(app, ["run", "-s", "perp_short", "--data", "scenario:btc-eth-rotation",
                                 "--out", str(tmp_path / "run")])
    assert r.exit_code == 2
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "perp_short' trades one asset, and the data holds ETH, BTC" in lines[0]
    assert not (tmp_path / "run").exists()
