"""Venue liquidation models as spec choices (issue 15 item 2): a hand case per venue, in kernel and twin.

OKX: whole-position MMR, tiers in contracts (base units), trigger at maintenance + taker fee, full
liquidation at the bankruptcy price, partial only from tier 3 two tiers at a time. Bybit: maintenance
includes the taker fee to close at the bankruptcy price, a partial step pays the taker fee, the rest
goes at the bankruptcy price. Binance is unchanged (its own tests and goldens).
"""
import math

import numpy as np
import pytest

from basisbt.data.venues import load_venue
from basisbt.engine.config import RunConfig
from basisbt.engine.kernels.advance import advance
from basisbt.engine.kernels.arrays import Ledger, Records, State, VenueTables
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_ENTRY,
    A_FUND,
    A_ISO,
    A_QTY,
    C_BANKRUPTCY,
    C_CLOSE_FEE,
    C_ISOLATED,
    C_LIQ_FEE,
    C_PARTIAL,
    C_PARTIAL_FROM,
    C_PARTIAL_TIERS,
    C_TAKER,
    C_TIER_BASE,
    C_TRIGGER_FEE,
    LIQ_KINDS,
    N_ACCT,
    N_CFG,
    N_LIQ,
    N_PNL,
    N_REC,
    Q_FEE,
    Q_INSURANCE,
    Q_KIND,
    Q_PRICE,
    Q_QTY,
    Q_SOCIAL,
    Q_VENUE,
    R_LIQ_PX,
)
from basisbt.engine.kernels.margin import liquidation_price
from basisbt.strategies.base import Strategy
from tests.helpers import bars, dataset, kernel_market
from tests.reference import kernels as ref
from tests.reference.advance import advance as ref_advance
from tests.runs import run_backtest

OKX_TAKER = 0.0005
BYBIT_TAKER = 0.00055


# -- 1. the recorded OKX position ----------------------------------------------------------------------------------

def okx_recorded_lp():
    # ETH-USDT-SWAP isolated long, 1 contract = 0.1 ETH, avgPx 3011, margin 30.11, tier 1 MMR 0.4 %, taker 0.05 %:
    # 30.11 + 0.1 (M - 3011) = 0.1 M (0.004 + 0.0005)  ->  M = (30.11 - 301.1) / (0.1 * 0.0045 - 0.1)
    #   = -270.99 / -0.09955 = 2722.1497...  (OKX showed 2722.16: its display is a cent above the root)
    return (30.11 - 301.1) / (0.1 * (0.004 + 0.0005) - 0.1)


def test_okx_recorded_position_liquidation_price_kernel_and_twin():
    spec = load_venue("okx", at="2025-11-29")
    t = spec.tier_table("ETH")
    assert spec.tier_unit == "base" and spec.maintenance == "whole_position" and spec.trigger_fee == "taker"
    assert spec.trigger_rate == spec.taker_fee == OKX_TAKER
    assert t.floor[1] == 500 and t.rate[0] == 0.004 and not t.amount.any()   # tier 1: 5,000 contracts x 0.1 ETH
    lp = liquidation_price(30.11, 0.1, 3011.0, 0.0, 0.0, t.floor, t.rate, t.amount, 3011.0, spec.trigger_rate, 0.0,
                           True)
    assert lp == pytest.approx(okx_recorded_lp(), rel=1e-12)
    assert lp == pytest.approx(2722.1497, abs=1e-4)
    assert abs(lp - 2722.16) < 0.011                   # the recorded liqPx, to the cent (OKX rounds up a cent)
    twin = ref.liquidation_price(30.11, 0.1, 3011.0, 0.0, 0.0, t.floor, t.rate, t.amount, 3011.0,
                                 trigger=spec.trigger_rate, base=True)
    assert twin == pytest.approx(lp, rel=1e-9)


class OkxIsolatedLong(Strategy):
    name = "okx-iso-long"

    def initial_allocation(self, venues):
        return {"okx": 1.0}

    def on_start(self, ctx, ev):
        ctx.configure("okx", isolated=True)

    def on_bar(self, ctx, ev):
        if ev.bar == 0:     # the recorded margin; the opening fee is paid from the cash wallet (issue 23 item 7)
            ctx.add_isolated_margin("okx", 30.11)
            ctx.order("okx", "perp", 0.1)


