"""The oracle a venue pays funding on (data/oracle.py): the weighted median, the basket, the choices, and a run
that pays Hyperliquid's funding on the oracle while margin stays on the mark."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basisbt.data.dataset import Dataset
from basisbt.data.oracle import attach_oracle, basket, weighted_median
from basisbt.data.venues import VenueSet
from basisbt.engine.config import ConfigError, RunConfig
from tests.helpers import T0, ShortOnce, bars, funding
from tests.runs import run_backtest

HL_W = {"binance": 3, "okx": 2, "bybit": 2, "kraken": 1, "kucoin": 1, "gate": 1, "mexc": 1, "hyperliquid": 1}


@pytest.mark.parametrize("values, weights, want", [
    ([1.0, 2.0, 3.0], [3, 2, 2], 2.0),            # half of 7 = 3.5 reached at 2 (cum 3, 5, 7)
    ([3.0, 1.0, 2.0], [3, 2, 2], 2.0),            # sorted 1.0 (w 2), 2.0 (w 2), 3.0 (w 3): cum 2, 4 >= 3.5 at 2.0
    ([10.0, 20.0], [1, 1], 15.0),                 # exactly half at 10: the mean with the next, as the plain median
    ([np.nan, 2.0, 3.0], [3, 2, 2], 2.5),         # binance missing: 4 in all, half reached exactly at 2
    ([np.nan, np.nan], [1, 1], np.nan),
])
def test_weighted_median_by_hand(values, weights, want):
    got = weighted_median(np.array([values]), np.array(weights, float))[0]
    assert (np.isnan(got) and np.isnan(want)) or got == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1000, 5000), st.integers(1, 4)), min_size=1, max_size=8))
def test_weighted_median_is_the_median_of_values_repeated_by_their_integer_weights(pairs):
    values = np.array([float(v) for v, _ in pairs])
    weights = np.array([float(w) for _, w in pairs])
    expanded = np.repeat(values, weights.astype(int))
    assert weighted_median(values[None, :], weights)[0] == pytest.approx(float(np.median(expanded)), abs=1e-9)


def _bars_at(closes, start=T0):
    return bars(np.asarray(closes, float), start=start)


def test_basket_takes_each_venue_that_has_a_bar_then():
    frames = {"binance": _bars_at([100, 100, 100]), "okx": _bars_at([110, 110, 110]),
              "bybit": _bars_at([90, 90], start=T0 + pd.Timedelta(hours=1))}
    out = basket(frames, {"binance": 3, "okx": 2, "bybit": 2})
    # 00:00: binance 3 + okx 2 -> half 2.5 reached at 100; 01:00 and 02:00: 90 (2), 100 (3), 110 (2): half 3.5 at 100
    assert out["close"].tolist() == [100.0, 100.0, 100.0]
    frames["okx"] = _bars_at([130, 130, 130])
    frames["bybit"] = _bars_at([120, 120, 120])
    assert basket(frames, {"binance": 3, "okx": 2, "bybit": 2})["close"].tolist() == [120.0] * 3   # 100 (3) < 3.5
    assert (out["high"] >= out[["open", "close"]].max(axis=1)).all()


def test_a_filled_bar_is_no_price_in_the_basket():
    # okx's 01:00 bar was written by --fill-gaps: 01:00 is binance (3) and bybit (2) only -> half 2.5 at 100
    okx = _bars_at([130, 130, 130]).assign(filled=[False, True, False])
    out = basket({"binance": _bars_at([100, 100, 100]), "okx": okx, "bybit": _bars_at([90, 90, 90])},
                 {"binance": 3, "okx": 2, "bybit": 2})
    assert out["close"].tolist() == [100.0, 100.0, 100.0]
    alone = basket({"okx": okx}, {"okx": 2})                  # no real bar at 01:00: a gap of the oracle
    assert alone["ts"].tolist() == [T0, T0 + pd.Timedelta(hours=2)]


def _hl_dataset(oracle_close=None, spot_close=2000.0, mark_close=3000.0, with_binance=True):
    n = 12
    spot = _bars_at(np.full(n, spot_close))
    perp = _bars_at(np.full(n, mark_close))
    fund = funding([T0 + pd.Timedelta(hours=h) for h in range(2, n)], [0.0001] * (n - 2))
    ds = Dataset("hl", "ETH/USDT", "1h", {"hyperliquid": perp, **({"binance": spot} if with_binance else {})},
                 {"hyperliquid": perp}, {}, {"hyperliquid": fund})
    if oracle_close is not None:
        ds = Dataset("hl", "ETH/USDT", "1h", ds.spot, ds.perp, funding=ds.funding,
                     oracle={"hyperliquid": _bars_at(np.full(n, oracle_close)).drop(columns="volume")})
    return ds


def test_auto_prefers_imported_then_basket_then_own_spot():
    vs = VenueSet()
    _, used, log = attach_oracle(_hl_dataset(oracle_close=2500.0), vs, {})
    assert used == {"hyperliquid": "imported oracle bars"}
    _, used, _ = attach_oracle(_hl_dataset(), vs, {})
    # binance 3 and hyperliquid's own spot 1 (here its perp bars stand in as its spot): half of 4 at 2000 -> mean
    assert used["hyperliquid"].startswith("weighted median of spot binance 3, hyperliquid 1 (of the venue file's")
    out, used, log = attach_oracle(_hl_dataset(), vs, {"hyperliquid": "binance"})
    assert out.oracle["hyperliquid"]["close"].eq(2000.0).all()
    assert "funding paid on size x oracle price, the oracle = binance spot" in log[0]


@pytest.mark.parametrize("choice, says", [
    ({"binance": "basket"}, "oracle.binance: binance is not a venue of the data that pays funding on an oracle"),
    ({"hyperliquid": "imported"}, "the data has no hyperliquid oracle bars"),
    ({"hyperliquid": "kraken"}, "oracle.hyperliquid = 'kraken'; valid: auto, imported, basket or a venue"),
])
def test_bad_oracle_choices_are_refused(choice, says):
    # a run-config choice, refused as a config error: the message starts with the key, not a data file's "<frame>"
    with pytest.raises(ConfigError, match="^" + re.escape("oracle")) as e:
        attach_oracle(_hl_dataset(), VenueSet(), choice)
    assert says in str(e.value)


def test_oracle_bars_of_a_mark_venue_are_not_used():
    ds = _hl_dataset()
    ds = Dataset("x", "ETH/USDT", "1h", ds.spot, {"binance": ds.spot["binance"], **ds.perp}, funding=ds.funding,
                 oracle={"binance": ds.spot["binance"].drop(columns="volume")})
    out, used, log = attach_oracle(ds, VenueSet(), {})
    assert set(out.oracle) == {"hyperliquid"} and "binance: oracle bars not used" in log[0]


def test_run_config_refuses_a_bad_oracle_table():
    with pytest.raises(ConfigError, match="oracle must be a table"):
        RunConfig(oracle="binance")                     # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="oracle.hyperliquid"):
        RunConfig(oracle={"hyperliquid": "../x"})


def test_funding_is_paid_on_the_oracle_and_margin_stays_on_the_mark():
    # mark (= perp, no mark bars) flat at 3000, oracle flat at 2500; 1 ETH short filled at the open of bar 1 (01:00)
    # settlements 02:00 .. 11:00 (10 of them) at 0.01 %: received 10 x 1 x 2500 x 0.0001 = 2.50, not 3.00
    res = run_backtest(ShortOnce("hyperliquid"), _hl_dataset(oracle_close=2500.0),
                       RunConfig(slippage=0.0, initial_capital=10_000.0))
    assert res.metrics()["pnl"]["funding"] == pytest.approx(2.5, abs=1e-12)
    assert res.data_quality["venues"]["hyperliquid"]["funding"]["oracle"] == "imported oracle bars"
    # the same book on a venue paying on its mark (binance) is paid on 3000
    ds = _hl_dataset(oracle_close=2500.0)
    bn = Dataset("bn", "ETH/USDT", "1h", {"binance": ds.perp["hyperliquid"]}, {"binance": ds.perp["hyperliquid"]},
                 funding={"binance": ds.funding["hyperliquid"]})
    assert run_backtest(ShortOnce("binance"), bn, RunConfig(slippage=0.0, initial_capital=10_000.0)).metrics()["pnl"][
        "funding"] == pytest.approx(3.0, abs=1e-12)
    # margin is on the mark: maintenance = 1 ETH x 3000 x 1 % (one tier at 50x in 2025-01), not 2500 x 1 %
    assert res.timeline["hyperliquid:maint_margin"].iloc[-1] == pytest.approx(30.0, abs=1e-9)
