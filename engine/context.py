"""What a strategy sees and does: the portfolio now, look-back windows ending now, and order helpers.

Windows are cut at the current bar, so no strategy can read the future (backtesting.py's lesson:
look-ahead is prevented by what the strategy is shown). Orders queue here and fill at the next
bar's open (or this bar's close with fill='close').
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from basisbt.engine.config import ConfigError, did_you_mean
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_COLL,
    A_ENTRY,
    A_ISO,
    A_QTY,
    A_SPOT,
    C_ISOLATED,
    C_SLIP,
    C_SPOT_COLL,
    C_SPOT_TAKER,
    C_TAKER,
    PERP,
    R_CASH,
    R_COLL,
    R_ENTRY,
    R_ISO,
    R_LIQ_PX,
    R_MAINT,
    R_MARGIN,
    R_QTY,
    R_SPOT,
    SPOT,
    T_AMOUNT,
)
from basisbt.engine.market import LIVE, Market
from basisbt.engine.resting import LimitOrder, RestingBook
from basisbt.engine.results import PNL_PARTS

if TYPE_CHECKING:
    from basisbt.data.venues import VenueSpec
    from basisbt.engine.kernels.arrays import Records, State, VenueTables


@dataclass(frozen=True, slots=True)
class Order:
    venue: int
    instrument: int       # SPOT | PERP
    qty: float            # signed base units
    reason: str


@dataclass(frozen=True, slots=True)
class Transfer:
    src: str              # venue name, or 'lending:<protocol>'
    dst: str
    amount: float         # quote units leaving src (the fee is taken on top)


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """A resting limit order as the strategy sees it (Context.open_orders)."""

    id: int
    venue: str                      # slot label (the venue name with one asset)
    instrument: str                 # 'spot' | 'perp'
    qty: float                      # signed base units
    price: float                    # the limit price
    expire: pd.Timestamp | None     # None: good till cancelled
    reason: str


@dataclass(slots=True)
class Actions:
    """What one decision asked for; executed together at the next fill instant."""

    orders: list[Order] = field(default_factory=list)
    limits: list[LimitOrder] = field(default_factory=list)    # resting maker orders to place (engine/resting.py)
    cancels: list[int] = field(default_factory=list)          # ids of resting orders to cancel
    transfers: list[Transfer] = field(default_factory=list)
    flows: list[tuple[int, float]] = field(default_factory=list)         # (venue, +in / -out), not PnL
    margin_moves: list[tuple[int, float]] = field(default_factory=list)  # (venue, cash -> isolated)
    settings: list[tuple[int, int, float]] = field(default_factory=list)  # (venue, VenueTables.cfg column, value)
    collateral_buys: list[tuple[int, float]] = field(default_factory=list)  # (venue, quote cash -> collateral asset)

    def __bool__(self) -> bool:
        return bool(self.orders or self.transfers or self.flows or self.margin_moves or self.settings
                    or self.collateral_buys or self.limits or self.cancels)


@dataclass(frozen=True, slots=True)
class MarginInfo:
    balance: float        # margin balance at the close (quote)
    maintenance: float    # maintenance margin (quote)
    liq_px: float         # mark price that liquidates the perp (NaN: none)
    distance: float       # |mark - liq_px| / mark (inf without a position)


@dataclass(frozen=True, slots=True)
class VenueCosts:
    spot_fee: float       # spot taker fee, fraction of notional
    perp_fee: float       # perp taker fee, fraction of notional
    slippage: float       # fixed slippage, fraction of price
    transfer_fee: float   # quote units per transfer out of the venue
    transfer_delay_s: float  # seconds a transfer out of the venue is in transit
    deposit_delay_s: float = 0.0   # seconds a transfer into the venue takes on top (a bridge: Hyperliquid 60)
    quote: str = ""       # the venue's quote (USDT, USDC): money crossing quotes converts at the spot fee


class _WithParams(Protocol):
    p: Any


class RunView(Protocol):
    """What a Context reads of the run: the whole seam between Context and Engine (mypy checks Engine
    against it). Everything is read at the current bar through the per-bar records, never live state
    the kernel may have run ahead on (engine/checkpoint.py, invariant 4)."""

    bar: int
    symbol: str
    market: Market
    rec: Records
    state: State
    tables: VenueTables
    specs: list[VenueSpec]
    venue_index: dict[str, int]     # venue name or slot label -> slot (a venue name: its home slot)
    slot_index: dict[str, int]      # slot label -> slot (venue names with one asset)
    extras: dict[str, dict[pd.Timestamp, float]]
    sleep_until: int                # ctx.sleep(): on_bar not called before this bar unless an event comes
    log: list[str]
    initial_capital: float
    resting: RestingBook            # limit orders resting on the venues (engine/resting.py)

    @property
    def now(self) -> pd.Timestamp: ...

    @property
    def strategy(self) -> _WithParams: ...     # the strategy (engine/hooks.Hooks): the Context reads only `.p`


class Context:
    """The strategy's only window on the run. Created by the engine; strategies never build one.

    The engine talks to it through three calls: `take_actions()` after each hook, `home_of(name)`,
    and `detach()` at the end of the run (so a finished run's arrays are not kept alive by a strategy
    holding on to its context)."""

    def __init__(self, run: RunView) -> None:
        self._e: RunView = run
        self._act = Actions()
        self._next_order_id = 0

    def take_actions(self) -> Actions | None:
        """The decision's actions (None if it asked for nothing), leaving an empty record behind."""
        act = self._act
        if not act:
            return None
        self._act = Actions()
        return act

    def home_of(self, venue: str) -> int:
        """Index of the slot that holds a venue's cash (the venue itself with one asset); a ConfigError naming
        the valid venues otherwise."""
        return self._home(venue)

    def detach(self) -> None:
        """The run is over: drop the engine, so no context <-> engine cycle keeps a year of arrays alive."""
        self._e = None  # type: ignore[assignment]

    # -- where we are -------------------------------------------------------------------------
    @property
    def bar(self) -> int:
        """Index of the last bar known (-1 before the first close)."""
        return self._e.bar

    @property
    def now(self) -> pd.Timestamp:
        return self._e.now

    @property
    def venues(self) -> list[str]:
        """Venue names (each once, whatever the number of assets)."""
        return self._e.market.venue_names

    @property
    def assets(self) -> list[str]:
        """Base assets of the run, the primary first (one in a single-asset run)."""
        return self._e.market.assets

    @property
    def slots(self) -> list[str]:
        """One label per (venue, asset) perp, usable wherever a call takes a venue and an asset: the venue
        names in a single-asset run, 'venue:ASSET' (e.g. 'binance:BTC') with several assets."""
        return list(self._e.market.venues)

    def split(self, slot: str) -> tuple[str, str]:
        """(venue, asset) of a slot label (or of a venue name in a single-asset run)."""
        m = self._e.market
        j = self._v(slot)
        return m.slot_venue[j], m.slot_asset[j]

    @property
    def instruments(self) -> list[tuple[str, str]]:
        """Every (venue, asset) pair with a perp: what `asset=` can name on each venue."""
        m = self._e.market
        return list(zip(m.slot_venue, m.slot_asset, strict=True))

    @property
    def protocols(self) -> list[str]:
        return list(self._e.market.protocols)

    @property
    def symbol(self) -> str:
        return self._e.symbol

    @property
    def params(self) -> Any:
        return self._e.strategy.p

    def _v(self, venue: str, asset: str | None = None) -> int:
        """The slot of (venue, asset). With one asset `asset` may be left out; with several, name it (or
        pass a slot label such as 'binance:BTC' as the venue)."""
        if asset is None:
            j = self._e.slot_index.get(venue)
            if j is not None:
                return j
        m = self._e.market
        if asset is None:
            if m.multi_asset and venue in m.venue_names:
                assets = [a for v, a in zip(m.slot_venue, m.slot_asset, strict=True) if v == venue]
                raise ConfigError(f"{venue} trades {', '.join(assets)} in this run: pass asset=..., e.g. "
                                  f"asset={assets[0]!r}")
            vs = m.venues
            raise ConfigError(f"unknown venue {venue!r}{did_you_mean(venue, vs)}; valid: {', '.join(vs)}")
        j = m.slot(venue, asset)
        if j < 0:
            if venue not in m.venue_names:
                vs = m.venue_names
                raise ConfigError(f"unknown venue {venue!r}{did_you_mean(venue, vs)}; valid: {', '.join(vs)}")
            assets = [a for v, a in zip(m.slot_venue, m.slot_asset, strict=True) if v == venue]
            raise ConfigError(f"{venue} has no {asset!r} perp in this run; assets there: {', '.join(assets)}")
        return j

    def _home(self, venue: str) -> int:
        """The slot holding a venue's cash, from a venue name or a slot label."""
        j = self._e.venue_index.get(venue)
        if j is None:
            vs = self._e.market.venue_names
            raise ConfigError(f"unknown venue {venue!r}{did_you_mean(venue, vs)}; valid: {', '.join(vs)}")
        return self._e.market.home[j]

    def _p(self, protocol: str) -> int:
        try:
            return self._e.market.protocols.index(protocol)
        except ValueError:
            ps = self._e.market.protocols
            raise ConfigError(f"unknown protocol {protocol!r}{did_you_mean(protocol, ps)}; "
                              f"valid: {', '.join(ps)}") from None

    # -- prices and windows (past only) ----------------------------------------------------------
    def price(self, venue: str, kind: str = "spot", *, asset: str | None = None) -> float:
        """Close of the last known bar: kind 'spot', 'perp' or 'mark'."""
        if self.bar < 0:
            raise RuntimeError("no bar is known yet (on_start); size positions in on_bar")
        return float(self._e.market.bars[f"{kind}_close"][self.bar, self._v(venue, asset)])

    def history(self, venue: str, kind: str = "spot", field: str = "close", n: int | None = None, *,
                asset: str | None = None) -> np.ndarray:
        """The last n bars (all if None) of kind/field up to and including the current bar."""
        col = self._e.market.bars[f"{kind}_{field}"][:, self._v(venue, asset)]
        end = self.bar + 1
        start = 0 if n is None else max(0, end - n)
        return col[start:end].copy()

    def funding_history(self, venue: str, n: int | None = None, *, asset: str | None = None) -> np.ndarray:
        """Rates of the last n settlements (fractions per interval) known by now."""
        j = self._v(venue, asset)
        m = self._e.market
        k = int(np.searchsorted(m.funding_bar[j], self.bar, side="right"))
        start = 0 if n is None else max(0, k - n)
        return m.funding_raw[j][start:k].copy()

    def funding_apr(self, venue: str, days: float = 7.0, *, asset: str | None = None) -> float:
        """Trailing funding annualized over the last `days`, or over the history that exists if shorter.

        Rates are summed over the settlements known in the window and annualized by the window's
        length, cut to the history that exists (from one interval before the first settlement known),
        so a run's first day is not read as "tiny funding" because the window reaches before the data.
        NaN without any settlement yet.
        """
        j = self._v(venue, asset)
        days = _number(days, "funding_apr days")
        if days <= 0:
            raise ValueError(f"funding_apr days is {days!r}; it must be > 0")
        m = self._e.market
        k = int(np.searchsorted(m.funding_bar[j], self.bar, side="right"))
        if k == 0:
            return float("nan")
        t_now = int(m.close_ns[self.bar])
        ts = m.funding_ts[j][:k]
        sel = ts > t_now - int(days * 86400e9)
        n_sel = int(sel.sum())
        if n_sel == 0:
            return float("nan")
        # history starts one interval before the first settlement known (all of it at or before now)
        first_interval = float(ts[1] - ts[0]) if k > 1 else 8 * 3.6e12
        covered_days = min(days, (t_now - (float(ts[0]) - first_interval)) / 86400e9)
        return float(m.funding_raw[j][:k][sel].sum() * 365.0 / covered_days)

    def listed(self, venue: str, instrument: str = "perp", *, asset: str | None = None) -> bool:
        """True when the venue's spot or perp has data at the current bar (an order placed now can fill
        at the next bar only if that one has a real bar too; otherwise it is refused and logged)."""
        return self._e.market.state_at(self.bar, self._v(venue, asset),
                                       _INSTRUMENT_NAMES[_instrument(instrument)]) == LIVE

    def lending_apy(self, protocol: str) -> float:
        """Supply APY in force now (the last rate known)."""
        b = max(self.bar + 1, 0)
        m = self._e.market
        return float(m.lend_apy[min(b, m.n - 1), self._p(protocol)])

    def lending_history(self, protocol: str, n: int | None = None) -> np.ndarray:
        """Supply APY per bar, up to the current bar."""
        col = self._e.market.lend_apy[:, self._p(protocol)]
        end = self.bar + 1
        return col[0 if n is None else max(0, end - n):end].copy()

    # -- venue costs (static config, not market data) --------------------------------------------
    def costs(self, venue: str) -> VenueCosts:
        """Trading and transfer costs of a venue, so a strategy can weigh the cost of moving."""
        j = self._home(venue)
        cfg, spec = self._e.tables.cfg[j], self._e.specs[j]
        return VenueCosts(float(cfg[C_SPOT_TAKER]), float(cfg[C_TAKER]), float(cfg[C_SLIP]),
                          float(spec.withdrawal_fee), float(spec.withdrawal_delay_s), float(spec.deposit_delay_s),
                          spec.quote)

    # -- external flows (mints / redemptions), past only -----------------------------------------
    def flows_history(self, since: pd.Timestamp | None = None) -> pd.DataFrame:
        """Rows of the dataset's flows (ts, mint, redeem in quote units, both >= 0) known by now.

        A flows row stamped ts totals the period [ts, ts + period) (period = the rows' median
        spacing, or the bar timeframe with fewer than two rows), so it is known at ts + period.
        `since` keeps rows with ts >= since. Empty frame when the dataset has no flows.
        """
        t, period, frame = self._flows_index()
        if frame is None:
            return pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ns, UTC]"), "mint": [], "redeem": []})
        hi = int(np.searchsorted(t + period, int(self.now.value), side="right"))
        lo = 0 if since is None else int(np.searchsorted(t, int(pd.Timestamp(since).value), side="left"))
        return frame.iloc[lo:max(lo, hi)].reset_index(drop=True).copy()

    def flows_since(self, after: pd.Timestamp | None = None) -> tuple[float, float, pd.Timestamp | None]:
        """(mint total, redeem total, ts of the last row) over flows rows known by now with ts > `after`;
        (0, 0, None) when there are none. The same rows as flows_history, without building a frame
        (a strategy reading flows every hour for a year spent most of its time in pandas)."""
        t, period, frame = self._flows_index()
        if frame is None:
            return 0.0, 0.0, None
        hi = int(np.searchsorted(t + period, int(self.now.value), side="right"))
        lo = 0 if after is None else int(np.searchsorted(t, int(pd.Timestamp(after).value), side="right"))
        if hi <= lo:
            return 0.0, 0.0, None
        mint, redeem = self._flows_arrays
        return float(mint[lo:hi].sum()), float(redeem[lo:hi].sum()), pd.Timestamp(int(t[hi - 1]), tz="UTC")

    def _flows_index(self) -> tuple[np.ndarray, int, pd.DataFrame | None]:
        """(ts ns, period ns, frame) of the dataset's flows, computed once per run."""
        cached = getattr(self, "_flows_cache", None)
        if cached is None:
            f = self._e.market.flows
            if f is None or f.empty:
                cached = (np.empty(0, np.int64), 0, None)
            else:
                f = f.sort_values("ts", kind="stable").reset_index(drop=True)
                t = f["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
                period = int(np.median(np.diff(t))) if t.size > 1 else int(self._e.market.tf_ns)
                cached = (t, period, f[["ts", "mint", "redeem"]])
                self._flows_arrays = (f["mint"].to_numpy(np.float64), f["redeem"].to_numpy(np.float64))
            self._flows_cache = cached
        return cached

    # -- the book now ----------------------------------------------------------------------------
    # The book is read from the records of the current bar's close, not from the live state: the
    # engine may have run the kernel past this bar already (it undoes that if the decision acts).
    def _book_at(self, j: int, rec_col: int, acct_col: int) -> float:
        e = self._e
        return float(e.rec.venue[e.bar, j, rec_col] if e.bar >= 0 else e.state.acct[j, acct_col])

    def _book(self, venue: str, rec_col: int, acct_col: int, asset: str | None = None) -> float:
        return self._book_at(self._v(venue, asset), rec_col, acct_col)

    def spot_qty(self, venue: str, *, asset: str | None = None) -> float:
        return self._book(venue, R_SPOT, A_SPOT, asset)

    def perp_qty(self, venue: str, *, asset: str | None = None) -> float:
        return self._book(venue, R_QTY, A_QTY, asset)

    def entry_price(self, venue: str, *, asset: str | None = None) -> float:
        return self._book(venue, R_ENTRY, A_ENTRY, asset)

    def cash(self, venue: str) -> float:
        """Free quote cash on the venue (isolated margin not included); one wallet whatever the assets."""
        return self._book_at(self._home(venue), R_CASH, A_CASH)

    def isolated_margin(self, venue: str, *, asset: str | None = None) -> float:
        return self._book(venue, R_ISO, A_ISO, asset)

    def lent(self, protocol: str) -> float:
        p, e = self._p(protocol), self._e
        return float(e.rec.lend[e.bar, p] if e.bar >= 0 else e.state.lend[p])

    def pnl_since(self, bar: int) -> dict[str, float]:
        """The book's PnL parts (quote; engine.results.PNL_PARTS: funding, basis, price, fees, slippage, lending,
        liquidation) summed over the bars after `bar` up to the current one (every bar so far when bar < 0), as
        the kernels booked them: a bar's row holds the fills at its open, its funding, lending and marks. Read
        from the records, so final: a revenue book (synthetic_dollar) takes its realized cash flows from here."""
        e = self._e
        lo, hi = max(bar + 1, 0), e.bar + 1
        rows = e.rec.pnl[lo:hi].sum(axis=0) if hi > lo else np.zeros(e.rec.pnl.shape[1])
        return dict(zip(PNL_PARTS, rows.tolist(), strict=True))

    @property
    def in_transit(self) -> float:
        e = self._e
        return float(e.rec.transit[e.bar] if e.bar >= 0 else e.state.transit[:, T_AMOUNT].sum())

    @property
    def equity(self) -> float:
        """Equity at the last close (quote)."""
        return float(self._e.rec.equity[self.bar]) if self.bar >= 0 else self._e.initial_capital

    def margin(self, venue: str, *, asset: str | None = None) -> MarginInfo:
        """Margin balance, maintenance, liquidation price and distance at the last close. With several
        assets on a cross venue, balance and maintenance are the account's, and the liquidation price is
        this perp's mark that breaches the account with the other marks where they are."""
        j = self._v(venue, asset)
        r = self._e.rec.venue[self.bar, j]
        mark = self._e.market.bars["mark_close"][self.bar, j]
        liq = float(r[R_LIQ_PX])
        dist = abs(mark - liq) / mark if np.isfinite(liq) else float("inf")
        return MarginInfo(float(r[R_MARGIN]), float(r[R_MAINT]), liq, dist)

    def pending(self, venue: str, instrument: str, *, asset: str | None = None) -> float:
        """Base units already ordered this decision and not yet filled."""
        if not self._act.orders:
            return 0.0
        return self._pending_at(self._v(venue, asset), _instrument(instrument))

    def _pending_at(self, j: int, ins: int) -> float:
        return sum((o.qty for o in self._act.orders if o.venue == j and o.instrument == ins), 0.0)

    # -- actions -----------------------------------------------------------------------------------
    def configure(self, venue: str, *, spot_collateral: bool | None = None, isolated: bool | None = None,
                  asset: str | None = None) -> None:
        """Margin set-up of a venue: spot posted as collateral (Ethena) or not; cross or isolated. Spot collateral
        is refused (ConfigError) where the venue's `collateral` table does not list the asset.
        With several assets it applies to every asset on the venue, or to `asset` only (an isolated BTC
        perp next to cross ETH). Takes effect at the next fill instant, with the orders."""
        for key, flag in (("spot_collateral", spot_collateral), ("isolated", isolated)):
            if flag is not None and not isinstance(flag, (bool, np.bool_)):   # 'no' would read as True
                raise ValueError(f"configure {key} for {venue} is {flag!r:.40} ({type(flag).__name__}); it must be "
                                 "True, False or None")
        m = self._e.market
        if asset is None and m.multi_asset and venue in m.venue_names:
            slots = [j for j, v in enumerate(m.slot_venue) if v == venue]
        else:
            slots = [self._v(venue, asset)]
        for j in slots:
            if self._book_at(j, R_QTY, A_QTY) != 0.0:
                raise RuntimeError(f"{m.venues[j]}: change margin settings only without an open perp")
            if spot_collateral:
                self._check_collateral(j, m.slot_asset[j], "spot_collateral=True")
            if spot_collateral is not None:
                self._act.settings.append((j, C_SPOT_COLL, 1.0 if spot_collateral else 0.0))
            if isolated is not None:
                self._act.settings.append((j, C_ISOLATED, 1.0 if isolated else 0.0))

    def takes_spot_margin(self, slot: str) -> bool:
        """Whether the slot's venue counts its base asset as perp margin (its venue file's `collateral` table lists
        it), i.e. configure(spot_collateral=True) is accepted there. Hyperliquid: never (USDC only)."""
        j = self._v(slot)
        return self._e.specs[j].collateral_ratio(self._e.market.slot_asset[j]) > 0.0

    def spot_margin(self, slot: str) -> bool:
        """Whether the slot's spot is posted as its perp's margin (configure(spot_collateral=True), a set-up made
        earlier in this decision included)."""
        return self._setting(self._v(slot), C_SPOT_COLL) > 0.0

    def _check_collateral(self, j: int, asset: str, what: str) -> None:
        """ConfigError unless `asset` counts as margin on slot j's venue (its spec's `collateral` table)."""
        spec = self._e.specs[j]
        if spec.collateral_ratio(asset) <= 0.0:
            listed = ", ".join(f"{a} {r:g}" for a, r in spec.collateral.items()) or "none"
            raise ConfigError(f"{spec.name}: {what} refused: {asset} is not collateral on {spec.name} (its venue "
                              f"file's collateral table, block {spec.effective_from.date()}: {listed}; the quote "
                              f"{spec.quote} always is)")

    def _setting(self, j: int, col: int) -> float:
        """A venue setting, counting a configure() made earlier in this decision."""
        for jj, cc, value in reversed(self._act.settings):
            if (jj, cc) == (j, col):
                return value
        return float(self._e.tables.cfg[j, col])

    def add_isolated_margin(self, venue: str, amount: float, *, asset: str | None = None) -> None:
        """Isolated venues: move quote cash into (+) or out of (-) the perp's isolated margin at the next fill. A move
        above the free cash (in) or the isolated margin (out) there is refused whole, as the venue refuses it
        (on_reject, instrument 'margin'; counted in metrics.json orders_rejected)."""
        j = self._v(venue, asset)
        amount = _number(amount, f"add_isolated_margin amount for {venue}")
        if self._setting(j, C_ISOLATED) < 0.5:
            raise ConfigError(f"{venue}: add_isolated_margin needs configure({venue!r}, isolated=True)")
        if amount != 0.0:
            self._act.margin_moves.append((j, float(amount)))

    def order(self, venue: str, instrument: str, qty: float, reason: str = "", *, asset: str | None = None) -> None:
        """Trade `qty` base units (signed) of 'spot' or 'perp' at the next fill.

        A NaN or infinite quantity is a bug in the strategy, never silently dropped: the run stops
        with exit 2 naming the strategy, hook and bar time. An order for a bar where the venue is not
        listed or has no data is refused at fill time and logged (see `listed`).
        """
        qty = _number(qty, f"order quantity for {venue} {instrument}")
        if qty != 0.0:
            self._act.orders.append(Order(self._v(venue, asset), _instrument(instrument), float(qty), reason))

    def limit_order(self, venue: str, instrument: str, qty: float, price: float, reason: str = "", *,
                    asset: str | None = None, expire: pd.Timestamp | str | None = None) -> int:
        """Rest a post-only limit order of `qty` base units (signed) at `price`; returns its id (for `cancel`).

        It is placed at the next fill instant and refused there (on_reject, "would take liquidity (post-only)")
        if it would trade at once. It then fills whole at `price` when a bar trades strictly through it (a buy:
        the bar's low below `price`; a sell: its high above), with the venue's maker fee (or rebate) and no
        slippage; on_fill then says liquidity "maker". `expire` (a time) cancels it unfilled; the venue cancels a
        perp's orders when it liquidates or deleverages the position. Rule in full: engine/resting.py, docs/api.md.
        """
        qty = _number(qty, f"limit order quantity for {venue} {instrument}")
        price = _number(price, f"limit order price for {venue} {instrument}")
        if price <= 0.0:
            raise ValueError(f"limit order price for {venue} {instrument} is {price!r}; it must be > 0")
        j = self._v(venue, asset)
        ins = _instrument(instrument)
        if expire is not None and pd.Timestamp(expire).tzinfo is None:
            raise ConfigError(f"limit order expire {expire!r} has no time zone (give it in UTC)")
        expire_ns = 0 if expire is None else int(pd.Timestamp(expire).value)
        oid = self._next_order_id
        self._next_order_id += 1
        if qty != 0.0:
            self._act.limits.append(LimitOrder(oid, j, ins, float(qty), float(price), expire_ns, reason))
        return oid

    def cancel(self, order_id: int) -> None:
        """Cancel a resting limit order (at the next fill instant, before anything trades there); an id that is no
        longer resting (filled, expired, cancelled) is ignored."""
        self._act.cancels.append(int(order_id))

    def open_orders(self, venue: str | None = None, *, asset: str | None = None) -> list[OpenOrder]:
        """Limit orders resting now (placed at an earlier fill instant, not filled, cancelled or expired), oldest
        first; those placed in this decision join the book at the next fill instant."""
        j = None if venue is None else self._v(venue, asset)
        m = self._e.market
        return [OpenOrder(o.id, m.venues[o.venue], _INSTRUMENT_NAMES[o.instrument], o.qty, o.price,
                          pd.Timestamp(o.expire_ns, tz="UTC") if o.expire_ns else None, o.reason)
                for o in self._e.resting.orders if j is None or o.venue == j]

    def target_position(self, venue: str, instrument: str, qty: float, reason: str = "", *,
                        asset: str | None = None) -> None:
        """Order whatever brings the position (including orders already queued) to `qty`."""
        j = self._v(venue, asset)
        qty = _number(qty, f"target_position quantity for {venue} {instrument}")
        have = self._book_at(j, R_SPOT, A_SPOT) if instrument == "spot" else self._book_at(j, R_QTY, A_QTY)
        pending = self._pending_at(j, _instrument(instrument)) if self._act.orders else 0.0
        self.order(venue, instrument, qty - have - pending, reason or "target", asset=asset)

    def hedge_to_delta(self, venue: str, target_delta: float = 0.0, threshold: float = 0.0,
                       reason: str = "rehedge", *, asset: str | None = None) -> bool:
        """Trade the perp on `venue` so spot + perp of its asset (all venues) is target_delta, if off by
        more than threshold.

        `threshold` is relative to the total spot held. Returns True if an order was placed.
        """
        j0 = self._v(venue, asset)
        target_delta = _number(target_delta, "hedge_to_delta target_delta")
        threshold = _number(threshold, "hedge_to_delta threshold", low=0.0)
        orders = self._act.orders
        e = self._e
        book, s, p = (e.rec.venue[e.bar], R_SPOT, R_QTY) if e.bar >= 0 else (e.state.acct, A_SPOT, A_QTY)
        same = e.market.slot_asset
        spot = perp = 0.0
        for j, row in enumerate(book.tolist()):                    # runs every decision: plain floats
            if same[j] != same[j0]:
                continue
            spot += row[s] + (self._pending_at(j, SPOT) if orders else 0.0)
            perp += row[p] + (self._pending_at(j, PERP) if orders else 0.0)
        drift = spot + perp - target_delta
        if abs(drift) <= threshold * max(abs(spot), 1e-12):
            return False
        self.order(venue, "perp", -drift, reason, asset=asset)
        return True

    def collateral_units(self, venue: str) -> float:
        """Units of the dataset's collateral asset (e.g. USDe) held on a venue as margin."""
        return self._book_at(self._home(venue), R_COLL, A_COLL)

    def buy_collateral(self, venue: str, amount: float) -> None:
        """Convert `amount` quote cash on a venue into the dataset's collateral asset (amount < 0: sell that
        much quote worth back to cash), at the asset's last close, no fee, after the orders of the next fill
        instant. Cross margin counts it at price x its ratio in the venue's `collateral` table; an asset the venue
        does not list is refused (docs/architecture.md §4). A buy above the cash then (fee included), or a sale above
        the units held, is refused whole (on_reject, instrument 'collateral'; metrics.json orders_rejected)."""
        j = self._home(venue)
        amount = _number(amount, f"buy_collateral amount on {venue}")
        coll = self._e.market.collateral
        if not coll or np.isnan(coll["close"][:, j]).all():
            raise ConfigError(f"{venue}: the dataset has no collateral-asset bars for this venue "
                              f"(a dataset's `collateral` frames, e.g. scenario collateral-depeg)")
        if amount > 0:
            self._check_collateral(j, self._e.market.collateral_asset, "buy_collateral")
        if amount != 0:
            self._act.collateral_buys.append((j, float(amount)))

    def move_collateral(self, src: str, dst: str, amount: float) -> None:
        """Send quote cash from venue src to venue dst (fee and delay of the source venue's spec). Executed after the
        orders of the next fill instant; an amount above the free cash then (fee included) is refused whole, as an
        exchange refuses a withdrawal above the available balance (on_reject, instrument 'transfer')."""
        self._home(src), self._home(dst)
        amount = _number(amount, f"move_collateral amount {src} -> {dst}", low=0.0,
                         hint="; to move money the other way, swap src and dst")
        if amount > 0:
            self._act.transfers.append(Transfer(src, dst, amount))

    def lend(self, protocol: str, amount: float, from_venue: str) -> None:
        """Supply quote cash from a venue to a lending protocol (arrives after the withdrawal delay); above the free
        cash, refused whole like move_collateral."""
        self._p(protocol), self._home(from_venue)
        amount = _number(amount, f"lend amount {from_venue} -> {protocol}", low=0.0,
                         hint="; take money out with withdraw()")
        if amount > 0:
            self._act.transfers.append(Transfer(from_venue, f"lending:{protocol}", amount))

    def withdraw(self, protocol: str, amount: float, to_venue: str) -> None:
        """Take quote cash out of a protocol to a venue (arrives after the venue's deposit delay). An amount above the
        supplied balance (interest included) is refused whole, as the protocol refuses it (on_reject, venue
        'lending:<protocol>', why 'more than the balance'): to take everything, pass ctx.lent(protocol)."""
        self._p(protocol), self._home(to_venue)
        amount = _number(amount, f"withdraw amount {protocol} -> {to_venue}", low=0.0,
                         hint="; put money in with lend()")
        if amount > 0:
            self._act.transfers.append(Transfer(f"lending:{protocol}", to_venue, amount))

    def external_flow(self, venue: str, amount: float, reason: str = "") -> None:
        """Capital entering (+, e.g. a mint) or leaving (-, a redemption) the book as quote cash on a venue.

        Not PnL: equity changes by the flow, and the report keeps it apart from returns. An outflow is the book's
        obligation and is paid whole, after any inflow and before the orders (sell in the same decision to fund it);
        what the venue's cash lacks once that instant's trades are done is carried as a negative balance and counted
        (metrics.json data_quality.outflows_on_credit), never dropped.
        """
        j = self._home(venue)
        amount = _number(amount, f"external_flow amount on {venue}")
        if amount < 0.0 and -amount > max(self.equity, 0.0):     # a redemption of more than the whole book
            raise ValueError(f"external_flow amount on {venue} is {amount:g}; a redemption cannot exceed the "
                             f"book's equity ({self.equity:,.2f})")
        if amount != 0.0:
            self._act.flows.append((j, amount))

    def sleep(self, until: pd.Timestamp | None = None) -> None:
        """Do not call on_bar again before `until` (None: the end of the data) unless something happens: a fill,
        a reject, a liquidation, a venue event, or a settlement or rate whose hook the strategy overrides wakes
        it at once. Call it when on_bar would do nothing until then (e.g. a hedge that only changes on fills):
        the engine then runs the kernel straight through, which is what makes long sweeps fast. It must not
        change the results: a strategy that sleeps wrongly misses decisions (tests/unit/engine/test_sleep.py
        runs the built-ins with and without it)."""
        e = self._e
        n = e.market.n
        if until is None:
            e.sleep_until = n
        else:
            t = int(pd.Timestamp(until).value)
            e.sleep_until = min(int(np.searchsorted(e.market.close_ns, t, side="left")), n)

    def record(self, name: str, value: float) -> None:
        """Store a strategy series point (e.g. backing ratio) at now; reports plot it."""
        value = _number(value, f"record({name!r}) value", nan_ok=True)
        self._e.extras.setdefault(name, {})[self.now] = value

    def log(self, message: str) -> None:
        """A line in run.log and the report, stamped with the time; cut at MAX_LOG_CHARS (one message once wrote
        720 MB of run.log and as much again of report.html)."""
        text = str(message)
        if len(text) > MAX_LOG_CHARS:
            text = f"{text[:MAX_LOG_CHARS]}… ({len(text) - MAX_LOG_CHARS} more characters cut)"
        self._e.log.append(f"{self.now.isoformat()} {text}")


_INSTRUMENT_NAMES = {SPOT: "spot", PERP: "perp"}
MAX_LOG_CHARS = 2_000         # one ctx.log message, in characters


def _number(value: Any, what: str, *, low: float | None = None, nan_ok: bool = False, hint: str = "") -> float:
    """A number a strategy passed to a ctx call, as a float; a ValueError naming the call and the value when it
    is not a real number, not finite (NaN allowed only where `nan_ok`) or below `low`. The engine reports it as a
    strategy error with the hook and the time: a bad amount is a bug, never silently dropped."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} is {value!r:.40} ({type(value).__name__}); it must be a number")
    x = float(value)
    if not (math.isfinite(x) or nan_ok and math.isnan(x)):
        raise ValueError(f"{what} is {x!r}; it must be a finite number")
    if low is not None and x < low:
        raise ValueError(f"{what} is {x!r}; it must be >= {low:g}{hint}")
    return x


def _instrument(name: str) -> int:
    if name == "spot":
        return SPOT
    if name == "perp":
        return PERP
    raise ConfigError(f"instrument must be 'spot' or 'perp', not {name!r}")
