"""Run basisbt datasets in backtrader, to cross-check our engine's money on the same data.

backtrader is imported only here. What it provides:
- `PerpFeed`: a PandasData with two extra lines, `mark` (mark close) and `funding_rate` (the
  settlement's rate on the bar whose CLOSE the settlement falls at, 0 elsewhere), plus
  `funding_mark` (the mark price that settlement uses). Built from a canonical Dataset by
  `venue_feeds`, independently of engine/market.py.
- `PerpCommInfo`: a linear USDT-margined perpetual: taker fee as a fraction of notional,
  `stocklike=False` (variation margin moves cash every bar), margin = price / leverage locked at
  entry. backtrader's own `automargin` re-values the locked margin at every close, which makes
  `broker.getvalue()` drift by |q| (close - entry) / leverage; `getvalue` is overridden so the
  locked margin is valued at the entry price, as it was paid (needs `broker.set_shortcash(False)`).
- `FundingAnalyzer`: pays funding `-qty * mark * rate` into the broker's cash at each settlement
  and records the equity valued as our engine values it (perp at MARK, not at its last trade).
  `broker.add_cash` lands one bar late (in the next `broker.next`): the analyzer adds the
  not-yet-landed amount when it reports equity, so bar i's equity includes bar i's funding.
- `PerpShortBT`: `strategies.perp_short` written as a backtrader strategy on 2 feeds (spot, perp).
- `run_perp_short(dataset, ...)`: the whole set-up, returning a `BridgeResult`.

Not modelled here (our engine does): liquidation, margin tiers on the broker, slippage models,
lending, transfers. Cross-checks therefore use data and parameters where no liquidation occurs.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import backtrader as bt
import numpy as np
import pandas as pd

from basisbt.data.dataset import Dataset
from basisbt.data.schemas import timeframe_ns, ts_ns
from basisbt.data.venues import TierTable, load_venue


def keep_agg_backend() -> None:
    """`import backtrader.plot` switches matplotlib to TkAgg; put Agg back (headless runs, CI)."""
    if "matplotlib" in sys.modules:
        import matplotlib
        matplotlib.use("Agg", force=True)


# -- feeds ------------------------------------------------------------------------------------------
class PerpFeed(bt.feeds.PandasData):
    """OHLCV + mark close + funding rate (fraction, at the bar whose close the settlement falls at)."""

    lines = ("mark", "funding_rate", "funding_mark")
    params = (("datetime", None), ("openinterest", None),
              ("mark", -1), ("funding_rate", -1), ("funding_mark", -1))


def _naive_utc(ts: pd.Series) -> pd.DatetimeIndex:
    """backtrader wants naive datetimes; ours are UTC, so drop the zone without shifting."""
    return pd.DatetimeIndex(ts.dt.tz_convert("UTC").dt.tz_localize(None), name="datetime")


def venue_frames(ds: Dataset, venue: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(spot, perp) frames for backtrader: index = bar OPEN time (naive UTC), extra columns mark,
    funding_rate (summed if several settlements close in one bar), funding_mark."""
    if venue not in ds.perp or venue not in ds.spot:
        raise ValueError(f"dataset {ds.name!r} has no spot+perp bars for {venue!r}; venues: {ds.venues}")
    spot, perp = ds.spot[venue], ds.perp[venue]
    t = ts_ns(perp)
    if not np.array_equal(ts_ns(spot), t):
        raise ValueError(f"{venue}: spot and perp bars are not on the same times; align them first")
    n = t.shape[0]
    mark = ds.mark.get(venue)
    if mark is not None and not mark.empty:
        if not np.array_equal(ts_ns(mark), t):
            raise ValueError(f"{venue}: mark bars are not on the perp bars' times")
        mark_close = mark["close"].to_numpy(np.float64)
    else:
        mark_close = perp["close"].to_numpy(np.float64)
    close_ns = t + timeframe_ns(ds.timeframe)
    rate = np.zeros(n)
    fmark = mark_close.copy()
    f = ds.funding.get(venue)
    if f is not None and not f.empty:
        ft = ts_ns(f)
        idx = np.searchsorted(close_ns, ft, side="left")     # first bar closing at or after the settlement
        keep = (idx < n) & (ft > t[0])
        np.add.at(rate, idx[keep], f["rate"].to_numpy(np.float64)[keep])
        if "mark_price" in f.columns:
            mp = f["mark_price"].to_numpy(np.float64)[keep]
            ok = np.isfinite(mp) & (mp > 0)
            fmark[idx[keep][ok]] = mp[ok]
    cols = ["open", "high", "low", "close", "volume"]
    spot_df = spot[cols].astype(np.float64).set_index(_naive_utc(spot["ts"]))
    spot_df["mark"], spot_df["funding_rate"], spot_df["funding_mark"] = spot_df["close"], 0.0, spot_df["close"]
    perp_df = perp[cols].astype(np.float64).set_index(_naive_utc(perp["ts"]))
    perp_df["mark"], perp_df["funding_rate"], perp_df["funding_mark"] = mark_close, rate, fmark
    return spot_df, perp_df