def okx_dip_data():
    """OKX alone, flat at 3,011 (the record's avgPx), the mark dipping to 2,700 in bar 6."""
    close = np.full(10, 3011.0)
    low = close.copy()
    low[6] = 2700.0
    return dataset(bars(close, low=low), venues=("okx",))


def test_okx_recorded_position_full_run_liquidated_at_bankruptcy():
    # the mark dips to 2700 in bar 6: the long goes at its liquidation price 2722.1497, and at OKX's bankruptcy
    # price: the isolated margin left at that price, 30.11 + 0.1 * (2722.1497 - 3011) = 1.2250 (= the level
    # 0.1 * 2722.1497 * 0.45 %), is lost; no clearance fee on top, nothing for the insurance fund.
    ds = okx_dip_data()
    # the opening fee (0.1 x 3011 x 0.05 % = 0.15055) is paid from the cash wallet: the isolated margin stays 30.11
    cfg = RunConfig(slippage=0.0, initial_capital=100.0)
    res = run_backtest(OkxIsolatedLong(), ds, cfg)
    lp = okx_recorded_lp()
    # the REPORTED price is OKX's (one tick above the root for a long); the venue liquidates at the root
    assert res.timeline["okx:liq_px"].iloc[3] == pytest.approx(2722.16, abs=1e-9)
    assert len(res.liquidations) == 1
    liq = res.liquidations.iloc[0]
    assert liq.price == pytest.approx(lp, rel=1e-12)
    lost = 30.11 + 0.1 * (lp - 3011.0)
    assert lost == pytest.approx(0.1 * lp * 0.0045, rel=1e-9)
    assert liq.fee == pytest.approx(lost, rel=1e-9)
    assert liq.insurance_loss == pytest.approx(0.0, abs=1e-12)
    # the whole margin gone, and the opening fee
    assert res.timeline["equity"].iloc[-1] == pytest.approx(100.0 - 30.11 - 0.1 * 3011.0 * OKX_TAKER, rel=1e-12)
    led = res.ledger
    assert led.loc[led.kind == "liquidation_fee", "amount"].sum() == pytest.approx(-lost, rel=1e-9)


def test_okx_recorded_position_to_the_cent_with_its_opening_fee():
    # issue 23 item 7: OKX books the opening fee in realized PnL and keeps the position's margin at 30.11. With the
    # spec's own taker fee (0.05 %: 0.1 x 3011 x 0.0005 = 0.15055) the isolated margin stays 30.11, the fee comes
    # out of the cash wallet (100 - 30.11 - 0.15055 = 69.73945), and the reported liquidation price is OKX's
    # 2722.16: the root (30.11 - 301.1) / (0.1 x 0.0045 - 0.1) = 2722.1497 one 0.01 tick up (the record's value).
    # Deducting the fee from the margin (the old rule) gave (29.95945 - 301.1) / -0.09955 = 2723.66.
    ds = okx_dip_data()

    class Watch(OkxIsolatedLong):
        def on_bar(self, ctx, ev):
            super().on_bar(ctx, ev)
            if ev.bar == 3:
                m = ctx.margin("okx")
                ctx.record("iso", ctx.isolated_margin("okx"))
                ctx.record("cash", ctx.cash("okx"))
                ctx.record("liq", m.liq_px)

    res = run_backtest(Watch(), ds, RunConfig(slippage=0.0, initial_capital=100.0))
    seen = {k: float(v.iloc[0]) for k, v in res.extras.items()}
    assert seen["iso"] == 30.11                                          # the recorded `margin`, untouched
    assert seen["cash"] == pytest.approx(100.0 - 30.11 - 0.15055, abs=1e-12)
    assert seen["liq"] == pytest.approx(2722.16, abs=1e-9)               # the recorded liqPx, to the cent
    assert res.timeline["okx:liq_px"].iloc[3] == pytest.approx(2722.16, abs=1e-9)
    fee = res.fills.iloc[0]
    assert fee["fee"] == pytest.approx(0.15055, abs=1e-12) and fee["price"] == 3011.0
    # the venue liquidates at the root, not at the reported price: the mark low 2700 crosses 2722.1497
    assert res.liquidations.iloc[0].price == pytest.approx(okx_recorded_lp(), rel=1e-12)
    assert res.timeline["equity"].iloc[-1] == pytest.approx(100.0 - 30.11 - 0.15055, abs=1e-9)


