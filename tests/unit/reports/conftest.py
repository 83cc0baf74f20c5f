"""A realistic fake `Results` for report tests until the engine lands.

480 hourly bars (20 days) of a delta-neutral book on two venues (binance, bybit) with 8h funding,
a crash on day 12 that liquidates the bybit short, a rotation of cash into one lending protocol
(aave), fills, a ledger and, for `synthetic=True`, synthetic-dollar extras. Every per-bar PnL part
is built from the positions and prices so that the parts sum exactly to the equity change.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from basisbt.engine.results import PNL_PARTS, Results

VENUES = ("binance", "bybit")
PROTOCOL = "aave"


def make_fake_results(n_bars: int = 480, seed: int = 7, synthetic: bool = False) -> Results:
    """Build a self-consistent fake run; equity = initial + cumsum(sum of pnl parts)."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2025-01-22 01:00", periods=n_bars, freq="h", tz="UTC", name="ts").as_unit("ns")
    crash = min(290, n_bars // 2)
    # spot: 70 % annual vol random walk, a -26 % crash over 6 hours, a partial rebound
    ret = rng.normal(0.0, 0.70 / np.sqrt(8760), n_bars)
    ret[crash:crash + 6] += np.log(1 - 0.26) / 6
    ret[crash + 6:crash + 30] += np.log(1.08) / 24
    spot = 3300.0 * np.exp(np.cumsum(ret))
    # basis per venue: small premium, binance dislocates to -5.8 %, bybit to -1 % in the crash
    basis = {}
    for v, trough in zip(VENUES, (-0.058, -0.010)):
        b = 0.0005 + rng.normal(0, 0.0002, n_bars)
        shape = np.zeros(n_bars)
        shape[crash:crash + 6] = np.linspace(0.3, 1.0, 6)
        shape[crash + 6:crash + 36] = np.linspace(1.0, 0.0, 30)
        basis[v] = b + trough * shape
    mark = {v: spot * (1 + basis[v]) for v in VENUES}
    # funding every 8 h: +0.01 % normally, negative through the crash
    settle = (np.arange(n_bars) % 8) == 7
    rates = {}
    for v, crash_rate in zip(VENUES, (-0.00025, -0.0001)):
        r = np.where(settle, 0.0001 + rng.normal(0, 0.00003, n_bars), np.nan)
        r[crash:crash + 24] = np.where(settle[crash:crash + 24], crash_rate, np.nan)
        rates[v] = r
    # positions (base units): 150/100 ETH long spot, same short perp; bybit perp liquidated at crash+4,
    # spot sold the next bar, re-entered 40 bars later with 80 ETH
    liq_bar = crash + 4
    spot_qty = {"binance": np.full(n_bars, 150.0), "bybit": np.full(n_bars, 100.0)}
    perp_qty = {"binance": np.full(n_bars, -150.0), "bybit": np.full(n_bars, -100.0)}
    perp_qty["bybit"][liq_bar:] = 0.0
    spot_qty["bybit"][liq_bar + 1:] = 0.0
    reentry = liq_bar + 40
    spot_qty["bybit"][reentry:] = 80.0
    perp_qty["bybit"][reentry:] = -80.0
    # lending: 120k quote rotated into aave after the crash, at 6-8.75 % APY
    apy = 0.06 + 0.0275 * np.exp(-np.abs(np.arange(n_bars) - crash - 10) / 30.0)
    lend_start = liq_bar + 1
    fee_rate, slip_rate = 0.0005, 0.0002

    fills: list[dict] = []

    def fill(i: int, venue: str, instrument: str, qty: float, px: float, reason: str) -> None:
        fills.append({"ts": ts[i], "venue": venue, "instrument": instrument, "qty": qty,
                      "price": px * (1 + np.sign(qty) * slip_rate), "ref_price": px,
                      "fee": abs(qty) * px * fee_rate, "slippage": abs(qty) * px * slip_rate,
                      "reason": reason})

    for v in VENUES:
        fill(0, v, "spot", spot_qty[v][0], spot[0], "open")
        fill(0, v, "perp", perp_qty[v][0], mark[v][0], "open")
    fill(liq_bar + 1, "bybit", "spot", -100.0, spot[liq_bar + 1], "unwind after liquidation")
    fill(reentry, "bybit", "spot", 80.0, spot[reentry], "re-enter")
    fill(reentry, "bybit", "perp", -80.0, mark["bybit"][reentry], "re-enter")
    fills_df = pd.DataFrame(fills)

    parts = {p: np.zeros(n_bars) for p in PNL_PARTS}
    by_venue = {v: {p: 0.0 for p in PNL_PARTS} for v in (*VENUES, "lending")}
    lending_value = np.zeros(n_bars)
    ledger: list[dict] = []
    liq_rows: list[dict] = []
    for i in range(n_bars):
        for v in VENUES:
            q_s = spot_qty[v][i - 1] if i else 0.0
            q_p = perp_qty[v][i - 1] if i else 0.0
            if i:
                d_spot = spot[i] - spot[i - 1]
                d_mark = mark[v][i] - mark[v][i - 1]
                price = (q_s + q_p) * d_spot          # residual delta
                bas = q_p * (d_mark - d_spot)          # short perp gains when basis falls
                if v == "bybit" and i == liq_bar:
                    bas = q_p * (0.0 - 0.0)           # closed at the liquidation price below
                parts["price"][i] += price
                parts["basis"][i] += bas
                by_venue[v]["price"] += price
                by_venue[v]["basis"] += bas
            if settle[i] and q_p:
                f = -q_p * mark[v][i] * rates[v][i]  # short receives when rate > 0
                parts["funding"][i] += f
                by_venue[v]["funding"] += f
                ledger.append({"ts": ts[i], "venue": v, "kind": "funding", "amount": f, "ref": ""})
        if i == liq_bar:
            liq_px = mark["bybit"][i]
            fee = 100.0 * liq_px * 0.0125
            ins = 0.0
            parts["liquidation"][i] -= fee + ins
            by_venue["bybit"]["liquidation"] -= fee + ins
            liq_rows.append({"ts": ts[i], "venue": "bybit", "qty": 100.0, "price": liq_px,
                             "fee": fee, "insurance_loss": ins})
            ledger.append({"ts": ts[i], "venue": "bybit", "kind": "liquidation_fee",
                           "amount": -fee, "ref": "liq-1"})
        if i >= lend_start:
            prev = lending_value[i - 1] if i > lend_start else 120_000.0
            interest = prev * ((1 + apy[i]) ** (1 / 8760) - 1)
            lending_value[i] = prev + interest
            parts["lending"][i] += interest
            by_venue["lending"]["lending"] += interest
            if i % 24 == 0:
                ledger.append({"ts": ts[i], "venue": PROTOCOL, "kind": "lending_interest",
                               "amount": interest, "ref": ""})
    for row in fills:
        i = ts.get_loc(row["ts"])
        parts["fees"][i] -= row["fee"]
        parts["slippage"][i] -= row["slippage"]
        by_venue[row["venue"]]["fees"] -= row["fee"]
        by_venue[row["venue"]]["slippage"] -= row["slippage"]
        ledger.append({"ts": row["ts"], "venue": row["venue"], "kind": "fee",
                       "amount": -row["fee"], "ref": row["reason"]})
    ledger.append({"ts": ts[lend_start], "venue": PROTOCOL, "kind": "lend", "amount": -120_000.0,
                   "ref": "rotate"})

    initial = 1_000_000.0
    pnl = sum(parts[p] for p in PNL_PARTS)
    equity = initial + np.cumsum(pnl)
    cols: dict[str, np.ndarray] = {"equity": equity}
    cols.update({f"pnl_{p}": parts[p] for p in PNL_PARTS})
    cols["lending_value"] = lending_value
    cols["in_transit"] = np.zeros(n_bars)
    for v, buffer in zip(VENUES, (0.35, 0.12)):
        notional = -perp_qty[v] * mark[v]
        maint = 0.005 * notional
        dist = buffer * (1 - 0.97 * np.clip(np.r_[np.zeros(crash), np.linspace(0.5, 1, 5),
                                                  np.linspace(1, 0, n_bars - crash - 5)], 0, 1))
        if v == "binance":
            dist = np.maximum(dist, 0.08)
        has = perp_qty[v] != 0
        liq_px = np.where(has, mark[v] * (1 + dist), np.nan)
        cols[f"{v}:spot_qty"] = spot_qty[v]
        cols[f"{v}:perp_qty"] = perp_qty[v]
        cols[f"{v}:spot_px"] = spot
        cols[f"{v}:mark_px"] = mark[v]
        cols[f"{v}:basis"] = basis[v]
        cols[f"{v}:funding_rate"] = rates[v]
        cols[f"{v}:margin_balance"] = np.where(has, maint + dist * notional, 0.0)
        cols[f"{v}:maint_margin"] = np.where(has, maint, 0.0)
        cols[f"{v}:liq_px"] = liq_px
        cols[f"{v}:dist_liq"] = np.where(has, np.abs(mark[v] - liq_px) / mark[v], np.nan)
    cols[f"{PROTOCOL}:supply"] = lending_value
    cols[f"{PROTOCOL}:apy"] = apy
    timeline = pd.DataFrame(cols, index=ts)

    attribution = pd.DataFrame.from_dict(by_venue, orient="index")[list(PNL_PARTS)]
    attribution.index.name = "venue"
    ledger_df = pd.DataFrame(ledger).sort_values("ts", kind="stable").reset_index(drop=True)
    extras: dict[str, pd.Series] = {}
    strategy = "perp_short"
    if synthetic:
        strategy = "synthetic_dollar"
        backing = 1.0 + 0.004 + np.cumsum(pnl) / 5e7
        backing[crash:crash + 30] -= np.linspace(0.012, 0.0, 30)
        extras["backing_ratio"] = pd.Series(backing, index=ts, name="backing_ratio")
        reserve = 2e6 + np.cumsum(np.where(pnl < 0, pnl, 0.1 * pnl))
        extras["reserve_fund"] = pd.Series(reserve, index=ts, name="reserve_fund")
        daily = ts[ts.hour == 0]
        extras["staker_apy"] = pd.Series(0.09 + rng.normal(0, 0.01, len(daily)), index=daily,
                                         name="staker_apy")
    config = {"strategy": strategy, "data": "scenario:fake-crash", "initial_equity": initial,
              "fill": "next_open", "venues": {"binance": {"margin": "cross", "taker_fee": fee_rate},
                                              "bybit": {"margin": "isolated", "taker_fee": fee_rate}},
              "params": {"hedge_ratio": 1.0, "min_rate": 0.0, "lend_below": -5e-05}}
    return Results(
        strategy=strategy, dataset="scenario:fake-crash", venues=VENUES, protocols=(PROTOCOL,),
        initial_equity=initial, timeline=timeline, ledger=ledger_df, fills=fills_df,
        liquidations=pd.DataFrame(liq_rows), attribution=attribution, config=config,
        config_id="3f9a0c" + "0" * 58, data_fingerprint="sha256:" + "ab" * 32,
        params=dict(config["params"]), extras=extras, log=("fake run",))


@pytest.fixture(scope="session")
def fake_results() -> Results:
    """A two-venue perp_short run with one liquidation."""
    return make_fake_results()


@pytest.fixture(scope="session")
def fake_synth() -> Results:
    """The same book as a synthetic_dollar run, with backing ratio, reserve fund and staker APY."""
    return make_fake_results(synthetic=True)


@pytest.fixture(scope="session")
def make_results() -> Callable[..., Results]:
    """The builder itself, for tests that need a variant."""
    return make_fake_results


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
    for (b, book), end in zip(schedule, starts[1:]):
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
