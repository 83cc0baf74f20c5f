"""Align a Dataset's frames on one regular bar grid as numpy arrays (what kernels and windows read).

No look-ahead, by construction (docs/architecture.md §3): the grid runs from the first perp bar of any venue to
the last, one bar per timeframe, so a hole in the data is a run of explicit bars, never skipped time.
Per venue and instrument each bar is UNLISTED (before the series' first bar: prices NaN, nothing
trades, no funding), LIVE (a real bar) or STALE (a missing bar after the first one: priced at the last
known close, zero volume, orders refused). Nothing is back-filled. A missing mark bar falls back to
the perp bar (FALLBACK), then to the last known mark (STALE). Each funding settlement is priced at the
last mark close known at its instant (the row's own mark price when the file has one). What was
missing is counted in `Market.quality` (metrics.json `data_quality`) and said once per stream in the log.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from basisbt.data.dataset import Dataset
from basisbt.data.errors import ConfigError
from basisbt.data.schemas import BAR_COLUMNS, MARK_COLUMNS, timeframe_ns, ts_ns
from basisbt.data.validate import FILLED
from basisbt.engine.kernels.arrays import MarketArrays

if TYPE_CHECKING:
    from basisbt.data.venues import VenueSet

YEAR_NS = 365 * 24 * 3600 * 10**9
UNLISTED, LIVE, STALE, FALLBACK = 0, 1, 2, 3      # bar states, int8 arrays (n, V)


class MarketError(ConfigError):
    """The dataset cannot be turned into a market (no perp bars, bars off the grid...)."""


@dataclass
class Market:
    """Aligned arrays plus the labels a Python layer needs to talk about them.

    Columns are slots: one per (venue, asset) pair with a perp. With one asset a slot is its venue and
    `venues` holds venue names; with several, slots are labelled 'venue:ASSET' (e.g. 'binance:BTC'),
    ordered venue by venue (the primary asset first), and a venue's cash sits on its first slot (`home`).
    """

    venues: list[str]                # slot labels (= venue names with one asset)
    protocols: list[str]
    timeframe: str
    tf_ns: int
    open_ns: np.ndarray
    bars: dict[str, np.ndarray]      # "spot_open", "perp_close", "mark_high", ... -> (n, V); NaN while unlisted
    state: dict[str, np.ndarray]     # "spot", "perp", "mark" -> (n, V) int8: UNLISTED / LIVE / STALE / FALLBACK
    funding_rate: np.ndarray         # (n, V), sum of the bar's settlement rates; NaN off settlement
    funding_value: np.ndarray        # (n, V), sum of rate x settlement price: quote per unit of base short
    funding_ts: list[np.ndarray]     # per venue, settlement times (ns) in this grid
    funding_bar: list[np.ndarray]    # per venue, bar index of each settlement
    funding_raw: list[np.ndarray]    # per venue, rate of each settlement
    funding_stale: list[np.ndarray]  # per venue, True where the settlement was priced at a stale close
    lend_apy: np.ndarray             # (n, P)
    lend_update: np.ndarray          # (n, P) bool
    flows: pd.DataFrame | None
    log: list[str] = field(default_factory=list)
    quality: dict = field(default_factory=dict)   # metrics.json `data_quality`
    collateral: dict[str, np.ndarray] = field(default_factory=dict)   # "low", "close" -> (n, V) collateral asset bars
    collateral_asset: str = ""
    slot_venue: list[str] = field(default_factory=list)   # venue name of each slot
    slot_asset: list[str] = field(default_factory=list)   # base asset of each slot
    home: list[int] = field(default_factory=list)         # slot holding each slot's venue cash
    symbols: list[str] = field(default_factory=list)      # spot symbol of each slot, e.g. 'BTC/USDT'

    @property
    def venue_names(self) -> list[str]:
        """Distinct venues, in slot order."""
        return list(dict.fromkeys(self.slot_venue))

    @property
    def assets(self) -> list[str]:
        """Distinct base assets, primary first."""
        return list(dict.fromkeys(self.slot_asset))

    @property
    def multi_asset(self) -> bool:
        """More than one base asset (slots are then labelled 'venue:ASSET')."""
        return self.venues != self.slot_venue

    def slot(self, venue: str, asset: str) -> int:
        """Index of the (venue, asset) slot, or -1 when that venue has no perp of that asset."""
        for j, (v, a) in enumerate(zip(self.slot_venue, self.slot_asset, strict=True)):
            if v == venue and a == asset:
                return j
        return -1

    @property
    def n(self) -> int:
        return self.open_ns.shape[0]

    @property
    def close_ns(self) -> np.ndarray:
        """Bar close times (ns); computed once, callers read it per decision."""
        c = self.__dict__.get("_close_ns")
        if c is None:
            c = self.__dict__["_close_ns"] = self.open_ns + self.tf_ns
        return c

    def state_at(self, i: int, j: int, instrument: str) -> int:
        """State of venue j's 'spot' or 'perp' at bar i (LIVE: a real bar, an order can fill there)."""
        return int(self.state[instrument][max(i, 0), j])

    def arrays(self) -> MarketArrays:
        b = self.bars
        return MarketArrays(
            close_ns=self.close_ns, spot_open=b["spot_open"], spot_close=b["spot_close"],
            perp_open=b["perp_open"], mark_open=b["mark_open"], mark_high=b["mark_high"],
            mark_low=b["mark_low"], mark_close=b["mark_close"], spot_volume=b["spot_volume"],
            perp_volume=b["perp_volume"], funding_rate=self.funding_rate, funding_value=self.funding_value,
            lend_apy=self.lend_apy, lend_update=self.lend_update,
            dt_years=np.full(self.n, self.tf_ns / YEAR_NS),
            coll_low=self.collateral.get("low", np.full((self.n, len(self.venues)), np.nan)),
            coll_close=self.collateral.get("close", np.full((self.n, len(self.venues)), np.nan)),
            coll_open=self.collateral.get("open", np.full((self.n, len(self.venues)), np.nan)),
            index_open=b["index_open"], index_low=b["index_low"], index_close=b["index_close"])