def test_reported_liquidation_price_rounding_is_okx_only_and_mirrored_for_a_short():
    from basisbt.engine.kernels.margin import reported_liq_price
    assert reported_liq_price(2722.1497, 0.1, 0.01) == pytest.approx(2722.16, abs=1e-12)   # the record
    assert reported_liq_price(2722.15, 0.1, 0.01) == pytest.approx(2722.16, abs=1e-12)     # on the grid: + 1 tick
    assert reported_liq_price(3300.1234, -0.1, 0.01) == pytest.approx(3300.11, abs=1e-12)  # short: one tick down
    assert reported_liq_price(2722.1497, 0.1, 0.0) == 2722.1497                            # no tick: exact
    assert load_venue("binance", at="2025-11-29").tick_for("ETH") == 0.0
    assert load_venue("okx", at="2025-11-29").tick_for("ETH") == 0.01


# -- kernel + twin on one venue ------------------------------------------------------------------------------------

def one_venue(high, low, floor, rate, amount, cols, cash, qty, entry, iso=0.0, px=2000.0, fund=1e12):
    """Kernel inputs for one venue, flat at `px` except the given bar highs/lows; `fund`: the venue's insurance
    fund for the symbol (ample unless a case says otherwise)."""
    n = len(high)
    p = np.full((n, 1), px)
    mkt = kernel_market(np.arange(1, n + 1, dtype=np.int64) * 3_600 * 10**9, p, p, p, p,
                       np.asarray(high, float).reshape(n, 1), np.asarray(low, float).reshape(n, 1), p,
                       np.ones((n, 1)), np.ones((n, 1)), np.full((n, 1), np.nan), np.zeros((n, 1)), np.zeros((n, 0)),
                       np.zeros((n, 0), bool), np.full(n, 1 / 8760), np.full((n, 1), np.nan), np.full((n, 1), np.nan))
    acct = np.zeros((1, N_ACCT))
    acct[0, A_CASH], acct[0, A_QTY], acct[0, A_ENTRY], acct[0, A_ISO] = cash, qty, entry, iso
    acct[0, A_FUND] = fund
    cfg = np.zeros((1, N_CFG))
    for c, x in cols.items():
        cfg[0, c] = x
    k = len(floor)
    vt = VenueTables(cfg, np.array([floor], float), np.array([rate], float), np.array([amount], float),
                     np.full((1, k), 20.0))
    return mkt, acct, vt


def run_kernel(mkt, acct, vt, i0=0):
    n = mkt.close_ns.size
    state = State(acct, np.zeros(0), np.zeros(0), np.zeros((1, 3)), mkt.spot_open[0].copy(),
                  mkt.mark_open[0].copy())
    rec = Records(np.zeros(n), np.zeros((n, N_PNL)), np.zeros((n, 1, N_REC)), np.zeros((n, 0)), np.zeros(n),
                  np.zeros(n), np.zeros((2, N_PNL)))
    ledger = Ledger(np.zeros((64, 4), np.int64), np.zeros(64), np.zeros(1, np.int64))
    liq = np.full((2, N_LIQ), -1.0)
    stop, _ = advance(state, vt, mkt, rec, ledger, i0, n, liq, 0)
    return stop, [tuple(r) for r in liq if r[Q_VENUE] >= 0], rec


def run_twin(mkt, acct, vt, twin_cfg):
    a = acct[0]
    r_acct = [dict(cash=a[A_CASH], spot=0.0, qty=a[A_QTY], entry=a[A_ENTRY], iso=a[A_ISO], fund=a[A_FUND])]
    c = vt.cfg[0]
    r_cfg = [dict(liq_fee=c[C_LIQ_FEE], taker=c[C_TAKER], haircut=0.0, spot_coll=False, isolated=c[C_ISOLATED] > 0.5,
                  **twin_cfg)]
    r_mkt = {k: getattr(mkt, k).tolist() for k in ("mark_open", "mark_high", "mark_low", "mark_close", "spot_close",
                                                    "funding_rate", "lend_apy", "index_open", "index_low")}
    r_mkt.update(funding_px=mkt.mark_close.tolist(), dt_years=mkt.dt_years.tolist(),
                 prev_spot=mkt.spot_open[0].tolist(), prev_mark=mkt.mark_open[0].tolist(), lend=[])
    tiers = [(vt.floor[0], vt.rate[0], vt.amount[0])]
    return ref_advance(r_acct, r_cfg, tiers, r_mkt, 0, mkt.close_ns.size)


