"""Liquidation prices and maintenance margins against Binance's one-way isolated formula (docs/architecture.md §10),
and liquidation by MARK, not by trade wicks."""
import numpy as np
import pytest

from basisbt.data.venues import load_venue
from basisbt.engine.config import RunConfig
from basisbt.engine.kernels.margin import liquidation_price, maintenance_margin
from basisbt.strategies.perp_short import PerpShort
from tests.helpers import T0, bars, dataset, kernel_market
from tests.runs import run_backtest

# Binance ETHUSDT tiers (Oct 2024): 0.40 % to 50k, 0.50 % to 600k (amount 50), 0.65 % to 3M (amount 950)
FLOOR = np.array([0.0, 50_000.0, 600_000.0, np.inf])
RATE = np.array([0.004, 0.005, 0.0065, 0.0065])
AMOUNT = np.array([0.0, 50.0, 950.0, 950.0])


def binance_lp(wb, q, ep, side, mmr, cum):
    """LP = (WB + cum - side*Q*EP) / (Q*MMR - side*Q)."""
    return (wb + cum - side * q * ep) / (q * mmr - side * q)


def test_maintenance_margin_tiers_by_hand():
    assert maintenance_margin(40_000.0, FLOOR, RATE, AMOUNT) == pytest.approx(160.0)      # 40k * 0.4 %
    assert maintenance_margin(100_000.0, FLOOR, RATE, AMOUNT) == pytest.approx(450.0)     # 100k*0.5 % - 50
    assert maintenance_margin(1_000_000.0, FLOOR, RATE, AMOUNT) == pytest.approx(5_550.0)  # 1M*0.65 % - 950
    # continuous at the boundary: 50k * 0.4 % = 200 = 50k * 0.5 % - 50
    assert maintenance_margin(50_000.0 - 1e-6, FLOOR, RATE, AMOUNT) == pytest.approx(200.0)
    assert maintenance_margin(50_000.0, FLOOR, RATE, AMOUNT) == pytest.approx(200.0)


def test_first_tier_long_and_short():
    # long 1 ETH at 3000 with 300 isolated margin: (300 - 3000) / (0.004 - 1) = 2710.8434
    lp = liquidation_price(300.0, 1.0, 3000.0, 0.0, 0.0, FLOOR, RATE, AMOUNT, 3000.0)
    assert lp == pytest.approx(binance_lp(300, 1, 3000, +1, 0.004, 0), rel=1e-12)
    assert lp == pytest.approx(2710.843373493976, rel=1e-12)
    # short 1 ETH at 3000 with 300: (300 + 3000) / (0.004 + 1) = 3286.8526
    lp = liquidation_price(300.0, -1.0, 3000.0, 0.0, 0.0, FLOOR, RATE, AMOUNT, 3000.0)
    assert lp == pytest.approx(3300.0 / 1.004, rel=1e-12)


def test_short_crosses_into_second_tier():
    # short 20 ETH at 2400 (48k, tier 1) with 2400 margin. Tier-1 root: (2400 + 0 + 48000) / 20.08 = 2509.96
    # -> notional 50,199 is NOT in tier 1 (< 50k). Tier-2 root: (2400 + 50 + 48000) / (20*0.005 + 20)
    # = 50450 / 20.1 = 2509.9502, notional 50,199 in [50k, 600k): that is the liquidation price.
    lp = liquidation_price(2400.0, -20.0, 2400.0, 0.0, 0.0, FLOOR, RATE, AMOUNT, 2400.0)
    assert lp == pytest.approx(50450.0 / 20.1, rel=1e-12)
    assert lp == pytest.approx(binance_lp(2400, 20, 2400, -1, 0.005, 50), rel=1e-12)


def test_long_falls_into_first_tier():
    # long 21 ETH at 2400 (50.4k, tier 2) with 5040 margin. Tier-2 root: (5040 + 50 - 50400) / (0.105 - 21)
    # = 2168.46 -> notional 45,538 not in tier 2. Tier-1 root: (5040 - 50400) / (0.084 - 21) = 2168.6747
    lp = liquidation_price(5040.0, 21.0, 2400.0, 0.0, 0.0, FLOOR, RATE, AMOUNT, 2400.0)
    assert lp == pytest.approx((5040.0 - 50400.0) / (21 * 0.004 - 21), rel=1e-12)


