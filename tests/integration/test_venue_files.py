"""Venues as inputs of a run (issue 23): a bad venue file is refused through the CLI with one line naming the
file and the key; a changed venue changes the run's identity; an override reaches what derives from it; a
transfer between quotes pays the conversion; a venue states what is collateral and the engine holds to it."""
from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import basisbt as bb
from basisbt.cli.app import app
from basisbt.data.venues import BUILTIN_DIR
from basisbt.engine.config import ConfigError, RunConfig
from basisbt.engine.runner import Engine
from basisbt.regress.golden import CaseRun, GoldenCase, bless_checks, golden_values
from basisbt.strategies.base import Strategy
from tests.helpers import T0, bars, dataset
from tests.runs import run_backtest

runner = CliRunner()
BINANCE = (BUILTIN_DIR / "binance.toml").read_text()


def venue_dir(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    """A directory holding binance.toml with the first `count` lines matching `old` (0: all) replaced by `new`."""
    d = tmp_path / "venues"
    d.mkdir(exist_ok=True)
    assert re.search(old, BINANCE, flags=re.M), old
    (d / "binance.toml").write_text(re.sub(old, new, BINANCE, count=count, flags=re.M))
    return d


@pytest.mark.parametrize("command", [["run", "--data", "scenario:feb-2025-crash", "--out"],
                                     ["regress", "--only", "perp_short", "--golden-dir"],
                                     ["sweep", "--grid", "leverage=2,3", "--out"], ["stress", "--paths", "1", "--out"]])
@pytest.mark.parametrize("old, new, key", [
    (r"^taker_fee = ", "taker_fees = ", "unknown key 'taker_fees' (did you mean 'taker_fee'?)"),       # typo
    (r"^withdrawal_fee = ", "insurance_pool = 5e8\nwithdrawal_fee = ", "unknown key 'insurance_pool' (did you mean 'insurance_fund'?)"),  # unknown
    (r"^spot_taker_fee = 0.001", 'spot_taker_fee = "0.1 %"', "spot_taker_fee = '0.1 %': expected a number"),
    (r'^liquidation_price = "liquidation"', 'liquidation_price = "bankruptcy"',                         # does nothing
     "liquidation_fee does nothing with liquidation_price = 'bankruptcy'"),
])
def test_a_bad_venue_file_exits_2_with_one_line_naming_file_and_key(tmp_path, command, old, new, key):
    d = venue_dir(tmp_path, old, new)
    r = runner.invoke(app, [*command, str(tmp_path / "out"), "--venues-dir", str(d)], terminal_width=400)
    text = r.output.strip()
    assert r.exit_code == 2, text
    assert "Traceback" not in text
    assert len(text.splitlines()) == 1 and text.startswith("error: "), text
    assert f"{d / 'binance.toml'}: [[spec]] 1 (effective_from 2021-01-01): {key}" in text, text
    assert not (tmp_path / "out").exists()


def test_a_missing_venues_dir_exits_2_naming_it(tmp_path):
    r = runner.invoke(app, ["run", "--venues-dir", str(tmp_path / "nope")], terminal_width=400)
    assert r.exit_code == 2 and "nope: not a directory of venue .toml files (it does not exist)" in r.output


# -- identity ---------------------------------------------------------------------------------------------------

class ShortOne(Strategy):
    """Short 1 ETH perp (cross, USDT margin) on each venue of the data at the first decision."""
    name = "short_one"

    def on_bar(self, ctx, ev):
        if ev.bar == 0:
            for v in ctx.venues:
                ctx.order(v, "perp", -1.0)


def flat(venues=("binance",), n=24, px=2000.0):
    return dataset(bars(np.full(n, px)), venues=venues)


def test_a_changed_venue_file_changes_the_runs_identity_and_says_which(tmp_path):
    ds = flat()
    base = run_backtest(ShortOne(), ds, RunConfig(slippage=0.0))
    # a change in a block not in force over the run (the 2021 block; the run is in 2025) is not this run's
    d = venue_dir(tmp_path, r"^withdrawal_delay_min = 30", "withdrawal_delay_min = 45")
    old = run_backtest(ShortOne(), ds, RunConfig(slippage=0.0), venues=bb.venues([d]))
    assert old.config_id == base.config_id and old.venue_fingerprint == base.venue_fingerprint
    # in every block: a number no fill uses, so the same numbers, but another run
    d = venue_dir(tmp_path, r"^withdrawal_delay_min = 30", "withdrawal_delay_min = 45", count=0)
    moved = run_backtest(ShortOne(), ds, RunConfig(slippage=0.0), venues=bb.venues([d]))
    assert moved.metrics()["equity_end"] == base.metrics()["equity_end"]                  # same numbers ...
    assert moved.config_id != base.config_id                                              # ... another run
    assert moved.venue_fingerprint["binance"] != base.venue_fingerprint["binance"]
    # a comment or a source changes nothing
    (d / "binance.toml").write_text(BINANCE.replace("# fees", "# fee page").replace('fees = "Binance FAQ',
                                                                                    'fees = "the Binance FAQ'))
    same = run_backtest(ShortOne(), ds, RunConfig(slippage=0.0), venues=bb.venues([d]))
    assert same.config_id == base.config_id and same.venue_fingerprint == base.venue_fingerprint
    # metrics.json and run.toml carry it
    out = tmp_path / "run"
    moved.save(out)
    assert json.loads((out / "metrics.json").read_text())["venue_fingerprint"] == moved.venue_fingerprint
    assert tomllib.loads((out / "run.toml").read_text())["venue_fingerprint"] == moved.venue_fingerprint


# -- a taker_fee override reaches what derives from it ------------------------------------------------------------

def test_a_taker_fee_override_moves_okx_trigger_fee_and_bybit_fee_to_close():
    # Short 1 ETH at 2000 on each venue, cross, 10,000 USDT each, flat price, no slippage, taker 0.1 % everywhere.
    # OKX (tier 1 MMR 0.4 %, trigger = taker): level = (0.004 + 0.001) x 2000 = 10.00 (the file's 0.05 %: 9.00).
    # Bybit (tier 1 MMR, fee to close at the bankruptcy price): wallet after the 2.00 fee 9,998; bankruptcy price
    #   M_b = 2000 + 9,998 / 1 = 11,998; level = MMR x 2000 + 0.001 x 11,998 (the file's 0.055 %: x 11,998.9).
    ds = flat(("bybit", "okx"))
    cfg = RunConfig(slippage=0.0, initial_capital=20_000.0, venue_overrides={
        "okx": {"taker_fee": 0.001}, "bybit": {"taker_fee": 0.001}})
    res = run_backtest(ShortOne(), ds, cfg)
    last = res.timeline.iloc[-1]
    mmr_bybit = bb.venue("bybit").at(T0).tier_table("ETH").rate[0]
    assert bb.venue("okx").at(T0).tier_table("ETH").rate[0] == 0.004
    assert last["okx:maint_margin"] == pytest.approx(0.005 * 2000.0, rel=1e-12)
    assert last["bybit:maint_margin"] == pytest.approx(mmr_bybit * 2000.0 + 0.001 * 11_998.0, rel=1e-12)
    assert res.fills["fee"].tolist() == pytest.approx([2.0, 2.0], rel=1e-12)
    # without the override: the files' fees
    plain = run_backtest(ShortOne(), ds, RunConfig(slippage=0.0, initial_capital=20_000.0)).timeline.iloc[-1]
    assert plain["okx:maint_margin"] == pytest.approx(0.0045 * 2000.0, rel=1e-12)
    wallet = 10_000.0 - 2000.0 * 0.00055
    assert plain["bybit:maint_margin"] == pytest.approx(mmr_bybit * 2000.0 + 0.00055 * (2000.0 + wallet), rel=1e-12)


def test_an_override_the_venue_would_not_use_is_refused():
    with pytest.raises(Exception, match="venue_overrides.okx .*liquidation_fee does nothing with "
                                        "liquidation_price = 'bankruptcy'"):
        run_backtest(ShortOne(), flat(("okx",)), RunConfig(venue_overrides={"okx": {"liquidation_fee": 0.01}}))


# -- quote currencies ------------------------------------------------------------------------------------------------

class Move(Strategy):
    """Move 10,000 of quote cash from binance to bybit at the first decision, then hold."""
    name = "move"

    def initial_allocation(self, venues):
        return {"binance": 1.0}

    def on_bar(self, ctx, ev):
        if ev.bar == 0:
            ctx.move_collateral("binance", "bybit", 10_000.0)


def test_a_transfer_between_quotes_converts_at_the_spot_taker_fee_to_the_cent():
    # binance (USDT) -> bybit made USDC: 10,000.00 leaves binance's cash with its 1.00 withdrawal fee; converting
    # USDT -> USDC on binance's spot market at its taker fee 0.1 % costs 10.00; 9,990.00 is sent and arrives
    usdc = bb.venue("bybit").replace(quote="USDC")
    cfg = RunConfig(slippage=0.0, initial_capital=50_000.0)
    eng = Engine(Move(), flat(("binance", "bybit")), cfg, venues=bb.venues([usdc]))
    res = bb.Results.of(eng.run())
    led = res.ledger
    rows = {k: led.loc[led.kind == k, ["venue", "amount"]].to_records(index=False).tolist()
            for k in ("transfer_out", "withdrawal_fee", "fee", "transfer_in")}
    assert rows == {"transfer_out": [("binance", -9_990.0)], "withdrawal_fee": [("binance", -1.0)],
                    "fee": [("binance", -10.0)], "transfer_in": [("bybit", 9_990.0)]}
    assert led.loc[led.kind == "fee", "ref"].tolist() == [-1]
    m = res.metrics()
    assert m["pnl"]["fees"] == pytest.approx(-11.0, abs=1e-9)
    assert m["equity_end"] == pytest.approx(50_000.0 - 11.0, abs=1e-9)
    assert "converts USDT to USDC on binance" in " ".join(res.log)
    # the golden bless checks recompute it from the ledger's transfer and the venue's spot taker fee
    run = CaseRun(GoldenCase("move__hand", "move", "hand"), res, eng.dataset, cfg, golden_values(res), 0.0, eng.venues)
    assert bless_checks(run) == []
    wrong = led.copy()
    wrong.loc[wrong.kind == "fee", "amount"] = -10.01
    bad = CaseRun(run.case, dataclasses.replace(res, ledger=wrong), eng.dataset, cfg, run.values, 0.0, eng.venues)
    assert any("conversion fee -10.01" in p for p in bless_checks(bad))
    # same quote: no conversion
    same = run_backtest(Move(), flat(("binance", "bybit")), RunConfig(slippage=0.0, initial_capital=50_000.0))
    assert (same.ledger.kind == "fee").sum() == 0
    assert same.metrics()["equity_end"] == pytest.approx(50_000.0 - 1.0, abs=1e-9)


# -- collateral ------------------------------------------------------------------------------------------------------

def test_spot_collateral_where_the_venue_does_not_list_the_asset_is_refused():
    no_eth = bb.venue("binance").replace(collateral={"BTC": 0.95})
    with pytest.raises(ConfigError, match="binance: spot_collateral=True refused: ETH is not collateral on binance"):
        bb.run("perp_short", flat(), params={"collateral": "spot"}, venues=[no_eth])
    assert bb.run("perp_short", flat(), params={"collateral": "usdt"}, venues=[no_eth]).metrics()["n_fills"] == 2


def test_a_collateral_asset_the_venue_does_not_list_is_refused():
    # collateral-depeg's USDe: binance.toml lists it; okx.toml does not
    with pytest.raises(ConfigError, match="okx: buy_collateral refused: USDe is not collateral on okx"):
        bb.run("perp_short", "scenario:collateral-depeg", params={"collateral": "usde", "venue": "okx"},
               end="2025-10-11T03:00")


def test_the_usde_ratio_is_read_from_the_file():
    ds_start = pd.Timestamp("2025-10-10", tz="UTC")
    assert bb.venue("binance").at(ds_start).collateral["USDe"] == 1.0
    half = bb.venue("binance").replace(collateral={"ETH": 0.95, "BTC": 0.95, "USDe": 0.5})
    a = bb.run("perp_short", "scenario:collateral-depeg", params={"collateral": "usde", "leverage": 10.0},
               end="2025-10-10T21:30")
    b = bb.run("perp_short", "scenario:collateral-depeg", params={"collateral": "usde", "leverage": 10.0},
               end="2025-10-10T21:30", venues=[half])
    # the USDe held counts at half its value: the margin balance drops by half of it
    coll = a.timeline["binance:margin_balance"].iloc[-1] - b.timeline["binance:margin_balance"].iloc[-1]
    assert coll > 0 and a.timeline["equity"].iloc[-1] == b.timeline["equity"].iloc[-1]
