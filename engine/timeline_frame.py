"""The per-bar timeline frame of a finished run (see engine.results for what each column means).

Every column is float64, so they are all written into ONE preallocated (columns, bars) block that
the DataFrame wraps without a copy: built from a dict of ~50 arrays, pandas would first hold them
and then stack them into such a block anyway (most of the cost on a year of 1m bars).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from basisbt.engine.kernels.codes import R_COLL, R_LIQ_PX, R_MAINT, R_MARGIN, R_QTY, R_SPOT
from basisbt.engine.market import Market
from basisbt.engine.results import PNL_PARTS

if TYPE_CHECKING:
    from basisbt.engine.kernels.arrays import Records

VENUE_FIELDS = ("spot_qty", "perp_qty", "spot_px", "perp_px", "mark_px", "basis", "funding_rate",
                "margin_balance", "maint_margin", "liq_px", "dist_liq")
PROTOCOL_FIELDS = ("supply", "apy")


def timeline_columns(venues: list[str], protocols: list[str]) -> list[str]:
    """Column names in frame order: book totals, then per venue, then per lending protocol."""
    names = ["equity", *(f"pnl_{part}" for part in PNL_PARTS), "lending_value", "in_transit", "flows"]
    names += [f"{v}:{f}" for v in venues for f in VENUE_FIELDS]
    names += [f"{p}:{f}" for p in protocols for f in PROTOCOL_FIELDS]
    return names


def _venue_field(out: np.ndarray, f: str, j: int, market: Market, rec: Records) -> None:
    """Write venue j's column `f` into `out` (ufuncs with out=: no temporaries, same float results)."""
    if f in ("spot_qty", "perp_qty", "margin_balance", "maint_margin", "liq_px"):
        out[:] = rec.venue[:, j, _REC_FIELD[f]]
    elif f in ("spot_px", "perp_px", "mark_px"):
        out[:] = market.bars[f"{f[:-3]}_close"][:, j]
    elif f == "basis":                              # perp / spot - 1
        np.divide(market.bars["perp_close"][:, j], market.bars["spot_close"][:, j], out=out)
        np.subtract(out, 1.0, out=out)
    elif f == "funding_rate":
        out[:] = market.funding_rate[:, j]
    elif f == "dist_liq":                           # |mark - liq| / mark
        mark_px = market.bars["mark_close"][:, j]
        np.subtract(mark_px, rec.venue[:, j, R_LIQ_PX], out=out)
        np.abs(out, out=out)
        np.divide(out, mark_px, out=out)
    else:
        raise KeyError(f)


_REC_FIELD = {"spot_qty": R_SPOT, "perp_qty": R_QTY, "margin_balance": R_MARGIN, "maint_margin": R_MAINT,
              "liq_px": R_LIQ_PX}


def _fill_venue(col: dict[str, np.ndarray], v: str, j: int, market: Market, rec: Records) -> None:
    """Write venue `v`'s columns in place."""
    for f in VENUE_FIELDS:
        _venue_field(col[f"{v}:{f}"], f, j, market, rec)


def timeline_column(market: Market, rec: Records, name: str, *, view: bool = False) -> np.ndarray:
    """One timeline column as float64, computed exactly as build_timeline does (the metrics of a
    frames=False run read these); `view=True` may return a read-only view of the records instead of a
    copy. KeyError for a name the timeline does not have."""
    src = _plain_column(market, rec, name)
    if src is not None:
        if view:
            out = src.view()
            out.flags.writeable = False
            return out
        return src.copy()
    out = np.empty(market.n)
    if name == "lending_value":
        np.sum(rec.lend, axis=1, out=out)
    elif ":" in name:
        key, f = name.rsplit(":", 1)
        if key in market.venues and f in VENUE_FIELDS:
            _venue_field(out, f, market.venues.index(key), market, rec)
        else:
            raise KeyError(name)
    else:
        raise KeyError(name)
    return out


def _plain_column(market: Market, rec: Records, name: str) -> np.ndarray | None:
    """The array a timeline column is a plain copy of (possibly strided), None for a computed column."""
    if name == "equity":
        return rec.equity
    if name.startswith("pnl_") and name[4:] in PNL_PARTS:
        return rec.pnl[:, PNL_PARTS.index(name[4:])]
    if name == "in_transit":
        return rec.transit
    if name == "flows":
        return rec.flows
    key, _, f = name.rpartition(":")
    if key in market.venues:
        j = market.venues.index(key)
        if f in _REC_FIELD:
            return rec.venue[:, j, _REC_FIELD[f]]
        if f in ("spot_px", "perp_px", "mark_px"):
            return market.bars[f"{f[:-3]}_close"][:, j]
        if f == "funding_rate":
            return market.funding_rate[:, j]
    elif key in market.protocols and f in PROTOCOL_FIELDS:
        p = market.protocols.index(key)
        return rec.lend[:, p] if f == "supply" else market.lend_apy[:, p]
    return None


def timeline_times(market: Market) -> pd.DatetimeIndex:
    """The timeline's index: bar-close instants, UTC."""
    return pd.DatetimeIndex(pd.to_datetime(market.close_ns, unit="ns", utc=True), name="ts")


def build_timeline(market: Market, rec: Records) -> pd.DataFrame:
    """The timeline frame indexed by bar close; one float64 block so pandas neither stacks nor copies."""
    names = timeline_columns(market.venues, market.protocols)
    block = np.empty((len(names), market.n))        # row k holds column k, contiguous as pandas stores it
    col = dict(zip(names, block, strict=True))
    col["equity"][:] = rec.equity
    for k, part in enumerate(PNL_PARTS):
        col[f"pnl_{part}"][:] = rec.pnl[:, k]
    np.sum(rec.lend, axis=1, out=col["lending_value"])
    col["in_transit"][:] = rec.transit
    col["flows"][:] = rec.flows
    for j, v in enumerate(market.venues):
        _fill_venue(col, v, j, market, rec)
    for p, name in enumerate(market.protocols):
        col[f"{name}:supply"][:] = rec.lend[:, p]
        col[f"{name}:apy"][:] = market.lend_apy[:, p]
    idx = timeline_times(market)
    frame = pd.DataFrame(block.T, index=idx, columns=names, copy=False)
    if market.collateral:                           # only datasets with a collateral asset: V:coll_qty, V:coll_px
        extra = {}
        for j, v in enumerate(market.venues):
            extra[f"{v}:coll_qty"] = rec.venue[:, j, R_COLL]
            extra[f"{v}:coll_px"] = market.collateral["close"][:, j]
        frame = pd.concat([frame, pd.DataFrame(extra, index=idx)], axis=1)
    return frame