def test_cross_margin_spot_collateral_and_short():
    # cross account: 10 ETH spot posted at a 5 % haircut, short 10 ETH at 3000, no USDT.
    # B(M) = 0 + (-10)(M - 3000) + 10 * 0.95 * M = 30000 - 0.5 M.
    # tier 1: 30000 - 0.5 M = 0.04 M -> M = 55,555 (notional 555k, not tier 1);
    # tier 2: 30000 - 0.5 M = 0.05 M - 50 -> M = 30050 / 0.55 = 54,636.36 (notional 546k, in tier 2).
    lp = liquidation_price(0.0, -10.0, 3000.0, 10.0, 0.05, FLOOR, RATE, AMOUNT, 3000.0)
    assert lp == pytest.approx(30050.0 / 0.55, rel=1e-12)


def test_mark_decides_not_trade_wick():
    # 5x USDT short: of 100,000 capital, spot = 100,000 / (1 + 1/5) x 0.99 = 82,500 -> 41.25 ETH at 2000, short
    # 41.25 perp. Cross wallet WB = 100,000 - 82,500 - fees (spot 0.1 % = 82.50, perp 0.05 % = 41.25)
    # = 17,376.25 (the spot is not collateral). At the liquidation price the notional is ~99k: tier 2 (0.5 %,
    # cum 50). Binance's one-way formula, short (side -1): LP = (WB + cum + Q EP) / (Q MMR + Q)
    # = (17,376.25 + 50 + 82,500) / (41.25 x 1.005) = 2,410.40. In bar 5 the perp TRADE high wicks to 2600
    # but the MARK high is only 2300: no liquidation. Without mark bars the same wick liquidates (and the run
    # log says mark bars were missing).
    n = 10
    close = np.full(n, 2000.0)
    perp_high = close.copy()
    perp_high[5] = 2600.0
    mark_high = close.copy()
    mark_high[5] = 2300.0
    ds = dataset(bars(close), perp=bars(close, high=perp_high), mark=bars(close, high=mark_high))
    cfg = RunConfig(slippage=0.0, initial_capital=100_000.0)
    res = run_backtest(PerpShort(collateral="usdt", leverage=5.0), ds, cfg)
    assert res.liquidations.empty
    spec = load_venue("binance", at=T0)
    tiers = spec.tier_table("ETH")
    k = int(np.searchsorted(tiers.floor, 99_000.0, side="right")) - 1
    assert (tiers.rate[k], tiers.amount[k]) == (0.005, 50.0)          # the premise: tier 2 of the Oct-2024 table
    q = 100_000.0 / 1.2 * 0.99 / 2000.0
    wb = 100_000.0 - q * 2000.0 * (1 + spec.spot_taker_fee + spec.taker_fee)
    assert (q, wb) == (pytest.approx(41.25, rel=1e-12), pytest.approx(17_376.25, rel=1e-12))
    liq_px = res.timeline["binance:liq_px"].iloc[3]
    assert liq_px == pytest.approx(binance_lp(wb, q, 2000.0, -1, 0.005, 50.0), rel=1e-12)
    assert liq_px == pytest.approx(99_926.25 / 41.45625, rel=1e-9)      # 2,410.4025...
    ds_nomark = dataset(bars(close), perp=bars(close, high=perp_high))
    res2 = run_backtest(PerpShort(collateral="usdt", leverage=5.0), ds_nomark, cfg)
    assert len(res2.liquidations) == 1
    assert res2.liquidations["price"].iloc[0] == pytest.approx(liq_px, rel=1e-12)
    assert any("no mark-price bars" in line for line in res2.log)


def test_liquidation_accounting_adds_up():
    # after a liquidation the PnL parts still sum to the equity change, and the ledger holds the fee
    n = 10
    close = np.full(n, 2000.0)
    high = close.copy()
    high[5] = 2600.0
    ds = dataset(bars(close, high=high))
    res = run_backtest(PerpShort(collateral="usdt", leverage=5.0), ds, RunConfig(slippage=0.0))
    liq = res.liquidations.iloc[0]
    # the clearance fee (1.25 % of the notional) is capped at the margin balance left at the liquidation price,
    # which is the maintenance margin there (Binance's rule: maintenance < 1.25 % at this size): it takes that,
    # and no more; the account ends at 0 and the insurance fund pays nothing
    spec = load_venue("binance", at=T0)
    notional = abs(liq["qty"]) * liq["price"]
    fee = spec.tier_table("ETH").maintenance(notional)
    assert fee < notional * spec.liquidation_fee
    assert liq["fee"] == pytest.approx(fee, rel=1e-9)
    assert liq["insurance_loss"] == 0.0
    led = res.ledger
    assert led.loc[led.kind == "liquidation_fee", "amount"].sum() == pytest.approx(-fee, rel=1e-12)
    parts = res.timeline[[c for c in res.timeline if c.startswith("pnl_")]].sum().sum()
    assert parts == pytest.approx(res.timeline["equity"].iloc[-1] - 1_000_000.0, rel=1e-9, abs=1e-6)