def slots_of(ds: Dataset) -> list[tuple[str, str, Dataset]]:
    """(label, venue, asset Dataset) per slot: every venue with a perp of an asset, venue by venue, the
    primary asset first. The label is the venue with one asset, 'venue:ASSET' with several."""
    if not ds.extra_assets:
        return [(v, v, ds) for v in ds.venues]
    parts = (ds, *ds.extra_assets)
    return [(f"{v}:{d.base}", v, d) for v in ds.venues for d in parts if v in d.perp]


def _grid(ds: Dataset, tf: int) -> np.ndarray:
    """Every bar open from the first perp bar of any venue to the last; bars off that grid are refused."""
    slots = slots_of(ds)
    times = [ts_ns(d.perp[v]) for _, v, d in slots]
    if not any(t.size for t in times):
        raise MarketError(f"dataset {ds.name!r} has no perp bars (every perp frame is empty)")
    first = min(int(t[0]) for t in times if t.size)
    last = max(int(t[-1]) for t in times if t.size)
    grid = np.arange(first, last + tf, tf, dtype=np.int64)
    for label, v, d in slots:
        for kind, frame in (("perp", d.perp[v]), ("spot", d.spot.get(v)), ("mark", d.mark.get(v))):
            if frame is None or frame.empty:
                continue
            off = (ts_ns(frame) - first) % tf != 0
            if off.any():
                bad = pd.Timestamp(int(ts_ns(frame)[np.argmax(off)]), unit="ns", tz="UTC")
                raise MarketError(f"dataset {ds.name!r}: {label} {kind} bar at {bad.isoformat()} is off the "
                                  f"{ds.timeframe} grid that starts {pd.Timestamp(first, unit='ns', tz='UTC')}"
                                  " (re-import with --snap to move bars onto the grid)")
    return grid


def _last_known(hit: np.ndarray) -> np.ndarray:
    """For each bar, the index of the last bar at or before it that has data (-1 before the first)."""
    idx = np.where(hit, np.arange(hit.shape[0]), -1)
    return np.maximum.accumulate(idx)


