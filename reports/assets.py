"""Runs over several base assets: hedge notional per (venue, asset) slot, asset shares and book switches.

A multi-asset run labels its slots 'venue:ASSET' (metrics.split_slot); a single-asset run has none of
this and none of its report sections. Hedge notional of a slot = |perp_qty| x mark_px (quote), the
measure metrics.json's `allocation_by_asset` uses too.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from basisbt.engine.results import PNL_PARTS, RunResult
from basisbt.reports.metrics import attribution_by_asset, hedge_notional, split_slot
from basisbt.reports.series import timeline_index

SWITCH_THRESHOLD = 0.10   # a switch: some asset's share moved more than 10 points since the last one listed
MAX_SWITCH_ROWS = 60      # the reports list at most this many switches (all are in the frame)


def assets_of(results: RunResult) -> list[str]:
    """The run's base assets in slot order (the primary first); [] for a single-asset run."""
    return list(dict.fromkeys(a for a in (split_slot(v)[1] for v in results.venues) if a))


def slot_notional(results: RunResult) -> pd.DataFrame:
    """Hedge notional per slot and bar (quote): columns the slot labels, index the bar closes."""
    return pd.DataFrame(hedge_notional(results), index=timeline_index(results.timeline))


def grouped_notional(results: RunResult, by: str) -> pd.DataFrame:
    """Hedge notional per bar summed per 'asset' or per 'venue' (quote), columns in slot order."""
    i = {"venue": 0, "asset": 1}[by]
    per = slot_notional(results)
    keys = list(dict.fromkeys(split_slot(v)[i] for v in per.columns))
    return pd.DataFrame({k: per[[v for v in per.columns if split_slot(v)[i] == k]].sum(axis=1) for k in keys},
                        index=per.index)


def shares(notional: pd.DataFrame) -> pd.DataFrame:
    """Each column's share of the row total (fractions summing to 1); NaN rows where nothing is held."""
    total = notional.sum(axis=1)
    return notional.div(total.where(total > 0), axis=0)


def allocation_switches(results: RunResult, threshold: float = SWITCH_THRESHOLD) -> pd.DataFrame:
    """The bars where the book moved between assets, one row each: ts, what (opened, moved, closed),
    `<asset> from` / `<asset> to` shares and the hedge notional after (quote).

    Only bars where some perp position changed are looked at (price drift alone is no switch). A row is
    written when some asset's share differs by more than `threshold` from the shares of the row before,
    so a book that moves in several small steps is listed once it has moved far enough; the first hedge
    is 'opened', going flat is 'closed'."""
    per = slot_notional(results)
    tl = results.timeline
    qty = np.column_stack([np.nan_to_num(tl[f"{v}:perp_qty"].to_numpy(dtype=float)) if f"{v}:perp_qty" in tl.columns
                           else np.zeros(len(tl)) for v in per.columns]) if len(per.columns) else np.zeros((len(tl), 0))
    changed = np.any(np.diff(qty, axis=0, prepend=0.0) != 0.0, axis=1)
    by_asset = grouped_notional(results, "asset")
    assets = list(by_asset.columns)
    share = shares(by_asset).to_numpy()
    total = by_asset.sum(axis=1).to_numpy()
    rows: list[dict] = []
    ref: np.ndarray | None = None
    for i in np.nonzero(changed)[0]:
        now = share[i] if total[i] > 0 else None
        if ref is None and now is None:
            continue
        if ref is None:
            what = "opened"
        elif now is None:
            what = "closed"
        elif np.max(np.abs(now - ref)) > threshold:
            what = "moved"
        else:
            continue
        row: dict = {"ts": per.index[i], "what": what}
        for k, a in enumerate(assets):
            row[f"{a} from"] = np.nan if ref is None else float(ref[k])
            row[f"{a} to"] = np.nan if now is None else float(now[k])
        row["hedge notional"] = float(total[i])
        rows.append(row)
        ref = now
    cols = ["ts", "what", *(f"{a} {e}" for a in assets for e in ("from", "to")), "hedge notional"]
    return pd.DataFrame(rows, columns=cols)


def attribution_table(results: RunResult) -> pd.DataFrame:
    """Attribution per asset (quote): rows the assets, 'lending' and 'total', columns the 7 parts + 'total'."""
    by = attribution_by_asset(results.attribution)
    cols = [*PNL_PARTS, "total"]
    df = pd.DataFrame([[by[k][c] for c in cols] for k in by], index=list(by), columns=cols, dtype=float)
    out = pd.concat([df, df.sum().to_frame("total").T])
    out.index.name = "asset"
    return out


def allocation_table(metrics: dict, group: str) -> list[tuple[str, float | None, float | None, float]]:
    """(name, mean share, last share, mean notional) rows of metrics' allocation_by_asset[group]."""
    alloc = (metrics.get("allocation_by_asset") or {}).get(group) or {}
    return [(str(k), d.get("mean_share"), d.get("last_share"), float(d.get("mean_notional") or 0.0))
            for k, d in alloc.items()]
