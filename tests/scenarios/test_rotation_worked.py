"""Worked cases for the two strategies that move money between places: lending_rebalance (hedge <-> lending)
and funding_allocator (venue -> venue). Flat prices, so every number is a fee, a funding print, a transfer fee
or lending interest, and each is worked out below from the strategies' written rules (module docstrings of
strategies/lending_rebalance.py, funding_allocator.py and hedge.steer) and the venue's costs.

Conventions: 1h bars, bar i opens at T0 + i h and closes at T0 + (i+1) h; an order or a transfer decided at a
close executes at the next bar's open (the same instant); money in transit arrives at the first close at or
after sent + withdrawal delay (30 min); a settlement stamped t is paid at the bar closing at t on the position
held through that bar. Fees are pinned by venue overrides (spot 0.1 %, perp 0.05 %; bybit perp 0.055 %);
the transfer fee (`withdrawal_fee`, 1 USDT) is the source venue's spec; slippage 0.
"""
from __future__ import annotations

import math

import pandas as pd
import pytest

from basisbt.data.dataset import Dataset
from basisbt.data.venues import load_venue
from basisbt.engine.config import RunConfig
from basisbt.strategies.funding_allocator import FundingAllocator
from basisbt.strategies.lending_rebalance import LendingRebalance
from tests.runs import run_backtest

T0 = pd.Timestamp("2025-03-03", tz="UTC")
H = pd.Timedelta(hours=1)
P = 2000.0
CAP = 1_000_000.0
FS, FP, FP_BYBIT = 0.001, 0.0005, 0.00055
CENT = 0.005


def flat(n: int) -> pd.DataFrame:
    return pd.DataFrame({"ts": [T0 + i * H for i in range(n)], "open": P, "high": P, "low": P, "close": P,
                         "volume": 1e9})


def settlements(hours: list[int], rate: float) -> pd.DataFrame:
    return pd.DataFrame({"ts": [T0 + h * H for h in hours], "rate": rate})


def transfer_costs(venue: str) -> tuple[float, float]:
    """(withdrawal fee in USDT, delay in hours) of the venue's spec in force at T0; the timing below needs < 1 h."""
    spec = load_venue(venue, at=T0)
    assert 0 < spec.withdrawal_delay_s <= 3600, "the worked timing assumes a transfer lands within one bar"
    return float(spec.withdrawal_fee), spec.withdrawal_delay_s / 3600


def ledger_rows(res, kind: str) -> pd.DataFrame:
    led = res.ledger
    return led[led["kind"] == kind].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------------
# lending_rebalance: hedge, rotate everything to lending when lending pays, back when it stops (after min_hold)
# ---------------------------------------------------------------------------------------------------------------
#
# 72 bars. Funding +0.01 % every 8h (08:00 .. 64h) -> trailing 1-day APR 3 x 0.0001 x 365 = 10.95 %.
# Lending (aave) APY 1 % from T0, 20 % from T0+30h, 0 % from T0+40h. lookback 1 day, enter 3 %, exit 0 %,
# max_share 1, min_hold 1 day, cash_buffer 0.
#
# close  what happens                                                             money
#   1h   no settlement known: APR NaN -> no switch; hedge target = equity = CAP    A1 = CAP / (1 + 2 (FS + FP))
#        (steer opens with cash / (1 + 2 x fees)): buy A1/P spot, short A1/P       = 997,008.97
#        fills 1h: spot fee A1 x FS, perp fee A1 x FP                              cash1 = CAP - A1 (1 + FS + FP)
#   8h,16h,24h  funding +0.01 % on the short: A1 x 0.0001 each                      +99.70 x 3
#  30h   APY 20 % known (in force from 30h): spread 0.20 - 0.1095 > 0.03 -> LENDING
#        unwind all (spot and perp), and lend the cash already on the venue less the transfer fee:
#        L1 = cash1 + 3 A1 r - w                                                   L1 = 1,793.62
#        fills 30h: sell spot (fee A1 FS), buy back perp (fee A1 FP); send L1, pay w
#  31h   L1 lands (30h + 30 min -> the 31h close); lend the rest: L2 = A1 (1 - FS - FP) - w
#  32h   L2 lands. L1 earns 20 % over bars 31..39, L2 over bars 32..39 (9 and 8 hours)
#  40h   APY 0 %: spread -0.1095 < 0, but held only 10h of the 1-day minimum
#  54h   held 24h: back to the HEDGE; withdraw everything W = L1 g^9 + L2 g^8, g = 1.2^(1/8760); no fee
#  55h   W lands; open A2 = W / (1 + 2 (FS + FP)), fills 55h
#  56h,64h funding on the new short: A2 x 0.0001 each
# equity_end = cash3 + A2 + 2 A2 r, cash3 = W - A2 (1 + FS + FP)