def venue_feeds(ds: Dataset, venue: str) -> tuple[PerpFeed, PerpFeed]:
    """(spot feed, perp feed) of one venue, named 'spot' and 'perp'."""
    spot_df, perp_df = venue_frames(ds, venue)
    return PerpFeed(dataname=spot_df, name="spot"), PerpFeed(dataname=perp_df, name="perp")


# -- commission schemes -----------------------------------------------------------------------------
class SpotCommInfo(bt.CommInfoBase):
    """Spot: pay the full notional, taker fee as a fraction of notional."""

    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_PERC), ("percabs", True))


class PerpCommInfo(bt.CommInfoBase):
    """Linear USDT-margined perpetual: fee = |qty| * price * commission; margin = price / leverage."""

    params = (("stocklike", False), ("commtype", bt.CommInfoBase.COMM_PERC), ("percabs", True),
              ("margin_leverage", 1.0), ("mult", 1.0))

    def get_margin(self, price: float) -> float:
        return price / self.p.margin_leverage

    def getvalue(self, position, price: float) -> float:
        # the margin locked at entry, as paid (variation margin is already in cash)
        return abs(position.size) * self.get_margin(position.price)


# -- funding -----------------------------------------------------------------------------------------
class FundingAnalyzer(bt.Analyzer):
    """Pays funding on every perp feed's position at its settlements; records equity at mark.

    Runs after the strategy's `next` on each bar, so the position is the one held over the bar
    (after fills at its open), as in our engine. Payment = -qty * funding_mark * rate (quote).
    """

    params = (("perp_names", ("perp",)),)

    def start(self) -> None:
        self.perps = [d for d in self.datas if d._name in self.p.perp_names]
        self.total = 0.0
        self.count = 0
        self.unlanded = 0.0       # add_cash of this bar: in broker cash only after the next broker.next
        self._settled_bar = -1
        self.equity: list[tuple[pd.Timestamp, float]] = []

    def settle(self) -> float:
        """Pay this bar's settlements once (idempotent per bar); returns what was paid.

        The analyzer calls it after the strategy's `next`; a strategy that must see this bar's
        funding in its cash before deciding (our engine's order, docs/architecture.md §3) calls it first.
        """
        bar = len(self.datas[0])
        if bar == self._settled_bar:
            return self.unlanded
        self._settled_bar = bar
        paid = 0.0
        for d in self.perps:
            q = self.strategy.getposition(d).size
            rate = d.funding_rate[0]
            if q != 0.0 and rate != 0.0 and not math.isnan(rate):
                paid += -q * d.funding_mark[0] * rate
                self.count += 1
        if paid != 0.0:
            self.strategy.broker.add_cash(paid)
            self.total += paid
        self.unlanded = paid
        return paid

    def next(self) -> None:
        self.settle()
        self.equity.append((bt.num2date(self.datas[0].datetime[0]), self.mark_equity()))

    def mark_equity(self) -> float:
        """Broker value + funding not yet landed, with perps valued at mark rather than last trade."""
        v = self.strategy.broker.getvalue() + self.unlanded
        for d in self.perps:
            q = self.strategy.getposition(d).size
            v += q * (d.mark[0] - d.close[0])
        return v

    def get_analysis(self) -> dict:
        return {"funding_total": self.total, "settlements": self.count, "equity": self.equity}


