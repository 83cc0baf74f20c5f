"""Square-root volume impact (`RunConfig.slippage_impact`), worked by hand through whole runs.

docs/architecture.md §4: the fill moves the price against the order by slippage + slippage_impact x
sqrt(min(|qty| / bar volume, 1)), the volume being that of the bar whose open the order fills at. Prices are
flat at 2,000, fees pinned by override (spot 0.1 %, perp 0.05 %).
"""
from __future__ import annotations

import math

import pandas as pd
import pytest

from basisbt.data.dataset import Dataset
from basisbt.engine.config import RunConfig
from basisbt.engine.context import Context
from basisbt.engine.events import BarEvent
from basisbt.strategies.base import Strategy
from basisbt.strategies.perp_short import PerpShort
from tests.runs import run_backtest

T0 = pd.Timestamp("2025-03-03", tz="UTC")
P = 2000.0
FEES = {"binance": {"taker_fee": 0.0005, "spot_taker_fee": 0.001}}


def flat(n: int, volume: float) -> pd.DataFrame:
    return pd.DataFrame({"ts": pd.date_range(T0, periods=n, freq="1h", tz="UTC").astype("datetime64[ns, UTC]"),
                         "open": P, "high": P, "low": P, "close": P, "volume": volume})


def dataset(volume: float) -> Dataset:
    return Dataset("impact", "ETH/USDT", "1h", {"binance": flat(6, volume)}, {"binance": flat(6, volume)},
                   {"binance": flat(6, volume).drop(columns="volume")})


def test_perp_short_pays_the_square_root_impact() -> None:
    # perp_short buys 1,000,000 x 0.99 / 2,000 = 495 ETH spot and shorts 495 perp. Each bar trades 49,500 ETH:
    # participation 1 %, sqrt = 0.1, impact 1 % x 0.1 = 10 bp, plus 1 bp fixed = 11 bp on each leg.
    res = run_backtest(PerpShort(), dataset(49_500.0),
                       RunConfig(slippage=0.0001, slippage_impact=0.01, venue_overrides=FEES))
    f = res.fills.set_index("instrument")
    assert f.loc["spot", "qty"] == 495.0 and f.loc["perp", "qty"] == -495.0
    assert f.loc["spot", "price"] == pytest.approx(2002.2, abs=1e-9)         # 2,000 x 1.0011
    assert f.loc["perp", "price"] == pytest.approx(1997.8, abs=1e-9)         # 2,000 x 0.9989
    assert f.loc["spot", "slippage"] == pytest.approx(1089.0, abs=1e-6)      # 495 x 2.2
    assert f.loc["perp", "slippage"] == pytest.approx(1089.0, abs=1e-6)
    m = res.metrics()
    assert m["pnl"]["slippage"] == pytest.approx(-2178.0, abs=1e-6)
    # fees on the moved prices: 495 x 2002.2 x 0.1 % + 495 x 1997.8 x 0.05 % = 991.089 + 494.4555
    assert m["pnl"]["fees"] == pytest.approx(-1485.5445, abs=1e-6)
    assert m["equity_end"] == pytest.approx(1_000_000.0 - 2178.0 - 1485.5445, abs=1e-6)


class BuyTooMuch(Strategy):
    """Orders 1,000 ETH of spot with cash for about 500, once."""

    name = "buy_too_much"
    summary = "test helper"

    def on_bar(self, ctx: Context, ev: BarEvent) -> None:
        if ev.bar == 0:
            ctx.order("binance", "spot", 1000.0, "too much")


def test_a_buy_the_cash_cannot_pay_is_refused_whole() -> None:
    # 1,000 of 40,000: 1 bp + 1 % x sqrt(0.025) = 0.0016811388, so it would cost 1,000 x 2,003.36 x 1.001 =
    # 2,005,366, twice the 1,000,000 of cash. A venue refuses it (Binance -2010): it does not fill the ~498.7 ETH
    # the cash would pay for (the rule until issue 23 item 9), nothing fills and nothing is paid
    res = run_backtest(BuyTooMuch(), dataset(40_000.0),
                       RunConfig(slippage=0.0001, slippage_impact=0.01, venue_overrides=FEES))
    slip_asked = 0.0001 + 0.01 * math.sqrt(1000.0 / 40_000.0)
    assert 1000.0 * P * (1 + slip_asked) * 1.001 > 1_000_000.0
    assert res.fills.empty
    assert res.orders_rejected == {"binance spot refused: not enough cash": 1}
    assert res.timeline["equity"].iloc[-1] == 1_000_000.0