@pytest.fixture(scope="module")
def lending_run():
    n = 72
    lending = pd.DataFrame({"ts": [T0, T0 + 30 * H, T0 + 40 * H], "supply_apy": [0.01, 0.20, 0.0]})
    ds = Dataset("rotation-lending", "ETH/USDT", "1h", {"binance": flat(n)}, {"binance": flat(n)},
                 {"binance": flat(n).drop(columns="volume")},
                 {"binance": settlements(list(range(8, 65, 8)), 0.0001)}, {"aave": lending})
    cfg = RunConfig(initial_capital=CAP, slippage=0.0,
                    venue_overrides={"binance": {"taker_fee": FP, "spot_taker_fee": FS}})
    strat = LendingRebalance(lookback_days=1.0, enter_spread=0.03, exit_spread=0.0, max_share=1.0,
                             min_hold_days=1.0, cash_buffer=0.0)
    return run_backtest(strat, ds, cfg), strat


def test_lending_rebalance_switch_times(lending_run) -> None:
    res, strat = lending_run
    assert strat.switches == 2
    switches = [line for line in res.log if "to lending" in line or "back to the hedge" in line]
    assert len(switches) == 2
    assert switches[0].startswith((T0 + 30 * H).isoformat()) and "to lending" in switches[0]
    # the APY fell to 0 at 40h, but the regime is held one day from the 30h switch: back at 54h, not 40h
    assert switches[1].startswith((T0 + 54 * H).isoformat()) and "back to the hedge" in switches[1]
    fills = res.fills
    assert list(fills["ts"]) == [T0 + 1 * H] * 2 + [T0 + 30 * H] * 2 + [T0 + 55 * H] * 2
    assert list(fills["instrument"]) == ["spot", "perp"] * 3
    assert list(fills["qty"] > 0) == [True, False, False, True, True, False]


