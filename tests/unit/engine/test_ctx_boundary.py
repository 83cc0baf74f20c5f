"""Every ctx call that moves money is carried out whole, refused whole (on_reject, counted in metrics.json
orders_rejected), or, for an outflow the book owes, paid and counted: nothing is clipped or dropped silently
(issue 26 item 5). Flat prices at 2,000, no slippage, capital 10,000 split as each test says; every expected number
is the capital arithmetic written beside it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from basisbt.data.dataset import Dataset
from basisbt.engine.config import RunConfig
from basisbt.strategies.base import Strategy
from tests.helpers import T0, bars, dataset
from tests.runs import run_backtest

CFG = RunConfig(slippage=0.0, initial_capital=10_000.0)
LEND = {"aave": pd.DataFrame({"ts": pd.DatetimeIndex([T0]).astype("datetime64[ns, UTC]"), "supply_apy": [0.0]})}


class Script(Strategy):
    """Runs `steps[bar](ctx)` at each bar's decision and keeps every RejectEvent it is told of."""
    name = "script"

    def __init__(self, steps, alloc=None) -> None:
        super().__init__()
        self.steps, self.alloc, self.rejects = steps, alloc or {"binance": 1.0}, []

    def initial_allocation(self, venues):
        return self.alloc

    def on_bar(self, ctx, ev):
        if ev.bar in self.steps:
            self.steps[ev.bar](ctx)

    def on_reject(self, ctx, ev):
        self.rejects.append(ev)

    def on_end(self, ctx, ev):
        self.cash = {v: ctx.cash(v) for v in ctx.venues}
        self.isolated = ctx.isolated_margin(ctx.venues[0])


def flat(n: int = 6, **kw) -> Dataset:
    return dataset(bars(np.full(n, 2000.0)), **kw)


def test_a_transfer_above_the_free_cash_is_refused_whole_and_told():
    # 5,000 on each venue. Ask to send 6,000 out of binance: an exchange refuses a withdrawal above the available
    # balance, so nothing leaves (before: 5,000 - fee was sent, a clip only the run log mentioned).
    s = Script({0: lambda ctx: ctx.move_collateral("binance", "bybit", 6_000.0)}, {"binance": 0.5, "bybit": 0.5})
    res = run_backtest(s, flat(venues=("binance", "bybit")), CFG)
    assert s.cash["binance"] == 5_000.0 and s.cash["bybit"] == 5_000.0
    assert "transfer_out" not in set(res.ledger["kind"])
    [ev] = s.rejects
    assert (ev.venue, ev.instrument, ev.asked, ev.filled, ev.status, ev.why, ev.reason) == \
        ("binance", "transfer", 6_000.0, 0.0, "refused", "not enough cash", "binance->bybit")
    assert res.orders_rejected == {"binance transfer refused: not enough cash": 1}
    assert res.metrics()["orders_rejected_total"] == 1


def test_a_transfer_within_the_free_cash_still_goes_whole():
    # 1,000 of 5,000 leaves binance with its withdrawal fee on top; bybit receives the 1,000
    s = Script({0: lambda ctx: ctx.move_collateral("binance", "bybit", 1_000.0)}, {"binance": 0.5, "bybit": 0.5})
    res = run_backtest(s, flat(venues=("binance", "bybit")), CFG)
    fee = -float(res.ledger.loc[res.ledger["kind"] == "withdrawal_fee", "amount"].sum())
    assert s.cash["binance"] == pytest.approx(4_000.0 - fee, abs=1e-9)
    assert s.cash["bybit"] == pytest.approx(6_000.0, abs=1e-9) and not s.rejects and not res.orders_rejected


def test_lending_above_the_free_cash_is_refused_like_a_transfer():
    s = Script({0: lambda ctx: ctx.lend("aave", 10_001.0, "binance")})
    res = run_backtest(s, flat(lending=LEND), CFG)
    assert s.cash["binance"] == 10_000.0 and res.timeline["aave:supply"].iloc[-1] == 0.0
    [ev] = s.rejects
    assert (ev.venue, ev.instrument, ev.why, ev.reason) == ("binance", "transfer", "not enough cash",
                                                            "binance->lending:aave")


def test_a_withdrawal_above_the_supplied_balance_is_refused_by_the_protocol():
    # 4,000 supplied at 0 % APY (bar 0); at bar 3 ask for 4,500 back: the protocol refuses it whole (before: 4,000
    # came back with no word at all). The supply stays 4,000 and the venue keeps its 6,000 less the lending fee.
    s = Script({0: lambda ctx: ctx.lend("aave", 4_000.0, "binance"),
                3: lambda ctx: ctx.withdraw("aave", 4_500.0, "binance")})
    res = run_backtest(s, flat(8, lending=LEND), CFG)
    assert res.timeline["aave:supply"].iloc[-1] == pytest.approx(4_000.0, abs=1e-9)
    [ev] = s.rejects
    assert (ev.venue, ev.instrument, ev.asked, ev.why) == ("lending:aave", "transfer", 4_500.0, "more than the balance")
    assert res.orders_rejected == {"lending:aave transfer refused: more than the balance": 1}


def coll_data(n: int = 6) -> Dataset:
    px = bars(np.full(n, 2000.0))
    return Dataset("conv", "ETH/USDT", "1h", {"binance": px}, {"binance": px}, {}, {}, {}, None,
                   collateral={"binance": bars(np.ones(n))}, collateral_asset="USDe")