def same_liqs(kernel_liqs, twin_out):
    twin_liqs = twin_out[-1][2]
    assert len(kernel_liqs) == len(twin_liqs)
    for k, (_v, q, px, fee, ins, soc, kind) in zip(kernel_liqs, twin_liqs, strict=True):
        assert LIQ_KINDS[int(k[Q_KIND])] == kind
        assert k[Q_QTY] == pytest.approx(q, rel=1e-9)
        assert k[Q_PRICE] == pytest.approx(px, rel=1e-9)
        assert k[Q_FEE] == pytest.approx(fee, rel=1e-9, abs=1e-9)
        assert k[Q_INSURANCE] == pytest.approx(ins, rel=1e-9, abs=1e-9)
        assert k[Q_SOCIAL] == pytest.approx(soc, rel=1e-9, abs=1e-9)


# -- 2. Bybit: fee to close in maintenance, a taker-fee step, the rest at bankruptcy -------------------------------

BYBIT_COLS = {C_PARTIAL: 1.0, C_PARTIAL_FROM: 2, C_PARTIAL_TIERS: 1, C_CLOSE_FEE: BYBIT_TAKER, C_BANKRUPTCY: 1.0,
              C_TAKER: BYBIT_TAKER, C_LIQ_FEE: 0.005}
BYBIT_TWIN = dict(partial=True, partial_from=2, partial_tiers=1, close_fee=BYBIT_TAKER, bankrupt=True)


def test_bybit_maintenance_includes_the_fee_to_close_at_bankruptcy():
    # isolated long 1 ETH at 3000 with 300 margin (10x), tier 1 MMR 0.5 %. Bankruptcy price 3000 - 300 = 2700
    # (= entry x (1 - 1/leverage)); fee to close there 0.055 % x 2700 = 1.485.
    # 300 + (M - 3000) = 0.005 M + 1.485  ->  M = 2701.485 / 0.995 = 2715.0603
    floor, rate, amount = np.array([0.0, 1e6]), np.array([0.005, 0.01]), np.array([0.0, 5000.0])
    lp = liquidation_price(300.0, 1.0, 3000.0, 0.0, 0.0, floor, rate, amount, 3000.0, 0.0, BYBIT_TAKER, False)
    assert lp == pytest.approx(2701.485 / 0.995, rel=1e-12)
    assert lp == pytest.approx(2715.0603, abs=1e-4)
    # without the fee term it would be Binance's 2700 / 0.995 = 2713.57: the fee moves it up by 1.49
    assert liquidation_price(300.0, 1.0, 3000.0, 0.0, 0.0, floor, rate, amount, 3000.0) == pytest.approx(2700 / 0.995)
    assert ref.liquidation_price(300.0, 1.0, 3000.0, 0.0, 0.0, floor, rate, amount, 3000.0,
                                 close_fee=BYBIT_TAKER) == pytest.approx(lp, rel=1e-9)
    # the recorded Bybit check (README): positionMM = 0.5 % x value + 0.055 % x value x (1 - 1/leverage) with
    # value = qty x entry: our term |qty| x M_b x taker is exactly value x (1 - 1/leverage) x taker
    assert ref.liquidation_level(300.0, 1.0, 3000.0, 3000.0, floor, rate, amount, close_fee=BYBIT_TAKER) == \
        pytest.approx(0.005 * 3000 + 0.00055 * 3000 * (1 - 1 / 10), rel=1e-12)


