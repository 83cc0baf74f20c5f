"""The closed-form flat-price case: an independent check of perp_short's headline numbers.

Prices never move (spot = perp = mark = 2,000 on every bar), so equity changes only by fees,
slippage and funding, each computable by hand. This is the check that blessed perp_short's
goldens together with `engine.golden.bless_checks` (which also runs here on the same run).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from basisbt.data.dataset import Dataset
from basisbt.data.schemas import TS_DTYPE
from basisbt.data.venues import load_venue
from basisbt.engine.config import RunConfig
from basisbt.engine.runner import Engine
from basisbt.regress.golden import CaseRun, GoldenCase, bless_checks, golden_values
from basisbt.results import Results
from basisbt.strategies.perp_short import PerpShort

P = 2000.0
START = pd.Timestamp("2025-03-03 00:00", tz="UTC")
BARS = 72                                   # three days of 1h bars, 00:00 .. 23:00 (closes 01:00 .. day 4 00:00)
# settlement time (hour offset from START) -> rate per 8h
RATES = {0: 0.0003,     # 00:00 day 1: belongs to no bar (t == first open): nothing paid, no position yet
         8: 0.0001,     # 08:00: short 495 earns 495 * 2000 * 0.0001 = 99.00
         16: 0.0002,    # 16:00: earns 198.00
         24: -0.0001,   # day 2 00:00: negative rate, the short PAYS 99.00
         32: 0.0001,    # 99.00
         40: 0.00005,   # 49.50
         48: 0.0003,    # day 3 00:00: 297.00
         56: 0.0001,    # 99.00
         64: 0.0002}    # 198.00            -> sum of paid rates 0.00095: 940.50 earned in total


def flat_dataset() -> Dataset:
    ts = pd.Series(pd.date_range(START, periods=BARS, freq="1h")).astype(TS_DTYPE)
    bars = pd.DataFrame({"ts": ts, "open": P, "high": P, "low": P, "close": P, "volume": 1e6})
    mark = bars.drop(columns="volume")
    f_ts = pd.Series([START + pd.Timedelta(hours=h) for h in RATES]).astype(TS_DTYPE)
    funding = pd.DataFrame({"ts": f_ts, "rate": list(RATES.values())})
    return Dataset("flat-2000", "ETH/USDT", "1h", {"binance": bars}, {"binance": bars.copy()},
                   {"binance": mark}, {"binance": funding})


@pytest.fixture(scope="module")
def flat_run() -> CaseRun:
    ds = flat_dataset()
    cfg = RunConfig()                        # 1,000,000 capital, 1 bp slippage, fills at the next open
    eng = Engine(PerpShort(), ds, cfg, data_label="flat-2000")
    res = Results.of(eng.run())
    return CaseRun(GoldenCase("perp_short__flat", "perp_short", "flat-2000"), res, eng.dataset, cfg,
                   golden_values(res), 0.0)


def test_flat_price_closed_form(flat_run: CaseRun) -> None:
    spec = load_venue("binance", at=START)
    res = flat_run.results
    m = res.metrics()
    cap, slip = 1_000_000.0, 0.0001
    # decision at the close of bar 0 (01:00), filled at the open of bar 1 (01:00), at 2,000 +/- 1 bp
    q = cap * (1 - 0.01) / P                 # cash_buffer 1 %: 990,000 of spot = 495 ETH
    assert q == 495.0
    spot_px, perp_px = P * (1 + slip), P * (1 - slip)          # 2000.2 bought, 1999.8 sold short
    spot_fee = q * spot_px * spec.spot_taker_fee               # 0.1 %: 990.099
    perp_fee = q * perp_px * spec.taker_fee                    # 0.05 %: 494.9505
    slippage = 2 * q * P * slip                                # 99 + 99
    paid = [r for h, r in RATES.items() if h > 0]              # every settlement after the open
    funding = math.fsum(q * P * r for r in paid)               # 940.50
    assert funding == pytest.approx(940.5, rel=1e-12)
    equity_end = cap - spot_fee - perp_fee - slippage + funding
    assert m["pnl"]["funding"] == pytest.approx(funding, rel=1e-12)
    assert m["pnl"]["fees"] == pytest.approx(-(spot_fee + perp_fee), rel=1e-12)
    assert m["pnl"]["slippage"] == pytest.approx(-slippage, rel=1e-12)
    assert m["pnl"]["price"] == pytest.approx(0.0, abs=1e-9) and m["pnl"]["basis"] == pytest.approx(0.0, abs=1e-9)
    assert m["equity_end"] == pytest.approx(equity_end, rel=1e-12)
    assert m["pnl"]["total"] == pytest.approx(equity_end - cap, rel=1e-12)
    assert (res.ledger["kind"] == "funding").sum() == len(paid)
    assert m["n_fills"] == 2 and m["liquidations"] == 0


def test_bless_checks_pass_on_flat_case(flat_run: CaseRun) -> None:
    assert bless_checks(flat_run) == []


def test_bless_checks_catch_a_wrong_number(flat_run: CaseRun) -> None:
    """The checks are not vacuous: a ledger funding row nudged by 1e-6 of the book is caught."""
    res = flat_run.results
    led = res.ledger.copy()
    k = int(np.flatnonzero(led["kind"].to_numpy() == "funding")[0])
    led.loc[k, "amount"] += 1.0
    bad = CaseRun(flat_run.case, res.__class__(**{**res.__dict__, "ledger": led}), flat_run.dataset,
                  flat_run.config, flat_run.values, 0.0)
    problems = bless_checks(bad)
    assert any("funding" in p for p in problems) and any("equity from ledger" in p for p in problems)
