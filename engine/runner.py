"""The event loop: kernels fast-forward the book between decision points, strategy hooks run at them.

Python work is per decision, not per bar: the kernel `advance` processes every bar in between
(liquidations, funding, lending, mark to market) and stops early at a liquidation.
"""
from __future__ import annotations

import bisect
import copy
import math
from collections.abc import Mapping
from time import monotonic
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from basisbt.data.dataset import Dataset
from basisbt.data.errors import Spelled
from basisbt.data.oracle import attach_oracle
from basisbt.data.venues import venue_set
from basisbt.engine.checkpoint import Checkpoint
from basisbt.engine.config import ConfigError, RunConfig, config_id
from basisbt.engine.context import Actions, Context, Transfer
from basisbt.engine.event_queue import EV_BAR, EV_FUNDING, EV_LENDING, events_of
from basisbt.engine.events import (
    BarEvent,
    EndEvent,
    FillEvent,
    FundingEvent,
    LendingRateEvent,
    LiquidationEvent,
    RejectEvent,
    StartEvent,
)
from basisbt.engine.guard import HookTimeout, Watch, user_interrupt
from basisbt.engine.hooks import Hooks, overrides
from basisbt.engine.kernels.advance import advance
from basisbt.engine.kernels.arrays import Ledger, Records, State
from basisbt.engine.kernels.book import write_ledger
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_COLL,
    A_FUND,
    A_ISO,
    C_FUND_SIZE,
    C_ISOLATED,
    C_SPOT_COLL,
    C_SPOT_TAKER,
    INSTRUMENTS,
    K_COLL_TRADE,
    K_DEPOSIT,
    K_FEE,
    K_LENDING,
    K_TRANSFER_OUT,
    K_WITHDRAWAL,
    K_WITHDRAWAL_FEE,
    L_KIND,
    L_REF,
    L_TS,
    L_VENUE,
    LEDGER_KINDS,
    LIQ_KINDS,
    LIQ_SLOTS,
    LK_BACKSTOP,
    N_ACCT,
    N_LEDGER_I,
    N_LIQ,
    N_PNL,
    N_REC,
    N_TRANSIT,
    O_CANCELLED,
    O_FILLED,
    O_REFUSED,
    ORDER_STATUS,
    P_FEES,
    PERP,
    Q_BAR,
    Q_FEE,
    Q_INSURANCE,
    Q_KIND,
    Q_PRICE,
    Q_QTY,
    Q_SOCIAL,
    Q_VENUE,
    REJECT_REASONS,
    SPOT,
    STOP_LEDGER_FULL,
    STOP_LIQUIDATION,
    T_AMOUNT,
    T_ARRIVE_NS,
    T_DEST,
    WHY_BALANCE,
    WHY_CASH,
    WHY_DEFAULTED,
    WHY_EXPIRED,
    WHY_HALTED,
    WHY_LIQUIDATED,
    WHY_POST_ONLY,
)
from basisbt.engine.kernels.entry import compiled
from basisbt.engine.kernels.fills import fill_order
from basisbt.engine.market import LIVE, UNLISTED, market_of
from basisbt.engine.resting import LimitOrder, RestingBook
from basisbt.engine.results import PNL_PARTS, NotKept, RunRecords, RunResult
from basisbt.engine.timeline_frame import build_timeline
from basisbt.engine.venue_events import EVENT_COLUMNS, VenueSchedule, apply_step, freeze_halts
from basisbt.engine.venue_setup import run_venues, venue_schedule

NOT_IN_ID = ("strict", "timeout")        # run keys that change whether a run is refused, never its numbers


class StrategyError(Spelled, RuntimeError):
    """A strategy hook raised; the message says which strategy, hook and time."""

    def __init__(self, message: str = "", *, key: str | None = None) -> None:
        Spelled.__init__(self, message, key=key)


class DataQualityError(ConfigError):
    """RunConfig.strict: the data has gaps the run would price stale (exit 2, naming the first stream)."""


def _check_strict(quality: dict) -> None:
    """Refuse a run whose data has any missing bar or stale-priced settlement (RunConfig.strict)."""
    for v, vq in quality["venues"].items():
        for kind in ("spot", "perp", "mark"):
            if vq[kind]["bars_missing"]:
                raise DataQualityError(f"{{strict}}: {v} {kind} has {vq[kind]['bars_missing']} missing bars (longest "
                                       f"gap {vq[kind]['longest_gap']}); they would be priced stale", key="strict")
        if vq["funding"]["priced_stale"]:
            raise DataQualityError(f"{{strict}}: {v} funding has {vq['funding']['priced_stale']} settlements "
                                   "inside a price gap; they would be priced at a stale close", key="strict")


def _window(dataset: Dataset, config: RunConfig) -> Dataset:
    """The dataset cut to the run's [start, end); a window holding no perp bar is refused with the data's span."""
    if not (config.start or config.end):
        return dataset
    ds = dataset.between(pd.Timestamp(config.start, tz="UTC") if config.start else None,
                         pd.Timestamp(config.end, tz="UTC") if config.end else None)
    span = dataset.perp_span()
    if span is not None and ds.perp_span() is None:
        raise ConfigError(f"no bars between start {config.start or '(start of data)'} and end "
                          f"{config.end or '(end of data)'}: dataset {dataset.name!r} spans "
                          f"{span[0].isoformat()} to {span[1].isoformat()} (bar opens, UTC)")
    return ds


def _ts(ns: int) -> pd.Timestamp:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC")


def _beyond(asked: float, have: float) -> bool:
    """True when a money move asks more than what is there by more than float noise (1e-9 of it, at least a
    millionth of a quote unit): a strategy moving "all of it" as it read it from ctx is not refused for a rounding
    in the last bits, and gets exactly what is there."""
    return asked > have + max(1e-6, 1e-9 * abs(have))


