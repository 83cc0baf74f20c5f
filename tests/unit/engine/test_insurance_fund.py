"""A finite insurance fund per venue and symbol (issue 23 item 8): market-wide bankruptcies draw it, ADL of our
profitable position follows when it is empty, ranked by the venue's score; halts that stop marks and funding.

Hand cases on flat 1h bars (slippage 0). perp_short on binance with USDT margin at 2x: capital 100,000 buys spot
and shorts the same quantity at 2,000 (bar 1's open); from bar 4's close the price is 1,900, so the short is in
profit (+100 per ETH) when the events come.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from basisbt.data.dataset import Dataset
from basisbt.data.errors import DataError
from basisbt.data.venue_events import VenueEvent, parse_venue_events
from basisbt.engine.config import RunConfig
from basisbt.engine.kernels.margin import leverage_pnl
from basisbt.strategies.perp_short import PerpShort
from tests.helpers import T0, bars, dataset, funding
from tests.reference import kernels as ref
from tests.runs import run_backtest

H = pd.Timedelta("1h")


def cfg(fund: float) -> RunConfig:
    return RunConfig(slippage=0.0, initial_capital=100_000.0, venue_overrides={"binance": {"insurance_fund": fund}})


def crash_data(events: tuple[VenueEvent, ...]) -> Dataset:
    close = np.r_[np.full(4, 2000.0), np.full(6, 1900.0)]
    return replace(dataset(bars(close)), venue_events=events)


def bankruptcy(loss: float, qty: float = 500.0, adl_from: float = 0.0, side: str = "long") -> VenueEvent:
    """Longs of `qty` ETH went bankrupt at 1,880 (their bankruptcy price) at bar 6's open, `loss` short."""
    return VenueEvent("bankruptcy", "binance", T0 + 6 * H, price=1880.0, side=side, qty=qty, loss=loss,
                      adl_from=adl_from)


def opened(res):
    f = res.fills[res.fills["reason"] == "open"]
    return float(f.loc[f["instrument"] == "perp", "qty"].iloc[0])


def test_the_fund_pays_a_market_deficit_it_can_cover_and_nothing_happens_to_us():
    res = run_backtest(PerpShort(collateral="usdt", leverage=2.0), crash_data((bankruptcy(40_000.0),)), cfg(50_000.0))
    assert not (res.ledger["kind"] == "adl").any()
    ev = res.venue_events
    assert ev.loc[ev["kind"] == "bankruptcy", "amount"].tolist() == [-40_000.0]       # the fund's draw


def test_an_empty_fund_deleverages_our_profitable_short_at_the_bankruptcy_price():
    # fund 10,000 against a 40,000 loss: 30,000 (75 %) uncovered -> 75 % of the 500 ETH of bankrupt longs is
    # deleveraged from profitable shorts: 375 ETH, more than our whole short (q ~ 33), which is closed at 1,880
    # with no fee: realized |q| x (2,000 - 1,880) = 120 |q|, ledger kind `adl`; the hedge is then restored.
    res = run_backtest(PerpShort(collateral="usdt", leverage=2.0), crash_data((bankruptcy(40_000.0),)), cfg(10_000.0))
    q = opened(res)
    row = res.ledger[res.ledger["kind"] == "adl"]
    assert len(row) == 1 and row["ts"].iloc[0] == T0 + 6 * H
    assert row["amount"].iloc[0] == pytest.approx(-q * 120.0, rel=1e-12)
    assert res.timeline["binance:perp_qty"].iloc[6] == 0.0
    restore = res.fills[res.fills["reason"] == "restore hedge after ADL"]
    assert len(restore) == 1 and restore["qty"].iloc[0] == pytest.approx(q, rel=1e-12)


def test_only_a_share_of_a_small_uncovered_part_is_taken():
    # fund 39,990 against 40,000: 10 uncovered (0.025 %) -> 0.025 % of 500 ETH = 0.125 ETH of our short
    res = run_backtest(PerpShort(collateral="usdt", leverage=2.0), crash_data((bankruptcy(40_000.0),)), cfg(39_990.0))
    q = opened(res)
    assert res.timeline["binance:perp_qty"].iloc[6] == pytest.approx(q + 0.125, rel=1e-12)