def _align(frame: pd.DataFrame | None, grid: np.ndarray, cols: tuple[str, ...]
           ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """`frame`'s `cols` on `grid` and each bar's state; a missing bar after the first is the last close, STALE."""
    n = grid.shape[0]
    if frame is not None and not frame.empty and FILLED not in frame.columns and np.array_equal(ts_ns(frame), grid):
        # already on the grid (the common case): no lookup, and no NaN columns allocated only to be dropped
        return {c: frame[c].to_numpy(dtype=np.float64) for c in cols}, np.full(n, LIVE, np.int8)
    out = {c: np.full(n, np.nan) for c in cols}
    state = np.zeros(n, np.int8)
    if frame is None or frame.empty:
        return out, state
    t = ts_ns(frame)
    filled = frame[FILLED].to_numpy(dtype=bool) if FILLED in frame.columns else None
    pos = np.searchsorted(t, grid)
    hit = (pos < len(t)) & (t[np.minimum(pos, len(t) - 1)] == grid)
    if filled is not None:                      # a bar --fill-gaps wrote is no real bar: priced stale like a gap
        hit &= ~filled[np.minimum(pos, len(t) - 1)]
    for c in cols:
        out[c][hit] = frame[c].to_numpy(dtype=np.float64)[pos[hit]]
    state[hit] = LIVE
    k = _last_known(hit)
    stale = (k >= 0) & ~hit
    if stale.any():
        state[stale] = STALE
        close = out["close"][k[stale]]
        for c in cols:
            out[c][stale] = 0.0 if c == "volume" else close
    if "volume" in out:
        out["volume"][state == UNLISTED] = 0.0
    return out, state


def _mark_with_fallback(mark: dict[str, np.ndarray], m_state: np.ndarray, perp: dict[str, np.ndarray],
                        p_state: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Mark bars where real; else the perp bar where real (FALLBACK); else the last known of either (STALE)."""
    if (m_state == LIVE).all() and (p_state != UNLISTED).all():    # complete mark and perp: nothing to do
        return mark, m_state
    real_mark = (m_state == LIVE) & (p_state != UNLISTED)
    use_perp = ~real_mark & (p_state == LIVE)
    state = np.where(real_mark, LIVE, np.where(use_perp, FALLBACK, UNLISTED)).astype(np.int8)
    out = {c: np.where(real_mark, mark[c], np.where(use_perp, perp[c], np.nan)) for c in MARK_COLUMNS}
    k = _last_known(state != UNLISTED)
    stale = (k >= 0) & (state == UNLISTED) & (p_state != UNLISTED)
    if stale.any():
        state[stale] = STALE
        close = out["close"][k[stale]]
        for c in MARK_COLUMNS:
            out[c][stale] = close
    return out, state


def _index_or_spot(frame: pd.DataFrame | None, grid: np.ndarray, spot: dict[str, np.ndarray], log: list[str],
                   v: str) -> dict[str, np.ndarray]:
    """The price posted spot is valued at as margin (docs/architecture.md §4): the venue's index bars where the
    dataset has a real one (imported `index` stream), else the venue's spot bar (the default, said once)."""
    if frame is None or frame.empty:
        return {c: spot[c] for c in MARK_COLUMNS}
    idx, st = _align(frame, grid, MARK_COLUMNS)
    real = st == LIVE
    log.append(f"{v}: index bars value posted spot as margin ({int(real.sum())} bars; spot bars where none)")
    return {c: np.where(real, idx[c], spot[c]) for c in MARK_COLUMNS}


def _gap_bars(state: np.ndarray) -> int:
    """Longest run of STALE bars."""
    stale = np.concatenate([[0], (state == STALE).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(stale))
    return int((edges[1::2] - edges[::2]).max()) if edges.size else 0


def _duration(ns: int) -> str:
    d, rem = divmod(int(ns) // 60_000_000_000, 1440)
    h, m = divmod(rem, 60)
    return f"{d}d {h}h {m}m" if m else f"{d}d {h}h"


def _stream_quality(state: np.ndarray, tf: int, filled: int = 0) -> dict:
    """Bars expected since the stream's first bar, missing (priced stale; `bars_filled` of them are flat bars an
    import's --fill-gaps wrote, counted as missing all the same), longest gap."""
    listed = int((state != UNLISTED).sum())
    stale = int((state == STALE).sum())
    q = {"bars_expected": listed, "bars_missing": stale, "stale_bars": stale,
         "unlisted_bars": int((state == UNLISTED).sum()), "longest_gap": _duration(_gap_bars(state) * tf)}
    if filled:
        q["bars_filled"] = filled
    if (state == FALLBACK).any():
        q["perp_fallback_bars"] = int((state == FALLBACK).sum())
    return q


def _n_filled(frame: pd.DataFrame | None) -> int:
    """Bars of a (window-cut) frame that --fill-gaps wrote."""
    return int(frame[FILLED].sum()) if frame is not None and FILLED in frame.columns else 0


def _when(ns: int) -> str:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M")


def _funding(ds: Dataset, v: str, grid: np.ndarray, close_ns: np.ndarray, mark: dict[str, np.ndarray],
             m_state: np.ndarray, p_state: np.ndarray) -> tuple[np.ndarray, ...]:
    """Venue v's settlements in the run: time, bar paid at, rate, price, priced-stale flag, interval (h, NaN
    where the data does not say).

    A settlement belongs to the first bar closing at or after it and is priced at the last mark close
    known at its instant (the bar closing at or before it). A venue paying funding on an oracle (its
    `oracle` bars, data/oracle.py: Hyperliquid) is priced at the last oracle close known then instead (the
    mark where the oracle has no bar yet; a funding row's own mark_price is not its oracle and is not used).
    Settlements at or before the run's first open, or before the venue lists its perp, are not earned: no
    position can have been held.
    """
    f = ds.funding.get(v)
    if f is None or f.empty:
        e = np.empty(0)
        return np.empty(0, np.int64), np.empty(0, np.int64), e, e, np.empty(0, bool), e
    t = ts_ns(f)
    rate = f["rate"].to_numpy(dtype=np.float64)
    listed = np.flatnonzero(p_state != UNLISTED)
    first_open = grid[listed[0]] if listed.size else np.iinfo(np.int64).max
    keep = (t > grid[0]) & (t > first_open) & (t <= close_ns[-1])
    t, rate = t[keep], rate[keep]
    bar = np.searchsorted(close_ns, t, side="left")
    known = np.searchsorted(close_ns, t, side="right") - 1        # last bar closed at or before t
    px = np.where(known >= 0, mark["close"][np.maximum(known, 0)], mark["open"][0])
    stale = np.where(known >= 0, m_state[np.maximum(known, 0)] == STALE, False)
    oracle = ds.oracle.get(v)
    if oracle is not None and not oracle.empty:
        o, o_state = _align(oracle, grid, MARK_COLUMNS)
        k = np.maximum(known, 0)
        on = (known >= 0) & (o_state[k] != UNLISTED)
        px = np.where(on, o["close"][k], px)
        stale = np.where(on, o_state[k] == STALE, stale)
    elif "mark_price" in f.columns:
        mp = f["mark_price"].to_numpy(dtype=np.float64)[keep]
        own = np.isfinite(mp) & (mp > 0)
        px = np.where(own, mp, px)
        stale &= ~own
    hours = f["interval_h"].to_numpy(dtype=np.float64)[keep] if "interval_h" in f.columns else np.full(t.size, np.nan)
    return t, bar, rate, px, stale, hours


def settlement_step(hours: np.ndarray, spec_hours: np.ndarray, median_h: float) -> np.ndarray:
    """The interval (hours) at which each row's settlement is expected: the smaller of the row's `interval_h` and
    the venue's dated spec interval (data/venues `funding_interval_h`; for a venue without a spec file, the
    median spacing). A row's interval_h may have been read off the spacing (validate_funding), and a hole then
    reads as one long interval, longer than the venue's: the spec's interval keeps it a hole. A shorter one is
    a venue that settles more often (Binance 1 h after a capped print), so it is taken."""
    row = np.where(np.isfinite(hours) & (hours > 0), hours, np.inf)
    ref = np.where(np.isfinite(spec_hours) & (spec_hours > 0), spec_hours, median_h)
    return np.minimum(row, ref)


def missing_settlements(t: np.ndarray, hours: np.ndarray, spec_hours: np.ndarray) -> int:
    """Settlements expected between consecutive rows but absent: a gap longer than 1.5 intervals misses
    round(gap / interval) - 1, the interval from `settlement_step` at the later row (never the gap itself)."""
    if t.size < 2:
        return 0
    gaps = np.diff(t) / 3.6e12
    step = settlement_step(hours[1:], spec_hours[1:], float(np.median(gaps)))
    late = gaps > 1.5 * step
    return int(np.round(gaps[late] / step[late] - 1).sum())


def missing_at_edges(t: np.ndarray, lower: int, upper: int, step_first: float, step_last: float) -> tuple[int, int]:
    """(before, after): settlements expected while the perp trades in the window, strictly between its first open
    `lower` and last close `upper` (ns; one at either instant is the window's cut, not a hole), but before the
    first row or after the last one, stepping the interval (hours) back from the first row and on from the last.
    Without any row, every time on the interval's UTC grid in (lower, upper) is expected (before)."""
    def ns(hours: float) -> int:
        return int(round(hours * 3_600)) * 10**9 if hours > 0 and np.isfinite(hours) else 0
    first, last = ns(step_first), ns(step_last)
    if upper <= lower or not first:
        return 0, 0
    if t.size == 0:
        return (upper - 1) // first - lower // first, 0
    before = max(0, (int(t[0]) - lower - 1) // first)                # t[0] - k * step > lower, k >= 1
    after = max(0, (upper - int(t[-1]) - 1) // last) if last else 0  # t[-1] + k * step < upper, k >= 1
    return before, after


def _expected(venue: str, t: np.ndarray, hours: np.ndarray, grid: np.ndarray, close_ns: np.ndarray,
              p_state: np.ndarray, median_h: float, venues: VenueSet | None = None) -> dict:
    """Missing settlements of one venue, expected from its dated interval while its perp trades in the window:
    between rows, before the first row (a funding stream that starts after the perp lists) and after the last.
    `intervals_missing` is the total; the edges are also given on their own. `venues`: the run's VenueSet (its
    --venues-dir, $BASISBT_VENUES, venues=...; the default set when None), whose file gives the interval."""
    spec = _spec_hours(venue, t, venues)
    between = missing_settlements(t, hours, spec)
    live = np.flatnonzero(p_state == LIVE)
    if not live.size:
        return {"intervals_missing": between, "missing_before_first": 0, "missing_after_last": 0}
    lower = max(int(grid[0]), int(grid[live[0]]))                 # settlements after the first open count (_funding)
    upper = min(int(close_ns[-1]), int(close_ns[live[-1]]))

    def step_at(k: int, at: int) -> float:
        row = hours[[k]] if t.size else np.array([np.nan])
        return float(settlement_step(row, _spec_hours(venue, np.array([at], np.int64), venues), median_h)[0])
    before, after = missing_at_edges(t, lower, upper, step_at(0, int(t[0]) if t.size else lower),
                                     step_at(-1, int(t[-1]) if t.size else upper))
    return {"intervals_missing": between + before + after, "missing_before_first": before,
            "missing_after_last": after}


def _spec_hours(venue: str, t: np.ndarray, venues: VenueSet | None = None) -> np.ndarray:
    """funding_interval_h of the venue's spec block in force at each time, from the run's venues (the default set
    when None), NaN for a venue without a spec file there."""
    from basisbt.data.names import UnsafeName, check_name
    from basisbt.data.venues import spec_values
    try:
        check_name(venue, "venue")
    except UnsafeName:
        return np.full(t.size, np.nan)
    hours = spec_values(venue, t, lambda s: s.funding_interval_h, venues=venues)
    return np.full(t.size, np.nan) if hours is None else hours


def _interval_key(ds: Dataset, venues: VenueSet | None) -> tuple:
    """What a Market takes from its venues: each data venue's dated funding intervals (None without a spec file)."""
    from basisbt.data.names import UnsafeName, check_name
    from basisbt.data.venues import VenueSet
    vs = venues or VenueSet()
    key: list[tuple[str, tuple[tuple[int, float], ...] | None]] = []
    for v in ds.venues:
        try:
            check_name(v, "venue")
        except UnsafeName:
            key.append((v, None))
            continue
        blocks = vs.get(v).blocks if vs.has(v) else ()
        key.append((v, tuple((b.effective_from.value, b.funding_interval_h) for b in blocks) or None))
    return tuple(key)


def market_of(ds: Dataset, venues: VenueSet | None = None) -> Market:
    """build_market(ds, venues), built once per Dataset and kept on it (like its fingerprint): runs over one
    Dataset, as a sweep's cells are, share the aligned arrays, which nothing writes after they are built. The
    venues' funding intervals (the expected-settlement counts of data quality) are part of the key: a run whose
    venue files say another interval gets its own Market."""
    markets = ds.__dict__.setdefault("_markets", {})       # frozen dataclass: bypass __setattr__
    key = _interval_key(ds, venues)
    m = markets.get(key)
    if m is None:
        m = markets[key] = build_market(ds, source=venues)
    return m


def build_market(ds: Dataset, source: VenueSet | None = None) -> Market:
    """Turn a Dataset into aligned arrays on the regular grid of its perp bars, one column per slot. `source`: the
    run's VenueSet, whose files give each venue's dated funding interval (data quality's expected settlements)."""
    if not ds.venues:
        raise MarketError(f"dataset {ds.name!r} has no perp bars")
    slots = slots_of(ds)
    venues = [label for label, _, _ in slots]
    tf = timeframe_ns(ds.timeframe)
    grid = _grid(ds, tf)
    n, nv = grid.shape[0], len(venues)
    close_ns = grid + tf
    log: list[str] = []
    quality: dict = {"grid": {"first_open": _when(grid[0]), "last_close": _when(close_ns[-1]), "bars": int(n),
                              "timeframe": ds.timeframe}, "venues": {}}
    names = [f"{k}_{c}" for k in ("spot", "perp") for c in BAR_COLUMNS] + [f"{k}_{c}" for k in ("mark", "index")
                                                                              for c in MARK_COLUMNS]
    bars = {name: np.empty((n, nv)) for name in names}
    state = {k: np.empty((n, nv), np.int8) for k in ("spot", "perp", "mark")}
    funding_rate = np.full((n, nv), np.nan)
    funding_value = np.zeros((n, nv))
    f_ts, f_bar, f_raw, f_stale = [], [], [], []
    for j, (label, venue, d) in enumerate(slots):
        if venue not in d.spot:
            what = f"{d.base} on {venue}" if ds.extra_assets else f"venue {venue}"
            raise MarketError(f"dataset {ds.name!r}: {what} has perp bars but no spot bars; price its spot leg "
                              f"from another venue with {{spot_from}} ({', '.join(sorted(d.spot)) or 'none has spot'})"
                              " or leave it out with {only_venues}", key=("spot_from", "only_venues"))
        vq: dict = {}
        aligned = {}
        for kind, frame in (("spot", d.spot[venue]), ("perp", d.perp[venue])):
            aligned[kind], state[kind][:, j] = _align(frame, grid, BAR_COLUMNS)
            vq[kind] = _stream_quality(state[kind][:, j], tf, _n_filled(frame))
        v = label
        mark_frame = d.mark.get(venue)
        if mark_frame is None or mark_frame.empty:
            log.append(f"{v}: no mark-price bars; liquidation checks use perp trade prices (wicks included)")
        raw_mark, raw_state = _align(mark_frame, grid, MARK_COLUMNS)
        aligned["mark"], state["mark"][:, j] = _mark_with_fallback(raw_mark, raw_state, aligned["perp"],
                                                                   state["perp"][:, j])
        vq["mark"] = _stream_quality(state["mark"][:, j], tf, _n_filled(mark_frame))
        aligned["index"] = _index_or_spot(d.index.get(venue), grid, aligned["spot"], log, v)
        for kind, cols in aligned.items():
            for c, col in cols.items():
                bars[f"{kind}_{c}"][:, j] = col
        t, b, rate, px, stale, hours = _funding(d, venue, grid, close_ns, aligned["mark"], state["mark"][:, j],
                                                state["perp"][:, j])
        if t.size == 0:
            log.append(f"{v}: no funding rows in the run; the perp neither pays nor earns funding")
        f_ts.append(t)
        f_bar.append(b)
        f_raw.append(rate)
        f_stale.append(stale)
        summed = np.zeros(n)
        np.add.at(summed, b, rate)
        np.add.at(funding_value[:, j], b, rate * px)
        settled = np.unique(b)
        funding_rate[settled, j] = summed[settled]
        gaps = np.diff(t)
        step = float(np.median(gaps)) if gaps.size else 0.0
        vq["funding"] = {"settlements": int(t.size), "priced_stale": int(stale.sum()),
                         "interval_h": step / 3.6e12, "longest_gap": _duration(int(gaps.max()) if gaps.size else 0),
                         **_expected(venue, t, hours, grid, close_ns, state["perp"][:, j], step / 3.6e12, source)}
        quality["venues"][v] = vq
        log.extend(_quality_lines(v, vq, state, j, grid))
    protocols = ds.protocols
    lend_apy = np.zeros((n, len(protocols)))
    lend_update = np.zeros((n, len(protocols)), bool)
    for p, name in enumerate(protocols):
        f = ds.lending[name]
        t = ts_ns(f)
        apy = f["supply_apy"].to_numpy(dtype=np.float64)
        # rate in force during bar i: the last row known at the bar's open; nothing is earned before the first
        k = np.searchsorted(t, grid, side="right") - 1
        lend_apy[:, p] = np.where(k >= 0, apy[np.maximum(k, 0)], 0.0)
        upd = np.searchsorted(close_ns, t, side="left")
        upd = upd[upd < n]
        lend_update[upd, p] = True
        quality.setdefault("lending", {})[name] = {"rows": int(t.size), "bars_before_first_rate": int((k < 0).sum())}
    quality["stale_total"] = int(sum(q[s]["stale_bars"] for q in quality["venues"].values()
                                     for s in ("spot", "perp", "mark")))
    quality["funding_priced_stale_total"] = int(sum(q["funding"]["priced_stale"] for q in quality["venues"].values()))
    quality["funding_missing_total"] = int(sum(q["funding"]["intervals_missing"] for q in quality["venues"].values()))
    quality["filled_total"] = int(sum(q[s].get("bars_filled", 0) for q in quality["venues"].values()
                                      for s in ("spot", "perp", "mark")))
    slot_venue = [venue for _, venue, _ in slots]
    home = [slot_venue.index(venue) for venue in slot_venue]
    return Market(venues, protocols, ds.timeframe, tf, grid, bars, state, funding_rate, funding_value,
                  f_ts, f_bar, f_raw, f_stale, lend_apy, lend_update, ds.flows, log, quality,
                  _collateral(ds, slot_venue, home, grid, log), ds.collateral_asset, slot_venue,
                  [d.base for _, _, d in slots], home, [d.symbol for _, _, d in slots])


def _collateral(ds: Dataset, slot_venue: list[str], home: list[int], grid: np.ndarray,
                log: list[str]) -> dict[str, np.ndarray]:
    """The collateral asset's low and close per venue on the grid, in the venue's home slot (NaN where the
    venue has none; a missing bar after the first is its last close, like any stream); empty when the
    dataset has none."""
    if not ds.collateral:
        return {}
    out = {c: np.full((grid.shape[0], len(slot_venue)), np.nan) for c in ("open", "low", "close")}
    for j, v in enumerate(slot_venue):
        if home[j] != j:
            continue
        frame = ds.collateral.get(v)
        if frame is None or frame.empty:
            continue
        cols, st = _align(frame, grid, ("open", "low", "close"))
        out["open"][:, j], out["low"][:, j], out["close"][:, j] = cols["open"], cols["low"], cols["close"]
        if (st == STALE).any():
            log.append(f"{v} collateral {ds.collateral_asset}: {int((st == STALE).sum())} bars missing; "
                       "priced stale at the last known close")
    return out


def _quality_lines(v: str, vq: dict, state: dict[str, np.ndarray], j: int, grid: np.ndarray) -> list[str]:
    """One run-log line per stream with anything missing (never silent, never repeated per bar)."""
    lines = []
    for kind in ("spot", "perp", "mark"):
        q = vq[kind]
        st = state[kind][:, j]
        if q["unlisted_bars"] and q["unlisted_bars"] < st.shape[0]:
            first = int(np.argmax(st != UNLISTED))
            lines.append(f"{v} {kind}: first bar {_when(grid[first])}; not listed before it "
                         f"({q['unlisted_bars']} bars: no trading, no funding)")
        if q["bars_missing"]:
            lines.append(f"{v} {kind}: {q['bars_missing']} of {q['bars_expected']} bars missing (longest gap "
                         f"{q['longest_gap']}); priced stale at the last known close, orders refused on them")
        if q.get("perp_fallback_bars") and q["perp_fallback_bars"] < q["bars_expected"]:   # else said above
            lines.append(f"{v} mark: {q['perp_fallback_bars']} bars without a mark bar use the perp bar")
    fq = vq["funding"]
    if fq["priced_stale"] or fq["intervals_missing"]:
        lines.append(f"{v} funding: {fq['settlements']} settlements, {fq['priced_stale']} priced at a stale close, "
                     f"{fq['intervals_missing']} expected settlements missing (longest gap {fq['longest_gap']})")
    return lines
