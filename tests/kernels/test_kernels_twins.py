"""Every small kernel against its plain-Python twin in tests/reference, on hypothesis inputs."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basisbt.engine.kernels import fills, funding, lending, margin
from basisbt.engine.kernels.book import update_position
from tests.reference import kernels as ref

finite = dict(allow_nan=False, allow_infinity=False)
qty_s = st.floats(-1e4, 1e4, **finite).filter(lambda x: abs(x) > 1e-6)
px_s = st.floats(10.0, 1e5, **finite)
rate_s = st.floats(-0.03, 0.03, **finite)

# Binance ETHUSDT (Oct 2024, docs/architecture.md §10) first three tiers, amount = running sum of rate steps x floor
FLOOR = np.array([0.0, 50_000.0, 600_000.0, 3_000_000.0, np.inf])
RATE = np.array([0.004, 0.005, 0.0065, 0.01, 0.01])
AMOUNT = np.array([0.0, 50.0, 950.0, 11_450.0, 11_450.0])


def close(a, b, rel=1e-9, abs_=1e-9):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


@given(qty_s, st.lists(st.tuples(px_s, rate_s), min_size=1, max_size=3))
def test_funding_payment(q, settlements):
    """The kernel gets one bar's sum of rate x mark (engine/market.py builds it); the twin settles one by one."""
    marks, rates = [m for m, _ in settlements], [r for _, r in settlements]
    value = math.fsum(m * r for m, r in settlements)
    gross = math.fsum(abs(q) * m * abs(r) for m, r in settlements)
    assert close(funding.funding_payment(q, value), ref.funding_payment(q, marks, rates), rel=1e-9,
                 abs_=1e-9 * max(gross, 1.0))


def test_funding_sign_short_earns_positive_rate():
    # short 2 ETH at mark 3000, rate +0.01 %: receives 2 * 3000 * 0.0001 = 0.60; rate -0.01 %: pays 0.60
    assert funding.funding_payment(-2.0, 3000.0 * 0.0001) == pytest.approx(0.60, abs=1e-12)
    assert funding.funding_payment(-2.0, 3000.0 * -0.0001) == pytest.approx(-0.60, abs=1e-12)
    assert ref.funding_payment(-2.0, [3000.0], [0.0001]) == pytest.approx(0.60, abs=1e-12)
    assert ref.funding_payment(2.0, [3000.0], [0.0001]) == pytest.approx(-0.60, abs=1e-12)   # a long pays
    # two settlements in one bar at their own marks: +0.01 % at 3000 and -0.02 % at 2900 on a 2 ETH short
    # -> +0.60 - 1.16 = -0.56
    assert funding.funding_payment(-2.0, 3000.0 * 0.0001 + 2900.0 * -0.0002) == pytest.approx(-0.56, abs=1e-12)
    assert ref.funding_payment(-2.0, [3000.0, 2900.0], [0.0001, -0.0002]) == pytest.approx(-0.56, abs=1e-12)


@given(st.floats(0, 1e9, **finite), st.floats(-0.5, 2.0, **finite), st.floats(0, 2, **finite))
def test_lending_interest(b, apy, dt):
    assert close(lending.lending_interest(b, apy, dt), ref.lending_interest(b, apy, dt), rel=1e-9, abs_=1e-6)


@pytest.mark.parametrize("lend", [lending.lending_interest, ref.lending_interest])
def test_lending_interest_hand_cases(lend):
    # a year at 5 %: 5 % exactly; half a year at 21 %: 10 % (1.21^0.5 = 1.1); two years at 10 %: 21 %
    assert lend(1_000_000.0, 0.05, 1.0) == pytest.approx(50_000.0, abs=1e-6)
    assert lend(1_000_000.0, 0.21, 0.5) == pytest.approx(100_000.0, abs=1e-6)
    assert lend(1_000_000.0, 0.10, 2.0) == pytest.approx(210_000.0, abs=1e-6)
    assert lend(1_000_000.0, -0.19, 0.5) == pytest.approx(-100_000.0, abs=1e-6)   # a negative yield: 0.81^0.5
    assert lend(0.0, 0.5, 1.0) == 0.0