def test_bybit_partial_step_pays_taker_and_the_rest_goes_at_bankruptcy():
    # tiers: 1 % below 40k notional, 2 % above (amount 400). Cross USDT wallet 5000, short 25 ETH at 2000.
    # Fee to close at bankruptcy: M_b = 2000 + 5000/25 = 2200, 0.055 % x 25 x 2200 = 30.25.
    # Breach: 55000 - 25 M = 0.02 * 25 M - 400 + 30.25  ->  LP1 = 55369.75 / 25.5 = 2171.3627 (notional 54.3k, tier 2)
    # Step down one tier: keep 40000 / LP1 ETH, close the rest at LP1 paying the TAKER fee (not 0.5 %).
    # The rest (18.42 ETH, 2 % tier above LP1) is re-checked: its LP2 = (w1 + keep*2000 + 400 - cf1)/(keep*1.02),
    # cf1 = 0.055 % x (w1 + keep*2000) (its own bankruptcy value), 2180.5 > the bar's high 2180: it survives bar 0.
    # Bar 1 (high 2300) closes it at LP2 at the bankruptcy price: the margin left there is lost, the wallet ends at 0.
    floor, rate, amount = [0.0, 40_000.0, np.inf], [0.01, 0.02, 0.02], [0.0, 400.0, 400.0]
    mkt, acct, vt = one_venue([2180.0, 2300.0], [2000.0, 2000.0], floor, rate, amount, BYBIT_COLS, 5000.0, -25.0,
                              2000.0)
    twin = run_twin(mkt, acct.copy(), vt, BYBIT_TWIN)
    stop, liqs, rec = run_kernel(mkt, acct, vt)
    lp1 = 55369.75 / 25.5
    keep = 40_000.0 / lp1 * (1 - 1e-9)
    assert stop == 1 and len(liqs) == 1
    assert liqs[0][Q_PRICE] == pytest.approx(lp1, rel=1e-12)
    assert liqs[0][Q_QTY] == pytest.approx(-25.0 + keep, rel=1e-9)
    assert liqs[0][Q_FEE] == pytest.approx((25.0 - keep) * lp1 * BYBIT_TAKER, rel=1e-9)     # taker, not 0.5 %
    assert LIQ_KINDS[int(liqs[0][Q_KIND])] == "partial"                                     # a step down, not the end
    w1 = 5000.0 + (-25.0 + keep) * (lp1 - 2000.0) - (25.0 - keep) * lp1 * BYBIT_TAKER
    assert acct[0, A_CASH] == pytest.approx(w1, rel=1e-12) and acct[0, A_QTY] == pytest.approx(-keep, rel=1e-12)
    cf1 = BYBIT_TAKER * (w1 + keep * 2000.0)
    lp2 = (w1 + keep * 2000.0 + 400.0 - cf1) / (keep * 1.02)
    assert rec.venue[0, 0, R_LIQ_PX] == pytest.approx(lp2, rel=1e-9)
    assert 2180.0 < lp2 < 2300.0
    same_liqs(liqs, twin)
    # bar 1 (high 2300): above LP1 the rest is in the 2 % tier again, so one more taker-fee step down to 40k
    # notional, then the rest goes at the bankruptcy price: the margin left at its price is lost, the wallet ends
    # at 0 and nothing is left for the insurance fund
    twin2 = run_twin(mkt, acct.copy(), vt, BYBIT_TWIN)
    stop, liqs, rec = run_kernel(mkt, acct, vt, i0=1)
    assert stop == 2 and len(liqs) == 2
    assert [LIQ_KINDS[int(r[Q_KIND])] for r in liqs] == ["partial", "full"]     # one more step, then the rest
    (_, q_s, px_s, fee_s, *_), (_, q_l, px_l, fee_l, ins_l, *_) = liqs
    assert px_s == pytest.approx(lp2, rel=1e-9) and (keep + q_s) * px_s == pytest.approx(40_000.0, rel=1e-6)
    assert fee_s == pytest.approx(abs(q_s) * px_s * BYBIT_TAKER, rel=1e-12)
    w2 = w1 + q_s * (px_s - 2000.0) - fee_s
    lost = w2 + q_l * (px_l - 2000.0)                      # the margin left at the last price ...
    cf2 = BYBIT_TAKER * (w2 - q_l * 2000.0)                # (its fee to close at its bankruptcy price)
    assert lost == pytest.approx(0.02 * abs(q_l) * px_l - 400.0 + cf2, rel=1e-9)   # ... = the level there
    assert fee_l == pytest.approx(lost, rel=1e-9) and ins_l == 0.0
    assert acct[0, A_QTY] == 0.0 and acct[0, A_CASH] == pytest.approx(0.0, abs=1e-9)
    same_liqs(liqs, twin2)