class Engine:
    """One backtest: a strategy, a dataset and a run config. Call `run()` once."""

    def __init__(self, strategy: Hooks, dataset: Dataset, config: RunConfig | None = None,
                 data_label: str | None = None, venues: Any = None) -> None:
        self.config = config or RunConfig()
        ds = _window(dataset, self.config)
        venues = venue_set(venues)
        # a venue paying funding on an oracle (Hyperliquid) gets its oracle bars here (data/oracle.py)
        ds, self.oracle_used, oracle_log = attach_oracle(ds, venues, dict(self.config.oracle))
        self.dataset = ds
        self.data_label = data_label or ds.name
        self.strategy = strategy
        self.symbol = ds.symbol
        self.market = freeze_halts(market_of(ds, venues), ds.venue_events)   # halts that stop marks or funding
        if self.config.strict:
            _check_strict(self.market.quality)
        if self.market.n < 2:
            raise ConfigError(f"dataset {ds.name!r} has {self.market.n} bars in the chosen span; need at least 2")
        m = self.market
        self._watch = Watch(self.config.timeout)   # entered by run(); validate() runs unwatched
        self._user("validate", strategy.validate, m.venue_names, m.protocols)
        if m.multi_asset and not strategy.multi_asset:
            raise ConfigError(f"strategy {strategy.name!r} trades one asset, and the data holds {', '.join(m.assets)}; "
                              "load one symbol (e.g. {data} cache:ETH/USDT) or use a strategy that takes assets "
                              "(funding_allocator, synthetic_dollar)", key="data")
        if m.multi_asset and ds.venue_events:
            raise ConfigError(f"dataset {ds.name!r}: venue events (ADL, halts, defaults) are not supported with "
                              "several assets yet; run one asset, or drop the [[venue_events]]")
        n, nv, npr = m.n, len(m.venues), len(m.protocols)
        # the run's venues (a VenueSet: code, --venues-dir, $BASISBT_VENUES, built-ins) with its overrides; what
        # they say over the run's span is part of its identity (config_id, venue_fingerprint)
        self.venues = resolved = run_venues(m.slot_venue, self.config.venue_overrides, venues)
        self.venue_fingerprint = {v: resolved[v].fingerprint(int(m.open_ns[0]), int(m.open_ns[-1])) for v in resolved}
        schedule = venue_schedule(m.slot_venue, m.slot_asset, m.open_ns, self.config.slippage,
                                  self.config.slippage_impact, self.config.venue_overrides,
                                  collateral_asset=m.collateral_asset, resolved=resolved)
        _, self.tables, self.specs = schedule[0]
        self._spec_changes = schedule[1:]          # (bar, tables, specs) the run switches to at that bar's open
        start = _ts(m.open_ns[0]).isoformat()
        self.venue_blocks: dict[str, list[dict[str, str]]] = {  # which spec block was in force when (run.toml)
            v: [{"block": str(s.effective_from.date()), "from": start}] for v, s in zip(m.slot_venue, self.specs, strict=True)}
        self.arrays = m.arrays()
        self.state = State(np.zeros((nv, N_ACCT)), np.zeros(npr), np.zeros(npr), np.zeros((16, N_TRANSIT)),
                           self.arrays.spot_open[0].copy(), self.arrays.mark_open[0].copy())
        self.state.acct[:, A_FUND] = self.tables.cfg[:, C_FUND_SIZE]   # each symbol's insurance fund at the start
        self.rec = Records(np.full(n, np.nan), np.zeros((n, N_PNL)), np.zeros((n, nv, N_REC)),
                           np.zeros((n, npr)), np.zeros(n), np.zeros(n), np.zeros((nv + 1, N_PNL)))
        cap = 1024 + 4 * sum(len(b) for b in m.funding_bar) + 2 * int(m.lend_update.sum())
        self.ledger = Ledger(np.zeros((cap, N_LEDGER_I), np.int64), np.zeros(cap), np.zeros(1, np.int64))
        self.initial_capital = float(self.config.initial_capital)
        self.bar = -1
        self._now_ns: int = int(m.open_ns[0])
        self._now: pd.Timestamp | None = None      # built from _now_ns when first asked for
        self._close_ns = m.close_ns.tolist()      # Python ints: read once per decision
        self._wants_funding = overrides(strategy, "on_funding")   # hooks it overrides are also decision points
        self._wants_lending = overrides(strategy, "on_lending_rate")
        # a slot by its label; with several assets a venue name also finds its home slot (its cash)
        self.venue_index = {**{v: m.home[j] for j, v in enumerate(m.slot_venue)},
                            **{v: j for j, v in enumerate(m.venues)}}
        self.slot_index = {v: j for j, v in enumerate(m.venues)}
        self.ctx = Context(self)
        self.extras: dict[str, dict[pd.Timestamp, float]] = {}
        self.log: list[str] = [*oracle_log, *m.log]
        self.fills: list[dict[str, Any]] = []
        self.liquidations: list[dict[str, Any]] = []
        self._new_fills: list[FillEvent] = []
        self._new_liqs: list[LiquidationEvent] = []
        self.refused: dict[str, int] = {}           # "venue instrument reason" -> orders refused (no real bar)
        self.cancelled: dict[str, int] = {}         # "venue instrument reason" -> resting orders the venue cancelled
        self.rejected: dict[str, int] = {}          # "venue instrument status: reason" -> orders the venue refused
        self.conversions: dict[str, int] = {}       # "src->dst" -> transfers converted between quote currencies
        self.on_credit: dict[str, dict[str, float]] = {}   # venue -> {count, amount}: outflows beyond its cash
        self._new_rejects: list[RejectEvent] = []
        self.events = events_of(m)
        # contiguous copies: searchsorted on a strided field view copies the whole field on every call
        self._ev_bar = np.ascontiguousarray(self.events["bar"])
        self._ev_kind = np.ascontiguousarray(self.events["kind"])
        self._fill_id = 0
        self._fill: Any = None                       # fill_order's compiled entry point, resolved at the first fill
        # ctx.sleep(): on_bar is not called before this bar unless an event is delivered (bar index; -1 = awake)
        self.sleep_until = -1
        self.honor_sleep = True                      # False: call every decision anyway (tests prove it changes nothing)
        # scheduled ADL / halts / defaults (engine/venue_events.py), applied at bar opens between kernel calls
        self.venue_events = VenueSchedule(ds.venue_events, list(m.venues), m.open_ns, self.data_label, self.log)
        self.venue_event_rows: list[dict[str, Any]] = []
        self._new_venue_events: list[tuple[str, Any]] = []
        self.resting = RestingBook(m)                # maker orders resting on the venues (engine/resting.py)

    # -- set-up ------------------------------------------------------------------------------------
    def _decision_mask(self) -> np.ndarray:
        m = self.market
        decide: str | int = self.config.decide or self.strategy.decide
        if isinstance(decide, str) and decide.isdigit():
            decide = int(decide)
        mask = np.zeros(m.n, bool)
        funding_bars = np.zeros(m.n, bool)
        for b in m.funding_bar:
            funding_bars[b] = True
        if decide == "bar":
            mask[:] = True
        elif decide == "funding":
            mask |= funding_bars
        elif isinstance(decide, int) and decide > 0:
            mask[decide - 1::decide] = True
        else:
            raise ConfigError(f"decide must be 'bar', 'funding' or a positive integer, not {decide!r}")
        if self._wants_funding:
            mask |= funding_bars
        if self._wants_lending:
            mask |= self.market.lend_update.any(axis=1)
        mask[self.venue_events.bars()] = True          # the strategy hears of a venue event at its bar
        mask[-1] = True
        return mask

    def _deposit(self) -> None:
        alloc = self._user("initial_allocation", self.strategy.initial_allocation, self.market.venue_names)
        alloc = self._checked_allocation(alloc)
        total = sum(alloc.values())
        t0 = int(self.market.open_ns[0])
        for venue, w in sorted(alloc.items()):
            j = self.ctx.home_of(venue)
            amt = self.initial_capital * w / total
            self.state.acct[j, A_CASH] += amt
            self._ledger(t0, j, K_DEPOSIT, amt, -1)

    def _checked_allocation(self, alloc: Any) -> dict[str, float]:
        """initial_allocation's answer as {venue: weight}, or a StrategyError naming what it returned: a dict
        of the run's venues to finite weights >= 0, not all zero."""
        where = f"strategy {self.strategy.name!r} initial_allocation returned"
        if not isinstance(alloc, Mapping) or not alloc:
            raise StrategyError(f"{where} {alloc!r:.80}; expected a dict of venue -> weight >= 0, e.g. "
                                f"{{{self.market.venue_names[0]!r}: 1.0}}")
        out: dict[str, float] = {}
        for venue, w in alloc.items():
            if not isinstance(venue, str):
                raise StrategyError(f"{where} the key {venue!r:.40}; keys are venue names: "
                                    f"{', '.join(self.market.venue_names)}")
            ok = isinstance(w, (int, float, np.integer, np.floating)) and not isinstance(w, bool)
            if not ok or not math.isfinite(w) or w < 0:
                raise StrategyError(f"{where} {venue}: {w!r:.40}; a weight is a finite number >= 0")
            out[venue] = float(w)
        if sum(out.values()) <= 0:
            raise StrategyError(f"{where} weights that sum to 0; give at least one venue a weight > 0")
        return out

    def _ledger(self, ts_ns: int, venue: int, kind: int, amount: float, ref: int) -> None:
        if self.ledger.count[0] >= self.ledger.amounts.shape[0]:
            self._grow_ledger()
        write_ledger(self.ledger.keys, self.ledger.amounts, self.ledger.count, ts_ns, venue, kind, amount, ref)

    def _grow_ledger(self) -> None:
        keys, amounts, c = self.ledger
        self.ledger = Ledger(np.concatenate([keys, np.zeros_like(keys)]), np.concatenate([amounts, np.zeros_like(amounts)]),
                             c)

    # -- the clock -------------------------------------------------------------------------------------
    @property
    def now(self) -> pd.Timestamp:
        """Close of the last known bar (open of the first bar before any); built when first asked
        for, since most decisions never read it."""
        if self._now is None:
            self._now = _ts(self._now_ns)
        return self._now

    def _set_now(self, ns: int) -> None:
        self._now_ns = ns
        self._now = None

    # -- hooks ---------------------------------------------------------------------------------------
    def _call(self, hook: str, ev: Any) -> None:
        """A strategy hook under its time limit: `_user`'s rules, inlined (it runs at every decision)."""
        w = self._watch
        w.since = monotonic()
        try:
            getattr(self.strategy, hook)(self.ctx, ev)
        except BaseException as e:
            w.since = None
            self._failed(hook, e)
        w.since = None
        if w.fired:                                   # it swallowed HookTimeout and returned later
            raise self._timed_out(hook)

    def _user(self, what: str, fn: Any, *args: Any) -> Any:
        """fn(*args) of the strategy under its time limit (engine/guard.py): anything it raises, any
        BaseException included (sys.exit() in a hook must not end the run "ok"), becomes a StrategyError naming
        the strategy, `what` and the time; a ConfigError (a bad ctx call) stays one, Ctrl-C stays an interrupt."""
        w = self._watch
        w.since = monotonic()
        try:
            out = fn(*args)
        except BaseException as e:
            w.since = None
            self._failed(what, e)
        w.since = None
        if w.fired:
            raise self._timed_out(what)
        return out

    def _failed(self, what: str, e: BaseException) -> NoReturn:
        """Raise what a strategy call that raised `e` is: the same ConfigError or interrupt, a time-out, or a
        StrategyError naming the strategy, `what` and the time."""
        if isinstance(e, ConfigError) or user_interrupt(e):
            raise e
        if isinstance(e, HookTimeout) or self._watch.fired:
            raise self._timed_out(what) from None
        raise StrategyError(f"strategy {self.strategy.name!r} raised in {what} at {self._when()}: "
                            f"{type(e).__name__}: {e}") from e

    def _timed_out(self, what: str) -> StrategyError:
        return StrategyError(f"strategy {self.strategy.name!r} ran longer than the {self._watch.limit:g} s limit "
                             f"in {what} at {self._when()} and was stopped (a larger {{timeout}} raises the limit)",
                             key="timeout")

    def _when(self) -> Any:
        """Now, or 'set-up' while the engine is still being built (validate runs before the clock exists)."""
        return self.now if hasattr(self, "_now_ns") else "set-up"

    def _deliver(self, last: int, d: int) -> None:
        """Run the hooks for everything that became known in bars (last, d], in docs/architecture.md §3 order.
        Any event delivered wakes a sleeping strategy (ctx.sleep); on_bar runs only when awake."""
        self.bar = d
        self._set_now(self._close_ns[d])
        if self._new_fills or self._new_rejects or self._new_liqs or self._new_venue_events or d >= self.sleep_until:
            self.sleep_until = -1
        if self._new_fills:
            for fill in self._new_fills:
                self._call("on_fill", fill)
            self._new_fills = []
        if self._new_rejects:
            for reject in self._new_rejects:
                self._call("on_reject", reject)
            self._new_rejects = []
        if self._new_liqs:
            for liq in self._new_liqs:
                self._call("on_liquidation", liq)
            self._new_liqs = []
        if self._new_venue_events:                   # on_adl / on_venue_halt / on_venue_default
            for hook, ev in self._new_venue_events:
                self._call(hook, ev)
            self._new_venue_events = []
        if (self._wants_funding or self._wants_lending) and self._deliver_rates(last, d):
            self.sleep_until = -1
        if self.sleep_until < 0 or not self.honor_sleep:
            self.sleep_until = -1
            self._call("on_bar", BarEvent(d, self._now_ns))

    def _deliver_rates(self, last: int, d: int) -> bool:
        """on_funding / on_lending_rate for the settlements and rates known in bars (last, d]; True if any ran."""
        m = self.market
        want_f, want_l = self._wants_funding, self._wants_lending
        lo = int(self._ev_bar.searchsorted(last, side="right"))
        hi = int(self._ev_bar.searchsorted(d, side="right"))
        rows = lo + np.flatnonzero(self._ev_kind[lo:hi] != EV_BAR)   # skip the bar closes
        called = False
        for e in self.events[rows]:
            if e["kind"] == EV_FUNDING and want_f:
                j, r = int(e["key"]), int(e["row"])
                ts = m.funding_ts[j]
                interval = (ts[r] - ts[r - 1]) / 3.6e12 if r > 0 else math.nan
                self._call("on_funding", FundingEvent(_ts(ts[r]), m.venues[j], m.symbols[j],
                                                      float(m.funding_raw[j][r]), interval))
                called = True
            elif e["kind"] == EV_LENDING and want_l:
                p, b = int(e["key"]), int(e["bar"])
                apy = m.lend_apy[min(b + 1, m.n - 1), p]
                self._call("on_lending_rate", LendingRateEvent(_ts(e["known_ns"]), m.protocols[p], float(apy)))
                called = True
        return called

    # -- fills and transfers at the open of bar i ----------------------------------------------------------
    def _execute(self, i: int, act: Actions) -> None:
        mk, acct = self.arrays, self.state.acct
        close_mode = self.config.fill == "close"
        ts_ns = int(self.market.open_ns[i])
        for j, col, value in act.settings:           # margin set-up (Context.configure) first
            self.tables.cfg[j, col] = value
        outflows: dict[int, float] = {}
        for j, amount in act.flows:                   # capital moves first: mints fund the orders
            if self.venue_events.trading_blocked(j, i) == WHY_DEFAULTED:
                self._count_once(self.rejected, f"{self.market.venues[j]} flow refused: venue defaulted", ts_ns,
                                 f"external flow {amount:.2f} to defaulted {self.market.venues[j]} refused")
                continue
            acct[j, A_CASH] += amount
            self.rec.flows[i] += amount
            self._ledger(ts_ns, j, K_DEPOSIT if amount > 0 else K_WITHDRAWAL, amount, -1)
            if amount < 0:
                outflows[j] = outflows.get(j, 0.0) - amount
        for j, amount in act.margin_moves:            # cash <-> isolated margin on one venue
            h = self.market.home[j]
            have = acct[h, A_CASH] if amount > 0 else acct[j, A_ISO]
            if _beyond(abs(amount), have):              # the venue refuses it whole
                self._refuse_move(ts_ns, self.market.venues[j], "margin", amount,
                                  WHY_CASH if amount > 0 else WHY_BALANCE, "add_isolated_margin",
                                  f"isolated margin move {amount:+.2f} ({'free cash' if amount > 0 else 'margin'} "
                                  f"{have:.2f})")
                continue
            amount = min(amount, have) if amount > 0 else max(amount, -have)     # "all of it", to the last bit
            acct[h, A_CASH] -= amount
            acct[j, A_ISO] += amount
        when: pd.Timestamp | None = None
        for o in act.orders:
            why = self.venue_events.trading_blocked(o.venue, i)
            if why:                                  # a halted or defaulted venue refuses every order
                self._rejected(ts_ns, self.market.venues[o.venue], INSTRUMENTS[o.instrument], o, 0.0, O_REFUSED, why)
                continue
            if not self._fillable(i - 1 if close_mode else i, o.venue, o.instrument, ts_ns):
                continue
            if close_mode:
                spot_ref = mk.spot_close[i - 1, o.venue]
                ref = spot_ref if o.instrument == SPOT else self.market.bars["perp_close"][i - 1, o.venue]
            else:
                spot_ref = mk.spot_open[i, o.venue]
                ref = spot_ref if o.instrument == SPOT else mk.perp_open[i, o.venue]
            vol = (mk.spot_volume if o.instrument == SPOT else mk.perp_volume)[i, o.venue]
            if self.ledger.amounts.shape[0] - self.ledger.count[0] < 4:
                self._grow_ledger()
            fid = self._fill_id
            qty, px, fee, slip, status, reason = self._fill_at(i, ts_ns, o.venue, o.instrument, o.qty, float(ref),
                                                               float(spot_ref), float(vol), fid, False)
            venue = self.market.venues[o.venue]
            ins = INSTRUMENTS[o.instrument]
            if status != O_FILLED:
                self._rejected(ts_ns, venue, ins, o, qty, int(status), int(reason))
            if status == O_REFUSED:
                continue
            self._fill_id += 1
            when = when or _ts(ts_ns)                 # one Timestamp per instant (30 us each)
            self.fills.append(dict(ts=when, venue=venue, instrument=ins, qty=qty, price=px,
                                   ref_price=ref, fee=fee, slippage=slip, reason=o.reason, fill_id=fid,
                                   liquidity="taker"))
            self._new_fills.append(FillEvent(when, venue, ins, qty, px, fee, slip, o.reason, float(ref),
                                             float(spot_ref)))
        for lo in act.limits:                          # resting maker orders join the book (post-only)
            self._place_limit(i, ts_ns, lo, close_mode)
        if act.cancels:
            self.resting.remove(set(act.cancels))
        for j, amount in act.collateral_buys:         # after the orders: cash left -> collateral asset
            self._buy_collateral(i, ts_ns, j, amount)
        for t in act.transfers:
            self._transfer(i, ts_ns, t)
        for j, out in outflows.items():               # a redemption is paid whole: what the cash lacked is on credit
            self._on_credit(ts_ns, j, out)

    def _on_credit(self, ts_ns: int, j: int, outflow: float) -> None:
        """An outflow (ctx.external_flow < 0, a redemption) is the book's obligation and is paid whole; the part the
        venue's cash lacked once this instant's trades are done (the cash is below zero) is carried as a negative
        balance against the venue's collateral, as a cross-margin account carries funding paid from an empty wallet.
        Counted (metrics.json data_quality.outflows_on_credit: count and quote amount), logged once per venue."""
        short = min(-float(self.state.acct[j, A_CASH]), outflow)
        if short <= 1e-6:                            # a millionth of a quote unit: float noise, not credit
            return
        venue = self.market.venues[j]
        c = self.on_credit.setdefault(venue, {"count": 0, "amount": 0.0})
        c["count"] += 1
        c["amount"] += short
        if c["count"] == 1:
            self.log.append(f"{_ts(ts_ns).isoformat()} outflow {outflow:.2f} on {venue} is {short:.2f} more than its "
                            "cash after this instant's trades: paid on credit (a negative balance); later ones are "
                            "counted in metrics.json data_quality.outflows_on_credit")

    def _place_limit(self, i: int, ts_ns: int, lo: LimitOrder, close_mode: bool) -> None:
        """Put a limit order on the book at this fill instant, or refuse it: a halted or defaulted venue, no real
        bar, or a price that would trade at once against this instant's price (post-only)."""
        venue, ins = self.market.venues[lo.venue], INSTRUMENTS[lo.instrument]
        why = self.venue_events.trading_blocked(lo.venue, i)
        b = i - 1 if close_mode else i
        if why:
            self._rejected(ts_ns, venue, ins, lo, 0.0, O_REFUSED, why)
            return
        if not self._fillable(b, lo.venue, lo.instrument, ts_ns):
            return
        now_px = float(self.market.bars[f"{ins}_{'close' if close_mode else 'open'}"][b, lo.venue])
        if (lo.price >= now_px) if lo.qty > 0 else (lo.price <= now_px):
            self._rejected(ts_ns, venue, ins, lo, 0.0, O_REFUSED, WHY_POST_ONLY)
            return
        self.resting.add(lo)

    def _fill_resting(self, i: int) -> None:
        """At bar i's open: cancel the orders that expired, then fill those bar i trades strictly through (book
        order), at their limit price with the maker fee, booked at this open (engine/resting.py)."""
        ts_ns = int(self.market.open_ns[i])
        for o in self.resting.expired(i):
            self._cancelled(ts_ns, o, WHY_EXPIRED)
        for o in self.resting.trades_at(i):
            if self.venue_events.trading_blocked(o.venue, i) == WHY_HALTED:
                continue                                  # nothing trades on a halted venue: it keeps resting
            self.resting.remove({o.id})
            spot_ref = o.price if o.instrument == SPOT else self._spot_at(i, o.venue, o.price)
            if self.ledger.amounts.shape[0] - self.ledger.count[0] < 4:
                self._grow_ledger()
            fid = self._fill_id
            qty, px, fee, slip, status, reason = self._fill_at(i, ts_ns, o.venue, o.instrument, o.qty, o.price,
                                                               float(spot_ref), 0.0, fid, True)
            venue, ins = self.market.venues[o.venue], INSTRUMENTS[o.instrument]
            if status == O_REFUSED:
                self._rejected(ts_ns, venue, ins, o, 0.0, int(status), int(reason))
                continue
            self._fill_id += 1
            when = _ts(ts_ns)
            self.fills.append(dict(ts=when, venue=venue, instrument=ins, qty=qty, price=px, ref_price=o.price,
                                   fee=fee, slippage=slip, reason=o.reason, fill_id=fid, liquidity="maker"))
            self._new_fills.append(FillEvent(when, venue, ins, qty, px, fee, slip, o.reason, o.price, float(spot_ref),
                                             "maker", o.id))

    def _spot_at(self, i: int, j: int, perp_px: float) -> float:
        """The spot price that goes with a perp trade at perp_px inside bar i: the open's basis (perp open / spot
        open), else the last close's (mark / spot): it only splits the fill's PnL between price and basis."""
        s, p = float(self.arrays.spot_open[i, j]), float(self.arrays.perp_open[i, j])
        if math.isfinite(s) and math.isfinite(p) and s > 0 and p > 0:
            return perp_px * s / p
        return perp_px * float(self.state.prev_spot[j]) / float(self.state.prev_mark[j])

    def _cancelled(self, ts_ns: int, o: LimitOrder, why: int) -> None:
        """The venue cancelled a resting order (expiry, liquidation, default): logged once per kind, on_reject."""
        venue, ins = self.market.venues[o.venue], INSTRUMENTS[o.instrument]
        self._count_once(self.cancelled, f"{venue} {ins} limit cancelled: {REJECT_REASONS[why]}", ts_ns,
                         f"limit order {o.id} {venue} {ins} {o.qty:+.6f} @ {o.price:,.2f} cancelled: "
                         f"{REJECT_REASONS[why]}")
        self._new_rejects.append(RejectEvent(_ts(ts_ns), venue, ins, o.qty, 0.0, ORDER_STATUS[O_CANCELLED],
                                             REJECT_REASONS[why], o.reason, o.id))

    def cancel_resting(self, ts_ns: int, slot: int, why: int, perp_only: bool = True) -> None:
        """The venue cancels a slot's resting orders (its perp's, on liquidation or ADL; all of them, on a default)."""
        ids = {o.id for o in self.resting.orders if o.venue == slot and (o.instrument == PERP or not perp_only)}
        for o in self.resting.remove(ids):
            self._cancelled(ts_ns, o, why)

    def _fill_at(self, i: int, ts_ns: int, j: int, instrument: int, qty: float, ref: float, spot_ref: float,
                 vol: float, fid: int, maker: bool) -> tuple:
        """fill_order through its compiled entry (resolved once per run, engine/kernels/entry.py)."""
        if self._fill is None:
            self._fill = compiled(fill_order, self.state, self.tables, self.rec, self.ledger, i, ts_ns, j, instrument,
                                  qty, ref, spot_ref, vol, fid, maker)
        return self._fill(self.state, self.tables, self.rec, self.ledger, i, ts_ns, j, instrument, qty, ref, spot_ref,
                          vol, fid, maker)

    def _buy_collateral(self, i: int, ts_ns: int, j: int, amount: float) -> None:
        """Quote `amount` of venue j's cash into collateral-asset units (amount < 0: that much quote worth of units
        back to cash) at the asset's last close (bar i-1). A conversion is a spot trade: it pays the venue's spot
        taker fee on the amount (0.1 % of 5,000 is 5.00, ledger `fee`), from the cash on top of a buy, out of the
        proceeds of a sale. A buy above the cash that pays it and its fee, or a sale above the units held, is refused
        whole (on_reject), as a venue refuses a spot order it cannot fill."""
        acct = self.state.acct
        px = float(self.arrays.coll_close[max(i - 1, 0), j])
        if not math.isfinite(px) or px <= 0.0:
            self._count_once(self.refused, f"{self.market.venues[j]} collateral no price", ts_ns,
                             f"collateral conversion refused on {self.market.venues[j]}: no collateral price yet")
            return
        rate = float(self.tables.cfg[j, C_SPOT_TAKER])
        have = acct[j, A_CASH] if amount > 0 else acct[j, A_COLL] * px
        if _beyond(amount * (1.0 + rate) if amount > 0 else -amount, have):   # the venue refuses it whole
            self._refuse_move(ts_ns, self.market.venues[j], "collateral", amount,
                              WHY_CASH if amount > 0 else WHY_BALANCE, "buy_collateral",
                              f"collateral conversion {amount:+.2f} on {self.market.venues[j]} "
                              f"({'cash' if amount > 0 else 'collateral held'} {have:.2f})")
            return
        amount = min(amount, max(have, 0.0) / (1.0 + rate)) if amount > 0 else max(amount, -have)   # to the last bit
        fee = abs(amount) * rate
        acct[j, A_CASH] -= amount + fee
        acct[j, A_COLL] += amount / px
        self._ledger(ts_ns, j, K_COLL_TRADE, -amount, -1)
        self._ledger(ts_ns, j, K_FEE, -fee, -1)
        self.rec.pnl[i, P_FEES] -= fee
        self.rec.attr[j, P_FEES] -= fee

    def _rejected(self, ts_ns: int, venue: str, ins: str, o: Any, filled: float, status: int, reason: int) -> None:
        """A venue refused an order: counted, logged once per kind, told to the strategy (on_reject)."""
        kind = f"{venue} {ins} {ORDER_STATUS[status]}: {REJECT_REASONS[reason]}"
        self._count_once(self.rejected, kind, ts_ns, f"order {kind} (asked {o.qty:.6f}, filled {filled:.6f}); later "
                         "ones of this kind are counted in metrics.json orders_rejected")
        self._new_rejects.append(RejectEvent(_ts(ts_ns), venue, ins, o.qty, filled, ORDER_STATUS[status],
                                             REJECT_REASONS[reason], o.reason, getattr(o, "id", -1)))

    def _fillable(self, b: int, j: int, instrument: int, ts_ns: int) -> bool:
        """An order fills only against a real bar: refused (logged once per kind, counted) where the
        instrument is not listed yet or its bar is missing, since any price there would be invented."""
        ins = INSTRUMENTS[instrument]
        st = self.market.state_at(b, j, ins)
        if st == LIVE:
            return True
        kind = f"{self.market.venues[j]} {ins} {'not listed yet' if st == UNLISTED else 'bar missing (data gap)'}"
        self._count_once(self.refused, kind, ts_ns, f"order refused: {kind}; later refusals of this kind are "
                         "counted in metrics.json data_quality.orders_refused")
        return False

    def _count_once(self, counter: dict[str, int], kind: str, ts_ns: int, message: str) -> None:
        """Count one more event of `kind`; the run log says the first of each kind, metrics.json the count."""
        counter[kind] = counter.get(kind, 0) + 1
        if counter[kind] == 1:
            self.log.append(f"{_ts(ts_ns).isoformat()} {message}")

    def _transfer(self, i: int, ts_ns: int, t: Transfer) -> None:
        m, st = self.market, self.state
        nv = len(m.venues)
        if t.src.startswith("lending:"):
            p = m.protocols.index(t.src.split(":", 1)[1])
            dst = m.home[self.venue_index[t.dst]]
            if self._transfer_blocked(i, ts_ns, t, dst, only_default=True):
                return
            self._flush_lending(ts_ns, p)
            if _beyond(t.amount, st.lend[p]):         # the protocol refuses a withdrawal above the supplied balance
                self._refuse_move(ts_ns, t.src, "transfer", t.amount, WHY_BALANCE, f"{t.src}->{t.dst}",
                                  f"withdrawal {t.src}->{t.dst} {t.amount:.2f} (supplied {st.lend[p]:.2f})")
                return
            amount = min(t.amount, st.lend[p])
            st.lend[p] -= amount
            src_idx, fee = nv + p, 0.0
            delay = self.specs[dst].withdrawal_delay_s
        else:
            j = m.home[self.venue_index[t.src]]
            if self._transfer_blocked(i, ts_ns, t, j) or (not t.dst.startswith("lending:") and
                                                         self._transfer_blocked(i, ts_ns, t, self.venue_index[t.dst],
                                                                                only_default=True)):
                return
            fee = self.specs[j].withdrawal_fee
            if _beyond(t.amount + fee, st.acct[j, A_CASH]):   # an exchange refuses a withdrawal above the balance
                self._refuse_move(ts_ns, m.venues[j], "transfer", t.amount, WHY_CASH, f"{t.src}->{t.dst}",
                                  f"transfer {t.src}->{t.dst} {t.amount:.2f} + fee {fee:.2f} (free cash "
                                  f"{st.acct[j, A_CASH]:.2f})")
                return
            amount = min(t.amount, max(st.acct[j, A_CASH] - fee, 0.0))
            st.acct[j, A_CASH] -= amount + fee
            src_idx = j
            delay = self.specs[j].withdrawal_delay_s
            dst = (nv + m.protocols.index(t.dst.split(":", 1)[1])) if t.dst.startswith("lending:") \
                else m.home[self.venue_index[t.dst]]
        if amount <= 0:
            return
        conv = self._convert(i, ts_ns, t, src_idx, dst, amount)     # its fee row; what travels is the rest
        amount -= conv
        self._ledger(ts_ns, src_idx, K_TRANSFER_OUT, -amount, -1)
        if fee:
            self._ledger(ts_ns, src_idx, K_WITHDRAWAL_FEE, -fee, -1)
            self.rec.pnl[i, P_FEES] -= fee
            self.rec.attr[min(src_idx, nv), P_FEES] -= fee
        arrive = ts_ns + delay * 1e9
        if dst < nv:                                 # a venue halting withdrawals credits deposits after the halt
            arrive = max(arrive + self.specs[dst].deposit_delay_s * 1e9,    # its bridge (Hyperliquid: 1 min)
                         self.venue_events.arrival_floor(dst, i))
        self._put_in_transit(dst, amount, arrive)

    def _quote(self, k: int) -> str:
        """The quote currency of venue slot k (its spec's `quote`), or of a lending protocol (the data's quote)."""
        if k < len(self.market.venues):
            return self.specs[k].quote
        return self.symbol.split("/")[-1].split(":")[0]

    def _convert(self, i: int, ts_ns: int, t: Transfer, src: int, dst: int, amount: float) -> float:
        """The fee of converting a transfer between quote currencies (USDT -> USDC), 0 when both sides share one.

        The conversion is a spot trade on the venue's stablecoin pair at par, paying its spot taker fee: on the
        source venue, or on the destination venue when the money comes from a lending protocol. Booked as a
        `fee` ledger row on that venue (ref -1) and in the fees part; the rest travels on (the transfer_out row
        is that rest, so transfer_out + fee + transfer_in = -fee: nothing is counted twice)."""
        q_src, q_dst = self._quote(src), self._quote(dst)
        if q_src == q_dst:
            return 0.0
        nv = len(self.market.venues)
        at = src if src < nv else dst
        conv = amount * self.specs[at].spot_taker_fee
        self._count_once(self.conversions, f"{t.src}->{t.dst}", ts_ns,
                         f"transfer {t.src}->{t.dst} converts {q_src} to {q_dst} on {self.market.venues[at]} at its "
                         f"spot taker fee {self.specs[at].spot_taker_fee:.4%} ({conv:.2f} on {amount:.2f}); later "
                         f"ones are in the ledger (kind fee, ref -1)")
        if conv:
            self._ledger(ts_ns, at, K_FEE, -conv, -1)
            self.rec.pnl[i, P_FEES] -= conv
            self.rec.attr[at, P_FEES] -= conv
        return conv

    def _transfer_blocked(self, i: int, ts_ns: int, t: Transfer, j: int, only_default: bool = False) -> bool:
        """A transfer out of a venue whose withdrawals are halted (or to or from a defaulted one) is refused:
        counted in orders_rejected, logged once per kind, told to the strategy (on_reject, instrument 'transfer')."""
        why = self.venue_events.withdrawals_blocked(j, i)
        if not why or (only_default and why != WHY_DEFAULTED):
            return False
        venue = self.market.venues[j]
        self._refuse_move(ts_ns, venue, "transfer", t.amount, why, f"{t.src}->{t.dst}",
                          f"transfer {t.src}->{t.dst} {t.amount:.2f} ({venue})")
        return True

    def _refuse_move(self, ts_ns: int, venue: str, what: str, amount: float, why: int, reason: str,
                     detail: str) -> None:
        """A venue or protocol refuses a money move whole (a transfer, a collateral conversion, an isolated-margin
        move; `amount` in quote): counted in metrics.json orders_rejected as "<venue> <what> refused: <why>", logged
        once per kind, told to the strategy (on_reject, instrument `what`, asked = amount, filled 0)."""
        kind = f"{venue} {what} refused: {REJECT_REASONS[why]}"
        self._count_once(self.rejected, kind, ts_ns, f"{detail} refused: {REJECT_REASONS[why]}; later ones are "
                         "counted in metrics.json orders_rejected")
        self._new_rejects.append(RejectEvent(_ts(ts_ns), venue, what, amount, 0.0, "refused", REJECT_REASONS[why],
                                             reason))

    def _put_in_transit(self, dst: int, amount: float, arrive_ns: float) -> None:
        """Money on its way to venue/protocol `dst`, arriving (kernel step 3) at the first close >= arrive_ns."""
        st = self.state
        free = np.flatnonzero(st.transit[:, T_AMOUNT] == 0.0)
        if free.size == 0:
            grown = np.zeros((st.transit.shape[0] * 2, N_TRANSIT))
            grown[: st.transit.shape[0]] = st.transit
            self.state = st = st._replace(transit=grown)
            free = np.flatnonzero(st.transit[:, T_AMOUNT] == 0.0)
        k = free[0]
        st.transit[k, T_ARRIVE_NS] = arrive_ns
        st.transit[k, T_DEST] = dst
        st.transit[k, T_AMOUNT] = amount

    def _flush_lending(self, ts_ns: int, p: int) -> None:
        acc = self.state.lend_accrued[p]
        if acc != 0.0:
            self._ledger(ts_ns, len(self.market.venues) + p, K_LENDING, acc, -1)
            self.state.lend_accrued[p] = 0.0

    def _collect_liquidations(self, liq_out: np.ndarray) -> None:
        m = self.market
        for row in liq_out:
            if row[Q_VENUE] < 0:
                continue
            j, b = int(row[Q_VENUE]), int(row[Q_BAR])
            ts = _ts(self.arrays.close_ns[b])
            kind = LIQ_KINDS[int(row[Q_KIND])]
            rec = dict(ts=ts, venue=m.venues[j], qty=row[Q_QTY], price=row[Q_PRICE], fee=row[Q_FEE],
                       insurance_loss=row[Q_INSURANCE], liq_id=len(self.liquidations), socialized=row[Q_SOCIAL],
                       kind=kind)
            self.liquidations.append(rec)
            if self.resting:                            # the venue cancels a liquidated position's orders
                self.cancel_resting(int(self.arrays.close_ns[b]), j, WHY_LIQUIDATED)
            self._new_liqs.append(LiquidationEvent(ts, m.venues[j], float(row[Q_QTY]), float(row[Q_PRICE]),
                                                   float(row[Q_FEE]), float(row[Q_INSURANCE]),
                                                   float(row[Q_SOCIAL]), kind))
            social = f", beyond the insurance fund (ADL of others) {row[Q_SOCIAL]:.2f}" if row[Q_SOCIAL] > 0 else ""
            if row[Q_KIND] == LK_BACKSTOP:              # a book venue's liquidator vault took the account over
                self.log.append(f"{ts.isoformat()} BACKSTOP {m.venues[j]}: the liquidator vault took the perp "
                                f"{row[Q_QTY]:.6f} at its mark {row[Q_PRICE]:.2f} and margin {row[Q_FEE]:.2f} with "
                                f"it (below the venue's backstop line: nothing returned{social})")
            else:
                self.log.append(f"{ts.isoformat()} LIQUIDATED {m.venues[j]} perp {row[Q_QTY]:.6f} at "
                                f"{row[Q_PRICE]:.2f} ({kind}, fee {row[Q_FEE]:.2f}, insurance {row[Q_INSURANCE]:.2f}{social})")

    # -- the loop -----------------------------------------------------------------------------------------
    # The kernel runs ahead through up to `span` decision points at a time; their hooks then run in
    # order, reading the book from the records of their bar. While decisions ask for nothing, the
    # run-ahead stands (and the span doubles): one kernel call serves many decisions. When one
    # acts at bar d, the bars run past d are undone (state restored, kernel re-run up to d) and
    # the span falls back to 1. Results are identical to stopping at every decision, under the four
    # invariants stated in engine/checkpoint.py.
    MAX_SPAN = 4096

    def run(self, progress: Any = None, *, frames: bool = True) -> RunResult:
        """Run to the end and return the frozen RunResult. `progress(done_bars, total)` is optional;
        `frames=False` keeps metrics only (Engine._results says what that skips). Every strategy call runs
        under the time limit `RunConfig.timeout` (engine/guard.py)."""
        with Watch(self.config.timeout) as self._watch:
            try:
                return self._run(progress, frames)
            except HookTimeout:                    # fired between a hook's return and the engine noticing
                raise self._timed_out("a hook") from None

    def _run(self, progress: Any, frames: bool) -> RunResult:
        m = self.market
        n = m.n
        self._deposit()
        self._call("on_start", StartEvent(self.now))
        act = self.ctx.take_actions()
        decisions = np.flatnonzero(self._decision_mask()).tolist()
        n_dec = len(decisions)
        next_forced = self._next_forced_bar()
        liq_out = np.full((LIQ_SLOTS * len(m.venues), N_LIQ), -1.0)
        kernel = compiled(advance, self.state, self.tables, self.arrays, self.rec, self.ledger, 0, 0, liq_out, 0)
        ptr, i, last, span = 0, 0, -1, 1
        while i < n:
            while self._spec_changes and self._spec_changes[0][0] <= i:
                self._switch_specs(*self._spec_changes.pop(0))
            for step in self.venue_events.due(i):       # venue events at this open, before its fills
                self._new_venue_events.append(apply_step(self, step, i))
            if act:
                self._execute(i, act)
                act = None
            if self.resting:                            # maker orders this bar trades through (engine/resting.py)
                self._fill_resting(i)
            while decisions[ptr] < i:
                ptr += 1
            end = decisions[min(ptr + span, n_dec) - 1] + 1
            asleep = self._asleep(decisions[ptr])
            if asleep:                                  # ctx.sleep(): run to the decision it wakes at
                wake = min(self.sleep_until, next_forced[decisions[ptr]])
                k = bisect.bisect_left(decisions, wake, ptr)
                end = decisions[min(k, n_dec - 1)] + 1
            if self._spec_changes:                      # never run a bar under the tables of another block
                end = min(end, self._spec_changes[0][0])
            end = min(end, self.venue_events.next_bar(n))  # nor past the open of a venue event
            if self.resting:                            # nor past the open of a bar that fills a resting order
                end = min(end, self.resting.next_bar(i + 1))
            # asleep, no decision before the last bar run can act: nothing to undo, no checkpoint
            saved = Checkpoint.take(i, self.state, self.rec, self.ledger) \
                if end > decisions[ptr] + 1 and not asleep else None
            n_liq0 = len(self.liquidations)
            stop, code = kernel(self.state, self.tables, self.arrays, self.rec, self.ledger, i, end, liq_out, n_liq0)
            liq_bar = stop - 1 if code == STOP_LIQUIDATION else n
            while ptr < n_dec and decisions[ptr] < min(stop, liq_bar):
                d = decisions[ptr]
                if self._asleep(d) and next_forced[d] > d:   # nothing to tell a sleeping strategy: skip ahead
                    k = bisect.bisect_left(decisions, min(self.sleep_until, next_forced[d], stop, liq_bar), ptr)
                    last, ptr = decisions[k - 1], k
                    continue
                self._deliver(last, d)
                last = d
                ptr += 1
                act = self.ctx.take_actions()
                if act:
                    break
            if act:                                  # the book changes at d + 1: undo the bars run past d
                if stop > d + 1:
                    assert saved is not None           # a run past d + 1 always took a checkpoint
                    saved.restore(self.state, self.rec, self.ledger, stop)
                    kernel(self.state, self.tables, self.arrays, self.rec, self.ledger, i, d + 1, liq_out, n_liq0)
                i, span = d + 1, 1
            else:
                if code == STOP_LEDGER_FULL:
                    self._grow_ledger()
                elif code == STOP_LIQUIDATION:      # a liquidation is a decision point of its own
                    self._collect_liquidations(liq_out)
                    self._deliver(last, liq_bar)
                    last = liq_bar
                    act = self.ctx.take_actions()
                i, span = stop, min(2 * span, self.MAX_SPAN)
            if progress is not None:
                progress(i, n)
        self.bar = n - 1
        self._set_now(self._close_ns[n - 1])
        self._call("on_end", EndEvent(self.now))
        if act or self.ctx.take_actions():
            self.log.append(f"{self.now.isoformat()} orders placed at the last bar were not filled (no next bar)")
        if self.resting:
            self.log.append(f"{self.now.isoformat()} {len(self.resting.orders)} limit orders still resting at the end")
        for p in range(len(m.protocols)):
            self._flush_lending(int(m.close_ns[-1]), p)
        results = self._results(frames)
        self.ctx.detach()
        return results

    def _asleep(self, d: int) -> bool:
        """The strategy asked not to be called before sleep_until (ctx.sleep), and nothing is waiting to be
        told at decision d (fills, rejects, liquidations, venue events)."""
        return (self.honor_sleep and self.sleep_until > d and not self._new_fills and not self._new_rejects
                and not self._new_liqs and not self._new_venue_events)

    def _next_forced_bar(self) -> list[int]:
        """For each bar, the first bar at or after it with something to deliver besides on_bar (settlements
        or rates for a strategy that overrides their hooks, venue events), n if none: where sleep ends."""
        m = self.market
        forced = np.zeros(m.n + 1, bool)
        forced[m.n] = True
        if self._wants_funding:
            for b in m.funding_bar:
                forced[b] = True
        if self._wants_lending:
            forced[:m.n] |= m.lend_update.any(axis=1)
        forced[self.venue_events.bars()] = True
        idx = np.where(forced, np.arange(m.n + 1), m.n)
        return np.minimum.accumulate(idx[::-1])[::-1][:m.n].tolist()

    def _switch_specs(self, bar: int, tables: Any, specs: list) -> None:
        """From `bar` on, the venue spec blocks in force then: tiers and fees replaced in place (the kernel
        keeps its arrays); the margin set-up a strategy chose (isolated, spot collateral) stays."""
        keep = self.tables.cfg[:, [C_ISOLATED, C_SPOT_COLL]].copy()
        fund_was = self.tables.cfg[:, C_FUND_SIZE].copy()
        for live, new in zip(self.tables, tables, strict=True):
            live[...] = new
        self.tables.cfg[:, [C_ISOLATED, C_SPOT_COLL]] = keep
        moved = self.tables.cfg[:, C_FUND_SIZE] != fund_was      # a newer recorded fund size supersedes the model's
        self.state.acct[moved, A_FUND] = self.tables.cfg[moved, C_FUND_SIZE]
        for j, (old, spec) in enumerate(zip(self.specs, specs, strict=True)):
            if spec.effective_from != old.effective_from and self.market.home[j] == j:   # once per venue
                at = _ts(self.market.open_ns[bar]).isoformat()
                venue = self.market.slot_venue[j]
                blocks = self.venue_blocks[venue]
                blocks[-1]["to"] = at
                blocks.append({"block": str(spec.effective_from.date()), "from": at})
                self.log.append(f"{_ts(self.market.open_ns[bar]).isoformat()} {venue}: spec block of "
                                f"{spec.effective_from.date()} in force from here (tiers, fees)")
        self.specs = specs


    # -- results --------------------------------------------------------------------------------------------
    def _results(self, frames: bool = True) -> RunResult:
        """The frozen RunResult. frames=False builds no timeline, ledger, fills or liquidations frame (the
        metrics then read the record arrays kept in `records`, with the same values): sweeps need only those."""
        m, rec = self.market, self.rec
        k = int(self.ledger.count[0])
        keys, amounts = self.ledger.keys[:k], self.ledger.amounts[:k]
        names = list(m.venues) + [f"lending:{p}" for p in m.protocols]
        order = np.argsort(keys[:, L_TS], kind="stable")
        keys, amounts = keys[order], amounts[order]
        records = None
        if frames:
            timeline: Any = build_timeline(m, rec)
            ledger: Any = pd.DataFrame({
                "ts": pd.to_datetime(keys[:, L_TS], unit="ns", utc=True),
                "venue": [names[x] if x >= 0 else "" for x in keys[:, L_VENUE]],
                "kind": [LEDGER_KINDS[x] for x in keys[:, L_KIND]],
                "amount": amounts,
                "ref": keys[:, L_REF],
            })
            fills: Any = pd.DataFrame(self.fills, columns=["ts", "venue", "instrument", "qty", "price", "ref_price",
                                                           "fee", "slippage", "reason", "fill_id", "liquidity"])
            liqs: Any = pd.DataFrame(self.liquidations, columns=["ts", "venue", "qty", "price", "fee",
                                                                 "insurance_loss", "liq_id", "socialized", "kind"])
        else:
            timeline, ledger, fills, liqs = (NotKept(x) for x in ("timeline", "ledger", "fills", "liquidations"))
            records = RunRecords(m, rec, keys, amounts, tuple(names), tuple(self.fills), tuple(self.liquidations))
        attribution = pd.DataFrame(rec.attr, index=list(m.venues) + ["lending"], columns=list(PNL_PARTS))
        params = self.strategy.params_dict()
        cfg = {"strategy": self.strategy.name, "params": params, "data": self.data_label,
               "run": {k: getattr(self.config, k) for k in self.config.__dataclass_fields__
                       if k not in NOT_IN_ID and not (k == "oracle" and not self.config.oracle)},  # as before it existed
               "venues": dict(self.venue_fingerprint)}
        quality = {**copy.deepcopy(m.quality), "orders_refused": dict(self.refused),
                   "orders_refused_total": sum(self.refused.values()),
                   "outflows_on_credit": copy.deepcopy(self.on_credit),
                   "outflows_on_credit_total": sum(int(c["count"]) for c in self.on_credit.values())}
        for label, what in self.oracle_used.items():     # what a venue paying on an oracle was paid on
            quality["venues"][label]["funding"]["oracle"] = what
        extras = {k: pd.Series(v, name=k).sort_index() for k, v in self.extras.items()}
        return RunResult(strategy=self.strategy.name, dataset=self.data_label, venues=tuple(m.venues),
                       protocols=tuple(m.protocols), initial_equity=self.initial_capital, timeline=timeline,
                       ledger=ledger, fills=fills, liquidations=liqs, attribution=attribution, config=cfg,
                       config_id=config_id(cfg), data_fingerprint=self.dataset.fingerprint(), params=params,
                       extras=extras, log=tuple(self.log), data_quality=quality,
                       orders_rejected=dict(self.rejected), venue_blocks=self._blocks_closed(),
                       venue_fingerprint=dict(self.venue_fingerprint),
                       venue_events=pd.DataFrame(self.venue_event_rows, columns=list(EVENT_COLUMNS)), records=records)

    def _blocks_closed(self) -> dict[str, list[dict[str, str]]]:
        """venue_blocks with the last block of each venue ending at the run's last close."""
        end = _ts(self.market.close_ns[-1]).isoformat()
        return {v: [{**b, "to": b.get("to", end)} for b in blocks] for v, blocks in self.venue_blocks.items()}
