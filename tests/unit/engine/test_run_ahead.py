"""The engine runs the kernel past decision points and undoes it when a decision acts: the results
must be exactly those of stopping at every decision (Engine.MAX_SPAN = 1)."""
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from basisbt.data.scenarios import load_scenario
from basisbt.engine.checkpoint import Checkpoint
from basisbt.engine.config import RunConfig
from basisbt.engine.runner import Engine
from basisbt.strategies.base import Strategy, param
from basisbt.strategies.registry import builtin_strategies


class Jittery(Strategy):
    """Acts at seeded random bars: orders, transfers, lending, a margin-mode switch while flat."""

    name = "jittery"
    decide = "bar"

    @dataclass(frozen=True, kw_only=True)
    class Params:
        p_act: float = param(0.05, "chance of acting at a bar")
        seed: int = param(7, "rng seed")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.rng = np.random.default_rng(self.p.seed)

    def initial_allocation(self, venues):
        return {v: 1.0 for v in venues}

    def on_bar(self, ctx, ev) -> None:
        u = self.rng.random()
        if u > self.p.p_act:
            ctx.record("cash_seen", ctx.cash("binance"))        # reads the book on quiet bars too
            return
        k = self.rng.integers(5)
        if k == 0:
            q = ctx.cash("binance") * 0.3 / ctx.price("binance")
            ctx.order("binance", "spot", q, "buy")
            ctx.order("binance", "perp", -q, "short")
        elif k == 1:
            ctx.target_position("binance", "perp", 0.0, "flat")
            ctx.target_position("binance", "spot", 0.0, "flat")
        elif k == 2 and ctx.cash("bybit") > 1000:
            ctx.move_collateral("bybit", "okx", ctx.cash("bybit") * 0.2)
        elif k == 3 and ctx.protocols and ctx.cash("okx") > 1000:
            ctx.lend(ctx.protocols[0], ctx.cash("okx") * 0.5, "okx")
        elif k == 4 and ctx.perp_qty("bybit") == 0.0:
            ctx.configure("bybit", spot_collateral=bool(self.rng.integers(2)))


def _run(strategy, ds, span, monkeypatch, **cfg):
    monkeypatch.setattr(Engine, "MAX_SPAN", span)
    return Engine(strategy, ds, RunConfig(**cfg)).run()


def _same(a, b):
    pd.testing.assert_frame_equal(a.timeline, b.timeline, check_exact=True)
    pd.testing.assert_frame_equal(a.ledger, b.ledger, check_exact=True)
    pd.testing.assert_frame_equal(a.fills, b.fills, check_exact=True)
    pd.testing.assert_frame_equal(a.liquidations, b.liquidations, check_exact=True)
    assert a.log == b.log
    assert a.extras.keys() == b.extras.keys()
    for k in a.extras:
        pd.testing.assert_series_equal(a.extras[k], b.extras[k], check_exact=True)


@pytest.mark.parametrize("name", sorted(builtin_strategies()))
@pytest.mark.parametrize("scenario", ["feb-2025-crash", "death-spiral"])
def test_builtins_identical_with_and_without_run_ahead(name, scenario, monkeypatch):
    ds = load_scenario(scenario)
    cls = builtin_strategies()[name]
    _same(_run(cls(), ds, 1, monkeypatch), _run(cls(), ds, Engine.MAX_SPAN, monkeypatch))


def test_random_actions_roll_back_exactly(monkeypatch):
    ds = load_scenario("feb-2025-crash")
    calls = {"restore": 0}
    restore = Checkpoint.restore

    def counting(self, *a):
        calls["restore"] += 1
        return restore(self, *a)

    monkeypatch.setattr(Checkpoint, "restore", counting)
    ahead = _run(Jittery(), ds, Engine.MAX_SPAN, monkeypatch)
    assert calls["restore"] > 10                 # the run-ahead was undone many times
    assert len(ahead.fills) > 10 and (ahead.ledger["kind"] == "transfer_in").any()
    _same(_run(Jittery(), ds, 1, monkeypatch), ahead)


def test_liquidation_inside_a_run_ahead(monkeypatch):
    from basisbt.strategies.perp_short import PerpShort
    ds = load_scenario("squeeze")
    s = dict(venue="bybit", collateral="usdt", leverage=5.0)
    one = _run(PerpShort(**s), ds, 1, monkeypatch, decide="60")
    ahead = _run(PerpShort(**s), ds, Engine.MAX_SPAN, monkeypatch, decide="60")
    assert len(one.liquidations) >= 1
    _same(one, ahead)


@pytest.mark.parametrize("name", sorted(builtin_strategies()))
@pytest.mark.parametrize("scenario", ["adl-crash", "venue-default"])
def test_venue_events_identical_with_and_without_run_ahead(name, scenario, monkeypatch):
    # the kernel stops at each venue event's open (engine/venue_events.py); with sparse decisions the
    # run-ahead spans many bars around the events, which must change nothing
    ds = load_scenario(scenario)
    cls = builtin_strategies()[name]
    for cfg in ({}, {"decide": "12"}):
        one, ahead = _run(cls(), ds, 1, monkeypatch, **cfg), _run(cls(), ds, Engine.MAX_SPAN, monkeypatch, **cfg)
        _same(one, ahead)
        pd.testing.assert_frame_equal(one.venue_events, ahead.venue_events, check_exact=True)


def test_random_actions_with_a_venue_halt_and_default_roll_back_exactly(monkeypatch):
    ds = load_scenario("venue-default")
    ahead = _run(Jittery(), ds, Engine.MAX_SPAN, monkeypatch)
    _same(_run(Jittery(), ds, 1, monkeypatch), ahead)