# -- 3. OKX partial: from tier 3, two tiers at a time; tier 2 closes whole -----------------------------------------

OKX_FLOOR = [0.0, 20.0, 60.0, 160.0, np.inf]            # base units (ETH), whole-position rates
OKX_RATE = [0.004, 0.0065, 0.01, 0.015, 0.015]
OKX_COLS = {C_PARTIAL: 1.0, C_PARTIAL_FROM: 3, C_PARTIAL_TIERS: 2, C_TRIGGER_FEE: OKX_TAKER, C_BANKRUPTCY: 1.0,
            C_TIER_BASE: 1.0, C_TAKER: OKX_TAKER, C_LIQ_FEE: OKX_TAKER}
OKX_TWIN = dict(partial=True, partial_from=3, partial_tiers=2, trigger=OKX_TAKER, base=True, bankrupt=True)


def test_okx_tier_3_steps_down_two_tiers():
    # short 100 ETH at 2000 (tier 3: 60-160 ETH, MMR 1 %), cross wallet 10,000. Trigger at 1 % + 0.05 %:
    # 10000 - 100 (M - 2000) = 100 M x 1.05 %  ->  LP1 = 210000 / 101.05 = 2078.1791.
    # Two tiers down is tier 1 (cap 20 ETH): keep 20, close 80 at LP1 paying the taker fee 0.05 %.
    # w1 = 10000 - 80 x 78.1791 - 80 x 2078.1791 x 0.05 % = 3662.5433. The rest, 20 ETH in tier 1 (0.4 % + 0.05 %):
    # LP2 = (3662.5433 + 40000) / (20 x 1.0045) = 2173.3471 > the bar's high 2100: it survives the bar.
    mkt, acct, vt = one_venue([2100.0, 2100.0], [2000.0, 2000.0], OKX_FLOOR, OKX_RATE, [0.0] * 5, OKX_COLS,
                              10_000.0, -100.0, 2000.0)
    twin = run_twin(mkt, acct.copy(), vt, OKX_TWIN)
    stop, liqs, rec = run_kernel(mkt, acct, vt)
    lp1 = 210_000.0 / 101.05
    keep = 20.0 * (1 - 1e-9)
    assert stop == 1 and len(liqs) == 1
    assert liqs[0][Q_PRICE] == pytest.approx(lp1, rel=1e-12)
    assert liqs[0][Q_QTY] == pytest.approx(-80.0, rel=1e-9) and LIQ_KINDS[int(liqs[0][Q_KIND])] == "partial"
    assert liqs[0][Q_FEE] == pytest.approx(80.0 * lp1 * OKX_TAKER, rel=1e-9)
    w1 = 10_000.0 - 80.0 * (lp1 - 2000.0) - 80.0 * lp1 * OKX_TAKER
    assert acct[0, A_QTY] == pytest.approx(-keep, rel=1e-12) and acct[0, A_CASH] == pytest.approx(w1, rel=1e-9)
    lp2 = (w1 + keep * 2000.0) / (keep * 1.0045)
    assert rec.venue[0, 0, R_LIQ_PX] == pytest.approx(lp2, rel=1e-9)
    assert lp2 == pytest.approx(2173.3471, abs=1e-4)
    same_liqs(liqs, twin)


def test_okx_tier_2_is_closed_whole_at_bankruptcy():
    # short 40 ETH at 2000 (tier 2: 20-60 ETH, MMR 0.65 %), cross wallet 4,000. Trigger at 0.65 % + 0.05 %:
    # 4000 - 40 (M - 2000) = 40 M x 0.7 %  ->  LP = 84000 / 40.28 = 2085.4022. No partial below tier 3: the
    # whole 40 ETH goes at the bankruptcy price; the margin left at LP, 4000 - 40 (LP - 2000) = 40 LP x 0.7 %
    # = 583.92, is lost and the wallet ends at 0.
    mkt, acct, vt = one_venue([2100.0, 2100.0], [2000.0, 2000.0], OKX_FLOOR, OKX_RATE, [0.0] * 5, OKX_COLS,
                              4_000.0, -40.0, 2000.0)
    twin = run_twin(mkt, acct.copy(), vt, OKX_TWIN)
    stop, liqs, _ = run_kernel(mkt, acct, vt)
    lp = 84_000.0 / 40.28
    assert stop == 1 and len(liqs) == 1
    assert liqs[0][Q_PRICE] == pytest.approx(lp, rel=1e-12) and liqs[0][Q_QTY] == pytest.approx(-40.0, rel=1e-12)
    assert liqs[0][Q_FEE] == pytest.approx(40.0 * lp * 0.007, rel=1e-9)
    assert liqs[0][Q_FEE] == pytest.approx(583.92, abs=0.01) and LIQ_KINDS[int(liqs[0][Q_KIND])] == "full"
    assert acct[0, A_QTY] == 0.0 and acct[0, A_CASH] == pytest.approx(0.0, abs=1e-9)
    same_liqs(liqs, twin)