def test_lending_rebalance_money_to_the_cent(lending_run) -> None:
    res, _ = lending_run
    w, delay_h = transfer_costs("binance")
    r = 0.0001
    a1 = CAP / (1 + 2 * (FS + FP))
    cash1 = CAP - a1 * (1 + FS + FP)
    l1 = cash1 + 3 * a1 * r - w
    l2 = a1 * (1 - FS - FP) - w
    g = 1.2 ** (1 / 8760)
    wdraw = l1 * g ** 9 + l2 * g ** 8
    a2 = wdraw / (1 + 2 * (FS + FP))
    cash3 = wdraw - a2 * (1 + FS + FP)
    equity_end = cash3 + a2 + 2 * a2 * r
    assert a1 == pytest.approx(997_008.97, abs=CENT) and l1 == pytest.approx(1_793.62, abs=CENT)

    # the two transfers to aave, each with the venue's transfer fee on top; the withdrawal pays none
    fees = ledger_rows(res, "withdrawal_fee")
    assert list(fees["ts"]) == [T0 + 30 * H, T0 + 31 * H]
    assert fees["amount"].tolist() == pytest.approx([-w, -w], abs=CENT)
    out = ledger_rows(res, "transfer_out")
    assert out["amount"].tolist() == pytest.approx([-l1, -l2, -wdraw], abs=CENT)
    assert list(out["ts"]) == [T0 + 30 * H, T0 + 31 * H, T0 + 54 * H]
    assert math.fsum(ledger_rows(res, "lending_interest")["amount"]) == pytest.approx(wdraw - l1 - l2, abs=CENT)
    assert wdraw - l1 - l2 == pytest.approx(l1 * (g ** 9 - 1) + l2 * (g ** 8 - 1), abs=1e-9)
    assert delay_h <= 1

    funding = ledger_rows(res, "funding")
    assert list(funding["ts"]) == [T0 + h * H for h in (8, 16, 24, 56, 64)]
    assert funding["amount"].tolist() == pytest.approx([a1 * r] * 3 + [a2 * r] * 2, abs=CENT)
    m = res.metrics()
    fees_paid = a1 * (FS + FP) * 2 + a2 * (FS + FP) + 2 * w
    assert m["pnl"]["fees"] == pytest.approx(-fees_paid, abs=CENT)
    assert m["pnl"]["lending"] == pytest.approx(wdraw - l1 - l2, abs=CENT)
    assert m["equity_end"] == pytest.approx(equity_end, abs=CENT)
    assert m["equity_end"] - CAP == pytest.approx(3 * a1 * r + 2 * a2 * r + (wdraw - l1 - l2) - fees_paid, abs=CENT)


# ---------------------------------------------------------------------------------------------------------------
# funding_allocator: two venues, the whole book moves to the one that pays, through a transfer
# ---------------------------------------------------------------------------------------------------------------
#
# 48 bars; binance and bybit start with CAP/2 each. Funding +0.03 % per 8h on binance (8h .. 40h), 0 on bybit.
# weighting "best", min_weight 0 (all to the best), band 0.10, lookback 1 day, horizon 14 days, cash_buffer 0.
#
# close  what happens                                                              money
#   1h   no APR yet: equal weights; open on each venue cash / (1 + 2 fees)        A_b = CAP/2 / 1.003
#        (binance perp 0.05 %, bybit 0.055 %)                                      A_y = CAP/2 / 1.0031
#   8h   binance +0.03 % known: APR 0.0003 x 365 / (1/3 day) = 32.85 %; target 1/0; drift 0.5 > band and the
#        funding gained over 14 days (~6,300) beats the cost of moving (~1,526): REWEIGHT
#        unwind bybit (fills 8h); binance cash (~897) is under the minimum move (0.1 % of the book)
#        funding binance: A_b x 0.0003
#   9h   bybit's cash (its leftover + unwind proceeds) is free: send all of it less the fee to binance
#        T = cash_y - w, fee w (bybit's spec), fills 9h
#  10h   T lands; binance opens B = cash_b / 1.003 (fills 10h)
#  16h..40h funding on (A_b + B) / P short: 4 settlements
# equity_end = cash_b3 + A_b + B + 4 (A_b + B) r_b, cash_b3 = cash_b2 - B (1 + FS + FP)


@pytest.fixture(scope="module")
def allocator_run():
    n = 48
    venues = ("binance", "bybit")
    hours = [8, 16, 24, 32, 40]
    ds = Dataset("rotation-venues", "ETH/USDT", "1h", {v: flat(n) for v in venues}, {v: flat(n) for v in venues},
                 {v: flat(n).drop(columns="volume") for v in venues},
                 {"binance": settlements(hours, 0.0003), "bybit": settlements(hours, 0.0)})
    cfg = RunConfig(initial_capital=CAP, slippage=0.0,
                    venue_overrides={"binance": {"taker_fee": FP, "spot_taker_fee": FS},
                                     "bybit": {"taker_fee": FP_BYBIT, "spot_taker_fee": FS}})
    strat = FundingAllocator(weighting="best", min_weight=0.0, band=0.1, lookback_days=1.0, horizon_days=14.0,
                             cash_buffer=0.0)
    return run_backtest(strat, ds, cfg), strat