def test_our_rank_in_the_queue_decides_and_a_long_is_never_reached_by_bankrupt_longs():
    # our ADL score at bar 5's close (Binance's LeveragePnl): wallet W = the venue's cash, unrealized profit
    # u = -q x (2,000 - 1,900), maintenance at the mark: score = u / W x MM / (W + u). A queue that stopped at a
    # higher score does not reach us.
    res = run_backtest(PerpShort(collateral="usdt", leverage=2.0), crash_data((bankruptcy(40_000.0),)), cfg(10_000.0))
    q = opened(res)
    led = res.ledger[res.ledger["ts"] < T0 + 6 * H]
    wallet = float(led.loc[led["venue"] == "binance", "amount"].sum())            # deposit - spot - fees, no funding
    u = -q * 100.0
    mm = ref.maintenance_margin(-q * 1900.0, *_eth_tiers())
    score = ref_leverage_pnl(wallet, u, mm)
    assert score == pytest.approx(leverage_pnl(wallet, u, mm), rel=1e-12)
    assert score > 0
    deep = run_backtest(PerpShort(collateral="usdt", leverage=2.0),
                        crash_data((bankruptcy(40_000.0, adl_from=score * 1.01),)), cfg(10_000.0))
    assert not (deep.ledger["kind"] == "adl").any()
    reached = run_backtest(PerpShort(collateral="usdt", leverage=2.0),
                           crash_data((bankruptcy(40_000.0, adl_from=score * 0.99),)), cfg(10_000.0))
    assert (reached.ledger["kind"] == "adl").sum() == 1
    # bankrupt SHORTS deleverage profitable longs: our short is not on that side
    other = run_backtest(PerpShort(collateral="usdt", leverage=2.0),
                         crash_data((bankruptcy(40_000.0, side="short"),)), cfg(10_000.0))
    assert not (other.ledger["kind"] == "adl").any()


def ref_leverage_pnl(wallet, upnl, mm):
    """Binance FAQ 360033525471, written out: PnL% = max(0, UP) / max(1, WB); margin ratio = MM / (WB + UP)."""
    pnl_pct = max(0.0, upnl) / max(1.0, wallet)
    return pnl_pct * mm / (wallet + upnl) if wallet + upnl > 0 else 0.0


def _eth_tiers():
    from basisbt.data.venues import load_venue
    t = load_venue("binance", at=T0).tier_table("ETH")
    return t.floor, t.rate, t.amount


def test_a_halt_that_stops_marks_and_funding():
    # a 5x USDT short; the mark spikes to 2,600 in bars 4-5 (inside a halt from bar 4's open to bar 6's open) and
    # a settlement of +0.05 % at 05:00 falls inside it. With stop_marks the venue's mark holds 2,000 in the halt:
    # no liquidation there, no funding paid; without it the short is liquidated in bar 4.
    close = np.full(10, 2000.0)
    high = close.copy()
    high[4:6] = 2600.0
    fund = funding([T0 + 3 * H, T0 + 5 * H], [0.0005, 0.0005])
    ds = dataset(bars(close), mark=bars(close, high=high), fund=fund)
    halt = dict(kind="halt", venue="binance", start="2025-01-01T04:00:00Z", end="2025-01-01T06:00:00Z",
                stop_trading=True, stop_withdrawals=True)
    plain = run_backtest(PerpShort(collateral="usdt", leverage=5.0),
                         replace(ds, venue_events=parse_venue_events([halt], ["binance"], "t")), RunConfig(slippage=0.0))
    assert len(plain.liquidations) == 1
    frozen = run_backtest(PerpShort(collateral="usdt", leverage=5.0),
                          replace(ds, venue_events=parse_venue_events([{**halt, "stop_marks": True,
                                                                         "stop_funding": True}], ["binance"], "t")),
                          RunConfig(slippage=0.0))
    assert len(frozen.liquidations) == 0
    assert (frozen.timeline["binance:mark_px"] == 2000.0).all()
    paid = frozen.ledger[frozen.ledger["kind"] == "funding"]
    assert paid["ts"].tolist() == [T0 + 3 * H]                  # the 03:00 settlement (bar 2 closes 03:00) only
    # without stop_funding the 05:00 settlement (bar 4) is paid: a halt that stops marks only
    marks_only = run_backtest(PerpShort(collateral="usdt", leverage=5.0),
                              replace(ds, venue_events=parse_venue_events([{**halt, "stop_marks": True}], ["binance"],
                                                                          "t")), RunConfig(slippage=0.0))
    assert marks_only.ledger.loc[marks_only.ledger["kind"] == "funding", "ts"].tolist() == [T0 + 3 * H, T0 + 5 * H]


def test_bad_bankruptcy_entries_name_the_rule():
    base = dict(kind="bankruptcy", venue="binance", time="2025-01-01T06:00:00Z", side="long", qty=1.0,
                price=1880.0, loss=100.0)
    parse_venue_events([base], ["binance"], "d.toml")
    for bad, msg in (({"side": "up"}, "side must be one of long, short"), ({"qty": 0}, "qty and loss must be > 0"),
                     ({"adl_from": -1}, "adl_from must be >= 0"), ({"fraction": 1}, "unknown key 'fraction'")):
        with pytest.raises(DataError, match=msg):
            parse_venue_events([{**base, **bad}], ["binance"], "d.toml")