def test_a_gap_beyond_bankruptcy_loses_the_margin_and_the_fund_pays_the_rest():
    # OKX tier 2 short as above, but bar 0 OPENS at 2200 (past the bankruptcy price 2100): closed at 2200,
    # 4000 - 40 x 200 = -4000: nothing is left to lose (fee 0) and the insurance fund absorbs 4000
    mkt, acct, vt = one_venue([2200.0, 2200.0], [2000.0, 2000.0], OKX_FLOOR, OKX_RATE, [0.0] * 5, OKX_COLS,
                              4_000.0, -40.0, 2000.0)
    mkt.mark_open[0, 0] = 2200.0
    twin = run_twin(mkt, acct.copy(), vt, OKX_TWIN)
    _, liqs, _ = run_kernel(mkt, acct, vt)
    assert liqs[0][Q_PRICE] == 2200.0 and liqs[0][Q_FEE] == 0.0 and liqs[0][Q_INSURANCE] == pytest.approx(4000.0)
    assert liqs[0][Q_SOCIAL] == 0.0 and acct[0, A_FUND] == pytest.approx(1e12 - 4000.0)
    assert acct[0, A_CASH] == pytest.approx(0.0, abs=1e-9)
    same_liqs(liqs, twin)
    assert math.isclose(twin[-1][2][0][4], 4000.0)


def test_a_deficit_beyond_the_fund_is_socialized_and_the_account_still_ends_at_zero():
    # the same gap with only 2,500 in the symbol's insurance fund: the fund pays 2,500 and is empty; the other
    # 1,500 is socialized (ADL of other traders' profitable longs at the bankruptcy price: docs/architecture.md
    # §4). For the account nothing changes: it ends at 0, never below (a venue never bills a trader's deficit)
    mkt, acct, vt = one_venue([2200.0, 2200.0], [2000.0, 2000.0], OKX_FLOOR, OKX_RATE, [0.0] * 5, OKX_COLS,
                              4_000.0, -40.0, 2000.0, fund=2500.0)
    mkt.mark_open[0, 0] = 2200.0
    twin = run_twin(mkt, acct.copy(), vt, OKX_TWIN)
    _, liqs, _ = run_kernel(mkt, acct, vt)
    assert liqs[0][Q_INSURANCE] == pytest.approx(2500.0) and liqs[0][Q_SOCIAL] == pytest.approx(1500.0)
    assert acct[0, A_FUND] == 0.0 and acct[0, A_CASH] == pytest.approx(0.0, abs=1e-9)
    same_liqs(liqs, twin)


def test_the_margin_lost_at_bankruptcy_feeds_the_fund():
    # OKX tier 2 closed whole at its liquidation price (the case above): the 583.92 left at LP is lost by the
    # account and goes to the symbol's insurance fund, which starts at 1,000 here
    mkt, acct, vt = one_venue([2100.0, 2100.0], [2000.0, 2000.0], OKX_FLOOR, OKX_RATE, [0.0] * 5, OKX_COLS,
                              4_000.0, -40.0, 2000.0, fund=1000.0)
    _, liqs, _ = run_kernel(mkt, acct, vt)
    lp = 84_000.0 / 40.28
    assert acct[0, A_FUND] == pytest.approx(1000.0 + 40.0 * lp * 0.007, rel=1e-12)
    assert liqs[0][Q_INSURANCE] == 0.0 and liqs[0][Q_SOCIAL] == 0.0