class FillCounter(bt.Analyzer):
    """Completed order executions, as (time, feed name, signed size, price, commission)."""

    def start(self) -> None:
        self.fills: list[tuple] = []

    def notify_order(self, order) -> None:
        if order.status == order.Completed:
            self.fills.append((bt.num2date(order.executed.dt), order.data._name, order.executed.size,
                               order.executed.price, order.executed.comm))
        elif order.status in (order.Margin, order.Rejected):
            self.fills.append((bt.num2date(order.data.datetime[0]), order.data._name, 0.0, math.nan, math.nan))

    def get_analysis(self) -> list[tuple]:
        return self.fills


# -- margin tiers (plain Python, for the strategy's distance-to-liquidation check) ------------------------
def liquidation_price(wallet: float, qty: float, entry: float, tiers: TierTable, ref_px: float) -> float:
    """Mark price where cross wallet + unrealized PnL = tiered maintenance margin (USDT collateral only)."""
    if qty == 0.0:
        return math.nan
    a, c, q = wallet - qty * entry, qty, abs(qty)
    best, best_dist = math.nan, math.inf
    k_n = tiers.floor.shape[0]
    for k in range(k_n):
        denom = q * tiers.rate[k] - c
        if denom == 0.0:
            continue
        m = (a + tiers.amount[k]) / denom
        hi = tiers.floor[k + 1] if k + 1 < k_n else math.inf
        if m > 0.0 and tiers.floor[k] <= q * m < hi and abs(m - ref_px) < best_dist:
            best, best_dist = m, abs(m - ref_px)
    return best


# -- the strategy -------------------------------------------------------------------------------------
class PerpShortBT(bt.Strategy):
    """basisbt.strategies.perp_short on datas[0] = spot, datas[1] = perp of one venue (same rules, same sizes)."""

    params = (("collateral", "spot"), ("leverage", 3.0), ("hedge_ratio", 1.0), ("rehedge_threshold", 0.02),
              ("cash_buffer", 0.01), ("min_liq_distance", 0.0), ("tiers", None))

    def __init__(self) -> None:
        self.spot, self.perp = self.datas[0], self.datas[1]
        self.opened = False
        self._pending = {"spot": 0.0, "perp": 0.0}

    def _funding(self) -> FundingAnalyzer:
        fa = getattr(self.analyzers, "funding", None)
        if not isinstance(fa, FundingAnalyzer):
            raise RuntimeError("PerpShortBT needs cerebro.addanalyzer(FundingAnalyzer, _name='funding')")
        return fa

    def _order(self, data, qty: float) -> None:
        if qty == 0.0 or not math.isfinite(qty):
            return
        (self.buy if qty > 0 else self.sell)(data=data, size=abs(qty), exectype=bt.Order.Market)
        self._pending[data._name] += qty

    def next(self) -> None:
        self._pending = {"spot": 0.0, "perp": 0.0}
        self._funding().settle()               # this bar's funding before deciding, as in our engine
        if not self.opened:
            s = self.spot.close[0]
            capital = self.broker.getcash()
            if self.p.collateral == "spot":
                notional = capital * (1.0 - self.p.cash_buffer)
            else:
                notional = capital / (1.0 + self.p.hedge_ratio / self.p.leverage) * (1.0 - self.p.cash_buffer)
            qty = notional / s
            self._order(self.spot, qty)
            self._order(self.perp, -qty * self.p.hedge_ratio)
            self.opened = True
            return
        q = self.getposition(self.perp).size
        if self.p.collateral == "usdt" and self.p.min_liq_distance > 0 and q != 0.0:
            self._top_up(q)
        spot = self.getposition(self.spot).size + self._pending["spot"]
        perp = q + self._pending["perp"]
        drift = spot + perp - spot * (1.0 - self.p.hedge_ratio)
        if abs(drift) > self.p.rehedge_threshold * max(abs(spot), 1e-12):
            self._order(self.perp, -drift)

    def _wallet(self, q: float) -> float:
        """Our engine's cross wallet (quote cash on the venue) rebuilt from backtrader's broker."""
        pos = self.getposition(self.perp)
        locked = abs(q) * pos.price / self.p.leverage           # PerpCommInfo margin at entry
        variation = q * (self.perp.close[0] - pos.price)        # already moved into cash
        unlanded = self._funding().unlanded
        return self.broker.getcash() + locked - variation + unlanded

    def _top_up(self, q: float) -> None:
        mark = self.perp.mark[0]
        liq = liquidation_price(self._wallet(q), q, self.getposition(self.perp).price, self.p.tiers, mark)
        dist = abs(mark - liq) / mark if math.isfinite(liq) else math.inf
        if dist >= self.p.min_liq_distance:
            return
        cut = 0.1 * self.getposition(self.spot).size
        self._order(self.spot, -cut)
        self._order(self.perp, cut * self.p.hedge_ratio)


