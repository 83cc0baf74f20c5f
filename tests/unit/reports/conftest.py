"""Report tests read real engine Results: small runs of the built-in strategies on embedded scenarios, made
once per session (each well under a second), so every column, ledger kind and id a report reads is one the
engine writes. The several-asset run further down stays hand-built: its allocation shares and switches are
exact by construction, which is what its tests check.
"""
from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from basisbt.engine.results import PNL_PARTS
from basisbt.results import Results


@cache
def real_run(strategy: str, scenario: str, **params) -> Results:
    """One built-in strategy on one embedded scenario, as `basisbt run` runs it (default RunConfig)."""
    from basisbt.data.sources import resolve_data
    from basisbt.strategies.registry import builtin_strategies
    from tests.runs import run_backtest
    return run_backtest(builtin_strategies()[strategy](**params), resolve_data(f"scenario:{scenario}"),
                        data_label=f"scenario:{scenario}")


@pytest.fixture(scope="session")
def crash_run() -> Results:
    """perp_short on feb-2025-crash: 504 hourly bars (503 h between the first and last close), one venue
    hedged, funding received and, in the crash, paid."""
    return real_run("perp_short", "feb-2025-crash")


@pytest.fixture(scope="session")
def liq_run() -> Results:
    """perp_short with USDT margin at 5x on squeeze: the binance short is liquidated once, with an insurance loss."""
    return real_run("perp_short", "squeeze", collateral="usdt", leverage=5.0)


@pytest.fixture(scope="session")
def synth_run() -> Results:
    """synthetic_dollar on feb-2025-crash: three venues, mints and redemptions (flows), backing ratio, reserve
    fund and staker APY."""
    return real_run("synthetic_dollar", "feb-2025-crash")


@pytest.fixture(scope="session")
def rotation_run() -> Results:
    """funding_allocator on btc-eth-rotation: ETH and BTC on binance, bybit and okx for June 2025; ETH's funding
    is negative from 06-11 to 06-21 while BTC's stays positive."""
    return real_run("funding_allocator", "btc-eth-rotation")


# ---- runs over several base assets ('venue:ASSET' slots) ----

MULTI_MARKS = {"ETH": 2000.0, "BTC": 40000.0, "SOL": 100.0}

# (first bar, {slot: hedge notional in quote}); slots not named are flat. Prices are constant, so the
# shares below are exact: ETH 60 % from bar 1, 20 % from bar 40, 26 % from bar 60 (a 6-point step, no
# switch), 32 % from bar 70 (12 points from the last listed 20 %: a switch), flat from bar 90.
TWO_ASSET_SCHEDULE: list[tuple[int, dict[str, float]]] = [
    (0, {}),
    (1, {"binance:ETH": 300e3, "bybit:ETH": 200e3, "okx:ETH": 100e3,
         "binance:BTC": 200e3, "bybit:BTC": 100e3, "okx:BTC": 100e3}),
    (40, {"binance:ETH": 100e3, "bybit:ETH": 50e3, "okx:ETH": 50e3,
          "binance:BTC": 400e3, "bybit:BTC": 200e3, "okx:BTC": 200e3}),
    (60, {"binance:ETH": 130e3, "bybit:ETH": 80e3, "okx:ETH": 50e3,
          "binance:BTC": 400e3, "bybit:BTC": 170e3, "okx:BTC": 170e3}),
    (70, {"binance:ETH": 160e3, "bybit:ETH": 110e3, "okx:ETH": 50e3,
          "binance:BTC": 400e3, "bybit:BTC": 140e3, "okx:BTC": 140e3}),
    (90, {}),
]


