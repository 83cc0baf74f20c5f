"""ctx.sleep(): a strategy that says on_bar has nothing to do until an event is not called until one comes.

It must not change results. Every built-in scenario (and the real windows) runs perp_short, which sleeps once
its hedge is in place, with the engine honouring the sleep and ignoring it: metrics, fills, ledger and
liquidations must be identical.
"""
from __future__ import annotations

import pandas as pd
import pytest

import basisbt as bb
from basisbt.data.scenarios import load_scenario
from basisbt.engine.config import RunConfig
from basisbt.engine.runner import Engine
from basisbt.strategies.base import Strategy
from basisbt.strategies.perp_short import PerpShort

CASES = [({}, "feb-2025-crash"), ({}, "squeeze"), ({"collateral": "usdt", "leverage": 5.0}, "squeeze"),
         ({"collateral": "usdt", "leverage": 10.0, "reopen_after_liquidation": True}, "feb-2025-crash"),
         ({"venue": "bybit", "collateral": "usdt", "leverage": 5.0}, "squeeze"), ({}, "adl-crash"),
         ({"venue": "bybit"}, "venue-default"), ({"collateral": "usde", "leverage": 10.0}, "collateral-depeg"),
         ({"hedge_ratio": 0.5, "rehedge_threshold": 0.0}, "bull-carry"), ({}, "real-binance-feb-2025")]


def run(params: dict, scenario: str, honor: bool, config: RunConfig | None = None):
    """The strategy as a user checks it (docs/api.md, ctx.sleep): bb.run(..., honor_sleep=False) calls every
    decision anyway."""
    strategy = PerpShort(**params)
    calls = []
    hook = strategy.on_bar
    strategy.on_bar = lambda ctx, ev: (calls.append(ev.bar), hook(ctx, ev))[1]      # count on_bar calls
    return bb.run(strategy, load_scenario(scenario), config=config, honor_sleep=honor), calls


@pytest.mark.parametrize("params,scenario", CASES)
def test_sleeping_changes_nothing(params, scenario):
    slept, calls_slept = run(params, scenario, True)
    awake, calls_awake = run(params, scenario, False)
    assert slept.metrics() == awake.metrics()
    pd.testing.assert_frame_equal(slept.fills, awake.fills)
    pd.testing.assert_frame_equal(slept.ledger, awake.ledger)
    pd.testing.assert_frame_equal(slept.liquidations, awake.liquidations)
    pd.testing.assert_frame_equal(slept.timeline, awake.timeline)
    assert len(calls_slept) < len(calls_awake)      # and it did sleep


def test_sleep_until_a_time_wakes_then():
    class Nap(Strategy):
        name = "nap"
        woke: list = []

        def on_bar(self, ctx, ev):
            self.woke.append(ctx.now)
            ctx.sleep(until=ctx.now + pd.Timedelta(hours=10))

    ds = load_scenario("squeeze")
    res = Engine(Nap(), ds).run()
    gaps = pd.Series(Nap.woke).diff().dropna()
    assert (gaps == pd.Timedelta(hours=10)).all() and len(Nap.woke) > 3
    assert res.equity.iloc[-1] == res.initial_equity


def test_an_event_wakes_a_sleeper():
    class OrderThenSleep(Strategy):
        name = "order-then-sleep"
        seen: list = []

        def on_fill(self, ctx, ev):
            self.seen.append(("fill", ctx.bar))

        def on_bar(self, ctx, ev):
            self.seen.append(ev.bar)
            if ev.bar == 0:
                ctx.order("binance", "spot", 1.0)      # fills at bar 1's open, told at bar 1's close
            ctx.sleep()

    res = Engine(OrderThenSleep(), load_scenario("squeeze")).run()
    assert OrderThenSleep.seen == [0, ("fill", 1), 1]   # woken by the fill, then asleep to the end
    assert len(res.fills) == 1
