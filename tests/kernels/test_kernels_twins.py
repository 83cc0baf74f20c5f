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


@given(qty_s, px_s, rate_s)
def test_funding_payment(q, px, r):
    assert close(funding.funding_payment(q, px * r), ref.funding_payment(q, px, r))


def test_funding_sign_short_earns_positive_rate():
    # short 2 ETH at mark 3000, rate +0.01 %: receives 2 * 3000 * 0.0001 = 0.60
    assert funding.funding_payment(-2.0, 3000.0 * 0.0001) == pytest.approx(0.60, abs=1e-12)
    assert funding.funding_payment(-2.0, 3000.0 * -0.0001) == pytest.approx(-0.60, abs=1e-12)


@given(st.floats(0, 1e9, **finite), st.floats(-0.5, 2.0, **finite), st.floats(0, 2, **finite))
def test_lending_interest(b, apy, dt):
    assert close(lending.lending_interest(b, apy, dt), ref.lending_interest(b, apy, dt), rel=1e-9, abs_=1e-6)


@given(st.floats(0, 5e6, **finite))
def test_maintenance_margin(notional):
    assert close(margin.maintenance_margin(notional, FLOOR, RATE, AMOUNT),
                 ref.maintenance_margin(notional, FLOOR, RATE, AMOUNT), abs_=1e-7)


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