@given(st.floats(1.0, 1e9, **finite), st.floats(0.0, 1.0, **finite), st.integers(1, 500))
def test_lending_compounds_bar_by_bar_to_the_yearly_rate(b, apy, n):
    """n bars of 1h accrued one at a time (as the kernel runs) give the closed form (1 + apy)^(n/8760) - 1."""
    bal = b
    for _ in range(n):
        bal += lending.lending_interest(bal, apy, 1.0 / 8760.0)
    expect = b * math.expm1(n / 8760.0 * math.log1p(apy))
    assert abs((bal - b) - expect) <= 1e-9 * max(b, 1.0)


@given(st.floats(0, 5e6, **finite))
def test_maintenance_margin(notional):
    assert close(margin.maintenance_margin(notional, FLOOR, RATE, AMOUNT),
                 ref.maintenance_margin(notional, FLOOR, RATE, AMOUNT), abs_=1e-7)


def test_a_size_on_a_floor_is_in_the_tier_that_starts_there():
    """docs/venues.md: tier k covers [floor[k], floor[k+1]). On a running-sum table the maintenance is the same
    from both sides of a floor (50k x 0.4 % = 50k x 0.5 % - 50 = 200), so only a whole-position table (and the
    tier's max leverage) shows which tier holds a size exactly on the floor: 50k x 0.5 % = 250, not 200.
    (Binance documents its brackets as (floor, cap]: the two conventions differ only exactly on a floor.)"""
    whole = np.zeros(5)
    for mm in (margin.maintenance_margin, ref.maintenance_margin):
        assert mm(50_000.0, FLOOR, RATE, AMOUNT) == pytest.approx(200.0, abs=1e-9)
        assert mm(50_000.0, FLOOR, RATE, whole) == pytest.approx(250.0, abs=1e-9)
        assert mm(49_999.99, FLOOR, RATE, whole) == pytest.approx(49_999.99 * 0.004, abs=1e-9)
    assert margin.tier_index(600_000.0, FLOOR.reshape(1, -1), 0) == ref.tier_index(600_000.0, FLOOR) == 2


@given(st.floats(0, 5e6, **finite), qty_s, px_s, st.floats(0, 100, **finite), st.floats(0, 0.2, **finite), px_s)
def test_margin_balance(wallet, q, entry, coll, h, m):
    assert close(margin.margin_balance(wallet, q, entry, coll, h, m),
                 ref.margin_balance(wallet, q, entry, coll, h, m), abs_=1e-6)


@settings(max_examples=300, deadline=None)
@given(q=st.floats(-500, 500, **finite).filter(lambda x: abs(x) > 1e-3), entry=st.floats(500, 5000, **finite),
       lev=st.floats(1.5, 50, **finite), coll_share=st.floats(0, 1.2, **finite), h=st.floats(0, 0.1, **finite))
def test_liquidation_price_vs_bisection(q, entry, lev, coll_share, h):
    wallet = abs(q) * entry / lev
    coll = abs(q) * coll_share if q < 0 else 0.0
    k = margin.liquidation_price(wallet, q, entry, coll, h, FLOOR, RATE, AMOUNT, entry)
    r = ref.liquidation_price(wallet, q, entry, coll, h, FLOOR, RATE, AMOUNT, entry)
    assert close(k, r, rel=1e-7, abs_=1e-6), (k, r)
    if not math.isnan(k):   # at the price found, margin balance equals maintenance margin
        bal = ref.margin_balance(wallet, q, entry, coll, h, k)
        mm = ref.maintenance_margin(q * k, FLOOR, RATE, AMOUNT)
        assert abs(bal - mm) <= 1e-6 * max(1.0, abs(mm))


def test_liquidation_price_parallel_tier_has_no_root():
    # Short 9 at 500 with 9.09 ETH posted (h = 0), wallet 2,250: balance 6,750 + 0.09 M; at the top tier the level
    # is 0.01 x 9 M - 11,450 = 0.09 M - 11,450, parallel to it (gap 18,200 at every price above 333,333): no
    # liquidation. The closed form must not divide the last bits of 0.09 - 0.09 into a "root" near 1e20
    # (hypothesis found it in a fresh clone); the bisection twin agrees.
    q, entry, coll = -9.0, 500.0, 9.0 * 1.01
    k = margin.liquidation_price(9.0 * entry / 2.0, q, entry, coll, 0.0, FLOOR, RATE, AMOUNT, entry)
    r = ref.liquidation_price(9.0 * entry / 2.0, q, entry, coll, 0.0, FLOOR, RATE, AMOUNT, entry)
    assert math.isnan(k) and math.isnan(r)


