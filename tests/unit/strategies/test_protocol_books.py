"""The synthetic dollar's bookkeeping pieces on their own, against numbers worked by hand: the payout cadence and
its vesting, the basis a close realizes, the revenue split, the vault, the regime rule and the yield accrual."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basisbt.strategies.payout import HOUR_NS, MONDAY_NS, Cadence, PayoutSchedule
from basisbt.strategies.presets import ETHENA, apply_preset
from basisbt.strategies.realized_basis import BasisBook
from basisbt.strategies.regime import RegimeRule, weighted_funding
from basisbt.strategies.revenue import YEAR_NS, RevenueBook, accrual
from basisbt.strategies.staking import Vault, split_revenue

WEEK = 168 * HOUR_NS
ETHENA_CADENCE = Cadence()                      # weekly, 8h transfers vesting over 8h


def test_periods_are_iso_weeks_and_a_bar_closing_at_monday_belongs_to_the_week_it_ends() -> None:
    mon = MONDAY_NS + 2900 * WEEK               # some Monday 00:00 UTC
    k = ETHENA_CADENCE.period_of(mon)
    assert ETHENA_CADENCE.start(k + 1) == mon   # the bar closing at Monday 00:00 is last week's
    assert ETHENA_CADENCE.period_of(mon + 1) == k + 1
    import pandas as pd
    assert pd.Timestamp(mon, tz="UTC").weekday() == 0 and pd.Timestamp(mon, tz="UTC").hour == 0


def test_eight_hour_transfers_vesting_over_eight_hours_pay_linearly_through_the_next_week() -> None:
    c = ETHENA_CADENCE
    t0 = c.start(1)                             # period 0's payout runs through period 1
    assert c.transfers == 21
    for hours in (0, 1, 5.5, 8, 8.25, 100, 167.9, 168):
        assert c.vested(0, t0 + int(hours * HOUR_NS)) == pytest.approx(hours / 168.0, abs=1e-15), hours
    assert c.vested(0, t0 - 1) == 0.0 and c.vested(0, t0 + 400 * HOUR_NS) == 1.0


def test_steps_vesting_faster_than_they_come_pay_in_ramps() -> None:
    c = Cadence.hours(24.0, 8.0, 2.0)           # daily periods, 3 transfers 8h apart, each vesting over 2h
    t0 = c.start(1)
    # at 1h: half of the first third; at 5h: the first third; at 9h: a third and half of the second
    for hours, want in ((1, 1 / 6), (5, 1 / 3), (9, 1 / 2), (17, 5 / 6), (18, 1.0)):
        assert c.vested(0, t0 + hours * HOUR_NS) == pytest.approx(want), hours
    at_once = Cadence.hours(24.0, 24.0, 0.0)    # one transfer, no vesting: all of it at the period start
    assert at_once.vested(0, at_once.start(1) - 1) == 0.0 and at_once.vested(0, at_once.start(1)) == 1.0


@settings(max_examples=60, deadline=None)
@given(amounts=st.lists(st.floats(0.0, 1e7), min_size=1, max_size=4),
       steps=st.lists(st.integers(1, 40 * 3600), min_size=1, max_size=200))
def test_a_schedule_pays_each_amount_exactly_once_and_never_backwards(amounts, steps) -> None:
    sched = PayoutSchedule(ETHENA_CADENCE)
    for k, a in enumerate(amounts):
        sched.set(k, a)
    t, paid = ETHENA_CADENCE.start(0), 0.0
    for s in steps:
        t += s * 10**9
        new = sched.vest(t)
        assert new >= 0.0
        paid += new
        assert paid + sched.pending == pytest.approx(sum(amounts), rel=1e-12, abs=1e-6)
    paid += sched.vest(ETHENA_CADENCE.start(len(amounts) + 2))
    assert paid == pytest.approx(sum(amounts), rel=1e-12, abs=1e-6) and sched.pending == 0.0
    with pytest.raises(ValueError):
        sched.set(9, -1.0)


def test_basis_realized_on_closes_only() -> None:
    b = BasisBook()
    # short 10 at spread +2 (perp 2002, spot 2000), 10 more at spread -4 -> 20 units at average spread -1
    assert b.trade("binance", -10.0, 2002.0, 2000.0) == 0.0
    assert b.trade("binance", -10.0, 1996.0, 2000.0) == 0.0
    assert b.spread["binance"] == pytest.approx(-1.0)
    assert b.unrealized("binance", 2050.0, 2100.0) == pytest.approx(20 * (-1.0 - (-50.0)))   # marks only
    # buy back 5 at the seed's 5.8 % discount: spread -116 -> 5 x (-1 - (-116)) = +575
    assert b.trade("binance", 5.0, 1884.0, 2000.0) == pytest.approx(575.0)
    assert b.units["binance"] == pytest.approx(-15.0) and b.spread["binance"] == pytest.approx(-1.0)
    # bought back 25 (through zero): 15 close at spread +10 -> 15 x (-1 - 10) = -165; 10 open long at +10
    assert b.trade("binance", 25.0, 2010.0, 2000.0) == pytest.approx(-165.0)
    assert b.units["binance"] == pytest.approx(10.0) and b.spread["binance"] == pytest.approx(10.0)
    assert b.close_all("binance", 2030.0, 2000.0) == pytest.approx(10 * (30.0 - 10.0))
    assert b.units["binance"] == 0.0


def test_a_round_trip_realizes_the_hedges_whole_profit() -> None:
    # spot bought at S0 and sold at S1 against a short opened at P0 and bought back at P1:
    # (S1 - S0) + (P0 - P1) per unit, whatever the price did in between
    s0, p0, s1, p1, q = 2000.0, 2004.0, 2600.0, 2590.0, 3.0
    b = BasisBook()
    b.trade("x", -q, p0, s0)
    assert b.trade("x", q, p1, s1) == pytest.approx(q * ((s1 - s0) + (p0 - p1)))


def test_revenue_split() -> None:
    kw = dict(staked=30.0, supply=100.0, reserve=1.0)
    assert split_revenue(-5.0, rule="share", reserve_share=0.2, **kw) == (0.0, -5.0)
    assert split_revenue(10.0, rule="share", reserve_share=0.2, **kw) == pytest.approx((8.0, 2.0))
    assert split_revenue(10.0, rule="unstaked", reserve_share=0.2, **kw) == pytest.approx((3.0, 7.0))
    # a cap of 1.5 % of supply: the reserve (1.0) takes 0.5 and no more
    assert split_revenue(10.0, rule="share", reserve_share=0.2, reserve_cap=0.015, **kw) == pytest.approx((9.5, 0.5))
    with pytest.raises(ValueError, match="reserve rule"):
        split_revenue(1.0, rule="half", reserve_share=0.2, **kw)


def test_the_vault_price_moves_only_with_rewards() -> None:
    v = Vault.open(300.0)
    v.reward(30.0)
    assert v.price == pytest.approx(1.1) and v.assets == pytest.approx(330.0)
    p = v.price
    v.deposit(123.456)
    assert v.price == p and v.assets == pytest.approx(453.456)
    v.deposit(-1e9)                             # all out: no shares, the price kept for the next stake
    assert v.shares == 0.0 and v.price == p
    with pytest.raises(ValueError):
        v.reward(-1.0)


def test_regime_rule() -> None:
    r = RegimeRule(low=0.30, high=0.85, spread_low=0.0, spread_high=0.05)
    assert r.perp_share(0.03, 0.045) == 0.30                       # funding below the stables: low
    assert r.perp_share(0.12, 0.045) == 0.85                       # 7.5 points above: high
    assert r.perp_share(0.07, 0.045) == pytest.approx(0.30 + 0.55 * 0.5)
    assert r.perp_share(math.nan, 0.045) == 0.85                   # nothing known yet: the opening share
    assert RegimeRule(0.3, 0.85, 0.02, 0.02).perp_share(0.065, 0.045) == 0.85   # a step at the spread
    assert weighted_funding({"a": 0.1, "b": math.nan, "c": 0.4}, {"a": 3.0, "b": 1.0, "c": 1.0}) == \
        pytest.approx((0.3 + 0.4) / 4.0)
    assert math.isnan(weighted_funding({"a": math.nan}, {"a": 1.0}))


def test_accrual_compounds_like_the_engines_lending() -> None:
    assert accrual(1000.0, 0.05, YEAR_NS) == pytest.approx(50.0)
    assert accrual(1000.0, 0.05, YEAR_NS // 2) == pytest.approx(1000.0 * (1.05 ** 0.5 - 1.0))
    assert accrual(-5.0, 0.05, YEAR_NS) == 0.0 and accrual(1000.0, 0.0, YEAR_NS) == 0.0
    book = RevenueBook()
    book.book(3, "funding", 2.0)
    book.book_engine(3, {"funding": 1.0, "lending": 0.5, "fees": -0.25, "slippage": 0.0, "liquidation": 0.0,
                         "basis": 99.0, "price": 99.0})          # marks are not revenue
    assert book.close(3) == {**dict.fromkeys(book.total, 0.0), "funding": 3.0, "lending": 0.5, "fees": -0.25}
    assert book.close(4) == dict.fromkeys(book.total, 0.0)
    with pytest.raises(KeyError):
        book.book(3, "price", 1.0)


def test_the_preset_fills_only_what_the_user_did_not_set() -> None:
    p = apply_preset("ethena", {"stables_apy": 0.03})
    assert p["stables_apy"] == 0.03 and p["reserve_rule"] == "unstaked" and p["payout_step_h"] == 8.0
    assert apply_preset("none", {"x": 1}) == {"x": 1}
    assert set(ETHENA) <= {f for f in __import__("basisbt.strategies.synthetic_dollar", fromlist=["x"])
                           .SyntheticDollar.Params.__dataclass_fields__}