def test_a_collateral_buy_above_the_cash_and_a_sale_above_the_units_are_refused():
    # 10,000 of cash buys at most 10,000 / 1.001 = 9,990.01 of USDe (0.1 % spot taker fee): 10,000 is refused whole
    # (before: clipped to 9,990.01). Then 2,000 is bought (2,000 units, 2.00 fee) and a sale of 3,000 worth is
    # refused: 2,000 units at 1.00 are all there is.
    s = Script({0: lambda ctx: ctx.buy_collateral("binance", 10_000.0),
                2: lambda ctx: ctx.buy_collateral("binance", 2_000.0),
                4: lambda ctx: ctx.buy_collateral("binance", -3_000.0)})
    res = run_backtest(s, coll_data(), CFG)
    assert [(e.instrument, e.asked, e.why) for e in s.rejects] == [
        ("collateral", 10_000.0, "not enough cash"), ("collateral", -3_000.0, "more than the balance")]
    assert s.cash["binance"] == pytest.approx(10_000.0 - 2_000.0 - 2.0, abs=1e-9)
    assert res.ledger.loc[res.ledger["kind"] == "collateral_trade", "amount"].tolist() == [-2_000.0]


def test_an_isolated_margin_move_beyond_what_is_there_is_refused():
    # isolated binance: 3,000 into the isolated margin, then 4,000 out of it (only 3,000 there) and 8,000 in (7,000
    # of free cash): both refused whole (before: clipped to 3,000 and 7,000 without a word)
    def setup(ctx):
        ctx.configure("binance", isolated=True)

    def both(ctx):
        ctx.add_isolated_margin("binance", -4_000.0)
        ctx.add_isolated_margin("binance", 8_000.0)
    s = Script({0: setup, 1: lambda ctx: ctx.add_isolated_margin("binance", 3_000.0), 3: both})
    run_backtest(s, flat(), CFG)
    assert s.cash["binance"] == 7_000.0 and s.isolated == 3_000.0
    assert [(e.instrument, e.asked, e.why) for e in s.rejects] == [
        ("margin", -4_000.0, "more than the balance"), ("margin", 8_000.0, "not enough cash")]


def test_an_outflow_beyond_the_cash_is_paid_whole_and_counted_on_credit():
    # buy 2 ETH (4,000; binance spot taker fee on top) at bar 0, leaving 10,000 - 4,000 - fee; at bar 2 a
    # redemption of 7,000 is paid whole: equity falls by exactly 7,000 (not PnL), the cash goes below zero by
    # 7,000 - (6,000 - fee) = 1,000 + fee, and that shortfall is counted, not dropped
    s = Script({0: lambda ctx: ctx.order("binance", "spot", 2.0),
                2: lambda ctx: ctx.external_flow("binance", -7_000.0, "redeem")})
    res = run_backtest(s, flat(), CFG)
    fee = -float(res.ledger.loc[res.ledger["kind"] == "fee", "amount"].sum())
    assert s.cash["binance"] == pytest.approx(6_000.0 - fee - 7_000.0, abs=1e-9)
    credit = res.data_quality["outflows_on_credit"]
    assert credit == {"binance": {"count": 1, "amount": pytest.approx(1_000.0 + fee, abs=1e-9)}}
    assert res.data_quality["outflows_on_credit_total"] == 1
    m = res.metrics()
    assert m["pnl"]["total"] == pytest.approx(-fee, abs=1e-9)
    assert any("paid on credit" in line for line in res.log)


def test_an_outflow_the_cash_covers_is_not_counted():
    s = Script({2: lambda ctx: ctx.external_flow("binance", -10_000.0, "redeem")})
    res = run_backtest(s, flat(), CFG)
    assert s.cash["binance"] == 0.0 and res.data_quality["outflows_on_credit"] == {}


def test_the_summary_and_the_report_say_what_was_refused_and_on_credit():
    from basisbt.cli.app import _refusals_line
    from basisbt.reports.quality import refusals_summary
    q = {"outflows_on_credit": {"binance": {"count": 2, "amount": 12.5}}}
    assert _refusals_line({"orders_rejected_total": 0, "data_quality": {}}) == "none"
    line = _refusals_line({"orders_rejected_total": 3, "data_quality": q})
    assert line.startswith("3 ") and "2 outflows paid on credit (12.50" in line
    text = refusals_summary({"binance transfer refused: not enough cash": 3}, q)
    assert "binance transfer refused: not enough cash: 3" in text and "binance: 2 (12.50)" in text
    assert refusals_summary({}, {}) == "The venues refused nothing the strategy asked for."


def test_all_of_it_as_read_is_taken_not_refused_for_a_rounding():
    # A strategy lending "all its cash" computed in floats may ask a few 1e-12 more than the account holds:
    # that is the whole balance, not a refusal (10,000 - fee + 1e-9 asked: 10,000 - fee lent, the fee paid, 0
    # left, nothing refused). 1 quote unit more is a real excess and is refused.
    import basisbt as bb
    fee = bb.venue("binance").at(T0).withdrawal_fee
    s = Script({0: lambda ctx: ctx.lend("aave", ctx.cash("binance") - fee + 1e-9, "binance")})
    res = run_backtest(s, flat(lending=LEND), CFG)
    assert not s.rejects and s.cash["binance"] == 0.0
    assert res.timeline["aave:supply"].iloc[-1] == pytest.approx(10_000.0 - fee, abs=1e-9)
    s = Script({0: lambda ctx: ctx.lend("aave", ctx.cash("binance") - fee + 1.0, "binance")})
    run_backtest(s, flat(lending=LEND), CFG)
    assert [ev.why for ev in s.rejects] == ["not enough cash"]
