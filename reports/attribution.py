"""PnL attribution tables: per venue, over time, and the ledger's cash movements by kind (quote)."""
from __future__ import annotations

import pandas as pd

from basisbt.engine.results import PNL_PARTS, RunResult
from basisbt.reports.series import timeline_index


def by_venue(results: RunResult) -> pd.DataFrame:
    """Attribution totals: rows venues + 'lending' + 'total', columns the 7 parts + 'total' (quote PnL)."""
    attr = results.attribution
    if attr is None or len(attr) == 0:
        attr = pd.DataFrame(0.0, index=[*results.venues, "lending"], columns=list(PNL_PARTS))
    attr = attr.reindex(columns=list(PNL_PARTS)).fillna(0.0).astype(float)
    attr["total"] = attr.sum(axis=1)
    out = pd.concat([attr, attr.sum().to_frame("total").T])
    out.index.name = "venue"
    return out


def over_time(results: RunResult, freq: str | None = None) -> pd.DataFrame:
    """Cumulative PnL per part since the start (quote), per bar or resampled to `freq` (last value)."""
    tl = results.timeline
    cols = {p: tl[f"pnl_{p}"].to_numpy(dtype=float) if f"pnl_{p}" in tl.columns else 0.0
            for p in PNL_PARTS}
    cum = pd.DataFrame(cols, index=timeline_index(tl)).cumsum()
    if freq:
        cum = cum.resample(freq).last().ffill()
    return cum


def per_period(results: RunResult, freq: str = "1D") -> pd.DataFrame:
    """PnL per part earned in each period (quote), e.g. per UTC day, plus a 'total' column."""
    tl = results.timeline
    cols = {p: tl[f"pnl_{p}"].to_numpy(dtype=float) if f"pnl_{p}" in tl.columns else 0.0
            for p in PNL_PARTS}
    df = pd.DataFrame(cols, index=timeline_index(tl)).resample(freq).sum()
    df["total"] = df.sum(axis=1)
    return df


def ledger_by_kind(results: RunResult) -> pd.DataFrame:
    """Ledger summary: per kind the number of rows, inflows, outflows and net amount (quote, + = in)."""
    led = results.ledger
    cols = ["count", "inflow", "outflow", "net"]
    if led is None or len(led) == 0 or "kind" not in led.columns:
        return pd.DataFrame(columns=cols)
    kinds = _kind_names(led["kind"])
    amt = led["amount"].astype(float)
    df = pd.DataFrame({"kind": kinds, "inflow": amt.clip(lower=0), "outflow": amt.clip(upper=0),
                       "net": amt})
    out = df.groupby("kind", sort=True).agg(count=("net", "size"), inflow=("inflow", "sum"),
                                             outflow=("outflow", "sum"), net=("net", "sum"))
    return out[cols]


def _kind_names(kind: pd.Series) -> pd.Series:
    """Ledger kinds as names: integer codes are mapped through engine.kernels.codes.LEDGER_KINDS."""
    if pd.api.types.is_integer_dtype(kind):
        try:
            from basisbt.engine.kernels.codes import LEDGER_KINDS  # type: ignore[attr-defined]
        except ImportError:
            LEDGER_KINDS = ()
        names = list(LEDGER_KINDS)
        return kind.map(lambda k: names[k] if 0 <= k < len(names) else f"kind_{k}")
    return kind.astype(str)
