"""perp_short in our engine and in backtrader (tests/oracles/backtrader_bridge.py) agree on the money, to 1e-6 relative.

Same data (a few hundred 1h bars of an embedded scenario), same fees, zero slippage, the same fill
timing (our fill='open' = backtrader's default next-open fill; fill='close' = set_coc(True)).
Compared: final equity, number of fills, total funding, and the whole equity curve bar by bar
(backtrader's equity is valued at mark and includes the funding its add_cash lands a bar late).
Cases: spot posted as collateral (Ethena set-up, 2 fills) on feb-2025-crash, and USDT margin at
5x with distance-to-liquidation top-ups on squeeze (10 fills). The scenarios' bars are
gapless (open = previous close), which would hide a fill-timing mismatch, so each case also runs
on a copy with gapped opens.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from basisbt.data.dataset import Dataset
from basisbt.data.scenarios import load_scenario
from basisbt.engine.config import RunConfig
from basisbt.strategies.perp_short import PerpShort
from tests.oracles.backtrader_bridge import run_perp_short  # imports backtrader, a hard dependency
from tests.runs import run_backtest

pytestmark = pytest.mark.slow

RTOL = 1e-6
FEES = {"taker_fee": 0.0005, "spot_taker_fee": 0.001}
BARS = 400
CASES = {
    "spot-collateral": ("feb-2025-crash", {}),
    "usdt-5x-topups": ("squeeze", {"collateral": "usdt", "leverage": 5.0, "min_liq_distance": 0.2}),
}


def _head(ds: Dataset, bars: int) -> Dataset:
    start = ds.perp[ds.venues[0]]["ts"].iloc[0]
    return ds.between(start, start + pd.Timedelta(hours=bars))


def _gapped(ds: Dataset) -> Dataset:
    """Opens moved off the previous close (+-0.3 %), high/low widened to stay valid."""
    def gap(f: pd.DataFrame) -> pd.DataFrame:
        f = f.copy()
        k = np.arange(len(f))
        f["open"] = f["open"] * (1.0 + 0.003 * np.sin(0.7 * k + 1.0))
        f["high"] = np.maximum(f["high"], f[["open", "close"]].max(axis=1))
        f["low"] = np.minimum(f["low"], f[["open", "close"]].min(axis=1))
        return f
    return Dataset(ds.name + "+gaps", ds.symbol, ds.timeframe, {v: gap(f) for v, f in ds.spot.items()},
                   {v: gap(f) for v, f in ds.perp.items()}, ds.mark, ds.funding, ds.lending, ds.flows, ds.notes)


@pytest.fixture(scope="module")
def datasets() -> dict[tuple[str, bool], Dataset]:
    out = {}
    for name in {c[0] for c in CASES.values()}:
        ds = _head(load_scenario(name, "1h"), BARS)
        out[(name, False)], out[(name, True)] = ds, _gapped(ds)
    return out


def _ours(ds: Dataset, fill: str, params: dict):
    cfg = RunConfig(slippage=0.0, fill=fill, venue_overrides={"binance": FEES})
    return run_backtest(PerpShort(venue="binance", **params), ds, cfg)


@pytest.mark.parametrize("gapped", [False, True], ids=["scenario", "gapped"])
@pytest.mark.parametrize("fill", ["open", "close"])
@pytest.mark.parametrize("case", list(CASES))
def test_perp_short_matches_backtrader(datasets, case: str, fill: str, gapped: bool) -> None:
    name, params = CASES[case]
    ds = datasets[(name, gapped)]
    ours = _ours(ds, fill, params)
    theirs = run_perp_short(ds, "binance", fill=fill, **FEES, **params)

    assert ours.liquidations.empty, "the bridge does not model liquidation: pick a case without one"
    assert theirs.rejected == 0
    assert theirs.n_fills == len(ours.fills)
    eq_ours = float(ours.equity.iloc[-1])
    funding_ours = float(ours.timeline["pnl_funding"].sum())
    assert theirs.final_equity == pytest.approx(eq_ours, rel=RTOL)
    assert theirs.funding_total == pytest.approx(funding_ours, rel=RTOL)
    assert funding_ours != 0.0
    # bar by bar, and fill by fill (time of the bar, side/size, price, fee)
    assert theirs.equity.index.equals(ours.equity.index)
    np.testing.assert_allclose(theirs.equity.to_numpy(), ours.equity.to_numpy(), rtol=RTOL)
    np.testing.assert_allclose([f[2] for f in theirs.fills], ours.fills["qty"].to_numpy(), rtol=RTOL)
    np.testing.assert_allclose([f[3] for f in theirs.fills], ours.fills["price"].to_numpy(), rtol=RTOL)
    np.testing.assert_allclose([f[4] for f in theirs.fills], ours.fills["fee"].to_numpy(), rtol=RTOL)


def test_cases_exercise_what_they_claim(datasets) -> None:
    """Top-ups happen in the USDT case; gapped opens make fill='open' and fill='close' differ."""
    name, params = CASES["usdt-5x-topups"]
    assert len(_ours(datasets[(name, False)], "open", params).fills) > 4
    ds = datasets[("feb-2025-crash", True)]
    a, b = _ours(ds, "open", {}), _ours(ds, "close", {})
    assert a.fills["price"].iloc[0] != pytest.approx(b.fills["price"].iloc[0], rel=1e-4)


def test_opening_fee_by_hand(datasets) -> None:
    """Spot collateral, 1e6 capital, 1 % kept as cash: spot notional 990,000 at 0.1 % taker = 990.00."""
    ds = datasets[("feb-2025-crash", False)]
    theirs = run_perp_short(ds, "binance", fill="close", **FEES)
    spot_fill = theirs.fills[0]
    assert spot_fill[1] == "spot"
    assert spot_fill[2] * spot_fill[3] == pytest.approx(990_000.0, rel=1e-12)
    assert spot_fill[4] == pytest.approx(990.0, rel=1e-12)