def make_multi_results(schedule: list[tuple[int, dict[str, float]]] = TWO_ASSET_SCHEDULE,
                       assets: tuple[str, ...] = ("ETH", "BTC"), n_bars: int = 96) -> Results:
    """A hand-built several-asset run: slots 'venue:ASSET' on binance, bybit and okx, hedge notionals from
    `schedule` at constant marks, spot long = perp short, 8-hourly funding, each venue's slots sharing
    one cross wallet (identical margin columns), and a per-slot attribution whose parts are booked in
    the timeline at the middle bar so that the parts add up to the equity change."""
    venues = ("binance", "bybit", "okx")
    slots = [f"{v}:{a}" for v in venues for a in assets]
    ts = pd.date_range("2025-03-01 01:00", periods=n_bars, freq="h", tz="UTC", name="ts").as_unit("ns")
    notional = {s: np.zeros(n_bars) for s in slots}
    starts = [b for b, _ in schedule] + [n_bars]
    for (b, book), end in zip(schedule, starts[1:], strict=True):
        for s in slots:
            notional[s][b:end] = book.get(s, 0.0)
    cols: dict[str, np.ndarray] = {}
    settle = (np.arange(n_bars) % 8) == 7
    for k, s in enumerate(slots):
        v, a = s.split(":")
        px = MULTI_MARKS[a]
        qty = notional[s] / px
        j = venues.index(v)
        cols[f"{s}:spot_qty"] = qty
        cols[f"{s}:perp_qty"] = -qty
        cols[f"{s}:spot_px"] = np.full(n_bars, px)
        cols[f"{s}:perp_px"] = np.full(n_bars, px)
        cols[f"{s}:mark_px"] = np.full(n_bars, px)
        cols[f"{s}:basis"] = np.full(n_bars, 0.0002 * (k + 1))
        cols[f"{s}:funding_rate"] = np.where(settle, 0.0001 * (1 + j) * (1 + assets.index(a)), np.nan)
        wallet = sum(notional[f"{v}:{b}"] for b in assets)      # a venue's cross wallet: same for its slots
        cols[f"{s}:margin_balance"] = 0.5 * wallet
        cols[f"{s}:maint_margin"] = 0.005 * wallet
        has = qty != 0
        cols[f"{s}:liq_px"] = np.where(has, px * (1.4 + 0.1 * j), np.nan)
        cols[f"{s}:dist_liq"] = np.where(has, 0.4 + 0.1 * j, np.nan)
    # attribution: distinct hand-picked numbers per slot, lending its own row
    attr = pd.DataFrame(0.0, index=[*slots, "lending"], columns=list(PNL_PARTS))
    for k, s in enumerate(slots):
        attr.loc[s, "funding"] = 1000.0 * (k + 1)
        attr.loc[s, "basis"] = -50.0 * (k + 1)
        attr.loc[s, "fees"] = -20.0 * (k + 1)
        attr.loc[s, "slippage"] = -5.0
    attr.loc["lending", "lending"] = 321.0
    attr.index.name = "venue"
    parts = {p: np.zeros(n_bars) for p in PNL_PARTS}
    for p in PNL_PARTS:
        parts[p][n_bars // 2] = float(attr[p].sum())
    initial = 1_000_000.0
    equity = initial + np.cumsum(sum(parts[p] for p in PNL_PARTS))
    timeline = pd.DataFrame({"equity": equity, **{f"pnl_{p}": parts[p] for p in PNL_PARTS},
                             "lending_value": np.zeros(n_bars), "in_transit": np.zeros(n_bars),
                             "flows": np.zeros(n_bars), **cols}, index=ts)
    fills = []
    prev = {s: 0.0 for s in slots}
    for i in range(n_bars):
        for s in slots:
            q = notional[s][i] / MULTI_MARKS[s.split(":")[1]]
            if q != prev[s]:
                for instrument, sign in (("spot", 1.0), ("perp", -1.0)):
                    fills.append({"ts": ts[i] - pd.Timedelta(hours=1), "venue": s, "instrument": instrument,
                                  "qty": sign * (q - prev[s]), "price": MULTI_MARKS[s.split(":")[1]],
                                  "ref_price": MULTI_MARKS[s.split(":")[1]], "fee": 1.0, "slippage": 0.5,
                                  "reason": "rebalance"})
                prev[s] = q
    name = "+".join(a.lower() for a in assets)
    return Results(
        strategy="funding_allocator", dataset=f"scenario:fake-{name}", venues=tuple(slots), protocols=(),
        initial_equity=initial, timeline=timeline, ledger=pd.DataFrame(columns=["ts", "venue", "kind", "amount", "ref"]),
        fills=pd.DataFrame(fills), liquidations=pd.DataFrame(), attribution=attr,
        config={"strategy": "funding_allocator", "data": f"scenario:fake-{name}", "initial_equity": initial},
        config_id="7c" + "0" * 62, data_fingerprint="sha256:" + "cd" * 32, params={}, extras={}, log=("fake run",))


@pytest.fixture(scope="session")
def multi_results() -> Results:
    """A two-asset (ETH, BTC) run over binance, bybit and okx: six slots, known shares and switches."""
    return make_multi_results()