def test_funding_allocator_moves_once_at_the_first_print(allocator_run) -> None:
    res, strat = allocator_run
    assert strat.rebalances == 1
    reweights = [line for line in res.log if "reweight" in line]
    assert len(reweights) == 1 and reweights[0].startswith((T0 + 8 * H).isoformat())
    assert "binance=1.00" in reweights[0] and "bybit=0.00" in reweights[0]
    f = res.fills
    assert list(zip(f["ts"], f["venue"], f["instrument"], strict=True)) == [
        (T0 + H, "binance", "spot"), (T0 + H, "binance", "perp"), (T0 + H, "bybit", "spot"), (T0 + H, "bybit", "perp"),
        (T0 + 8 * H, "bybit", "spot"), (T0 + 8 * H, "bybit", "perp"),
        (T0 + 10 * H, "binance", "spot"), (T0 + 10 * H, "binance", "perp")]


def test_funding_allocator_money_to_the_cent(allocator_run) -> None:
    res, _ = allocator_run
    w, _ = transfer_costs("bybit")
    rb = 0.0003
    half = CAP / 2
    a_b = half / (1 + 2 * (FS + FP))
    a_y = half / (1 + 2 * (FS + FP_BYBIT))
    cash_b1 = half - a_b * (1 + FS + FP)
    cash_y1 = half - a_y * (1 + FS + FP_BYBIT)
    cash_y2 = cash_y1 + a_y * (1 - FS) - a_y * FP_BYBIT
    t = cash_y2 - w
    cash_b2 = cash_b1 + a_b * rb + t
    b = cash_b2 / (1 + 2 * (FS + FP))
    cash_b3 = cash_b2 - b * (1 + FS + FP)
    equity_end = cash_b3 + a_b + b + 4 * (a_b + b) * rb
    assert cash_b1 + a_b * rb < 0.001 * CAP * 0.99 < t     # why binance waits for bybit's cash (the minimum move)

    fees = ledger_rows(res, "withdrawal_fee")
    assert list(zip(fees["ts"], fees["venue"], strict=True)) == [(T0 + 9 * H, "bybit")]
    assert fees["amount"].tolist() == pytest.approx([-w], abs=CENT)
    out = ledger_rows(res, "transfer_out")
    assert list(zip(out["ts"], out["venue"], strict=True)) == [(T0 + 9 * H, "bybit")]
    assert out["amount"].tolist() == pytest.approx([-t], abs=CENT)
    funding = ledger_rows(res, "funding")
    bybit = funding[funding["venue"] == "bybit"]              # its 8h print is 0 on a short still open; later: flat
    assert list(bybit["ts"]) == [T0 + 8 * H] and bybit["amount"].tolist() == [0.0]
    binance = funding[funding["venue"] == "binance"]
    assert binance["amount"].tolist() == pytest.approx([a_b * rb] + [(a_b + b) * rb] * 4, abs=CENT)
    tl = res.timeline
    assert float(tl["bybit:perp_qty"].iloc[-1]) == 0.0 and float(tl["bybit:spot_qty"].iloc[-1]) == 0.0
    assert float(tl["binance:spot_qty"].iloc[-1]) == pytest.approx((a_b + b) / P, abs=1e-9)
    m = res.metrics()
    fees_paid = a_b * (FS + FP) + a_y * (FS + FP_BYBIT) * 2 + w + b * (FS + FP)
    assert m["pnl"]["fees"] == pytest.approx(-fees_paid, abs=CENT)
    assert m["pnl"]["funding"] == pytest.approx(a_b * rb + 4 * (a_b + b) * rb, abs=CENT)
    assert m["equity_end"] == pytest.approx(equity_end, abs=CENT)