def test_isolated_margin_liquidation_price_matches_binance_formula():
    # isolated short of 10 ETH at 2000 with 4000 isolated margin (5x): LP = (4000 + 20000) / (10*0.004 + 10)
    # = 2390.4382 (tier 1 of the binance ETH table: notional 23.9k < 50k). Margin outside the isolated
    # bucket is untouched by the liquidation.
    from basisbt.strategies.base import Strategy

    class Iso(Strategy):
        name = "iso"

        def initial_allocation(self, venues):
            return {"binance": 1.0}

        def on_start(self, ctx, ev):
            ctx.configure("binance", isolated=True)

        def on_bar(self, ctx, ev):
            if ev.bar == 0:
                ctx.add_isolated_margin("binance", 4000.0)
                ctx.order("binance", "perp", -10.0)

    n = 10
    close = np.full(n, 2000.0)
    high = close.copy()
    high[6] = 2500.0
    ds = dataset(bars(close, high=high))
    cfg = RunConfig(slippage=0.0, initial_capital=10_000.0, venue_overrides={"binance": {"taker_fee": 0.0}})
    res = run_backtest(Iso(), ds, cfg)
    spec = load_venue("binance", at=T0)
    r0 = spec.tier_table("ETH").rate[0]
    lp = (4000.0 + 20000.0) / (10 * r0 + 10)
    assert res.timeline["binance:liq_px"].iloc[3] == pytest.approx(lp, rel=1e-12)
    liq = res.liquidations.iloc[0]
    assert liq.price == pytest.approx(lp, rel=1e-12)
    # at lp the bucket holds 4000 - 10 (lp - 2000) = 95.62 (= its maintenance, 10 x lp x 0.4 %); the clearance fee
    # (1.25 % = 298.80) takes that and no more: the bucket is wiped, the insurance fund pays nothing, and the
    # 6000 outside the bucket stays
    assert liq.fee == pytest.approx(4000.0 - 10 * (lp - 2000.0), rel=1e-9)
    assert liq.fee == pytest.approx(10 * lp * r0, rel=1e-9)
    assert liq.insurance_loss == 0.0
    assert res.timeline["equity"].iloc[-1] == pytest.approx(6_000.0, rel=1e-12)