SPOT_COLLATERAL_LEVERAGE = 1000.0


# -- one call ----------------------------------------------------------------------------------------
@dataclass
class BridgeResult:
    final_equity: float                 # quote, perps at mark, all funding included
    n_fills: int
    funding_total: float
    equity: pd.Series                   # per bar, indexed by bar CLOSE time (UTC), like our timeline
    fills: list[tuple] = field(default_factory=list)
    rejected: int = 0


def run_perp_short(ds: Dataset, venue: str = "binance", *, fill: str = "open", cash: float = 1_000_000.0,
                   taker_fee: float | None = None, spot_taker_fee: float | None = None,
                   margin_leverage: float | None = None, **params) -> BridgeResult:
    """perp_short on one venue of `ds` in backtrader. `fill='close'` is `set_coc(True)`.

    Fees default to the venue spec in force at the first bar. `margin_leverage` sets the margin
    locked per perp (price / leverage); default: `leverage` for USDT collateral. With spot
    collateral the venue counts the spot as margin, which backtrader's cash-only broker cannot;
    there the bridge locks a token margin (`SPOT_COLLATERAL_LEVERAGE`, 0.1 % of notional), so the
    perp fits in the cash buffer. The margin lock never changes equity (it is valued as paid).
    """
    if fill not in ("open", "close"):
        raise ValueError(f"fill must be 'open' or 'close', not {fill!r}")
    spec = load_venue(venue, at=ds.perp[venue]["ts"].iloc[0])
    tiers = spec.tier_table(ds.base)
    collateral = params.get("collateral", "spot")
    if margin_leverage is None:
        margin_leverage = float(params.get("leverage", 3.0)) if collateral == "usdt" else SPOT_COLLATERAL_LEVERAGE
    cerebro = bt.Cerebro(stdstats=False, runonce=False, preload=True)
    spot_feed, perp_feed = venue_feeds(ds, venue)
    cerebro.adddata(spot_feed, name="spot")
    cerebro.adddata(perp_feed, name="perp")
    broker = cerebro.getbroker()
    broker.set_cash(cash)
    broker.set_shortcash(False)          # value futures through PerpCommInfo.getvalue (margin at entry)
    broker.set_checksubmit(False)        # check cash at execution (next open), not at the decision close
    broker.set_coc(fill == "close")
    broker.addcommissioninfo(SpotCommInfo(commission=spec.spot_taker_fee if spot_taker_fee is None
                                           else spot_taker_fee), name="spot")
    broker.addcommissioninfo(PerpCommInfo(commission=spec.taker_fee if taker_fee is None else taker_fee,
                                          margin_leverage=margin_leverage), name="perp")
    cerebro.addanalyzer(FundingAnalyzer, _name="funding")
    cerebro.addanalyzer(FillCounter, _name="fills")
    cerebro.addstrategy(PerpShortBT, tiers=tiers, **params)
    strat = cerebro.run()[0]
    fa = strat.analyzers.funding
    fills = strat.analyzers.fills.get_analysis()
    tf = pd.Timedelta(timeframe_ns(ds.timeframe), "ns")
    eq = fa.get_analysis()["equity"]
    idx = pd.DatetimeIndex([pd.Timestamp(t).tz_localize("UTC") + tf for t, _ in eq], name="ts")
    equity = pd.Series([v for _, v in eq], index=idx, name="equity")
    done = [f for f in fills if f[2] != 0.0]
    return BridgeResult(final_equity=float(equity.iloc[-1]), n_fills=len(done), funding_total=fa.total,
                        equity=equity, fills=done, rejected=len(fills) - len(done))