# an OKX-like table: floors in base units, whole-position rates (no running-sum amounts)
FLOOR_BASE = np.array([0.0, 20.0, 60.0, 160.0, np.inf])
RATE_BASE = np.array([0.004, 0.0065, 0.01, 0.015, 0.015])


@settings(max_examples=300, deadline=None)
@given(q=st.floats(-500, 500, **finite).filter(lambda x: abs(x) > 1e-3), entry=st.floats(500, 5000, **finite),
       lev=st.floats(1.5, 50, **finite), coll_share=st.floats(0, 1.2, **finite), h=st.floats(0, 0.1, **finite),
       trigger=st.sampled_from([0.0, 0.0005]), close_fee=st.sampled_from([0.0, 0.00055]),
       table=st.sampled_from(["deduction", "whole_notional", "whole_base"]))
def test_liquidation_price_vs_bisection_venue_models(q, entry, lev, coll_share, h, trigger, close_fee, table):
    # the venue liquidation models (OKX trigger fee and base/whole-position tiers, Bybit's fee to close)
    floor, rate, amount = {"deduction": (FLOOR, RATE, AMOUNT), "whole_notional": (FLOOR, RATE, np.zeros(5)),
                           "whole_base": (FLOOR_BASE, RATE_BASE, np.zeros(5))}[table]
    base = table == "whole_base"
    wallet = abs(q) * entry / lev
    coll = abs(q) * coll_share if q < 0 else 0.0
    model = dict(trigger=trigger, close_fee=close_fee, base=base)
    k = margin.liquidation_price(wallet, q, entry, coll, h, floor, rate, amount, entry, trigger, close_fee, base)
    r = ref.liquidation_price(wallet, q, entry, coll, h, floor, rate, amount, entry, **model)
    assert close(k, r, rel=1e-7, abs_=1e-6), (k, r)
    if not math.isnan(k):   # the breach flips at the price found
        above = ref.is_breached(wallet, q, entry, coll, h, floor, rate, amount, k * (1 + 1e-9), **model)
        below = ref.is_breached(wallet, q, entry, coll, h, floor, rate, amount, k * (1 - 1e-9), **model)
        assert above != below


@given(st.floats(-100, 100, **finite), px_s, st.floats(-100, 100, **finite).filter(lambda x: x != 0), px_s)
def test_update_position(q, e, dq, px):
    e = e if q != 0 else 0.0
    k = update_position(q, e, dq, px)
    r = ref.update_position(q, e, dq, px)
    assert close(k[0], r[0], abs_=1e-9)
    assert close(k[2], r[2], rel=1e-9, abs_=1e-6)
    if abs(r[0]) > 1e-9:
        assert close(k[1], r[1], rel=1e-9, abs_=1e-6)


@given(qty_s, st.floats(0, 1e6, **finite), st.floats(0, 0.01, **finite), st.floats(0, 0.1, **finite))
def test_slippage_fraction(q, vol, fixed, impact):
    assert close(fills.slippage_fraction(q, vol, fixed, impact), ref.slippage_fraction(q, vol, fixed, impact))


@pytest.mark.parametrize("slip", [fills.slippage_fraction, ref.slippage_fraction])
def test_slippage_square_root_impact_hand_cases(slip):
    # 1 bp fixed + 1 % x sqrt(participation): 25 of 10,000 -> sqrt(0.0025) = 0.05 -> 0.0001 + 0.0005 = 6 bp
    assert slip(25.0, 10_000.0, 0.0001, 0.01) == pytest.approx(0.0006, abs=1e-15)
    assert slip(-25.0, 10_000.0, 0.0001, 0.01) == pytest.approx(0.0006, abs=1e-15)    # a sell moves it as much
    # four times the size moves it twice as much (square root, not linear): 100 of 10,000 -> 0.1 -> 11 bp
    assert slip(100.0, 10_000.0, 0.0001, 0.01) == pytest.approx(0.0011, abs=1e-15)
    # more than the bar's volume, or a bar without volume: the whole bar (participation 1) -> 101 bp
    assert slip(30_000.0, 10_000.0, 0.0001, 0.01) == pytest.approx(0.0101, abs=1e-15)
    assert slip(5.0, 0.0, 0.0001, 0.01) == pytest.approx(0.0101, abs=1e-15)
    assert slip(1e6, 10.0, 0.0002, 0.0) == 0.0002                                        # no impact: fixed only