def test_partial_liquidation_steps_down_one_tier_by_hand():
    # tiers: 1 % below 40k notional, 2 % above (amount 400 = 0.01 * 40k). Cross USDT wallet 5000,
    # short 25 ETH at 2000 (50k, tier 2), liquidation fee 0.1 %, partial liquidation on.
    # Breach: 55000 - 25 M = 0.02 * 25 M - 400  ->  LP1 = 55400 / 25.5 = 2172.549.
    # Step down: keep 40000 / LP1 = 18.4116 ETH, close 6.5884 at LP1:
    #   realized -6.5884 * 172.549 = -1136.81, fee 6.5884 * 2172.549 * 0.001 = 14.31 -> wallet 3848.87.
    # The rest dies at (3848.87 + 18.4116 * 2000 + 400) / (18.4116 * 1.02) = 2187.0 > the bar's high 2180.
    from basisbt.engine.kernels.advance import advance
    from basisbt.engine.kernels.arrays import Ledger, Records, State, VenueTables
    from basisbt.engine.kernels.codes import (
        A_CASH,
        A_ENTRY,
        A_QTY,
        C_LIQ_FEE,
        C_PARTIAL,
        C_TAKER,
        N_ACCT,
        N_CFG,
        N_LIQ,
        N_REC,
    )

    n = 2
    px = np.full((n, 1), 2000.0)
    high = np.array([[2180.0], [2300.0]])
    mkt = kernel_market(np.array([3600, 7200], np.int64) * 10**9, px, px, px, px, high, px, px,
                       np.ones((n, 1)), np.ones((n, 1)), np.full((n, 1), np.nan), px, np.zeros((n, 0)),
                       np.zeros((n, 0), bool), np.full(n, 1 / 8760), np.full((n, 1), np.nan), np.full((n, 1), np.nan))
    acct = np.zeros((1, N_ACCT))
    acct[0, A_CASH], acct[0, A_QTY], acct[0, A_ENTRY] = 5000.0, -25.0, 2000.0
    cfg = np.zeros((1, N_CFG))
    cfg[0, C_LIQ_FEE], cfg[0, C_PARTIAL], cfg[0, C_TAKER] = 0.001, 1.0, 0.0005
    vt = VenueTables(cfg, np.array([[0.0, 40_000.0, np.inf]]), np.array([[0.01, 0.02, 0.02]]),
                     np.array([[0.0, 400.0, 400.0]]), np.array([[50.0, 25.0, 25.0]]))
    state = State(acct, np.zeros(0), np.zeros(0), np.zeros((1, 3)), px[0].copy(), px[0].copy())
    rec = Records(np.zeros(n), np.zeros((n, 7)), np.zeros((n, 1, N_REC)), np.zeros((n, 0)), np.zeros(n),
                  np.zeros(n), np.zeros((2, 7)))
    ledger = Ledger(np.zeros((64, 4), np.int64), np.zeros(64), np.zeros(1, np.int64))
    liq = np.full((2, N_LIQ), -1.0)
    stop, code = advance(state, vt, mkt, rec, ledger, 0, n, liq, 0)
    lp1 = 55400.0 / 25.5
    keep = 40_000.0 / lp1 * (1 - 1e-9)
    assert stop == 1                                    # stopped after bar 0 to tell the strategy
    assert liq[0, 0] == 0 and liq[0, 2] == pytest.approx(lp1, rel=1e-12)
    assert liq[0, 1] == pytest.approx(-25.0 + keep, rel=1e-9)        # closed part
    assert liq[1, 0] == -1                              # the rest survived bar 0
    assert acct[0, A_QTY] == pytest.approx(-keep, rel=1e-12)
    # the step down is an order and pays the taker fee (0.05 %), not the liquidation fee (Bybit's rule)
    wallet = 5000.0 + (-25.0 + keep) * (lp1 - 2000.0) - (25.0 - keep) * lp1 * 0.0005
    assert acct[0, A_CASH] == pytest.approx(wallet, rel=1e-12)
    lp2 = (wallet + keep * 2000.0 + 400.0) / (keep * 1.02)
    assert rec.venue[0, 0, 4] == pytest.approx(lp2, rel=1e-9)       # the rest's liquidation price
    assert 2180.0 < lp2 < 2300.0


def test_spot_collateral_is_valued_at_spot_not_at_the_perp_mark():
    # perp and mark trade 2 % above spot (a squeeze premium); the hedge posts its spot as collateral.
    # Margin balance = cash + q * (mark - entry) + spot_qty * (1 - haircut) * SPOT (venues use the index)
    n = 12
    spot = np.full(n, 2000.0)
    perp = spot * 1.02
    ds = dataset(bars(spot), perp=bars(perp), mark=bars(perp))
    res = run_backtest(PerpShort(collateral="spot"), ds, RunConfig(slippage=0.0, initial_capital=100_000.0))
    tl = res.timeline.iloc[-1]
    h = 1.0 - load_venue("binance", at=T0).collateral_ratio("ETH")     # 1 - 0.95
    q_spot, q_perp = tl["binance:spot_qty"], tl["binance:perp_qty"]
    cash = res.timeline["binance:margin_balance"].iloc[-1] - q_spot * (1 - h) * 2000.0   # what the rest must be
    entry = res.fills[res.fills["instrument"] == "perp"]["price"].iloc[0]
    fees = res.fills["fee"].sum()
    # cash after buying spot at 2000 and paying fees; the short's entry is the perp price, so its uPnL is 0
    assert q_perp * (2040.0 - entry) == pytest.approx(0.0, abs=1e-9)
    assert cash == pytest.approx(100_000.0 - q_spot * 2000.0 - fees, rel=1e-12)
