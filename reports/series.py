"""How reports read a run: `RunView` (its frames, or for a frames=False run its record arrays, column by column
with the same arithmetic) and the series every page starts from: equity, external flows and flow-adjusted NAV.

Below metrics, benchmark and plots, which all read a run through it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from basisbt.engine.results import RunResult


def timeline_index(timeline: pd.DataFrame) -> pd.DatetimeIndex:
    """The bar-close instants of a timeline, from its `ts` column or its index (UTC)."""
    idx = timeline["ts"] if "ts" in timeline.columns else timeline.index
    return pd.DatetimeIndex(idx)


class RunView:
    """What the metrics read of a run: its frames, or (frames=False) its record arrays, one column at a time.

    Record columns come from engine.timeline_frame.timeline_column (the code that builds the frame) and the
    fills, ledger and liquidation rows from the same lists the frames are made of, in the same order.
    """

    def __init__(self, results: RunResult) -> None:
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


def view_of(results: RunResult | RunView) -> RunView:
    return results if isinstance(results, RunView) else RunView(results)


def equity_series(results: RunResult | RunView) -> pd.Series:
    """The per-bar equity (quote) indexed by bar-close time."""
    v = view_of(results)
    return pd.Series(v.col("equity"), index=v.times, name="equity")


def flows_series(results: RunResult | RunView) -> pd.Series:
    """External capital flows per bar (quote, + in), zeros when the timeline has no `flows` column."""
    v = view_of(results)
    f = np.nan_to_num(v.col("flows")) if v.has("flows") else np.zeros(len(v))
    return pd.Series(f, index=v.times, name="flows")


def nav_series(results: RunResult | RunView) -> pd.Series:
    """Flow-adjusted NAV (quote): equity_start chained by time-weighted bar returns; = equity without flows."""
    results = view_of(results)
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


def _funding_rows(ledger: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """(amounts, venues) of the ledger's funding rows; empty arrays when there are none."""
    if ledger is None or len(ledger) == 0 or not {"kind", "amount"} <= set(ledger.columns):
        return np.zeros(0), np.zeros(0, dtype=object)
    rows = ledger[ledger["kind"] == "funding"]
    amounts = np.nan_to_num(rows["amount"].to_numpy(dtype=float))
    venues = rows["venue"].astype(str).to_numpy(dtype=object) if "venue" in rows.columns \
        else np.full(len(rows), "", dtype=object)
    return amounts, venues
