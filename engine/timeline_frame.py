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


def _fill_venue(col: dict[str, np.ndarray], v: str, j: int, market: Market, rec: Records) -> None:
    """Write venue `v`'s columns in place (ufuncs with out=: no temporaries, same float results)."""
    spot_px, perp_px = market.bars["spot_close"][:, j], market.bars["perp_close"][:, j]
    mark_px, liq = market.bars["mark_close"][:, j], rec.venue[:, j, R_LIQ_PX]
    col[f"{v}:spot_qty"][:] = rec.venue[:, j, R_SPOT]
    col[f"{v}:perp_qty"][:] = rec.venue[:, j, R_QTY]
    col[f"{v}:spot_px"][:] = spot_px
    col[f"{v}:perp_px"][:] = perp_px
    col[f"{v}:mark_px"][:] = mark_px
    basis = col[f"{v}:basis"]                       # perp / spot - 1
    np.divide(perp_px, spot_px, out=basis)
    np.subtract(basis, 1.0, out=basis)
    col[f"{v}:funding_rate"][:] = market.funding_rate[:, j]
    col[f"{v}:margin_balance"][:] = rec.venue[:, j, R_MARGIN]
    col[f"{v}:maint_margin"][:] = rec.venue[:, j, R_MAINT]
    col[f"{v}:liq_px"][:] = liq
    dist = col[f"{v}:dist_liq"]                     # |mark - liq| / mark
    np.subtract(mark_px, liq, out=dist)
    np.abs(dist, out=dist)
    np.divide(dist, mark_px, out=dist)


def build_timeline(market: Market, rec: Records) -> pd.DataFrame:
    """The timeline frame indexed by bar close; one float64 block so pandas neither stacks nor copies."""
    names = timeline_columns(market.venues, market.protocols)
    block = np.empty((len(names), market.n))        # row k holds column k, contiguous as pandas stores it
    col = dict(zip(names, block))
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
    idx = pd.DatetimeIndex(pd.to_datetime(market.close_ns, unit="ns", utc=True), name="ts")
    frame = pd.DataFrame(block.T, index=idx, columns=names, copy=False)
    if market.collateral:                           # only datasets with a collateral asset: V:coll_qty, V:coll_px
        extra = {}
        for j, v in enumerate(market.venues):
            extra[f"{v}:coll_qty"] = rec.venue[:, j, R_COLL]
            extra[f"{v}:coll_px"] = market.collateral["close"][:, j]
        frame = pd.concat([frame, pd.DataFrame(extra, index=idx)], axis=1)
    return frame
