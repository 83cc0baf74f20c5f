"""The perp_short goldens, re-derived in backtrader (tests/oracles/backtrader_bridge.py) from the same data: rtol 1e-9.

An independent engine (backtrader's broker, commission and slippage code, the bridge's funding
analyzer) on the golden case's data, fees from the venue spec, and the same 1 bp slippage on
open fills (`set_slippage_perc(slip_open=True, slip_match=False)`): every equity checkpoint,
equity_end, total funding and the fill count of each perp_short golden without liquidations
must agree. Liquidation cases are outside the bridge (it does not model liquidation), and so are
cases with an ADL or a venue default (venue events, engine/venue_events.py).
"""
from __future__ import annotations

import backtrader as bt  # a hard dependency (pyproject.toml): missing is an error, not a skip
import pandas as pd
import pytest

from basisbt.batch.execute import load_data
from basisbt.engine.config import RunConfig
from basisbt.regress.golden import DEFAULT_GOLDEN_DIR, DataAbsent, builtin_cases, case_spec, read_golden

pytestmark = pytest.mark.slow

RTOL = 1e-9
CASES = [c for c in builtin_cases()
         if c.strategy == "perp_short" and (DEFAULT_GOLDEN_DIR / f"{c.name}.toml").exists()
         and read_golden(DEFAULT_GOLDEN_DIR / f"{c.name}.toml").get("metrics.liquidations") == 0
         # nor venue events that move the book (ADL, a default): the bridge has no such thing
         and not any(k.startswith(("ledger.adl.", "ledger.default_loss."))
                     for k in read_golden(DEFAULT_GOLDEN_DIR / f"{c.name}.toml"))]


def run_in_backtrader(ds, slippage: float, params: dict, cash: float = 1_000_000.0):
    """The bridge's perp_short set-up (tests.oracles.backtrader_bridge.run_perp_short) plus slippage."""
    from tests.oracles import backtrader_bridge as B
    venue = params.get("venue", "binance")
    spec = B.load_venue(venue, at=ds.perp[venue]["ts"].iloc[0])
    lev = float(params.get("leverage", 3.0)) if params.get("collateral", "spot") == "usdt" \
        else B.SPOT_COLLATERAL_LEVERAGE
    cerebro = bt.Cerebro(stdstats=False, runonce=False, preload=True)
    spot, perp = B.venue_feeds(ds, venue)
    cerebro.adddata(spot, name="spot")
    cerebro.adddata(perp, name="perp")
    broker = cerebro.getbroker()
    broker.set_cash(cash)
    broker.set_shortcash(False)
    broker.set_checksubmit(False)
    broker.set_slippage_perc(slippage, slip_open=True, slip_limit=True, slip_match=False, slip_out=True)
    broker.addcommissioninfo(B.SpotCommInfo(commission=spec.spot_taker_fee), name="spot")
    broker.addcommissioninfo(B.PerpCommInfo(commission=spec.taker_fee, margin_leverage=lev), name="perp")
    cerebro.addanalyzer(B.FundingAnalyzer, _name="funding")
    cerebro.addanalyzer(B.FillCounter, _name="fills")
    cerebro.addstrategy(B.PerpShortBT, tiers=spec.tier_table(ds.base), **params)
    st = cerebro.run()[0]
    B.keep_agg_backend()
    tf = pd.Timedelta(ds.timeframe)
    eq = st.analyzers.funding.get_analysis()["equity"]
    equity = pd.Series([v for _, v in eq], index=pd.DatetimeIndex([pd.Timestamp(t).tz_localize("UTC") + tf
                                                                     for t, _ in eq]))
    n_fills = sum(1 for f in st.analyzers.fills.get_analysis() if f[2] != 0.0)
    return equity, st.analyzers.funding.total, n_fills


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_perp_short_golden_agrees_with_backtrader(case) -> None:
    try:                                        # the data the case runs on, loaded as the executor loads it
        ds = load_data(case_spec(case).data)
    except DataAbsent as e:                     # an optional real-data case on a clone without ../shared
        pytest.skip(str(e))
    cfg = RunConfig(**case.run)
    if cfg.start or cfg.end:
        ds = ds.between(pd.Timestamp(cfg.start, tz="UTC") if cfg.start else None,
                        pd.Timestamp(cfg.end, tz="UTC") if cfg.end else None)
    golden = read_golden(DEFAULT_GOLDEN_DIR / f"{case.name}.toml")
    equity, funding, n_fills = run_in_backtrader(ds, cfg.slippage, case.params, cfg.initial_capital)
    assert n_fills == golden["metrics.n_fills"]
    assert funding == pytest.approx(golden["metrics.pnl.funding"], rel=RTOL)
    assert equity.iloc[-1] == pytest.approx(golden["metrics.equity_end"], rel=RTOL)
    checkpoints = {k: v for k, v in golden.items() if k.startswith("equity.")}
    assert len(checkpoints) >= 2
    for key, value in checkpoints.items():
        assert equity.loc[pd.Timestamp(key[len("equity."):])] == pytest.approx(value, rel=RTOL), key
