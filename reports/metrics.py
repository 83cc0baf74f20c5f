"""Run metrics: the metrics.json dictionary (docs/architecture.md §7, §9), pure functions of `Results`.

Conventions (also written into metrics.json under `conventions` and into every report):
- Money is in quote units (USD-like). Returns, drawdowns, APY and rates are fractions (0.05 = 5 %).
- Annualization: a 365-day crypto year. Volatility, Sharpe and Sortino use DAILY returns: the
  equity curve is sampled at the last bar closing in each UTC day, a day being (00:00, 24:00] so
  a bar closing at midnight ends the day before (forward-filled through empty days); the first
  day's return is measured from `equity_start`.
- Risk-free rate 0. Sharpe = mean / std(ddof=1) * sqrt(365); Sortino = mean / downside deviation
  * sqrt(365), downside deviation = sqrt(sum(min(r, 0)^2) / n) (target 0, all n days counted).
- Max drawdown is measured on every bar (not on daily closes), from `equity_start` as the first
  peak; it is a NEGATIVE fraction (-0.1 = 10 % below the running peak).
- External flows (timeline `flows`: mints +, redemptions -) are not PnL. Returns are time-weighted:
  bar return r_t = (equity_t - flows_t) / equity_{t-1} - 1, chained into a flow-adjusted NAV that
  starts at `equity_start` (it equals equity when there are no flows). Total return, APY, daily
  returns and drawdowns use that NAV; pnl.total = equity_end - equity_start - net_flows.
- APY = (nav_end / equity_start) ** (365 / days) - 1 with days = last bar - first bar.
- Short windows: a run of fewer than 90 days (days as above) is `window.short`; its annualized
  figures (ANNUALIZED_KEYS: apy, volatility, sharpe, sortino, calmar, turnover) are kept under their
  keys but are extrapolations, and every report marks them "annualized from N days". The period
  figure is `total_return`; `window.daily_returns` and `window.losing_days` say how many daily
  returns (and how many below 0) volatility, Sharpe and Sortino rest on.
- Funding: `funding_received` / `funding_paid` (>= 0) are the sums of the positive / negative
  funding ledger rows (one per venue per settlement bar: -perp_qty * price * rate, whatever the sign
  of the rate or of the position). `funding_available` = received + paid: what the book's own perp
  positions would have collected had every settlement gone their way. `funding_capture_ratio` =
  (received - paid) / (received + paid), in [-1, 1] by construction (|sum a| <= sum |a|): +1 every
  settlement received, 0 as much paid as received, -1 every settlement paid; null without funding.
  `funding_passive` is the old benchmark: a constant short of the average perp short notional,
  split evenly across venues, earning each venue's summed rates (signed quote, not a ratio).

The functions read a run through `RunView`: its frames, or for a frames=False run (engine.results) the
record arrays those frames are built from, column by column with the same arithmetic, so both give the
same metrics (tests/unit/engine/test_metrics_only.py checks every key).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from basisbt.engine.results import PNL_PARTS, Results

DAYS_PER_YEAR = 365.0
RISK_FREE = 0.0
HEDGE_TOLERANCE = 0.05  # a bar is hedged when |net base delta| <= 5 % of gross spot base
MIN_ANNUALIZE_DAYS = 90.0  # below this window length annualized figures are marked as extrapolations
ANNUALIZED_KEYS = ("apy", "volatility", "sharpe", "sortino", "calmar", "turnover")
_DAY = pd.Timedelta(days=1)

CONVENTIONS = {
    "annualization_days": DAYS_PER_YEAR,
    "returns": "daily, last bar closing in each UTC day (00:00, 24:00]; first from equity_start",
    "risk_free": RISK_FREE,
    "max_drawdown": "every bar, negative fraction from the running peak",
    "hedged": f"|sum(spot_qty + perp_qty)| <= {HEDGE_TOLERANCE} * sum(|spot_qty|) and a perp short open",
    "annualized_min_days": MIN_ANNUALIZE_DAYS,
    "annualized_keys": list(ANNUALIZED_KEYS),
    "short_window": (f"days < {MIN_ANNUALIZE_DAYS:g}: annualized keys are extrapolations from the window, "
                     "marked in reports; total_return is the period figure"),
    "funding_available": ("funding_received + funding_paid: the sum of |funding ledger rows|, what the "
                          "book's own perps would have collected had every settlement gone their way"),
    "funding_capture_ratio": ("(funding_received - funding_paid) / (funding_received + funding_paid), "
                              "in [-1, 1]: +1 all settlements received, -1 all paid; null without funding"),
    "funding_passive": ("avg perp short notional x sum of a venue's funding rates, equal-weighted over "
                        "venues (signed quote)"),
    "units": "quote currency; fractions for returns and rates",
}


def timeline_index(timeline: pd.DataFrame) -> pd.DatetimeIndex:
    """The bar-close instants of a timeline, from its `ts` column or its index (UTC)."""
    idx = timeline["ts"] if "ts" in timeline.columns else timeline.index
    return pd.DatetimeIndex(idx)


class RunView:
    """What the metrics read of a run: its frames, or (frames=False) its record arrays, one column at a time.

    Record columns come from engine.timeline_frame.timeline_column (the code that builds the frame) and the
    fills, ledger and liquidation rows from the same lists the frames are made of, in the same order.
    """

    def __init__(self, results: Results) -> None:
        self.results = results
        self.records = None if results.has_frames else results.records
        self._cols: dict[str, np.ndarray] = {}
        if self.records is None:
            tl = results.timeline
            self.times = timeline_index(tl)
            self._names = set(tl.columns)
        else:
            from basisbt.engine.timeline_frame import timeline_columns, timeline_times
            m = self.records.market
            self.times = timeline_times(m)
            self._names = set(timeline_columns(m.venues, m.protocols))

    def __len__(self) -> int:
        return len(self.times)

    def has(self, name: str) -> bool:
        """True when the run's timeline has this column."""
        return name in self._names

    def col(self, name: str) -> np.ndarray:
        """A timeline column as a float array (do not modify it), NaN when the column is missing."""
        if not self.has(name):
            return np.full(len(self), np.nan)
        got = self._cols.get(name)
        if got is None:
            if self.records is None:
                got = self.results.timeline[name].to_numpy(dtype=float)
            else:
                from basisbt.engine.timeline_frame import timeline_column
                got = timeline_column(self.records.market, self.records.rec, name, view=True)
            self._cols[name] = got
        return got

    def funding_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(amounts, venues) of the ledger's funding rows, in ledger order; empty arrays when none."""
        if self.records is None:
            return _funding_rows(self.results.ledger)
        from basisbt.engine.kernels.codes import L_KIND, L_VENUE, LEDGER_KINDS
        r = self.records
        rows = r.ledger_keys[:, L_KIND] == LEDGER_KINDS.index("funding")
        names = np.array([*r.ledger_names, ""], dtype=object)       # venue index -1 -> ""
        return np.nan_to_num(r.ledger_amounts[rows].astype(float)), names[r.ledger_keys[rows, L_VENUE]]

    def fills(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(count, qty, price, fee, slippage) of the fills."""
        if self.records is None:
            f = self.results.fills
            if f is None or len(f) == 0:
                return 0, *(np.zeros(0),) * 4
            return (len(f), *(f[c].to_numpy(dtype=float) if c in f.columns else np.zeros(len(f))
                              for c in ("qty", "price", "fee", "slippage")))
        rows = self.records.fills
        return (len(rows), *(np.array([x[c] for x in rows], dtype=float)
                             for c in ("qty", "price", "fee", "slippage")))

    def liquidations(self) -> tuple[int, np.ndarray, np.ndarray, list[str]]:
        """(count, fees, insurance losses, venues) of the liquidations."""
        if self.records is None:
            liq = self.results.liquidations
            n = 0 if liq is None else len(liq)
            if not n:
                return 0, np.zeros(0), np.zeros(0), []
            return (n, *(liq[c].to_numpy(dtype=float) if c in liq.columns else np.zeros(n)
                         for c in ("fee", "insurance_loss")),
                    [str(v) for v in liq["venue"]] if "venue" in liq.columns else [])
        rows = self.records.liquidations
        return (len(rows), np.array([x["fee"] for x in rows], dtype=float),
                np.array([x["insurance_loss"] for x in rows], dtype=float), [str(x["venue"]) for x in rows])


def _view(results: Results | RunView) -> RunView:
    return results if isinstance(results, RunView) else RunView(results)


def equity_series(results: Results | RunView) -> pd.Series:
    """The per-bar equity (quote) indexed by bar-close time."""
    v = _view(results)
    return pd.Series(v.col("equity"), index=v.times, name="equity")


def flows_series(results: Results | RunView) -> pd.Series:
    """External capital flows per bar (quote, + in), zeros when the timeline has no `flows` column."""
    v = _view(results)
    f = np.nan_to_num(v.col("flows")) if v.has("flows") else np.zeros(len(v))
    return pd.Series(f, index=v.times, name="flows")


def nav_series(results: Results | RunView) -> pd.Series:
    """Flow-adjusted NAV (quote): equity_start chained by time-weighted bar returns; = equity without flows."""
    results = _view(results)
    eq = equity_series(results)
    flows = flows_series(results).to_numpy()
    if not flows.any():
        return eq.rename("nav")
    e = eq.to_numpy(dtype=float)
    start = float(results.results.initial_equity)
    prev = np.r_[start, e[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.where(prev > 0, (e - flows) / prev, np.nan)
    nav = start * np.cumprod(growth)
    return pd.Series(nav, index=eq.index, name="nav")


def daily_returns(equity: pd.Series, equity_start: float) -> pd.Series:
    """Daily simple returns (UTC days (00:00, 24:00], last bar close of the day), first from equity_start."""
    if equity.empty:
        return pd.Series(dtype=float)
    day_end = (equity.index - pd.Timedelta(1, "ns")).floor("D") + _DAY
    daily = equity.groupby(day_end).last()
    daily = daily.reindex(pd.date_range(daily.index[0], daily.index[-1], freq="D")).ffill()
    prev = daily.shift(1)
    prev.iloc[0] = equity_start
    return (daily / prev - 1.0).rename("return")


def annual_volatility(returns: pd.Series) -> float:
    """Annualized standard deviation (ddof=1) of daily returns; NaN with fewer than 2 days."""
    if len(returns) < 2:
        return math.nan
    return float(returns.std(ddof=1) * math.sqrt(DAYS_PER_YEAR))


def sharpe_ratio(returns: pd.Series) -> float:
    """Annualized Sharpe of daily returns with risk-free 0; NaN when undefined."""
    if len(returns) < 2:
        return math.nan
    sd = float(returns.std(ddof=1))
    if not sd > 0:
        return math.nan
    return float((returns.mean() - RISK_FREE) / sd * math.sqrt(DAYS_PER_YEAR))


def sortino_ratio(returns: pd.Series) -> float:
    """Annualized Sortino of daily returns, target 0, downside dev over all days; NaN without losses."""
    if len(returns) < 2:
        return math.nan
    r = returns.to_numpy(dtype=float)
    downside = math.sqrt(float(np.sum(np.minimum(r, 0.0) ** 2)) / len(r))
    if not downside > 0:
        return math.nan
    return float(r.mean() / downside * math.sqrt(DAYS_PER_YEAR))


def drawdown(equity: pd.Series, equity_start: float) -> pd.Series:
    """Per-bar drawdown as a negative fraction of the running peak, equity_start being the first peak."""
    peak = np.maximum.accumulate(np.r_[equity_start, equity.to_numpy(dtype=float)])[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, equity.to_numpy(dtype=float) / peak - 1.0, np.nan)
    return pd.Series(dd, index=equity.index, name="drawdown")


def max_drawdown_info(equity: pd.Series, equity_start: float) -> dict[str, Any]:
    """Deepest drawdown (negative fraction), its peak/trough/recovery times and its length in days.

    The length runs from the peak before the trough to the first bar back at or above that peak,
    or to the last bar when the run ends under water.
    """
    out: dict[str, Any] = {"max_drawdown": 0.0, "max_drawdown_days": 0.0,
                           "max_drawdown_peak": None, "max_drawdown_trough": None,
                           "max_drawdown_recovery": None}
    if equity.empty:
        return out
    dd = drawdown(equity, equity_start)
    vals = dd.to_numpy()
    if not np.isfinite(vals).any() or np.nanmin(vals) >= 0:
        return out
    i_trough = int(np.nanargmin(vals))
    eq = equity.to_numpy(dtype=float)
    run_peak = np.maximum.accumulate(np.r_[equity_start, eq])
    peak_val = run_peak[i_trough + 1]
    # the peak bar: last bar at the peak value before the trough; the start (before bar 0) otherwise
    at_peak = np.nonzero(eq[: i_trough + 1] >= peak_val)[0]
    times = equity.index
    bar = _bar_width(times)
    t_peak = times[at_peak[-1]] if at_peak.size else times[0] - bar
    rec = np.nonzero(eq[i_trough:] >= peak_val)[0]
    t_end = times[i_trough + rec[0]] if rec.size else times[-1]
    out.update({
        "max_drawdown": float(vals[i_trough]),
        "max_drawdown_days": (t_end - t_peak) / _DAY,
        "max_drawdown_peak": _iso(t_peak),
        "max_drawdown_trough": _iso(times[i_trough]),
        "max_drawdown_recovery": _iso(t_end) if rec.size else None,
    })
    return out


def pnl_parts(results: Results | RunView) -> dict[str, float]:
    """Sum of each timeline pnl_* column (quote); a missing column counts as 0."""
    v = _view(results)
    return {p: _sum(v.col(f"pnl_{p}")) if v.has(f"pnl_{p}") else 0.0 for p in PNL_PARTS}


def _sum(x: np.ndarray) -> float:
    """Sum skipping NaN, as pandas' Series.sum does (same float result on float64); no copy without NaN."""
    total = float(np.sum(x))
    return float(np.nansum(x)) if math.isnan(total) else total


def funding_capture(results: Results | RunView) -> dict[str, Any]:
    """Funding received, paid, available and the capture ratio, in quote (see the module docstring).

    From the funding ledger rows (one per venue per settlement bar, amount = -perp_qty x price x rate):
    received = sum of the positive rows, paid = -sum of the negative ones, available = received + paid
    and ratio = (received - paid) / available, bounded in [-1, 1] whatever the signs of rates and
    positions; null when no funding flowed. `funding_captured` is sum(pnl_funding), equal to
    received - paid up to float rounding. `funding_passive` is the signed benchmark of a constant 1x
    short of the average book (the time-average of sum_V max(-perp_qty_V, 0) * mark_px_V) split evenly
    across venues, earning each venue's summed funding rates.
    """
    tl = _view(results)
    venue_names = tl.results.venues
    captured = _sum(tl.col("pnl_funding")) if tl.has("pnl_funding") else 0.0
    amounts, venues = tl.funding_rows()
    received = math.fsum(amounts[amounts > 0])
    paid = 0.0 - math.fsum(amounts[amounts < 0])
    available = math.fsum(np.abs(amounts))
    ratio = math.fsum(amounts) / available if available > 0 else math.nan
    available_by_venue = {v: math.fsum(np.abs(amounts[venues == v])) for v in venue_names}
    short_notional = np.zeros(len(tl))
    for v in venue_names:
        q, px = _col(tl, f"{v}:perp_qty"), _col(tl, f"{v}:mark_px")
        short_notional += np.nan_to_num(np.maximum(-q, 0.0) * px)
    book = float(short_notional.mean()) if len(tl) else 0.0
    passive_by_venue = {v: book * float(np.nansum(_col(tl, f"{v}:funding_rate"))) for v in venue_names}
    passive = float(np.mean(list(passive_by_venue.values()))) if passive_by_venue else 0.0
    return {"funding_captured": captured, "funding_received": received, "funding_paid": paid,
            "funding_available": available, "funding_available_by_venue": available_by_venue,
            "funding_capture_ratio": ratio, "funding_passive": passive,
            "funding_passive_by_venue": passive_by_venue, "book_notional_avg": book}


def _funding_rows(ledger: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """(amounts, venues) of the ledger's funding rows; empty arrays when there are none."""
    if ledger is None or len(ledger) == 0 or not {"kind", "amount"} <= set(ledger.columns):
        return np.zeros(0), np.zeros(0, dtype=object)
    rows = ledger[ledger["kind"] == "funding"]
    amounts = np.nan_to_num(rows["amount"].to_numpy(dtype=float))
    venues = rows["venue"].astype(str).to_numpy(dtype=object) if "venue" in rows.columns \
        else np.full(len(rows), "", dtype=object)
    return amounts, venues


def window_info(days: float, returns: pd.Series) -> dict[str, Any]:
    """How much data the annualized figures rest on: window length, short flag, daily-return counts.

    `short` is days < MIN_ANNUALIZE_DAYS: apy, volatility, sharpe, sortino, calmar and turnover are
    then extrapolations from the window to a 365-day year; `note` says so in words.
    """
    short = bool(days < MIN_ANNUALIZE_DAYS)
    if short:
        note = (f"annualized from {days:.1f} days (< {MIN_ANNUALIZE_DAYS:g}): "
                f"{', '.join(ANNUALIZED_KEYS)} extrapolate a short window to a 365-day year; "
                "total_return is the period figure")
    else:
        note = f"annualized from {days:.1f} days (>= {MIN_ANNUALIZE_DAYS:g})"
    r = returns.to_numpy(dtype=float)
    return {"days": days, "min_days": MIN_ANNUALIZE_DAYS, "short": short,
            "daily_returns": int(r.size), "losing_days": int(np.sum(r < 0)), "note": note}


def time_hedged(results: Results | RunView) -> float:
    """Fraction of bars (0..1) with a perp short open and |net base delta| <= 5 % of gross spot base."""
    tl = _view(results)
    if len(tl) == 0:
        return math.nan
    if is_multi_asset(tl.results.venues):
        return _time_hedged_per_asset(tl)
    net = np.zeros(len(tl))
    gross = np.zeros(len(tl))
    short = np.zeros(len(tl), dtype=bool)
    for v in tl.results.venues:
        s, p = np.nan_to_num(_col(tl, f"{v}:spot_qty")), np.nan_to_num(_col(tl, f"{v}:perp_qty"))
        net += s + p
        gross += np.abs(s)
        short |= p < 0
    hedged = short & (gross > 0) & (np.abs(net) <= HEDGE_TOLERANCE * gross)
    return float(hedged.mean())


def _time_hedged_per_asset(tl: RunView) -> float:
    """time_hedged of a several-asset run: base quantities of different assets never net against each
    other, so a bar is hedged when a perp short is open, some spot is held, and EVERY asset's
    |sum(spot_qty + perp_qty)| <= 5 % of its own sum(|spot_qty|)."""
    n = len(tl)
    net: dict[str, np.ndarray] = {}
    gross: dict[str, np.ndarray] = {}
    short = np.zeros(n, dtype=bool)
    for v in tl.results.venues:
        a = split_slot(v)[1]
        s, p = np.nan_to_num(_col(tl, f"{v}:spot_qty")), np.nan_to_num(_col(tl, f"{v}:perp_qty"))
        net[a] = net.get(a, np.zeros(n)) + s + p
        gross[a] = gross.get(a, np.zeros(n)) + np.abs(s)
        short |= p < 0
    hedged = short & (sum(gross.values(), np.zeros(n)) > 0)
    for a in net:
        hedged &= np.abs(net[a]) <= HEDGE_TOLERANCE * gross[a]
    return float(hedged.mean())


def split_slot(label: str) -> tuple[str, str]:
    """(venue, asset) of a slot label: 'binance:BTC' -> ('binance', 'BTC'); a plain venue -> (venue, '').

    Venue names never contain ':' (data.names.check_name), so the first ':' separates the two."""
    venue, _, asset = str(label).partition(":")
    return venue, asset


def is_multi_asset(venues: tuple[str, ...] | list[str]) -> bool:
    """True for a run over several base assets: its slots are labelled 'venue:ASSET'."""
    return any(":" in str(v) for v in venues)


def _ordered(keys: list[str]) -> list[str]:
    """Distinct keys in order of first appearance (assets: the primary first, as the run lists its slots)."""
    return list(dict.fromkeys(keys))


def hedge_notional(results: Results | RunView) -> dict[str, np.ndarray]:
    """Per slot, the hedge notional held at each bar: |perp_qty| x mark_px (quote, 0 where flat or unpriced)."""
    tl = _view(results)
    return {v: np.nan_to_num(np.abs(_col(tl, f"{v}:perp_qty")) * _col(tl, f"{v}:mark_px"))
            for v in tl.results.venues}


def attribution_by_asset(attr: pd.DataFrame | None) -> dict[str, dict[str, float]]:
    """{asset or 'lending': {part: quote PnL, ..., 'total'}}: the attribution frame's slot rows summed per asset.

    A row whose label has no asset (lending, or any venue-level row) stays its own row, so the rows still
    add up to the whole attribution."""
    by = _attribution_dict(attr)
    out: dict[str, dict[str, float]] = {}
    for label, parts in by.items():
        key = split_slot(label)[1] or label
        row = out.setdefault(key, {p: 0.0 for p in PNL_PARTS})
        for p in PNL_PARTS:
            row[p] += parts[p]
    for row in out.values():
        row["total"] = math.fsum(row[p] for p in PNL_PARTS)
    return out


def allocation_by_asset(results: Results | RunView) -> dict[str, Any]:
    """How the hedge was spread over assets, venues and slots: mean and last share of hedge notional.

    Hedge notional of a slot = |perp_qty| x mark_px. `mean_share` averages each bar's share over the
    bars that hold any hedge (so the shares of one grouping sum to 1); `last_share` is the share at the
    last such bar (`last_ts`); `mean_notional` averages the quote notional over every bar. Shares are
    null when the run never held a perp."""
    tl = _view(results)
    slots = hedge_notional(tl)
    total = np.zeros(len(tl))
    for x in slots.values():
        total += x
    held = np.nonzero(total > 0)[0]
    last = int(held[-1]) if held.size else None
    assets = _ordered([split_slot(v)[1] for v in slots])
    venues = _ordered([split_slot(v)[0] for v in slots])
    groups = {"by_asset": {a: [v for v in slots if split_slot(v)[1] == a] for a in assets},
              "by_venue": {w: [v for v in slots if split_slot(v)[0] == w] for w in venues},
              "by_slot": {v: [v] for v in slots}}
    out: dict[str, Any] = {"measure": "hedge notional |perp_qty| x mark_px (quote)",
                           "bars_with_hedge": int(held.size),
                           "last_ts": _iso(tl.times[last]) if last is not None else None}
    for name, members in groups.items():
        out[name] = {}
        for key, labels in members.items():
            x = np.zeros(len(tl))
            for v in labels:
                x += slots[v]
            share = x[held] / total[held]
            out[name][key] = {
                "mean_share": float(share.mean()) if held.size else None,
                "last_share": float(x[last] / total[last]) if last is not None else None,
                "mean_notional": float(x.mean()) if len(tl) else 0.0,
                "last_notional": float(x[last]) if last is not None else 0.0,
            }
    return out


def min_distance_to_liquidation(results: Results | RunView) -> dict[str, dict[str, Any]]:
    """Per venue: smallest |mark - liq| / mark over bars with a position (fraction) and when; null if none."""
    tl = _view(results)
    times = tl.times
    out: dict[str, dict[str, Any]] = {}
    for v in tl.results.venues:
        d = _col(tl, f"{v}:dist_liq")
        if np.isfinite(d).any():
            i = int(np.nanargmin(d))
            out[v] = {"min": float(d[i]), "ts": _iso(times[i])}
        else:
            out[v] = {"min": None, "ts": None}
    return out


def trading_stats(results: Results | RunView, equity: pd.Series, days: float) -> dict[str, float]:
    """Traded notional, annual turnover (x average equity per year), fees and slippage paid (quote, >= 0)."""
    n, qty, price, fee, slippage = _view(results).fills()
    if n == 0:
        traded = fees = slip = 0.0
    else:
        traded, fees, slip = _sum(np.abs(qty) * price), _sum(fee), _sum(slippage)
    avg_eq = float(equity.mean()) if len(equity) else math.nan
    turnover = traded / avg_eq / (days / DAYS_PER_YEAR) if days > 0 and avg_eq > 0 else math.nan
    return {"traded_notional": traded, "turnover": turnover, "fees_paid": fees,
            "slippage_paid": slip}


def liquidation_stats(results: Results | RunView, pnl_liquidation: float) -> dict[str, Any]:
    """Count, cost (= -pnl.liquidation, quote, positive is a loss), fees and insurance-fund losses."""
    n, fee, insurance, venues = _view(results).liquidations()
    fees, ins = (_sum(fee), _sum(insurance)) if n else (0.0, 0.0)
    by_venue = {v: venues.count(v) for v in sorted(set(venues))}
    return {"liquidations": n, "liquidation_cost": 0.0 - pnl_liquidation, "liquidation_fees": fees,
            "insurance_loss": ins, "liquidations_by_venue": by_venue}


def synthetic_dollar_stats(results: Results) -> dict[str, Any] | None:
    """The synthetic dollar's books when the run recorded them (strategies/synthetic_dollar.py): backing ratio,
    reserve fund (its low point, end, and when it was exhausted), the published staker APY (mean over the run's
    decisions, last, the number of payout periods), share price, perp share of backing, and realized revenue by
    source with what went to stakers and to the reserve (quote); revenue_open_period is what the period still
    open at the end realized (not split yet: a loss there is not in the reserve yet)."""
    ex = results.extras or {}
    keys = ("backing_ratio", "reserve_fund", "staker_apy")
    if not any(k in ex for k in keys):
        return None
    out: dict[str, Any] = {}

    def series(key: str) -> pd.Series:
        return ex[key].dropna() if key in ex else pd.Series(dtype=float)

    b = series("backing_ratio")
    if "backing_ratio" in ex:
        out["backing_ratio_min"] = float(b.min()) if len(b) else math.nan
        out["backing_ratio_mean"] = float(b.mean()) if len(b) else math.nan
        out["backing_ratio_min_ts"] = _iso(b.idxmin()) if len(b) else None
    r = series("reserve_fund")
    if "reserve_fund" in ex:
        out["reserve_fund_min"] = float(r.min()) if len(r) else math.nan
        out["reserve_fund_min_ts"] = _iso(r.idxmin()) if len(r) else None
        out["reserve_fund_end"] = float(r.iloc[-1]) if len(r) else math.nan
        out_ts = r.index[r.to_numpy() < 0.0]
        out["reserve_exhausted"] = bool(len(out_ts))
        out["reserve_exhausted_at"] = _iso(out_ts[0]) if len(out_ts) else None
    s = series("staker_apy")
    if "staker_apy" in ex:
        out["staker_apy"] = float(s.mean()) if len(s) else math.nan
        out["staker_apy_last"] = float(s.iloc[-1]) if len(s) else math.nan
    if "share_price" in ex:
        x = series("share_price")
        out["share_price_end"] = float(x.iloc[-1]) if len(x) else math.nan
    if "perp_share" in ex:
        p = series("perp_share")
        out["perp_share_mean"] = float(p.mean()) if len(p) else math.nan
        out["perp_share_min"] = float(p.min()) if len(p) else math.nan
        out["perp_share_max"] = float(p.max()) if len(p) else math.nan
    revenue = {k[len("revenue_"):]: float(series(k).iloc[-1]) for k in sorted(ex)
               if k.startswith("revenue_") and len(series(k))}
    if revenue:
        out["revenue"] = revenue
        out["revenue_total"] = math.fsum(revenue.values())
        periods = series("period_revenue")
        out["payout_periods"] = int(len(periods))
        out["revenue_open_period"] = out["revenue_total"] - math.fsum(periods)    # realized, not split yet
        out["staker_payouts"] = float(series("period_staker_payout").sum())
        out["reserve_takes"] = float(series("period_reserve_take").sum())
    return out


def compute_metrics(results: Results) -> dict[str, Any]:
    """The metrics.json dictionary: docs/architecture.md §9 keys plus §7 extras; JSON-safe (NaN/inf -> None).

    Works alike on a run with frames and on a frames=False run (RunView reads either)."""
    view = RunView(results)
    equity = equity_series(view)
    nav = nav_series(view)
    net_flows = _sum(flows_series(view).to_numpy())
    equity_start = float(results.initial_equity)
    equity_end = float(equity.iloc[-1]) if len(equity) else equity_start
    nav_end = float(nav.iloc[-1]) if len(nav) else equity_start
    times = equity.index
    days = (times[-1] - times[0]) / _DAY if len(times) else 0.0
    total_return = nav_end / equity_start - 1.0 if equity_start else math.nan
    if days > 0 and equity_start > 0:
        apy = (nav_end / equity_start) ** (DAYS_PER_YEAR / days) - 1.0 if nav_end > 0 else -1.0
    else:
        apy = math.nan
    rets = daily_returns(nav, equity_start)
    dd = max_drawdown_info(nav, equity_start)
    calmar = apy / -dd["max_drawdown"] if dd["max_drawdown"] < 0 else math.nan

    parts = pnl_parts(view)
    total = equity_end - equity_start - net_flows
    pnl = dict(parts, total=total)
    m: dict[str, Any] = {
        "strategy": results.strategy,
        "dataset": results.dataset,
        "start": _iso(times[0]) if len(times) else None,
        "end": _iso(times[-1]) if len(times) else None,
        "days": days,
        "bars": len(equity),
        "equity_start": equity_start,
        "equity_end": equity_end,
        "net_flows": net_flows,
        "total_return": total_return,
        "apy": apy,
        "volatility": annual_volatility(rets),
        "sharpe": sharpe_ratio(rets),
        "sortino": sortino_ratio(rets),
        "calmar": calmar,
        "window": window_info(days, rets),
        **dd,
        "n_fills": view.fills()[0],
        "pnl": pnl,
        "attribution_residual": total - math.fsum(parts.values()),
        "pnl_by_venue": _attribution_dict(results.attribution),
        "min_dist_liq": min_distance_to_liquidation(view),
        "time_hedged": time_hedged(view),
        "config_id": results.config_id,
        "data_fingerprint": results.data_fingerprint,
        "venue_fingerprint": dict(results.venue_fingerprint),
        "conventions": dict(CONVENTIONS),
    }
    m.update(liquidation_stats(view, parts["liquidation"]))
    m.update(funding_capture(view))
    m.update(trading_stats(view, equity, days))
    if is_multi_asset(results.venues):     # several base assets: the book seen per asset (docs/reports.md)
        m["attribution_by_asset"] = attribution_by_asset(results.attribution)
        m["allocation_by_asset"] = allocation_by_asset(view)
    synth = synthetic_dollar_stats(results)
    if synth is not None:
        m["synthetic_dollar"] = synth
    if results.data_quality:
        m["data_quality"] = results.data_quality
    if results.venue_blocks:
        m["venue_blocks"] = results.venue_blocks
    if results.benchmark:
        from basisbt.reports.benchmark import compare
        m["benchmark"] = compare(results)
    m["orders_rejected"] = dict(results.orders_rejected)
    m["orders_rejected_total"] = int(sum(results.orders_rejected.values()))
    return json_safe(m)


def json_safe(obj: Any) -> Any:
    """Recursively turn numpy scalars into Python ones and NaN/inf into None."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    if isinstance(obj, pd.Timestamp):
        return _iso(obj)
    return obj


def _attribution_dict(attr: pd.DataFrame | None) -> dict[str, dict[str, float]]:
    """{venue or 'lending': {part: quote pnl}} from the attribution frame."""
    if attr is None or len(attr) == 0:
        return {}
    return {str(v): {p: float(attr.loc[v, p]) if p in attr.columns else 0.0 for p in PNL_PARTS}
            for v in attr.index}


def _col(tl: pd.DataFrame | RunView, name: str) -> np.ndarray:
    """A timeline column as float array, NaN when the column is missing."""
    if isinstance(tl, RunView):
        return tl.col(name)
    if name in tl.columns:
        return tl[name].to_numpy(dtype=float)
    return np.full(len(tl), np.nan)


def _bar_width(times: pd.DatetimeIndex) -> pd.Timedelta:
    """The median spacing of bar times (1 h when fewer than two bars)."""
    if len(times) < 2:
        return pd.Timedelta(hours=1)
    return pd.Series(times).diff().median()


def _iso(t: Any) -> str:
    """ISO-8601 UTC string of a timestamp, e.g. 2025-02-03T01:00:00+00:00."""
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert("UTC").isoformat()
